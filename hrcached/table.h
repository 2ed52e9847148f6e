/* SPDX-License-Identifier: MIT */
/*
 * table.h - the frame of hrcached's store (table.c), for store.c only:
 * the hash chains and the LRU list, transactions and eviction.  Each call
 * that changes the heap must run inside mc_tab_begin() .. mc_tab_end(),
 * which hold the store's lock (one transaction at a time per process).
 */
#ifndef MC_TABLE_H
#define MC_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "item.h"

/* Take it off its chain and the LRU, and free it (at commit). */
int mc_tab_unlink(mc_store *st, struct mc_item *it);
/* Link a new (unlogged, fully written) item at its chain's head and the
 * LRU head. */
int mc_tab_link(mc_store *st, struct mc_item *it);
/* Put a new (unlogged, fully written) item in old's place, of the same
 * key: old is freed (at commit). */
int mc_tab_replace(mc_store *st, struct mc_item *old, struct mc_item *it);
/* The live item of key, or NULL; a dead one met on the way is removed
 * (counted as a get's when count).  *res is 0 or a heap error. */
struct mc_item *mc_tab_find(mc_store *st, const char *key, size_t nkey,
                            int count, int *res);
/* A read of it: mark it active (eviction spares it once), renew its time
 * once per MC_BUMP_S. */
int mc_tab_bump(mc_store *st, struct mc_item *it);
/* A use that is not a read (incr, a refused add): renew its time once per
 * MC_BUMP_S, leave its bits. */
int mc_tab_renew(mc_store *st, struct mc_item *it);
/* Store an item's bits (MC_IT_*), logged. */
int mc_tab_set_bits(mc_store *st, struct mc_item *it, uint32_t bits);
/* Begin a transaction (and take the time of the call). */
int mc_tab_begin(mc_store *st);
/* Commit if r is a result, roll back if it is an error: r, or the error. */
int mc_tab_end(mc_store *st, int r);
/* Warm the cache for a lookup of key and a replace of its item, before
 * taking the lock (prefetch.c). */
void mc_tab_prefetch(mc_store *st, const char *key, size_t nkey);
/* The same for the key whose hash_key (item.h) is hv. */
void mc_tab_prefetch_hash(mc_store *st, uint64_t hv);
/* A read that stores nothing: no transaction, the store's lock held
 * shared (other readers run at once, no writer). */
void mc_tab_read_begin(mc_store *st);
void mc_tab_read_end(mc_store *st);
/* The item of key whatever its state, or NULL (for a reader). */
struct mc_item *mc_tab_peek(mc_store *st, const char *key, size_t nkey);
/* Would a get of it store more than its active bit (remove it dead,
 * renew its time)? */
int mc_tab_get_writes(const mc_store *st, const struct mc_item *it);
/* A reader's mark: the active bit, set unlogged (a hint, see table.c). */
void mc_tab_mark_read(struct mc_item *it);
/* What one eviction is asked for: room for need more bytes under the
 * limit, and at least `least` items freed (the allocator may want more
 * than the limit does: its free memory in pieces too small for need);
 * the item of key (the one the store changes) is never taken. */
struct mc_room {
    uint64_t need;
    unsigned least;
    const char *key;        /* NULL: no item kept */
    size_t nkey;
    uint64_t hash;          /* hash_key(key, nkey) */
};
/* Free items from the LRU tail, in a transaction of its own, as room
 * asks, at most the share's evict_batch: the number freed, or an error. */
int mc_tab_make_room(mc_store *st, const struct mc_room *room);

#endif
