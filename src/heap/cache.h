/* SPDX-License-Identifier: MIT */
/*
 * cache.h - each lane's allocation cache: small chunks freed in that lane,
 * handed out again by its next transactions with no lock and no walk of
 * the shared free lists (cache.c says why it is crash-safe).
 *
 * Every call works on the lane of t, whose mutex the calling thread holds
 * (lane.h).
 */
#ifndef HR_HEAP_CACHE_H
#define HR_HEAP_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "view.h"

/* A chunk of need bytes from t's lane cache: 1 and its offset in *off; 0
 * if the cache has none (the shared lists serve it); K_EBUSY (rebuilding
 * the cache waits for the allocator's lock), K_ENOMEM (the log is full) or
 * K_EHEAP (the arena is damaged): t is doomed. */
int hh_cache_alloc(struct hh_tx *t, uint64_t need, uint64_t *off);
/* Give the chunks of t's lane cache back to the shared lists, in t (the
 * allocator's lock held): when they do not serve an allocation.  0 or the
 * error that doomed t. */
/* Has t's log room to drain its lane's cache whole and go on (a free
 * that finds the cache full drains it only then: never a transaction
 * doomed for a drain it did not ask for)? */
int hh_cache_drain_room(const struct hh_tx *t);
int hh_cache_drain(struct hh_tx *t);
/* Did t take the chunk at off from its lane's cache (one of its last
 * eight)?  Then no other transaction can be changing its bytes (they were
 * free space): freeing it needs none of its granules' locks. */
int hh_cache_took(const struct hh_tx *t, uint64_t off);
/* Does a chunk of size bytes freed by t go to t's lane cache?  1 (its
 * bytes are counted against the cache's limit) or 0 (the shared lists). */
int hh_cache_takes(struct hh_tx *t, uint64_t size);
/* Before the commit point: the used chunk at off becomes a cached chunk of
 * t's lane (its first payload bytes saved in the log first).  0 or the
 * error that doomed t. */
int hh_cache_free(struct hh_tx *t, uint64_t off);
/* After the commit point of t's transaction of sequence seq: the chunks it
 * freed to the cache (frees[0..n), low bit set) go on the cache's lists. */
void hh_cache_committed(struct hh_tx *t, uint64_t seq, const uint64_t *frees,
                        size_t n);
/* After the rollback of t's transaction of sequence seq, by its thread:
 * the chunks it took from the cache go back on the lists. */
void hh_cache_rolled_back(struct hh_tx *t, uint64_t seq);
/* The checker, holding lane i: its lists hold exactly `chunks` cached
 * chunks of `bytes` bytes, each in its class.  0, or -1 and why in msg. */
int hh_cache_check(const struct hr_heap *h, unsigned i, uint64_t chunks,
                   uint64_t bytes, char *msg, size_t len);

#endif
