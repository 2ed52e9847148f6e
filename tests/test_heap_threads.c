/* SPDX-License-Identifier: MIT */
/*
 * test_heap_threads.c - transactions of threads at once on one heap: two
 * run side by side (a single heap lock would deadlock this test, which its
 * timeout would report), a lock cycle ends in K_EBUSY for the younger one,
 * and a thread that ends inside its transaction (pthread_exit, or a
 * cancellation) while its process lives on is rolled back and never blocks
 * the others; a free does not pass a holder of a granule inside the object.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotrestart/heap.h>

#include "common.h"
#include "heap_suite.h"

static pmm_bank *bank;
static hr_heap *H;
static uint64_t *obj[24];

/* A heap with 24 objects of 64 bytes; word 0 of object i is i. */
static void setup(void)
{
    bank = hs_site();
    cr_assert_eq(hr_heap_open(&H, bank, "t", 1 << 20, "k", 1, 0), 0);
    cr_assert_eq(hr_heap_begin(H), 0);
    for (int i = 0; i < 24; i++) {
        cr_assert_eq(hr_heap_alloc(H, 64, HR_HEAP_ZERO, (void **)&obj[i]), 0);
        obj[i][0] = (uint64_t)i;
    }
    cr_assert_eq(hr_heap_commit(H), 0);
}
static void teardown(void)
{
    hr_heap_close(H);
    site_drop();
}
TestSuite(heap_threads, .init = setup, .fini = teardown, .timeout = 60);

static sem_t a_in, b_in, b_done;

static void *tx_a(void *arg)
{
    (void)arg;
    cr_assert_eq(hr_heap_begin(H), 0);
    cr_assert_eq(hr_heap_set64(H, &obj[0][0], 100), 0);
    sem_post(&a_in);
    sem_wait(&b_done); /* B runs its whole transaction while A is open */
    cr_assert_eq(hr_heap_commit(H), 0);
    return NULL;
}

static void *tx_b(void *arg)
{
    (void)arg;
    sem_wait(&a_in);
    cr_assert_eq(hr_heap_begin(H), 0);
    cr_assert_eq(hr_heap_set64(H, &obj[1][0], 101), 0);
    cr_assert_eq(hr_heap_commit(H), 0);
    sem_post(&b_done);
    return NULL;
}

/* Run a and b in two threads (the semaphores set to 0) until both end. */
static void run_pair(void *(*a)(void *), void *(*b)(void *))
{
    sem_init(&a_in, 0, 0);
    sem_init(&b_in, 0, 0);
    sem_init(&b_done, 0, 0);
    pthread_t ta, tb;
    pthread_create(&ta, NULL, a, NULL);
    pthread_create(&tb, NULL, b, NULL);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
}

Test(heap_threads, two_transactions_run_at_once)
{
    run_pair(tx_a, tx_b);
    cr_assert_eq(obj[0][0], 100);
    cr_assert_eq(obj[1][0], 101);
    cr_assert_eq(hr_heap_check(H, NULL, NULL), 0);
}

static int b_got;

static void *cycle_a(void *arg)
{
    (void)arg;
    cr_assert_eq(hr_heap_begin(H), 0); /* the older */
    cr_assert_eq(hr_heap_set64(H, &obj[2][0], 200), 0);
    sem_post(&a_in);
    sem_wait(&b_in);
    /* waits for B, which gives up */
    cr_assert_eq(hr_heap_set64(H, &obj[3][0], 200), 0);
    cr_assert_eq(hr_heap_commit(H), 0);
    return NULL;
}

static void *cycle_b(void *arg)
{
    (void)arg;
    sem_wait(&a_in);
    cr_assert_eq(hr_heap_begin(H), 0); /* the younger */
    cr_assert_eq(hr_heap_set64(H, &obj[3][0], 300), 0);
    sem_post(&b_in);
    b_got = hr_heap_set64(H, &obj[2][0], 300);
    cr_assert_eq(hr_heap_commit(H), b_got, "a doomed commit rolls back");
    return NULL;
}

Test(heap_threads, a_lock_cycle_ends_in_K_EBUSY_for_the_younger)
{
    run_pair(cycle_a, cycle_b);
    cr_assert_eq(b_got, K_EBUSY);
    cr_assert_eq(obj[2][0], 200);
    cr_assert_eq(obj[3][0], 200, "B's change was rolled back, A's kept");
    cr_assert_eq(hr_heap_check(H, NULL, NULL), 0);
}

