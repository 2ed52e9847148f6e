/* SPDX-License-Identifier: MIT */
/*
 * item.h - the layout of hrcached's store in its persistent heap, private
 * to the store's files (store.c: the items' operations; table.c: the hash
 * chains, the LRU list, transactions, opening, verification).
 *
 * Layout in the heap (plain pointers: the heap's block keeps its address):
 *
 *   root ──> struct mc_root: limits, counters, LRU ends, flush marks
 *            buckets ──> array of nbuckets chain heads (one heap object)
 *            old_buckets ──> the table a growth is emptying, or NULL
 *   item:    struct mc_item header, then the key, then the value
 *
 * Every store into the root, the buckets or an existing item goes through
 * set64/setp, which add the word to the heap's undo log first.  The
 * invariants are store.c's opening comment's.
 */
#ifndef MC_ITEM_H
#define MC_ITEM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <hotrestart/errors.h>
#include <hotrestart/heap.h>

#include "store.h"

#define MC_MAGIC 0x3144454843414352ull /* "RCACHED1" */
#define MC_BUMP_S 60        /* a read renews an item's time once a minute */
#define MC_EVICT_MOVES 256  /* active items one eviction may move to the head */
#define MC_REALTIME_MAX (60 * 60 * 24 * 30)
#define MC_EVICT_BATCH 64   /* items freed by one eviction transaction */
#define MC_LOG_PER_MOVE 320 /* undo log bytes one spared item may take */
#define MC_LOG_PER_FREE 640 /* ... and one freed item */
#define MC_PREFETCH_CHAIN 4 /* items of a chain a prefetch walks */

struct mc_item {
    struct mc_item *hnext;  /* next on the hash chain */
    struct mc_item *prev;   /* LRU: the more recent neighbour, NULL at head */
    struct mc_item *next;   /* LRU: the older neighbour, NULL at tail */
    uint64_t cas;
    int64_t exptime;        /* absolute unix seconds, 0 never */
    int64_t time;           /* last store or LRU bump, unix seconds */
    uint64_t hash;
    uint32_t flags;         /* the client's opaque flags */
    uint32_t nbytes;        /* value bytes */
    uint32_t nkey;          /* key bytes (1..MC_KEY_MAX) */
    uint32_t bits;          /* MC_IT_* (0 in stores made before them) */
    char data[];            /* key, then value */
};
_Static_assert(sizeof(struct mc_item) == 72, "item header");

#define MC_IT_ACTIVE 1u     /* read since stored or last spared by eviction */
#define MC_IT_STALE 2u      /* marked stale (md I, ms I): a recache is due */
#define MC_IT_TOKEN 4u      /* a recache token was given (mg's W) */
#define MC_IT_BINKEY 8u     /* stored by ms with b: mg answers k in base64 */
#define MC_IT_BITS 15u

struct mc_root {
    uint64_t magic;         /* MC_MAGIC, written last at creation */
    uint32_t version;       /* MC_STATE_VERSION: a program refuses a
                             * store of a newer one (store.h) */
    uint32_t item_hdr;      /* sizeof(struct mc_item) */
    uint64_t mem_limit;     /* -m at creation, bytes */
    uint64_t nbuckets;      /* power of two */
    struct mc_item **buckets;
    struct mc_item *head, *tail;
    uint64_t cas_next;      /* next cas to give */
    uint64_t items;         /* items linked */
    uint64_t bytes;         /* their heap sizes */
    int64_t oldest_live;    /* flush: items stored or bumped up to this second
                             * are dead once it has come */
    uint64_t oldest_cas;    /* flush now: items with cas up to this are dead */
    uint64_t starts;        /* servers started on this store (0 in stores
                             * made before the count) */
    /* A growth of the table (version 2; zero in a version 1 store, whose
     * table was made whole): while old_buckets is set, old chains below
     * `moved` are empty, those past it whole, and the one at it is being
     * moved item by item into buckets (grow.c). */
    struct mc_item **old_buckets;
    uint64_t old_nbuckets;  /* power of two, half of nbuckets */
    uint64_t moved;         /* the old chain being moved */
    uint64_t reserved[2];
};
_Static_assert(sizeof(struct mc_root) == 144, "root: as in version 1");


/* What every handle of one store shares (one per process).  lock
 * serialises the store's transactions: a writer holds it from
 * mc_tab_begin to mc_tab_end; a get that changes nothing holds it shared
 * and runs no transaction (table.c). */
