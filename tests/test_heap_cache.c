/* SPDX-License-Identifier: MIT */
/*
 * test_heap_cache.c - the lanes' allocation caches (src/heap/cache.c): a
 * small object freed in a lane is what that lane hands out next; a free
 * inside a transaction that aborts frees nothing, an allocation inside one
 * is cached again; a process that dies at each crash point of the cache
 * (between a take's record in the lane and its tag's clear, after it, past
 * the lane's record where takes are logged) leaves no chunk lost or
 * doubled, and so does a thread that ends inside one; the checker names
 * a chunk both cached and in use, and a wild write over a cache link is
 * reported and never followed.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hotrestart/heap.h>

#include "../bench/frag_mix.h"
#include "common.h"
#include "heap/format.h"
#include "heap_suite.h"
#include "heap_work.h"

static pmm_bank *bank;

static void setup(void) { bank = hs_site(); }
static void teardown(void) { site_drop(); }
TestSuite(heap_cache, .init = setup, .fini = teardown);

static hr_heap *open_heap(const char *name)
{
    return hs_open(bank, name, 256 << 10);
}

static hr_heap_info stat_of(hr_heap *h)
{
    hr_heap_info st;
    cr_assert_eq(hr_heap_stat(h, &st), 0);
    return st;
}

static void *alloc_one(hr_heap *h, size_t size)
{
    void *p;
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_alloc(h, size, 0, &p), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    return p;
}

static void free_one(hr_heap *h, void *p)
{
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_free(h, p), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
}

Test(heap_cache, a_freed_small_object_is_handed_out_again)
{
    hr_heap *h = open_heap("c");
    void *keep = alloc_one(h, 64), *p = alloc_one(h, 64);
    free_one(h, p);
    hr_heap_info st = stat_of(h);
    cr_assert_eq(st.objects, 1);
    cr_assert_eq(st.cached_chunks, 1, "the free went to the lane's cache");
    cr_assert_eq(st.cached, 80);
    /* a cached chunk is no object: freeing it again is refused */
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_free(h, p), K_EINVAL);
    size_t n;
    cr_assert_eq(hr_heap_usable(h, p, &n), K_EINVAL);
    void *q;
    cr_assert_eq(hr_heap_alloc(h, 60, HR_HEAP_ZERO, &q), 0);
    cr_assert_eq(q, p, "the cached chunk of that size comes first");
    cr_assert_eq(((uint64_t *)q)[0], 0, "its tag is gone: an object");
    /* the take is recorded in the lane (one 8-byte slot), not as a log
     * entry: hr_heap_lanes counts it in the log's use */
    hr_heap_lane l[16];
    int lanes = hr_heap_lanes(h, l, 16), busy = 0;
    for (int i = 0; i < lanes && i < 16; i++)
        if (l[i].state == HR_HEAP_LANE_BUSY) {
            busy++;
            cr_assert_eq(l[i].log_used, 8, "lane %d: log_used %llu", i,
                         (unsigned long long)l[i].log_used);
        }
    cr_assert_eq(busy, 1);
    cr_assert_eq(hr_heap_commit(h), 0);
    st = stat_of(h);
    cr_assert_eq(st.objects, 2);
    cr_assert_eq(st.cached_chunks, 0);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    (void)keep;
    hr_heap_close(h);
}

Test(heap_cache, an_abort_keeps_the_cache_as_it_was)
{
    hr_heap *h = open_heap("a");
    void *p = alloc_one(h, 100), *q = alloc_one(h, 100);
    free_one(h, p);
    /* taken in a transaction that aborts: cached again, taken again */
    void *r;
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_alloc(h, 100, 0, &r), 0);
    cr_assert_eq(r, p);
    memset(r, 0xab, 100);
    cr_assert_eq(hr_heap_abort(h), 0);
    hr_heap_info st = stat_of(h);
    cr_assert_eq(st.cached_chunks, 1);
    cr_assert_eq(st.objects, 1);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    /* freed in a transaction that aborts: still an object, data kept */
    memset(q, 0x5a, 100);
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_free(h, q), 0);
    cr_assert_eq(hr_heap_abort(h), 0);
    st = stat_of(h);
    cr_assert_eq(st.objects, 1);
    cr_assert_eq(st.cached_chunks, 1);
    cr_assert_eq(((uint8_t *)q)[0], 0x5a);
    cr_assert_eq(((uint8_t *)q)[15], 0x5a);
    size_t n;
    cr_assert_eq(hr_heap_usable(h, q, &n), 0);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    cr_assert_eq(alloc_one(h, 100), p, "the cache still serves it");
    hr_heap_close(h);
}

