/* SPDX-License-Identifier: MIT */
/*
 * log.h - the undo log: saving bytes before a transaction changes them,
 * the commit point and the rollback (log.c says why this is enough).
 *
 * Every call works on one lane's log through its slot t, whose lane's
 * mutex the caller holds (lane.h), or under the open lock when a heap's
 * mutexes are remade (heap.c).
 */
#ifndef HR_HEAP_LOG_H
#define HR_HEAP_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "view.h"

/* The compiler keeps the stores before it ahead of the stores after it: in
 * one process, the order a SIGKILL can observe.  An entry is whole before
 * the change it saves; a format is whole before its magic (heap.c). */
static inline void hh_barrier(void)
{
    __asm__ __volatile__("" ::: "memory");
}

/* Copy n bytes (not overlapping), inline when n is 16 to 64: for an update
 * of up to a cache line, the library call costs more than the copy (about
 * 7 ns of a 50 ns transaction here).  Overlapping 16-byte moves, the last
 * one ending at n. */
static inline void hh_copy(void *d, const void *s, size_t n)
{
    if (n < 16 || n > 64) {
        memcpy(d, s, n);
        return;
    }
    uint8_t *dd = d;
    const uint8_t *ss = s;
    for (size_t i = 0; i + 16 < n; i += 16)
        memcpy(dd + i, ss + i, 16);
    memcpy(dd + n - 16, ss + n - 16, 16);
}

/* Append an entry saving [p, p+len); hh_log() is the door.  0, or
 * K_ENOMEM if the log is full, -errno from its flush (DISK); either dooms
 * the transaction. */
int hh_log_new(struct hh_tx *t, const void *p, size_t len);

/* Save [p, p+len) in the undo log before it changes, unless one of the last
 * entries of this transaction saved it already (its bytes from before the
 * transaction are in the log).  Inline: the update path's common case,
 * "saved already", costs no call.  0, or the error that doomed the
 * transaction. */
static inline int hh_log(struct hh_tx *t, const void *p, size_t len)
{
    if (t->doomed)
        return t->doomed;
    uint64_t off = (uint64_t)((const uint8_t *)p - t->h->base);
    for (unsigned i = 0; i < t->nrecent && i < 4; i++)
        if (off >= t->recent[i].off &&
            off + len <= t->recent[i].off + t->recent[i].len)
            return 0;
    return hh_log_new(t, p, len);
}

/* Record in t's lane that t takes the cached chunk at off (cache.c), in
 * place of an undo record of its tag: the slot is written, then the state
 * word counts it.  A rollback tags the chunk again; the commit point, the
 * state word's store of 0, forgets it with the log.  The caller has
 * checked a slot is free (t->ntaken < HH_TAKEN) and the heap is RAM (on
 * DISK the tag is logged: a power cut may write the cleared tag back
 * before the slot). */
static inline void hh_log_take(struct hh_tx *t, uint64_t off)
{
    unsigned n = t->ntaken++;
    t->lane->taken[n] = hh_taken_word(off, t->lane->tx_seq, t->no, n);
    hh_barrier(); /* the slot is whole before the state counts it */
    __atomic_store_n(&t->lane->log_state, hh_log_state_n(t->log_pos, n + 1),
                     __ATOMIC_RELAXED);
    hh_barrier(); /* ... and counted before the caller clears the tag */
}

/* Save n adjacent words of the header's hot words, once per transaction. */
static inline int hh_log_hot_n(struct hh_tx *t, const uint64_t *word,
                               unsigned n)
{
    uint64_t i = (uint64_t)((const uint8_t *)word - t->h->base) / 8;
    if (t->hot_saved[i] == t->tx_stamp &&
        t->hot_saved[i + n - 1] == t->tx_stamp)
        return 0;
    int r = hh_log(t, word, 8 * n);
    if (r == 0)
        for (unsigned k = 0; k < n; k++)
            t->hot_saved[i + k] = t->tx_stamp;
    return r;
}

static inline int hh_log_hot(struct hh_tx *t, const uint64_t *word)
{
    return hh_log_hot_n(t, word, 1);
}

/* The log's part of a commit: on DISK, flush what the transaction wrote;
 * then the COMMIT POINT.  0 or -errno from a flush (the caller rolls
 * back). */
int hh_log_commit(struct hh_tx *t);
/* Put back every byte the log saved, newest first, tag the chunks taken
 * from the cache again, and empty the log; idempotent.  0, K_EHEAP if the
 * log is damaged (its state word, a taken slot, or an entry inside its end
 * that does not check out or names bytes the log may not touch: then
 * nothing is applied), or -errno from a flush.  torn 1: a DISK heap after
 * a power cut, whose log ends at the first entry that does not check out
 * (log.c says why). */
int hh_rollback_torn(struct hh_tx *t, int torn);
static inline int hh_rollback(struct hh_tx *t)
{
    return hh_rollback_torn(t, 0);
}
/* Would a rollback of t's log roll forward (a DISK transaction whose log
 * says committed, every redo entry whole)?  1 or 0; *no: its commit's
 * number, the order in which such logs are rolled forward. */
int hh_log_rolls_forward(const struct hh_tx *t, int torn, uint64_t *no);
/* Forget t's transaction state: a new transaction starts. */
static inline void hh_tx_reset(struct hh_tx *t)
{
    t->log_pos = t->log_synced = t->last_entry = 0;
    t->ntaken = 0;
    t->nfrees = t->nnews = 0;
    t->doomed = 0;
    t->nrecent = 0;
    t->nlocks = 0;
    t->alloc_locked = 0;
    if (++t->tx_stamp == 0) { /* wrapped: forget every old stamp */
        memset(t->hot_saved, 0, sizeof t->hot_saved);
        t->root_stamp = 0;
        t->tx_stamp = 1;
    }
}
/* Bytes of the log that count: 0 if it is empty (1 if it is damaged). */
uint64_t hh_log_live(const struct hh_tx *t);
/* 0 if the log is sound; K_EHEAP if damaged, with a message naming the lane
 * and the record's offset in msg. */
int hh_log_damage(const struct hh_tx *t, char *msg, size_t len);

#endif
