/* SPDX-License-Identifier: MIT */
/*
 * test_crash.c - processes killed with SIGKILL at every named crash point
 * inside allocate, free and free-by-key, and at random moments while
 * several processes allocate and free at once.  After each: the checker
 * finds the bank consistent, no lock is left held, no committed block is
 * lost, and once everything is freed no page is leaked.
 *
 * HR_CRASH_KILLS sets the number of random kills (default 2000) and
 * HR_TEST_SEED their seed (printed by every run, so a failure replays).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "os.h"
#include "pmm/crash.h"
#include "pmm/view.h"
#include "pmm/update.h"
#include "pmm/write.h"

static void setup(void) { site_new(8 << 20, 512); unsetenv("HR_CRASHPOINT"); }
static void teardown(void) { site_drop(); }
TestSuite(crash, .init = setup, .fini = teardown);

/* No lock may outlive its holder: a fresh open file description gets it. */
static void assert_unlocked(void)
{
    int fd;
    cr_assert_eq(pmm__os_open(site_bank(), 0, 0, &fd), 0);
    cr_assert_eq(pmm__os_trylock(fd, 1), 0, "a dead process left the lock held");
    pmm__os_unlock(fd);
    close(fd);
}

static int free_all_cb(const pmm_block *blk, void *arg)
{
    return pmm_free(arg, blk->name);
}

static void assert_no_leak(void)
{
    pmm_bank *b = bank_open();
    cr_assert_eq(pmm_iter(b, free_all_cb, b), 0);
    pmm_bank_info st;
    cr_assert_eq(pmm_bank_stat(b, &st), 0);
    cr_assert_eq(st.used, 0, "pages leaked: %llu bytes", (unsigned long long)st.used);
    cr_assert_eq(st.blocks, 0);
    cr_assert_eq(check_bank(), 0);
}

enum op { OP_ALLOC, OP_FREE, OP_FREEKEY };

/* The victim's size: three pages, or on a huge-page bank (ctest -L huge)
 * a huge page and three, so that it is aligned and its allocation passes
 * over file pages (punched by the apply, from the log). */
static size_t victim_size(void)
{
    const char *h = getenv("HR_TEST_HUGE");
    return (h && strcmp(h, "1") == 0 ? 2u << 20 : 0) + 3 * 4096;
}

/* Run op in a child armed to die at point; return its status. */
static int die_at(const char *point, enum op op)
{
    pid_t pid = fork();
    if (pid == 0) {
        setenv("HR_CRASHPOINT", point, 1);
        pmm_bank *b;
        if (pmm_bank_open(&b, NULL, "RAM", 0) != 0)
            _exit(10);
        void *p;
        int r = op == OP_ALLOC ? pmm_alloc(b, "victim", victim_size(), "V", 2, 0, &p, NULL)
              : op == OP_FREE  ? pmm_free(b, "victim")
                               : pmm_free_key(b, "V", 2, NULL);
        _exit(r == 0 ? 0 : 11);
    }
    return wait_status(pid);
}

struct point { const char *name; enum op op; int exists_after; };

static const struct point points[] = {
    {"alloc.reserved", OP_ALLOC, 0},  /* before the commit point */
    {"alloc.committed", OP_ALLOC, 1},
    {"alloc.entry", OP_ALLOC, 1},
    {"alloc.bitmap", OP_ALLOC, 1},
    {"alloc.linked", OP_ALLOC, 1},
    {"alloc.done", OP_ALLOC, 1},
    {"free.committed", OP_FREE, 0},
    {"free.unlinked", OP_FREE, 0},
    {"free.entry", OP_FREE, 0},
    {"free.bitmap", OP_FREE, 0},
    {"free.punched", OP_FREE, 0},
    {"free.done", OP_FREE, 0},
};

