/* SPDX-License-Identifier: MIT */
/*
 * alloc.c - the allocator: segregated free lists with boundary tags.
 *
 * Chunk sizes up to HH_SMALL_MAX have one exact list each, so that a small
 * allocation whose list is not empty takes its head and nothing else;
 * larger chunks sit on one list per power of two, searched best-fit over a
 * bounded number of chunks, lowest address first among equals.  A chunk
 * that is more than a minimal chunk too big is split; a freed chunk merges at once with free neighbours, so
 * free space never stays cut in pieces that a long random workload would
 * pile up (bench/heap_bench.c measures used/live after 10 million ops).
 *
 * These shared lists are the slow path: small chunks freed in a lane go
 * first to that lane's cache (cache.c), which serves its next
 * transactions without the allocator's lock; for these lists a cached
 * chunk is a used one.
 *
 * Every word this file changes is saved in the undo log first (log.c): the
 * shared lists need no recovery of their own, a rollback puts them back
 * with the user's data.  Frees are applied at commit (hr_heap_free only
 * queues them), so an object freed by a transaction is never handed out
 * again by the same transaction, whose rollback would then find it
 * overwritten.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"

#define TRY(x)                                                                 \
    do {                                                                       \
        int r_ = (x);                                                          \
        if (r_ < 0)                                                            \
            return r_;                                                         \
    } while (0)

static inline struct hh_chunk *chunk(const struct hr_heap *h, uint64_t off)
{
    return (struct hh_chunk *)(h->base + off);
}

static inline struct hh_links *links(const struct hr_heap *h, uint64_t off)
{
    return (struct hh_links *)(h->base + off + sizeof(struct hh_chunk));
}

static inline uint64_t csize(const struct hh_chunk *c)
{
    return c->size & ~HH_FLAGS;
}

unsigned hh_bin_of(uint64_t size)
{
    if (size <= HH_SMALL_MAX)
        return (unsigned)((size - HH_MIN_CHUNK) / HH_ALIGN);
    unsigned b = HH_NSMALL + (63u - (unsigned)__builtin_clzll(size)) - 10u;
    return b < HH_NBINS ? b : HH_NBINS - 1;
}

static int set_hot(struct hh_tx *t, uint64_t *w, uint64_t v)
{
    TRY(hh_log_hot(t, w));
    *w = v;
    return 0;
}

static int set_word(struct hh_tx *t, uint64_t *w, uint64_t v)
{
    TRY(hh_log(t, w, sizeof *w));
    *w = v;
    return 0;
}

static int set_chunk(struct hh_tx *t, uint64_t off, uint64_t size,
                     uint32_t prev16)
{
    struct hr_heap *h = t->h;
    struct hh_chunk *c = chunk(h, off);
    TRY(hh_log(t, c, sizeof *c));
    c->size = size;
    c->prev16 = prev16;
    c->check = hh_check_word(off);
    return 0;
}

static int set_bit(struct hh_tx *t, unsigned bin, int on)
{
    struct hr_heap *h = t->h;
    uint64_t *w = &h->hdr->binmap[bin / 64], m = 1ull << (bin % 64);
    if (!(*w & m) == !on)
        return 0;
    return set_hot(t, w, on ? *w | m : *w & ~m);
}

/* Is off a free chunk inside the arena?  Every list link is checked before
 * it is followed: a damaged heap gives K_EHEAP, never a wild access. */
static int free_ok(const struct hr_heap *h, uint64_t off)
{
    const struct hh_hdr *hdr = h->hdr;
    uint64_t end = hdr->arena_off + hdr->arena_size - sizeof(struct hh_chunk);
    if (off % HH_ALIGN || off < hdr->arena_off || off >= end)
        return 0;
    const struct hh_chunk *c = chunk(h, off);
    if (c->check != hh_check_word(off) || (c->size & HH_USED) ||
        csize(c) < HH_MIN_CHUNK || csize(c) > end - off)
        return 0;
    /* and a chunk of the arena, not a header a merge left inside a bigger
     * one (check words depend on the offset alone): the next header names
     * it as its free predecessor */
    const struct hh_chunk *n = chunk(h, off + csize(c));
    return n->check == hh_check_word(off + csize(c)) &&
           !(n->size & HH_PREV_USED) && n->prev16 == csize(c) / HH_ALIGN;
}

