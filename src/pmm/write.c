/* SPDX-License-Identifier: MIT */
/*
 * write.c - the stores to a bank's metadata.
 *
 * Every byte of a published bank's metadata is written here, with pwrite()
 * under the bank's kernel lock: processes map the metadata read-only, so a
 * wild write in a user process can never reach it.  A checker's shadow
 * bank takes the same stores into its private copy, which is how the
 * checker runs the real redo code without touching the file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "hash.h"
#include "os/os.h"
#include "write.h"

int pmm__meta_write(struct pmm_bank *b, uint64_t off, const void *buf,
                    size_t len)
{
    if (off > b->g.data_off || len > b->g.data_off - off)
        return K_EBANK;
    if (b->shadow) {
        memcpy((uint8_t *)b->meta + off, buf, len);
        return 0;
    }
    return pmm__os_pwrite(b->fd, buf, len, off);
}

int pmm__meta_flush(struct pmm_bank *b)
{
    return b->durable && !b->shadow ? pmm__os_sync(b->fd) : 0;
}

int pmm__write_entry(struct pmm_bank *b, uint32_t idx, struct pmm_entry *e)
{
    e->sum = pmm__entry_sum(e);
    return pmm__meta_write(b, b->g.entries_off + (uint64_t)idx * sizeof *e, e,
                           sizeof *e);
}

int pmm__write_live(struct pmm_bank *b, struct pmm_live *l)
{
    l->sum = pmm__live_sum(l);
    return pmm__meta_write(b, PMM_LIVE_OFF, l, sizeof *l);
}

int pmm__write_bucket(struct pmm_bank *b, uint32_t bucket, uint32_t v)
{
    return pmm__meta_write(b, b->g.buckets_off + (uint64_t)bucket * 4, &v, 4);
}

/* Pages [page, page + n) marked used (on) or free, BM_CHUNK words a
 * pwrite(): no memory to allocate, so no way to fail after a commit
 * but the file's.  Every word is checked before any is written. */
#define BM_CHUNK 64
int pmm__bitmap_set(struct pmm_bank *b, uint64_t page, uint64_t n, int on)
{
    uint64_t w0 = page >> PMM_BM_SHIFT, w1 = (page + n - 1) >> PMM_BM_SHIFT;
    for (uint64_t w = w0; w <= w1; w++)
        if (!pmm_bm_ok(__atomic_load_n(&pmm__bitmap(b)[w], __ATOMIC_RELAXED)))
            return K_EBANK; /* never build on a damaged word */
    int r = 0;
    for (uint64_t c = w0; c <= w1 && r == 0; c += BM_CHUNK) {
        uint64_t buf[BM_CHUNK], nw = w1 - c + 1 < BM_CHUNK ? w1 - c + 1 : BM_CHUNK;
        for (uint64_t k = 0; k < nw; k++) {
            uint64_t w = c + k, lo = w << PMM_BM_SHIFT;
            uint32_t v = (uint32_t)__atomic_load_n(&pmm__bitmap(b)[w], __ATOMIC_RELAXED);
            uint64_t from = page > lo ? page : lo;
            uint64_t to = page + n < lo + PMM_BM_PAGES ? page + n : lo + PMM_BM_PAGES;
            for (uint64_t i = from; i < to; i++) {
                uint32_t m = 1u << (i & (PMM_BM_PAGES - 1));
                v = on ? v | m : v & ~m;
            }
            buf[k] = pmm_bm_make(v);
        }
        r = pmm__meta_write(b, b->g.bitmap_off + c * 8, buf, nw * 8);
    }
    return r;
}
