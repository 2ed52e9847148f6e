/* SPDX-License-Identifier: MIT */
/*
 * test_heap_crash.c - a heap stays consistent whatever instant its users
 * die at: 2-4 processes of 2 threads each, and one process of 8 threads,
 * run the invariant-keeping workload (heap_work.c) in as many lanes at once
 * and are SIGKILLed at random instants, HR_HEAP_KILLS times (default 2000
 * each, half under AddressSanitizer; 10000 for the long run); and a
 * process is stopped at every named crash point of the lane, commit,
 * rollback and recovery paths while another runs beside it.  After each
 * death the heap is opened again: the invariants hold, the checker is clean,
 * the used bytes are exactly the live objects', and each dead worker's
 * counter holds every commit it acknowledged and at most one more (none
 * lost, none invented).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

static long kills_wanted(long dflt)
{
#ifdef HW_ASAN
    dflt /= 2;
#endif
    return test_count("HR_HEAP_KILLS", dflt);
}

static void acks_map(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED);
    hw_acked = p;
}

/* After workers first..first+n-1 died: the heap opens clean, keeps every
 * invariant, and holds each one's acknowledged commits, at most one more. */
static void verify_after(const char *name, const char *after, int first,
                         int n)
{
    reopen_and_verify(name, after);
    hr_heap *h;
    char why[300];
    cr_assert_eq(hw_open(&h, "RAM", name, hw_heap_size), 0);
    cr_assert_eq(hw_check_acks(h, first, n, why, sizeof why), 0, "%s: %s",
                 after, why);
    hr_heap_close(h);
}

static void stop(pid_t *pid)
{
    if (!*pid)
        return;
    kill(*pid, SIGKILL);
    cr_assert_eq(wait_status(*pid), 128 + SIGKILL);
    *pid = 0;
}

/* procs processes (a list cycling through them) of `threads` threads each
 * run at once; one of them at random is killed, `want` times. */
static void random_kills(const char *name, const int *procs, int nprocs,
                         int threads, long want)
{
    pid_t w[4] = {0};
    fprintf(stderr, "heap_crash: %ld kills of %d-thread processes\n", want,
            threads);
    uint64_t rng = test_seed("heap_crash: random kills");
    acks_map();
    reopen_and_verify(name, "start");
    hw_make_root("RAM", name);
    for (long kill_no = 0; kill_no < want; kill_no++) {
        int now = procs[kill_no / 500 % nprocs];
        for (int i = 0; i < 4; i++) {
            if (i < now && !w[i])
                w[i] = hw_spawn_threads("RAM", name, rng + (uint64_t)kill_no *
                                        7919 + i, NULL, 0, i * threads,
                                        threads);
            if (i >= now)
                stop(&w[i]);
        }
        test_rand(&rng);
        pace_us(rng % 1500); /* a kill's moment */
        int v = (int)(rng % (uint64_t)now);
        kill(w[v], SIGKILL);
        int st = wait_status(w[v]);
        cr_assert_eq(st, 128 + SIGKILL, "worker exited %d before its kill", st);
        w[v] = 0;
        char after[64];
        snprintf(after, sizeof after, "kill %ld", kill_no);
        verify_after(name, after, v * threads, threads);
    }
    for (int i = 0; i < 4; i++)
        stop(&w[i]);
    verify_after(name, "end", 0, 4 * threads > HW_WORKERS ? HW_WORKERS
                                                          : 4 * threads);
    hr_heap *h;
    hr_heap_info st;
    cr_assert_eq(hw_open(&h, "RAM", name, 1 << 20), 0);
    cr_assert_eq(hr_heap_stat(h, &st), 0);
    fprintf(stderr, "heap_crash: %llu transactions ended among the kills\n",
            (unsigned long long)st.tx_count);
    cr_assert_gt(st.tx_count, (uint64_t)want, "the workers did work");
    cr_assert_eq(st.lanes_busy, 0, "a dead worker's lane stays busy");
    hr_heap_close(h);
    char out[512];
    cr_assert_eq(run_hr(out, sizeof out, "heap", "check", name, NULL), 0,
                 "hr heap check: %s", out);
}

Test(heap_crash, random_kills_of_2_to_4_processes_of_2_threads,
     .timeout = 900)
{
    static const int procs[] = {2, 3, 4};
    random_kills("k", procs, 3, 2, kills_wanted(2000));
}

Test(heap_crash, random_kills_of_a_process_of_8_threads, .timeout = 900)
{
    static const int procs[] = {1};
    random_kills("e", procs, 1, 8, kills_wanted(2000));
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

/* A process dies at each crash point of the lanes' allocation caches
 * (src/heap/cache.c): a chunk taken from a cache (recorded in its lane,
 * its tag not yet cleared, the lists untouched; or taken whole), freed
 * into one after the commit point, the lists half rebuilt.  The next
 * opener finds every invariant, no object lost or counted twice, and the
 * checker clean; after a death with the lists half changed the next
 * process rebuilds them (and dies there too). */
Test(heap_crash, every_crash_point_of_the_caches, .timeout = 300)
{
    static const char *const points[] = {"heap.cache-took", "heap.cache-take",
                                         "heap.cache-push"};
    static const int nth[] = {1, 2, 5, 40, 300};
    for (size_t p = 0; p < sizeof points / sizeof *points; p++)
        for (size_t k = 0; k < sizeof nth / sizeof *nth; k++) {
            char point[64];
            snprintf(point, sizeof point, "%s:%d", points[p], nth[k]);
            die_at("z", point, 2000 * p + k + 1);
            reopen_and_verify("z", point);
            if (p == 0)
                continue; /* the lists are whole: nothing to rebuild */
            die_at("z", "heap.cache-rebuild", 3000 * p + k + 1);
            reopen_and_verify("z", "heap.cache-rebuild");
        }
}

/* A process of 2 threads dies at point (NAME:N) while another process of 2
 * threads runs beside it (seeds a, b). */
static void die_beside(const char *point, uint64_t a, uint64_t b)
{
    pid_t beside = hw_spawn_threads("RAM", "l", a, NULL, 0, 2, 2);
    pid_t pid = hw_spawn_threads("RAM", "l", b, point, 200000, 0, 2);
    int st = wait_status(pid);
    stop(&beside);
    cr_assert_eq(st, 128 + SIGKILL, "%s was not reached (exit %d)", point,
                 st);
    verify_after("l", point, 0, 4);
}

/* A process of 2 threads dies at each point of the lane protocol (and of
 * the commit) while another process of 2 threads runs beside it; and as
 * each of its threads takes its presence (once a thread). */
Test(heap_crash, every_crash_point_of_the_lanes, .timeout = 300)
{
    static const char *const points[] = {
        "heap.lane-taken", "heap.lock-word", "heap.log-entry",
        "heap.commit-frees", "heap.log-closed", "heap.committed",
        "heap.rollback",
    };
    static const int nth[] = {1, 4, 30, 200};
    acks_map();
    hw_make_root("RAM", "l");
    char point[64];
    for (size_t p = 0; p < sizeof points / sizeof *points; p++)
        for (size_t k = 0; k < sizeof nth / sizeof *nth; k++) {
            snprintf(point, sizeof point, "%s:%d", points[p], nth[k]);
            die_beside(point, 50 * p + k, 100 * p + k + 1);
        }
    for (int k = 1; k <= 2; k++) {
        snprintf(point, sizeof point, "heap.presence-taken:%d", k);
        die_beside(point, 900 + (uint64_t)k, 1000 + (uint64_t)k);
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
