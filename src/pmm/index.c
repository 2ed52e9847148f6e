/*
 * index.c - finding blocks by name and free pages in the bitmap.
 *
 * Names hash to one of nbuckets chains threaded through the entries, so a
 * lookup costs the same with 10 blocks or a million.  Lookups without the
 * lock (find_fast) run as seqlock readers over the read-only mapping: they
 * copy what they read, validate each copy's checksum and bounds, and retry
 * when the live record's sequence number moved.  Nothing read from the file
 * is trusted: every index is bounds-checked and chains are walked at most
 * max_blocks steps, so a damaged bank yields K_EBANK, never a crash.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "os/os.h"
#include "pmm_int.h"

#define FAST_TRIES 64

uint32_t pmm__bucket_of(const struct pmm_bank *b, const char *name)
{
    return (uint32_t)(pmm__name_hash(name) & (b->g.nbuckets - 1));
}

int pmm__entry_valid(const struct pmm_bank *b, const struct pmm_entry *e)
{
    if (e->state != PMM_E_LIVE || pmm__entry_sum(e) != e->sum)
        return 0;
    if (!e->name[0] || !memchr(e->name, 0, sizeof e->name))
        return 0;
    if (e->keylen > sizeof e->key || e->next > b->g.max_blocks)
        return 0;
    if (e->npages == 0 || e->page >= b->g.data_pages ||
        e->npages + 1 > b->g.data_pages - e->page)
        return 0;
    return 1;
}

int pmm__find_locked(struct pmm_bank *b, const char *name, uint32_t *idx,
                     uint32_t *pred)
{
    uint32_t j = pmm__buckets(b)[pmm__bucket_of(b, name)];
    uint32_t prev = PMM_NONE;
    for (uint64_t steps = 0; j != PMM_NONE; steps++) {
        if (j > b->g.max_blocks || steps >= b->g.max_blocks)
            return K_EBANK;
        const struct pmm_entry *e = pmm__entry(b, j - 1);
        if (!pmm__entry_valid(b, e))
            return K_EBANK;
        if (strcmp(e->name, name) == 0) {
            *idx = j - 1;
            if (pred)
                *pred = prev;
            return K_OK;
        }
        prev = j;
        j = e->next;
    }
    return K_EUNKNOWN;
}

static uint64_t seq_load(const struct pmm_bank *b)
{
    return __atomic_load_n(&pmm__live(b)->seq, __ATOMIC_ACQUIRE);
}

int pmm__seq_same(const struct pmm_bank *b, uint64_t seq)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(&pmm__live(b)->seq, __ATOMIC_RELAXED) == seq;
}

/* One optimistic walk; the result is meaningful only if seq did not move. */
static int walk(const struct pmm_bank *b, const char *name, uint32_t *idx,
                struct pmm_entry *copy)
{
    uint32_t j = pmm__buckets(b)[pmm__bucket_of(b, name)];
    for (uint64_t steps = 0; j != PMM_NONE; steps++) {
        if (j > b->g.max_blocks || steps >= b->g.max_blocks)
            return K_EBANK;
        memcpy(copy, pmm__entry(b, j - 1), sizeof *copy);
        if (!pmm__entry_valid(b, copy))
            return K_EBANK;
        if (strcmp(copy->name, name) == 0) {
            *idx = j - 1;
            return K_OK;
        }
        j = copy->next;
    }
    return K_EUNKNOWN;
}

int pmm__find_fast(struct pmm_bank *b, const char *name, uint32_t *idx,
                   struct pmm_entry *copy, uint64_t *seq)
{
    for (int t = 0; t < FAST_TRIES; t++) {
        uint64_t s = seq_load(b);
        if (s & 1) {
            sched_yield();
            continue;
        }
        int r = walk(b, name, idx, copy);
        if (pmm__seq_same(b, s)) {
            *seq = s;
            return r;
        }
    }
    /* A writer is slow or dead: take the lock, which also recovers. */
    int r = pmm__lock(b);
    if (r < 0)
        return r;
    r = pmm__find_locked(b, name, idx, NULL);
    if (r == K_OK)
        memcpy(copy, pmm__entry(b, *idx), sizeof *copy);
    *seq = pmm__live(b)->seq;
    pmm__unlock(b);
    return r;
}

/* Pages 32w..32w+31 as bits, or -1 for a damaged word (never used). */
static int64_t word_bits(const uint64_t *bm, uint64_t w)
{
    uint64_t v = __atomic_load_n(&bm[w], __ATOMIC_RELAXED);
    return pmm_bm_ok(v) ? (int64_t)(uint32_t)v : -1;
}

/* First run of n free pages starting in [start, end): 1 and *out, 0 for
 * none, K_EBANK for a damaged word on the way. */
static int find_run(const uint64_t *bm, uint64_t start, uint64_t end,
                    uint64_t n, uint64_t *out)
{
    uint64_t i = start, run = 0;
    while (i < end) {
        int64_t bits = word_bits(bm, i >> PMM_BM_SHIFT);
        if (bits < 0)
            return K_EBANK;
        uint32_t k = (uint32_t)(i & (PMM_BM_PAGES - 1));
        if (k == 0 && bits == 0 && end - i >= PMM_BM_PAGES) {
            run += PMM_BM_PAGES; /* a whole free word */
            i += PMM_BM_PAGES;
        } else if (k == 0 && bits == 0xffffffff) {
            run = 0;
            i += PMM_BM_PAGES;
        } else {
            run = bits >> k & 1 ? 0 : run + 1;
            i++;
        }
        if (run >= n) {
            *out = i - run;
            return 1;
        }
    }
    return 0;
}

int pmm__find_pages(struct pmm_bank *b, uint64_t n, uint64_t *page)
{
    uint64_t total = b->g.data_pages;
    uint64_t hint = pmm__live(b)->hint;
    if (n > total)
        return K_ENOMEM;
    if (hint >= total)
        hint = 0;
    int r = find_run(pmm__bitmap(b), hint, total, n, page);
    if (r != 0)
        return r < 0 ? r : K_OK;
    uint64_t end = hint + n - 1 < total ? hint + n - 1 : total;
    r = find_run(pmm__bitmap(b), 0, end, n, page);
    if (r != 0)
        return r < 0 ? r : K_OK;
    return K_ENOMEM;
}

int pmm__bitmap_set(struct pmm_bank *b, uint64_t page, uint64_t n, int on)
{
    uint64_t w0 = page >> PMM_BM_SHIFT, w1 = (page + n - 1) >> PMM_BM_SHIFT;
    uint64_t nw = w1 - w0 + 1, stackbuf[64];
    uint64_t *buf = nw <= 64 ? stackbuf : malloc(nw * 8);
    int r = 0;
    if (!buf)
        return -12; /* -ENOMEM */
    for (uint64_t w = w0; w <= w1 && r == 0; w++) {
        int64_t bits = word_bits(pmm__bitmap(b), w);
        if (bits < 0)
            r = K_EBANK; /* never build on a damaged word */
        buf[w - w0] = (uint64_t)bits;
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