/* The cache holds a bounded share of the heap; an allocation the shared
 * lists cannot serve takes the lane's cache back first. */
/* Fill h with 48-byte objects, then free them all: some are cached in the
 * lane, beside the free space. */
static hr_heap_info fill_and_free(hr_heap *h)
{
    static void *p[8192];
    int n = 0, r = 0;
    while (r == 0 && n < 8192) {
        cr_assert_eq(hr_heap_begin(h), 0);
        for (int k = 0; k < 50 && (r = hr_heap_alloc(h, 48, 0, &p[n])) == 0;
             k++)
            n++;
        cr_assert_eq(hr_heap_commit(h), 0);
    }
    cr_assert_eq(r, K_ENOMEM);
    for (int i = 0; i < n; i++)
        free_one(h, p[i]);
    hr_heap_info st = stat_of(h);
    cr_assert_gt(st.cached_chunks, 0);
    cr_assert_lt(st.cached, st.arena / 8, "a bounded share is cached");
    return st;
}

Test(heap_cache, a_full_heap_gets_the_cache_back)
{
    hr_heap *h = open_heap("f");
    hr_heap_info st = fill_and_free(h);
    void *big;
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_alloc(h, st.largest_free + st.cached / 2, 0, &big),
                 0, "the cache was merged back to serve it");
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    hr_heap_close(h);
}

/* The cache merged back into the free space (a chunk merged with the free
 * chunk after it) and handed out in the same transaction, written over,
 * then not committed: by an abort, and by a SIGKILL recovered at the next
 * open.  The free chunk's header and links, now inside the object, must
 * come back with the rollback. */
Test(heap_cache, a_drained_cache_handed_out_and_rolled_back_leaves_the_heap_whole)
{
    hr_heap *h = open_heap("d");
    hr_heap_info st = fill_and_free(h);
    for (int kill_it = 0; kill_it < 2; kill_it++) {
        pid_t pid = kill_it ? fork() : 0;
        cr_assert_neq(pid, -1);
        if (pid == 0) {
            void *big;
            size_t n = st.largest_free + st.cached / 2;
            int ok = hr_heap_begin(h) == 0 &&
                     hr_heap_alloc(h, n, 0, &big) == 0;
            if (ok)
                memset(big, 0xff, n);
            if (kill_it)
                kill(getpid(), ok ? SIGKILL : SIGTERM);
            cr_assert(ok, "the drained cache served it");
            hr_heap_abort(h);
        } else {
            cr_assert_eq(wait_status(pid), 128 + SIGKILL);
            hr_heap_close(h);
            h = open_heap("d"); /* rolls the dead one's lane back */
        }
        cr_assert_eq(hr_heap_check(h, hs_collect, NULL), 0, "%s", hs_seen);
        hr_heap_info now = stat_of(h);
        cr_assert_eq(now.cached_chunks, st.cached_chunks, "cached again");
        cr_assert_eq(now.free, st.free);
    }
    hr_heap_close(h);
}

/* A wild write over a cached chunk's link is named by the checker and
 * never followed: the lane's lists are rebuilt from the arena instead. */
