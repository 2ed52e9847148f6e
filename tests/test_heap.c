/* SPDX-License-Identifier: MIT */
/*
 * test_heap.c - the persistent heap's interface: transactions, allocation,
 * the root, and every bad input answered with its code.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <hotrestart/heap.h>

#include "common.h"
#include "heap_suite.h"
#include "heap_work.h"
#include "../bench/syscall_trap.h"

static pmm_bank *bank;

static void setup(void) { bank = hs_site(); }
static void teardown(void) { site_drop(); }
TestSuite(heap, .init = setup, .fini = teardown);

static hr_heap *open_heap(const char *name)
{
    return hs_open(bank, name, 256 << 10);
}

Test(heap, commit_keeps_and_abort_undoes)
{
    hr_heap *h = open_heap("h");
    uint64_t *w;
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_alloc(h, 64, HR_HEAP_ZERO, (void **)&w), 0);
    cr_assert_eq(w[7], 0);
    w[0] = 42;
    cr_assert_eq(hr_heap_set_root(h, w), 0);
    cr_assert_eq(hr_heap_commit(h), 0);

    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_set64(h, &w[0], 7), 0);
    const char msg[] = "changed";
    cr_assert_eq(hr_heap_write(h, &w[1], msg, sizeof msg), 0);
    void *extra;
    cr_assert_eq(hr_heap_alloc(h, 5000, 0, &extra), 0);
    cr_assert_eq(hr_heap_set_root(h, NULL), 0);
    cr_assert_eq(hr_heap_abort(h), 0);

    void *root;
    cr_assert_eq(hr_heap_root(h, &root), 0);
    cr_assert_eq(root, w);
    cr_assert_eq(w[0], 42);
    cr_assert_eq(w[1], 0);
    hr_heap_info st;
    cr_assert_eq(hr_heap_stat(h, &st), 0);
    cr_assert_eq(st.objects, 1);
    cr_assert_eq(st.used, 64);
    cr_assert_eq(st.free_chunks, 1);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    hr_heap_close(h);

    /* another process sees the committed state at the same address */
    pid_t pid = fork();
    if (pid == 0) {
        hr_heap *g;
        void *r2;
        if (hr_heap_open(&g, bank, "h", 256 << 10, "k", 1, HR_HEAP_RETRIEVE))
            _exit(1);
        hr_heap_root(g, &r2);
        _exit(r2 == w && ((uint64_t *)r2)[0] == 42 ? 0 : 2);
    }
    cr_assert_eq(wait_status(pid), 0);
}

Test(heap, free_is_applied_at_commit_and_merges)
{
    hr_heap *h = open_heap("h");
    void *p[64];
    hr_heap_info st0, st;
    cr_assert_eq(hr_heap_stat(h, &st0), 0);
    cr_assert_eq(hr_heap_begin(h), 0);
    for (int i = 0; i < 64; i++) /* beyond the lane caches */
        cr_assert_eq(hr_heap_alloc(h, 300 + (size_t)i * 97, 0, &p[i]), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_stat(h, &st), 0);
    cr_assert_eq(st.objects, 64);

    /* freed in an aborted tx: still there */
    cr_assert_eq(hr_heap_begin(h), 0);
    for (int i = 0; i < 64; i++)
        cr_assert_eq(hr_heap_free(h, p[i]), 0);
    cr_assert_eq(hr_heap_abort(h), 0);
    cr_assert_eq(hr_heap_stat(h, &st), 0);
    cr_assert_eq(st.objects, 64);

    cr_assert_eq(hr_heap_begin(h), 0);
    for (int i = 0; i < 64; i += 2)
        cr_assert_eq(hr_heap_free(h, p[i]), 0);
    for (int i = 1; i < 64; i += 2)
        cr_assert_eq(hr_heap_free(h, p[i]), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_stat(h, &st), 0);
    cr_assert_eq(st.objects, 0);
    cr_assert_eq(st.used, 0);
    cr_assert_eq(st.free_chunks, 1, "free space merged back into one chunk");
    cr_assert_eq(st.largest_free, st0.largest_free);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
}

