/* SPDX-License-Identifier: MIT */
/*
 * heap_work.c - the workload and verifier shared by the heap tests.
 */
#define _GNU_SOURCE
#include "heap_work.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t hw_heap_size = 1 << 20;
uint64_t *hw_acked;
__thread int hw_worker;

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

int hw_open(hr_heap **h, const char *medium, const char *name, size_t size)
{
    pmm_bank *b;
    int r = pmm_bank_open(&b, NULL, medium, PMM_OPEN_CREATE);
    if (r < 0)
        return r;
    return hr_heap_open(h, b, name, size, "hw", 2, 0);
}

static int make_root(hr_heap *h)
{
    struct hw_root *root;
    int r = hr_heap_alloc(h, sizeof *root, HR_HEAP_ZERO, (void **)&root);
    if (r < 0)
        return r;
    root->total = (uint64_t)HW_ACCOUNTS * HW_START;
    for (int i = 0; i < HW_ACCOUNTS; i++)
        root->acc[i] = HW_START;
    return hr_heap_set_root(h, root);
}

static int transfer(hr_heap *h, struct hw_root *root, uint64_t *rng)
{
    unsigned a = next_rand(rng) % HW_ACCOUNTS, b = next_rand(rng) % HW_ACCOUNTS;
    if (a == b)
        return 0;
    uint64_t amount = next_rand(rng) % (root->acc[a] + 1);
    int r = hr_heap_set64(h, &root->acc[a], root->acc[a] - amount);
    return r < 0 ? r : hr_heap_set64(h, &root->acc[b], root->acc[b] + amount);
}

static int push(hr_heap *h, struct hw_root *root, uint64_t *rng)
{
    uint64_t x = next_rand(rng);
    /* mostly small; some over a page, whose middle no chunk header shares */
    size_t len = x % 4 ? 8 + x % 120 : x % 16 ? 8 + x % 3000 : 4096 + x % 8192;
    struct hw_node *n;
    int r = hr_heap_alloc(h, sizeof *n + len, 0, (void **)&n);
    if (r < 0)
        return r;
    n->next = root->head;
    n->seed = next_rand(rng);
    n->len = len;
    for (size_t i = 0; i < len; i++)
        n->data[i] = (uint8_t)(n->seed + i);
    if ((r = hr_heap_set64(h, &root->head, (uint64_t)(uintptr_t)n)) < 0)
        return r;
    return hr_heap_set64(h, &root->list_len, root->list_len + 1);
}

static int pop(hr_heap *h, struct hw_root *root)
{
    struct hw_node *n = (struct hw_node *)(uintptr_t)root->head;
    int r = hr_heap_set64(h, &root->head, n->next);
    if (r == 0)
        r = hr_heap_set64(h, &root->list_len, root->list_len - 1);
    return r < 0 ? r : hr_heap_free(h, n);
}

/* A transaction of the worker alone: its counter and its two accounts. */
static int private_ops(hr_heap *h, struct hw_mine *m, uint64_t *rng)
{
    if (m->a + m->b == 0)
        return hr_heap_set64(h, &m->a, 2 * HW_START);
    uint64_t amount = next_rand(rng) % (m->a + 1);
    int r = hr_heap_set64(h, &m->a, m->a - amount);
    return r < 0 ? r : hr_heap_set64(h, &m->b, m->b + amount);
}

static int ops(hr_heap *h, uint64_t *rng)
{
    struct hw_root *root;
    hr_heap_root(h, (void **)&root);
    if (!root)
        return make_root(h);
    struct hw_mine *m = &root->mine[hw_worker];
    int r = hr_heap_set64(h, &m->n, m->n + 1);
    if (r == 0 && next_rand(rng) % 2)
        return private_ops(h, m, rng);
    if (r == 0)
        r = hr_heap_set64(h, &root->commits, root->commits + 1);
    for (int k = 1 + (int)(next_rand(rng) % 3); r == 0 && k > 0; k--) {
        unsigned op = next_rand(rng) % 10;
        if (root->list_len >= HW_MAXLIST)
            op = 9;
        else if (!root->list_len && op >= 7)
            op = 4;
        r = op < 4 ? transfer(h, root, rng) : op < 7 ? push(h, root, rng)
                                                     : pop(h, root);
    }
    return r;
}

int hw_step(hr_heap *h, uint64_t *rng)
{
    int r = hr_heap_begin(h);
    if (r < 0)
        return r;
    if (next_rand(rng) % 64 == 0 && hr_heap_begin(h) != K_ETX) {
        hr_heap_abort(h);
        return -9999; /* a nested begin must be refused */
    }
    if ((r = ops(h, rng)) < 0) {
        hr_heap_abort(h);
        return r == K_EBUSY ? 0 : r; /* a lock kept for an older one: again */
    }
    if (next_rand(rng) % 20 == 0)
        return hr_heap_abort(h);
    uint64_t n = 0;
    struct hw_root *root;
    hr_heap_root(h, (void **)&root);
    if (root)
        n = root->mine[hw_worker].n; /* this transaction's, locked */
    r = hr_heap_commit(h);
    if (r == 0 && hw_acked && root)
        __atomic_store_n(&hw_acked[hw_worker], n, __ATOMIC_RELEASE);
    return r == K_EBUSY ? 0 : r;
}

