/* SPDX-License-Identifier: MIT */
/*
 * heap.c - the public calls: opening (format, a new boot's lock, recovery
 * of a dead holder) and the transaction calls that check their caller.
 *
 * Opening runs in two steps.  Under the open lock (an OFD lock the kernel
 * drops with its holder, sys.c): a block whose header page is all zero, or
 * whose format was cut short (HH_CLAIM), is formatted, magic last; a heap
 * whose lock was made under another boot id (a DISK heap after a reboot or
 * a power cut) has its log rolled back and its mutex made again.  Then the
 * heap's own lock is taken once, which rolls back a dead holder's
 * transaction (lock.c), and given back.
 *
 * A transaction belongs to one handle and the thread that began it: every
 * call inside one checks that this thread runs it through this handle
 * (tx_ok) before it touches the heap, and once a change could not be saved
 * in the log (doomed) the transaction can only end in a rollback.  Frees
 * are queued and applied at commit (alloc.c says why).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "check.h"
#include "crash.h"
#include "lock.h"
#include "log.h"
#include "os/os.h"
#include "sys.h"

#define HH_LOG_MIN (16ull << 10)
#define HH_LOG_MAX (16ull << 20)

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

static int identity_ok(const struct hr_heap *h)
{
    const struct hh_hdr *d = h->hdr;
    return d->version == HH_VERSION && d->layout_sig == hh_layout_sig() &&
           d->size == h->size && d->base == (uint64_t)(uintptr_t)h->base &&
           d->log_off == HH_HDR_SIZE && d->log_size % 4096 == 0 &&
           d->log_size >= HH_LOG_MIN && d->log_size <= HH_LOG_MAX &&
           d->arena_off == d->log_off + d->log_size &&
           d->arena_off < d->size && d->arena_size == d->size - d->arena_off &&
           d->arena_size >= 4096;
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
    d->log_off = HH_HDR_SIZE;
    uint64_t log = (h->size / 8) & ~4095ull;
    d->log_size = log < HH_LOG_MIN ? HH_LOG_MIN : log > HH_LOG_MAX ? HH_LOG_MAX
                                                                   : log;
    d->arena_off = d->log_off + d->log_size;
    d->arena_size = h->size - d->arena_off;
    d->tx_seq = 1;
    d->log_state = hh_log_state(0);
    hh_arena_format(d);
    int r = hh_lock_init(d);
    if (r < 0)
        return r;
    hh_os_boot_id(d->boot);
    if ((r = hh_os_flush(h, 0, h->size)) < 0)
        return r;
    hh_crash("heap.format");
    hh_barrier();
    d->magic = HH_MAGIC; /* COMMIT POINT of the format: it is a heap */
    return hh_os_flush(h, 0, HH_HDR_SIZE);
}

/* Under the open lock: format, or check, and remake a past boot's lock. */
static int prepare(struct hr_heap *h)
{
    struct hh_hdr *d = h->hdr;
    int r;
    if (d->magic == HH_CLAIM || (d->magic != HH_MAGIC && zero_page(h->base)))
        return format(h);
    if (d->magic != HH_MAGIC)
        return K_ENOTHEAP;
    if (!identity_ok(h))
        return K_EHEAP;
    uint8_t boot[16];
    hh_os_boot_id(boot);
    if (memcmp(boot, d->boot, sizeof boot) == 0)
        return 0;
    /* No process of this boot has opened the heap: nobody holds its lock,
     * whatever the mutex's bytes say. */
    if ((r = hh_rollback_torn(h, h->durable)) < 0)
        return r;
    hh_crash("heap.new-boot");
    if ((r = hh_lock_init(d)) < 0)
        return r;
    memcpy(d->boot, boot, sizeof boot);
    return hh_os_flush(h, 0, HH_HDR_SIZE);
}

/* Roll back what a dead process left: take the lock once.  inspect: a
 * damaged log is left for hr_heap_check to name (HR_HEAP_INSPECT). */
static int settle(struct hr_heap *h, int inspect)
{
    int r = hh_lock(h);
    if (r == K_ETX)
        return 0; /* this thread holds it through another handle: alive */
    if (r == K_EHEAP && inspect)
        return 0;
    if (r < 0)
        return r;
    if (hh_log_live(h))
        r = hh_rollback(h);
    hh_unlock(h);
    return r == K_EHEAP && inspect ? 0 : r;
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
    r = prepare(h);
    hh_os_open_unlock(fd);
    return r < 0 ? r : settle(h, inspect);
}

