/* SPDX-License-Identifier: MIT */
/*
 * check.c - the heap's verifier: every invariant of format.h, checked by
 * walking the arena and every free list under the allocator's lock, and
 * every lane (rolled back first if its owner died) and the cache lists of
 * every lane it can hold.
 *
 * It only reads, follows no link before checking it lies in the arena and
 * bounds every list walk by the number of free chunks, so a damaged heap
 * is reported, never followed into a crash or a loop.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cache.h"
#include "check.h"
#include "lane.h"
#include "log.h"

struct report {
    void (*fn)(const char *, void *);
    void *arg;
    int problems;
    uint64_t cached[HH_MAX_LANES], ncached[HH_MAX_LANES]; /* by lane */
};

__attribute__((format(printf, 2, 3)))
static void problem(struct report *rp, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rp->problems++;
    if (rp->fn)
        rp->fn(msg, rp->arg);
}

static inline const struct hh_chunk *chunk_at(const struct hr_heap *h,
                                              uint64_t off)
{
    return (const struct hh_chunk *)(h->base + off);
}

/* Walk the chunks from the arena's start to the sentinel. */
static void walk(const struct hr_heap *h, struct report *rp,
                 hr_heap_info *in)
{
    const struct hh_hdr *d = h->hdr;
    uint64_t off = d->arena_off;
    uint64_t end = d->arena_off + d->arena_size - sizeof(struct hh_chunk);
    int prev_used = 1;
    while (off < end) {
        const struct hh_chunk *c = chunk_at(h, off);
        uint64_t size = c->size & ~HH_FLAGS;
        if (c->check != hh_check_word(off) || size < HH_MIN_CHUNK ||
            size % HH_ALIGN || size > end - off) {
            problem(rp, "chunk at offset %llu: bad header (size %llu)",
                    (unsigned long long)off, (unsigned long long)size);
            return;
        }
        if (!(c->size & HH_PREV_USED) != !prev_used)
            problem(rp, "chunk at offset %llu: previous-used flag is wrong",
                    (unsigned long long)off);
        int used = (c->size & HH_USED) != 0, lane;
        if (used && (lane = hh_cached_by(h->base, off, size, h->nlanes)) >= 0) {
            in->cached += size;
            in->cached_chunks++;
            rp->cached[lane] += size;
            rp->ncached[lane]++;
        } else if (used) {
            in->used += size - sizeof *c;
            in->objects++;
        } else {
            if (!prev_used)
                problem(rp, "free chunks at offset %llu and before it are "
                        "not merged", (unsigned long long)off);
            if (chunk_at(h, off + size)->prev16 != size / HH_ALIGN)
                problem(rp, "chunk at offset %llu: the size tag after it is "
                        "wrong", (unsigned long long)off);
            in->free += size;
            in->free_chunks++;
            if (size - sizeof *c > in->largest_free)
                in->largest_free = size - sizeof *c;
        }
        prev_used = used;
        off += size;
    }
    const struct hh_chunk *s = chunk_at(h, end);
    if (off != end || s->check != hh_check_word(end) ||
        (s->size & ~HH_PREV_USED) != HH_USED)
        problem(rp, "the arena does not end with its sentinel");
    else if (!(s->size & HH_PREV_USED) != !prev_used)
        problem(rp, "the sentinel's previous-used flag is wrong");
}

/* Every list: free chunks of its class, linked both ways, bounded. */
static void lists(const struct hr_heap *h, struct report *rp, uint64_t nfree)
{
    const struct hh_hdr *d = h->hdr;
    uint64_t end = d->arena_off + d->arena_size - sizeof(struct hh_chunk);
    uint64_t listed = 0;
    for (unsigned b = 0; b < HH_NBINS; b++) {
        int bit = (int)(d->binmap[b / 64] >> (b % 64) & 1);
        if (bit != (d->bins[b] != 0))
            problem(rp, "list %u: its bit in the bitmap is wrong", b);
        uint64_t prev = 0;
        for (uint64_t at = d->bins[b]; at; listed++) {
            const struct hh_chunk *c = chunk_at(h, at);
            if (listed > nfree || at % HH_ALIGN || at < d->arena_off ||
                at >= end || c->check != hh_check_word(at) ||
                (c->size & HH_USED)) {
                problem(rp, "list %u: offset %llu is not a free chunk (or "
                        "the list loops)", b, (unsigned long long)at);
                return;
            }
            uint64_t size = c->size & ~HH_FLAGS;
            const struct hh_chunk *n = size >= HH_MIN_CHUNK && size <= end - at
                                       ? chunk_at(h, at + size) : NULL;
            if (!n || n->check != hh_check_word(at + size) ||
                (n->size & HH_PREV_USED) || n->prev16 != size / HH_ALIGN) {
                /* a header left inside a bigger chunk by a merge looks free
                 * and sound; the chunk after it does not name it back */
                problem(rp, "list %u: offset %llu is not a chunk of the "
                        "arena (the next header does not name it)", b,
                        (unsigned long long)at);
                return;
            }
            if (hh_bin_of(size) != b)
                problem(rp, "list %u: chunk at offset %llu has another size "
                        "class", b, (unsigned long long)at);
            const struct hh_links *l = (const struct hh_links *)(c + 1);
            if (l->prev != prev)
                problem(rp, "list %u: back link of offset %llu is wrong", b,
                        (unsigned long long)at);
            prev = at;
            at = l->next;
        }
    }
    if (listed != nfree)
        problem(rp, "%llu free chunks in the arena but %llu on the lists "
                "(lost or listed twice)", (unsigned long long)nfree,
                (unsigned long long)listed);
}

