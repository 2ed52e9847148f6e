/* SPDX-License-Identifier: MIT */
/*
 * block.h - reading blocks (pmm_stat(), pmm_iter(), pmm_sync() are
 * public): lookups that fall back to the lock, and a block's description.
 */
#ifndef HR_PMM_BLOCK_H
#define HR_PMM_BLOCK_H

#include <stdint.h>

#include <hotrestart/pmm.h>

#include "view.h"

/* Find name: lock-free, else under the lock (which recovers).  K_OK with
 * *idx, a copy of its entry and the sequence number the copy is valid for;
 * K_EUNKNOWN; K_EBANK; -errno.  The caller may hold b->mu. */
int pmm__lookup(struct pmm_bank *b, const char *name, uint32_t *idx,
                struct pmm_entry *copy, uint64_t *seq);
/* 1 if entry idx is still live with generation gen (not freed since). */
int pmm__same_entry(const struct pmm_bank *b, uint32_t idx, uint32_t gen);
/* pmm_stat(), and *off the file offset of the block's contents (which no
 * address gives: they lie at its fresh file pages, layout.h), for readers
 * of a block that do not map it. */
int pmm__stat_file(pmm_bank *b, const char *name, pmm_block *out,
                   uint64_t *off);
/* Describe entry e as the public pmm_block. */
void pmm__fill_block(const struct pmm_bank *b, const struct pmm_entry *e,
                     pmm_block *out);

#endif
