/* SPDX-License-Identifier: MIT */
/*
 * ending.h - the site's own end, a turn of the loop at a time (ending.c):
 * a stop, a site restart, a cold restart.
 */
#ifndef HRD_ENDING_H
#define HRD_ENDING_H

struct hrd;

enum hrd_end {
    HRD_END_NONE,    /* the site runs */
    HRD_END_STOP,    /* every actor stops, then the controller */
    HRD_END_RESTART, /* ... then a fresh controller, unless the policy
                        fails the site (a site restart) */
    HRD_END_COLD,    /* ... then a fresh controller on a RAM bank made
                        anew (a cold restart, asked for) */
};

/* Begin the end of kind (the first begun stays: a stop asked for meanwhile
 * wins over a restart when it is done); why: a site restart's reason,
 * asked: it was asked for (not charged to the policy). */
void hrd_end_begin(struct hrd *d, enum hrd_end kind, const char *why,
                   int asked);
/* One turn of the end, from the loop: -1 when it is done (d->exec_pending
 * then says whether a fresh controller follows), else the ms the loop may
 * wait at most before the next turn. */
int hrd_end_step(struct hrd *d);

#endif
