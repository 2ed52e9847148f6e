/* SPDX-License-Identifier: MIT */
/*
 * check.h - the heap's verifier: every invariant of format.h.
 */
#ifndef HR_HEAP_CHECK_H
#define HR_HEAP_CHECK_H

#include "view.h"

/* Check h in a transaction that holds the allocator's lock: t if it was
 * begun for the check (its lane is not counted busy), else NULL.  Each problem goes to fn (if not NULL);
 * the figures to *info (if not NULL).  0, or K_EHEAP if a problem was
 * found. */
int hh_check(struct hr_heap *h, struct hh_tx *t,
             void (*fn)(const char *, void *), void *arg, hr_heap_info *info);

#endif
