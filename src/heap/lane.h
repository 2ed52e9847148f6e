/* SPDX-License-Identifier: MIT */
/*
 * lane.h - lanes and lock words: which transaction runs where, and who may
 * change what (lane.c says why it is enough).
 */
#ifndef HR_HEAP_LANE_H
#define HR_HEAP_LANE_H

#include "view.h"

/* This thread's token: never 0, never reused in the process. */
uint64_t hh_token(void);

/* The transactions this thread runs, on as many heaps (hidden TLS: the
 * calls find their own without touching memory other threads write). */
#define HH_MINE 8
struct hh_mine {
    struct hr_heap *h;
    struct hh_tx *t;
};
__attribute__((visibility("hidden"))) extern __thread struct hh_mine
    hh_mine[HH_MINE];
__attribute__((visibility("hidden"))) extern __thread unsigned hh_nmine;
__attribute__((visibility("hidden"))) extern __thread uint64_t hh_me;

/* The transaction this thread runs through h, or NULL. */
static inline struct hh_tx *hh_my_tx(struct hr_heap *h)
{
    for (unsigned i = 0; i < hh_nmine; i++)
        if (hh_mine[i].h == h)
            return hh_mine[i].t;
    return NULL;
}

/* Does this thread run a transaction in h's heap, through h or another
 * handle of it (the same block, mapped at one address per process)?  A
 * second would wait on the first's lock words for ever: refused. */
static inline int hh_in_heap(struct hr_heap *h)
{
    for (unsigned i = 0; i < hh_nmine; i++)
        if (hh_mine[i].h->hdr == h->hdr)
            return 1;
    return 0;
}

/* Check this thread's TLS against h's presence file: in a child made by
 * _Fork() it names its parent thread's presence and transactions, none of
 * them the child's: forget them all (as fork's handler does).  Run before
 * a call acts on "this thread's" transaction or lanes: begin, abort,
 * close, an opener's or checker's rescue (not on the update path: a
 * _Fork() child's first heap call must be one of those). */
void hh_lane_verify(struct hr_heap *h);

/* Forget h's entries (its handle is closed). */
void hh_forget(struct hr_heap *h);

/* Point slot i of h at its lane (open). */
void hh_slot_init(struct hr_heap *h, unsigned i);
/* Take a free lane for a transaction of this thread, waiting when none is
 * free; a lane whose owner died is rolled back first, a damaged one
 * passed over.  0 and *out, K_ETX if this thread holds the lane it waits
 * for or runs HH_MINE transactions already, K_EHEAP, or -errno. */
int hh_lane_take(struct hr_heap *h, struct hh_tx **out);
/* A lane for a check (check.c), which then holds every other lane in
 * index order: the first lane in index order that is not damaged, waited
 * for.  So checks take lanes in one order and never wait for each other,
 * and no other transaction waits for a lane of the heap while it holds
 * one. */
int hh_lane_take_first(struct hr_heap *h, struct hh_tx **out);
/* Give t's lane back (its log is empty). */
void hh_lane_give(struct hh_tx *t);
/* Roll back every lane whose owner is dead.  0, or K_EHEAP if a lane's
 * log is damaged (left as it is). */
int hh_lanes_settle(struct hr_heap *h);
/* Hold lane i (rolled back first if its owner died), waiting for it if
 * wait: 0 held (give it back with hh_lane_release), 1 in use, 2 this
 * thread holds it already, K_EHEAP damaged, or -errno. */
int hh_lane_hold(struct hr_heap *h, unsigned i, int wait);
void hh_lane_release(struct hr_heap *h, unsigned i);
/* Look at lane i for the checker, rolling it back if its owner is dead:
 * 0 free, 1 in use by a live transaction (mine's or another's), K_EHEAP
 * damaged (why in msg).  *bytes: bytes of its log in use, 8 per chunk
 * taken from its cache (recorded in taken[], not as entries). */
int hh_lane_inspect(struct hr_heap *h, unsigned i, uint64_t *bytes,
                    char *msg, size_t len);

int hh_lock_slow(struct hh_tx *t, uint64_t *w);

/* Take the lock word w for t, held until t ends.  0; K_EBUSY if waiting
 * might deadlock (t is doomed: abort and retry); K_EHEAP if its holder's
 * log is damaged. */
static inline int hh_lock(struct hh_tx *t, uint64_t *w)
{
    if (__atomic_load_n(w, __ATOMIC_ACQUIRE) == t->lockval)
        return 0;
    return hh_lock_slow(t, w);
}

/* The lock words of the granules under [off, off+len) (format.h). */
static inline int hh_lock_range(struct hh_tx *t, uint64_t off, uint64_t len)
{
    uint64_t *locks = (uint64_t *)(t->h->base + t->h->hdr->locks_off);
    uint64_t n = t->h->hdr->nlocks;
    for (uint64_t g = off / HH_GRANULE; g <= (off + len - 1) / HH_GRANULE;
         g++) {
        int r = hh_lock(t, &locks[hh_lock_index(g, n)]);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Does another transaction hold lock word w (one that has not ended)?
 * A read only. */
static inline int hh_lock_held(const struct hh_tx *t, const uint64_t *w)
{
    uint64_t cur = __atomic_load_n(w, __ATOMIC_ACQUIRE);
    if (!cur || cur == t->lockval)
        return 0;
    unsigned i = (unsigned)(cur >> 56) - 1;
    return i < t->h->nlanes &&
           (__atomic_load_n(&hh_lane_at(t->h, i)->tx_seq, __ATOMIC_ACQUIRE) &
            HH_SEQ_MASK) == (cur & HH_SEQ_MASK);
}

/* Before a free of the object at [off, off+len): its first granule (the
 * bytes the free itself writes: the cache's tag, the free lists' links)
 * is taken and held to t's end; every other granule only has to be free
 * of other transactions now, so it is read, and taken (waiting for its
 * holder's end, or rolling a dead holder back) only if another holds it.
 * A transaction that takes one of those granules later would be writing
 * an object being freed, which no lock makes right (after the commit it
 * would write into free space just the same); reading instead of taking
 * saves a locked instruction per 64 bytes (66 for a 4 KiB object). */
static inline int hh_guard_free(struct hh_tx *t, uint64_t off, uint64_t len)
{
    uint64_t *locks = (uint64_t *)(t->h->base + t->h->hdr->locks_off);
    uint64_t n = t->h->hdr->nlocks, g = off / HH_GRANULE;
    int r = hh_lock(t, &locks[hh_lock_index(g, n)]);
    for (g++; r == 0 && g <= (off + len - 1) / HH_GRANULE; g++) {
        uint64_t *w = &locks[hh_lock_index(g, n)];
        if (hh_lock_held(t, w))
            r = hh_lock(t, w);
    }
    return r;
}

/* The allocator's lock (an alloc or free of a transaction that its lane's
 * cache does not serve, a cache's rebuild). */
static inline int hh_lock_alloc(struct hh_tx *t)
{
    if (t->alloc_locked)
        return 0;
    int r = hh_lock(t, &t->h->hdr->alloc_lock);
    t->alloc_locked = r == 0;
    return r;
}

#endif
