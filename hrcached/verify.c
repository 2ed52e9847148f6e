/* SPDX-License-Identifier: MIT */
/*
 * verify.c - mc_store_verify: the heap's checker, then a walk of the LRU
 * list and the hash chains that must agree with each other and with the
 * root's counts (the invariants table.c and grow.c keep).  It runs in a transaction
 * under the store's lock, and rolls it back: it changes nothing.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include <hotrestart/errors.h>
#include <hotrestart/heap.h>

#include "grow.h"
#include "item.h"
#include "table.h"

static int problem(void (*fn)(const char *, void *), void *arg,
                   const char *what)
{
    if (fn)
        fn(what, arg);
    return 1;
}

static int walk_lru(mc_store *st, void (*fn)(const char *, void *), void *arg,
                    uint64_t *n, uint64_t *bytes)
{
    const struct mc_root *r = st->root;
    const struct mc_item *prev = NULL;
    *n = *bytes = 0;
    for (const struct mc_item *it = r->head; it; prev = it, it = it->next) {
        if (it->prev != prev)
            return problem(fn, arg, "LRU: an item's prev is not the item before it");
        if (it->nkey == 0 || it->nkey > MC_KEY_MAX)
            return problem(fn, arg, "an item has a bad key length");
        if (it->hash != hash_key(it->data, it->nkey))
            return problem(fn, arg, "an item's hash is not its key's");
        if (it->cas >= r->cas_next)
            return problem(fn, arg, "an item's cas is not below cas_next");
        if (it->bits & ~MC_IT_BITS)
            return problem(fn, arg, "an item has unknown bits set");
        if (++*n > r->items)
            return problem(fn, arg, "LRU list longer than the item count");
        *bytes += heap_bytes(st, it);
    }
    if (r->tail != prev)
        return problem(fn, arg, "LRU tail is not the last item");
    return 0;
}

/* The chains of one table: every item on its own (grow.c's invariant);
 * old: the table a growth moves from. */
static int walk_table(mc_store *st, struct mc_item *const *tab, uint64_t nb,
                      int old, void (*fn)(const char *, void *), void *arg,
                      uint64_t *n)
{
    const struct mc_root *r = st->root;
    for (uint64_t b = 0; b < nb; b++)
        for (const struct mc_item *it = tab[b]; it; it = it->hnext) {
            uint64_t o = r->old_buckets ? it->hash & (r->old_nbuckets - 1) : 0;
            if ((it->hash & (nb - 1)) != b)
                return problem(fn, arg, "an item is on another hash chain");
            if (old ? b < r->moved : o > r->moved)
                return problem(fn, arg, "an item is on the wrong side of a growth");
            if (++*n > r->items)
                return problem(fn, arg, "hash chains hold more than the item count");
        }
    return 0;
}

static int walk_chains(mc_store *st, void (*fn)(const char *, void *),
                       void *arg, uint64_t *n)
{
    const struct mc_root *r = st->root;
    *n = 0;
    if ((r->nbuckets & (r->nbuckets - 1)) || r->nbuckets < MC_TABLE_START ||
        (r->old_buckets && (r->old_nbuckets * 2 != r->nbuckets ||
                            r->moved >= r->old_nbuckets)))
        return problem(fn, arg, "the table's sizes are not a growth's");
    if (walk_table(st, r->buckets, r->nbuckets, 0, fn, arg, n))
        return 1;
    return r->old_buckets && walk_table(st, r->old_buckets, r->old_nbuckets,
                                        1, fn, arg, n);
}

int mc_store_verify(mc_store *st, void (*fn)(const char *, void *), void *arg)
{
    MC_TRY(mc_tab_begin(st));
    int bad = hr_heap_check(st->heap, fn, arg) != 0;
    uint64_t n_lru = 0, bytes = 0, n_hash = 0;
    if (!bad)
        bad = walk_lru(st, fn, arg, &n_lru, &bytes) ||
              walk_chains(st, fn, arg, &n_hash);
    if (!bad && (n_lru != st->root->items || n_hash != st->root->items))
        bad = problem(fn, arg, "item count differs from the LRU or the chains");
    if (!bad && bytes != st->root->bytes)
        bad = problem(fn, arg, "byte count differs from the items' sizes");
    hr_heap_abort(st->heap);
    pthread_rwlock_unlock(&st->share->lock);
    return bad ? K_EHEAP : 0;
}
