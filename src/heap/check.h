/* SPDX-License-Identifier: MIT */
/*
 * check.h - the heap's verifier: every invariant of format.h.
 */
#ifndef HR_HEAP_CHECK_H
#define HR_HEAP_CHECK_H

#include "view.h"

/* Check h in this thread's transaction t, begun for the check if own:
 * every lane is held first (waited for if own; if not, those free now,
 * for t may hold lock words others wait for), then the allocator's lock is
 * taken (a damaged lane that holds it changes nothing: all is checked and
 * the lane named).  Each problem goes to fn (if not NULL); the figures to
 * *info (if not NULL).  0; K_EHEAP if a problem was found; K_EBUSY if
 * the allocator's lock could not be had (as hr_heap_add). */
int hh_check(struct hr_heap *h, struct hh_tx *t, int own,
             void (*fn)(const char *, void *), void *arg, hr_heap_info *info);

#endif