struct hw_thread {
    hr_heap *h;
    uint64_t rng;
    long n;
    int worker;
};

/* A worker starts from what the heap holds of it: committed, so its
 * acknowledgement (the one a dead predecessor may have missed). */
static void start_acked(hr_heap *h)
{
    struct hw_root *root;
    int r = K_EBUSY;
    while (hw_acked && r == K_EBUSY && hr_heap_begin(h) == 0) {
        hr_heap_root(h, (void **)&root);
        r = root ? hr_heap_lock(h, root) : 0;
        if (r == 0 && root)
            __atomic_store_n(&hw_acked[hw_worker], root->mine[hw_worker].n,
                             __ATOMIC_RELEASE);
        hr_heap_abort(h);
    }
}

static void *run_thread(void *arg)
{
    struct hw_thread *t = arg;
    hw_worker = t->worker;
    start_acked(t->h);
    for (long i = 0; t->n <= 0 || i < t->n; i++) {
        int r = hw_step(t->h, &t->rng);
        if (r < 0) {
            fprintf(stderr, "worker %d.%d: step: %s\n", getpid(), t->worker,
                    pmm_strerror(r));
            _exit(11);
        }
    }
    return NULL;
}

void hw_run(const char *medium, const char *name, uint64_t seed, long n,
            int first, int threads)
{
    hr_heap *h;
    int r = hw_open(&h, medium, name, hw_heap_size);
    if (r < 0) {
        fprintf(stderr, "worker %d: open: %s\n", getpid(), pmm_strerror(r));
        _exit(10);
    }
    /* the root is made by one thread: two would each make their own */
    void *root = NULL;
    uint64_t rng = seed | 1;
    while (hr_heap_root(h, &root) == 0 && !root)
        if ((r = hw_step(h, &rng)) < 0)
            _exit(11);
    struct hw_thread t[HW_WORKERS];
    pthread_t id[HW_WORKERS];
    for (int i = 0; i < threads && i < HW_WORKERS; i++) {
        t[i] = (struct hw_thread){h, (seed + (uint64_t)i * 7717) | 1, n,
                                  first + i};
        if (i > 0 && pthread_create(&id[i], NULL, run_thread, &t[i]) != 0)
            _exit(12);
    }
    run_thread(&t[0]);
    for (int i = 1; i < threads && i < HW_WORKERS; i++)
        pthread_join(id[i], NULL);
    hr_heap_close(h);
    _exit(0);
}

static int node_ok(hr_heap *h, const struct hw_node *n, size_t *usable)
{
    if (hr_heap_usable(h, n, usable) < 0 || n->len > *usable - sizeof *n)
        return 0;
    for (size_t i = 0; i < n->len; i++)
        if (n->data[i] != (uint8_t)(n->seed + i))
            return 0;
    return 1;
}

static void say(char *why, size_t len, const char *problem, void *arg)
{
    (void)arg;
    if (!why[0])
        snprintf(why, len, "check: %s", problem);
}

static char *why_buf;
static size_t why_len;
static void check_cb(const char *problem, void *arg)
{
    say(why_buf, why_len, problem, arg);
}

/* The invariants, inside the caller's transaction. */
static int invariants(hr_heap *h, char *why, size_t len)
{
    struct hw_root *root;
    hr_heap_root(h, (void **)&root);
    hr_heap_info st;
    int r = hr_heap_stat(h, &st);
    if (r < 0)
        return snprintf(why, len, "stat: %s", pmm_strerror(r)), -1;
    if (!root)
        return st.objects == 0 && st.used == 0 ? 0
               : (snprintf(why, len, "no root but %llu objects",
                           (unsigned long long)st.objects), -1);
    size_t used, u;
    if (hr_heap_usable(h, root, &used) < 0)
        return snprintf(why, len, "root is not an object"), -1;
    uint64_t sum = 0;
    for (int i = 0; i < HW_ACCOUNTS; i++)
        sum += root->acc[i];
    if (sum != root->total || root->total != HW_ACCOUNTS * HW_START)
        return snprintf(why, len, "accounts sum to %llu",
                        (unsigned long long)sum), -1;
    for (int w = 0; w < HW_WORKERS; w++) {
        const struct hw_mine *m = &root->mine[w];
        if (m->a + m->b != 0 && m->a + m->b != 2 * HW_START)
            return snprintf(why, len, "worker %d's accounts sum to %llu", w,
                            (unsigned long long)(m->a + m->b)), -1;
    }
    uint64_t count = 0;
    for (const struct hw_node *n = (void *)(uintptr_t)root->head; n;
         n = (void *)(uintptr_t)n->next) {
        if (++count > root->list_len || !node_ok(h, n, &u))
            return snprintf(why, len, "list node %llu is bad or extra",
                            (unsigned long long)count), -1;
        used += u;
    }
    if (count != root->list_len)
        return snprintf(why, len, "list has %llu nodes, counter says %llu",
                        (unsigned long long)count,
                        (unsigned long long)root->list_len), -1;
    if (st.used != used || st.objects != count + 1)
        return snprintf(why, len, "heap uses %llu bytes in %llu objects, "
                        "live objects hold %zu in %llu",
                        (unsigned long long)st.used,
                        (unsigned long long)st.objects, used,
                        (unsigned long long)count + 1), -1;
    return 0;
}

