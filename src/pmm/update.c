/* SPDX-License-Identifier: MIT */
/*
 * update.c - the commit protocol: every allocation and free of an entry.
 *
 * An update runs under the bank's file lock in three steps:
 *   1. pre-commit work that is harmless if abandoned (for a new block, its
 *      fresh file pages at the mark: the file made long enough for them and
 *      the file system's space reserved, so that a bank larger than its
 *      file system answers K_ENOMEM here, not SIGBUS at a later store);
 *   2. COMMIT POINT: one pwrite() of the live record carrying the intent
 *      log (op, entry, chain links, the entry image) with an odd sequence
 *      number and a checksum;
 *   3. pmm__apply(): for an allocation its skipped file pages, entry,
 *      bitmap, chain head; for a free its chain link, bitmap, file pages,
 *      entry; then, on a DISK bank, one pwrite() of the live record with
 *      the new counters, an even sequence number and no log.  A RAM bank
 *      leaves the log in place: the update is complete once its last store
 *      is there (pmm__log_applied: the chain head, the entry), and
 *      everyone reads the record as its end would have written it
 *      (pmm__live_now), so that an update makes two writes fewer.
 * If the writer dies after 2, whoever takes the lock next finds the log
 * not applied and runs pmm__apply() on it again (lock.c).  Every step of pmm__apply()
 * writes values taken from the log, never values derived from what it
 * already changed, so it is idempotent: running it once, twice, or after a partial run gives the
 * same bank.  On a DISK bank the log and the applied changes are each
 * flushed before the next step, so a power cut behaves like a kill.
 *
 * File pages are never reused (layout.h): a new block's contents take
 * [mark, mark + npages), which no block ever had and no process ever
 * mapped, so they read as zeros without a punch; the ALLOC log carries the
 * mark after them, so a redo gives them to the same block and a crash
 * before the commit leaves them unused.  A free punches them: the memory
 * goes back, and a process still mapping the freed block keeps dead pages
 * that only it can reach (its stores fill them again; they stay allocated
 * until it unmaps, and a repair punches them).  A block smaller than
 * PMM_DEAD_BATCH is punched with the next ones: it joins the live record's
 * dead run, which is punched whole once it holds that much, so that most
 * frees of small blocks make no call for it (pmm__dead_after); a stale
 * mapping reads its old contents until then, never a newer block's.
 *
 * The stores themselves are write.c's; besides this file only recovery
 * (lock.c) and repair (repair.c) call them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "crash.h"
#include "geom.h"
#include "hash.h"
#include "index.h"
#include "os/os.h"
#include "update.h"
#include "write.h"

/* Bytes of file pages reserved ahead of the mark (reserve_ahead). */
#define PMM_RESERVE_AHEAD (2u << 20)

/* Is a committed log from a dead writer safe to redo? */
int pmm__log_valid(const struct pmm_bank *b, const struct pmm_live *l)
{
    const struct pmm_entry *im = &l->image;
    if (l->op != PMM_OP_ALLOC && l->op != PMM_OP_FREE)
        return 0;
    if (l->idx >= b->g.max_blocks || l->bucket >= b->g.nbuckets ||
        l->pred > b->g.max_blocks || l->succ > b->g.max_blocks ||
        l->free_after > b->g.max_blocks || l->high_after > b->g.max_blocks ||
        l->idx >= l->high_after || l->high > l->high_after)
        return 0;
    if (!pmm__entry_valid(b, im) || pmm__bucket_of(b, im->name) != l->bucket)
        return 0;
    if (im->fpage > l->mark || im->npages > l->mark - im->fpage ||
        l->skip > im->fpage || (l->op == PMM_OP_FREE && l->skip))
        return 0;
    if (l->dead > l->mark || l->ndead > l->mark - l->dead ||
        l->ndead >= PMM_DEAD_BATCH / b->g.page_size)
        return 0;
    if (l->op == PMM_OP_FREE && l->ndead &&
        im->fpage < l->dead + l->ndead && l->dead < im->fpage + im->npages)
        return 0; /* the freed block's pages already in the dead run */
    if (l->op == PMM_OP_ALLOC && l->nblocks >= b->g.max_blocks)
        return 0;
    if (l->op == PMM_OP_FREE &&
        (l->nblocks == 0 || l->used_pages < im->npages ||
         l->free_after != l->idx + 1))
        return 0;
    return 1;
}