int hr_heap_open(hr_heap **out, pmm_bank *bank, const char *name, size_t size,
                 const void *key, size_t keylen, unsigned flags)
{
    if (!out || !bank || !name)
        return K_EFAULT;
    *out = NULL;
    if (flags & ~(HR_HEAP_RETRIEVE | HR_HEAP_EXCL | HR_HEAP_INSPECT))
        return K_EINVAL;
    if (!(flags & HR_HEAP_RETRIEVE) &&
        (size < HR_HEAP_MIN_SIZE || size > HR_HEAP_MAX_SIZE))
        return K_EINVAL;
    unsigned pf = (flags & HR_HEAP_RETRIEVE ? PMM_RETRIEVE : 0) |
                  (flags & HR_HEAP_EXCL ? PMM_EXCL : 0);
    void *addr;
    pmm_block blk;
    int r = pmm_alloc(bank, name, size ? size : 1, key, keylen, pf, &addr, &blk);
    if (r < 0)
        return r;
    if (blk.flags & PMM_B_ELSEWHERE)
        return -EADDRINUSE;
    struct hr_heap *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    h->bank = bank;
    snprintf(h->name, sizeof h->name, "%s", name);
    h->base = addr;
    h->hdr = addr;
    h->size = blk.size;
    h->page = (uint64_t)pmm__os_page_size();
    h->tx_stamp = 1;
    hh_crash_arm();
    hh_os_record_open(h);
    if ((r = attach(h, &blk, (flags & HR_HEAP_INSPECT) != 0)) < 0)
        goto fail_attach;
    *out = h;
    return 0;

fail_attach:
    hh_os_record_close(h);
    free(h);
    return r;
}

void hr_heap_close(hr_heap *h)
{
    if (!h)
        return;
    if (hh_in_my_tx(h))
        hr_heap_abort(h);
    hh_os_record_close(h);
    free(h->frees);
    free(h->news);
    free(h);
}

int hr_heap_root(hr_heap *h, void **root)
{
    if (!h || !root)
        return K_EFAULT;
    uint64_t off = __atomic_load_n(&h->hdr->root, __ATOMIC_ACQUIRE);
    *root = off ? h->base + off : NULL;
    return 0;
}

/* The offset of p in the heap, or UINT64_MAX if p lies outside it. */
static uint64_t offset_of(const hr_heap *h, const void *p)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)h->base;
    return a >= b && a - b < h->size ? (uint64_t)(a - b) : UINT64_MAX;
}

/* The checks every call inside a transaction starts with. */
static int tx_ok(hr_heap *h)
{
    if (!h)
        return K_EFAULT;
    if (!hh_in_my_tx(h))
        return K_ETX;
    return h->doomed;
}

int hr_heap_set_root(hr_heap *h, void *root)
{
    int r = tx_ok(h);
    if (r < 0)
        return r;
    uint64_t off = root ? offset_of(h, root) : 0;
    if (root && (off == UINT64_MAX || hh_object(h, off, NULL) < 0))
        return K_EINVAL;
    if ((r = hh_log_hot(h, &h->hdr->root)) < 0)
        return r;
    __atomic_store_n(&h->hdr->root, off, __ATOMIC_RELEASE);
    return 0;
}

int hr_heap_begin(hr_heap *h)
{
    if (!h)
        return K_EFAULT;
    if (hh_in_my_tx(h))
        return K_ETX;
    int r = hh_lock(h);
    if (r < 0)
        return r;
    hh_tx_reset(h);
    if (hh_log_live(h) && (r = hh_rollback(h)) < 0) {
        hh_unlock(h);
        return r;
    }
    return 0;
}

/* Apply the queued frees (logged like every change), then the log's
 * commit (log.c).  Any failure rolls the whole transaction back. */
static int commit(struct hr_heap *h)
{
    int r = h->doomed;
    for (size_t i = 0; r == 0 && i < h->nfrees; i++)
        r = hh_free(h, h->frees[i]);
    if (r == 0) {
        hh_crash("heap.commit-frees");
        r = hh_log_commit(h);
    }
    if (r < 0) {
        h->doomed = 0;
        hh_rollback(h);
    }
    return r;
}

int hr_heap_commit(hr_heap *h)
{
    if (!h)
        return K_EFAULT;
    if (!hh_in_my_tx(h))
        return K_ETX;
    int r = commit(h);
    hh_unlock(h);
    return r;
}

