/* SPDX-License-Identifier: MIT */
/*
 * taken.c - undoing the takes of a lane's cache that a transaction did not
 * commit.
 *
 * A transaction that takes a chunk from its lane's cache (cache.c) clears
 * the chunk's tag, which made it "cached, no object".  Instead of an undo
 * record of the tag it writes the chunk's offset to the next slot of its
 * lane's taken[], then stores the log's state word counting one more slot
 * (hh_log_take, log.h), and only then clears the tag.  So, at every
 * instant:
 *
 *  - before the state counts the slot, the tag is still there: the chunk
 *    is cached, whatever happens;
 *  - while the state counts it (the transaction runs, or died, or is being
 *    rolled back), the rollback writes the tag again: the tag is a function
 *    of the chunk's offset and the lane alone, so the record needs no saved
 *    bytes, and writing it twice is writing it once (idempotent);
 *  - the commit point is the state's store of 0 bytes and 0 slots, one
 *    aligned store: the slots stop counting with the log's entries, and the
 *    chunk stays the transaction's object.
 *
 * The rollback writes the tags after the log's entries: an entry of this
 * transaction saved bytes of the chunk only after it was taken (its free,
 * merged into the shared lists at commit), so it holds the chunk without
 * its tag; and the chunk's header, put back by the entries, is the cached
 * chunk's again.  Before anything is applied every slot that counts is
 * checked (hh_taken_bad): a slot carries a check of its offset, the lane's
 * sequence and its place, so a stray write, a flipped bit or a slot of an
 * earlier transaction makes the log damaged (K_EHEAP), never a tag
 * written over an object.
 *
 * On DISK the tag is logged as before (cache.c): a power cut may find the
 * cleared tag written back to the medium and the slot not.
 */
#define _GNU_SOURCE
#include "taken.h"

static_assert(HR_HEAP_MAX_SIZE <= 1ull << HH_OFF_BITS, "offsets fit a slot");

int hh_taken_bad(const struct hh_tx *t, unsigned n)
{
    const struct hh_hdr *d = t->h->hdr;
    uint64_t end = d->arena_off + d->arena_size - sizeof(struct hh_chunk);
    uint64_t seq = t->lane->tx_seq;
    for (unsigned i = 0; i < n; i++) {
        uint64_t w = t->lane->taken[i];
        uint64_t off = w & ((1ull << HH_OFF_BITS) - 1);
        if (w != hh_taken_word(off, seq, t->no, i) || off % HH_ALIGN ||
            off < d->arena_off || off >= end || end - off < HH_MIN_CHUNK)
            return (int)i;
    }
    return -1;
}

void hh_taken_restore(struct hh_tx *t, unsigned n)
{
    const struct hh_hdr *d = t->h->hdr;
    uint64_t end = d->arena_off + d->arena_size - sizeof(struct hh_chunk);
    for (unsigned i = 0; i < n; i++) {
        uint64_t off = t->lane->taken[i] & ((1ull << HH_OFF_BITS) - 1);
        const struct hh_chunk *c = (const struct hh_chunk *)(t->h->base + off);
        uint64_t size = c->size & ~HH_FLAGS;
        /* the cached chunk's header, as the entries left it (not one,
         * only if the arena is damaged: no tag is written there) */
        if (c->check != hh_check_word(off) || !(c->size & HH_USED) ||
            size < HH_MIN_CHUNK || size > HH_CACHE_MAX || size > end - off)
            continue;
        __atomic_store_n((uint64_t *)(t->h->base + off + sizeof *c),
                         hh_cache_tag(off, t->no), __ATOMIC_RELAXED);
    }
}