static uint64_t *big; /* 512 bytes: 8 granules or 9 */
static int free_got;

static void *hold_inner(void *arg)
{
    (void)arg;
    cr_assert_eq(hr_heap_begin(H), 0); /* the older */
    cr_assert_eq(hr_heap_set64(H, &big[40], 4000), 0); /* 5th granule on */
    sem_post(&a_in);
    sem_wait(&b_done);
    cr_assert_eq(hr_heap_commit(H), 0);
    return NULL;
}

static void *free_big(void *arg)
{
    (void)arg;
    sem_wait(&a_in);
    cr_assert_eq(hr_heap_begin(H), 0); /* the younger, holding a lock */
    cr_assert_eq(hr_heap_set64(H, &obj[7][0], 77), 0);
    free_got = hr_heap_free(H, big);
    cr_assert_eq(hr_heap_commit(H), free_got, "a doomed commit rolls back");
    sem_post(&b_done);
    return NULL;
}

/* A free meets another transaction that holds a granule inside the object
 * (not its first): it must not free it under that one (whose rollback
 * would then write into free space); here, the younger holding a lock, it
 * gives up with K_EBUSY. */
Test(heap_threads, a_free_does_not_pass_a_holder_of_an_inner_granule)
{
    cr_assert_eq(hr_heap_begin(H), 0);
    cr_assert_eq(hr_heap_alloc(H, 512, HR_HEAP_ZERO, (void **)&big), 0);
    cr_assert_eq(hr_heap_commit(H), 0);
    run_pair(hold_inner, free_big);
    cr_assert_eq(free_got, K_EBUSY);
    cr_assert_eq(big[40], 4000, "the holder's change is there");
    cr_assert_eq(obj[7][0], 7, "the freer's change was rolled back");
    size_t n;
    cr_assert_eq(hr_heap_usable(H, big, &n), 0, "still an object");
    cr_assert_eq(hr_heap_check(H, NULL, NULL), 0);
    /* with the holder gone, the free goes through */
    cr_assert_eq(hr_heap_begin(H), 0);
    cr_assert_eq(hr_heap_free(H, big), 0);
    cr_assert_eq(hr_heap_commit(H), 0);
    cr_assert_eq(hr_heap_check(H, NULL, NULL), 0);
}

static int blocker[2];

/* Begin, change object i, allocate, then end the thread inside the
 * transaction: by pthread_exit, or (cancel) waiting in read() until
 * cancelled. */
static __attribute__((noinline)) void begin_inside(int i)
{
    void *o;
    cr_assert_eq(hr_heap_begin(H), 0);
    cr_assert_eq(hr_heap_set64(H, &obj[i][0], 1000 + (uint64_t)i), 0);
    cr_assert_eq(hr_heap_alloc(H, 100, 0, &o), 0);
}

/* (No local of end_inside has its address taken: AddressSanitizer leaves
 * the redzones of frames a cancellation unwinds poisoned, and its own
 * thread teardown may then write there: a false report whose place moves
 * with the stack's layout, google/sanitizers#1399.) */
static void *end_inside(void *arg)
{
    static char c;
    int i = (int)(intptr_t)arg % 100, cancel = (int)(intptr_t)arg >= 100;
    begin_inside(i);
    if (cancel) {
        sem_post(&a_in);
        for (;;)
            (void)read(blocker[0], &c, 1); /* a cancellation point */
    }
    pthread_exit(NULL);
}

static void assert_rolled_back(int first, int n)
{
    cr_assert_eq(hr_heap_begin(H), 0);
    for (int i = first; i < first + n; i++) {
        /* the dead thread's lock is recovered, not waited on for ever */
        cr_assert_eq(hr_heap_lock(H, obj[i]), 0);
        cr_assert_eq(obj[i][0], (uint64_t)i, "object %d not rolled back", i);
    }
    hr_heap_info st;
    cr_assert_eq(hr_heap_stat(H, &st), 0);
    cr_assert_eq(st.objects, 24, "the dead threads' objects are gone");
    cr_assert_eq(st.lanes_busy, 1, "this one's lane only");
    cr_assert_eq(hr_heap_commit(H), 0);
    cr_assert_eq(hr_heap_check(H, NULL, NULL), 0);
}

/* More threads end inside a transaction than the heap has lanes: every
 * lane is taken back. */