Test(crash, every_named_point_in_allocate_and_free)
{
    pmm_bank *b = bank_open();
    void *p;
    /* neighbours on the same chains and pages, which must survive */
    for (int i = 0; i < 20; i++) {
        char n[16];
        snprintf(n, sizeof n, "keep%d", i);
        cr_assert_eq(pmm_alloc(b, n, 4096, "K", 2, 0, &p, NULL), 0);
        memset(p, i, 4096);
    }
    uint64_t base = bank_used();
    const size_t vs = victim_size();
    for (size_t i = 0; i < sizeof points / sizeof *points; i++) {
        const struct point *pt = &points[i];
        if (pt->op == OP_FREE) { /* something to free */
            cr_assert_eq(pmm_alloc(b, "victim", vs, "V", 2, 0, &p, NULL), 0);
            memset(p, 0x5a, vs);
        }
        cr_assert_eq(die_at(pt->name, pt->op), 128 + SIGKILL,
                     "%s: the crash point was not reached", pt->name);
        cr_assert_eq(check_bank(), 0, "%s: bank inconsistent", pt->name);
        assert_unlocked();
        pmm_block blk;
        int r = pmm_stat(b, "victim", &blk); /* recovers, as any user does */
        cr_assert_eq(r, pt->exists_after ? 0 : K_EUNKNOWN, "%s: got %s",
                     pt->name, pmm_strerror(r));
        cr_assert_eq(bank_used(), base + (pt->exists_after ? vs : 0),
                     "%s: used pages", pt->name);
        if (pt->exists_after) {
            cr_assert_eq(pmm_alloc(b, "victim", vs, "V", 2, 0, &p, NULL), 0);
            for (size_t k = 0; k < vs; k++)
                cr_assert_eq(((char *)p)[k], 0, "%s: new block not zero", pt->name);
            cr_assert_eq(pmm_free(b, "victim"), 0);
        }
        cr_assert_eq(check_bank(), 0);
    }
    for (int i = 0; i < 20; i++) {
        char n[16];
        snprintf(n, sizeof n, "keep%d", i);
        cr_assert_eq(pmm_alloc(b, n, 4096, "K", 2, PMM_RETRIEVE, &p, NULL), 0);
        cr_assert_eq(((unsigned char *)p)[4095], i, "neighbour %d damaged", i);
    }
    assert_no_leak();
}

Test(crash, free_by_key_killed_between_blocks)
{
    pmm_bank *b = bank_open();
    void *p;
    for (int i = 0; i < 5; i++) {
        char n[16];
        snprintf(n, sizeof n, "v%d", i);
        cr_assert_eq(pmm_alloc(b, n, 4096, "V", 2, 0, &p, NULL), 0);
    }
    cr_assert_eq(die_at("freekey.first", OP_FREEKEY), 128 + SIGKILL);
    cr_assert_eq(check_bank(), 0);
    assert_unlocked();
    size_t n = 0;
    cr_assert_eq(pmm_free_key(b, "V", 2, &n), 0);
    cr_assert_eq(n, 4, "each block is freed whole: one gone, four left");
    assert_no_leak();
}

/* A worker allocates and frees blocks named after itself for ever, writing
 * the block's name into it. */
static void worker(int id, unsigned seed)
{
    pmm_bank *b;
    if (pmm_bank_open(&b, NULL, "RAM", 0) != 0)
        _exit(10);
    for (;;) {
        char n[32];
        snprintf(n, sizeof n, "w%d-%d", id, rand_r(&seed) % 16);
        void *p;
        size_t size = 1 + (size_t)(rand_r(&seed) % (5 * 4096));
        int r = pmm_alloc(b, n, size, "W", 2, 0, &p, NULL);
        if (r == 0)
            strcpy(p, n);
        else if (r != K_ESIZE && r != K_ENOMEM)
            _exit(20);
        if (rand_r(&seed) % 2) {
            r = pmm_free(b, n);
            if (r != 0 && r != K_EUNKNOWN)
                _exit(21);
        }
    }
}

static int check_contents(const pmm_block *blk, void *arg)
{
    pmm_bank *b = arg;
    void *p;
    int r = pmm_alloc(b, blk->name, 1, "W", 2, PMM_RETRIEVE, &p, NULL);
    cr_assert_eq(r, 0, "%s: %s", blk->name, pmm_strerror(r));
    cr_assert(((char *)p)[0] == 0 || strcmp(p, blk->name) == 0,
              "block %s holds another block's data", blk->name);
    return 0;
}

/* The storm's workers, killed by the teardown too: a failed assertion ends
 * the test at once, and endless workers must not outlive it. */
enum { W = 3 };
static pid_t storm[W];

static void storm_stop(void)
{
    for (int i = 0; i < W; i++) {
        if (storm[i] > 0) {
            kill(storm[i], SIGKILL);
            wait_status(storm[i]);
        }
        storm[i] = 0;
    }
    site_drop();
}

