/* SPDX-License-Identifier: MIT */
/*
 * log.c - the undo log, the commit point and the rollback.
 *
 * Each lane has its own log (format.h); a transaction writes only to the
 * log of the lane it holds, and takes the lock words of the bytes it
 * changes first (lane.c), so the logs of transactions running at once
 * never name the same bytes.
 *
 * A transaction saves the old bytes of every range before it changes it:
 * hh_log() appends an entry {offset, length, sequence, checksum, bytes} to
 * the log, then stores the log's state word (format.h: the bytes of the
 * log that count, with a check of its own) and, on a DISK heap, flushes
 * both; only then does the caller store into the range.  Every entry inside
 * the state's end must carry the lane's tx_seq and a checksum that
 * matches: one that does not is damage (a stray write, a flipped bit), and
 * the whole log is refused with K_EHEAP before a byte of it is applied.
 * The one exception is a DISK heap after a power cut (a new boot): the
 * kernel may have written the state word back before the entry it counts,
 * and that entry's change was not made yet (the caller waits for the
 * flush), so there the log ends at the first entry that does not check out.
 *
 *   commit:   frees of the transaction are applied (they are logged too,
 *             heap.c); then on RAM
 *             COMMIT POINT: the state word says 0 bytes (one aligned
 *             store): no entry counts, so the changes stay; tx_seq + 1
 *             gives back the transaction's lock words (lane.c).
 *   DISK commit, one flush: a redo entry (tx_seq | HH_REDO) of each saved
 *             range as the transaction leaves it and of each new object is
 *             appended, then
 *             COMMIT POINT: the state word says "committed" (format.h,
 *             hh_log_state_redo): a rollback now rolls forward; then one
 *             msync of the block from its start to the highest changed
 *             byte (every lane's header, this log, the changed pages)
 *             makes it durable; only then does the state say 0 bytes (not
 *             flushed) and tx_seq + 1 give the locks back.  A redo too big
 *             for the log falls back to two flushes: the changed ranges
 *             with every lane's header (flush_targets), then the state
 *             "0 bytes" with the lane's header, before the locks are given
 *             back.
 *   rollback: (abort, a dead holder, a heap opened after a crash) every
 *             entry and taken slot that counts is checked, then the entries
 *             are copied back newest first, so that where ranges overlap
 *             the oldest bytes win, then the taken chunks are tagged
 *             cached again (taken.c); on DISK they are flushed; then the
 *             state says 0 bytes.
 *             A log that says committed is rolled forward instead: its
 *             redo entries copied in place and flushed.
 *
 * Why one DISK flush is enough.  After a power cut the medium holds, of
 * each page, some version memory gave it.  Undo entries were durable before
 * their changes (flushed at hh_log).  If the commit's flush was cut short,
 * the log says committed with every redo entry whole (roll forward), or it
 * does not (roll back, with the undo entries): either is right for a
 * commit that had not returned.  A log left saying committed after its
 * transaction ended is stale but harmless: its redo bytes are the ones the
 * transaction left, and a later transaction that changed them again has
 * either not committed (its undo entries hold those very bytes) or
 * committed after a flush that also wrote this lane's emptied header (the
 * one flush of a redo commit, the first of a two-flush one), or was cut
 * short in the one flush, when the commits are rolled forward in the order
 * of their numbers (commit_no, open.c), the later last.

 * Why this is enough.  A change reaches the heap only after its old bytes
 * sit in a counting entry (program order in one process is all a SIGKILL
 * can observe: the killed process's stores are all visible to the others;
 * on DISK the entry is on the medium before the change can be written
 * back).  Two kinds of bytes are changed unsaved, both free when the
 * transaction began: a new object, and a free chunk carved out of a free
 * chunk's payload (alloc.c).  A rollback makes them free again, and free
 * bytes are never read; since frees wait for the commit, a transaction
 * never hands out bytes that held an object when it began.  A third: the
 * tag of a chunk taken from the lane's cache, cleared once a counting slot
 * of taken[] names the chunk; the rollback writes the tag again (a
 * function of the chunk's offset and the lane), after the entries.  A
 * range saved already by this transaction is not saved again: the log
 * holds its bytes from before it.  Until the commit point the log
 * therefore restores every byte that mattered, the allocator's words
 * included; after it nothing is undone.  A rollback writes only bytes read
 * from the log and tags, so running it again after a crash half-way gives
 * the same heap: it is idempotent.  Recovery needs no knowledge of the
 * dead process: the log alone says what to undo.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "crash.h"
#include "log.h"
#include "sys.h"
#include "taken.h"

static inline uint8_t *log_at(const struct hh_tx *t, uint64_t pos)
{
    return t->log + pos;
}

static inline uint64_t pad8(uint64_t n)
{
    return (n + 7) & ~7ull;
}

static uint64_t mix(uint64_t a)
{
    a = (a ^ (a >> 33)) * 0xff51afd7ed558ccdull;
    return a ^ (a >> 33);
}

/* A checksum that a torn or stale entry fails: every word is multiplied on
 * its own (no chain of dependent multiplies) with a weight that depends on
 * its place, and the sum is mixed once. */
