/* SPDX-License-Identifier: MIT */
/*
 * cache.c - each lane's allocation cache.
 *
 * A small chunk (at most HH_CACHE_MAX bytes) freed by a transaction goes,
 * up to a limit of bytes per lane, to the cache of the lane it ran in
 * instead of the shared free lists: it stays a used chunk for the shared
 * allocator (which never merges it), and its first payload word becomes
 * hh_cache_tag(offset, lane), which says "cached by that lane, no object".
 * The lane's next transactions take such chunks first, from one list per
 * size in the lane's header: no allocator lock, no list of other lanes,
 * no undo record.  Only the thread that holds a lane touches its cache, so
 * a cache needs no lock.
 *
 * What is true is the tags in the arena; the lists only find them.
 *
 *   take:  the chunk is recorded in the lane's taken[] (taken.c: on DISK,
 *          or past HH_TAKEN takes in one transaction, its tag is saved in
 *          the log instead), then its tag is cleared (an object of the
 *          transaction now), then the list's head moves on.
 *   free:  (at commit, before the commit point) the chunk's first 16 bytes
 *          are saved in the log, the tag is written; after the commit
 *          point the chunk goes on its list.
 *
 * A rollback puts the tags back (recorded or logged): a chunk taken by a
 * transaction that did not commit is cached again, one freed by it is its
 * object again.  The lists are not logged: a rollback by the live thread
 * puts the chunks it took back on them (hh_cache_rolled_back).  A
 * transaction marks the lists busy with its sequence (cache_busy) before
 * it changes them or a tag they should list and clears the mark when its
 * commit or rollback is done with them; a mark of another sequence is a dead transaction's (the
 * rollback of a dead owner moves the sequence on), and lists so marked,
 * like all lists after a new boot (lock_inits moves on), are lost: the
 * lane's next transaction that needs them rebuilds them by walking the
 * arena for its tags, under the allocator's lock (no chunk is split or
 * merged meanwhile).  A list link
 * that does not lead to a chunk with the lane's tag (a stray write into a
 * cached chunk) is never followed: the lists are rebuilt instead.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cache.h"
#include "crash.h"
#include "lane.h"
#include "log.h"

/* The first payload bytes of a cached chunk. */
struct hh_cached {
    uint64_t tag;  /* hh_cache_tag(chunk offset, lane) */
    uint64_t next; /* the next cached chunk of its list, 0 none */
};

static inline struct hh_chunk *chunk(const struct hr_heap *h, uint64_t off)
{
    return (struct hh_chunk *)(h->base + off);
}

static inline struct hh_cached *cached(const struct hr_heap *h, uint64_t off)
{
    return (struct hh_cached *)(h->base + off + sizeof(struct hh_chunk));
}

static inline unsigned class_of(uint64_t size)
{
    return (unsigned)((size - HH_MIN_CHUNK) / HH_ALIGN);
}

/* Bytes one lane may keep: HH_CACHE_BYTES, at most a sixteenth of the
 * arena over the lanes, and at most a sixteenth of a lane's log, so that
 * one transaction can give them all back to the shared lists
 * (hh_cache_drain logs up to ~256 bytes for a 32-byte chunk).  Kept small:
 * a cached chunk is used space to the shared allocator, so every one
 * fences the free space around it; with 64 KiB a lane, the footprint of
 * 10 million random allocations and frees (bench/heap_bench, heap_frag)
 * grew to 2.9x the live bytes, against 1.36x with no cache and 1.38x with
 * 2 KiB emptied whenever it is full (hr_heap_free).  One transaction's
 * alloc+free needs one chunk.  Worked out once per slot: a division costs
 * more than the rest of a free. */
#define HH_CACHE_BYTES 2048u

