/*
 * verify.c - the bank checker and its repair.
 *
 * pmm_check() reads a bank file without joining it: it copies the metadata
 * under a shared lock into a private "shadow" bank, completes there any
 * update a dead writer committed (exactly what the next user would do), and
 * checks every invariant of layout.h.  The repair rebuilds everything that
 * is derived from the entries (hash chains, free list, page bitmap,
 * counters), dropping entries that are damaged, overlap another block or
 * repeat a name.  It marks the live record with PMM_OP_REPAIR first, so a
 * repair that is itself killed is simply run again by the next user.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "os/os.h"
#include "pmm_int.h"

#define SAY_MAX 40 /* problems told one by one; the rest are counted */

struct say {
    void (*fn)(const char *, void *);
    void *arg;
    int problems;
};

__attribute__((format(printf, 3, 4))) static void say(struct say *s, int problem,
                                                      const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = problem ? 0 : snprintf(buf, sizeof buf, "note: ");
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    s->problems += problem;
    if (s->fn && s->problems <= SAY_MAX)
        s->fn(buf, s->arg);
}

static int entry_zero(const struct pmm_entry *e)
{
    static const struct pmm_entry z;
    return memcmp(e, &z, sizeof z) == 0;
}

static int free_entry_ok(const struct pmm_entry *e, uint64_t high)
{
    return e->state == PMM_E_FREE && pmm__entry_sum(e) == e->sum &&
           e->next <= high;
}

/* Check the chains: every live entry exactly once, on its own chain. */
static void check_chains(const struct pmm_bank *b, uint8_t *seen,
                         struct say *s)
{
    const uint32_t *heads = pmm__buckets(b);
    for (uint64_t k = 0; k < b->g.nbuckets; k++) {
        uint64_t steps = 0;
        for (uint32_t j = heads[k]; j != PMM_NONE; steps++) {
            if (j > b->g.max_blocks || steps > b->g.max_blocks) {
                say(s, 1, "hash chain %llu: link %u out of range or looping",
                    (unsigned long long)k, j);
                break;
            }
            const struct pmm_entry *e = pmm__entry(b, j - 1);
            if (!pmm__entry_valid(b, e)) {
                say(s, 1, "hash chain %llu: entry %u is not a valid live block",
                    (unsigned long long)k, j - 1);
                break;
            }
            if (pmm__bucket_of(b, e->name) != k)
                say(s, 1, "entry %u (\"%s\") is on the wrong hash chain", j - 1,
                    e->name);
            if (seen[j - 1]++) {
                say(s, 1, "entry %u is reached twice through the hash chains",
                    j - 1);
                break;
            }
            j = e->next;
        }
    }
}

