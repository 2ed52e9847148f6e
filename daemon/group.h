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

/* Raise ev on group; why: the reason logged when it ends (GE_KILL,
 * GE_ALL_CLEAN, GE_GONE) or the names that hold it up (GE_UNCLEAN). */
void hrd_group_event(struct hrd *d, int group, enum hrd_group_event ev,
                     const char *why);

/* Register an actor (its image and arguments stored) in group, stopped;
 * *slot gets its registry slot.  -ENOSPC past hrCtrl.maxActors. */
int hrd_register(struct hrd *d, int group, int direct, const char *name,
                 int exe_fd, const char *args, uint32_t args_len, int *slot);
/* Unregister an actor that never ran; a group left with no member goes. */
void hrd_unregister(struct hrd *d, int slot);
/* A child of the controller was reaped. */
void hrd_child_exited(struct hrd *d, pid_t pid, int status);
/* End a group for good: 1 when done at once (or no such group), 0 when its
 * members still have to die (the loop finishes it when the last is reaped;
 * d->ends[group] moves on then). */
int hrd_kill_group(struct hrd *d, int group);
/* Every actor stops; a fresh controller takes over, unless the site has
 * restarted too often: then it stops, marked failed. */
void hrd_site_restart(struct hrd *d, const char *why);
/* At start, after hrd_actors_adopt() (actor.h): end the groups whose end
 * was cut short or that have no member left. */
void hrd_groups_adopt(struct hrd *d);

#endif
