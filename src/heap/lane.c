/* SPDX-License-Identifier: MIT */
/*
 * lane.c - lanes and lock words: many transactions on one heap at once.
 *
 * A transaction runs in a lane, which it holds through the lane's robust,
 * process-shared mutex from begin to commit or abort.  Taking a free lane
 * and giving it back are one atomic instruction each in user space; when
 * every lane is busy the taker waits on one (never fails).  A lane's owner
 * that dies (its process killed, or its thread ended by pthread_exit or a
 * cancellation while its process lives on) is known from the kernel: the
 * next thread to try its mutex gets EOWNERDEAD, rolls the lane's log back
 * (log.c) and only then marks the mutex consistent.  Whoever meets such a
 * lane does it: a transaction looking for a lane, one waiting for a lock
 * word the dead transaction held, an opener (hh_lanes_settle), the checker.
 * A rescuer that dies half-way leaves EOWNERDEAD to the next: the rollback
 * is idempotent.
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
 * waits.  No cycle of waits can form, so no deadlock.  The thread's next
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
#include "os/os.h"

#define TLS __attribute__((tls_model("initial-exec")))
__thread struct hh_mine hh_mine[HH_MINE] TLS;
__thread unsigned hh_nmine TLS;
__thread uint64_t hh_me TLS;
static __thread uint64_t retry_age TLS; /* age of a transaction lost to
                                         * K_EBUSY, for the next one */
static __thread struct hr_heap *lost_h TLS; /* ... and the transaction it */
static __thread unsigned lost_lane TLS;     /* lost to: lane, sequence */
static __thread uint64_t lost_seq TLS;
static __thread unsigned home_n TLS, home TLS; /* hh_token() % home_n */
static uint64_t tokens;

#define HH_SPIN_DIE 256u /* tries before a younger waiter gives up */

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
    retry_age = 0;
}

__attribute__((constructor)) static void register_fork_child(void)
{
    pthread_atfork(NULL, NULL, fork_child);
}

void hh_forget(struct hr_heap *h)
{
    for (unsigned i = 0; i < hh_nmine;)
        if (hh_mine[i].h == h)
            hh_mine[i] = hh_mine[--hh_nmine];
        else
            i++;
}

int hh_lane_init(struct hh_lane *l)
{
    pthread_mutexattr_t a;
    int r = pthread_mutexattr_init(&a);
    if (r)
        return -r;
    if ((r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) ||
        (r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) ||
        (r = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK)) ||
        (r = pthread_mutex_init(&l->mu, &a))) {
        pthread_mutexattr_destroy(&a);
        return -r;
    }
    pthread_mutexattr_destroy(&a);
    return 0;
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

/* This process holds lane i's mutex (r: what locking it said): make its
 * log empty, rolling back a dead owner's transaction.  0, or the error
 * (then the mutex is given back). */
static int settle_lane(struct hr_heap *h, unsigned i, int r)
{
    struct hh_tx *t = &h->tx[i];
    struct hh_lane *l = t->lane;
    if (r == ENOTRECOVERABLE)
        return K_EHEAP;
    if (r != 0 && r != EOWNERDEAD)
        return -r;
    __atomic_store_n(&t->me, 0, __ATOMIC_RELAXED); /* a dead thread's slot */
    if (r == EOWNERDEAD)
        hh_crash("heap.owner-dead");
    /* a dead owner's transaction is ended even with an empty log: its
     * sequence moves on, which gives back the lock words it took */
    int rr = r == EOWNERDEAD || (__atomic_load_n(&l->log_state,
                                                 __ATOMIC_RELAXED) !=
                                 hh_log_state(0) && hh_log_live(t))
             ? hh_rollback(t) : 0;
    if (r == EOWNERDEAD)
        pthread_mutex_consistent(&l->mu);
    if (rr < 0)
        pthread_mutex_unlock(&l->mu); /* the log still counts */
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
    if (retry_age) { /* run again after K_EBUSY: as old as the first try */
        age = retry_age;
        retry_age = 0;
    }
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
    struct hh_lane *l = hh_lane_at(h, lost_lane);
    while ((__atomic_load_n(&l->tx_seq, __ATOMIC_ACQUIRE) & HH_SEQ_MASK) ==
               lost_seq && holder_alive(h, lost_lane) == 1)
        pmm__os_yield();
    lost_h = NULL;
}