Test(heap_cache, a_bad_cache_link_is_named_and_not_followed)
{
    hr_heap *h = open_heap("l");
    void *p = alloc_one(h, 64), *q = alloc_one(h, 64), *keep = alloc_one(h, 64);
    free_one(h, q);
    free_one(h, p); /* p heads the list, its link leads to q */
    uint64_t *link = (uint64_t *)p + 1, good = *link;
    cr_assert_neq(good, 0, "p does not link to q");
    *link = good + 4096; /* into the middle of some chunk */
    hs_seen[0] = 0;
    cr_assert_eq(hr_heap_check(h, hs_collect, NULL), K_EHEAP);
    cr_assert(strstr(hs_seen, "cache list"), "not named: %s", hs_seen);
    void *a, *b, *c;
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_alloc(h, 64, 0, &a), 0);
    cr_assert_eq(hr_heap_alloc(h, 64, 0, &b), 0);
    cr_assert_eq(hr_heap_alloc(h, 64, 0, &c), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert(a != keep && b != keep && c != keep && a != b && b != c &&
              a != c, "a live object handed out twice");
    cr_assert(a == p && (b == q || c == q), "p and q not handed out");
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0, "rebuilt");
    hr_heap_close(h);
}

/* A live object that carries a cache tag is both in use and cached: the
 * checker says so. */
Test(heap_cache, the_checker_names_an_object_both_cached_and_used)
{
    hr_heap *h = open_heap("d");
    void *p = alloc_one(h, 64), *q = alloc_one(h, 64);
    free_one(h, p);
    uint64_t tag = ((uint64_t *)p)[0], *qw = q, save = qw[0];
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    qw[0] = tag; /* another chunk's tag: q is still an object */
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    /* q's own tag: cached in the arena's eyes, but on no list */
    void *base;
    cr_assert_eq(pmm_alloc(bank, "d", 1, "k", 1, PMM_RETRIEVE, &base, NULL),
                 0);
    uint64_t qoff = (uint64_t)((uint8_t *)q - sizeof(struct hh_chunk) -
                               (uint8_t *)base);
    qw[0] = hh_cache_tag(qoff, (unsigned)(tag & 0xf));
    hs_seen[0] = 0;
    cr_assert_eq(hr_heap_check(h, hs_collect, NULL), K_EHEAP);
    cr_assert(strstr(hs_seen, "cache tag"), "not named: %s", hs_seen);
    qw[0] = save;
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    hr_heap_close(h);
}

/* A thread that ends inside a transaction that took a chunk from its
 * lane's cache and freed another leaves the lane to be rolled back: the
 * taken chunk is cached again, the freed object still an object, and the
 * checker finds them so. */
static hr_heap *exit_heap;
static void *exit_victim, *exit_cached[2];

static void *die_inside(void *arg)
{
    hr_heap *h = exit_heap;
    void *p;
    (void)arg;
    /* its own lane's cache (a thread keeps its lane when it is free) */
    for (int i = 0; i < 2; i++)
        exit_cached[i] = alloc_one(h, 64);
    for (int i = 0; i < 2; i++)
        free_one(h, exit_cached[i]);
    if (hr_heap_begin(h) == 0 && hr_heap_alloc(h, 64, 0, &p) == 0 &&
        hr_heap_free(h, exit_victim) == 0)
        pthread_exit(p); /* inside the transaction */
    return NULL;
}

Test(heap_cache, a_thread_that_ends_inside_leaves_the_cache_whole)
{
    hr_heap *h = exit_heap = open_heap("t");
    exit_victim = alloc_one(h, 64);
    pthread_t id;
    void *taken = NULL, **c = exit_cached;
    cr_assert_eq(pthread_create(&id, NULL, die_inside, NULL), 0);
    cr_assert_eq(pthread_join(id, &taken), 0);
    cr_assert(taken && (taken == c[0] || taken == c[1]),
              "it took a cached chunk");
    hr_heap_info st = stat_of(h); /* rolls the dead thread's lane back */
    cr_assert_eq(st.cached_chunks, 2, "the taken chunk is cached again");
    cr_assert_eq(st.objects, 1, "the freed object is still one");
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    hr_heap_close(h);
}

/* Takes of a lane's cache that do not commit, recorded in the lane
 * (taken.c) and, past its HH_TAKEN slots, logged: a process that dies
 * between a take's record and its tag's clear, after it, or with every
 * take done leaves each taken chunk cached again, once. */
#define NTAKE ((int)HH_TAKEN + 8)
#define TSIZE (8u << 20) /* its lanes' caches hold 2 KiB each */

static void *cached_set[NTAKE];