/* HR_TEST_SEED replays a run: the seed is printed at the start. */
Test(crash, random_kills_during_concurrent_allocate_and_free, .timeout = 500,
     .fini = storm_stop)
{
    int kills = (int)test_count("HR_CRASH_KILLS", 2000);
    unsigned seed = (unsigned)test_seed("crash: random kills");
    for (int i = 0; i < W; i++)
        if ((storm[i] = fork()) == 0)
            worker(i, seed + (unsigned)i);
    for (int k = 0; k < kills; k++) {
        int i = rand_r(&seed) % W;
        pace_us((unsigned long)(rand_r(&seed) % 1500)); /* a kill's moment */
        kill(storm[i], SIGKILL);
        int st = wait_status(storm[i]);
        storm[i] = 0;
        cr_assert_eq(st, 128 + SIGKILL, "worker failed on its own: %d", st);
        if (k % 250 == 249)
            cr_assert_eq(check_bank(), 0, "inconsistent after %d kills", k + 1);
        if ((storm[i] = fork()) == 0)
            worker(i, seed);
    }
    for (int i = 0; i < W; i++) {
        kill(storm[i], SIGKILL);
        wait_status(storm[i]);
        storm[i] = 0;
    }
    cr_assert_eq(check_bank(), 0);
    assert_unlocked();
    pmm_bank *b = bank_open();
    cr_assert_eq(pmm_iter(b, check_contents, b), 0);
    assert_no_leak();
}

static int writes;
static void count_writes(int what, int fd, const void *buf, size_t len,
                         uint64_t off)
{
    (void)fd, (void)buf, (void)len, (void)off;
    writes += what == PMM_OS_T_WRITE;
}

/* On a RAM bank an update writes its log and its stores, nothing to close
 * it: the last store completes it, and the next user finds the log done
 * (pmm__log_applied) and redoes nothing.  A kill at each store is
 * every_named_point_in_allocate_and_free's. */
Test(crash, a_ram_update_writes_its_log_and_its_stores_only)
{
    pmm_bank *b = bank_open();
    pmm_block blk;
    void *p;
    cr_assert_eq(pmm_alloc(b, "warm", 4096, "K", 2, 0, &p, NULL), 0);
    cr_assert_eq(pmm_free(b, "warm"), 0);
    pmm__os_tap = count_writes;
    writes = 0;
    cr_assert_eq(pmm_alloc(b, "w", 4096, "K", 2, 0, &p, NULL), 0);
    int alloc_writes = writes;
    writes = 0;
    cr_assert_eq(pmm_free(b, "w"), 0);
    int free_writes = writes;
    writes = 0;
    pmm_bank_info info;
    cr_assert_eq(pmm_bank_stat(b, &info), 0); /* takes the lock */
    cr_assert_eq(pmm_stat(b, "w", &blk), K_EUNKNOWN);
    pmm__os_tap = NULL;
    cr_assert_eq(alloc_writes, 4, "log, entry, bitmap, chain head: %d", alloc_writes);
    cr_assert_eq(free_writes, 4, "log, chain, bitmap, entry: %d", free_writes);
    cr_assert_eq(writes, 0, "a bank at rest needs no recovery: %d", writes);
    cr_assert_eq(pmm__live(b)->op, PMM_OP_FREE, "the free's log stays, done");
    cr_assert_eq(info.blocks, 0);
    cr_assert_eq(check_bank(), 0);
}

Test(crash, killed_repair_is_run_again)
{
    pmm_bank *b = bank_open();
    void *p;
    cr_assert_eq(pmm_alloc(b, "x", 4096, NULL, 0, 0, &p, NULL), 0);
    /* a repair that was interrupted: its mark is in the live record */
    struct pmm_live l = *pmm__live(b);
    l.op = PMM_OP_REPAIR;
    l.seq |= 1;
    cr_assert_eq(pmm__write_live(b, &l), 0);
    pmm_block blk;
    cr_assert_eq(pmm_stat(b, "x", &blk), 0);
    void *q;
    cr_assert_eq(pmm_alloc(b, "y", 4096, NULL, 0, 0, &q, NULL), 0);
    struct pmm_live now; /* no update pending: a RAM bank's last log may
                            stay, done (update.c) */
    pmm__live_now(b, &now);
    cr_assert_eq(now.op, PMM_OP_NONE);
    cr_assert_eq(check_bank(), 0);
    assert_no_leak();
}