struct mc_share {
    pthread_rwlock_t lock;
    /* one eviction's most items spared and freed: MC_EVICT_MOVES and
     * MC_EVICT_BATCH, fewer when its transaction would not fit a lane's
     * undo log (a small heap) */
    unsigned evict_moves, evict_batch;
    /* the table's most buckets (one per 256 B of -m), and the item count
     * below which no growth is tried again after one found no room */
    uint64_t max_buckets, grow_retry;
    uint64_t heap_size;     /* bytes of the heap's block (pmm_stat at open) */
    uintptr_t heap_lo;      /* its address: a lockless prefetch loads only
                             * through pointers inside it (table.c) */
    /* the table as a lockless prefetch reads it: a copy of the root's
     * buckets and nbuckets - 1, changed by a writer after its transaction
     * ended, under the store's lock, between two steps of pf_seq (odd
     * while changing): the root's own words may be mid-change or being
     * rolled back, and a wrong pair would read outside the table */
    _Alignas(64) uint64_t pf_seq;   /* a line of its own: the lock's line
                                     * moves between the workers' cores */
    struct mc_item **pf_buckets;
    uint64_t pf_mask;
};

/* A handle: one per worker thread, so that its counters and its call's
 * time are its own. */
struct mc_store {
    hr_heap *heap;          /* shared by the handles */
    struct mc_root *root;
    struct mc_share *share;
    int owner;              /* the handle mc_store_open gave: its close
                             * closes the heap */
    struct mc_config cfg;
    struct mc_counters n;
    int64_t now;            /* time of the running call */
    int root_logged;        /* the root's hot words are in the running
                             * transaction's log (set64) */
};

/* The root's words most stores change (head, tail, cas_next, items,
 * bytes): added to the log once per transaction, in one record. */
#define MC_ROOT_HOT_LEN                                                        \
    (offsetof(struct mc_root, oldest_live) - offsetof(struct mc_root, head))
_Static_assert(offsetof(struct mc_root, bytes) + 8 ==
               offsetof(struct mc_root, oldest_live), "root: hot words");

#define MC_TRY(x)                                                              \
    do {                                                                       \
        int r_ = (x);                                                          \
        if (r_ < 0)                                                            \
            return r_;                                                         \
    } while (0)

static inline int set64(mc_store *st, void *p, uint64_t v)
{
    char *hot = (char *)&st->root->head;
    if ((char *)p >= hot && (char *)p < hot + MC_ROOT_HOT_LEN) {
        if (!st->root_logged) {
            MC_TRY(hr_heap_add(st->heap, hot, MC_ROOT_HOT_LEN));
            st->root_logged = 1;
        }
        *(uint64_t *)p = v;     /* its old bytes are in the log */
        return 0;
    }
    return hr_heap_set64(st->heap, (uint64_t *)p, v);
}

static inline int setp(mc_store *st, void *slot, const void *v)
{
    return set64(st, slot, (uint64_t)(uintptr_t)v);
}

static inline uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static inline char *item_value(struct mc_item *it)
{
    return it->data + it->nkey;
}

static inline size_t item_size(size_t nkey, size_t nbytes)
{
    return sizeof(struct mc_item) + nkey + nbytes;
}

static inline uint64_t heap_bytes(mc_store *st, const struct mc_item *it)
{
    size_t n = 0;
    hr_heap_usable(st->heap, it, &n);
    return n;
}

static inline int64_t wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

/* The chain where an item of hash hv is linked (grow.c's invariant): in
 * the old table while a growth has not come to its old chain, else in
 * the new one. */
static inline struct mc_item **bucket_of(const mc_store *st, uint64_t hv)
{
    const struct mc_root *r = st->root;
    if (r->old_buckets) {
        uint64_t i = hv & (r->old_nbuckets - 1);
        if (i > r->moved)
            return &r->old_buckets[i];
    }
    return &r->buckets[hv & (r->nbuckets - 1)];
}

/* The other chain an item of hv may be on: the old chain a growth is
 * moving, item by item, when it is hv's; else NULL. */
static inline struct mc_item **bucket_rest(const mc_store *st, uint64_t hv)
{
    const struct mc_root *r = st->root;
    if (r->old_buckets && (hv & (r->old_nbuckets - 1)) == r->moved)
        return &r->old_buckets[r->moved];
    return NULL;
}

enum { LIVE, EXPIRED, FLUSHED };

static inline int item_state(const mc_store *st, const struct mc_item *it)
{
    const struct mc_root *r = st->root;
    if (it->cas <= r->oldest_cas)
        return FLUSHED;
    if (r->oldest_live && r->oldest_live <= st->now &&
        it->time <= r->oldest_live)
        return FLUSHED;
    if (it->exptime && it->exptime <= st->now)
        return EXPIRED;
    return LIVE;
}

#endif
