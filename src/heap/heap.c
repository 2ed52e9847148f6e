/* SPDX-License-Identifier: MIT */
/*
 * heap.c - the public calls of a transaction, each checking its caller.
 *
 * A transaction belongs to the thread that began it, in the lane it took
 * (lane.c): every call inside one finds this thread's transaction on this
 * handle (hh_my_tx) before it touches the heap, and once a change could not
 * be saved in the log or a lock word not taken (doomed) the transaction
 * can only end in a rollback.  Before a range changes, the lock words of
 * its granules are taken (held to the end) and its old bytes logged; an
 * allocation or free that the lane's cache does not serve (cache.c) takes
 * the allocator's lock word.  Frees are queued and applied at commit
 * (alloc.c says why).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cache.h"
#include "check.h"
#include "crash.h"
#include "lane.h"
#include "log.h"

int hr_heap_root(hr_heap *h, void **root)
{
    if (!h || !root)
        return K_EFAULT;
    uint64_t off = __atomic_load_n(&h->hdr->root, __ATOMIC_ACQUIRE);
    *root = off ? h->base + off : NULL;
    struct hh_tx *t = hh_my_tx(h);
    if (t) { /* what hr_heap_set_root checks the root against */
        t->root_seen = off;
        t->root_stamp = t->tx_stamp;
    }
    return 0;
}

/* The offset of p in the heap, or UINT64_MAX if p lies outside it. */
static uint64_t offset_of(const hr_heap *h, const void *p)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)h->base;
    return a >= b && a - b < h->size ? (uint64_t)(a - b) : UINT64_MAX;
}

/* The checks every call inside a transaction starts with: this thread's
 * transaction on h to *out, or the code that refuses the call. */
static int tx_ok(hr_heap *h, struct hh_tx **out)
{
    if (!h)
        return K_EFAULT;
    struct hh_tx *t = hh_my_tx(h);
    if (!t)
        return K_ETX;
    *out = t;
    return t->doomed;
}

/* Store v into a hot word of the header (format.h) in transaction t: its
 * lock taken, its old value logged first. */
static int set_hot(struct hh_tx *t, uint64_t *word, uint64_t v)
{
    uint64_t at = (uint64_t)((uint8_t *)word - t->h->base);
    int r = hh_lock_range(t, at, 8);
    if (r < 0 || (r = hh_log_hot(t, word)) < 0)
        return r;
    __atomic_store_n(word, v, __ATOMIC_RELEASE);
    return 0;
}

/* Do [off, off+len) and an object this transaction has freed (queued to
 * its commit) share a byte?  Such an object is no object for the calls
 * that follow: its bytes are free space once the transaction commits. */
static int freed_here(const struct hh_tx *t, uint64_t off, uint64_t len)
{
    for (size_t i = 0; i < t->nfrees; i++) {
        uint64_t c = t->frees[i] & ~1ull;
        const struct hh_chunk *ch = (const struct hh_chunk *)(t->h->base + c);
        uint64_t lo = c + sizeof *ch, hi = c + (ch->size & ~HH_FLAGS);
        if (off < hi && lo < off + len)
            return 1;
    }
    return 0;
}

int hr_heap_set_root(hr_heap *h, void *root)
{
    struct hh_tx *t;
    int r = tx_ok(h, &t);
    if (r < 0)
        return r;
    uint64_t off = root ? offset_of(h, root) : 0;
    if (root && (off == UINT64_MAX || hh_object(h, off, NULL) < 0 ||
                 freed_here(t, off, 1)))
        return K_EINVAL;
    /* A root this transaction read unlocked and another has changed since
     * (two openers both finding none and making one): the later would
     * lose the earlier's root and all it holds.  Refused as a lock lost:
     * abort and begin again, to find the new root. */
    uint64_t *word = &h->hdr->root;
    if (t->root_stamp == t->tx_stamp &&
        ((r = hh_lock_range(t, offsetof(struct hh_hdr, root), 8)) < 0 ||
         __atomic_load_n(word, __ATOMIC_ACQUIRE) != t->root_seen))
        return r < 0 ? r : (t->doomed = K_EBUSY);
    if ((r = set_hot(t, word, off)) == 0)
        t->root_seen = off;
    return r;
}

/* The root's format version word (format.h), beside the root. */
int hr_heap_root_version(hr_heap *h, uint64_t *version)
{
    if (!h || !version)
        return K_EFAULT;
    *version = __atomic_load_n(&h->hdr->root_version, __ATOMIC_ACQUIRE);
    return 0;
}

int hr_heap_set_root_version(hr_heap *h, uint64_t version)
{
    struct hh_tx *t;
    int r = tx_ok(h, &t);
    return r < 0 ? r : set_hot(t, &h->hdr->root_version, version);
}

/* The root and its version, refused when the version is newer than the
 * caller knows.  Inside a transaction both words are locked first (held to
 * its end), so that the decision to migrate cannot race another migrator;
 * outside one they are read as they stand, and nothing is written. */
