/* SPDX-License-Identifier: MIT */
/*
 * check.h - the heap's verifier: every invariant of format.h.
 */
#ifndef HR_HEAP_CHECK_H
#define HR_HEAP_CHECK_H

#include "view.h"

/* Check h, whose lock the caller holds (in_tx: inside its own transaction,
 * whose log is then not a problem).  Each problem goes to fn (if not NULL);
 * the figures to *info (if not NULL).  0, or K_EHEAP if a problem was
 * found. */
int hh_check(struct hr_heap *h, void (*fn)(const char *, void *), void *arg,
             hr_heap_info *info, int in_tx);

#endif
