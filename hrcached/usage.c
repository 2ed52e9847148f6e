/* SPDX-License-Identifier: MIT */
/*
 * usage.c - what the store holds, for stats: mc_store_usage, the root's
 * figures and the store's own count of its bytes in the heap, copied
 * under the store's lock held shared (as a get holds it) for no longer
 * than the copy; and mc_store_heap_stat, the allocator's own figures
 * (hr_heap_stat), a walk of every chunk of the heap with every writer of
 * the store held off, for the one command that asks for it (stats heap).
 *
 * Invariant: nothing here walks the heap but mc_store_heap_stat, and
 * nothing on a path that every scrape or health check takes (stats,
 * stats items, stats slabs) or that runs before a server's first reply
 * calls it.  The store's bytes in the heap are its objects' usable sizes
 * (hr_heap_usable, one chunk header read each): the root, the table and
 * the one a growth is emptying, and root->bytes, which table.c keeps for
 * the items in the same transactions that link and free them.
 */
#define _GNU_SOURCE
#include <time.h>

#include <hotrestart/heap.h>

#include "item.h"
#include "lock.h"

static uint64_t usable(mc_store *st, const void *p)
{
    size_t n = 0;
    if (p)
        hr_heap_usable(st->heap, p, &n);
    return n;
}

/* The store's bytes in the heap (under the store's lock). */
static uint64_t store_used(mc_store *st)
{
    const struct mc_root *r = st->root;
    return r->bytes + usable(st, r) + usable(st, r->buckets) +
           usable(st, r->old_buckets);
}

int mc_store_usage(mc_store *st, struct mc_usage *u)
{
    /* shared: no transaction of this process runs meanwhile, so the root
     * and the chunk headers read are whole; writers wait for the copy
     * only (a few hundred nanoseconds) */
    mc_lock_read(&st->share->lock);
    const struct mc_root *r = st->root;
    *u = (struct mc_usage){
        .items = r->items, .bytes = r->bytes, .mem_limit = r->mem_limit,
        .nbuckets = r->nbuckets, .starts = r->starts,
        .heap_size = st->share->heap_size,
        .heap_used = store_used(st),
        .oldest = r->tail ? r->tail->time : 0,
        .growing = r->old_buckets != NULL};
    pthread_rwlock_unlock(&st->share->lock);
    return 0;
}

static uint64_t since_us(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (uint64_t)((t1.tv_sec - t0->tv_sec) * 1000000 +
                      (t1.tv_nsec - t0->tv_nsec) / 1000);
}

int mc_store_heap_stat(mc_store *st, hr_heap_info *hi, uint64_t *used,
                       uint64_t *held_us)
{
    struct timespec t0;
    /* under the store's lock, as a writer: hr_heap_stat holds every lane
     * of the heap while it walks, and a worker's transaction meeting a
     * lock word of a lane it holds would lose with K_EBUSY */
    mc_lock_write(&st->share->lock);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    *used = store_used(st);
    int res = hr_heap_stat(st->heap, hi);
    *held_us = since_us(&t0);
    pthread_rwlock_unlock(&st->share->lock);
    return res < 0 ? res : 0;
}