int hr_heap_root_versioned(hr_heap *h, uint64_t newest, void **root,
                           uint64_t *version)
{
    if (!h || !root || !version)
        return K_EFAULT;
    struct hh_tx *t = hh_my_tx(h);
    int r;
    *root = NULL;
    *version = 0;
    if (t && ((r = t->doomed) < 0 ||
              (r = hh_lock_range(t, offsetof(struct hh_hdr, root_version),
                                 16)) < 0))
        return r;
    *version = __atomic_load_n(&h->hdr->root_version, __ATOMIC_ACQUIRE);
    uint64_t off = __atomic_load_n(&h->hdr->root, __ATOMIC_ACQUIRE);
    *root = off ? h->base + off : NULL;
    return *version > newest ? K_ENEWER : 0;
}

int hr_heap_begin(hr_heap *h)
{
    if (!h)
        return K_EFAULT;
    hh_lane_verify(h);
    if (hh_in_heap(h))
        return K_ETX; /* nested, or one open through another handle */
    if (__atomic_load_n(&h->hdr->damaged, __ATOMIC_RELAXED))
        return K_EHEAP;
    struct hh_tx *t;
    return hh_lane_take(h, &t);
}

/* Apply the queued frees (logged like every change), then the log's
 * commit (log.c).  Any failure rolls the whole transaction back. */
static int commit(struct hh_tx *t)
{
    int r = t->doomed;
    uint64_t seq = t->lane->tx_seq;
    size_t n = t->nfrees; /* the commit forgets them */
    for (size_t i = 0; r == 0 && i < n; i++)
        r = t->frees[i] & 1 ? hh_cache_free(t, t->frees[i] & ~1ull)
                            : hh_free(t, t->frees[i], 0);
    if (r == 0) {
        hh_crash("heap.commit-frees");
        r = hh_log_commit(t);
    }
    if (r == 0) {
        hh_cache_committed(t, seq, t->frees, n);
    } else {
        t->doomed = 0;
        hh_rollback(t);
        hh_cache_rolled_back(t, seq);
    }
    return r;
}

int hr_heap_commit(hr_heap *h)
{
    if (!h)
        return K_EFAULT;
    /* no hh_lane_verify: 3-5 ns a transaction; a _Fork() child's first
     * heap call is begin, abort or close (hr_heap_begin(3)) */
    struct hh_tx *t = hh_my_tx(h);
    if (!t)
        return K_ETX;
    int r = commit(t);
    hh_lane_give(t);
    return r;
}

int hr_heap_abort(hr_heap *h)
{
    if (!h)
        return K_EFAULT;
    hh_lane_verify(h);
    struct hh_tx *t = hh_my_tx(h);
    if (!t)
        return K_ETX;
    uint64_t seq = t->lane->tx_seq;
    int r = hh_rollback(t);
    hh_cache_rolled_back(t, seq);
    hh_tx_reset(t);
    hh_lane_give(t);
    return r;
}

int hr_heap_add(hr_heap *h, void *p, size_t len)
{
    struct hh_tx *t;
    int r = tx_ok(h, &t);
    if (r < 0)
        return r;
    uint64_t off = offset_of(h, p), lo = h->hdr->arena_off;
    uint64_t hi = lo + h->hdr->arena_size - sizeof(struct hh_chunk);
    if (!len || off == UINT64_MAX || off < lo || off >= hi || len > hi - off ||
        freed_here(t, off, len))
        return K_EINVAL;
    if ((r = hh_lock_range(t, off, len)) < 0)
        return r;
    return hh_log(t, p, len);
}

int hr_heap_set64(hr_heap *h, uint64_t *p, uint64_t v)
{
    if ((uintptr_t)p % 8)
        return K_EINVAL;
    int r = hr_heap_add(h, p, sizeof *p);
    if (r == 0)
        __atomic_store_n(p, v, __ATOMIC_RELAXED);
    return r;
}

int hr_heap_write(hr_heap *h, void *dst, const void *src, size_t len)
{
    if (!src && len)
        return K_EFAULT;
    int r = hr_heap_add(h, dst, len);
    if (r == 0)
        hh_copy(dst, src, len);
    return r;
}

int hr_heap_lock(hr_heap *h, const void *p)
{
    struct hh_tx *t;
    int r = tx_ok(h, &t);
    if (r < 0)
        return r;
    uint64_t off = offset_of(h, p), cs;
    if (off == UINT64_MAX || hh_object(h, off, &cs) < 0 || freed_here(t, off, 1))
        return K_EINVAL;
    if ((r = hh_lock_range(t, off, cs - sizeof(struct hh_chunk))) < 0)
        return r;
    /* freed by the transaction that held it before: no object now */
    return hh_object(h, off, NULL);
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return K_ENOMEM;
    *arr = p;
    *cap = c;
    return 0;
}

