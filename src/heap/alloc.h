/* SPDX-License-Identifier: MIT */
/*
 * alloc.h - the allocator's shared lists: chunks on segregated free lists,
 * every change saved in the undo log (log.h).  The lane caches in front of
 * them are cache.h's.
 *
 * hh_alloc and hh_free run in a transaction t that holds the allocator's
 * lock (lane.h).
 */
#ifndef HR_HEAP_ALLOC_H
#define HR_HEAP_ALLOC_H

#include <stdint.h>

#include "view.h"

/* A new arena of one free chunk and the sentinel (format, not logged). */
void hh_arena_format(struct hh_hdr *hdr);
/* A used chunk of need bytes (header included, a multiple of HH_ALIGN):
 * its offset in *off.  K_ENOMEM if none fits or the log is full, K_EHEAP
 * if a list is damaged, -errno from a flush. */
int hh_alloc(struct hh_tx *t, uint64_t need, uint64_t *off);
/* Free the used chunk at off, merged with its free neighbours.  reused: t
 * may allocate from the space again (its cache drained before an
 * allocation, not the frees at commit), so the merged neighbour's header
 * and links are saved too.  K_EHEAP if the chunk or a neighbour is
 * damaged. */
int hh_free(struct hh_tx *t, uint64_t off, int reused);
/* 0 if payload is the offset of an object (its chunk's size to *chunk_size
 * if not NULL), K_EINVAL if not. */
int hh_object(const struct hr_heap *h, uint64_t payload, uint64_t *chunk_size);
/* Remember [off, off+len), written without an undo record (a new object,
 * a free chunk carved from a free one), to flush it at commit (DISK).  0,
 * or K_ENOMEM (t is doomed). */
int hh_alloc_fresh(struct hh_tx *t, uint64_t off, uint64_t len);
/* The free list of chunks of this size. */
unsigned hh_bin_of(uint64_t size);

#endif
