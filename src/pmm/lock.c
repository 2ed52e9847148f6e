/* SPDX-License-Identifier: MIT */
/*
 * lock.c - a bank's writer lock, and the recovery it runs.
 *
 * The lock is an open-file-description lock on the bank file, which the
 * kernel drops when its holder dies, taken after the process's own mutex
 * b->mu.  Whoever takes it as a writer first looks at the live record: an
 * odd sequence number without a log, a log whose last store is not there
 * (pmm__log_applied; a RAM bank keeps the log of its last, complete,
 * update) or a bad checksum means a writer died mid-update, and recovery
 * runs before anything else, here and nowhere else.  Recovery redoes a committed log (update.c's pmm__apply(), which is
 * idempotent), closes an update that died before its commit point, and
 * hands anything it cannot trust to the repair (repair.c).  With update.c
 * and repair.c, the only writer of a published bank's metadata.
 *
 * A bank file that someone truncated under us would kill the process with
 * SIGBUS at the first read of a page of the mapping past the new end: the
 * lock first reads the last byte of the metadata under a SIGBUS guard
 * (os/fault.c) and answers K_EBANK if it is gone; lock-free lookups
 * (block.c) run whole under the guard.  Neither costs a system call.  A
 * retrieve of a block already mapped in this process reads only that
 * block's entry, and its caller is about to touch the block's pages, which
 * such a truncation takes away too: that path does not look.
 */
#define _GNU_SOURCE
#include <errno.h>

#include "hash.h"
#include "index.h"
#include "lock.h"
#include "os/os.h"
#include "repair.h"
#include "update.h"
#include "write.h"

int pmm__needs_recovery(const struct pmm_bank *b)
{
    const struct pmm_live *l = pmm__live(b);
    if (pmm__live_sum(l) != l->sum)
        return 1;
    if (l->op == PMM_OP_NONE)
        return (int)(l->seq & 1);
    return !pmm__log_applied(b, l); /* a RAM bank's last update: done */
}

static int recover(struct pmm_bank *b)
{
    struct pmm_live l = *pmm__live(b);
    if (pmm__live_sum(&l) != l.sum || l.op == PMM_OP_REPAIR)
        return pmm__repair(b, NULL, NULL);
    if (l.op == PMM_OP_NONE) {
        if (!(l.seq & 1))
            return 0;
        l.seq++; /* died before its commit point: nothing to redo */
        return pmm__write_live(b, &l);
    }
    if (!pmm__log_valid(b, &l))
        return pmm__repair(b, NULL, NULL);
    /* a redo that meets damage on its way (a bitmap word that does not
     * check) would meet it again at every next taker, and lock everyone
     * out, a repair included: the bank is rebuilt from its entries
     * instead (the update's block is then as its entry says) */
    int r = pmm__apply(b, &l);
    return r == K_EBANK ? pmm__repair(b, NULL, NULL) : r;
}

static int touch_last(void *arg)
{
    const struct pmm_bank *b = arg;
    return *(volatile const uint8_t *)(b->meta + b->meta_len - 1) * 0;
}

int pmm__intact(const struct pmm_bank *b)
{
    if (b->shadow)
        return K_OK;
    /* a file only shrinks from its end: if the last byte of the metadata
     * is there, all of it is */
    int r = pmm__os_guarded(b->meta, b->meta_len, touch_last, (void *)b);
    return r == -EFAULT ? K_EBANK : r;
}

/* A thread cancelled while it holds b->mu (the wait for the file's lock,
 * writes and flushes are cancellation points) would leave mu held for the
 * process's other threads, and the file's lock for every process: the
 * holder cannot be cancelled from before it takes mu until it gives it
 * back; a cancellation asked for meanwhile is acted on at its next
 * cancellation point.  mu is recursive (a lookup that falls back to the
 * lock takes it again): only the outermost take saves the thread's
 * cancelability and only the outermost give restores it. */
void pmm__mu_lock(struct pmm_bank *b)
{
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    pthread_mutex_lock(&b->mu);
    if (b->mu_depth++ == 0)
        b->cancel_old = old;
}

void pmm__mu_unlock(struct pmm_bank *b)
{
    int old = b->cancel_old, last = --b->mu_depth == 0;
    pthread_mutex_unlock(&b->mu);
    if (last)
        pthread_setcancelstate(old, NULL);
}

int pmm__lock(struct pmm_bank *b)
{
    pmm__mu_lock(b);
    if (b->shadow)
        return K_OK;
    int r = pmm__os_lock(b->fd, !b->rdonly);
    if (r == 0 && (r = pmm__intact(b)) < 0)
        pmm__os_unlock(b->fd);
    if (r < 0) {
        pmm__mu_unlock(b);
        return r;
    }
    if (b->rdonly) /* a reader sees what is there; writers recover */
        return K_OK;
    if (pmm__needs_recovery(b) && (r = recover(b)) < 0) {
        pmm__unlock(b);
        return r;
    }
    return K_OK;
}

void pmm__unlock(struct pmm_bank *b)
{
    if (!b->shadow)
        pmm__os_unlock(b->fd);
    pmm__mu_unlock(b);
}