static uint64_t limit(struct hh_tx *t)
{
    if (!t->cache_limit) {
        const struct hh_hdr *d = t->h->hdr;
        uint64_t n = d->arena_size / 16 / t->h->nlanes;
        uint64_t log = (d->lane_size - HH_LANE_HDR) / 16;
        t->cache_limit = n < log ? n : log;
        if (t->cache_limit > HH_CACHE_BYTES)
            t->cache_limit = HH_CACHE_BYTES;
    }
    return t->cache_limit;
}

/* Are the lists of lane l right for its transaction of sequence seq?  Not
 * if a new boot made them lost, nor if another transaction was changing
 * them (it died: a live one ends its changes before it gives up its lane;
 * its mark is older than seq, see untouch). */
static int lists_ok(const struct hr_heap *h, const struct hh_lane *l,
                    uint64_t seq)
{
    uint64_t busy = __atomic_load_n(&l->cache_busy, __ATOMIC_RELAXED);
    return l->cache_gen == h->hdr->lock_inits &&
           (!busy || busy == seq || busy == seq + 1);
}

/* t's thread is about to change its lane's lists, then has done so.  A
 * dead transaction's mark stays (the lists stay lost) unless t has just
 * rebuilt them (fresh). */
static void touch(struct hh_tx *t, int fresh)
{
    uint64_t busy = t->lane->cache_busy;
    if (busy && !fresh)
        return;
    __atomic_store_n(&t->lane->cache_busy, t->lane->tx_seq, __ATOMIC_RELAXED);
    hh_barrier(); /* marked before the lists change */
}

/* ... at the end of its transaction of sequence seq: its mark is seq, or
 * seq + 1 once its end has moved tx_seq on; a dead one's is older. */
static void untouch(struct hh_tx *t, uint64_t seq)
{
    uint64_t busy = t->lane->cache_busy;
    if (busy != seq && busy != seq + 1)
        return;
    hh_barrier(); /* the lists are whole before the mark goes */
    __atomic_store_n(&t->lane->cache_busy, 0, __ATOMIC_RELAXED);
}

/* Is off a chunk of `size` bytes cached by lane i?  Checked before a link
 * is followed. */
static int cached_ok(const struct hr_heap *h, uint64_t off, unsigned i,
                     uint64_t size)
{
    const struct hh_hdr *d = h->hdr;
    uint64_t end = d->arena_off + d->arena_size - sizeof(struct hh_chunk);
    if (off % HH_ALIGN || off < d->arena_off || off >= end ||
        end - off < size)
        return 0;
    const struct hh_chunk *c = chunk(h, off);
    return c->check == hh_check_word(off) && (c->size & HH_USED) &&
           (c->size & ~HH_FLAGS) == size &&
           hh_cached_by(h->base, off, size, h->nlanes) == (int)i;
}

/* popped and cache_pending belong to the lane's running transaction. */
static void sync_tx(struct hh_tx *t)
{
    uint64_t seq = t->lane->tx_seq;
    if (t->cache_seq != seq) {
        t->cache_seq = seq;
        t->npopped = 0;
        t->cache_pending = 0;
    }
}

/* The lists of t's lane again from the arena's tags: 0, or the error that
 * doomed t. */
static int rebuild(struct hh_tx *t)
{
    int r = hh_lock_alloc(t);
    if (r < 0)
        return r;
    struct hr_heap *h = t->h;
    const struct hh_hdr *d = h->hdr;
    uint64_t heads[HH_CACHE_CLASSES] = {0}, bytes = 0;
    uint64_t end = d->arena_off + d->arena_size - sizeof(struct hh_chunk);
    for (uint64_t off = d->arena_off; off < end;) {
        const struct hh_chunk *c = chunk(h, off);
        uint64_t size = c->size & ~HH_FLAGS;
        if (c->check != hh_check_word(off) || size < HH_MIN_CHUNK ||
            size % HH_ALIGN || size > end - off)
            return t->doomed = K_EHEAP;
        if ((c->size & HH_USED) &&
            hh_cached_by(h->base, off, size, h->nlanes) == (int)t->no) {
            cached(h, off)->next = heads[class_of(size)];
            heads[class_of(size)] = off;
            bytes += size;
        }
        off += size;
    }
    hh_crash("heap.cache-rebuild");
    touch(t, 1);
    memcpy(t->lane->cache, heads, sizeof heads);
    t->lane->cache_bytes = bytes;
    t->lane->cache_gen = d->lock_inits;
    return 0;
}