static int by_page(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* A bitmap being rebuilt: plain bits in each word's low half until
 * bm_seal() adds the check halves. */
static uint64_t *bm_new(const struct pmm_bank *b)
{
    return calloc(pmm_bm_words(b->g.data_pages), 8);
}

static int bm_take(uint64_t *bm, uint64_t p)
{
    uint64_t m = 1ull << (p & (PMM_BM_PAGES - 1));
    int had = (bm[p >> PMM_BM_SHIFT] & m) != 0;
    bm[p >> PMM_BM_SHIFT] |= m;
    return had;
}

static void bm_seal(const struct pmm_bank *b, uint64_t *bm)
{
    for (uint64_t w = 0; w < pmm_bm_words(b->g.data_pages); w++)
        bm[w] = pmm_bm_make((uint32_t)bm[w]);
}

/* The page bitmap must be exactly the pages of live blocks and guards. */
static void check_pages(const struct pmm_bank *b, const uint64_t *live,
                        size_t nlive, struct say *s)
{
    uint64_t words = pmm_bm_words(b->g.data_pages);
    uint64_t *bm = bm_new(b);
    if (!bm) {
        say(s, 1, "out of memory checking the page bitmap");
        return;
    }
    for (size_t i = 0; i < nlive; i++) {
        const struct pmm_entry *e = pmm__entry(b, (uint32_t)live[i]);
        for (uint64_t p = e->page; p < e->page + e->npages + 1; p++) {
            if (bm_take(bm, p)) {
                say(s, 1, "block \"%s\" overlaps another block at page %llu",
                    e->name, (unsigned long long)p);
                break;
            }
        }
    }
    bm_seal(b, bm);
    const uint64_t *have = pmm__bitmap(b);
    for (uint64_t w = 0; w < words; w++) {
        unsigned long long p0 = w * PMM_BM_PAGES, p1 = p0 + PMM_BM_PAGES - 1;
        if (!pmm_bm_ok(have[w])) {
            say(s, 1, "page bitmap word for pages %llu-%llu is damaged "
                      "(its check half disagrees)", p0, p1);
            break;
        }
        if (have[w] != bm[w]) {
            say(s, 1, "page bitmap differs from the blocks at pages %llu-%llu",
                p0, p1);
            break;
        }
    }
    free(bm);
}

static int verify(const struct pmm_bank *b, struct say *s)
{
    const struct pmm_live *l = pmm__live(b);
    uint64_t max = b->g.max_blocks, nlive = 0, used = 0;
    int before = s->problems;
    if (l->high > max || l->free_head > l->high) {
        say(s, 1, "live record: entry counters out of range");
        return s->problems - before;
    }
    uint8_t *seen = calloc(max, 1);
    uint64_t *live = calloc(max, 8);
    if (!seen || !live) {
        free(seen);
        free(live);
        say(s, 1, "out of memory");
        return 1;
    }
    for (uint64_t i = 0; i < max; i++) {
        const struct pmm_entry *e = pmm__entry(b, (uint32_t)i);
        if (i >= l->high) {
            if (!entry_zero(e))
                say(s, 1, "entry %llu is past the used entries but not empty",
                    (unsigned long long)i);
        } else if (e->state == PMM_E_LIVE) {
            if (!pmm__entry_valid(b, e)) {
                say(s, 1, "entry %llu is damaged (checksum or bounds)",
                    (unsigned long long)i);
                continue;
            }
            live[nlive++] = i;
            used += e->npages;
        } else if (!free_entry_ok(e, l->high)) {
            say(s, 1, "free entry %llu is damaged", (unsigned long long)i);
        }
    }
    check_chains(b, seen, s);
    for (uint64_t i = 0; i < nlive; i++)
        if (!seen[live[i]])
            say(s, 1, "block \"%s\" (entry %llu) is not reachable by name",
                pmm__entry(b, (uint32_t)live[i])->name,
                (unsigned long long)live[i]);
    uint64_t nfree = 0, steps = 0;
    for (uint32_t j = l->free_head; j != PMM_NONE; steps++) {
        if (j > l->high || steps > max || seen[j - 1] ||
            pmm__entry(b, j - 1)->state != PMM_E_FREE) {
            say(s, 1, "free list is broken at entry %u", j - 1);
            break;
        }
        seen[j - 1] = 2;
        nfree++;
        j = pmm__entry(b, j - 1)->next;
    }
    if (nfree + nlive != l->high && s->problems == before)
        say(s, 1, "%llu free entries are not on the free list",
            (unsigned long long)(l->high - nlive - nfree));
    if (l->nblocks != nlive || l->used_pages != used)
        say(s, 1, "counters say %llu blocks / %llu pages, entries say %llu / %llu",
            (unsigned long long)l->nblocks, (unsigned long long)l->used_pages,
            (unsigned long long)nlive, (unsigned long long)used);
    check_pages(b, live, nlive, s);
    free(seen);
    free(live);
    return s->problems - before;
}

/* ---- repair ---------------------------------------------------------- */

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

static int rebuild(struct pmm_bank *b, struct rebuild *rb, struct say *s)
{
    uint64_t max = b->g.max_blocks, used = 0, high = 0;
    int r = 0;
    for (uint64_t i = 0; i < max && r == 0; i++) {
        const struct pmm_entry *e = pmm__entry(b, (uint32_t)i);
        if (e->state == PMM_E_LIVE && pmm__entry_valid(b, e)) {
            rb->live[2 * rb->nlive] = e->page;
            rb->live[2 * rb->nlive++ + 1] = i;
            high = i + 1;
        } else if (!entry_zero(e)) {
            if (e->state != PMM_E_FREE || pmm__entry_sum(e) != e->sum)
                say(s, 0, "dropping damaged entry %llu", (unsigned long long)i);
            r = drop_entry(b, (uint32_t)i, e->gen);
            high = i + 1;
        }
    }
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
            say(s, 0, "dropping block \"%s\": %s", e.name,
                dup ? "its name is used twice" : "it overlaps another block");
            r = drop_entry(b, i, e.gen);
            continue;
        }
        end = e.page + e.npages + 1;
        used += e.npages;
        for (uint64_t p = e.page; p < end; p++)
            bm_take(rb->bm, p);
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
    bm_seal(b, rb->bm);
    if (r == 0)
        r = pmm__meta_write(b, b->g.bitmap_off, rb->bm,
                            pmm_bm_words(b->g.data_pages) * 8);
    if (r == 0) {
        struct pmm_live l;
        memset(&l, 0, sizeof l);
        l.seq = (pmm__live(b)->seq | 1) + 1;
        l.nblocks = kept;
        l.used_pages = used;
        l.free_head = free_head;
        l.high = (uint32_t)high;
        /* COMMIT POINT: the rebuilt bank is consistent and the mark gone. */
        r = pmm__write_live(b, &l);
    }
    return r;
}

