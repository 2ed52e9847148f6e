/* SPDX-License-Identifier: MIT */
/*
 * lock.c - the heap's lock: a robust, process-shared, error-checking
 * pthread mutex inside the heap's header.
 *
 * Uncontended, taking and giving it back are one atomic instruction each in
 * user space (glibc registers the robust list once per thread, at its
 * start): no system call on the update path.  When its holder dies, the
 * kernel hands the next taker EOWNERDEAD; that taker rolls the dead
 * holder's transaction back from the undo log (its entries still carry the
 * running sequence number) and only then marks the mutex consistent.  If it
 * dies during the rollback, the next taker gets EOWNERDEAD again and redoes
 * it: the rollback is idempotent (log.c).
 *
 * A mutex is trusted only within the boot that made it (hdr->boot): on a
 * DISK heap, a mutex left locked before a reboot or power cut has no
 * holder the kernel knows of and would block for ever.  heap.c remakes it
 * under the open lock (sys.c) when the boot id differs.
 */
#define _GNU_SOURCE
#include <errno.h>

#include "crash.h"
#include "lock.h"
#include "log.h"

int hh_lock_init(struct hh_hdr *hdr)
{
    pthread_mutexattr_t a;
    int r = pthread_mutexattr_init(&a);
    if (r)
        return -r;
    if ((r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) ||
        (r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) ||
        (r = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK)) ||
        (r = pthread_mutex_init(&hdr->mu, &a))) {
        pthread_mutexattr_destroy(&a);
        return -r;
    }
    pthread_mutexattr_destroy(&a);
    hdr->lock_inits++;
    return 0;
}

/* Take the lock for h's transaction.  K_ETX if this thread holds it. */
int hh_lock(struct hr_heap *h)
{
    int r = pthread_mutex_lock(&h->hdr->mu);
    if (r == EOWNERDEAD) {
        hh_crash("heap.owner-dead");
        int rr = hh_rollback(h);
        pthread_mutex_consistent(&h->hdr->mu);
        if (rr < 0) {
            /* the log still counts: the next begin tries the rollback again */
            pthread_mutex_unlock(&h->hdr->mu);
            return rr;
        }
        r = 0;
    }
    if (r == EDEADLK)
        return K_ETX;
    if (r == ENOTRECOVERABLE)
        return K_EHEAP;
    if (r)
        return -r;
    h->owner = pthread_self();
    __atomic_store_n(&h->in_tx, 1, __ATOMIC_RELEASE);
    return 0;
}

void hh_unlock(struct hr_heap *h)
{
    __atomic_store_n(&h->in_tx, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&h->hdr->mu);
}

/* Does this thread run a transaction through h? */
int hh_in_my_tx(struct hr_heap *h)
{
    return __atomic_load_n(&h->in_tx, __ATOMIC_ACQUIRE) &&
           pthread_equal(h->owner, pthread_self());
}