Test(heap, bad_transaction_calls)
{
    hr_heap *h = open_heap("h");
    uint64_t x = 0;
    void *p;
    cr_assert_eq(hr_heap_commit(h), K_ETX);
    cr_assert_eq(hr_heap_abort(h), K_ETX);
    cr_assert_eq(hr_heap_set64(h, &x, 1), K_ETX);
    cr_assert_eq(hr_heap_alloc(h, 8, 0, &p), K_ETX);
    cr_assert_eq(hr_heap_free(h, &x), K_ETX);
    cr_assert_eq(hr_heap_set_root(h, NULL), K_ETX);
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_begin(h), K_ETX, "nested begin");
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_commit(h), K_ETX, "unbalanced commit");
    cr_assert_eq(hr_heap_begin(NULL), K_EFAULT);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
}

static void *other_thread(void *arg)
{
    hr_heap *h = arg;
    /* the transaction belongs to the main thread: not ours to end */
    intptr_t r = hr_heap_commit(h);
    return (void *)r;
}

Test(heap, a_transaction_belongs_to_its_thread)
{
    hr_heap *h = open_heap("h");
    cr_assert_eq(hr_heap_begin(h), 0);
    pthread_t t;
    void *res;
    pthread_create(&t, NULL, other_thread, h);
    pthread_join(t, &res);
    cr_assert_eq((intptr_t)res, K_ETX);
    cr_assert_eq(hr_heap_commit(h), 0);
}

Test(heap, bad_pointers_and_ranges)
{
    hr_heap *h = open_heap("h");
    char *p, *q;
    uint64_t local = 0;
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_alloc(h, 100, 0, (void **)&p), 0);
    cr_assert_eq(hr_heap_alloc(h, 0, 0, (void **)&q), K_EINVAL);
    cr_assert_eq(hr_heap_alloc(h, 8, 0x80, (void **)&q), K_EINVAL);
    cr_assert_eq(hr_heap_alloc(h, 8, 0, NULL), K_EFAULT);
    cr_assert_eq(hr_heap_alloc(h, 1ull << 40, 0, (void **)&q), K_ENOMEM);
    cr_assert_eq(hr_heap_free(h, &local), K_EINVAL, "not in the heap");
    cr_assert_eq(hr_heap_free(h, p + 16), K_EINVAL, "inside an object");
    cr_assert_eq(hr_heap_free(h, p + 1), K_EINVAL, "misaligned");
    cr_assert_eq(hr_heap_set_root(h, p + 16), K_EINVAL);
    cr_assert_eq(hr_heap_add(h, &local, 8), K_EINVAL, "outside the heap");
    cr_assert_eq(hr_heap_add(h, p, 0), K_EINVAL);
    cr_assert_eq(hr_heap_add(h, p, 1ull << 40), K_EINVAL);
    cr_assert_eq(hr_heap_set64(h, (uint64_t *)(p + 4), 1), K_EINVAL);
    cr_assert_eq(hr_heap_free(h, p), 0);
    cr_assert_eq(hr_heap_free(h, p), K_EINVAL, "freed twice in one tx");
    /* an object freed by this transaction is no object for what follows
     * (before: a root set to it dangled after the commit, "the root is
     * not an object"; an add or a lock of it were taken) */
    cr_assert_eq(hr_heap_set_root(h, p), K_EINVAL, "the root freed here");
    cr_assert_eq(hr_heap_add(h, p + 8, 8), K_EINVAL, "bytes freed here");
    cr_assert_eq(hr_heap_lock(h, p), K_EINVAL, "a lock of what is freed here");
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_free(h, p), K_EINVAL, "already free");
    cr_assert_eq(hr_heap_free(h, NULL), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    size_t n;
    cr_assert_eq(hr_heap_usable(h, p, &n), K_EINVAL);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
}

