/* SPDX-License-Identifier: MIT */
/*
 * index.h - finding blocks by name, and free pages in the bitmap.
 *
 * Read-only: nothing here writes the bank or takes its lock.
 */
#ifndef HR_PMM_INDEX_H
#define HR_PMM_INDEX_H

#include <stdint.h>

#include "view.h"

uint32_t pmm__bucket_of(const struct pmm_bank *b, const char *name);
/* 1 if e is a live entry whose checksum and bounds hold. */
int pmm__entry_valid(const struct pmm_bank *b, const struct pmm_entry *e);
/* 1 if e is all zeros (an entry never used). */
int pmm__entry_zero(const struct pmm_entry *e);

/* One step along a hash chain: link j (entry index + 1) taken as the
 * steps-th link of its chain.  PMM_CHAIN_OK and *e; PMM_CHAIN_BAD_LINK if
 * j is out of range or the chain is longer than any can be (a loop);
 * PMM_CHAIN_BAD_ENTRY if the entry is not a valid live one.  With copy,
 * the entry is copied before it is checked, and *e is the copy (a reader
 * without the lock checks what it will use, not what may change). */
enum { PMM_CHAIN_OK, PMM_CHAIN_BAD_LINK, PMM_CHAIN_BAD_ENTRY };
int pmm__chain_step(const struct pmm_bank *b, uint32_t j, uint64_t steps,
                    struct pmm_entry *copy, const struct pmm_entry **e);

/* Under the lock: K_OK with *idx (and *pred, the link before it, when
 * given), K_EUNKNOWN, or K_EBANK for a damaged chain. */
int pmm__find_locked(const struct pmm_bank *b, const char *name,
                     uint32_t *idx, uint32_t *pred);
/* Without the lock, as a seqlock reader: K_OK with *idx, a copy of the
 * entry and the sequence number it is valid for, K_EUNKNOWN, K_EBANK, or
 * -EAGAIN when writers kept moving (or one died mid-update): then look
 * under the lock, which also recovers. */
int pmm__find_fast(const struct pmm_bank *b, const char *name, uint32_t *idx,
                   struct pmm_entry *copy, uint64_t *seq);
/* 1 when the update that live record l logs (ALLOC or FREE) has made
 * its last store: its chain head, or its entry made free (never on a
 * DISK bank, which closes every log).
 * Read without the lock, it means something only if the sequence number
 * did not move meanwhile. */
int pmm__log_applied(const struct pmm_bank *b, const struct pmm_live *l);
/* 1 if the live record still has sequence number seq. */
int pmm__seq_same(const struct pmm_bank *b, uint64_t seq);
/* Under the lock: the first run of n free pages starting at a multiple of
 * align (1: anywhere), from page hint (the live record's) on, then from
 * the start; K_ENOMEM if none, K_EBANK for a damaged bitmap word on the
 * way. */
int pmm__find_pages(const struct pmm_bank *b, uint64_t hint, uint64_t n,
                    uint64_t align, uint64_t *page);

#endif
