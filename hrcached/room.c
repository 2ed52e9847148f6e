/* SPDX-License-Identifier: MIT */
/*
 * room.c - a store that needs room: its try runs in a transaction, and
 * when the item does not fit, an eviction (table.c's mc_tab_make_room, a
 * transaction of its own: the heap gives freed memory back only at
 * commit) frees some before the next try.
 *
 * Room is two things: bytes under -m, and one free piece of the heap as
 * large as the item.  The first eviction frees until the bytes fit; when
 * the allocator still cannot serve the item (a cache of small items
 * leaves its free memory in small pieces), each further eviction frees
 * twice as many items as the one before, up to the batch one transaction
 * may free: a 1 MB item among items of 20-300 bytes needs some 4,000 of
 * them gone (at -m 64 after a million sets), about 60 evictions, where
 * freeing one at a time gave up after 64 of them.  The tries end
 * when the item fits, when an eviction frees nothing (nothing may be
 * evicted: -M, or the cache is empty) or once as many items as the cache
 * held at the first try are gone: each eviction is bounded, and so is
 * their number.  The item the store changes (an append's) is never
 * evicted for it.
 */
#define _GNU_SOURCE
#include <hotrestart/heap.h>

#include "item.h"
#include "store.h"
#include "store_int.h"
#include "table.h"

int mc_store_with_room(mc_store *st,
                       int (*once)(mc_store *, const void *, uint64_t *),
                       const void *arg, const char *key, size_t nkey)
{
    struct mc_room room = {.least = 1, .key = key, .nkey = nkey};
    uint64_t freed = 0, budget = 0;
    for (int tries = 0;; tries++) {
        room.need = 0;
        MC_TRY(mc_tab_begin(st));
        int r = mc_tab_end(st, once(st, arg, &room.need));
        if (r != MC_STORE_NEED_ROOM)
            return r;
        if (room.need > st->cfg.mem_limit)
            break;
        if (tries == 0) { /* (only now: most stores need no room) */
            room.hash = hash_key(key, nkey);
            mc_tab_read_begin(st);
            budget = st->root->items;
            mc_tab_read_end(st);
        } else if (room.least < MC_EVICT_BATCH) {
            room.least *= 2;
        }
        MC_TRY(r = mc_tab_make_room(st, &room));
        freed += (uint64_t)r;
        if (r == 0 || freed > budget)
            break;
    }
    st->n.store_no_memory++;
    return MC_NO_MEMORY;
}
