/* SPDX-License-Identifier: MIT */
/*
 * open.c - opening a heap: its format, a new boot's lanes, and the
 * rollback of whatever dead transactions left.
 *
 * Opening runs in two steps.  Under the open lock (an OFD lock the kernel
 * drops with its holder, sys.c): a block whose header page is all zero, or
 * whose format was cut short (HH_CLAIM), is formatted, magic last; a heap
 * whose lanes were last made free under another boot id (a DISK heap
 * after a reboot or a power cut) has every lane's log rolled back, its
 * lanes made free and its lock words cleared (no transaction of a past
 * boot holds anything).  The bank's presence file is mapped first
 * (presence.c).  Then every lane whose owner is dead is rolled back
 * (lane.c).  A heap of another format version or layout is refused with
 * K_EHEAP, never read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "crash.h"
#include "lane.h"
#include "log.h"
#include "os/os.h"
#include "pmm/bank.h"
#include "pmm/view.h" /* the bank's file, as its handle holds it */
#include "presence.h"
#include "sys.h"

#define HH_LANE_MIN (16ull << 10)
#define HH_LANE_MAX (1ull << 20)
#define HH_LOCKS_MIN 1024ull
#define HH_LOCKS_MAX 65536ull
static_assert(HH_LANE_MAX <= 1u << HH_END_BITS, "a log's end fits its state");

static int zero_page(const uint8_t *p)
{
    for (size_t i = 0; i < HH_HDR_SIZE; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w)
            return 0;
    }
    return 1;
}

static uint64_t page_up(uint64_t n)
{
    return (n + 4095) & ~4095ull;
}

static int identity_ok(const struct hr_heap *h)
{
    const struct hh_hdr *d = h->hdr;
    return d->version == HH_VERSION && d->layout_sig == hh_layout_sig() &&
           d->size == h->size && d->base == (uint64_t)(uintptr_t)h->base &&
           d->lanes_off == HH_HDR_SIZE && d->nlanes >= 1 &&
           d->nlanes <= HH_MAX_LANES && d->lane_size % 4096 == 0 &&
           d->lane_size >= HH_LANE_MIN && d->lane_size <= HH_LANE_MAX &&
           d->locks_off == d->lanes_off + d->nlanes * d->lane_size &&
           d->nlocks >= HH_LOCKS_MIN && d->nlocks <= HH_LOCKS_MAX &&
           (d->nlocks & (d->nlocks - 1)) == 0 &&
           d->arena_off == page_up(d->locks_off + d->nlocks * 8) &&
           d->arena_off < d->size && d->arena_size == d->size - d->arena_off &&
           d->arena_size >= 4096;
}

static void slots_init(struct hr_heap *h)
{
    h->nlanes = (unsigned)h->hdr->nlanes;
    for (unsigned i = 0; i < h->nlanes; i++)
        hh_slot_init(h, i);
}

/* The geometry of a new heap of h->size bytes: lanes by size (2 to 16),
 * an eighth of the block for their logs, a lock word per KiB. */
static void geometry(struct hr_heap *h)
{
    struct hh_hdr *d = h->hdr;
    uint64_t n = h->size / (128u << 10);
    d->nlanes = n < 2 ? 2 : n > HH_MAX_LANES ? HH_MAX_LANES : n;
    uint64_t lane = (h->size / 8 / d->nlanes) & ~4095ull;
    d->lane_size = lane < HH_LANE_MIN ? HH_LANE_MIN
                 : lane > HH_LANE_MAX ? HH_LANE_MAX : lane;
    d->lanes_off = HH_HDR_SIZE;
    d->locks_off = d->lanes_off + d->nlanes * d->lane_size;
    uint64_t locks = HH_LOCKS_MIN;
    while (locks < HH_LOCKS_MAX && locks * 2 * 1024 <= h->size)
        locks *= 2;
    d->nlocks = locks;
    d->arena_off = page_up(d->locks_off + d->nlocks * 8);
    d->arena_size = h->size - d->arena_off;
}

