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
#include <stdio.h>
#include <sys/types.h>

#include "gevent.h"

struct hrd;


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

/* The table, a cell a line ("group STATE EVENT -> NEXT ACTION"), for
 * hrd --tables and the test that checks every cell. */
void hrd_group_table_print(FILE *f);

#endif
