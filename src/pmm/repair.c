/* SPDX-License-Identifier: MIT */
/*
 * repair.c - rebuilding a damaged bank's metadata, under its lock.
 *
 * The repair rebuilds everything that is derived from the entries (hash
 * chains, free list, page bitmap, counters, the file page mark), dropping
 * entries that are damaged, overlap another block (in addresses or in file
 * pages) or repeat a name.  It marks the live
 * record with PMM_OP_REPAIR first, so a repair that is itself killed is
 * simply run again by the next user.  A damaged primary geometry is
 * restored from its backup copy.  With update.c and lock.c, the only
 * writer of a published bank's metadata.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "hash.h"
#include "os/os.h"
#include "pages.h"
#include "repair.h"
#include "say.h"
#include "write.h"

static int by_page(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

struct rebuild {
    uint32_t *heads;
    uint32_t *next;
    uint64_t *live; /* (page, index) pairs */
    uint64_t *bm;
    size_t nlive;
};

static int drop_entry(struct pmm_bank *b, uint32_t i, uint32_t gen)
{
    struct pmm_entry e;
    memset(&e, 0, sizeof e);
    e.group = -1;
    e.gen = gen;
    return pmm__write_entry(b, i, &e);
}

/* Keep one block per file page: sorted by first file page, a block whose
 * pages an earlier one holds, or that lie past the file's end, is dropped.
 * The mark goes to the file's end: the file was extended before every mark
 * it ever had, so no page past it was ever given (a damaged record's mark
 * is not trusted).  The file pages no kept block holds are punched, which
 * frees what stale mappings wrote there. */
static int keep_file_pages(struct pmm_bank *b, struct rebuild *rb,
                           uint64_t *mark, struct pmm_say *s)
{
    uint64_t pg = b->g.page_size, end = 0;
    size_t kept = 0;
    int r = pmm__os_size(b->fd, &b->file_len, NULL, NULL, NULL, NULL);
    uint64_t held = (b->file_len - b->g.data_off) / pg;
    for (size_t k = 0; k < rb->nlive; k++)
        rb->live[2 * k] = pmm__entry(b, (uint32_t)rb->live[2 * k + 1])->fpage;
    qsort(rb->live, rb->nlive, 16, by_page);
    for (size_t k = 0; k < rb->nlive && r == 0; k++) {
        uint32_t i = (uint32_t)rb->live[2 * k + 1];
        const struct pmm_entry *e = pmm__entry(b, i);
        if (e->fpage < end || e->fpage + e->npages > held) {
            pmm__say(s, 0, "dropping block \"%s\": %s", e->name,
                e->fpage < end ? "it shares file pages with another block"
                               : "its file pages lie past the file's end");
            r = drop_entry(b, i, e->gen);
            continue;
        }
        if (e->fpage > end)
            r = pmm__os_punch(b->fd, b->g.data_off + end * pg, (e->fpage - end) * pg);
        end = e->fpage + e->npages;
        rb->live[2 * kept] = e->page;
        rb->live[2 * kept++ + 1] = i;
    }
    rb->nlive = kept;
    *mark = held;
    if (r == 0 && held > end)
        r = pmm__os_punch(b->fd, b->g.data_off + end * pg, (held - end) * pg);
    return r;
}

