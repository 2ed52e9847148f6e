/* SPDX-License-Identifier: MIT */
/*
 * group.h - the life of restart groups and their actors (SPEC 3.1).
 *
 * Every change of a group's state goes through hrd_group_event(), which
 * looks the group's state and the event up in one table (group.c) for the
 * next state and the action; every change of an actor's state goes through
 * the actor table below it (actor.h, actor.c).  The rest of the controller raises events and
 * reads states, and never sets one.
 */
#ifndef HRD_GROUP_H
#define HRD_GROUP_H

#include <stdint.h>
#include <sys/types.h>

struct hrd;

/* What happens to a group. */
enum hrd_group_event {
    GE_REGISTERED, /* a member was registered: the first one makes the group */
    GE_SPAWNED,    /* a member started an indirect actor */
    GE_BOOT,       /* a new controller starts the group again */
    GE_FAILED,     /* a member failed: signal, exit without HR_EXIT_HDL, akill */
    GE_KILL,       /* to end for good: akill -g, hrKillGroup, none left */
    GE_GONE,       /* no killed member is left (or none had to die) */
    GE_RESTARTED,  /* the restart policy let it start again */
    GE_ALL_CLEAN,  /* nothing runs, every member exited cleanly */
    GE_UNCLEAN,    /* nothing runs, some member has not exited cleanly */
    GE_ABANDONED,  /* its only member never started: it was never there */
    GE_BACKGROUND, /* a member exited leaving processes behind (why: its name) */
    GE_COUNT
};

/* Raise ev on group and deliver it, with every event its actions raise,
 * one after the other (never one inside another), before returning; why:
 * the reason logged when it ends (GE_KILL, GE_ALL_CLEAN, GE_GONE) or the
 * names that hold it up (GE_UNCLEAN).  Called by the loop and by what it
 * dispatches (requests, deaths), never by an action of the table. */
void hrd_group_event(struct hrd *d, int group, enum hrd_group_event ev,
                     const char *why);
/* Groups whose back-off after failed starts is over start again
 * (GE_RESTARTED); ms until the next one is due, or -1. */
int hrd_groups_tick(struct hrd *d);

/* A member of group could not start (why: in words): the failure the
 * group now fails with is a start's, and its restart backs off. */
void hrd_group_start_failed(struct hrd *d, int group, const char *why);

#endif