/* Hold every lane, so that no transaction changes a cache while the
 * arena is walked: waiting for each in a transaction begun for the check
 * (own: it holds no lock word, and its own lane is the first one not
 * damaged (hh_lane_take_first), so two checks take lanes in one order and
 * never wait for each other).  Inside the caller's own
 * transaction, which may hold lock words others wait for, only the lanes
 * free now are held; the caches of the others are not checked, and their
 * transactions' allocations may be counted or not.  held[i]: 1 held, 2 the
 * caller's own, 0 not held. */
static void hold_all(struct hr_heap *h, const struct hh_tx *own, int *held)
{
    const struct hh_tx *mine = hh_my_tx(h); /* own, or the caller's */
    for (unsigned i = 0; i < h->nlanes; i++) {
        int r = mine && mine->no == i ? 2 : hh_lane_hold(h, i, own != NULL);
        held[i] = r == 0 ? 1 : r == 2 ? 2 : 0;
    }
}

/* Every lane's cache lists hold exactly the chunks the arena's tags say
 * the lane caches (rp NULL: none checked); the lanes held are given back. */
static void caches(struct hr_heap *h, const int *held, struct report *rp)
{
    char msg[200];
    for (unsigned i = 0; i < h->nlanes; i++) {
        if (rp && held[i] && hh_cache_check(h, i, rp->ncached[i], rp->cached[i],
                                      msg, sizeof msg) < 0)
            problem(rp, "%s", msg);
        if (held[i] == 1)
            hh_lane_release(h, i);
    }
}

/* Every lane: rolled back if its owner died, its log sound and empty
 * unless a live transaction runs in it. */
static void lanes(struct hr_heap *h, const struct hh_tx *own,
                  struct report *rp, hr_heap_info *in)
{
    char msg[200];
    for (unsigned i = 0; i < h->nlanes; i++) {
        uint64_t bytes;
        const struct hh_lane *l = hh_lane_at(h, i);
        int r = hh_lane_inspect(h, i, &bytes, msg, sizeof msg);
        in->tx_count += l->tx_seq - 1;
        if (r == 1 && !(own && own->no == i))
            in->lanes_busy++;
        else if (r < 0)
            problem(rp, "%s", r == K_EHEAP ? msg : "lane: cannot be taken");
    }
    uint64_t bad = h->hdr->damaged;
    if (bad)
        problem(rp, "lane %llu was found damaged: transactions are refused",
                (unsigned long long)bad - 1);
}

int hh_check(struct hr_heap *h, struct hh_tx *t, int own,
             void (*fn)(const char *, void *), void *arg, hr_heap_info *info)
{
    struct report rp = {.fn = fn, .arg = arg};
    hr_heap_info in;
    memset(&in, 0, sizeof in);
    const struct hh_hdr *d = h->hdr;
    in.size = d->size;
    in.arena = d->arena_size;
    in.log_size = d->lane_size - HH_LANE_HDR;
    in.lanes = h->nlanes;
    in.durable = h->durable;
    lanes(h, own ? t : NULL, &rp, &in);
    int held[HH_MAX_LANES], r;
    hold_all(h, own ? t : NULL, held);
    if ((r = hh_lock_alloc(t)) < 0 && r != K_EHEAP) {
        caches(h, held, NULL);
        return r;
    }
    walk(h, &rp, &in);
    if (!rp.problems)
        lists(h, &rp, in.free_chunks);
    caches(h, held, &rp);
    if (d->root && hh_object(h, d->root, NULL) < 0)
        problem(&rp, "the root (offset %llu) is not an object",
                (unsigned long long)d->root);
    if (info)
        *info = in;
    return rp.problems ? K_EHEAP : r;
}
