/* SPDX-License-Identifier: MIT */
/*
 * view.h - an open bank as this process holds it, and read-only views of
 * its metadata.  Types and inline accessors only: what each file does with
 * a bank is declared in that file's own header.
 *
 * A bank is opened once per process (handles are counted) and holds:
 *  - the bank file's descriptor, whose open-file-description lock serialises
 *    writers across processes (the kernel drops it when a holder dies);
 *  - a read-only shared mapping of the metadata, read without locks by
 *    lookups that validate against the live record's sequence number;
 *  - the process's table of mapped blocks, so that a retrieve of a block
 *    already mapped costs no system call.
 * `mu` serialises the threads of this process; it is taken before the file
 * lock, never after.
 *
 * Internal calls (pmm__*) are not exported: the library is built with
 * hidden visibility, and only PMM_API names leave it.
 */
#ifndef HR_PMM_VIEW_H
#define HR_PMM_VIEW_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include <hotrestart/pmm.h>

#include "layout.h"

struct pmm_map {           /* one block mapped in this process */
    uint64_t hash;         /* pmm__name_hash(name); 0: empty slot */
    uint32_t idx;          /* entry index */
    uint32_t gen;          /* entry generation when mapped */
    void *addr;
    size_t len;            /* bytes mapped (whole pages) */
    int elsewhere;         /* not at the fixed address */
    int tomb;              /* removed slot, kept for probing */
    char name[PMM_NAME_MAX];
};

struct pmm_bank {
    struct pmm_bank *next; /* process-wide list of open banks */
    int refs;
    dev_t dev;
    ino_t ino;
    char path[4096];
    char medium[PMM_MEDIUM_MAX];
    int fd;
    int rdonly;
    int shadow;            /* checker copy: meta is private, writes land in it */
    int durable;           /* DISK: flush at every ordering point */
    int huge_now;          /* a huge-page bank on a file system that gives
                              huge pages now (pmm__os_huge_fs at open) */
    pthread_mutex_t mu;
    int cancel_old;        /* the holder of mu's cancelability before it
                              took mu (lock.c) */
    int mu_depth;          /* how many times its holder has taken mu */
    struct pmm_geom g;     /* validated copy of the geometry */
    uint64_t file_len;     /* bytes the file is known to hold: it only grows,
                              and an allocation that needs more looks again */
    uint64_t resv;         /* file pages below this one were reserved by
                              this process (update.c's reserve_ahead) */
    const uint8_t *meta;   /* read-only mapping of [0, data_off) */
    size_t meta_len;
    size_t page;
    struct pmm_map *maps;  /* open-addressed table, capacity a power of 2 */
    size_t maps_cap, maps_used;
};

/* Views into the read-only metadata mapping. */
static inline const struct pmm_live *pmm__live(const struct pmm_bank *b)
{
    return (const struct pmm_live *)(b->meta + PMM_LIVE_OFF);
}
static inline const struct pmm_entry *pmm__entry(const struct pmm_bank *b,
                                                 uint32_t idx)
{
    return (const struct pmm_entry *)(b->meta + b->g.entries_off) + idx;
}
static inline const uint32_t *pmm__buckets(const struct pmm_bank *b)
{
    return (const uint32_t *)(b->meta + b->g.buckets_off);
}
static inline const uint64_t *pmm__bitmap(const struct pmm_bank *b)
{
    return (const uint64_t *)(b->meta + b->g.bitmap_off);
}

#endif