static int apply_alloc(struct pmm_bank *b, const struct pmm_live *l)
{
    struct pmm_entry e = l->image;
    int r = 0;
    /* pages passed over for alignment: below the mark now, no block's,
     * perhaps reserved ahead (update.c's reserve_ahead) */
    if (l->skip && !b->shadow)
        r = pmm__os_punch(b->fd, b->g.data_off + (e.fpage - l->skip) * b->g.page_size,
                          (uint64_t)l->skip * b->g.page_size);
    if (r == 0)
        r = pmm__write_entry(b, l->idx, &e);
    pmm__crash("alloc.entry");
    if (r == 0)
        r = pmm__bitmap_set(b, e.page, e.npages + 1, 1);
    pmm__crash("alloc.bitmap");
    /* last: the chain head, the mark of an applied ALLOC (pmm__log_applied) */
    if (r == 0)
        r = pmm__write_bucket(b, l->bucket, l->idx + 1);
    pmm__crash("alloc.linked");
    return r;
}

static int apply_free(struct pmm_bank *b, const struct pmm_live *l)
{
    const struct pmm_entry *im = &l->image;
    int r;
    if (l->pred == PMM_NONE) {
        r = pmm__write_bucket(b, l->bucket, l->succ);
    } else {
        struct pmm_entry p = *pmm__entry(b, l->pred - 1);
        p.next = l->succ;
        r = pmm__write_entry(b, l->pred - 1, &p);
    }
    pmm__crash("free.unlinked");
    if (r == 0)
        r = pmm__bitmap_set(b, im->page, im->npages + 1, 0);
    pmm__crash("free.bitmap");
    uint64_t from, n;
    pmm__dead_after(b, l, NULL, NULL, &from, &n);
    if (r == 0 && n && !b->shadow)
        r = pmm__os_punch(b->fd, b->g.data_off + from * b->g.page_size,
                          n * b->g.page_size);
    pmm__crash("free.punched");
    /* last: the entry, the mark of an applied FREE (pmm__log_applied) */
    if (r == 0) {
        struct pmm_entry e;
        memset(&e, 0, sizeof e);
        e.state = PMM_E_FREE;
        e.group = -1;
        e.gen = im->gen;
        e.next = l->free_head;
        r = pmm__write_entry(b, l->idx, &e);
    }
    pmm__crash("free.entry");
    return r;
}

void pmm__dead_after(const struct pmm_bank *b, const struct pmm_live *l,
                     uint64_t *dead, uint64_t *ndead, uint64_t *from,
                     uint64_t *n)
{
    uint64_t f = l->image.fpage, fn = l->image.npages;
    uint64_t d = l->dead, dn = l->ndead, batch = PMM_DEAD_BATCH / b->g.page_size;
    *from = f;
    *n = fn; /* not next to the run: the block alone, the run kept */
    if (dn == 0 || f == d + dn || f + fn == d) {
        d = dn == 0 || f < d ? f : d;
        dn += fn;
        *from = d;
        *n = dn < batch ? 0 : dn;
        if (dn >= batch)
            d = dn = 0;
    }
    if (dead) {
        *dead = d;
        *ndead = dn;
    }
}

/* The live record l as the end of its update leaves it: the counters
 * moved on, the log gone, an even sequence number. */
static void settle(const struct pmm_bank *b, struct pmm_live *l)
{
    int alloc = l->op == PMM_OP_ALLOC;
    uint64_t np = l->image.npages;
    l->seq = (l->seq | 1) + 1;
    l->nblocks = alloc ? l->nblocks + 1 : l->nblocks - 1;
    l->used_pages = alloc ? l->used_pages + np : l->used_pages - np;
    if (alloc)
        l->hint = l->image.page + np + 1;
    l->free_head = l->free_after;
    l->high = l->high_after;
    if (!alloc) {
        uint64_t from, n;
        pmm__dead_after(b, l, &l->dead, &l->ndead, &from, &n);
    }
    l->op = PMM_OP_NONE;
    l->idx = l->bucket = l->pred = l->succ = 0;
    l->free_after = l->high_after = l->skip = 0;
    memset(&l->image, 0, sizeof l->image);
}

