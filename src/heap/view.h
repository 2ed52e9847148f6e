/* SPDX-License-Identifier: MIT */
/*
 * view.h - an open heap as this process holds it: the handle and the types
 * its files share.  Types only: what each file does with a heap is declared
 * in that file's own header.
 *
 * The heap stands on pmm's public interface (<hotrestart/pmm.h>): its block
 * is a pmm block like any other.  The handle holds where the block is
 * mapped, whether it is DISK (flushes) and, while a transaction runs, that
 * transaction's state.  The transaction state is touched only by the thread
 * that holds the heap's lock through this handle (owner, lock.c); in_tx
 * alone is read by other threads, atomically.
 */
#ifndef HR_HEAP_VIEW_H
#define HR_HEAP_VIEW_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <hotrestart/heap.h>

#include "format.h"

struct hh_span {
    uint64_t off, len;
};

struct hr_heap {
    pmm_bank *bank;
    char name[PMM_NAME_MAX];
    uint8_t *base;          /* the block; hdr == (void *)base */
    struct hh_hdr *hdr;
    uint64_t size;
    uint64_t page;          /* page size, for flushes */
    int durable;            /* DISK: flush the log and commits */
    int record_fd;          /* HR_HEAP_FLUSHLOG: flushes recorded, or -1 */
    uint8_t *record_snap;   /* the block as last recorded */

    /* the transaction of this handle, under the heap's lock */
    pthread_t owner;        /* valid while in_tx */
    int in_tx;              /* read by other threads: atomically */
    int doomed;             /* a change failed: commit rolls back */
    uint64_t log_pos;       /* bytes of the log written by this tx */
    uint64_t log_synced;    /* bytes of it known durable (DISK) */
    uint64_t last_entry;    /* log offset of the last entry written */
    uint32_t tx_stamp;      /* this tx's number in the handle, never 0 */
    uint32_t hot_saved[HH_HDR_SIZE / 8]; /* tx_stamp: header word saved */
    struct hh_span recent[4]; /* ranges saved last: not saved again */
    unsigned nrecent;
    uint64_t *frees;        /* objects freed by this tx, applied at commit */
    size_t nfrees, cap_frees;
    struct hh_span *news;   /* objects allocated by this tx (DISK flush) */
    size_t nnews, cap_news;
};

#endif
