/* SPDX-License-Identifier: MIT */
/*
 * view.h - an open heap as this process holds it: the handle, its
 * transactions and the types its files share.  Types only: what each file
 * does with a heap is declared in that file's own header.
 *
 * The heap stands on pmm's public interface (<hotrestart/pmm.h>): its block
 * is a pmm block like any other.  The handle holds where the block is
 * mapped, whether it is DISK (flushes) and one transaction slot per lane:
 * the state of the transaction this process runs in that lane.  A slot is
 * touched only by the thread that owns its lane through this
 * handle; `me` (that thread's token, lane.c) alone is read by other threads
 * of the process, atomically, to find their own slot.
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

/* A transaction, in the lane `no` it holds. */
struct hh_tx {
    struct hr_heap *h;
    struct hh_lane *lane;   /* in the block */
    uint8_t *log;           /* the lane's log */
    uint64_t lane_off;      /* offset of the lane in the block */
    uint64_t log_cap;       /* bytes of the log */
    unsigned no;            /* lane number */
    uint64_t me;            /* token of the thread running it, 0 none */
    uint64_t lockval;       /* a lock word this transaction holds */
    int nlocks;             /* lock words taken (deadlock rule, lane.c) */
    int alloc_locked;       /* the allocator's lock is held */
    int doomed;             /* a change failed: commit rolls back */
    uint64_t log_pos;       /* bytes of the log written by this tx */
    uint64_t log_synced;    /* bytes of it known durable (DISK) */
    uint64_t last_entry;    /* log offset of the last entry written */
    unsigned ntaken;        /* slots of the lane's taken[] it filled */
    uint32_t tx_stamp;      /* this tx's number in the slot, never 0 */
    uint32_t root_stamp;    /* tx_stamp: the root was read in this tx */
    uint64_t root_seen;     /* the root's offset as then read */
    uint32_t hot_saved[HH_HDR_SIZE / 8]; /* tx_stamp: header word saved */
    struct hh_span recent[4]; /* ranges saved last: not saved again */
    unsigned nrecent;
    uint64_t *frees;        /* chunks freed by this tx, applied at commit;
                             * low bit 1: bound for the lane's cache */
    size_t nfrees, cap_frees;
    struct hh_span *news;   /* objects allocated by this tx (DISK flush) */
    size_t nnews, cap_news;
    uint64_t *popped;       /* chunks this tx took from its lane's cache */
    size_t npopped, cap_popped;
    uint64_t cache_seq;     /* the lane's tx_seq popped and pending are of */
    uint64_t cache_pending; /* bytes of queued frees bound for the cache */
    uint64_t cache_limit;   /* bytes the lane's cache may hold, 0 unknown */
} __attribute__((aligned(64))); /* slots of threads share no cache line */

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
    pthread_mutex_t record_mu; /* one flush recorded at a time */
    struct hh_pfile *pf;    /* the bank's presence file (presence.c) */
    unsigned nlanes;
    struct hh_tx tx[HH_MAX_LANES]; /* one per lane */
};

static inline struct hh_lane *hh_lane_at(const struct hr_heap *h, unsigned i)
{
    return (struct hh_lane *)(h->base + h->hdr->lanes_off +
                              (uint64_t)i * h->hdr->lane_size);
}

#endif