void pmm__live_now(const struct pmm_bank *b, struct pmm_live *out)
{
    memcpy(out, pmm__live(b), sizeof *out);
    if (pmm__log_applied(b, out))
        settle(b, out);
}

int pmm__apply(struct pmm_bank *b, struct pmm_live *l)
{
    int alloc = l->op == PMM_OP_ALLOC;
    int r = alloc ? apply_alloc(b, l) : apply_free(b, l);
    if (r == 0)
        r = pmm__meta_flush(b);
    if (r < 0)
        return r;
    settle(b, l);
    /* COMMIT POINT (end), on a DISK bank: the update is complete and the
     * log is gone.  A RAM bank leaves the log in place, complete since
     * its last store (pmm__log_applied), and saves this write: a killed
     * process cannot reorder what its finished pwrite() calls stored; a
     * power cut can, which is the DISK bank's case. */
    if (b->g.kind == PMM_KIND_DISK)
        r = pmm__write_live(b, l);
    pmm__crash(alloc ? "alloc.done" : "free.done");
    return r;
}

/* Reserve the space of file pages [mark, mark + n), and of the pages up to
 * PMM_RESERVE_AHEAD bytes past mark while the file holds them, so that the
 * allocations that follow find theirs reserved and make no system call for
 * it.  b->resv, this process's note of how far it reserved, stays true:
 * pages at or past the mark are punched only by a repair, which moves the
 * mark to the file's end, past every page any process reserved.  A file
 * system too full for the chunk is asked for exactly n pages. */
static int reserve_ahead(struct pmm_bank *b, uint64_t mark, uint64_t n)
{
    uint64_t pg = b->g.page_size, from = mark > b->resv ? mark : b->resv;
    uint64_t held = (b->file_len - b->g.data_off) / pg;
    uint64_t end = mark + n + PMM_RESERVE_AHEAD / pg;
    if (end > held)
        end = held; /* >= mark + n: the file was made long enough */
    int r = pmm__os_reserve(b->fd, b->g.data_off + from * pg, (end - from) * pg);
    if (r == -ENOSPC && end > mark + n) {
        end = mark + n;
        r = pmm__os_reserve(b->fd, b->g.data_off + from * pg, (end - from) * pg);
    }
    if (r == 0)
        b->resv = end;
    return r;
}

/* Fresh file pages [mark, mark + n) for a new block (mark: the live
 * record's, or the huge page boundary past it).  The file is first
 * made long enough for them and, on a DISK bank, that length is flushed
 * before the commit that hands them out, so that no power cut leaves the
 * mark past the file's end; it grows a bank's size at a time, so most
 * allocations need neither.  Then their space is reserved, a chunk ahead
 * (reserve_ahead), so that most allocations make no call for that either.
 * K_ENOMEM when the file system is full, at its largest file (EFBIG: ext4's
 * 16 TiB) or past PMM_MAX_FILE_DATA. */
static int fresh_pages(struct pmm_bank *b, uint64_t mark, uint64_t n)
{
    uint64_t pg = b->g.page_size, cap = PMM_MAX_FILE_DATA / pg;
    if (mark > cap || n > cap - mark)
        return K_ENOMEM;
    uint64_t need = b->g.data_off + (mark + n) * pg;
    int r = 0;
    if (need > b->file_len)
        r = pmm__os_size(b->fd, &b->file_len, NULL, NULL, NULL, NULL);
    if (r == 0 && need > b->file_len) {
        uint64_t step = b->g.data_pages, end = (mark + n + step - 1) / step * step;
        uint64_t want = b->g.data_off + (end < cap ? end : cap) * pg;
        r = pmm__os_truncate(b->fd, want);
        if (r == -EFBIG || r == -EINVAL) /* the file system's limit is near */
            r = pmm__os_truncate(b->fd, want = need);
        if (r == 0)
            r = pmm__meta_flush(b);
        if (r == 0)
            b->file_len = want;
    }
    if (r == 0 && mark + n > b->resv)
        r = reserve_ahead(b, mark, n);
    return r == -ENOSPC || r == -EFBIG || r == -EINVAL ? K_ENOMEM : r;
}

