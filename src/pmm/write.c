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
#include <stdlib.h>
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

int pmm__bitmap_set(struct pmm_bank *b, uint64_t page, uint64_t n, int on)
{
    uint64_t w0 = page >> PMM_BM_SHIFT, w1 = (page + n - 1) >> PMM_BM_SHIFT;
    uint64_t nw = w1 - w0 + 1, stackbuf[64];
    uint64_t *buf = nw <= 64 ? stackbuf : malloc(nw * 8);
    int r = 0;
    if (!buf)
        return -ENOMEM;
    for (uint64_t w = w0; w <= w1 && r == 0; w++) {
        uint64_t v = __atomic_load_n(&pmm__bitmap(b)[w], __ATOMIC_RELAXED);
        if (!pmm_bm_ok(v))
            r = K_EBANK; /* never build on a damaged word */
        buf[w - w0] = (uint32_t)v;
    }
    for (uint64_t i = page; i < page + n && r == 0; i++) {
        uint64_t m = 1ull << (i & (PMM_BM_PAGES - 1));
        if (on)
            buf[(i >> PMM_BM_SHIFT) - w0] |= m;
        else
            buf[(i >> PMM_BM_SHIFT) - w0] &= ~m;
    }
    for (uint64_t k = 0; k < nw && r == 0; k++)
        buf[k] = pmm_bm_make((uint32_t)buf[k]);
    if (r == 0)
        r = pmm__meta_write(b, b->g.bitmap_off + w0 * 8, buf, nw * 8);
    if (buf != stackbuf)
        free(buf);
    return r;
}
