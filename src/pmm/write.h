/* SPDX-License-Identifier: MIT */
/*
 * write.h - the stores to a bank's metadata.
 *
 * Callers hold the bank's lock.  Only update.c (the commit protocol),
 * lock.c (redo after a crash) and repair.c call these: tests/
 * check_syscalls.sh fails if any other object of the library does.
 */
#ifndef HR_PMM_WRITE_H
#define HR_PMM_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "view.h"

/* Write len bytes at off of the metadata ([0, data_off)); K_EBANK if the
 * range is outside it.  On a checker's shadow bank, into its private copy. */
int pmm__meta_write(struct pmm_bank *b, uint64_t off, const void *buf,
                    size_t len);
/* Seal e with its checksum and write it as entry idx. */
int pmm__write_entry(struct pmm_bank *b, uint32_t idx, struct pmm_entry *e);
/* Seal l with its checksum and write it as the live record. */
int pmm__write_live(struct pmm_bank *b, struct pmm_live *l);
int pmm__write_bucket(struct pmm_bank *b, uint32_t bucket, uint32_t v);
/* Mark pages [page, page + n) held (on) or free; K_EBANK on a damaged
 * bitmap word, which is never built upon. */
int pmm__bitmap_set(struct pmm_bank *b, uint64_t page, uint64_t n, int on);
/* Make what was written durable: an ordering point on a DISK bank, nothing
 * on a RAM bank or a shadow. */
int pmm__meta_flush(struct pmm_bank *b);

#endif
