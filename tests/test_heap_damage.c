/* SPDX-License-Identifier: MIT */
/*
 * test_heap_damage.c - damage the heap's own structures and a dead
 * holder's undo log: the checker names what is wrong, a damaged log is
 * refused whole, and a dead holder is rolled back whichever call meets it
 * first.
 *
 * The damaged-log test lets a child die inside a transaction, keeps the
 * block as it left it, then flips one random byte of the live log (its
 * state word, a slot of the lane's record of chunks taken from its cache,
 * or a record inside the log's end) at a time, HR_HEAP_FLIPS times
 * (default 1000): every opening must be refused with K_EHEAP and leave the
 * heap's words and objects exactly as they were (nothing applied).  It
 * prints its seed; HR_TEST_SEED replays one.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/heap.h>

#include "common.h"
#include "heap/alloc.h"
#include "heap/format.h"
#include "heap/view.h"
#include "heap_suite.h"

static pmm_bank *bank;

static void setup(void) { bank = hs_site(); }
static void teardown(void) { site_drop(); }
TestSuite(heap_damage, .init = setup, .fini = teardown);

#define SIZE (256u << 10)

static hr_heap *open_heap(const char *name)
{
    return hs_open(bank, name, SIZE);
}

/* Begin a transaction and make n objects of 300 bytes in it (beyond the
 * lane caches: on the shared free lists once freed). */
static void alloc_300(hr_heap *h, void **p, int n)
{
    cr_assert_eq(hr_heap_begin(h), 0);
    for (int i = 0; i < n; i++)
        cr_assert_eq(hr_heap_alloc(h, 300, 0, &p[i]), 0);
}

/* Mutant of #21: the checker ignored a wrong back link of a free list. */
Test(heap_damage, the_checker_names_a_wrong_back_link)
{
    hr_heap *h = open_heap("b");
    void *p[4];
    alloc_300(h, p, 4);
    cr_assert_eq(hr_heap_free(h, p[0]), 0); /* two free chunks of one size, */
    cr_assert_eq(hr_heap_free(h, p[2]), 0); /* kept apart by used ones */
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    /* the later free is the list's head; the earlier one links back to it */
    uint64_t *back = (uint64_t *)p[0] + 1, good = *back;
    cr_assert_neq(good, 0, "p[0] is not the head of its list");
    *back = 0;
    hs_seen[0] = 0;
    cr_assert_eq(hr_heap_check(h, hs_collect, NULL), K_EHEAP);
    cr_assert(strstr(hs_seen, "back link"), "not named: %s", hs_seen);
    *back = good + HH_ALIGN;
    hs_seen[0] = 0;
    cr_assert_eq(hr_heap_check(h, hs_collect, NULL), K_EHEAP);
    cr_assert(strstr(hs_seen, "back link"), "not named: %s", hs_seen);
    *back = good;
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    hr_heap_close(h);
}

#define NWORDS 64

/* A child opens the heap, changes it inside a transaction and dies there:
 * every word of the root's array, a record written over, new objects (the
 * first three taken from its lane's cache), one of them in place of a
 * freed one. */
static void die_in_a_transaction(const char *name)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        hr_heap *h;
        uint64_t *root;
        void *o;
        if (hr_heap_open(&h, bank, name, SIZE, "k", 1, 0) < 0 ||
            hr_heap_root(h, (void **)&root) < 0 || !root ||
            hr_heap_begin(h) < 0)
            _exit(2);
        for (int i = 0; i < NWORDS; i++)
            if (hr_heap_set64(h, &root[i * 3 % NWORDS], 7000 + (uint64_t)i))
                _exit(3);
        for (int i = 0; i < 3; i++)
            if (hr_heap_alloc(h, 48 + 100 * (size_t)i, HR_HEAP_ZERO, &o) < 0)
                _exit(4);
        if (hr_heap_free(h, (void *)(uintptr_t)root[NWORDS]) < 0 ||
            hr_heap_write(h, root, "overwritten", 12) < 0 ||
            hr_heap_alloc(h, 300, 0, &o) < 0 ||
            hr_heap_set64(h, &root[NWORDS], (uint64_t)(uintptr_t)o) < 0)
            _exit(5);
        kill(getpid(), SIGKILL);
        _exit(6);
    }
    cr_assert_eq(wait_status(pid), 128 + SIGKILL, "the child died in its tx");
}