/* Do off's neighbours on list bin name it back (the head: the list's
 * start)?  A link that does not is damage: following it would lose a
 * chunk from every list, or tie two lists together. */
static int links_back(const struct hr_heap *h, uint64_t off, unsigned bin,
                      uint64_t prev, uint64_t next)
{
    return (prev ? links(h, prev)->next : h->hdr->bins[bin]) == off &&
           (!next || links(h, next)->prev == off);
}

static int unlink_free(struct hh_tx *t, uint64_t off, unsigned bin)
{
    struct hr_heap *h = t->h;
    struct hh_links *l = links(h, off);
    uint64_t next = l->next, prev = l->prev;
    if ((next && !free_ok(h, next)) || (prev && !free_ok(h, prev)) ||
        !links_back(h, off, bin, prev, next))
        return K_EHEAP;
    if (prev)
        TRY(set_word(t, &links(h, prev)->next, next));
    else
        TRY(set_hot(t, &h->hdr->bins[bin], next));
    if (next)
        TRY(set_word(t, &links(h, next)->prev, prev));
    return h->hdr->bins[bin] ? 0 : set_bit(t, bin, 0);
}

static int insert_free(struct hh_tx *t, uint64_t off, uint64_t size)
{
    struct hr_heap *h = t->h;
    unsigned bin = hh_bin_of(size);
    uint64_t head = h->hdr->bins[bin];
    if (head && !free_ok(h, head))
        return K_EHEAP;
    struct hh_links *l = links(h, off);
    TRY(hh_log(t, l, sizeof *l));
    l->next = head;
    l->prev = 0;
    if (head)
        TRY(set_word(t, &links(h, head)->prev, off));
    TRY(set_hot(t, &h->hdr->bins[bin], off));
    return set_bit(t, bin, 1);
}

/* The free chunk `to` takes the place of the free chunk `from` on list
 * bin.  to's links are saved first if save_to (they are an object's bytes);
 * a chunk carved from free space has nothing to save. */
static int relink(struct hh_tx *t, uint64_t from, uint64_t to, unsigned bin,
                  int save_to)
{
    struct hr_heap *h = t->h;
    struct hh_links l = *links(h, from);
    if ((l.next && !free_ok(h, l.next)) || (l.prev && !free_ok(h, l.prev)) ||
        !links_back(h, from, bin, l.prev, l.next))
        return K_EHEAP;
    if (save_to)
        TRY(hh_log(t, links(h, to), sizeof l));
    *links(h, to) = l;
    if (l.prev)
        TRY(set_word(t, &links(h, l.prev)->next, to));
    else
        TRY(set_hot(t, &h->hdr->bins[bin], to));
    if (l.next)
        TRY(set_word(t, &links(h, l.next)->prev, to));
    return 0;
}

/* The first list at or after bin that is not empty, HH_NBINS if none. */
static unsigned next_bin(const struct hh_hdr *hdr, unsigned bin)
{
    while (bin < HH_NBINS) {
        uint64_t w = hdr->binmap[bin / 64] & (~0ull << (bin % 64));
        if (w)
            return (bin & ~63u) + (unsigned)__builtin_ctzll(w);
        bin = (bin & ~63u) + 64;
    }
    return HH_NBINS;
}

/* A free chunk of at least need bytes, and its list: the head of an exact
 * list; else, among the first HH_FIT_SCAN chunks of the first list that
 * has one that fits, the smallest, and of equal ones the lowest (address-
 * ordered best fit keeps the top of the arena free). */
#define HH_FIT_SCAN 32
static int find_fit(const struct hr_heap *h, uint64_t need, uint64_t *off,
                    unsigned *bin)
{
    unsigned b = hh_bin_of(need);
    for (b = next_bin(h->hdr, b); b < HH_NBINS; b = next_bin(h->hdr, b + 1)) {
        uint64_t best = 0, best_size = UINT64_MAX, at = h->hdr->bins[b];
        /* every chunk of an exact list fits, all alike: its head */
        int scan = b < HH_NSMALL ? 1 : HH_FIT_SCAN;
        for (int n = 0; at && n < scan; n++, at = links(h, at)->next) {
            if (!free_ok(h, at))
                return K_EHEAP;
            uint64_t sz = csize(chunk(h, at));
            if (sz >= need &&
                (sz < best_size || (sz == best_size && at < best)))
                best = at, best_size = sz;
        }
        if (best) {
            *off = best;
            *bin = b;
            return 0;
        }
    }
    return K_ENOMEM;
}