Test(heap_threads, threads_that_exit_inside_a_transaction_are_rolled_back)
{
    hr_heap_lane l[16];
    int lanes = hr_heap_lanes(H, l, 16);
    cr_assert_gt(lanes, 1);
    cr_assert_lt(lanes, 20);
    for (int i = 0; i < 20; i++) {
        pthread_t t;
        pthread_create(&t, NULL, end_inside, (void *)(intptr_t)i);
        pthread_join(t, NULL);
    }
    assert_rolled_back(0, 20);
}

Test(heap_threads, a_thread_cancelled_inside_a_transaction_is_rolled_back)
{
    cr_assert_eq(pipe(blocker), 0);
    sem_init(&a_in, 0, 0);
    for (int i = 0; i < 4; i++) {
        pthread_t t;
        void *res;
        pthread_create(&t, NULL, end_inside, (void *)(intptr_t)(100 + i));
        sem_wait(&a_in);
        pthread_cancel(t);
        pthread_join(t, &res);
        cr_assert_eq(res, PTHREAD_CANCELED);
    }
    assert_rolled_back(0, 4);
}

/* A child forked inside a transaction does not run it: its calls are
 * refused, and it may begin one of its own beside the parent's. */
Test(heap_threads, a_forked_child_does_not_run_its_parents_transaction)
{
    cr_assert_eq(hr_heap_begin(H), 0);
    cr_assert_eq(hr_heap_set64(H, &obj[5][0], 55), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int ok = hr_heap_set64(H, &obj[6][0], 66) == K_ETX &&
                 hr_heap_commit(H) == K_ETX && hr_heap_begin(H) == 0 &&
                 hr_heap_set64(H, &obj[6][0], 66) == 0 &&
                 hr_heap_commit(H) == 0;
        _exit(ok ? 0 : 1);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %d", st);
    cr_assert_eq(hr_heap_commit(H), 0);
    cr_assert_eq(obj[5][0], 55);
    cr_assert_eq(obj[6][0], 66);
    cr_assert_eq(hr_heap_check(H, NULL, NULL), 0);
}

/* A thread of the parent runs a transaction that changed obj[7] when the
 * process forks; the child waits for obj[7]'s lock, and the thread ends
 * inside its transaction meanwhile (or before the child tries): the child
 * finds it dead, rolls it back and gets the lock, never waits for good.
 * Seen failing with a planted bug (hh_owner_lives taking EOWNERDEAD for
 * "lives"): the child waited until the test's timeout. */
static void *ends_in_tx(void *arg)
{
    (void)arg;
    cr_assert_eq(hr_heap_begin(H), 0);
    cr_assert_eq(hr_heap_set64(H, &obj[7][0], 77), 0);
    sem_post(&a_in);
    sem_wait(&b_done);
    pthread_exit(NULL);
}

Test(heap_threads, a_child_waits_for_a_lock_of_a_thread_that_ends_in_it)
{
    sem_init(&a_in, 0, 0);
    sem_init(&b_done, 0, 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, ends_in_tx, NULL), 0);
    sem_wait(&a_in);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int ok = hr_heap_begin(H) == 0 && hr_heap_lock(H, obj[7]) == 0 &&
                 obj[7][0] == 7 && hr_heap_set64(H, &obj[7][0], 70) == 0 &&
                 hr_heap_commit(H) == 0;
        _exit(ok ? 0 : 1);
    }
    sem_post(&b_done); /* the thread ends inside its transaction */
    pthread_join(t, NULL);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %d", st);
    cr_assert_eq(obj[7][0], 70);
    cr_assert_eq(hr_heap_check(H, NULL, NULL), 0);
}

/* Checks (hr_heap_stat, hr_heap_check) running at once: each holds every
 * lane while it walks, waiting for them; they take them in one order, so
 * two never wait for each other (they did: each held its own lane and
 * waited for the other's, for good; this test then hit its timeout). */
static void *stat_loop(void *arg)
{
    long *done = arg;
    for (int i = 0; i < 5000; i++) {
        hr_heap_info in;
        if (hr_heap_stat(H, &in) != 0 || in.objects != 24)
            break;
        (*done)++;
    }
    return NULL;
}

