/* SPDX-License-Identifier: MIT */
/*
 * index.c - finding blocks by name and free pages in the bitmap.
 *
 * Names hash to one of nbuckets chains threaded through the entries, so a
 * lookup costs the same with 10 blocks or a million.  Lookups without the
 * lock (find_fast) run as seqlock readers over the read-only mapping: they
 * copy what they read, validate each copy's checksum and bounds, and retry
 * when the live record's sequence number moved.  An odd one is a bank at
 * rest when the update it logs has made its last store (pmm__log_applied:
 * a RAM bank leaves the log of its last update in place, update.c), else
 * a writer at work.  A reader that keeps losing the race hands over to
 * its caller, which looks under the lock (and so recovers a dead writer's
 * update).  Nothing read from the file
 * is trusted: every index is bounds-checked and chains are walked at most
 * max_blocks steps, so a damaged bank yields K_EBANK, never a crash.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "hash.h"
#include "index.h"
#include "os/os.h"

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
    /* the pages and the guard page after them fit, compared without
     * adding: npages + 1 would wrap for the largest npages */
    if (e->npages == 0 || e->page >= b->g.data_pages ||
        e->npages >= b->g.data_pages - e->page)
        return 0;
    /* its file pages fit below PMM_MAX_FILE_DATA (the mark: verify.c) */
    uint64_t cap = PMM_MAX_FILE_DATA / b->g.page_size;
    if (e->fpage > cap || e->npages > cap - e->fpage)
        return 0;
    return 1;
}

int pmm__entry_zero(const struct pmm_entry *e)
{
    static const struct pmm_entry z;
    return memcmp(e, &z, sizeof z) == 0;
}

int pmm__chain_step(const struct pmm_bank *b, uint32_t j, uint64_t steps,
                    struct pmm_entry *copy, const struct pmm_entry **e)
{
    if (j > b->g.max_blocks || steps >= b->g.max_blocks)
        return PMM_CHAIN_BAD_LINK;
    *e = pmm__entry(b, j - 1);
    if (copy) {
        memcpy(copy, *e, sizeof *copy);
        *e = copy;
    }
    return pmm__entry_valid(b, *e) ? PMM_CHAIN_OK : PMM_CHAIN_BAD_ENTRY;
}

/* The walk of name's chain, locked or not (see pmm__chain_step). */
static int walk(const struct pmm_bank *b, const char *name, uint32_t *idx,
                uint32_t *pred, struct pmm_entry *copy)
{
    uint32_t j = pmm__buckets(b)[pmm__bucket_of(b, name)];
    uint32_t prev = PMM_NONE;
    for (uint64_t steps = 0; j != PMM_NONE; steps++) {
        const struct pmm_entry *e;
        if (pmm__chain_step(b, j, steps, copy, &e) != PMM_CHAIN_OK)
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

int pmm__find_locked(const struct pmm_bank *b, const char *name,
                     uint32_t *idx, uint32_t *pred)
{
    return walk(b, name, idx, pred, NULL);
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

int pmm__log_applied(const struct pmm_bank *b, const struct pmm_live *l)
{
    /* a DISK bank closes every log: a power cut may keep a later store
     * and lose an earlier one, so a log there is always redone */
    if (l->idx >= b->g.max_blocks || b->g.kind == PMM_KIND_DISK)
        return 0;
    if (l->op == PMM_OP_ALLOC) /* its last store: the head of its chain */
        return l->bucket < b->g.nbuckets &&
               __atomic_load_n(&pmm__buckets(b)[l->bucket], __ATOMIC_ACQUIRE) ==
                   l->idx + 1;
    /* a FREE's last store: its entry, free now, of the same generation,
     * and whole: a writer killed inside that pwrite() leaves the bytes
     * up to a page boundary written and the rest not (the kernel cuts a
     * write short there for a fatal signal), and an entry can straddle
     * one; its checksum tells, and the redo writes it whole */
    const struct pmm_entry *e = pmm__entry(b, l->idx);
    return l->op == PMM_OP_FREE &&
           __atomic_load_n(&e->state, __ATOMIC_ACQUIRE) == PMM_E_FREE &&
           __atomic_load_n(&e->gen, __ATOMIC_RELAXED) == l->image.gen &&
           pmm__entry_sum(e) == e->sum;
}

int pmm__find_fast(const struct pmm_bank *b, const char *name, uint32_t *idx,
                   struct pmm_entry *copy, uint64_t *seq)
{
    for (int t = 0; t < FAST_TRIES; t++) {
        uint64_t s = seq_load(b);
        struct pmm_live l;
        if (s & 1) { /* at rest only if its update made its last store */
            memcpy(&l, pmm__live(b), sizeof l);
            /* a copy taken while the next update's commit was being
             * written may mix its sequence with the last update's log:
             * only a whole record of sequence s is judged */
            if (l.seq != s || pmm__live_sum(&l) != l.sum ||
                !pmm__log_applied(b, &l)) {
                pmm__os_yield();
                continue;
            }
        }
        /* meaningful only if seq did not move */
        int r = walk(b, name, idx, NULL, copy);
        if (pmm__seq_same(b, s)) {
            *seq = s;
            return r;
        }
    }
    return -EAGAIN; /* a writer is slow or dead */
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

/* The first held page in [i, end), or end; -1 for a damaged word. */
static int64_t first_held(const uint64_t *bm, uint64_t i, uint64_t end)
{
    while (i < end) {
        int64_t bits = word_bits(bm, i >> PMM_BM_SHIFT);
        if (bits < 0)
            return -1;
        uint32_t k = (uint32_t)(i & (PMM_BM_PAGES - 1));
        uint64_t high = (uint64_t)bits >> k;
        if (high) {
            uint64_t h = i + (uint64_t)__builtin_ctzll(high);
            return (int64_t)(h < end ? h : end);
        }
        i += PMM_BM_PAGES - k;
    }
    return (int64_t)end;
}

/* find_run for runs that start at a multiple of a (a huge-page bank's
 * large blocks): each candidate start is checked whole, and the next one
 * is the first multiple of a past the page that ended it. */
static int find_aligned(const uint64_t *bm, uint64_t start, uint64_t end,
                        uint64_t n, uint64_t a, uint64_t *out)
{
    for (uint64_t s = (start + a - 1) / a * a; s < end && n <= end - s;) {
        int64_t h = first_held(bm, s, s + n);
        if (h < 0)
            return K_EBANK;
        if ((uint64_t)h == s + n) {
            *out = s;
            return 1;
        }
        s = ((uint64_t)h + a) / a * a;
    }
    return 0;
}

static int find_in(const uint64_t *bm, uint64_t start, uint64_t end,
                   uint64_t n, uint64_t a, uint64_t *out)
{
    return a > 1 ? find_aligned(bm, start, end, n, a, out)
                 : find_run(bm, start, end, n, out);
}

int pmm__find_pages(const struct pmm_bank *b, uint64_t hint, uint64_t n,
                    uint64_t align, uint64_t *page)
{
    uint64_t total = b->g.data_pages;
    if (n > total)
        return K_ENOMEM;
    if (hint >= total)
        hint = 0;
    int r = find_in(pmm__bitmap(b), hint, total, n, align, page);
    if (r != 0)
        return r < 0 ? r : K_OK;
    uint64_t end = hint + n - 1 < total ? hint + n - 1 : total;
    r = find_in(pmm__bitmap(b), 0, end, n, align, page);
    if (r != 0)
        return r < 0 ? r : K_OK;
    return K_ENOMEM;
}