int hh_alloc_fresh(struct hh_tx *t, uint64_t off, uint64_t len)
{
    struct hr_heap *h = t->h;
    if (!h->durable)
        return 0;
    if (t->nnews == t->cap_news) {
        size_t c = t->cap_news ? t->cap_news * 2 : 16;
        struct hh_span *p = realloc(t->news, c * sizeof *p);
        if (!p)
            return t->doomed = K_ENOMEM;
        t->news = p;
        t->cap_news = c;
    }
    t->news[t->nnews++] = (struct hh_span){off, len};
    return 0;
}

/* Put a free chunk carved out of another free chunk's payload.  Its bytes
 * were free when the transaction began (frees wait for the commit), so a
 * rollback has nothing to put back there: they are not logged. */
static int carve(struct hh_tx *t, uint64_t off, uint64_t size)
{
    struct hr_heap *h = t->h;
    TRY(hh_alloc_fresh(t, off, HH_MIN_CHUNK));
    *chunk(h, off) = (struct hh_chunk){size | HH_PREV_USED, 0,
                                       hh_check_word(off)};
    unsigned bin = hh_bin_of(size);
    uint64_t head = h->hdr->bins[bin];
    if (head && !free_ok(h, head))
        return K_EHEAP;
    *links(h, off) = (struct hh_links){head, 0};
    if (head)
        TRY(set_word(t, &links(h, head)->prev, off));
    TRY(set_hot(t, &h->hdr->bins[bin], off));
    return set_bit(t, bin, 1);
}

int hh_alloc(struct hh_tx *t, uint64_t need, uint64_t *out)
{
    struct hr_heap *h = t->h;
    uint64_t off;
    unsigned bin;
    TRY(find_fit(h, need, &off, &bin));
    struct hh_chunk *c = chunk(h, off);
    uint64_t size = csize(c), prevf = c->size & HH_PREV_USED;
    uint64_t next = off + size, rest = size - need;
    /* its header and links: the new object's first bytes overwrite them */
    TRY(hh_log(t, c, HH_MIN_CHUNK));
    if (rest >= HH_MIN_CHUNK && hh_bin_of(rest) == bin) {
        /* the rest stays where the chunk was, on the same list */
        TRY(set_chunk(t, next, chunk(h, next)->size,
                      (uint32_t)(rest / HH_ALIGN)));
        TRY(hh_alloc_fresh(t, off + need, HH_MIN_CHUNK));
        *chunk(h, off + need) = (struct hh_chunk){rest | HH_PREV_USED, 0,
                                                  hh_check_word(off + need)};
        TRY(relink(t, off, off + need, bin, 0));
        size = need;
    } else if (rest >= HH_MIN_CHUNK) {
        TRY(unlink_free(t, off, bin));
        TRY(set_chunk(t, next, chunk(h, next)->size,
                      (uint32_t)(rest / HH_ALIGN)));
        TRY(carve(t, off + need, rest));
        size = need;
    } else {
        TRY(unlink_free(t, off, bin));
        TRY(set_chunk(t, next, chunk(h, next)->size | HH_PREV_USED, 0));
    }
    c->size = size | HH_USED | prevf;
    TRY(hh_alloc_fresh(t, off, size));
    *out = off;
    return 0;
}

