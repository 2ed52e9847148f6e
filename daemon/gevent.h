/* SPDX-License-Identifier: MIT */
/*
 * gevent.h - the events of the group table (group.c), apart, so that the
 * queue (events.h) and the actions (gaction.h) below the table name them
 * without including the table's header.
 */
#ifndef HRD_GEVENT_H
#define HRD_GEVENT_H

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

#endif
