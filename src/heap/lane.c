/* SPDX-License-Identifier: MIT */
/*
 * lane.c - lanes and lock words: many transactions on one heap at once.
 *
 * A transaction runs in a lane, which it owns from begin to commit or
 * abort: one compare-and-swap of the lane's owner word from 0 to its
 * thread's owner word (presence.c), given back by one store; no mutex and
 * no system call on the way.  When every lane is busy the taker waits
 * (never fails): it yields, then sleeps on the header's wake word until a
 * lane is given back, and a give-back makes a system call only when a
 * sleeper said it sleeps (lane_wait).  A lane's owner that ends (its process killed, or its
 * thread ended by pthread_exit or a cancellation while its process lives
 * on) is known from its presence (hh_owner_lives): whoever meets such a
 * lane takes it over by a compare-and-swap of the dead owner's word to its
 * own, rolls its log back (log.c) and only then gives it back or runs in
 * it.  Whoever meets such a lane does it: a transaction looking for a
 * lane, one waiting for a lock word the dead transaction held, an opener
 * (hh_lanes_settle), the checker.  A rescuer that dies half-way leaves the
 * lane naming itself, dead, to the next: the rollback is idempotent.
 *
 * Who may change what: a transaction takes the lock word of every 64-byte
 * granule it adds to its log (hr_heap_add), the first granule's of an
 * object it frees (having found no other holding the rest: hh_guard_free),
 * and the allocator's lock word before it allocates or frees, and holds
 * them to its end.  A lock word
 * names the lane and the lane's sequence (format.h); it is held while that
 * lane still runs that sequence, so the end of a transaction (tx_seq + 1)
 * gives all its words back in one store, and a dead transaction's words
 * stay held until its rollback is done.  So no two transactions change the
 * same bytes at once, and a rollback puts back only bytes no one else has
 * changed since: undoing one transaction never undoes another's commit.
 *
 * Deadlock: transactions are ordered by age (the header's age counter
 * read at begin, then the lane number).  A transaction
 * that holds no lock word yet may wait for any holder (it cannot close a
 * cycle); one that holds some waits for an older holder only briefly, then
 * gives up with K_EBUSY: the caller aborts and retries.  An older one
 * waits.  No cycle of waits can form in one heap, so no deadlock.  A
 * thread that runs transactions in two heaps at once could close a cycle
 * through both (ages are per heap): its waits give up with K_EBUSY after
 * the same brief spin, whatever its age.  The thread's next
 * transaction after a K_EBUSY keeps the lost one's age, and the loser
 * moves the counter on, so that a retried transaction grows older than
 * every newcomer until it is the one that waits: none starves;
 * and it begins only once the transaction it lost to has ended, so that
 * it does not take back the locks that one waits for and lose again.
 *
 * A thread finds its own transactions in a small table of its own (TLS),
 * never by reading the slots other threads write.  A slot names its
 * thread by a token (hh_token), unique in the process for its life, so
 * that a rescuer can tell a dead thread's slot.
 */
#define _GNU_SOURCE
#include <errno.h>

#include "crash.h"
#include "lane.h"
#include "log.h"
#include "presence.h"
#include "os/os.h"

#define TLS __attribute__((tls_model("initial-exec")))
__thread struct hh_mine hh_mine[HH_MINE] TLS;
__thread unsigned hh_nmine TLS;
__thread uint64_t hh_me TLS;
static __thread uint64_t retry_age TLS; /* age of a transaction lost to
                                         * K_EBUSY, for the next one */
static __thread struct hr_heap *retry_h TLS; /* ... in this heap (NULL: none;
                                              * an age of 0 is an age) */
static __thread struct hr_heap *lost_h TLS; /* ... and the transaction it */
static __thread unsigned lost_lane TLS;     /* lost to: lane, sequence */
static __thread uint64_t lost_seq TLS;
static __thread unsigned home_n TLS, home TLS; /* hh_token() % home_n */
static uint64_t tokens;

#define HH_SPIN_DIE 256u /* tries before a younger waiter gives up */
#define HH_YIELDS   16u  /* yields before a waiter sleeps (lane_wait) */
#define HH_SLEEP_NS 2000000L /* a sleep's bound: a wake that was missed */

uint64_t hh_token(void)
{
    if (!hh_me)
        hh_me = __atomic_add_fetch(&tokens, 1, __ATOMIC_RELAXED);
    return hh_me;
}

/* A forked child runs none of its parent's transactions: it holds none of
 * their lanes. */
static void fork_child(void)
{
    hh_nmine = 0;
    lost_h = NULL;
    retry_h = NULL;
}

__attribute__((constructor)) static void register_fork_child(void)
{
    pthread_atfork(NULL, NULL, fork_child);
}

