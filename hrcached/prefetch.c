/* SPDX-License-Identifier: MIT */
/*
 * prefetch.c - warming the cache for the store's calls before they take
 * its lock: the key's bucket, the items of its chain up to the key's, and
 * that item's LRU neighbours, so that the lock is held while a call's work
 * runs, not while memory comes (a 50/50 mix of 4 KiB sets and gets at
 * -t 4 spent a fifth of its time under the lock waiting for those lines).
 * The steps of mc_store_prefetch let a caller with several keys (a
 * pipeline, proto.c) run each step over all of them, so that their
 * misses overlap.
 *
 * Invariants: nothing here takes a lock or stores a byte of the heap;
 * every word of the store is read with a relaxed load and trusted for
 * nothing but a prefetch or the next load, and a pointer is loaded
 * through only when it lies inside the heap's block (in_heap): a writer
 * may be changing or rolling back a chain meanwhile, and the heap keeps
 * freed memory mapped, so a stale pointer reads some bytes of the heap or
 * is only prefetched (a prefetch neither faults nor changes anything).
 * The bucket is the table's as last published (grow.c): a table being
 * moved from is freed only after a writer published the new one, under
 * the lock.
 */
#define _GNU_SOURCE
#include <stdint.h>

#include "grow.h"
#include "item.h"
#include "table.h"

/* Is p where an item header could be, inside the heap's block?  A
 * lockless reader checks a pointer it read racily before it loads
 * through it: a word of a freed or half-written item may hold anything,
 * and a load outside the block could fault. */
static int in_heap(const mc_store *st, const void *p)
{
    uintptr_t a = (uintptr_t)p, lo = st->share->heap_lo;
    return a % 8 == 0 && a >= lo &&
           a <= lo + st->share->heap_size - sizeof(struct mc_item);
}

/* Before the lock: the key's bucket and the items of its chain up to the
 * key's (their hashes loaded here, outside the lock), then that item's
 * LRU neighbours, which a replace or a delete writes (a store into a cold
 * line under the lock: its old word read for the undo log, then the
 * store). */
void mc_tab_prefetch(mc_store *st, const char *key, size_t nkey)
{
    mc_tab_prefetch_hash(st, hash_key(key, nkey));
}

void mc_tab_prefetch_hash(mc_store *st, uint64_t hv)
{
    struct mc_item **b = mc_grow_prefetch_bucket(st, hv);
    struct mc_item *it = __atomic_load_n(b, __ATOMIC_RELAXED);
    for (int n = 0; n < MC_PREFETCH_CHAIN && it && in_heap(st, it); n++) {
        if (__atomic_load_n(&it->hash, __ATOMIC_RELAXED) == hv) {
            __builtin_prefetch(__atomic_load_n(&it->prev, __ATOMIC_RELAXED), 1);
            __builtin_prefetch(__atomic_load_n(&it->next, __ATOMIC_RELAXED), 1);
            /* its last line and the heap's word after it (the object's
             * size, which hr_heap_usable and a free read): often on
             * another page; a get copies up to there */
            __builtin_prefetch((const void *)((uintptr_t)it + item_size(
                __atomic_load_n(&it->nkey, __ATOMIC_RELAXED),
                __atomic_load_n(&it->nbytes, __ATOMIC_RELAXED))));
            return;
        }
        it = __atomic_load_n(&it->hnext, __ATOMIC_RELAXED);
    }
}

uint64_t mc_store_hash(const char *key, size_t nkey)
{
    return hash_key(key, nkey);
}

void mc_store_prefetch(mc_store *st, uint64_t hv, int step)
{
    if (step >= 2) {
        mc_tab_prefetch_hash(st, hv);
        return;
    }
    struct mc_item **b = mc_grow_prefetch_bucket(st, hv);
    if (step == 0) {
        __builtin_prefetch(b);
        return;
    }
    struct mc_item *it = __atomic_load_n(b, __ATOMIC_RELAXED);
    if (it)
        __builtin_prefetch(&it->hash);
}