int hr_heap_alloc(hr_heap *h, size_t size, unsigned flags, void **out)
{
    struct hh_tx *t;
    int r = tx_ok(h, &t);
    if (r < 0)
        return r;
    if (!out)
        return K_EFAULT;
    if (!size || (flags & ~HR_HEAP_ZERO))
        return K_EINVAL;
    if (size > h->hdr->arena_size)
        return K_ENOMEM;
    uint64_t need = (size + sizeof(struct hh_chunk) + HH_ALIGN - 1) &
                    ~(uint64_t)(HH_ALIGN - 1);
    uint64_t off;
    if ((r = hh_cache_alloc(t, need, &off)) == 0 &&
        (r = hh_lock_alloc(t)) == 0 &&
        (r = hh_alloc(t, need, &off)) == K_ENOMEM && !t->doomed &&
        (r = hh_cache_drain(t)) == 0) /* the lane's cache, merged back */
        r = hh_alloc(t, need, &off);
    if (r < 0) {
        if (r == K_EHEAP)
            t->doomed = r;
        return r;
    }
    uint8_t *p = h->base + off + sizeof(struct hh_chunk);
    uint64_t n = (((struct hh_chunk *)(h->base + off))->size & ~HH_FLAGS) -
                 sizeof(struct hh_chunk);
    if (flags & HR_HEAP_ZERO)
        memset(p, 0, n);
    *out = p;
    return 0;
}

int hr_heap_free(hr_heap *h, void *p)
{
    struct hh_tx *t;
    int r = tx_ok(h, &t);
    if (r < 0 || !p)
        return r;
    uint64_t off = offset_of(h, p), cs;
    if (off == UINT64_MAX || hh_object(h, off, &cs) < 0)
        return K_EINVAL;
    /* no other transaction may be changing it when its bytes become free
     * space (a rollback of that one would then write over the lists) */
    if (!hh_cache_took(t, off - sizeof(struct hh_chunk)) &&
        ((r = hh_guard_free(t, off, cs - sizeof(struct hh_chunk))) < 0 ||
         (r = hh_object(h, off, NULL)) < 0)) /* freed by the lock's holder */
        return r;
    if (freed_here(t, off, 1)) /* freed twice */
        return K_EINVAL;
    off -= sizeof(struct hh_chunk);
    if (grow((void **)&t->frees, &t->cap_frees, t->nfrees, sizeof *t->frees))
        return K_ENOMEM;
    /* a small chunk goes to the lane's cache; others to the shared lists,
     * under the allocator's lock */
    uint64_t to_cache = (uint64_t)hh_cache_takes(t, cs);
    if (!to_cache && (r = hh_lock_alloc(t)) < 0)
        return r;
    /* a full cache is merged back whole, then takes the chunk: a cached
     * chunk never merges with its free neighbours, and one kept for ever
     * (the bottom of a list whose size is seldom asked for) fences free
     * space apart.  Only with room in the log for it: else the chunk goes
     * to the shared lists, as the free would have without the drain */
    if (!to_cache && cs <= HH_CACHE_MAX && hh_cache_drain_room(t)) {
        if ((r = hh_cache_drain(t)) < 0) {
            if (r == K_EHEAP)
                t->doomed = r;
            return r;
        }
        to_cache = (uint64_t)hh_cache_takes(t, cs);
    }
    t->frees[t->nfrees++] = off | to_cache;
    return 0;
}

int hr_heap_usable(hr_heap *h, const void *p, size_t *size)
{
    if (!h || !p || !size)
        return K_EFAULT;
    uint64_t off = offset_of(h, p), cs;
    if (off == UINT64_MAX || hh_object(h, off, &cs) < 0)
        return K_EINVAL;
    *size = cs - sizeof(struct hh_chunk);
    return 0;
}

/* Check (or count) in this thread's transaction or in one begun for it
 * (check.c). */
static int locked_check(hr_heap *h, void (*fn)(const char *, void *),
                        void *arg, hr_heap_info *info)
{
    if (!h)
        return K_EFAULT;
    struct hh_tx *t = hh_my_tx(h);
    int own = !t, r;
    if (own && (r = hh_lane_take_first(h, &t)) < 0)
        return r;
    r = hh_check(h, t, own, fn, arg, info);
    if (own)
        hr_heap_abort(h);
    return r;
}

int hr_heap_check(hr_heap *h, void (*fn)(const char *, void *), void *arg)
{
    return locked_check(h, fn, arg, NULL);
}

int hr_heap_stat(hr_heap *h, hr_heap_info *out)
{
    if (!out)
        return K_EFAULT;
    return locked_check(h, NULL, NULL, out);
}

int hr_heap_lanes(hr_heap *h, hr_heap_lane *out, unsigned n)
{
    if (!h || (!out && n))
        return K_EFAULT;
    char msg[200];
    for (unsigned i = 0; i < n && i < h->nlanes; i++) {
        struct hh_lane *l = hh_lane_at(h, i);
        memset(&out[i], 0, sizeof out[i]);
        int r = hh_lane_inspect(h, i, &out[i].log_used, msg, sizeof msg);
        out[i].state = r == 1 ? HR_HEAP_LANE_BUSY
                     : r == 0 ? HR_HEAP_LANE_FREE : HR_HEAP_LANE_DAMAGED;
        out[i].log_size = h->hdr->lane_size - HH_LANE_HDR;
        out[i].transactions = __atomic_load_n(&l->tx_seq, __ATOMIC_RELAXED) - 1;
    }
    return (int)h->nlanes;
}