static int rebuild(struct pmm_bank *b, struct rebuild *rb, struct pmm_say *s)
{
    uint64_t max = b->g.max_blocks, used = 0, high = 0;
    int r = 0;
    for (uint64_t i = 0; i < max && r == 0; i++) {
        const struct pmm_entry *e = pmm__entry(b, (uint32_t)i);
        if (e->state == PMM_E_LIVE && pmm__entry_valid(b, e)) {
            rb->live[2 * rb->nlive] = e->page;
            rb->live[2 * rb->nlive++ + 1] = i;
            high = i + 1;
        } else if (!pmm__entry_zero(e)) {
            if (e->state != PMM_E_FREE || pmm__entry_sum(e) != e->sum)
                pmm__say(s, 0, "dropping damaged entry %llu", (unsigned long long)i);
            r = drop_entry(b, (uint32_t)i, e->gen);
            high = i + 1;
        }
    }
    uint64_t mark = 0;
    if (r == 0)
        r = keep_file_pages(b, rb, &mark, s);
    qsort(rb->live, rb->nlive, 16, by_page);
    uint64_t end = 0;
    size_t kept = 0;
    for (size_t k = 0; k < rb->nlive && r == 0; k++) {
        uint32_t i = (uint32_t)rb->live[2 * k + 1];
        struct pmm_entry e = *pmm__entry(b, i);
        uint32_t bucket = pmm__bucket_of(b, e.name), dup = 0;
        for (uint32_t j = rb->heads[bucket]; j && !dup; j = rb->next[j - 1])
            dup = strcmp(pmm__entry(b, j - 1)->name, e.name) == 0;
        if (e.page < end || dup) {
            pmm__say(s, 0, "dropping block \"%s\": %s", e.name,
                dup ? "its name is used twice" : "it overlaps another block");
            r = drop_entry(b, i, e.gen);
            continue;
        }
        end = e.page + e.npages + 1;
        used += e.npages;
        for (uint64_t p = e.page; p < end; p++)
            pmm__bm_take(rb->bm, p);
        rb->next[i] = rb->heads[bucket];
        rb->heads[bucket] = i + 1;
        if (e.next != rb->next[i]) {
            e.next = rb->next[i];
            r = pmm__write_entry(b, i, &e);
        }
        kept++;
    }
    uint32_t free_head = PMM_NONE;
    for (uint64_t i = high; i-- > 0 && r == 0;) {
        struct pmm_entry e = *pmm__entry(b, (uint32_t)i);
        if (e.state == PMM_E_LIVE)
            continue;
        if (e.next != free_head || pmm__entry_sum(&e) != e.sum) {
            e.next = free_head;
            r = pmm__write_entry(b, (uint32_t)i, &e);
        }
        free_head = (uint32_t)i + 1;
    }
    if (r == 0)
        r = pmm__meta_write(b, b->g.buckets_off, rb->heads, b->g.nbuckets * 4);
    pmm__bm_seal(b, rb->bm);
    if (r == 0)
        r = pmm__meta_write(b, b->g.bitmap_off, rb->bm,
                            pmm_bm_words(b->g.data_pages) * 8);
    if (r == 0)
        r = pmm__meta_flush(b);
    if (r == 0) {
        struct pmm_live l;
        memset(&l, 0, sizeof l);
        l.seq = (pmm__live(b)->seq | 1) + 1;
        l.nblocks = kept;
        l.used_pages = used;
        l.free_head = free_head;
        l.high = (uint32_t)high;
        l.mark = mark;
        /* COMMIT POINT: the rebuilt bank is consistent and the mark gone. */
        r = pmm__write_live(b, &l);
    }
    return r;
}

int pmm__repair(struct pmm_bank *b, void (*fn)(const char *, void *),
                void *arg)
{
    struct pmm_say s = {fn, arg, 0};
    struct rebuild rb = {0};
    struct pmm_live mark;
    memset(&mark, 0, sizeof mark);
    mark.seq = (pmm__live(b)->seq | 1) + 2; /* odd, and not the one there */
    mark.op = PMM_OP_REPAIR;
    /* on a DISK bank the mark is on the disk before the rebuild's first
     * store, and the rebuild before the record that ends it (rebuild):
     * a power cut in between leaves the mark, and the repair runs again */
    int r = pmm__write_live(b, &mark);
    if (r == 0)
        r = pmm__meta_flush(b);
    if (r < 0)
        return r;
    rb.heads = calloc(b->g.nbuckets, 4);
    rb.next = calloc(b->g.max_blocks, 4);
    rb.live = calloc(b->g.max_blocks, 16);
    rb.bm = pmm__bm_new(b);
    if (rb.heads && rb.next && rb.live && rb.bm)
        r = rebuild(b, &rb, &s);
    else
        r = -ENOMEM;
    free(rb.heads);
    free(rb.next);
    free(rb.live);
    free(rb.bm);
    if (r == 0)
        r = pmm__meta_flush(b);
    return r;
}

int pmm__repair_geom(struct pmm_bank *b)
{
    int r = pmm__os_lock(b->fd, 1);
    if (r < 0)
        return r;
    r = pmm__meta_write(b, 0, &b->g, sizeof b->g);
    pmm__os_unlock(b->fd);
    return r;
}