int hh_free(struct hh_tx *t, uint64_t off, int reused)
{
    struct hr_heap *h = t->h;
    struct hh_chunk *c = chunk(h, off);
    uint64_t size = csize(c), start = off, total = size;
    uint64_t flags = c->size & HH_PREV_USED;
    uint32_t prev16 = c->prev16;
    uint64_t kept = 0; /* a free neighbour whose list place the merge takes */
    uint64_t end = h->hdr->arena_off + h->hdr->arena_size - sizeof(struct hh_chunk);
    /* checked again here, at commit: hr_heap_free checked the object, but
     * a stray store since (its own, past an object's end) may have changed
     * its header; a size out of bounds would be followed out of the arena */
    if (!(c->size & HH_USED) || c->check != hh_check_word(off) ||
        size < HH_MIN_CHUNK || off >= end || size > end - off)
        return K_EHEAP;
    if (!(c->size & HH_PREV_USED)) {
        uint64_t p = off - (uint64_t)c->prev16 * HH_ALIGN;
        struct hh_chunk *pc = chunk(h, p);
        if (p < h->hdr->arena_off || p >= off || off - p < HH_MIN_CHUNK ||
            pc->check != hh_check_word(p) || (pc->size & HH_USED) ||
            csize(pc) != off - p)
            return K_EHEAP;
        TRY(set_chunk(t, off, size, c->prev16)); /* stale: reads as free */
        kept = start = p;
        total += off - p;
        flags = pc->size & HH_PREV_USED;
        prev16 = pc->prev16;
    }
    struct hh_chunk *nc = chunk(h, off + size);
    if (nc->check != hh_check_word(off + size))
        return K_EHEAP;
    uint64_t n = (nc->size & HH_USED) ? 0 : off + size;
    if (n && !free_ok(h, n))
        return K_EHEAP;
    /* n's header and links become bytes inside the merged chunk, which
     * nothing else saves: if this transaction may hand the space out again
     * (a drain of its cache before an allocation), the object's writes
     * would leave a rollback without them */
    if (n && reused)
        TRY(hh_log(t, nc, HH_MIN_CHUNK));
    total += n ? csize(nc) : 0;
    unsigned bin = hh_bin_of(total);
    if (kept && hh_bin_of(off - kept) != bin) {
        TRY(unlink_free(t, kept, hh_bin_of(off - kept)));
        kept = 0;
    }
    if (n && !kept && hh_bin_of(csize(nc)) == bin) {
        TRY(relink(t, n, start, bin, 1)); /* start takes n's place */
        kept = start;
    } else if (n) {
        TRY(unlink_free(t, n, hh_bin_of(csize(nc))));
    }
    uint64_t after = start + total;
    if (chunk(h, after)->check != hh_check_word(after))
        return K_EHEAP; /* never re-stamp a damaged header as sound */
    TRY(set_chunk(t, start, total | flags, prev16));
    TRY(set_chunk(t, after, chunk(h, after)->size & ~HH_PREV_USED,
                  (uint32_t)(total / HH_ALIGN)));
    return kept ? 0 : insert_free(t, start, total);
}

int hh_object(const struct hr_heap *h, uint64_t payload, uint64_t *csz)
{
    const struct hh_hdr *hdr = h->hdr;
    uint64_t end = hdr->arena_off + hdr->arena_size - sizeof(struct hh_chunk);
    if (payload % HH_ALIGN || payload < hdr->arena_off + HH_ALIGN ||
        payload >= end)
        return K_EINVAL;
    uint64_t off = payload - sizeof(struct hh_chunk);
    const struct hh_chunk *c = chunk(h, off);
    uint64_t size = csize(c);
    if (c->check != hh_check_word(off) || !(c->size & HH_USED) ||
        size < HH_MIN_CHUNK || size > end - off ||
        hh_cached_by(h->base, off, size, h->nlanes) >= 0) /* no object */
        return K_EINVAL;
    const struct hh_chunk *n = chunk(h, off + size);
    if (n->check != hh_check_word(off + size) || !(n->size & HH_PREV_USED))
        return K_EINVAL;
    if (csz)
        *csz = size;
    return 0;
}

/* A new arena: one free chunk and the sentinel.  Not logged: the heap is
 * not yet a heap (format, heap.c). */
void hh_arena_format(struct hh_hdr *hdr)
{
    uint8_t *base = (uint8_t *)hdr;
    uint64_t off = hdr->arena_off, size = hdr->arena_size - HH_ALIGN;
    struct hh_chunk *c = (struct hh_chunk *)(base + off);
    struct hh_chunk *s = (struct hh_chunk *)(base + off + size);
    *c = (struct hh_chunk){size | HH_PREV_USED, 0, hh_check_word(off)};
    *s = (struct hh_chunk){HH_USED, (uint32_t)(size / HH_ALIGN),
                           hh_check_word(off + size)};
    struct hh_links *l = (struct hh_links *)(c + 1);
    l->next = l->prev = 0;
    unsigned bin = hh_bin_of(size);
    hdr->bins[bin] = off;
    hdr->binmap[bin / 64] |= 1ull << (bin % 64);
}