Test(heap, full_log_dooms_the_transaction)
{
    hr_heap *h = open_heap("h");
    hr_heap_info st;
    cr_assert_eq(hr_heap_stat(h, &st), 0);
    char *p;
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_alloc(h, st.log_size, 0, (void **)&p), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_add(h, p, st.log_size / 2), 0);
    cr_assert_eq(hr_heap_add(h, p + st.log_size / 2, st.log_size / 2),
                 K_ENOMEM);
    cr_assert_eq(hr_heap_set64(h, (uint64_t *)p, 1), K_ENOMEM, "doomed");
    cr_assert_eq(hr_heap_commit(h), K_ENOMEM, "commit rolls back");
    cr_assert_eq(hr_heap_begin(h), 0, "the lock was released");
    cr_assert_eq(hr_heap_abort(h), 0);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
}

/* A transaction is bounded by its undo log (about log_size / 200
 * allocations or frees): work in batches. */
Test(heap, fills_up_and_empties)
{
    hr_heap *h = open_heap("h");
    static void *p[4096];
    int n = 0, r = 0;
    while (r == 0 && n < 4096) {
        cr_assert_eq(hr_heap_begin(h), 0);
        for (int k = 0; k < 50 && (r = hr_heap_alloc(h, 1000, 0, &p[n])) == 0;
             k++)
            n++;
        cr_assert_eq(hr_heap_commit(h), 0, "a failed alloc leaves the tx "
                     "usable");
    }
    cr_assert_eq(r, K_ENOMEM);
    cr_assert_gt(n, 150);
    hr_heap_info st;
    cr_assert_eq(hr_heap_stat(h, &st), 0);
    cr_assert_lt(st.largest_free, 1000);
    for (int i = 0; i < n; i += 50) {
        cr_assert_eq(hr_heap_begin(h), 0);
        for (int k = i; k < n && k < i + 50; k++)
            cr_assert_eq(hr_heap_free(h, p[k]), 0);
        cr_assert_eq(hr_heap_commit(h), 0);
    }
    cr_assert_eq(hr_heap_stat(h, &st), 0);
    cr_assert_eq(st.objects, 0);
    cr_assert_eq(st.free_chunks, 1);
    /* too many allocations for the log: the tx is doomed, its commit fails
     * and leaves nothing behind */
    cr_assert_eq(hr_heap_begin(h), 0);
    for (n = 0; n < 4096 && (r = hr_heap_alloc(h, 16, 0, &p[n])) == 0; n++)
        ;
    cr_assert_eq(r, K_ENOMEM);
    cr_assert_lt(n, 4096);
    cr_assert_eq(hr_heap_commit(h), K_ENOMEM);
    cr_assert_eq(hr_heap_stat(h, &st), 0);
    cr_assert_eq(st.objects, 0);
    cr_assert_eq(st.free_chunks, 1);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
}