static uint64_t entry_sum(const struct hh_entry *e)
{
    const uint8_t *data = (const uint8_t *)(e + 1);
    uint64_t s = e->off * 0x9e3779b97f4a7c15ull +
                 ((uint64_t)e->len << 32 | e->back) * 0xc2b2ae3d27d4eb4full +
                 e->seq * 0x165667b19e3779f9ull;
    for (uint64_t i = 0; i < pad8(e->len); i += 8) {
        uint64_t w;
        memcpy(&w, data + i, 8);
        s += (w ^ (i * 0x27d4eb2f165667c5ull)) * 0x94d049bb133111ebull;
    }
    return mix(s);
}

/* May the log put bytes back at [off, off+len)?  Only hot words and the
 * arena: never the identity, the lanes or the lock words. */
static int target_ok(const struct hh_hdr *hdr, uint64_t off, uint64_t len)
{
    uint64_t hot = offsetof(struct hh_hdr, root_version);
    if (off >= hot && off <= HH_HDR_SIZE && len <= HH_HDR_SIZE - off)
        return 1;
    return off >= hdr->arena_off && off <= hdr->size &&
           len <= hdr->arena_off + hdr->arena_size - off;
}

/* DISK: flush the entries written since the last flush and the state
 * word that counts them: one range from the lane's header (the pages
 * between are clean, flushed already). */
static int log_sync(struct hh_tx *t)
{
    if (!t->h->durable || t->log_synced == t->log_pos)
        return 0;
    int r = hh_os_flush(t->h, t->lane_off, HH_LANE_HDR + t->log_pos);
    if (r < 0)
        return r;
    t->log_synced = t->log_pos;
    return 0;
}

static inline void copy_in(uint8_t *data, const void *p, size_t len)
{
    if (len == 8) { /* the allocator's words */
        memcpy(data, p, 8);
        return;
    }
    hh_copy(data, p, len);
    if (len & 7)
        memset(data + len, 0, pad8(len) - len);
}

/* Write an entry {off, len, seq, the len bytes at src} at the log's end
 * (room checked by the caller); the state word does not count it yet. */
static void put_entry(struct hh_tx *t, uint64_t off, const void *src,
                      size_t len, uint64_t seq)
{
    struct hh_entry *e = (struct hh_entry *)log_at(t, t->log_pos);
    e->off = off;
    e->len = (uint32_t)len;
    e->back = (uint32_t)(t->log_pos - t->last_entry);
    e->seq = seq;
    copy_in((uint8_t *)(e + 1), src, len);
    e->sum = entry_sum(e);
    t->last_entry = t->log_pos;
    t->log_pos += sizeof(struct hh_entry) + pad8(len);
}

/* Append an entry saving [p, p+len) (hh_log() in log.h has checked it is
 * not saved already); on DISK the entry is durable on return. */
int hh_log_new(struct hh_tx *t, const void *p, size_t len)
{
    uint64_t off = (uint64_t)((const uint8_t *)p - t->h->base);
    uint64_t esize = sizeof(struct hh_entry) + pad8(len);
    if (len > t->log_cap || esize > t->log_cap - t->log_pos)
        return t->doomed = K_ENOMEM;
    put_entry(t, off, p, len, t->lane->tx_seq);
    hh_barrier(); /* the entry is whole before the state counts it */
    __atomic_store_n(&t->lane->log_state,
                     hh_log_state_n(t->log_pos, t->ntaken), __ATOMIC_RELAXED);
    hh_barrier(); /* ... and counted before the caller's change */
    t->recent[t->nrecent++ % 4] = (struct hh_span){off, len};
    hh_crash("heap.log-entry");
    int r = log_sync(t);
    if (r < 0)
        t->doomed = r;
    return r;
}