static int ready(struct hh_tx *t)
{
    sync_tx(t);
    return lists_ok(t->h, t->lane, t->lane->tx_seq) ? 0 : rebuild(t);
}

/* Take the first chunk of list k (it checked out): an object of t. */
static int take(struct hh_tx *t, unsigned k, uint64_t at)
{
    struct hh_cached *c = cached(t->h, at);
    if (t->npopped == t->cap_popped) {
        size_t n = t->cap_popped ? t->cap_popped * 2 : 16;
        uint64_t *p = realloc(t->popped, n * sizeof *p);
        if (!p)
            return t->doomed = K_ENOMEM;
        t->popped = p;
        t->cap_popped = n;
    }
    if (t->doomed)
        return t->doomed;
    if (t->ntaken < HH_TAKEN && !t->h->durable) {
        hh_log_take(t, at); /* the lane's record (taken.c), no undo entry */
        hh_crash("heap.cache-took");
    } else {
        int r = hh_log(t, &c->tag, sizeof c->tag);
        if (r < 0)
            return r;
    }
    touch(t, 0);
    __atomic_store_n(&c->tag, 0, __ATOMIC_RELAXED);
    t->lane->cache[k] = c->next;
    t->lane->cache_bytes -= HH_MIN_CHUNK + k * HH_ALIGN;
    t->popped[t->npopped++] = at;
    hh_crash("heap.cache-take");
    return 0;
}

int hh_cache_alloc(struct hh_tx *t, uint64_t need, uint64_t *off)
{
    if (need > HH_CACHE_MAX)
        return 0;
    int r = ready(t);
    if (r < 0)
        return r;
    unsigned k = class_of(need);
    uint64_t at = t->lane->cache[k];
    if (!at)
        return 0;
    if (!cached_ok(t->h, at, t->no, need)) {
        t->lane->cache_gen = 0; /* a bad link: not followed, rebuilt */
        return 0;
    }
    if ((r = take(t, k, at)) < 0 ||
        (t->h->durable && (r = hh_alloc_fresh(t, at, need)) < 0))
        return r;
    *off = at;
    return 1;
}

int hh_cache_drain(struct hh_tx *t)
{
    int r = ready(t);
    for (unsigned k = 0; r == 0 && k < HH_CACHE_CLASSES; k++)
        for (uint64_t at; r == 0 && (at = t->lane->cache[k]);) {
            if (!cached_ok(t->h, at, t->no, HH_MIN_CHUNK + k * HH_ALIGN)) {
                t->lane->cache_gen = 0; /* rebuilt: only good links */
                r = ready(t);
            } else if ((r = take(t, k, at)) == 0)
                r = hh_free(t, at, 1);
        }
    return r;
}

int hh_cache_drain_room(const struct hh_tx *t)
{
    /* ~256 bytes of log a drained chunk, the smallest being 32 bytes,
     * and room left for the transaction's own records; cache_bytes is read
     * from the lane's header, so never multiplied (a damaged one must not
     * wrap into "room enough") */
    uint64_t room = t->log_cap - t->log_pos;
    return room >= 1024 && t->lane->cache_bytes <= (room - 1024) / 8;
}

int hh_cache_took(const struct hh_tx *t, uint64_t off)
{
    if (t->cache_seq != t->lane->tx_seq)
        return 0;
    for (size_t i = t->npopped, n = 0; i-- > 0 && n < 8; n++)
        if (t->popped[i] == off)
            return 1;
    return 0;
}