int pmm__repair(struct pmm_bank *b, void (*fn)(const char *, void *),
                void *arg)
{
    struct say s = {fn, arg, 0};
    struct rebuild rb = {0};
    struct pmm_live mark;
    memset(&mark, 0, sizeof mark);
    mark.seq = (pmm__live(b)->seq | 1);
    mark.op = PMM_OP_REPAIR;
    int r = pmm__write_live(b, &mark);
    if (r < 0)
        return r;
    rb.heads = calloc(b->g.nbuckets, 4);
    rb.next = calloc(b->g.max_blocks, 4);
    rb.live = calloc(b->g.max_blocks, 16);
    rb.bm = bm_new(b);
    if (rb.heads && rb.next && rb.live && rb.bm)
        r = rebuild(b, &rb, &s);
    else
        r = -12;
    free(rb.heads);
    free(rb.next);
    free(rb.live);
    free(rb.bm);
    if (r == 0 && b->durable && !b->shadow)
        r = pmm__os_sync(b->fd);
    return r;
}

/* ---- the checker ----------------------------------------------------- */

static int load_shadow(struct pmm_bank *sb, int fd, uint64_t size,
                       struct say *s)
{
    const char *why;
    struct pmm_geom backup;
    if (pmm__os_pread(fd, &sb->g, sizeof sb->g, 0) < 0) {
        say(s, 1, "file too short to be a bank");
        return K_EBANK;
    }
    if (pmm__geom_check(&sb->g, size, &why) != K_OK) {
        say(s, 1, "header: %s", why);
        if (pmm__os_pread(fd, &backup, sizeof backup, PMM_GEOM_BACKUP_OFF) < 0 ||
            pmm__geom_check(&backup, size, &why) != K_OK) {
            say(s, 1, "backup header: %s; the bank cannot be read", why);
            return K_EBANK;
        }
        say(s, 0, "the backup header is intact; repair restores it");
        sb->g = backup;
    }
    sb->meta_len = sb->g.data_off;
    uint8_t *m = malloc(sb->meta_len);
    if (!m)
        return -12;
    sb->meta = m;
    pmm__os_lock(fd, 0);
    int r = pmm__os_pread(fd, m, sb->meta_len, 0);
    pmm__os_unlock(fd);
    return r < 0 ? K_EBANK : K_OK;
}

static int check_once(const char *path, struct say *s)
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
        say(s, 1, "cannot open %s: %s", path, pmm_strerror(r));
        return r;
    }
    if ((r = pmm__os_size(fd, &size, &uid, &mode, NULL, NULL)) == 0 &&
        (mode & 077))
        say(s, 1, "bank file is open to other users (mode %03o)",
            (unsigned)(mode & 0777));
    if (r == 0)
        r = load_shadow(&sb, fd, size, s);
    close(fd);
    if (r == 0) {
        struct pmm_live l = *pmm__live(&sb);
        if (pmm__live_sum(&l) != l.sum) {
            say(s, 1, "live record checksum mismatch (counters or intent log)");
        } else if (l.op == PMM_OP_REPAIR) {
            say(s, 1, "a repair was interrupted; the next user runs it again");
        } else if (l.op != PMM_OP_NONE) {
            if (pmm__log_valid(&sb, &l)) {
                say(s, 0, "an update interrupted by a crash is pending; the "
                          "next user completes it (checked as completed)");
                pmm__apply(&sb, &l);
            } else {
                say(s, 1, "intent log is damaged");
            }
        }
        verify(&sb, s);
        if (s->problems > SAY_MAX && s->fn) {
            char more[64];
            snprintf(more, sizeof more, "(%d more problems not shown)",
                     s->problems - SAY_MAX);
            s->fn(more, s->arg);
        }
    }
    pthread_mutex_destroy(&sb.mu);
    free((void *)sb.meta);
    return r;
}

int pmm_check(const char *path, unsigned flags,
              void (*fn)(const char *, void *), void *arg)
{
    struct say s = {fn, arg, 0};
    if (!path)
        return K_EFAULT;
    if (flags & ~PMM_CHECK_REPAIR)
        return K_EINVAL;
    int r = check_once(path, &s);
    if (r == K_OK && s.problems == 0)
        return K_OK;
    if (!(flags & PMM_CHECK_REPAIR) || (r < 0 && r != K_EBANK))
        return r < 0 ? r : K_EBANK;
    pmm_bank *b;
    r = pmm__bank_open_path(&b, path, "", 0);
    if (r < 0) {
        say(&s, 1, "cannot repair: %s", pmm_strerror(r));
        return K_EBANK;
    }
    if ((r = pmm__lock(b)) == 0) {
        r = pmm__repair(b, fn, arg);
        pmm__unlock(b);
    }
    pmm_bank_close(b);
    if (r < 0)
        return K_EBANK;
    struct say again = {fn, arg, 0};
    say(&again, 0, "repaired; checking again");
    r = check_once(path, &again);
    return r == K_OK && again.problems == 0 ? K_OK : K_EBANK;
}
