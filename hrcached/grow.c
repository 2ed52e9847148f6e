/* SPDX-License-Identifier: MIT */
/*
 * grow.c - the store's hash table grows with its items (format version 2):
 * a new store starts with MC_TABLE_START buckets, and once the items pass
 * 1.5 per bucket the table doubles, up to one bucket per 256 B of -m (what
 * a version 1 store was made with at once, a table most of whose buckets
 * a cache of large items never used: every lookup a cache and TLB miss).
 *
 * A growth is incremental, as memcached's expansion, but in the writers'
 * transactions instead of a thread of its own: the transaction that
 * starts it makes the new table (zero-filled: a new object, not logged)
 * and keeps the old one in root->old_buckets; then every transaction that
 * links an item moves MC_GROW_MOVES more items into the new table, from
 * the old chains in order.
 *
 * Invariant (bucket_of and bucket_rest, item.h; mc_store_verify checks
 * it): while old_buckets is set, old chains below root->moved are empty,
 * an item whose old chain is past moved is on it, and every other item on
 * its chain in root->buckets, except that items of the old chain at moved
 * may still be on it (a lookup of theirs reads both chains; a new item
 * goes to the new table).  Each move changes only logged words (an item's
 * hnext, chain heads, moved) in the running transaction, so a kill at any
 * instruction leaves the table as the last commit left it, and a get
 * under the shared lock sees no move half made.  The last move frees the
 * old table in the same transaction that clears old_buckets.
 */
#define _GNU_SOURCE
#include <hotrestart/errors.h>
#include <hotrestart/heap.h>

#include "grow.h"
#include "item.h"

uint64_t mc_grow_max_buckets(uint64_t mem_limit)
{
    uint64_t n = MC_TABLE_START;
    while (n < mem_limit / 256)
        n <<= 1;
    return n;
}

uint64_t mc_grow_first_buckets(uint64_t mem_limit)
{
    uint64_t max = mc_grow_max_buckets(mem_limit);
    return max < MC_TABLE_START ? max : MC_TABLE_START;
}

/* Up to MC_GROW_MOVES items moved from the old chains to the new table,
 * looking at MC_GROW_CHAINS old chains at most: a step's log is bounded
 * whatever a chain's length.  The last move ends the growth. */
static int step(mc_store *st)
{
    struct mc_root *r = st->root;
    uint64_t i = r->moved, chains = 0;
    for (unsigned n = 0; n < MC_GROW_MOVES && i < r->old_nbuckets;) {
        struct mc_item *it = r->old_buckets[i];
        if (!it) {
            if (++chains == MC_GROW_CHAINS)
                break;
            i++;
            continue;
        }
        struct mc_item **b = &r->buckets[it->hash & (r->nbuckets - 1)];
        MC_TRY(setp(st, &r->old_buckets[i], it->hnext));
        MC_TRY(setp(st, &it->hnext, *b));
        MC_TRY(setp(st, b, it));
        n++;
    }
    if (i < r->old_nbuckets)
        return i == r->moved ? 0 : set64(st, &r->moved, i);
    MC_TRY(hr_heap_free(st->heap, r->old_buckets));
    MC_TRY(setp(st, &r->old_buckets, NULL));
    MC_TRY(set64(st, &r->old_nbuckets, 0));
    return set64(st, &r->moved, 0);
}

/* Begin a growth: the new table made, the old one kept for the moves.  No
 * room for the new table is no error: the table stays as it is, and no
 * growth is tried again until the items grow by a quarter. */
static int start(mc_store *st)
{
    struct mc_root *r = st->root;
    struct mc_item **nb;
    int res = hr_heap_alloc(st->heap, 2 * r->nbuckets * sizeof *nb,
                            HR_HEAP_ZERO, (void **)&nb);
    if (res == K_ENOMEM) {
        st->share->grow_retry = r->items + r->items / 4;
        return 0;
    }
    MC_TRY(res);
    MC_TRY(setp(st, &r->old_buckets, r->buckets));
    MC_TRY(set64(st, &r->old_nbuckets, r->nbuckets));
    MC_TRY(set64(st, &r->moved, 0));
    /* the table, then its size: a prefetch reads them in the other order
     * (mc_grow_publish) */
    MC_TRY(setp(st, &r->buckets, nb));
    return set64(st, &r->nbuckets, 2 * r->nbuckets);
}

int mc_grow_after_link(mc_store *st)
{
    struct mc_root *r = st->root;
    if (r->old_buckets)
        return step(st);
    if (r->items > r->nbuckets + r->nbuckets / 2 &&
        r->nbuckets < st->share->max_buckets &&
        r->items >= st->share->grow_retry)
        return start(st);
    return 0;
}

void mc_grow_publish(mc_store *st)
{
    struct mc_share *sh = st->share;
    struct mc_root *r = st->root;
    if (!r || sh->pf_buckets == r->buckets)
        return;         /* (no root yet: the transaction that makes it) */
    __atomic_store_n(&sh->pf_seq, sh->pf_seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&sh->pf_buckets, r->buckets, __ATOMIC_RELAXED);
    __atomic_store_n(&sh->pf_mask, r->nbuckets - 1, __ATOMIC_RELAXED);
    __atomic_store_n(&sh->pf_seq, sh->pf_seq + 1, __ATOMIC_RELEASE);
}

struct mc_item **mc_grow_prefetch_bucket(const mc_store *st, uint64_t hv)
{
    const struct mc_share *sh = st->share;
    for (;;) {
        uint64_t seq = __atomic_load_n(&sh->pf_seq, __ATOMIC_ACQUIRE);
        struct mc_item **b = __atomic_load_n(&sh->pf_buckets,
                                             __ATOMIC_RELAXED);
        uint64_t mask = __atomic_load_n(&sh->pf_mask, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (!(seq & 1) &&
            __atomic_load_n(&sh->pf_seq, __ATOMIC_RELAXED) == seq)
            return &b[hv & mask];
    }
}

int mc_grow_open(mc_store *st, int migrate)
{
    struct mc_root *r = st->root;
    st->share->max_buckets = mc_grow_max_buckets(r->mem_limit);
    if (r->version == 1 && migrate) {
        /* COMMIT POINT (migration 1 -> 2): one word.  A version 1 store
         * has its whole table and zero in the growth's words: it is a
         * version 2 store that will never grow */
        MC_TRY(hr_heap_begin(st->heap));
        int res = hr_heap_write(st->heap, &r->version, &(uint32_t){2},
                                sizeof r->version);
        res = res < 0 ? (hr_heap_abort(st->heap), res)
                      : hr_heap_commit(st->heap);
        MC_TRY(res);
    }
    mc_grow_publish(st);
    return 0;
}