void hh_lane_verify(struct hr_heap *h)
{
    if (hh_presence_verify(h->pf) == 1)
        fork_child();
}

void hh_forget(struct hr_heap *h)
{
    for (unsigned i = 0; i < hh_nmine;)
        if (hh_mine[i].h == h)
            hh_mine[i] = hh_mine[--hh_nmine];
        else
            i++;
}

void hh_slot_init(struct hr_heap *h, unsigned i)
{
    struct hh_tx *t = &h->tx[i];
    t->h = h;
    t->no = i;
    t->lane = hh_lane_at(h, i);
    t->lane_off = (uint64_t)((uint8_t *)t->lane - h->base);
    t->log = (uint8_t *)t->lane + HH_LANE_HDR;
    t->log_cap = h->hdr->lane_size - HH_LANE_HDR;
    t->tx_stamp = 1;
}

/* Try to own lane i for this thread: 0 owned (it was free), EOWNERDEAD
 * owned (its owner had ended: its transaction is to be rolled back),
 * EBUSY a live owner has it, EDEADLK this thread has it, or -errno. */
static int lane_try(struct hr_heap *h, unsigned i)
{
    uint64_t me, *o = &hh_lane_at(h, i)->owner;
    int r = hh_presence(h->pf, &me);
    if (r < 0)
        return r;
    for (;;) {
        uint64_t w = __atomic_load_n(o, __ATOMIC_ACQUIRE);
        int lives = w ? hh_owner_lives(h->pf, w) : 0;
        if (lives)
            return lives == 2 ? EDEADLK : EBUSY;
        if (__atomic_compare_exchange_n(o, &w, me, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return w ? EOWNERDEAD : 0;
    }
}

/* Give lane i back (its log is empty, or damaged and left for the next
 * to find so), and wake the threads that sleep for a lane or a lock word,
 * if one may: a load of a line no one writes but them, no system call
 * otherwise. */
static void lane_free(struct hr_heap *h, unsigned i)
{
    struct hh_hdr *d = h->hdr;
    __atomic_store_n(&hh_lane_at(h, i)->owner, 0, __ATOMIC_RELEASE);
    if (__builtin_expect(__atomic_load_n(&d->lane_wait, __ATOMIC_RELAXED),
                         0)) {
        __atomic_store_n(&d->lane_wait, 0, __ATOMIC_RELAXED);
        __atomic_add_fetch(&d->lane_wakes, 1, __ATOMIC_RELEASE);
        pmm__os_futex_wake(&d->lane_wakes);
    }
}

/* Wait for a lane to be given back (which ends its transaction and gives
 * back its lock words): yield the first HH_YIELDS times (*round counts),
 * then sleep on the header's wake word, having said so (lane_wait), until
 * a giver wakes the sleepers, or HH_SLEEP_NS pass: a lane given back
 * between this thread's look and its lane_wait store may wake no one, and
 * an owner that dies gives nothing back, so the sleep is bounded and the
 * caller looks again (judging owners: a dead one's lane is rescued). */
static void lane_wait(struct hr_heap *h, unsigned *round)
{
    struct hh_hdr *d = h->hdr;
    if ((*round)++ < HH_YIELDS) {
        pmm__os_yield();
        return;
    }
    uint32_t seen = __atomic_load_n(&d->lane_wakes, __ATOMIC_ACQUIRE);
    __atomic_store_n(&d->lane_wait, 1, __ATOMIC_SEQ_CST);
    pmm__os_futex_wait(&d->lane_wakes, seen, HH_SLEEP_NS);
}

/* This thread owns lane i (r: what lane_try said): make its log empty,
 * rolling back a dead owner's transaction.  0, or the error (then the
 * lane is given back). */
static int settle_lane(struct hr_heap *h, unsigned i, int r)
{
    struct hh_tx *t = &h->tx[i];
    struct hh_lane *l = t->lane;
    if (r != 0 && r != EOWNERDEAD)
        return r < 0 ? r : -r;
    __atomic_store_n(&t->me, 0, __ATOMIC_RELAXED); /* a dead thread's slot */
    if (r == EOWNERDEAD)
        hh_crash("heap.owner-dead");
    /* a dead owner's transaction is ended even with an empty log: its
     * sequence moves on, which gives back the lock words it took */
    int rr = r == EOWNERDEAD || (__atomic_load_n(&l->log_state,
                                                 __ATOMIC_RELAXED) !=
                                 hh_log_state(0) && hh_log_live(t))
             ? hh_rollback(t) : 0;
    if (rr < 0)
        lane_free(h, i); /* the log still counts: the next finds it */
    return rr;
}

/* This thread now runs a transaction in lane i. */
static void claim(struct hr_heap *h, unsigned i)
{
    struct hh_tx *t = &h->tx[i];
    hh_tx_reset(t);
    /* read, not moved on: a transaction that loses moves it (a cycle
     * counter read costs 13 ns on a VM) */
    uint64_t age = __atomic_load_n(&h->hdr->ages, __ATOMIC_RELAXED);
    if (retry_h == h) /* run again after K_EBUSY: as old as the first try */
        age = retry_age;
    retry_h = NULL; /* (another heap's ages are not this one's) */
    __atomic_store_n(&t->lane->age, age, __ATOMIC_RELAXED);
    t->lockval = (uint64_t)(i + 1) << 56 | (t->lane->tx_seq & HH_SEQ_MASK);
    __atomic_store_n(&t->me, hh_token(), __ATOMIC_RELAXED);
    hh_mine[hh_nmine++] = (struct hh_mine){h, t};
    hh_crash("heap.lane-taken");
}

static int holder_alive(struct hr_heap *h, unsigned i);

/* After K_EBUSY, the transaction that won has the lock words: let it end
 * before this thread runs again, or the retry takes them back first and
 * loses again.  Nothing is held while waiting: no deadlock. */
static void wait_for_winner(struct hr_heap *h)
{
    if (lost_h != h)
        return;
    if (hh_nmine) { /* this thread holds another heap's words: the winner
                     * may be waiting for them (a cycle through two heaps) */
        lost_h = NULL;
        return;
    }
    struct hh_lane *l = hh_lane_at(h, lost_lane);
    unsigned round = 0;
    while ((__atomic_load_n(&l->tx_seq, __ATOMIC_ACQUIRE) & HH_SEQ_MASK) ==
               lost_seq && holder_alive(h, lost_lane) == 1)
        lane_wait(h, &round);
    lost_h = NULL;
}

int hh_lane_take(struct hr_heap *h, struct hh_tx **out)
{
    if (hh_nmine == HH_MINE)
        return K_ETX;
    wait_for_winner(h); /* hr_heap_begin has run hh_lane_verify */
    unsigned n = h->nlanes;
    if (home_n != n) { /* the thread's first lane: no division per begin */
        home = (unsigned)(hh_token() % n);
        home_n = n;
    }
    unsigned start = home;
    unsigned busy = 0, bad = 0, round = 0;
    for (unsigned k = 0, i = start;; k++, i = i + 1 < n ? i + 1 : 0) {
        if (k && i == start) { /* every lane taken: wait (never fail) */
            if (!busy) /* by this thread, or damaged: none will come */
                return bad ? K_EHEAP : K_ETX;
            /* ... unless this thread runs another heap's transaction: the
             * lanes' holders may wait for its words (a cycle through two
             * heaps), so after the yields it gives up, as its lock waits
             * do (hh_lock_slow) */
            if (hh_nmine && round >= HH_YIELDS)
                return K_EBUSY;
            busy = bad = 0;
            lane_wait(h, &round);
        }
        int r = lane_try(h, i);
        busy += r == EBUSY;
        if (r == EBUSY || r == EDEADLK)
            continue;
        if ((r = settle_lane(h, i, r)) == K_EHEAP) {
            bad++;
            continue; /* a damaged lane: not used */
        }
        if (r < 0)
            return r;
        claim(h, i);
        *out = &h->tx[i];
        return 0;
    }
}

int hh_lane_take_first(struct hr_heap *h, struct hh_tx **out)
{
    hh_lane_verify(h);
    if (hh_nmine == HH_MINE)
        return K_ETX;
    wait_for_winner(h);
    for (unsigned i = 0; i < h->nlanes; i++) {
        unsigned round = 0;
        int r;
        while ((r = lane_try(h, i)) == EBUSY)
            lane_wait(h, &round);
        if (r == EDEADLK)
            return K_ETX;
        if ((r = settle_lane(h, i, r)) == K_EHEAP)
            continue; /* a damaged lane: given back, not used */
        if (r < 0)
            return r;
        claim(h, i);
        *out = &h->tx[i];
        return 0;
    }
    return K_EHEAP;
}

void hh_lane_give(struct hh_tx *t)
{
    for (unsigned i = 0; i < hh_nmine; i++)
        if (hh_mine[i].t == t) {
            hh_mine[i] = hh_mine[--hh_nmine];
            break;
        }
    __atomic_store_n(&t->me, 0, __ATOMIC_RELAXED);
    lane_free(t->h, t->no);
}

int hh_lanes_settle(struct hr_heap *h)
{
    int bad = 0;
    hh_lane_verify(h); /* a rescue takes a lane under this thread's word */
    for (unsigned i = 0; i < h->nlanes; i++) {
        int r = lane_try(h, i);
        if (r == EBUSY || r == EDEADLK)
            continue;
        if ((r = settle_lane(h, i, r)) == 0)
            lane_free(h, i);
        else if (r == K_EHEAP)
            bad = 1;
        else
            return r;
    }
    return bad ? K_EHEAP : 0;
}

int hh_lane_hold(struct hr_heap *h, unsigned i, int wait)
{
    int r;
    unsigned round = 0;
    hh_lane_verify(h);
    while ((r = lane_try(h, i)) == EBUSY && wait)
        lane_wait(h, &round);
    if (r == EBUSY || r == EDEADLK)
        return r == EDEADLK ? 2 : 1;
    return settle_lane(h, i, r);
}

void hh_lane_release(struct hr_heap *h, unsigned i)
{
    lane_free(h, i);
}

int hh_lane_inspect(struct hr_heap *h, unsigned i, uint64_t *bytes,
                    char *msg, size_t len)
{
    struct hh_tx *t = &h->tx[i];
    uint64_t state = __atomic_load_n(&t->lane->log_state, __ATOMIC_RELAXED);
    /* the entries' bytes, and the taken[] slots (8 bytes each) that
     * record chunks taken from the lane's cache in place of entries */
    *bytes = hh_state_end(state) + 8 * (uint64_t)hh_state_taken(state);
    int r = hh_lane_hold(h, i, 0);
    if (r == 2)
        r = 1;
    if (r == 0) {
        hh_lane_release(h, i);
        *bytes = 0;
    } else if (r == K_EHEAP) {
        hh_log_damage(t, msg, len);
    }
    return r;
}

/* Is lane i's transaction alive?  1 yes; 2 yes, this thread's (which
 * hr_heap_begin refuses: waited for, it would never end); 0 it has ended
 * (its lane was free, or its dead owner is rolled back now); K_EHEAP its
 * log is damaged. */
static int holder_alive(struct hr_heap *h, unsigned i)
{
    int r = lane_try(h, i);
    if (r == EBUSY || r == EDEADLK)
        return r == EDEADLK ? 2 : 1;
    if ((r = settle_lane(h, i, r)) < 0)
        return r;
    lane_free(h, i);
    return 0;
}

/* Is t older than the transaction of lane i? */
static int older(const struct hh_tx *t, unsigned i)
{
    uint64_t a = __atomic_load_n(&t->lane->age, __ATOMIC_RELAXED);
    uint64_t b = __atomic_load_n(&hh_lane_at(t->h, i)->age, __ATOMIC_RELAXED);
    return a < b || (a == b && t->no < i);
}

int hh_lock_slow(struct hh_tx *t, uint64_t *w)
{
    struct hr_heap *h = t->h;
    for (unsigned spin = 0;; spin++) {
        uint64_t cur = __atomic_load_n(w, __ATOMIC_ACQUIRE);
        if (cur == t->lockval)
            return 0;
        unsigned i = (unsigned)(cur >> 56) - 1;
        if (!cur || i >= h->nlanes ||
            (__atomic_load_n(&hh_lane_at(h, i)->tx_seq, __ATOMIC_ACQUIRE) &
             HH_SEQ_MASK) != (cur & HH_SEQ_MASK)) {
            /* free, or its transaction has ended: take it */
            if (__atomic_compare_exchange_n(w, &cur, t->lockval, 0,
                                            __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                t->nlocks++;
                hh_crash("heap.lock-word");
                return 0;
            }
            continue;
        }
        int r = holder_alive(h, i);
        if (r < 0 || r == 2)
            return t->doomed = r < 0 ? r : K_ETX;
        if (r == 0)
            continue;
        /* a younger holder of words gives up; so does any waiter whose
         * thread runs a transaction in another heap too (hh_nmine > 1):
         * ages order one heap's transactions, not a cycle through two */
        if (spin >= HH_SPIN_DIE &&
            ((t->nlocks && !older(t, i)) || hh_nmine > 1)) {
            retry_age = __atomic_load_n(&t->lane->age, __ATOMIC_RELAXED);
            retry_h = h;
            /* transactions that begin from now on are younger */
            __atomic_fetch_add(&h->hdr->ages, 1, __ATOMIC_RELAXED);
            lost_h = h;
            lost_lane = i;
            lost_seq = cur & HH_SEQ_MASK;
            return t->doomed = K_EBUSY;
        }
        if (spin % 32 == 31) { /* contended: let the holder run */
            unsigned round = spin / 32;
            lane_wait(h, &round); /* a holder's end gives its lane back */
        }
    }
}
