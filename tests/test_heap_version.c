/* SPDX-License-Identifier: MIT */
/*
 * test_heap_version.c - state across versions of a program (issue 26, item
 * 3): examples/heap_versions.c built as two programs, v1 (a list, format 1)
 * and v2 (an array, format 2, which migrates format 1 in one transaction).
 *
 *  - v2 migrating v1's heap is SIGKILLed at random points of the migration,
 *    round after round: at the n-th undo record (n drawn up to the count a
 *    whole migration makes, found first), at the n-th free applied at
 *    commit, just after the commit point, at an undo record and then again
 *    in the middle of the rollback the next start runs, and at a random
 *    instant after the program says it migrates.  After each the state is whole in format 1 (every node, 201
 *    objects) or in format 2 (every item, 1 object), never a mix, and
 *    `hr heap check` is clean.  HR_STATE_ROUNDS sets the rounds (default
 *    500), HR_TEST_SEED replays a run (the seed is printed).
 *  - v1 started on v2's state refuses with K_ENEWER's message naming both
 *    versions, exits 3, and the bank file holds the same bytes after.
 *  Both on a RAM heap and on a DISK heap.
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

static char disk_path[256];
static const char *medium = "RAM"; /* where the tests' heap is */

static void setup(void)
{
    site_new_disk(disk_path, sizeof disk_path, "/dev/shm/hrheapver",
                  64 << 20, 64 << 20);
}
static void teardown(void)
{
    disk_bank_drop(disk_path);
    site_drop();
}
TestSuite(heap_version, .init = setup, .fini = teardown);

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Run a version (1 or 2) with HR_CRASHPOINT=crash if not NULL; its exit
 * status (128 + 9 if the point killed it). */
static int run_version(int v, const char *crash, const char *arg)
{
    const char *argv[] = {v == 1 ? STATE_V1_BIN : STATE_V2_BIN, arg, NULL};
    if (crash)
        setenv("HR_CRASHPOINT", crash, 1);
    setenv("HV_MEDIUM", medium, 1);
    char out[256];
    int st = run_prog(argv[0], argv, NULL, out, sizeof out);
    unsetenv("HR_CRASHPOINT");
    return st;
}

/* Start v2 with its stdout on a pipe, wait until it says it migrates,
 * then kill it after a random number of microseconds (it may have ended
 * by then).  Its exit status. */