Test(heap, open_refuses_bad_input)
{
    hr_heap *h;
    cr_assert_eq(hr_heap_open(NULL, bank, "h", 1 << 20, NULL, 0, 0), K_EFAULT);
    cr_assert_eq(hr_heap_open(&h, NULL, "h", 1 << 20, NULL, 0, 0), K_EFAULT);
    cr_assert_eq(hr_heap_open(&h, bank, "h", 100, NULL, 0, 0), K_EINVAL);
    cr_assert_eq(hr_heap_open(&h, bank, "h", 1 << 20, NULL, 0, 0x40), K_EINVAL);
    cr_assert_eq(hr_heap_open(&h, bank, "", 1 << 20, NULL, 0, 0), K_EINVAL);
    cr_assert_eq(hr_heap_open(&h, bank, "none", 0, NULL, 0, HR_HEAP_RETRIEVE),
                 K_EUNKNOWN);
    /* an ordinary block is not a heap */
    void *a;
    cr_assert_eq(pmm_alloc(bank, "plain", 1 << 20, NULL, 0, 0, &a, NULL), 0);
    strcpy(a, "ordinary data");
    cr_assert_eq(hr_heap_open(&h, bank, "plain", 1 << 20, NULL, 0, 0),
                 K_ENOTHEAP);
    cr_assert_str_eq(a, "ordinary data", "left untouched");
    cr_assert_eq(pmm_alloc(bank, "small", 4096, NULL, 0, 0, &a, NULL), 0);
    cr_assert_eq(hr_heap_open(&h, bank, "small", 0, NULL, 0, HR_HEAP_RETRIEVE),
                 K_ENOTHEAP);
    /* another key */
    h = open_heap("keyed");
    hr_heap_close(h);
    cr_assert_eq(hr_heap_open(&h, bank, "keyed", 256 << 10, "z", 1, 0),
                 K_EEXIST);
    cr_assert_eq(hr_heap_open(&h, bank, "keyed", 256 << 10, "k", 1,
                              HR_HEAP_EXCL), K_EEXIST);
}

Test(heap, damaged_header_is_refused)
{
    hr_heap *h = open_heap("h");
    hr_heap_close(h);
    void *a;
    cr_assert_eq(pmm_alloc(bank, "h", 1, "k", 1, PMM_RETRIEVE, &a, NULL), 0);
    uint32_t *version = (uint32_t *)((char *)a + 8);
    (*version)++;
    cr_assert_eq(hr_heap_open(&h, bank, "h", 256 << 10, "k", 1, 0), K_EHEAP);
    *version -= 2; /* the format before: refused too, never read */
    cr_assert_eq(hr_heap_open(&h, bank, "h", 256 << 10, "k", 1, 0), K_EHEAP);
    (*version)++;
    uint64_t *arena_size = (uint64_t *)((char *)a + 56);
    (*arena_size) += 4096;
    cr_assert_eq(hr_heap_open(&h, bank, "h", 256 << 10, "k", 1, 0), K_EHEAP);
    (*arena_size) -= 4096;
    h = open_heap("h");
    hr_heap_close(h);
}

static int problems;
static void count_problem(const char *p, void *arg)
{
    (void)arg;
    fprintf(stderr, "  problem: %s\n", p);
    problems++;
}

