/* SPDX-License-Identifier: MIT */
/*
 * lock.h - a bank's writer lock, and the recovery it runs.
 */
#ifndef HR_PMM_LOCK_H
#define HR_PMM_LOCK_H

#include "view.h"

/* Take b->mu (the caller cannot be cancelled until pmm__mu_unlock), give
 * it back (the caller's cancelability as it was). */
void pmm__mu_lock(struct pmm_bank *b);
void pmm__mu_unlock(struct pmm_bank *b);
/* Take b->mu, then the bank's kernel lock (shared on a read-only bank),
 * and, for a writer, recover what a dead writer left (lock.c): on return
 * the bank is consistent.  0, or -errno / K_EBANK with nothing held. */
int pmm__lock(struct pmm_bank *b);
void pmm__unlock(struct pmm_bank *b);
/* K_EBANK if the bank file was truncated under us into its metadata: its
 * mapping must not be read. */
int pmm__intact(const struct pmm_bank *b);
/* 1 if the live record shows an unfinished update, an interrupted repair
 * or damage: the next writer to take the lock must recover first. */
int pmm__needs_recovery(const struct pmm_bank *b);

#endif