/* The invariants in one transaction that locks the root first, so that
 * no other transaction changes what they read. */
static int verify_once(hr_heap *h, char *why, size_t len)
{
    why[0] = 0;
    int r = hr_heap_begin(h);
    if (r < 0)
        return snprintf(why, len, "begin: %s", pmm_strerror(r)), -1;
    void *root;
    hr_heap_root(h, &root);
    if (root && (r = hr_heap_lock(h, root)) < 0) {
        hr_heap_abort(h);
        return r == K_EBUSY ? r : (snprintf(why, len, "lock root: %s",
                                            pmm_strerror(r)), -1);
    }
    why_buf = why;
    why_len = len;
    r = invariants(h, why, len);
    if (r == 0 && hr_heap_check(h, check_cb, NULL) < 0)
        r = -1;
    int busy = hr_heap_commit(h) == K_EBUSY;
    return busy ? K_EBUSY : r;
}

int hw_verify(hr_heap *h, char *why, size_t len)
{
    int r;
    while ((r = verify_once(h, why, len)) == K_EBUSY)
        ;
    return r;
}

static void print_problem(const char *p, void *arg)
{
    (void)arg;
    fprintf(stderr, "  problem: %s\n", p);
}

void hw_reopen_verify(const char *medium, const char *name, const char *after)
{
    hr_heap *h;
    char why[300];
    int r = hw_open(&h, medium, name, hw_heap_size);
    cr_assert_eq(r, 0, "%s: open: %s", after, pmm_strerror(r));
    cr_assert_eq(hr_heap_check(h, print_problem, NULL), 0, "%s: check", after);
    cr_assert_eq(hw_verify(h, why, sizeof why), 0, "%s: %s", after, why);
    hr_heap_close(h);
}

void pmm__crash_reset(void); /* src/crash.c: re-read HR_CRASHPOINT */

int hw_spawn_threads(const char *medium, const char *name, uint64_t seed,
                     const char *crash, long steps, int first, int threads)
{
    pid_t parent = getpid(), pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        /* a worker runs for ever: it dies with a test that failed */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(13);
        if (crash)
            setenv("HR_CRASHPOINT", crash, 1);
        pmm__crash_reset();
        hw_run(medium, name, seed, steps, first, threads);
    }
    return pid;
}

void hw_make_root(const char *medium, const char *name)
{
    hr_heap *h;
    void *root = NULL;
    uint64_t rng = 77;
    cr_assert_eq(hw_open(&h, medium, name, hw_heap_size), 0);
    while (hr_heap_root(h, &root) == 0 && !root)
        cr_assert_eq(hw_step(h, &rng), 0);
    hr_heap_close(h);
}

int hw_spawn(const char *medium, const char *name, uint64_t seed,
             const char *crash, long steps)
{
    return hw_spawn_threads(medium, name, seed, crash, steps, 0, 1);
}

static int acks_once(hr_heap *h, int first, int n, char *why, size_t len)
{
    struct hw_root *root;
    int r = hr_heap_begin(h);
    if (r < 0)
        return snprintf(why, len, "begin: %s", pmm_strerror(r)), -1;
    hr_heap_root(h, (void **)&root);
    if (root && (r = hr_heap_lock(h, root)) < 0) {
        hr_heap_abort(h);
        return r == K_EBUSY ? r : (snprintf(why, len, "lock"), -1);
    }
    for (int w = first; root && r == 0 && w < first + n; w++) {
        uint64_t have = root->mine[w].n, acked = hw_acked[w];
        if (have < acked || have > acked + 1)
            r = -1, snprintf(why, len, "worker %d: %llu commits acknowledged, "
                             "the heap holds %llu", w,
                             (unsigned long long)acked,
                             (unsigned long long)have);
    }
    hr_heap_abort(h);
    return r;
}

int hw_check_acks(hr_heap *h, int first, int n, char *why, size_t len)
{
    int r;
    while ((r = acks_once(h, first, n, why, len)) == K_EBUSY)
        ;
    return r;
}