static int format(struct hr_heap *h)
{
    struct hh_hdr *d = h->hdr;
    d->magic = HH_CLAIM;
    memset((uint8_t *)d + 8, 0, HH_HDR_SIZE - 8);
    d->version = HH_VERSION;
    d->layout_sig = hh_layout_sig();
    d->size = h->size;
    d->base = (uint64_t)(uintptr_t)h->base;
    geometry(h);
    if (d->arena_off + 4096 > h->size)
        return K_EINVAL;
    memset(h->base + d->lanes_off, 0, d->arena_off - d->lanes_off);
    slots_init(h);
    for (unsigned i = 0; i < h->nlanes; i++) {
        struct hh_lane *l = hh_lane_at(h, i);
        l->owner = 0;
        l->tx_seq = 1;
        l->log_state = hh_log_state(0);
    }
    d->lock_inits = 1;
    hh_arena_format(d);
    d->presence_id = hh_presence_id(h->pf);
    int r = hh_os_boot_id(d->boot);
    if (r < 0 || (r = hh_os_flush(h, 0, h->size)) < 0)
        return r;
    hh_crash("heap.format");
    hh_barrier();
    d->magic = HH_MAGIC; /* COMMIT POINT of the format: it is a heap */
    return hh_os_flush(h, 0, HH_HDR_SIZE);
}

/* The logs a past boot left: first the committed ones rolled forward, in
 * the order of their commits (a later commit may have changed an earlier
 * one's bytes), then the others rolled back (each saved bytes that the
 * commits before it left: no later commit touched them).  torn: a power
 * cut may have torn them (a DISK heap of another boot: log.c); in the same
 * boot a record that does not check is damage, and refused. */
static int settle_past_boot(struct hr_heap *h, int torn)
{
    unsigned order[HH_MAX_LANES], n = 0;
    uint64_t no[HH_MAX_LANES];
    int r, forward[HH_MAX_LANES];
    for (unsigned i = 0; i < h->nlanes; i++) {
        forward[i] = hh_log_rolls_forward(&h->tx[i], torn, &no[i]);
        if (!forward[i])
            continue;
        unsigned k = n++; /* insertion sort by commit number */
        for (; k > 0 && no[order[k - 1]] > no[i]; k--)
            order[k] = order[k - 1];
        order[k] = i;
    }
    for (unsigned k = 0; k < n; k++)
        if ((r = hh_rollback_torn(&h->tx[order[k]], torn)) < 0)
            return r;
    for (unsigned i = 0; i < h->nlanes; i++)
        if (!forward[i] && (r = hh_rollback_torn(&h->tx[i], torn)) < 0)
            return r;
    return 0;
}

/* Under the open lock (fd): format, or check, and remake the lanes of a
 * past boot or of a presence file no process maps any more. */
static int prepare(struct hr_heap *h, int fd)
{
    struct hh_hdr *d = h->hdr;
    int r;
    if (d->magic == HH_CLAIM || (d->magic != HH_MAGIC && zero_page(h->base)))
        return format(h);
    if (d->magic != HH_MAGIC)
        return K_ENOTHEAP;
    if (!identity_ok(h))
        return K_EHEAP;
    slots_init(h);
    uint8_t boot[16];
    if ((r = hh_os_boot_id(boot)) < 0)
        return r;
    uint64_t pid = hh_presence_id(h->pf);
    int boot_same = memcmp(boot, d->boot, sizeof boot) == 0;
    if (boot_same && d->presence_id == pid)
        return 0;
    /* The owner words were written under another presence file (its
     * name removed and the file made again): judged by this one, a live
     * owner could read as dead.  Only once no process maps that one
     * (presence.c) are they all dead. */
    if (boot_same && (r = hh_presence_gone(fd, d->presence_id)) < 0)
        return r;
    /* No process of this boot, or none that maps the file the owner words
     * name, has opened the heap: nobody holds a lane or a lock word,
     * whatever their bytes say. */
    if ((r = settle_past_boot(h, h->durable && !boot_same)) < 0)
        return r;
    hh_crash("heap.new-boot");
    for (unsigned i = 0; i < h->nlanes; i++)
        hh_lane_at(h, i)->owner = 0;
    memset(h->base + d->locks_off, 0, d->nlocks * 8);
    d->alloc_lock = 0;
    d->lock_inits++;
    memcpy(d->boot, boot, sizeof boot);
    d->presence_id = pid;
    return hh_os_flush(h, 0, d->arena_off);
}

/* Is the file at the bank's path (fd) the one the handle maps?  Not if
 * the bank was removed and made again (a site destroyed and made again)
 * since the handle was opened: the locks and the presence file named by
 * the path are then the new bank's, and judged by them a live owner of
 * the old bank's heap could read as dead.  0, or -ESTALE. */
static int same_bank(const pmm_bank *bank, int fd)
{
    const struct pmm_bank *b = bank;
    dev_t dev;
    ino_t ino;
    int r = pmm__os_size(fd, NULL, NULL, NULL, &dev, &ino);
    if (r == 0 && (dev != b->dev || ino != b->ino))
        r = -ESTALE;
    return r;
}

