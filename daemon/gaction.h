/* SPDX-License-Identifier: MIT */
/*
 * gaction.h - the actions of the group table (gaction.c), below the table
 * and its entry point (group.c): an action raises the next event, never
 * delivers it.
 */
#ifndef HRD_GACTION_H
#define HRD_GACTION_H

struct hrd;

/* What a group event does, besides the state change. */
enum {
    GA_NONE,
    GA_MAKE,     /* a fresh group record */
    GA_START,    /* start every direct actor that does not run (boot) */
    GA_KILL,     /* kill the members (hrCtrl.failStopTimeout); GE_GONE
                    once none is dying */
    GA_TERM,     /* the same, a stop (hrCtrl.stopTimeout) */
    GA_BACKGROUND, /* a member went to the background: say so, stop the rest */
    GA_CHARGE,   /* ask the policy: GE_RESTARTED now or after the back-off,
                    or a site restart (the loop's) */
    GA_RESTART,  /* count the restart, start every direct actor again */
    GA_END,      /* free what the group holds, release its number */
    GA_BLOCKED,  /* log who holds it up */
    GA_FORGET,   /* release its number: it never ran */
    GA_COUNT
};

/* Run action on group (why: the event's reason, or NULL). */
void hrd_gaction(struct hrd *d, int group, int action, const char *why);
/* A member of group could not start (why: in words): the failure the
 * group now fails with is a start's, and its restart backs off. */
void hrd_group_start_failed(struct hrd *d, int group, const char *why);
/* The action's name, for hrd --tables. */
const char *hrd_gaction_name(int action);

#endif