Test(heap, damaged_lists_are_reported_not_followed)
{
    hr_heap *h = open_heap("h");
    void *p, *q;
    cr_assert_eq(hr_heap_begin(h), 0);
    /* 300 bytes: beyond the lane caches, on the shared lists */
    cr_assert_eq(hr_heap_alloc(h, 300, 0, &p), 0);
    cr_assert_eq(hr_heap_alloc(h, 300, 0, &q), 0);
    cr_assert_eq(hr_heap_free(h, p), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    /* a wild write over the freed chunk's list link */
    ((uint64_t *)p)[0] = 0x12345678;
    cr_assert_eq(hr_heap_check(h, count_problem, NULL), K_EHEAP);
    cr_assert_gt(problems, 0);
    void *r;
    cr_assert_eq(hr_heap_begin(h), 0);
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = hr_heap_alloc(h, 2000, 0, &r);
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = hr_heap_alloc(h, 300, 0, &r);
    cr_assert_eq(rc, K_EHEAP, "the bad link is refused, not followed");
    cr_assert_eq(hr_heap_commit(h), K_EHEAP);
}

Test(heap, workload_keeps_invariants)
{
    hr_heap *h = open_heap("w");
    uint64_t rng = 12345;
    for (int i = 0; i < 3000; i++) {
        int r = hw_step(h, &rng);
        cr_assert_eq(r, 0, "step %d: %s", i, pmm_strerror(r));
    }
    hs_assert_clean(h);
}

static void *thread_steps(void *arg)
{
    hr_heap *h = arg;
    uint64_t rng = (uint64_t)(uintptr_t)&rng;
    for (int i = 0; i < 500; i++)
        if (hw_step(h, &rng) < 0)
            return (void *)1;
    return NULL;
}

/* Find no root, make one, set it twice (its own change is no loss) and
 * commit: the root, or NULL on any failure. */
static void *make_a_root(void *arg)
{
    hr_heap *g = arg;
    void *seen = &seen, *root;
    if (hr_heap_begin(g) < 0)
        return NULL;
    int ok = hr_heap_root(g, &seen) == 0 && !seen &&
             hr_heap_alloc(g, 64, HR_HEAP_ZERO, &root) == 0 &&
             hr_heap_set_root(g, root) == 0 && hr_heap_set_root(g, root) == 0;
    if (!ok)
        hr_heap_abort(g);
    return ok && hr_heap_commit(g) == 0 ? root : NULL;
}

Test(heap, a_root_set_since_it_was_read_is_not_lost)
{
    hr_heap *h = open_heap("r"), *g = open_heap("r");
    void *seen, *mine, *theirs, *now;
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_root(h, &seen), 0);
    cr_assert_null(seen);
    /* another thread's transaction finds no root either, makes one and
     * commits (one thread runs one transaction on a heap at a time) */
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, make_a_root, g), 0);
    cr_assert_eq(pthread_join(t, &theirs), 0);
    cr_assert_not_null(theirs, "the other thread made its root");
    /* the first would overwrite it: refused, to be run again */
    cr_assert_eq(hr_heap_alloc(h, 64, HR_HEAP_ZERO, &mine), 0);
    cr_assert_eq(hr_heap_set_root(h, mine), K_EBUSY);
    cr_assert_eq(hr_heap_commit(h), K_EBUSY, "the transaction is doomed");
    cr_assert_eq(hr_heap_root(h, &now), 0);
    cr_assert_eq(now, theirs);
    /* run again it finds the root; one that never read it may replace it */
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_root(h, &seen), 0);
    cr_assert_eq(seen, theirs);
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_begin(g), 0);
    cr_assert_eq(hr_heap_alloc(g, 64, HR_HEAP_ZERO, &mine), 0);
    cr_assert_eq(hr_heap_set_root(g, mine), 0);
    cr_assert_eq(hr_heap_free(g, theirs), 0);
    cr_assert_eq(hr_heap_commit(g), 0);
    hr_heap_info st;
    cr_assert_eq(hr_heap_stat(h, &st), 0);
    cr_assert_eq(st.objects, 1, "nothing lost: %llu objects",
                 (unsigned long long)st.objects);
    hr_heap_close(g);
    hr_heap_close(h);
}

Test(heap, threads_share_a_heap)
{
    hr_heap *h = open_heap("w"), *g = open_heap("w");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, thread_steps, i % 2 ? h : g);
    for (int i = 0; i < 4; i++) {
        void *res;
        pthread_join(t[i], &res);
        cr_assert_null(res, "thread %d failed a step", i);
    }
    hs_assert_clean(h);
    hr_heap_close(g);
    hr_heap_close(h);
}

