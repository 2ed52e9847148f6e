/* SPDX-License-Identifier: MIT */
/*
 * grow.h - the growth of the store's hash table (grow.c), for table.c:
 * the table's sizes, a growth's start and steps inside the writers'
 * transactions, the copy of the table a lockless prefetch reads, and the
 * migration of a version 1 store at open.
 */
#ifndef MC_GROW_H
#define MC_GROW_H

#include <stdint.h>

#include "store.h"

struct mc_item;

#define MC_TABLE_START 1024u    /* buckets of a new store's table */
#define MC_GROW_MOVES 8u        /* items one transaction moves at most */
#define MC_GROW_CHAINS 64u      /* empty old chains it passes at most */

/* The most buckets a store of this -m gets: one per 256 B. */
uint64_t mc_grow_max_buckets(uint64_t mem_limit);
/* The buckets a new store of this -m starts with. */
uint64_t mc_grow_first_buckets(uint64_t mem_limit);

/* In a transaction that linked or replaced an item: a step of a growth
 * under way, or the start of one when the items are over 1.5 a bucket.
 * 0 or a heap error (the transaction must then be rolled back). */
int mc_grow_after_link(mc_store *st);

/* After a transaction ended, the store's lock still held: the table a
 * prefetch reads made the root's again. */
void mc_grow_publish(mc_store *st);

/* The bucket of hash hv in the table as last published, for a prefetch
 * without the lock (its chain head may be stale: only prefetch it). */
struct mc_item **mc_grow_prefetch_bucket(const mc_store *st, uint64_t hv);

/* At open, the version known: with migrate, a version 1 store migrated
 * to version 2 (one committed word); the sizes and the prefetch's copy
 * set up.  0 or a heap error. */
int mc_grow_open(mc_store *st, int migrate);

#endif