static int attach(struct hr_heap *h, const pmm_block *blk, int inspect)
{
    pmm_bank_info bi;
    int r = pmm_bank_stat(h->bank, &bi);
    if (r < 0)
        return r;
    h->durable = bi.durable;
    if (blk->size < HR_HEAP_MIN_SIZE || blk->size > HR_HEAP_MAX_SIZE)
        return K_ENOTHEAP;
    int fd = hh_os_open_lock(bi.path, (uint64_t)((uintptr_t)h->base - bi.base));
    if (fd < 0)
        return fd;
    r = same_bank(h->bank, fd);
    if (r == 0)
        r = prepare(h, fd);
    hh_os_open_unlock(fd);
    if (r < 0)
        return r;
    /* what dead owners left; inspect: a damaged log is left for the
     * checker to name (HR_HEAP_INSPECT) */
    r = hh_lanes_settle(h);
    return r == K_EHEAP && inspect ? 0 : r;
}

int hr_heap_open(hr_heap **out, pmm_bank *bank, const char *name, size_t size,
                 const void *key, size_t keylen, unsigned flags)
{
    if (!out || !bank || !name)
        return K_EFAULT;
    *out = NULL;
    if (flags & ~(HR_HEAP_RETRIEVE | HR_HEAP_EXCL | HR_HEAP_INSPECT |
                  HR_HEAP_POPULATE | HR_HEAP_POPULATE_BG) ||
        (flags & HR_HEAP_POPULATE && flags & HR_HEAP_POPULATE_BG))
        return K_EINVAL;
    if (!(flags & HR_HEAP_RETRIEVE) &&
        (size < HR_HEAP_MIN_SIZE || size > HR_HEAP_MAX_SIZE))
        return K_EINVAL;
    unsigned pf = (flags & HR_HEAP_RETRIEVE ? PMM_RETRIEVE : 0) |
                  (flags & HR_HEAP_EXCL ? PMM_EXCL : 0) |
                  (flags & HR_HEAP_POPULATE ? PMM_POPULATE : 0) |
                  (flags & HR_HEAP_POPULATE_BG ? PMM_POPULATE_BG : 0);
    /* first, with nothing to undo: its lock's wait may be cancelled */
    pmm_bank_info bi;
    struct hh_pfile *pres;
    int r = pmm_bank_stat(bank, &bi);
    if (r < 0 || (r = hh_presence_map(bank->fd, bi.path, &pres)) < 0)
        return r;
    void *addr;
    pmm_block blk;
    r = pmm_alloc(bank, name, size ? size : 1, key, keylen, pf, &addr, &blk);
    if (r < 0)
        return r;
    if (blk.flags & PMM_B_ELSEWHERE)
        return -EADDRINUSE;
    size_t hsize = (sizeof(struct hr_heap) + 63) & ~(size_t)63;
    struct hr_heap *h = aligned_alloc(64, hsize); /* its slots' alignment */
    if (!h)
        return -ENOMEM;
    memset(h, 0, hsize);
    h->bank = bank;
    h->pf = pres;
    snprintf(h->name, sizeof h->name, "%s", name);
    h->base = addr;
    h->hdr = addr;
    h->size = blk.size;
    h->page = (uint64_t)pmm__os_page_size();
    pthread_mutex_init(&h->record_mu, NULL);
    hh_crash_arm();
    hh_os_record_open(h);
    /* not cancelled half-way: the open lock's wait and a DISK heap's
     * flushes are cancellation points, and a cancellation there would
     * leave the lock's descriptor held, and the next openers waiting */
    int cancel;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    r = attach(h, &blk, (flags & HR_HEAP_INSPECT) != 0);
    pthread_setcancelstate(cancel, NULL);
    if (r < 0)
        goto fail_attach;
    pmm__bank_ref(bank); /* its block stays mapped while h is open */
    *out = h;
    return 0;

fail_attach:
    hh_os_record_close(h);
    pthread_mutex_destroy(&h->record_mu);
    free(h);
    return r;
}

void hr_heap_close(hr_heap *h)
{
    if (!h)
        return;
    hh_lane_verify(h); /* a _Fork() child's inherited one is not its own */
    if (hh_my_tx(h))
        hr_heap_abort(h);
    hh_forget(h);
    hh_os_record_close(h);
    for (unsigned i = 0; i < HH_MAX_LANES; i++) {
        free(h->tx[i].frees);
        free(h->tx[i].news);
        free(h->tx[i].popped);
    }
    pthread_mutex_destroy(&h->record_mu);
    pmm_bank *bank = h->bank;
    free(h);
    pmm_bank_close(bank); /* the reference open took */
}