static size_t take_size(int i)
{
    return 16 + 16 * (size_t)(i % 3); /* chunks of 32..64: 1,904 bytes */
}

static int in_cached_set(const void *p)
{
    for (int i = 0; i < NTAKE; i++)
        if (cached_set[i] == p)
            return 1;
    return 0;
}

void pmm__crash_reset(void); /* src/pmm/crash.c */

/* A child (in the parent's lane) takes every cached chunk in one
 * transaction, writes over each, and dies at point (NULL: after the last
 * take). */
static void take_all_and_die(const char *name, const char *point)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        hr_heap *h;
        void *p;
        if (point)
            setenv("HR_CRASHPOINT", point, 1);
        pmm__crash_reset();
        if (hr_heap_open(&h, bank, name, TSIZE, "k", 1, 0) < 0 ||
            hr_heap_begin(h) < 0)
            _exit(2);
        for (int i = 0; i < NTAKE; i++) {
            if (hr_heap_alloc(h, take_size(i), 0, &p) < 0)
                _exit(3);
            if (!in_cached_set(p))
                _exit(4); /* not from the cache: it would prove nothing */
            memset(p, 0xee, take_size(i));
        }
        kill(getpid(), SIGKILL);
        _exit(5);
    }
    cr_assert_eq(wait_status(pid), 128 + SIGKILL, "%s was not reached",
                 point ? point : "the last take");
}

/* Every chunk of cached_set is cached, none is an object, and one
 * transaction gets each back exactly once. */
static void assert_all_cached(hr_heap *h, const char *after)
{
    hr_heap_info st = stat_of(h);
    cr_assert_eq(st.cached_chunks, NTAKE, "%s: %llu of %d taken chunks "
                 "cached again", after, (unsigned long long)st.cached_chunks,
                 NTAKE);
    cr_assert_eq(st.objects, 0, "%s: a taken chunk left as an object", after);
    cr_assert_eq(hr_heap_check(h, hs_collect, NULL), 0, "%s: check", after);
    void *got[NTAKE];
    cr_assert_eq(hr_heap_begin(h), 0);
    for (int i = 0; i < NTAKE; i++) {
        cr_assert_eq(hr_heap_alloc(h, take_size(i), 0, &got[i]), 0);
        cr_assert(in_cached_set(got[i]), "%s: take %d not from the cache",
                  after, i);
        for (int k = 0; k < i; k++)
            cr_assert_neq(got[k], got[i], "%s: a chunk handed out twice",
                          after);
    }
    cr_assert_eq(hr_heap_abort(h), 0); /* and cached again by the abort */
    cr_assert_eq(stat_of(h).cached_chunks, NTAKE, "%s: abort", after);
}