int hh_cache_takes(struct hh_tx *t, uint64_t size)
{
    if (size > HH_CACHE_MAX)
        return 0;
    sync_tx(t);
    if (t->lane->cache_bytes + t->cache_pending + size > limit(t))
        return 0;
    t->cache_pending += size;
    return 1;
}

int hh_cache_free(struct hh_tx *t, uint64_t off)
{
    struct hh_cached *c = cached(t->h, off);
    /* taken from the cache by t itself: its record of the tag puts back
     * all that mattered there (no object's bytes) */
    int r = hh_cache_took(t, off) ? 0 : hh_log(t, c, sizeof *c);
    if (r < 0)
        return r;
    touch(t, 0); /* tagged, not yet listed: a death from here loses the lists */
    c->next = 0;
    __atomic_store_n(&c->tag, hh_cache_tag(off, t->no), __ATOMIC_RELAXED);
    return 0;
}

/* Put the cached chunk at off on its list of t's lane, if its tag says it
 * is cached there (or t has just tagged it) and the lists are not lost
 * (t's transaction: seq). */
static void push(struct hh_tx *t, uint64_t off, uint64_t seq, int tagged)
{
    struct hr_heap *h = t->h;
    struct hh_lane *l = t->lane;
    uint64_t size = chunk(h, off)->size & ~HH_FLAGS;
    if (!lists_ok(h, l, seq) || (!tagged && !cached_ok(h, off, t->no, size)))
        return;
    touch(t, 0);
    cached(h, off)->next = l->cache[class_of(size)];
    l->cache[class_of(size)] = off;
    l->cache_bytes += size;
}

void hh_cache_committed(struct hh_tx *t, uint64_t seq, const uint64_t *frees,
                        size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (frees[i] & 1) {
            push(t, frees[i] & ~1ull, seq, 1); /* tagged by this commit */
            hh_crash("heap.cache-push");
        }
    if (t->cache_seq == seq)
        t->npopped = t->cache_pending = 0;
    untouch(t, seq);
}

void hh_cache_rolled_back(struct hh_tx *t, uint64_t seq)
{
    if (t->cache_seq == seq)
        for (size_t i = t->npopped; i-- > 0;)
            push(t, t->popped[i], seq, 0);
    t->npopped = t->cache_pending = 0;
    untouch(t, seq);
}

int hh_cache_check(const struct hr_heap *h, unsigned i, uint64_t chunks,
                   uint64_t bytes, char *msg, size_t len)
{
    const struct hh_lane *l = hh_lane_at(h, i);
    if (!lists_ok(h, l, l->tx_seq))
        return 0; /* lost: rebuilt from the tags before it is used */
    uint64_t n = 0, sum = 0;
    for (unsigned k = 0; k < HH_CACHE_CLASSES; k++)
        for (uint64_t at = l->cache[k]; at; at = cached(h, at)->next) {
            if (n++ >= chunks || !cached_ok(h, at, i, HH_MIN_CHUNK +
                                            k * HH_ALIGN)) {
                snprintf(msg, len, "lane %u: its cache list of %u-byte "
                         "chunks reaches offset %llu, which is not a chunk "
                         "it caches (or the list loops)", i,
                         HH_MIN_CHUNK + k * HH_ALIGN, (unsigned long long)at);
                return -1;
            }
            sum += HH_MIN_CHUNK + k * HH_ALIGN;
        }
    if (n != chunks || sum != bytes || l->cache_bytes != bytes) {
        snprintf(msg, len, "lane %u: %llu chunks of %llu bytes carry its "
                 "cache tag, its lists hold %llu of %llu bytes and say %llu",
                 i, (unsigned long long)chunks, (unsigned long long)bytes,
                 (unsigned long long)n, (unsigned long long)sum,
                 (unsigned long long)l->cache_bytes);
        return -1;
    }
    return 0;
}