/* What a walk of the entries that count found: the last undo entry's
 * position (UINT64_MAX if none), the first redo entry's (UINT64_MAX if
 * none), the log's end, and where it is damaged (log offset, or
 * UINT64_MAX for the state word or a taken slot: bad_slot).  committed:
 * the state says committed and every redo entry checks out: roll
 * forward.  taken: the slots of taken[] that count. */
struct walk {
    uint64_t last_undo, redo_at, end, bad;
    int committed, bad_slot;
    unsigned taken;
};

/* Walk the entries that count, oldest first.  K_EHEAP if the state word or
 * an entry inside its end does not check out (undo entries of tx_seq, then
 * in a committed log redo entries of tx_seq | HH_REDO), or an entry names
 * bytes the log may not touch.  torn: a DISK heap after a power cut, whose
 * log ends at the first entry that does not check out (log.c). */
static int scan(const struct hh_tx *t, int torn, struct walk *w)
{
    const struct hh_hdr *hdr = t->h->hdr;
    uint64_t state = __atomic_load_n(&t->lane->log_state, __ATOMIC_RELAXED);
    uint64_t stop = hh_state_end(state), pos = 0, prev = 0;
    uint64_t seq = t->lane->tx_seq;
    unsigned n = hh_state_taken(state);
    int redo = state == hh_log_state_redo(stop);
    *w = (struct walk){UINT64_MAX, UINT64_MAX, 0, UINT64_MAX, 0, -1, n};
    if ((state != hh_log_state_n(stop, n) && !redo) || stop > t->log_cap ||
        n > HH_TAKEN || (w->bad_slot = hh_taken_bad(t, n)) >= 0)
        return K_EHEAP;
    while (pos < stop) {
        const struct hh_entry *e = (const struct hh_entry *)log_at(t, pos);
        int is_redo = stop - pos >= sizeof *e && redo &&
                      e->seq == (seq | HH_REDO);
        if (stop - pos < sizeof *e ||
            (e->seq != seq && !is_redo) ||
            (!is_redo && w->redo_at != UINT64_MAX) ||
            e->back != pos - prev || e->len > stop - pos - sizeof *e ||
            pad8(e->len) > stop - pos - sizeof *e || e->sum != entry_sum(e) ||
            !target_ok(hdr, e->off, e->len)) {
            if (torn)
                break;
            w->bad = pos;
            return K_EHEAP;
        }
        if (is_redo && w->redo_at == UINT64_MAX)
            w->redo_at = pos;
        else if (!is_redo)
            w->last_undo = pos;
        prev = pos;
        pos += sizeof *e + pad8(e->len);
    }
    w->end = pos;
    w->committed = redo && pos == stop && w->redo_at != UINT64_MAX;
    return 0;
}

uint64_t hh_log_live(const struct hh_tx *t)
{
    struct walk w;
    return scan(t, 0, &w) < 0 ? 1 : w.end + w.taken;
}

int hh_log_rolls_forward(const struct hh_tx *t, int torn, uint64_t *no)
{
    struct walk w;
    *no = t->lane->commit_no;
    return scan(t, torn, &w) == 0 && w.committed;
}

int hh_log_damage(const struct hh_tx *t, char *msg, size_t len)
{
    struct walk w;
    if (scan(t, 0, &w) == 0)
        return 0;
    uint64_t bad = w.bad;
    if (w.bad_slot >= 0)
        snprintf(msg, len, "lane %u: slot %d of its record of the chunks "
                 "taken from its cache is damaged: its log is not applied",
                 t->no, w.bad_slot);
    else if (bad == UINT64_MAX)
        snprintf(msg, len, "lane %u: the undo log's state word is damaged "
                 "(%#llx): its log is not applied", t->no,
                 (unsigned long long)t->lane->log_state);
    else
        snprintf(msg, len, "lane %u: the undo record at log offset %llu is "
                 "damaged (checksum, sequence or target): its log is not "
                 "applied", t->no, (unsigned long long)bad);
    return K_EHEAP;
}

/* Widen [*lo, *hi) over the ranges the entries from `from` to `last`
 * (log positions, UINT64_MAX: none) name. */
static void span_of(const struct hh_tx *t, uint64_t from, uint64_t last,
                    uint64_t *lo, uint64_t *hi)
{
    for (uint64_t pos = from; from != UINT64_MAX && last != UINT64_MAX;) {
        const struct hh_entry *e = (const struct hh_entry *)log_at(t, pos);
        *lo = e->off < *lo ? e->off : *lo;
        *hi = e->off + e->len > *hi ? e->off + e->len : *hi;
        if (pos >= last)
            break;
        pos += sizeof *e + pad8(e->len);
    }
}