int hr_heap_abort(hr_heap *h)
{
    if (!h)
        return K_EFAULT;
    if (!hh_in_my_tx(h))
        return K_ETX;
    int r = hh_rollback(h);
    hh_tx_reset(h);
    hh_unlock(h);
    return r;
}

int hr_heap_add(hr_heap *h, void *p, size_t len)
{
    int r = tx_ok(h);
    if (r < 0)
        return r;
    uint64_t off = offset_of(h, p), lo = h->hdr->arena_off;
    uint64_t hi = lo + h->hdr->arena_size - sizeof(struct hh_chunk);
    if (!len || off == UINT64_MAX || off < lo || off >= hi || len > hi - off)
        return K_EINVAL;
    return hh_log(h, p, len);
}

int hr_heap_set64(hr_heap *h, uint64_t *p, uint64_t v)
{
    if ((uintptr_t)p % 8)
        return K_EINVAL;
    int r = hr_heap_add(h, p, sizeof *p);
    if (r == 0)
        __atomic_store_n(p, v, __ATOMIC_RELAXED);
    return r;
}

int hr_heap_write(hr_heap *h, void *dst, const void *src, size_t len)
{
    if (!src && len)
        return K_EFAULT;
    int r = hr_heap_add(h, dst, len);
    if (r == 0)
        memcpy(dst, src, len);
    return r;
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return K_ENOMEM;
    *arr = p;
    *cap = c;
    return 0;
}

int hr_heap_alloc(hr_heap *h, size_t size, unsigned flags, void **out)
{
    int r = tx_ok(h);
    if (r < 0)
        return r;
    if (!out)
        return K_EFAULT;
    if (!size || (flags & ~HR_HEAP_ZERO))
        return K_EINVAL;
    if (size > h->hdr->arena_size)
        return K_ENOMEM;
    uint64_t need = (size + sizeof(struct hh_chunk) + HH_ALIGN - 1) &
                    ~(uint64_t)(HH_ALIGN - 1);
    uint64_t off;
    if ((r = hh_alloc(h, need, &off)) < 0) {
        if (r == K_EHEAP)
            h->doomed = r;
        return r;
    }
    uint8_t *p = h->base + off + sizeof(struct hh_chunk);
    uint64_t n = (((struct hh_chunk *)(h->base + off))->size & ~HH_FLAGS) -
                 sizeof(struct hh_chunk);
    if (flags & HR_HEAP_ZERO)
        memset(p, 0, n);
    *out = p;
    return 0;
}

int hr_heap_free(hr_heap *h, void *p)
{
    int r = tx_ok(h);
    if (r < 0 || !p)
        return r;
    uint64_t off = offset_of(h, p);
    if (off == UINT64_MAX || hh_object(h, off, NULL) < 0)
        return K_EINVAL;
    off -= sizeof(struct hh_chunk);
    for (size_t i = 0; i < h->nfrees; i++)
        if (h->frees[i] == off)
            return K_EINVAL;
    if (grow((void **)&h->frees, &h->cap_frees, h->nfrees, sizeof *h->frees))
        return K_ENOMEM;
    h->frees[h->nfrees++] = off;
    return 0;
}

int hr_heap_usable(hr_heap *h, const void *p, size_t *size)
{
    if (!h || !p || !size)
        return K_EFAULT;
    uint64_t off = offset_of(h, p), cs;
    if (off == UINT64_MAX || hh_object(h, off, &cs) < 0)
        return K_EINVAL;
    *size = cs - sizeof(struct hh_chunk);
    return 0;
}

static int locked_check(hr_heap *h, void (*fn)(const char *, void *),
                        void *arg, hr_heap_info *info)
{
    if (!h)
        return K_EFAULT;
    if (hh_in_my_tx(h))
        return hh_check(h, fn, arg, info, 1);
    int r = hh_lock(h);
    if (r < 0)
        return r;
    r = hh_check(h, fn, arg, info, 0);
    hh_unlock(h);
    return r;
}

int hr_heap_check(hr_heap *h, void (*fn)(const char *, void *), void *arg)
{
    return locked_check(h, fn, arg, NULL);
}

int hr_heap_stat(hr_heap *h, hr_heap_info *out)
{
    if (!out)
        return K_EFAULT;
    return locked_check(h, NULL, NULL, out);
}