Test(heap_threads, checks_at_once_never_wait_for_each_other)
{
    long done[3] = {0};
    pthread_t t[3];
    for (int k = 0; k < 3; k++)
        pthread_create(&t[k], NULL, stat_loop, &done[k]);
    for (int k = 0; k < 3; k++)
        pthread_join(t[k], NULL);
    for (int k = 0; k < 3; k++)
        cr_assert_eq(done[k], 5000, "checker %d: %ld rounds", k, done[k]);
    cr_assert_eq(hr_heap_check(H, NULL, NULL), 0);
}

/* An opener that cannot read the boot id (here a fresh `hr heap stat`
 * whose /proc/sys/kernel/random is hidden; in life, no descriptor left)
 * fails: it took "no boot id" for another boot's, remade the lanes under
 * their live holders and rolled back a live transaction. */
Test(heap_threads, an_opener_without_the_boot_id_leaves_live_transactions)
{
    cr_assert_eq(hr_heap_begin(H), 0);
    cr_assert_eq(hr_heap_set64(H, &obj[7][0], 77), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (private_tmpfs("/proc/sys/kernel/random", "size=1m") < 0)
            _exit(100); /* no private mount here: skipped */
        dup2(null, 1);
        dup2(null, 2);
        execl(HR_BIN, "hr", "heap", "stat", "t", (char *)NULL);
        _exit(101);
    }
    int st = wait_status(pid);
    if (st == 100) {
        hr_heap_abort(H);
        cr_skip_test("no private mount namespace (needs root)");
    }
    cr_assert(st != 0 && st != 101, "hr heap stat: %d", st);
    cr_assert_eq(obj[7][0], 77, "the live transaction was rolled back");
    cr_assert_eq(hr_heap_commit(H), 0);
    cr_assert_eq(obj[7][0], 77);
    cr_assert_eq(hr_heap_check(H, NULL, NULL), 0);
}

/* Threads that each run a transaction in one of two heaps, all their lanes
 * taken, then begin one in the other: each waits for a lane the others
 * hold while holding one they want (a cycle through both heaps).  Each
 * begin gives up with K_EBUSY, as docs/heap.md says of a thread that runs
 * another heap's transaction (before: all waited for ever, in lane_wait). */
#define CROSS_MAX 16
static hr_heap *X, *Y;
static unsigned cross_lanes;
static pthread_barrier_t cross_all_in, cross_all_tried;
static int cross_got[CROSS_MAX];

static void *cross(void *arg)
{
    int i = (int)(intptr_t)arg, first = i < (int)cross_lanes;
    hr_heap *mine = first ? X : Y, *other = first ? Y : X;
    cr_assert_eq(hr_heap_begin(mine), 0);
    pthread_barrier_wait(&cross_all_in);
    cross_got[i] = hr_heap_begin(other);
    pthread_barrier_wait(&cross_all_tried); /* none gives a lane back before */
    if (cross_got[i] == 0)
        hr_heap_abort(other);
    cr_assert_eq(hr_heap_abort(mine), 0);
    return NULL;
}

Test(heap_threads, a_lane_cycle_through_two_heaps_ends_in_K_EBUSY)
{
    hr_heap_info ix, iy;
    cr_assert_eq(hr_heap_open(&X, bank, "x", 128 << 10, "k", 1, 0), 0);
    cr_assert_eq(hr_heap_open(&Y, bank, "y", 128 << 10, "k", 1, 0), 0);
    cr_assert_eq(hr_heap_stat(X, &ix), 0);
    cr_assert_eq(hr_heap_stat(Y, &iy), 0);
    cr_assert_eq(ix.lanes, iy.lanes);
    cross_lanes = ix.lanes;
    cr_assert_leq(2 * cross_lanes, CROSS_MAX, "%u lanes", cross_lanes);
    pthread_t th[CROSS_MAX];
    pthread_barrier_init(&cross_all_in, NULL, 2 * cross_lanes);
    pthread_barrier_init(&cross_all_tried, NULL, 2 * cross_lanes);
    for (unsigned i = 0; i < 2 * cross_lanes; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, cross, (void *)(intptr_t)i), 0);
    for (unsigned i = 0; i < 2 * cross_lanes; i++)
        pthread_join(th[i], NULL);
    for (unsigned i = 0; i < 2 * cross_lanes; i++)
        cr_assert_eq(cross_got[i], K_EBUSY, "thread %u: %d", i, cross_got[i]);
    cr_assert_eq(hr_heap_check(X, NULL, NULL), 0);
    cr_assert_eq(hr_heap_check(Y, NULL, NULL), 0);
    hr_heap_close(X);
    hr_heap_close(Y);
}