/* Flush, in one msync of one range, every range the undo entries up to
 * `last` name and (commit) every object the transaction made and every
 * lane's header (DISK): the pages between are clean or hold changes whose
 * undo records are durable already, so writing them early is harmless (as
 * the kernel's write-back may).  The headers: another lane's log may still
 * say committed on the medium (a redo commit empties it in memory only),
 * naming bytes this transaction changed; it must be empty there before
 * this commit point, or the next boot rolls it forward over them. */
static int flush_targets(struct hh_tx *t, uint64_t last, int commit)
{
    struct hr_heap *h = t->h;
    if (!h->durable)
        return 0;
    uint64_t lo = UINT64_MAX, hi = 0;
    span_of(t, 0, last, &lo, &hi);
    if (commit) {
        const struct hh_hdr *d = h->hdr;
        uint64_t lanes_end = d->lanes_off + (uint64_t)d->nlanes * d->lane_size;
        lo = d->lanes_off < lo ? d->lanes_off : lo;
        hi = lanes_end > hi ? lanes_end : hi;
    }
    for (size_t i = 0; commit && i < t->nnews; i++) {
        const struct hh_span *n = &t->news[i];
        lo = n->off < lo ? n->off : lo;
        hi = n->off + n->len > hi ? n->off + n->len : hi;
    }
    return hi > lo ? hh_os_flush(h, lo, hi - lo) : 0;
}

/* DISK, one flush: the block from its start to hi, and at least every
 * lane (this one's log, and every other lane's header: a log that still
 * says committed after its transaction ended is emptied on the medium by
 * the next commit's flush). */
static int flush_all(struct hh_tx *t, uint64_t hi)
{
    const struct hh_hdr *d = t->h->hdr;
    uint64_t lanes_end = d->lanes_off + d->nlanes * d->lane_size;
    return hh_os_flush(t->h, 0, hi > lanes_end ? hi : lanes_end);
}

/* The end of a transaction whose log needs no flush (RAM, or a DISK
 * commit whose redo entries are durable): the log empties, then the
 * sequence moves on, which gives back every lock word the transaction
 * took (lane.c). */
static void close_quiet(struct hh_tx *t)
{
    __atomic_store_n(&t->lane->log_state, hh_log_state(0), __ATOMIC_RELEASE);
    hh_barrier(); /* the log is empty before the next sequence starts */
    __atomic_store_n(&t->lane->tx_seq, t->lane->tx_seq + 1, __ATOMIC_RELEASE);
    hh_crash("heap.log-closed");
    hh_tx_reset(t);
}

/* The same for an undo log: on DISK the empty log reaches the medium
 * before the sequence moves on and gives the locks back.  Were it the
 * other way round, a transaction taking a lock next could change this
 * one's committed bytes and flush its own record of them, and a power cut
 * before this flush would find this log still counting: rolled back after
 * the other, it would leave this transaction half undone. */
static int close_log(struct hh_tx *t)
{
    int r = 0;
    if (t->h->durable) { /* (RAM: close_quiet's store is the one) */
        __atomic_store_n(&t->lane->log_state, hh_log_state(0),
                         __ATOMIC_RELEASE);
        r = hh_os_flush(t->h, t->lane_off, HH_LANE_HDR);
    }
    close_quiet(t);
    return r;
}

/* A committed DISK transaction's redo entries, put (back) in place and
 * flushed: a dead committer's, or one a power cut may have cut short. */
static int roll_forward(struct hh_tx *t, const struct walk *w)
{
    uint64_t hi = 0;
    for (uint64_t pos = w->redo_at; pos < w->end;) {
        const struct hh_entry *e = (const struct hh_entry *)log_at(t, pos);
        memcpy(t->h->base + e->off, e + 1, e->len);
        hi = e->off + e->len > hi ? e->off + e->len : hi;
        pos += sizeof *e + pad8(e->len);
    }
    hh_barrier(); /* every byte is in place before the log empties */
    int r = flush_all(t, hi);
    if (r < 0)
        return r;
    hh_crash("heap.rollback-done");
    close_quiet(t);
    return 0;
}

