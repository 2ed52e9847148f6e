/* SPDX-License-Identifier: MIT */
/*
 * verify.c - the bank checker, read-only.
 *
 * pmm__check_file() reads a bank file without joining it: it copies the
 * metadata under a shared lock into a private "shadow" bank, completes there
 * any update a dead writer committed (exactly what the next user would do,
 * with the same code: the shadow takes the stores into its private copy),
 * and checks every invariant of layout.h, file pages included.  It never writes the file and
 * never opens the bank through bank.c; repair is repair.c's job.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geom.h"
#include "hash.h"
#include "index.h"
#include "os/os.h"
#include "pages.h"
#include "say.h"
#include "update.h"
#include "verify.h"

static int free_entry_ok(const struct pmm_entry *e, uint64_t high)
{
    return e->state == PMM_E_FREE && pmm__entry_sum(e) == e->sum &&
           e->next <= high;
}

/* Check the chains: every live entry exactly once, on its own chain. */
static void check_chains(const struct pmm_bank *b, uint8_t *seen,
                         struct pmm_say *s)
{
    const uint32_t *heads = pmm__buckets(b);
    for (uint64_t k = 0; k < b->g.nbuckets; k++) {
        uint64_t steps = 0;
        for (uint32_t j = heads[k]; j != PMM_NONE; steps++) {
            const struct pmm_entry *e;
            int st = pmm__chain_step(b, j, steps, NULL, &e);
            if (st == PMM_CHAIN_BAD_LINK) {
                pmm__say(s, 1, "hash chain %llu: link %u out of range or looping",
                    (unsigned long long)k, j);
                break;
            }
            if (st == PMM_CHAIN_BAD_ENTRY) {
                pmm__say(s, 1, "hash chain %llu: entry %u is not a valid live block",
                    (unsigned long long)k, j - 1);
                break;
            }
            if (pmm__bucket_of(b, e->name) != k)
                pmm__say(s, 1, "entry %u (\"%s\") is on the wrong hash chain", j - 1,
                    e->name);
            if (seen[j - 1]++) {
                pmm__say(s, 1, "entry %u is reached twice through the hash chains",
                    j - 1);
                break;
            }
            j = e->next;
        }
    }
}

/* The page bitmap must be exactly the pages of live blocks and guards. */
static void check_pages(const struct pmm_bank *b, const uint64_t *live,
                        size_t nlive, struct pmm_say *s)
{
    uint64_t words = pmm_bm_words(b->g.data_pages);
    uint64_t *bm = pmm__bm_new(b);
    if (!bm) {
        pmm__say(s, 1, "out of memory checking the page bitmap");
        return;
    }
    for (size_t i = 0; i < nlive; i++) {
        const struct pmm_entry *e = pmm__entry(b, (uint32_t)live[i]);
        for (uint64_t p = e->page; p < e->page + e->npages + 1; p++) {
            if (pmm__bm_take(bm, p)) {
                pmm__say(s, 1, "block \"%s\" overlaps another block at page %llu",
                    e->name, (unsigned long long)p);
                break;
            }
        }
    }
    pmm__bm_seal(b, bm);
    const uint64_t *have = pmm__bitmap(b);
    for (uint64_t w = 0; w < words; w++) {
        unsigned long long p0 = w * PMM_BM_PAGES, p1 = p0 + PMM_BM_PAGES - 1;
        if (!pmm_bm_ok(have[w])) {
            pmm__say(s, 1, "page bitmap word for pages %llu-%llu is damaged "
                      "(its check half disagrees)", p0, p1);
            break;
        }
        if (have[w] != bm[w]) {
            pmm__say(s, 1, "page bitmap differs from the blocks at pages %llu-%llu",
                p0, p1);
            break;
        }
    }
    free(bm);
}

