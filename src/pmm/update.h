/* SPDX-License-Identifier: MIT */
/*
 * update.h - the commit protocol: allocating and freeing a block's entry.
 *
 * Callers hold the bank's lock (lock.h), and the bank needs no recovery.
 */
#ifndef HR_PMM_UPDATE_H
#define HR_PMM_UPDATE_H

#include <stddef.h>
#include <stdint.h>

#include "view.h"

/* Make a live entry for name of npages pages (plus a guard page) and set
 * *idx to it.  K_ENOMEM if the bank or its entries are full, K_EBANK if the
 * free list or bitmap is damaged, -errno from the file. */
int pmm__do_alloc(struct pmm_bank *b, const char *name, uint64_t npages,
                  const uint8_t *key, size_t keylen, unsigned eflags,
                  int group, uint32_t *idx);
/* Free live entry idx, whose chain predecessor link is pred (PMM_NONE: it
 * heads its chain).  Its pages are given back to the file system, a small
 * block's with the next ones (pmm__dead_after). */
int pmm__do_free(struct pmm_bank *b, uint32_t idx, uint32_t pred);
/* For the FREE logged in l: the dead run after it in *dead, *ndead (when
 * dead is given) and the file pages its apply punches, [*from, *from + *n)
 * (n 0: none).  A freed block next to the run, or the first one, joins it;
 * a run that so reaches PMM_DEAD_BATCH bytes is punched whole and emptied;
 * a block not next to the run is punched alone and the run kept.  A
 * function of the log alone, so that a redo punches the same pages. */
void pmm__dead_after(const struct pmm_bank *b, const struct pmm_live *l,
                     uint64_t *dead, uint64_t *ndead, uint64_t *from,
                     uint64_t *n);

/* 1 if l holds a committed intent log that is safe to redo. */
int pmm__log_valid(const struct pmm_bank *b, const struct pmm_live *l);
/* Carry out the committed log in l (a copy of the live record) and end the
 * update; idempotent.  l is updated to the live record as its end leaves
 * it (written on a DISK bank only: update.c). */
int pmm__apply(struct pmm_bank *b, struct pmm_live *l);
/* The live record as it stands: the one in the file, or, when that holds
 * the log of an update that made its last store (a RAM bank at rest), the
 * record as the end of that update leaves it.  Under the lock, or
 * validated by the sequence number of the record in the file. */
void pmm__live_now(const struct pmm_bank *b, struct pmm_live *out);

#endif