int hh_lane_take(struct hr_heap *h, struct hh_tx **out)
{
    if (hh_nmine == HH_MINE)
        return K_ETX;
    wait_for_winner(h);
    unsigned n = h->nlanes;
    if (home_n != n) { /* the thread's first lane: no division per begin */
        home = (unsigned)(hh_token() % n);
        home_n = n;
    }
    unsigned start = home;
    for (unsigned k = 0, i = start; k < n; k++, i = i + 1 < n ? i + 1 : 0) {
        int r = pthread_mutex_trylock(&hh_lane_at(h, i)->mu);
        if (r == EBUSY)
            continue;
        if ((r = settle_lane(h, i, r)) == K_EHEAP)
            continue; /* a damaged lane: not used */
        if (r < 0)
            return r;
        claim(h, i);
        *out = &h->tx[i];
        return 0;
    }
    int r = pthread_mutex_lock(&hh_lane_at(h, start)->mu);
    if (r == EDEADLK)
        return K_ETX;
    if ((r = settle_lane(h, start, r)) < 0)
        return r;
    claim(h, start);
    *out = &h->tx[start];
    return 0;
}

int hh_lane_take_first(struct hr_heap *h, struct hh_tx **out)
{
    if (hh_nmine == HH_MINE)
        return K_ETX;
    wait_for_winner(h);
    for (unsigned i = 0; i < h->nlanes; i++) {
        int r = pthread_mutex_lock(&hh_lane_at(h, i)->mu);
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
    pthread_mutex_unlock(&t->lane->mu);
}

int hh_lanes_settle(struct hr_heap *h)
{
    int bad = 0;
    for (unsigned i = 0; i < h->nlanes; i++) {
        int r = pthread_mutex_trylock(&hh_lane_at(h, i)->mu);
        if (r == EBUSY)
            continue;
        if ((r = settle_lane(h, i, r)) == 0)
            pthread_mutex_unlock(&hh_lane_at(h, i)->mu);
        else if (r == K_EHEAP)
            bad = 1;
        else
            return r;
    }
    return bad ? K_EHEAP : 0;
}

int hh_lane_hold(struct hr_heap *h, unsigned i, int wait)
{
    struct hh_lane *l = hh_lane_at(h, i);
    int r = wait ? pthread_mutex_lock(&l->mu) : pthread_mutex_trylock(&l->mu);
    if (r == EBUSY || r == EDEADLK)
        return r == EDEADLK ? 2 : 1;
    return settle_lane(h, i, r);
}

void hh_lane_release(struct hr_heap *h, unsigned i)
{
    pthread_mutex_unlock(&hh_lane_at(h, i)->mu);
}

int hh_lane_inspect(struct hr_heap *h, unsigned i, uint64_t *bytes,
                    char *msg, size_t len)
{
    struct hh_tx *t = &h->tx[i];
    *bytes = hh_state_end(__atomic_load_n(&t->lane->log_state,
                                          __ATOMIC_RELAXED));
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

/* Is lane i's transaction alive?  1 yes; 0 it has ended (its lane was
 * free, or its dead owner is rolled back now); K_EHEAP its log is
 * damaged. */
static int holder_alive(struct hr_heap *h, unsigned i)
{
    int r = pthread_mutex_trylock(&hh_lane_at(h, i)->mu);
    if (r == EBUSY)
        return 1;
    if ((r = settle_lane(h, i, r)) < 0)
        return r;
    pthread_mutex_unlock(&hh_lane_at(h, i)->mu);
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
        if (r < 0)
            return t->doomed = r;
        if (r == 0)
            continue;
        if (t->nlocks && !older(t, i) && spin >= HH_SPIN_DIE) {
            retry_age = __atomic_load_n(&t->lane->age, __ATOMIC_RELAXED);
            /* transactions that begin from now on are younger */
            __atomic_fetch_add(&h->hdr->ages, 1, __ATOMIC_RELAXED);
            lost_h = h;
            lost_lane = i;
            lost_seq = cur & HH_SEQ_MASK;
            return t->doomed = K_EBUSY;
        }
        if (spin % 32 == 31)
            pmm__os_yield(); /* contended: let the holder run */
    }
}