int pmm__do_alloc(struct pmm_bank *b, const char *name, uint64_t npages,
                  const uint8_t *key, size_t keylen, unsigned eflags,
                  int group, uint32_t *idx)
{
    struct pmm_live l;
    uint32_t slot;
    pmm__live_now(b, &l);
    if (l.high > b->g.max_blocks)
        return K_EBANK;
    if (l.nblocks >= b->g.max_blocks)
        return K_ENOMEM;
    if (l.free_head != PMM_NONE) {
        if (l.free_head > l.high)
            return K_EBANK;
        slot = l.free_head - 1;
        const struct pmm_entry *f = pmm__entry(b, slot);
        if (f->state != PMM_E_FREE || pmm__entry_sum(f) != f->sum ||
            f->next > l.high)
            return K_EBANK;
        l.free_after = f->next;
        l.high_after = l.high;
    } else if (l.high < b->g.max_blocks) {
        slot = l.high;
        l.free_after = PMM_NONE;
        l.high_after = l.high + 1;
    } else {
        return K_ENOMEM;
    }
    /* a block of a huge page or more, in a huge-page bank: aligned */
    uint64_t hp = pmm__geom_huge(&b->g) / b->g.page_size, page;
    uint64_t align = hp && npages >= hp ? hp : 1;
    uint64_t fpage = (l.mark + align - 1) / align * align;
    int r = pmm__find_pages(b, l.hint, npages + 1, align, &page);
    if (r < 0)
        return r;
    if (fpage < l.mark || (r = fresh_pages(b, fpage, npages)) < 0)
        return r < 0 ? r : K_ENOMEM;
    pmm__crash("alloc.reserved");

    struct pmm_entry *e = &l.image;
    memset(e, 0, sizeof *e);
    strcpy(e->name, name);
    memcpy(e->key, key, keylen);
    e->keylen = (uint8_t)keylen;
    e->state = PMM_E_LIVE;
    e->flags = (uint16_t)eflags;
    e->group = group;
    l.bucket = pmm__bucket_of(b, name);
    e->next = pmm__buckets(b)[l.bucket];
    e->gen = pmm__entry(b, slot)->gen + 1;
    e->page = page;
    e->npages = npages;
    e->fpage = fpage;
    l.skip = (uint32_t)(fpage - l.mark);
    l.mark = fpage + npages;
    e->created_ns = pmm__os_now_ns();
    e->creator_pid = pmm__os_pid();
    e->sum = pmm__entry_sum(e);
    l.seq |= 1;
    l.op = PMM_OP_ALLOC;
    l.idx = slot;
    l.pred = l.succ = PMM_NONE;
    /* COMMIT POINT: from this write on, the block exists (redo on crash). */
    r = pmm__write_live(b, &l);
    if (r == 0)
        r = pmm__meta_flush(b);
    if (r < 0)
        return r;
    pmm__crash("alloc.committed");
    *idx = slot;
    return pmm__apply(b, &l);
}

int pmm__do_free(struct pmm_bank *b, uint32_t idx, uint32_t pred)
{
    struct pmm_live l;
    pmm__live_now(b, &l);
    l.image = *pmm__entry(b, idx);
    l.seq |= 1;
    l.op = PMM_OP_FREE;
    l.idx = idx;
    l.bucket = pmm__bucket_of(b, l.image.name);
    l.pred = pred;
    l.succ = l.image.next;
    l.free_after = idx + 1;
    l.high_after = l.high;
    /* COMMIT POINT: from this write on, the block is gone (redo on crash). */
    int r = pmm__write_live(b, &l);
    if (r == 0)
        r = pmm__meta_flush(b);
    if (r < 0)
        return r;
    pmm__crash("free.committed");
    return pmm__apply(b, &l);
}