static int by_first(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* File pages: each live block's below the mark, no two blocks sharing one,
 * none in the dead run, and the file long enough for the mark. */
static void check_offsets(const struct pmm_bank *b, const struct pmm_live *l,
                          const uint64_t *live, size_t nlive, struct pmm_say *s)
{
    uint64_t mark = l->mark, pg = b->g.page_size;
    uint64_t dead = l->dead, ndead = l->ndead;
    if (dead > mark || ndead > mark - dead || ndead >= PMM_DEAD_BATCH / pg)
        pmm__say(s, 1, "live record: dead run [%llu, +%llu) out of range",
            (unsigned long long)dead, (unsigned long long)ndead);
    if (mark > PMM_MAX_FILE_DATA / pg)
        pmm__say(s, 1, "live record: file page mark %llu out of range",
            (unsigned long long)mark);
    else if (b->file_len < b->g.data_off + mark * pg)
        pmm__say(s, 1, "file ends at %llu bytes, before the file page mark %llu "
                  "(truncated)", (unsigned long long)b->file_len,
            (unsigned long long)mark);
    uint64_t *by = malloc(nlive * 16 + 16);
    if (!by) {
        pmm__say(s, 1, "out of memory checking file pages");
        return;
    }
    for (size_t i = 0; i < nlive; i++) {
        by[2 * i] = pmm__entry(b, (uint32_t)live[i])->fpage;
        by[2 * i + 1] = live[i];
    }
    qsort(by, nlive, 16, by_first);
    uint64_t end = 0;
    for (size_t i = 0; i < nlive; i++) {
        const struct pmm_entry *e = pmm__entry(b, (uint32_t)by[2 * i + 1]);
        if (e->fpage < end)
            pmm__say(s, 1, "block \"%s\" shares file page %llu with another block",
                e->name, (unsigned long long)e->fpage);
        else if (e->fpage + e->npages > mark)
            pmm__say(s, 1, "block \"%s\" has file pages past the mark (%llu)",
                e->name, (unsigned long long)mark);
        else if (ndead && e->fpage < dead + ndead && dead < e->fpage + e->npages)
            pmm__say(s, 1, "block \"%s\" has file pages in the dead run",
                e->name);
        if (e->fpage + e->npages > end)
            end = e->fpage + e->npages;
    }
    free(by);
}

/* b's structures against l, its live record as it stands. */
static int verify(const struct pmm_bank *b, const struct pmm_live *l,
                  struct pmm_say *s)
{
    uint64_t max = b->g.max_blocks, nlive = 0, used = 0;
    int before = s->problems;
    if (l->high > max || l->free_head > l->high) {
        pmm__say(s, 1, "live record: entry counters out of range");
        return s->problems - before;
    }
    uint8_t *seen = calloc(max, 1);
    uint64_t *live = calloc(max, 8);
    if (!seen || !live) {
        free(seen);
        free(live);
        pmm__say(s, 1, "out of memory");
        return 1;
    }
    for (uint64_t i = 0; i < max; i++) {
        const struct pmm_entry *e = pmm__entry(b, (uint32_t)i);
        if (i >= l->high) {
            if (!pmm__entry_zero(e))
                pmm__say(s, 1, "entry %llu is past the used entries but not empty",
                    (unsigned long long)i);
        } else if (e->state == PMM_E_LIVE) {
            if (!pmm__entry_valid(b, e)) {
                pmm__say(s, 1, "entry %llu is damaged (checksum or bounds)",
                    (unsigned long long)i);
                continue;
            }
            live[nlive++] = i;
            used += e->npages;
        } else if (!free_entry_ok(e, l->high)) {
            pmm__say(s, 1, "free entry %llu is damaged", (unsigned long long)i);
        }
    }
    check_chains(b, seen, s);
    for (uint64_t i = 0; i < nlive; i++)
        if (!seen[live[i]])
            pmm__say(s, 1, "block \"%s\" (entry %llu) is not reachable by name",
                pmm__entry(b, (uint32_t)live[i])->name,
                (unsigned long long)live[i]);
    uint64_t nfree = 0, steps = 0;
    for (uint32_t j = l->free_head; j != PMM_NONE; steps++) {
        if (j > l->high || steps > max || seen[j - 1] ||
            pmm__entry(b, j - 1)->state != PMM_E_FREE) {
            pmm__say(s, 1, "free list is broken at entry %u", j - 1);
            break;
        }
        seen[j - 1] = 2;
        nfree++;
        j = pmm__entry(b, j - 1)->next;
    }
    if (nfree + nlive != l->high && s->problems == before)
        pmm__say(s, 1, "%llu free entries are not on the free list",
            (unsigned long long)(l->high - nlive - nfree));
    if (l->nblocks != nlive || l->used_pages != used)
        pmm__say(s, 1, "counters say %llu blocks / %llu pages, entries say %llu / %llu",
            (unsigned long long)l->nblocks, (unsigned long long)l->used_pages,
            (unsigned long long)nlive, (unsigned long long)used);
    check_pages(b, live, nlive, s);
    check_offsets(b, l, live, nlive, s);
    free(seen);
    free(live);
    return s->problems - before;
}

static int load_shadow(struct pmm_bank *sb, int fd, uint64_t size,
                       struct pmm_say *s)
{
    const char *why;
    struct pmm_geom backup;
    if (pmm__os_pread(fd, &sb->g, sizeof sb->g, 0) < 0) {
        pmm__say(s, 1, "file too short to be a bank");
        return K_EBANK;
    }
    if (pmm__geom_check(&sb->g, size, &why) != K_OK) {
        pmm__say(s, 1, "header: %s", why);
        if (pmm__os_pread(fd, &backup, sizeof backup, PMM_GEOM_BACKUP_OFF) < 0 ||
            pmm__geom_check(&backup, size, &why) != K_OK) {
            pmm__say(s, 1, "backup header: %s; the bank cannot be read", why);
            return K_EBANK;
        }
        pmm__say(s, 0, "the backup header is intact; repair restores it");
        sb->g = backup;
    }
    sb->meta_len = sb->g.data_off;
    uint8_t *m = malloc(sb->meta_len);
    if (!m)
        return -ENOMEM;
    sb->meta = m;
    /* the file's length with the metadata, under the same lock: writers
     * extend it before they move the mark */
    pmm__os_lock(fd, 0);
    int r = pmm__os_pread(fd, m, sb->meta_len, 0);
    if (r == 0)
        r = pmm__os_size(fd, &sb->file_len, NULL, NULL, NULL, NULL);
    pmm__os_unlock(fd);
    return r < 0 ? K_EBANK : K_OK;
}

int pmm__check_file(const char *path, struct pmm_say *s)
{
    struct pmm_bank sb;
    uint64_t size;
    uid_t uid;
    mode_t mode;
    int fd, r;
    memset(&sb, 0, sizeof sb);
    sb.shadow = 1;
    sb.fd = -1;
    pthread_mutex_init(&sb.mu, NULL);
    if ((r = pmm__os_open(path, 1, 0, &fd)) < 0) {
        pmm__say(s, 1, "cannot open %s: %s", path, pmm_strerror(r));
        return r;
    }
    if ((r = pmm__os_size(fd, &size, &uid, &mode, NULL, NULL)) == 0 &&
        (mode & 077))
        pmm__say(s, 1, "bank file is open to other users (mode %03o)",
            (unsigned)(mode & 0777));
    if (r == 0)
        r = load_shadow(&sb, fd, size, s);
    pmm__os_close(fd);
    if (r == 0) {
        struct pmm_live l = *pmm__live(&sb);
        if (pmm__live_sum(&l) != l.sum) {
            pmm__say(s, 1, "live record checksum mismatch (counters or intent log)");
        } else if (l.op == PMM_OP_REPAIR) {
            pmm__say(s, 1, "a repair was interrupted; the next user runs it again");
        } else if (l.op != PMM_OP_NONE) {
            if (!pmm__log_valid(&sb, &l)) {
                pmm__say(s, 1, "intent log is damaged");
            } else if (!pmm__log_applied(&sb, &l)) {
                pmm__say(s, 0, "an update interrupted by a crash is pending; the "
                          "next user completes it (checked as completed)");
                pmm__apply(&sb, &l); /* l: the record its end leaves */
            } else { /* a RAM bank at rest keeps its last log (update.c) */
                pmm__live_now(&sb, &l);
            }
        }
        verify(&sb, &l, s);
        pmm__say_end(s);
    }
    pthread_mutex_destroy(&sb.mu);
    free((void *)sb.meta);
    return r;
}