static int kill_migrating(uint64_t *rng)
{
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    setenv("HV_MEDIUM", medium, 1);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execl(STATE_V2_BIN, STATE_V2_BIN, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char buf[64];
    ssize_t n = read(fd[0], buf, sizeof buf); /* the line, or its end */
    if (n > 0 && memmem(buf, (size_t)n, "migrating", 9)) {
        pace_us((unsigned long)(next_rand(rng) % 1500)); /* a random moment */
        kill(pid, SIGKILL);
    }
    close(fd[0]);
    return wait_status(pid);
}

/* The state is whole in one format: 1 or 2; it fails the test if not. */
static int state_format(const char *after)
{
    char out[4096];
    const char *argv[] = {STATE_V2_BIN, "--verify", NULL};
    setenv("HV_MEDIUM", medium, 1);
    int st = run_prog(argv[0], argv, NULL, out, sizeof out);
    cr_assert_eq(st, 0, "after %s: %s", after, out);
    int format = strstr(out, "state format 2: whole") ? 2
               : strstr(out, "state format 1: whole") ? 1 : 0;
    cr_assert_neq(format, 0, "after %s: %s", after, out);
    cr_assert_eq(run_hr(out, sizeof out, "heap", "stat", "versions", "--json",
                        "--medium", medium, NULL), 0, "after %s: stat", after);
    const char *objects = format == 1 ? "\"objects\": 201," : "\"objects\": 1,";
    cr_assert(strstr(out, objects), "after %s: format %d but %s", after,
              format, out);
    cr_assert(strstr(out, format == 1 ? "\"root_version\": 1"
                                      : "\"root_version\": 2"),
              "after %s: %s", after, out);
    cr_assert_eq(run_hr(out, sizeof out, "heap", "check", "versions",
                        "--medium", medium, NULL),
                 0, "after %s: hr heap check: %s", after, out);
    return format;
}

/* A fresh format 1 state: the heap freed and made again by v1. */
static void fresh_v1(void)
{
    pmm_bank *b;
    cr_assert_eq(pmm_bank_open(&b, NULL, medium, 0), 0);
    int r = pmm_free(b, "versions");
    cr_assert(r == 0 || r == K_EUNKNOWN, "free: %s", pmm_strerror(r));
    pmm_bank_close(b);
    cr_assert_eq(run_version(1, NULL, NULL), 0);
}

/* How many undo records a whole migration makes: the smallest n at which
 * heap.log-entry:n is not reached (found by halving). */
static long records_of_migration(void)
{
    long lo = 1, hi = 1 << 16; /* killed at lo; not reached at hi */
    fresh_v1();
    cr_assert_eq(run_version(2, "heap.log-entry:1", NULL), 128 + SIGKILL);
    while (hi - lo > 1) {
        long mid = (lo + hi) / 2;
        char point[64];
        snprintf(point, sizeof point, "heap.log-entry:%ld", mid);
        fresh_v1();
        if (run_version(2, point, NULL) == 128 + SIGKILL)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static void killed_at_random(long share)
{
    long rounds = (test_count("HR_STATE_ROUNDS", 500) + share - 1) / share;
    uint64_t rng = test_seed("heap_version") | 1;
    long records = records_of_migration();
    cr_assert_gt(records, 200, "a migration of 200 items logs more");
    int old = 0, migrated = 0, format = 0;
    fresh_v1();
    for (long k = 0; k < rounds; k++) {
        char point[64], after[128];
        int how = (int)(next_rand(&rng) % 6), st;
        if (format == 2)
            fresh_v1();
        if (how <= 1) /* at an undo record of the migration */
            snprintf(point, sizeof point, "heap.log-entry:%llu",
                     (unsigned long long)(1 + next_rand(&rng) % (uint64_t)records));
        else if (how == 2) /* applying one of its 201 frees at commit */
            snprintf(point, sizeof point, "heap.commit-frees:%llu",
                     (unsigned long long)(1 + next_rand(&rng) % 201));
        else if (how == 3)
            snprintf(point, sizeof point, "heap.committed:1");
        else if (how == 4) { /* killed, then killed again in the rollback
                              * of that death that the next start runs */
            snprintf(point, sizeof point, "heap.log-entry:%llu",
                     (unsigned long long)(1 + next_rand(&rng) % (uint64_t)records));
            st = run_version(2, point, NULL);
            cr_assert_eq(st, 128 + SIGKILL, "round %ld, %s", k, point);
            snprintf(point, sizeof point, "heap.rollback:1");
        }
        if (how == 5) {
            st = kill_migrating(&rng);
            snprintf(after, sizeof after, "round %ld, a kill at random", k);
        } else {
            st = run_version(2, point, NULL);
            snprintf(after, sizeof after, "round %ld, %s", k, point);
        }
        cr_assert(st == 0 || st == 128 + SIGKILL, "%s: exit %d", after, st);
        format = state_format(after);
        cr_assert(st == 0 ? format == 2 : 1, "%s: ran to its end, format %d",
                  after, format);
        format == 1 ? old++ : migrated++;
        if (format == 1 && k % 10 == 9) { /* a start that is not killed */
            cr_assert_eq(run_version(2, NULL, NULL), 0);
            cr_assert_eq(state_format("a whole migration"), 2);
            format = 2;
        }
    }
    fprintf(stderr, "heap_version: %s: %ld rounds (%ld undo records a "
            "migration): %d left all old, %d all new\n", medium, rounds,
            records, old, migrated);
    cr_assert_gt(old, 0);
    cr_assert_gt(migrated, 0);
}

Test(heap_version, migration_killed_at_random, .timeout = 600)
{
    killed_at_random(1);
}

/* The same on a DISK heap (a fifth of the rounds: every commit flushes). */
Test(heap_version, migration_killed_at_random_disk, .timeout = 600)
{
    medium = "DISK";
    killed_at_random(5);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(*len);
    cr_assert_eq(fread(p, 1, *len, f), *len);
    fclose(f);
    return p;
}

static void refuses_and_changes_nothing(const char *bank_file)
{
    cr_assert_eq(run_version(1, NULL, NULL), 0);
    cr_assert_eq(run_version(2, NULL, NULL), 0);
    cr_assert_eq(run_version(2, NULL, NULL), 0); /* the lanes it used again */
    size_t len0, len1;
    uint8_t *before = read_all(bank_file, &len0);
    char out[1024];
    char *const argv[] = {STATE_V1_BIN, NULL};
    setenv("HV_MEDIUM", medium, 1);
    int st = run_all(out, sizeof out, 0, 0, argv);
    cr_assert_eq(st, 3, "%s", out);
    cr_assert(strstr(out, "format version 2") &&
              strstr(out, "versions up to 1") && strstr(out, "refused"),
              "the refusal names both versions: %s", out);
    uint8_t *after = read_all(bank_file, &len1);
    cr_assert_eq(len0, len1);
    size_t diff = 0;
    while (diff < len0 && before[diff] == after[diff])
        diff++;
    cr_assert_eq(diff, len0, "v1's refusal changed the bank at byte %zu",
                 diff);
    cr_assert_eq(state_format("v1's refusal"), 2);
    free(before);
    free(after);
}

Test(heap_version, older_version_refuses_and_changes_nothing)
{
    refuses_and_changes_nothing(site_bank());
}

Test(heap_version, older_version_refuses_and_changes_nothing_disk)
{
    medium = "DISK";
    refuses_and_changes_nothing(disk_path);
}

/* The calls themselves: no version until set, set only in a transaction,
 * K_ENEWER above what the caller knows, and an abort puts it back. */
Test(heap_version, calls)
{
    pmm_bank *b = bank_open();
    hr_heap *h;
    uint64_t v = 99;
    void *root = (void *)1;
    cr_assert_eq(hr_heap_open(&h, b, "calls", 1 << 20, NULL, 0, 0), 0);
    cr_assert_eq(hr_heap_root_version(h, &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(hr_heap_root_versioned(h, 0, &root, &v), 0);
    cr_assert_null(root);
    cr_assert_eq(hr_heap_set_root_version(h, 5), K_ETX);
    cr_assert_eq(hr_heap_root_version(NULL, &v), K_EFAULT);
    cr_assert_eq(hr_heap_root_versioned(h, 1, NULL, &v), K_EFAULT);
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_set_root_version(h, 7), 0);
    cr_assert_eq(hr_heap_abort(h), 0);
    cr_assert_eq(hr_heap_root_version(h, &v), 0);
    cr_assert_eq(v, 0, "an abort puts the version back");
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_set_root_version(h, 7), 0);
    cr_assert_eq(hr_heap_root_versioned(h, 7, &root, &v), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_root_versioned(h, 6, &root, &v), K_ENEWER);
    cr_assert_eq(v, 7);
    cr_assert(strstr(pmm_strerror(K_ENEWER), "newer format version"));
    hr_heap_close(h);
    cr_assert_eq(hr_heap_open(&h, b, "calls", 0, NULL, 0, HR_HEAP_RETRIEVE),
                 0);
    cr_assert_eq(hr_heap_root_version(h, &v), 0);
    cr_assert_eq(v, 7, "kept across opens");
    hr_heap_close(h);
    pmm_bank_close(b);
}