int hh_rollback_torn(struct hh_tx *t, int torn)
{
    struct walk w;
    int r = scan(t, torn, &w);
    if (r < 0) {
        __atomic_store_n(&t->h->hdr->damaged, t->no + 1ull, __ATOMIC_RELAXED);
        return r;
    }
    if (w.committed)
        return roll_forward(t, &w);
    for (uint64_t pos = w.last_undo, n = 0; pos != UINT64_MAX; n++) {
        const struct hh_entry *e = (const struct hh_entry *)log_at(t, pos);
        memcpy(t->h->base + e->off, e + 1, e->len);
        if (n == 1)
            hh_crash("heap.rollback");
        pos = e->back ? pos - e->back : UINT64_MAX;
    }
    hh_taken_restore(t, w.taken); /* over the bytes the entries put back */
    hh_barrier(); /* every byte is back before the log empties */
    if ((r = flush_targets(t, w.last_undo, 0)) < 0)
        return r;
    hh_crash("heap.rollback-done");
    return close_log(t);
}

/* A DISK commit in one flush: a redo entry of each saved range as the
 * transaction leaves it and of each new object, then the state "committed"
 * (the commit point), then one msync of one range.  1 if the redo entries
 * do not fit in the log (the caller takes the two-flush way), 0, or -errno
 * from the flush (the log is an undo log again: the caller rolls back). */
static int commit_redo(struct hh_tx *t)
{
    struct hr_heap *h = t->h;
    uint64_t undo_end = t->log_pos, undo_last = t->last_entry, need = 0;
    uint64_t seq = t->lane->tx_seq | HH_REDO, lo = UINT64_MAX, hi = 0;
    if (!undo_end && !t->nnews) {
        close_quiet(t); /* nothing changed: nothing to make durable */
        return 0;
    }
    for (uint64_t pos = 0; pos < undo_end;) {
        const struct hh_entry *e = (const struct hh_entry *)log_at(t, pos);
        need += sizeof *e + pad8(e->len);
        pos += sizeof *e + pad8(e->len);
    }
    for (size_t i = 0; i < t->nnews; i++)
        need += sizeof(struct hh_entry) + pad8(t->news[i].len);
    if (need > t->log_cap - t->log_pos)
        return 1;
    for (uint64_t pos = 0; pos < undo_end;) {
        const struct hh_entry *e = (const struct hh_entry *)log_at(t, pos);
        put_entry(t, e->off, h->base + e->off, e->len, seq);
        pos += sizeof *e + pad8(e->len);
    }
    for (size_t i = 0; i < t->nnews; i++)
        put_entry(t, t->news[i].off, h->base + t->news[i].off,
                  t->news[i].len, seq);
    span_of(t, undo_end, t->last_entry, &lo, &hi);
    hh_crash("heap.commit-redo");
    t->lane->commit_no = __atomic_add_fetch(&h->hdr->commits, 1,
                                            __ATOMIC_RELAXED);
    hh_barrier(); /* the redo entries are whole before the state counts them */
    /* COMMIT POINT: the log says committed; from here a rollback rolls
     * forward, and the flush makes it durable. */
    __atomic_store_n(&t->lane->log_state, hh_log_state_redo(t->log_pos),
                     __ATOMIC_RELEASE);
    hh_barrier();
    int r = flush_all(t, hi);
    if (r < 0) {
        __atomic_store_n(&t->lane->log_state,
                         hh_log_state_n(undo_end, t->ntaken),
                         __ATOMIC_RELEASE);
        t->log_pos = undo_end;
        t->last_entry = undo_last;
        return r;
    }
    hh_crash("heap.commit-flushed");
    close_quiet(t);
    return 0;
}

/* The two-flush commit (RAM, where flushes cost nothing, or redo too big
 * for the log): flush what the transaction wrote; then the commit point. */
static int commit_flushed(struct hh_tx *t)
{
    uint64_t last = t->log_pos ? t->last_entry : UINT64_MAX;
    int r = flush_targets(t, last, 1);
    if (r < 0)
        return r;
    hh_crash("heap.commit-flushed");
    hh_barrier();
    /* COMMIT POINT (close_log): the state word counts no entry. */
    return close_log(t);
}

/* The log's part of a commit.  The frees are applied before (heap.c). */
int hh_log_commit(struct hh_tx *t)
{
    int r = t->h->durable ? commit_redo(t) : 1;
    if (r == 1)
        r = commit_flushed(t);
    if (r < 0)
        return r;
    hh_crash("heap.committed");
    hh_os_record_commit(t->h);
    return 0;
}
