/* SPDX-License-Identifier: MIT */
/*
 * store_int.h - what store.c and room.c lend store_meta.c: a put's retry
 * with room made between tries, and incr/decr of one item found in the running
 * transaction.
 */
#ifndef MC_STORE_INT_H
#define MC_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "item.h"

/* A try's answer: room of *need bytes must be made first. */
#define MC_STORE_NEED_ROOM (-2000)

/* Run once(st, arg, &need) in transactions, evicting between them
 * (never the item of key) until it needs no more room (room.c): its
 * result, MC_NO_MEMORY when evicting cannot make the room, or an error. */
int mc_store_with_room(mc_store *st,
                       int (*once)(mc_store *, const void *, uint64_t *),
                       const void *arg, const char *key, size_t nkey);

/* incr (decr 0) or decr of item it: MC_VALUE (*value, and *out the item
 * that now holds it), MC_NON_NUMERIC, MC_STORE_NEED_ROOM, or an error. */
int mc_store_arith_item(mc_store *st, struct mc_item *it, int decr,
                        uint64_t delta, uint64_t *value, uint64_t *need,
                        struct mc_item **out);

/* v in decimal into buf (24 bytes): its length. */
size_t mc_u64_digits(uint64_t v, char *buf);

#endif