/* A heap with a root of NWORDS words (word i == i) and an object, and in
 * the lane's cache three chunks of the sizes the child takes. */
static void make_heap(const char *name, uint64_t **root_out)
{
    hr_heap *h = open_heap(name);
    uint64_t *root;
    void *o, *c[3];
    cr_assert_eq(hr_heap_begin(h), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(hr_heap_alloc(h, 48 + 100 * (size_t)i, 0, &c[i]), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_begin(h), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(hr_heap_free(h, c[i]), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_alloc(h, (NWORDS + 1) * 8, 0, (void **)&root), 0);
    for (uint64_t i = 0; i < NWORDS; i++)
        root[i] = i;
    cr_assert_eq(hr_heap_alloc(h, 200, HR_HEAP_ZERO, &o), 0);
    root[NWORDS] = (uint64_t)(uintptr_t)o;
    cr_assert_eq(hr_heap_set_root(h, root), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    hr_heap_close(h);
    *root_out = root;
}

static void assert_rolled_back(hr_heap *h, const uint64_t *root)
{
    for (uint64_t i = 0; i < NWORDS; i++)
        cr_assert_eq(root[i], i, "word %llu is %llu: not rolled back",
                     (unsigned long long)i, (unsigned long long)root[i]);
    hr_heap_info st;
    cr_assert_eq(hr_heap_stat(h, &st), 0);
    cr_assert_eq(st.objects, 2, "the root and its object, none of the child's");
    cr_assert_eq(st.cached_chunks, 3, "the chunks the child took, cached");
}

/* Mutant of #21: the robust lock did not roll back a dead owner's changes
 * when hr_heap_check or hr_heap_stat was the first call to meet it on a
 * handle opened before the death. */
Test(heap_damage, check_or_stat_first_rolls_back_a_dead_holder)
{
    for (int stat_first = 0; stat_first < 2; stat_first++) {
        const char *name = stat_first ? "s" : "c";
        uint64_t *root;
        make_heap(name, &root);
        hr_heap *h = open_heap(name);
        die_in_a_transaction(name);
        cr_assert_eq(memcmp(root, "overwritten", 12), 0, "the child's change");
        if (stat_first) {
            hr_heap_info st;
            cr_assert_eq(hr_heap_stat(h, &st), 0, "stat met a dead holder");
        } else {
            cr_assert_eq(hr_heap_check(h, hs_collect, NULL), 0,
                         "check met a dead holder");
        }
        assert_rolled_back(h, root);
        cr_assert_eq(hr_heap_check(h, hs_collect, NULL), 0);
        hr_heap_close(h);
    }
}

static long flips_wanted(void)
{
    return test_count("HR_HEAP_FLIPS", 1000);
}

Test(heap_damage, a_damaged_log_is_refused_never_applied, .timeout = 300)
{
    uint64_t *root;
    make_heap("d", &root);
    die_in_a_transaction("d");
    uint8_t *blk, *copy = malloc(SIZE);
    void *a;
    cr_assert_eq(pmm_alloc(bank, "d", 1, "k", 1, PMM_RETRIEVE, &a, NULL), 0);
    blk = a;
    struct hh_hdr *d = a;
    memcpy(copy, blk, SIZE);
    struct hh_lane *lane = NULL; /* the dead child's */
    for (unsigned i = 0; i < d->nlanes; i++) {
        struct hh_lane *l = (void *)(blk + d->lanes_off + i * d->lane_size);
        if (l->log_state != hh_log_state(0))
            lane = l;
    }
    cr_assert_not_null(lane, "no lane holds the dead child's log");
    uint64_t end = hh_state_end(lane->log_state);
    unsigned taken = hh_state_taken(lane->log_state);
    uint64_t lane_off = (uint64_t)((uint8_t *)lane - blk);
    uint64_t log_off = lane_off + HH_LANE_HDR;
    uint64_t taken_off = lane_off + offsetof(struct hh_lane, taken);
    unsigned lane_no = (unsigned)((lane_off - d->lanes_off) / d->lane_size);
    cr_assert_eq(lane->log_state, hh_log_state_n(end, taken));
    cr_assert_gt(end, 64 * 40, "the dead child's log holds its records");
    cr_assert_eq(taken, 3, "the child's takes from its cache are recorded");

    long want = flips_wanted(), refused = 0;
    fprintf(stderr, "heap_damage: %ld flips in a %llu-byte log and %u "
            "taken slots\n", want, (unsigned long long)end, taken);
    uint64_t seed = test_seed("heap_damage: bit flips");
    uint64_t rng = seed;
    size_t hot = offsetof(struct hh_hdr, root);
    for (long i = 0; i < want; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        /* the state word, a taken slot, or the log */
        uint64_t at = rng % (8 + 8 * taken + end);
        uint64_t off = at < 8 ? lane_off + offsetof(struct hh_lane, log_state)
                                    + at
                     : at < 8 + 8 * taken ? taken_off + at - 8
                                          : log_off + at - 8 - 8 * taken;
        uint8_t x = (uint8_t)(rng >> 40) | 1;
        memcpy(blk, copy, SIZE);
        blk[off] ^= x;
        hr_heap *h;
        int r = hr_heap_open(&h, bank, "d", SIZE, "k", 1, HR_HEAP_RETRIEVE);
        if (r == 0)
            hr_heap_close(h);
        cr_assert_eq(r, K_EHEAP, "flip %ld (byte %llu ^ %#x): opened (%d)", i,
                     (unsigned long long)off, x, r);
        cr_assert(memcmp(blk + hot, copy + hot, HH_HDR_SIZE - hot) == 0 &&
                  memcmp(blk + d->arena_off, copy + d->arena_off,
                         SIZE - d->arena_off) == 0,
                  "flip %ld: part of the damaged log was applied", i);
        refused++;
    }
    fprintf(stderr, "heap_damage: %ld of %ld refused, 0 applied\n", refused,
            want);

    /* the tool names the lane and the record; begin refuses */
    memcpy(blk, copy, SIZE);
    blk[log_off + 36] ^= 0x10; /* the first record's saved bytes */
    char out[2048], lane_name[32];
    cr_assert_eq(run_hr(out, sizeof out, "heap", "check", "d", NULL), 3, "%s",
                 out);
    snprintf(lane_name, sizeof lane_name, "lane %u:", lane_no);
    cr_assert(strstr(out, lane_name) && strstr(out, "log offset 0"), "%s",
              out);
    memcpy(blk, copy, SIZE);
    blk[taken_off + 8 + 5] ^= 0x20; /* the second taken slot's offset */
    cr_assert_eq(run_hr(out, sizeof out, "heap", "check", "d", NULL), 3, "%s",
                 out);
    cr_assert(strstr(out, lane_name) && strstr(out, "slot 1 "), "%s", out);
    hr_heap *h;
    cr_assert_eq(hr_heap_open(&h, bank, "d", SIZE, "k", 1,
                              HR_HEAP_RETRIEVE | HR_HEAP_INSPECT), 0);
    cr_assert_eq(hr_heap_begin(h), K_EHEAP);
    hr_heap_close(h);

    /* the log as the child left it is rolled back whole */
    memcpy(blk, copy, SIZE);
    h = open_heap("d");
    assert_rolled_back(h, root);
    cr_assert_eq(hr_heap_check(h, hs_collect, NULL), 0);
    hr_heap_close(h);
    free(copy);
}

/* An object's header damaged after hr_heap_free (an off-by-one store past
 * the object before it, onto its size word), before the commit that frees
 * it: the commit refuses with K_EHEAP.  Before, the free at commit
 * trusted the header: a size of 0 indexed the free lists out of bounds,
 * a huge one was followed out of the arena (SIGSEGV both, shown by the
 * heap review). */
Test(heap_damage, a_header_damaged_before_its_free_commits_is_refused)
{
    static const uint64_t sizes[] = {3, 0x1000000003ull};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%zu", i);
        hr_heap *h = open_heap(name);
        void *p, *o, *g;
        cr_assert_eq(hr_heap_begin(h), 0);
        cr_assert_eq(hr_heap_alloc(h, 392, 0, &p), 0); /* beyond the caches */
        cr_assert_eq(hr_heap_alloc(h, 400, 0, &o), 0);
        cr_assert_eq(hr_heap_alloc(h, 400, 0, &g), 0);
        cr_assert_eq(hr_heap_commit(h), 0);
        pid_t pid = fork();
        if (pid == 0) {
            size_t u;
            if (hr_heap_begin(h) || hr_heap_free(h, o) || hr_heap_usable(h, p, &u))
                _exit(2);
            ((uint64_t *)p)[u / 8] = sizes[i]; /* o's size word */
            _exit(hr_heap_commit(h) == K_EHEAP ? 0 : 3);
        }
        cr_assert_eq(wait_status(pid), 0, "size %#llx: refused, no crash",
                     (unsigned long long)sizes[i]);
        hr_heap_close(h);
    }
}

/* A free list's back link damaged: the allocation that would unlink that
 * chunk refuses with K_EHEAP.  Before, it followed the bad link, the list
 * lost a chunk that stayed free for good, and the commit succeeded. */
Test(heap_damage, a_free_list_link_that_does_not_link_back_is_refused)
{
    hr_heap *h = open_heap("l");
    void *p[6];
    alloc_300(h, p, 6);
    for (int i = 0; i < 6; i += 2)
        cr_assert_eq(hr_heap_free(h, p[i]), 0); /* three free, kept apart */
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    /* the middle one of the list (neither head nor tail) */
    void *mid = NULL;
    for (int i = 0; i < 6 && !mid; i += 2) {
        uint64_t *l = (uint64_t *)p[i];
        if (l[0] && l[1])
            mid = p[i];
    }
    cr_assert_not_null(mid, "a chunk inside its list");
    ((uint64_t *)mid)[1] = 0; /* its back link: "the head" */
    void *q[3];
    int r = 0;
    cr_assert_eq(hr_heap_begin(h), 0);
    for (int i = 0; i < 3 && r == 0; i++)
        r = hr_heap_alloc(h, 300, 0, &q[i]);
    cr_assert_eq(r, K_EHEAP, "the bad link is refused, not followed");
    hr_heap_abort(h);
    hr_heap_close(h);
}

/* A header that a merge left inside a bigger free chunk looks free and
 * sound (check words depend on the offset alone): one stray word that
 * lists it must be named by the checker, and refused by the allocator.
 * Before, the check passed, and the next allocations returned that
 * header's place and then the chunk around it: two live objects over
 * each other (shown by the heap review). */
Test(heap_damage, a_stale_header_put_on_a_list_is_no_chunk)
{
    hr_heap *h = open_heap("s");
    void *x, *y, *g1, *v, *g2;
    cr_assert_eq(hr_heap_begin(h), 0); /* 400 bytes: beyond the lane caches */
    cr_assert_eq(hr_heap_alloc(h, 400, 0, &x), 0);
    cr_assert_eq(hr_heap_alloc(h, 400, 0, &y), 0);
    cr_assert_eq(hr_heap_alloc(h, 400, 0, &g1), 0);
    cr_assert_eq(hr_heap_alloc(h, 400, 0, &v), 0);
    cr_assert_eq(hr_heap_alloc(h, 400, 0, &g2), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    void *order[] = {y, x, v}; /* x merges with y: y's header stays inside */
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(hr_heap_begin(h), 0);
        cr_assert_eq(hr_heap_free(h, order[i]), 0);
        cr_assert_eq(hr_heap_commit(h), 0);
    }
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    unsigned b = hh_bin_of(416);
    uint64_t yoff = (uint64_t)((uint8_t *)y - h->base) - sizeof(struct hh_chunk);
    cr_assert_neq(h->hdr->bins[b], 0, "v heads its list");
    h->hdr->bins[b] = yoff; /* one stray word */
    hs_seen[0] = 0;
    cr_assert_eq(hr_heap_check(h, hs_collect, NULL), K_EHEAP);
    cr_assert(strstr(hs_seen, "is not a chunk of the arena"), "%s", hs_seen);
    void *a;
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_alloc(h, 400, 0, &a), K_EHEAP, "not handed out");
    hr_heap_abort(h);
    hr_heap_close(h);
}