Test(heap, tool_check_and_stat)
{
    hr_heap *h = open_heap("t");
    void *p;
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_alloc(h, 100, 0, &p), 0);
    cr_assert_eq(hr_heap_alloc(h, 3000, 0, &p), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    hr_heap_info st;
    cr_assert_eq(hr_heap_stat(h, &st), 0);
    char out[2048], want[256];
    cr_assert_eq(run_hr(out, sizeof out, "heap", "check", "t", NULL), 0);
    cr_assert(strstr(out, "t: consistent"), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "heap", "stat", "t", "--json", NULL),
                 0);
    snprintf(want, sizeof want, "\"used\": %llu, \"objects\": 2, ",
             (unsigned long long)st.used);
    cr_assert(strstr(out, want), "%s", out);
    snprintf(want, sizeof want, "\"largest_free\": %llu,",
             (unsigned long long)st.largest_free);
    cr_assert(strstr(out, want), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "heap", "stat", "t", NULL), 0);
    cr_assert(strstr(out, "in 2 objects"), "%s", out);

    /* a wild write over a chunk header: exit 3, the problem named */
    ((uint64_t *)p)[-2] ^= 0x100;
    cr_assert_eq(run_hr(out, sizeof out, "--json", "heap", "check", "t", NULL),
                 3);
    cr_assert(strstr(out, "\"consistent\": false"), "%s", out);
    cr_assert(strstr(out, "bad header") || strstr(out, "flag"), "%s", out);
    ((uint64_t *)p)[-2] ^= 0x100;
    cr_assert_eq(run_hr(out, sizeof out, "heap", "check", "t", NULL), 0);

    void *a;
    cr_assert_eq(pmm_alloc(bank, "plain", 1 << 20, NULL, 0, 0, &a, NULL), 0);
    memset(a, 1, 64);
    cr_assert_eq(run_hr(out, sizeof out, "heap", "check", "plain", NULL), 1);
    cr_assert_eq(run_hr(out, sizeof out, "heap", "stat", "none", NULL), 1);
    cr_assert_eq(run_hr(out, sizeof out, "heap", "check", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "heap", "check", "t", "--what", NULL),
                 2);
}

Test(heap, example_heap_kv_comes_back_consistent)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s 15 > /dev/null", HEAP_KV_BIN);
    int st = system(cmd);
    cr_assert_eq(st, 0, "heap_kv: status %d", st);
    hr_heap *h;
    cr_assert_eq(hr_heap_open(&h, bank, "heap_kv", 0, "KV", 2,
                              HR_HEAP_RETRIEVE), 0);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
}

static volatile long traps;
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)si, (void)uc;
    traps++;
}

/* The claim of heap.h: the RAM update path makes no system call.  A child
 * runs transactions under a filter that traps every system call. */
Test(heap, no_system_call_on_the_ram_update_path)
{
#ifdef HW_ASAN
    /* AddressSanitizer's runtime makes system calls of its own (it maps its
     * allocator's memory as it goes): the trap would count those. */
    skip_dropping_site("not under AddressSanitizer");
#endif
    hr_heap *h = open_heap("s");
    uint64_t rng = 7;
    for (int i = 0; i < 200; i++) /* warm up: the handle's arrays grow */
        cr_assert_eq(hw_step(h, &rng), 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (trap_all_syscalls(on_sigsys) < 0)
            _exit(254);
        for (int i = 0; i < 2000; i++)
            if (hw_step(h, &rng) < 0)
                _exit(253);
        long during = traps;
        syscall(SYS_getppid); /* this one must be seen */
        _exit(traps != during + 1 ? 252 : during > 250 ? 250 : (int)during);
    }
    int st = wait_status(pid);
    cr_assert_eq(st, 0, "system calls (or failure code) on the update path: %d",
                 st);
}

/* A heap's handle keeps its bank open: the bank's own last close (the
 * caller's pmm_bank_close before hr_heap_close) does not unmap the heap
 * under it (before: the next hr_heap_begin died of SIGSEGV). */
Test(heap, a_heap_outlives_the_close_of_its_bank)
{
    pmm_bank *b;
    hr_heap *h;
    uint64_t *w;
    cr_assert_eq(pmm_bank_open(&b, NULL, "RAM", 0), 0);
    cr_assert_eq(hr_heap_open(&h, b, "kept", 256 << 10, "k", 1, 0), 0);
    pmm_bank_close(b);
    pmm_bank_close(bank); /* the suite's: now only the heap holds it */
    bank = NULL;
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_alloc(h, 64, HR_HEAP_ZERO, (void **)&w), 0);
    cr_assert_eq(hr_heap_set_root(h, w), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    hr_heap_close(h); /* the bank's last reference */
}
