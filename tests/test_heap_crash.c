/* SPDX-License-Identifier: MIT */
/*
 * test_heap_crash.c - a heap stays consistent whatever instant its users
 * die at: 2-4 processes run the invariant-keeping workload (heap_work.c)
 * and are SIGKILLed at random instants, HR_HEAP_KILLS times (default 10000,
 * 2500 under AddressSanitizer); and a process is stopped at every named
 * crash point of the commit, rollback and recovery paths.  After each death
 * the heap is opened again: the invariants hold, the checker is clean and
 * the used bytes are exactly the live objects'.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/heap.h>

#include "common.h"
#include "heap_work.h"


static void setup(void)
{
    site_new(16 << 20, 64);
    /* on a huge-page bank (ctest -L huge) heaps of a huge page and more,
     * placed 2 MiB-aligned and mapped with huge pages */
    const char *huge = getenv("HR_TEST_HUGE");
    if (huge && strcmp(huge, "1") == 0)
        hw_heap_size = 2u << 20;
}
static void teardown(void) { site_drop(); }
TestSuite(heap_crash, .init = setup, .fini = teardown);

static void reopen_and_verify(const char *name, const char *after)
{
    hw_reopen_verify("RAM", name, after);
}

static pid_t spawn(const char *name, uint64_t seed, const char *crash,
                   long steps)
{
    return hw_spawn("RAM", name, seed, crash, steps);
}

static long kills_wanted(void)
{
    const char *v = getenv("HR_HEAP_KILLS");
    if (v && *v)
        return atol(v);
#ifdef HW_ASAN
    return 2500;
#else
    return 10000;
#endif
}

Test(heap_crash, random_kills_of_2_to_4_processes, .timeout = 900)
{
    long want = kills_wanted();
    pid_t w[4] = {0};
    uint64_t rng = (uint64_t)time(NULL) * 2654435761u | 1;
    fprintf(stderr, "heap_crash: %ld kills, seed %llu\n", want,
            (unsigned long long)rng);
    reopen_and_verify("k", "start");
    for (long kill_no = 0; kill_no < want; kill_no++) {
        int procs = 2 + (int)(kill_no / 500 % 3); /* 2, 3, 4 at once */
        for (int i = 0; i < 4; i++) {
            if (i < procs && !w[i])
                w[i] = spawn("k", rng + (uint64_t)kill_no * 7919 + i, NULL, 0);
            if (i >= procs && w[i]) {
                kill(w[i], SIGKILL);
                cr_assert_eq(wait_status(w[i]), 128 + SIGKILL);
                w[i] = 0;
            }
        }
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        usleep((useconds_t)(rng % 1500));
        int v = (int)(rng % (uint64_t)procs);
        kill(w[v], SIGKILL);
        int st = wait_status(w[v]);
        cr_assert_eq(st, 128 + SIGKILL, "worker exited %d before its kill", st);
        w[v] = 0;
        char after[64];
        snprintf(after, sizeof after, "kill %ld", kill_no);
        reopen_and_verify("k", after);
    }
    for (int i = 0; i < 4; i++)
        if (w[i]) {
            kill(w[i], SIGKILL);
            wait_status(w[i]);
        }
    reopen_and_verify("k", "end");
    hr_heap *h;
    hr_heap_info st;
    cr_assert_eq(hw_open(&h, "RAM", "k", 1 << 20), 0);
    cr_assert_eq(hr_heap_stat(h, &st), 0);
    fprintf(stderr, "heap_crash: %llu transactions ended among the kills\n",
            (unsigned long long)st.tx_count);
    cr_assert_gt(st.tx_count, (uint64_t)want, "the workers did work");
    hr_heap_close(h);
    char out[512];
    cr_assert_eq(run_hr(out, sizeof out, "heap", "check", "k", NULL), 0,
                 "hr heap check: %s", out);
}

/* A process dies at a named point; the next opener must repair. */
static void die_at(const char *name, const char *point, uint64_t seed)
{
    pid_t pid = spawn(name, seed, point, 20000);
    int st = wait_status(pid);
    cr_assert_eq(st, 128 + SIGKILL, "%s was not reached (exit %d)", point, st);
}

static const char *const commit_points[] = {
    "heap.log-entry", "heap.commit-frees", "heap.commit-flushed",
    "heap.log-closed", "heap.committed", "heap.rollback",
    "heap.rollback-done",
};

Test(heap_crash, every_crash_point_of_commit_and_rollback, .timeout = 300)
{
    static const int nth[] = {1, 2, 3, 7, 20, 61, 150};
    for (size_t p = 0; p < sizeof commit_points / sizeof *commit_points; p++)
        for (size_t k = 0; k < sizeof nth / sizeof *nth; k++) {
            char point[64];
            snprintf(point, sizeof point, "%s:%d", commit_points[p], nth[k]);
            die_at("c", point, 1000 * p + k + 1);
            reopen_and_verify("c", point);
        }
}

/* A holder dies mid-transaction; then its rescuers die at each point of the
 * recovery in turn; the last opener finishes it. */
Test(heap_crash, every_crash_point_of_recovery, .timeout = 300)
{
    static const char *const recovery[] = {
        "heap.owner-dead", "heap.rollback", "heap.rollback-done",
        "heap.log-closed",
    };
    for (int round = 0; round < 6; round++) {
        char point[64];
        snprintf(point, sizeof point, "heap.log-entry:%d", 5 + round * 11);
        die_at("r", point, (uint64_t)round + 77);
        for (size_t i = 0; i < sizeof recovery / sizeof *recovery; i++)
            die_at("r", recovery[i], (uint64_t)round * 10 + i + 1);
        reopen_and_verify("r", point);
    }
}

/* A heap whose lock comes from another boot (as after a reboot, for a DISK
 * heap): the opener rolls back and remakes the lock; dying half-way is
 * repaired by the next. */
Test(heap_crash, a_lock_from_another_boot_is_remade, .timeout = 120)
{
    for (int round = 0; round < 4; round++) {
        char point[64], boot[32];
        snprintf(point, sizeof point, "heap.log-entry:%d", 9 + round * 13);
        die_at("b", point, (uint64_t)round + 5);
        snprintf(boot, sizeof boot, "boot-%d", round);
        setenv("HR_HEAP_BOOT_ID", boot, 1);
        die_at("b", "heap.new-boot", (uint64_t)round + 50);
        reopen_and_verify("b", "new boot");
    }
}

Test(heap_crash, a_format_cut_short_is_done_again)
{
    die_at("f", "heap.format", 3);
    reopen_and_verify("f", "format");
}
