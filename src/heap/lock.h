/* SPDX-License-Identifier: MIT */
/*
 * lock.h - the heap's lock, and the rollback of a dead holder it runs.
 */
#ifndef HR_HEAP_LOCK_H
#define HR_HEAP_LOCK_H

#include "view.h"

/* Make the robust, process-shared mutex in hdr (format, a new boot). */
int hh_lock_init(struct hh_hdr *hdr);
/* Take the lock for h's transaction, rolling back a dead holder's first:
 * on return h runs a transaction.  K_ETX if this thread holds it, K_EHEAP
 * if the mutex is not recoverable, the rollback's error, or -errno. */
int hh_lock(struct hr_heap *h);
void hh_unlock(struct hr_heap *h);
/* 1 if this thread runs a transaction through h. */
int hh_in_my_tx(struct hr_heap *h);

#endif