Test(heap_cache, takes_that_do_not_commit_are_cached_again, .timeout = 120)
{
    hr_heap *h;
    cr_assert_eq(hr_heap_open(&h, bank, "n", TSIZE, "k", 1, 0), 0);
    cr_assert_eq(hr_heap_begin(h), 0);
    for (int i = 0; i < NTAKE; i++)
        cr_assert_eq(hr_heap_alloc(h, take_size(i), 0, &cached_set[i]), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_begin(h), 0);
    for (int i = 0; i < NTAKE; i++)
        cr_assert_eq(hr_heap_free(h, cached_set[i]), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    assert_all_cached(h, "before");
    hr_heap_close(h);
    char took_last[40], logged[40];
    snprintf(took_last, sizeof took_last, "heap.cache-took:%u", HH_TAKEN);
    snprintf(logged, sizeof logged, "heap.cache-take:%u", HH_TAKEN + 3);
    const char *const points[] = {
        "heap.cache-took", "heap.cache-took:7", took_last,
        "heap.cache-take", logged, "heap.log-entry", NULL,
    };
    for (size_t k = 0; k < sizeof points / sizeof *points; k++) {
        take_all_and_die("n", points[k]);
        cr_assert_eq(hr_heap_open(&h, bank, "n", TSIZE, "k", 1, 0), 0);
        assert_all_cached(h, points[k] ? points[k] : "the last take");
        hr_heap_close(h);
    }
}

/* Cached chunks are used space to the shared allocator and never merge
 * with their free neighbours: kept too many, or for ever (the bottom of a
 * list whose size is seldom asked for), they fence the free space apart.
 * Three million random allocations and frees (bench/heap_bench's heap_frag
 * mix: 16 B to 64 KiB, 20,000 slots, ~25 MB live) in one thread: the
 * footprint (the arena less its largest free chunk) stays within 1.6x the
 * live bytes.  With 64 KiB caches that were never emptied it was 1.97x
 * here (2.9x after ten million), against 1.3x with no cache at all.  Not
 * a timing: the same seed gives the same heap every run. */
/* A free that finds its lane's cache full empties it first, but only with
 * room in the log for that (about 256 bytes a chunk): a transaction whose
 * log is nearly full when it frees a small object commits as before the
 * drain existed, the object going to the shared lists (before: the drain
 * ran out of log and doomed the transaction, K_ENOMEM). */
Test(heap_cache, a_full_cache_is_not_drained_into_a_nearly_full_log)
{
    hr_heap *h = hs_open(bank, "room", TSIZE);
    enum { N = 70 };
    void *small[N], *one, *big;
    cr_assert_eq(hr_heap_begin(h), 0);
    for (int i = 0; i < N; i++)
        cr_assert_eq(hr_heap_alloc(h, 16, 0, &small[i]), 0);
    cr_assert_eq(hr_heap_alloc(h, 16, 0, &one), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_begin(h), 0); /* the lane's cache, full */
    for (int i = 0; i < N; i++)
        cr_assert_eq(hr_heap_free(h, small[i]), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_geq(stat_of(h).cached, 2048 - 32, "the cache is full");
    hr_heap_lane l[16];
    cr_assert_gt(hr_heap_lanes(h, l, 16), 0);
    size_t fill = (size_t)l[0].log_size - 2048;
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_alloc(h, fill, 0, &big), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_add(h, big, fill), 0, "the log nearly full");
    cr_assert_eq(hr_heap_free(h, one), 0, "the free doomed the transaction");
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_check(h, hs_collect, NULL), 0, "%s", hs_seen);
    hr_heap_close(h);
}

static pmm_bank *big_bank;
static void big_setup(void)
{
    site_new(600ull << 20, 64);
    big_bank = bank_open();
}
TestSuite(heap_frag, .init = big_setup, .fini = teardown, .timeout = 600);

Test(heap_frag, caches_do_not_fence_free_space_apart)
{
    enum { SLOTS = 20000, OPS = 3000000 };
    static void *slot[SLOTS];
    static size_t size[SLOTS];
    hr_heap *h = hs_open(big_bank, "frag", 512u << 20);
    uint64_t live = 0;
    for (long done = 0; done < OPS;) {
        cr_assert_eq(hr_heap_begin(h), 0);
        for (int k = 0; k < 20; k++, done++) {
            unsigned i = (unsigned)(frag_rnd() % SLOTS);
            if (slot[i]) {
                cr_assert_eq(hr_heap_free(h, slot[i]), 0);
                live -= size[i];
                slot[i] = NULL;
            } else {
                size[i] = frag_size();
                cr_assert_eq(hr_heap_alloc(h, size[i], 0, &slot[i]), 0,
                             "at op %ld: %zu bytes", done, size[i]);
                live += size[i];
            }
        }
        cr_assert_eq(hr_heap_commit(h), 0);
    }
    hr_heap_info st = stat_of(h);
    double ratio = (double)(st.arena - st.largest_free) / (double)live;
    cr_log_info("footprint %.2fx the %.1f MB live", ratio, live / 1e6);
    cr_assert_leq(ratio, 1.6, "footprint %.2fx the live bytes (%llu of "
                  "%llu free in one chunk, %.1f MB live)", ratio,
                  (unsigned long long)st.largest_free,
                  (unsigned long long)st.arena, live / 1e6);
    hs_seen[0] = 0;
    cr_assert_eq(hr_heap_check(h, hs_collect, NULL), 0, "%s", hs_seen);
    hr_heap_close(h);
}
