/* SPDX-License-Identifier: MIT */
/*
 * lock.h - taking the store's lock (struct mc_share's rwlock) without a
 * sleep for each wait.
 *
 * The store's writers run one at a time and hold the lock for one heap
 * transaction, a few microseconds; with several workers, most waits end
 * within one such hold.  A wait that blocks in the kernel at once costs
 * a sleep and a wake-up on both sides, more than the hold itself: on two
 * idle cores, hrcached -t 2 ran 50/50 sets of 100 bytes at a fifth of
 * -t 1's rate, 65% of its time switching tasks.  So a taker first tries
 * again for a while (pause between tries), then gives the processor away
 * between tries (a holder that was preempted, as with more workers than
 * cores, gets to run and let go), and only then blocks; the rwlock keeps
 * its order (writers first) for those that block.
 *
 * The figures (bench/load.sh, hrcached_throughput_*): MC_LOCK_SPINS and
 * MC_LOCK_YIELDS chosen on this project's 2-core machine, where the
 * 4-worker cells need the yields and the 2-worker ones the spins.
 */
#ifndef HRCACHED_LOCK_H
#define HRCACHED_LOCK_H

#include <pthread.h>
#include <sched.h>

#define MC_LOCK_SPINS  400 /* tries with a pause between */
#define MC_LOCK_YIELDS 50  /* then tries with sched_yield between */

static inline void mc_lock_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Take l with try (a trylock), spinning, yielding, then with take. */
static inline void mc_lock_take(pthread_rwlock_t *l,
                                int (*try)(pthread_rwlock_t *),
                                int (*take)(pthread_rwlock_t *))
{
    for (int i = 0; i < MC_LOCK_SPINS; i++) {
        if (try(l) == 0)
            return;
        mc_lock_pause();
    }
    for (int i = 0; i < MC_LOCK_YIELDS; i++) {
        if (try(l) == 0)
            return;
        sched_yield();
    }
    take(l);
}

static inline void mc_lock_write(pthread_rwlock_t *l)
{
    mc_lock_take(l, pthread_rwlock_trywrlock, pthread_rwlock_wrlock);
}

static inline void mc_lock_read(pthread_rwlock_t *l)
{
    mc_lock_take(l, pthread_rwlock_tryrdlock, pthread_rwlock_rdlock);
}

#endif
