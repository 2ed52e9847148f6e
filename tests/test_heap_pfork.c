/* SPDX-License-Identifier: MIT */
/*
 * test_heap_pfork.c - what a second review of the presence protocol found
 * (src/heap/presence.c, lane.c), each now a working heap or a clear error:
 *
 * - a child made by _Fork() (no fork handlers) while its thread is inside
 *   a transaction: its hr_heap_abort is refused (K_ETX) and its close
 *   leaves the parent's transaction alone; the parent commits its write;
 * - such a child's hr_heap_open rescues a dead transaction's lane under a
 *   presence slot of its own, not its parent thread's: killed in the
 *   middle of the rescue, it leaves the lane to the next rescuer (here
 *   the parent thread itself), not held while the parent lives;
 * - the presence file's header damaged (its magic) while a process is
 *   inside a transaction: the next opener (a fresh `hr heap stat`) is
 *   refused (-EUCLEAN), and the live transaction is not rolled back;
 * - two threads, each inside transactions in two heaps, each wanting a
 *   word the other holds in the other heap: one gets K_EBUSY, none waits
 *   for ever.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotrestart/heap.h>

#include "common.h"
#include "heap_suite.h"
#include "pmm/crash.h"

static void setup(void)
{
    site_new(16 << 20, 16);
    unsetenv("HR_CRASHPOINT");
}
static void teardown(void) { site_drop(); }
TestSuite(heap_pfork, .init = setup, .fini = teardown, .timeout = 120);

static hr_heap *open_heap(pmm_bank **b, const char *name)
{
    return hs_open_own(b, name, 1 << 20);
}

/* A committed 64-byte object of h holding v, made h's root. */
static uint64_t *new_root(hr_heap *h, uint64_t v)
{
    uint64_t *o;
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_alloc(h, 64, HR_HEAP_ZERO, (void **)&o), 0);
    cr_assert_eq(hr_heap_set64(h, o, v), 0);
    cr_assert_eq(hr_heap_set_root(h, o), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    return o;
}

/* A child process inside a transaction that wrote v into o, waiting
 * there (until the test kills it): its pid, once it is inside. */
static pid_t live_tx(uint64_t *o, uint64_t v)
{
    volatile int *in = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(in, MAP_FAILED);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        hr_heap *h;
        if (hs_open_plain(&h, "h", 1 << 20) || hr_heap_begin(h) ||
            hr_heap_set64(h, o, v))
            _exit(1);
        *in = 1;
        for (;;)
            pause();
    }
    POLL_UNTIL(*in, "the child inside its transaction");
    munmap((void *)in, 4096);
    return pid;
}

/* Seen failing before the fix: the child's close aborted the parent's
 * transaction (its lane given back, o back to 1), and the parent's commit
 * then said 0 with its write gone. */
Test(heap_pfork, a_fork_childs_close_leaves_its_parents_transaction)
{
    pmm_bank *b;
    hr_heap *h = open_heap(&b, "h");
    uint64_t *o = new_root(h, 1);
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_set64(h, o, 42), 0);
    pid_t child = _Fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        int c = hr_heap_abort(h); /* not the child's transaction */
        hr_heap_close(h);
        _exit(c == K_ETX ? 0 : 1);
    }
    cr_assert_eq(wait_status(child), 0, "the child's abort was not K_ETX");
    cr_assert_eq(*o, 42, "the child's close rolled the parent's write back");
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(*o, 42);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    hr_heap_close(h);
    pmm_bank_close(b);
}

/* Seen failing before the fix: the child rescued the lane as its parent
 * thread, so the lane named a live owner after the child's death: the
 * parent thread's own write got K_ETX ("this thread holds the lane") and
 * a writer elsewhere would have waited as long as the parent lives. */
Test(heap_pfork, a_fork_child_killed_in_a_rescue_leaves_the_lane_to_the_next)
{
    pmm_bank *b;
    hr_heap *h = open_heap(&b, "h");
    uint64_t *o = new_root(h, 1);
    pid_t victim = live_tx(o, 7); /* dies inside its transaction */
    kill(victim, SIGKILL);
    cr_assert_eq(wait_status(victim), 128 + SIGKILL);
    pid_t child = _Fork();
    cr_assert_geq(child, 0);
    if (child == 0) { /* its open rescues the victim's lane, and dies */
        setenv("HR_CRASHPOINT", "heap.owner-dead", 1);
        pmm__crash_reset();
        hr_heap *h2;
        hr_heap_open(&h2, b, "h", 1 << 20, "k", 1, 0);
        _exit(3);
    }
    cr_assert_eq(wait_status(child), 128 + SIGKILL,
                 "the child did not die at heap.owner-dead");
    cr_assert_eq(hr_heap_begin(h), 0);
    int r = hr_heap_set64(h, o, 8);
    cr_assert_eq(r, 0, "the parent thread's write: %s", pmm_strerror(r));
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_eq(*o, 8);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    hr_heap_close(h);
    pmm_bank_close(b);
}

/* Seen failing before the fix: the opener initialised the file again in
 * place (every slot unlocked), and this process, which had the heap open
 * before, rolled the live transaction back (its set64 said 0). */
Test(heap_pfork, a_damaged_presence_header_under_a_live_transaction)
{
    pmm_bank *b;
    hr_heap *h = open_heap(&b, "h");
    uint64_t *o = new_root(h, 1);
    pid_t user = live_tx(o, 42);
    char pres[4300];
    snprintf(pres, sizeof pres, "%s.presence", site_bank());
    FILE *f = fopen(pres, "r+");
    cr_assert_not_null(f, "%s", pres);
    uint64_t zero = 0;
    cr_assert_eq(fwrite(&zero, 8, 1, f), 1); /* the magic */
    cr_assert_eq(fclose(f), 0);
    pid_t opener = fork(); /* a fresh process: it maps the file anew */
    cr_assert_geq(opener, 0);
    if (opener == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(HR_BIN, "hr", "heap", "stat", "h", (char *)NULL);
        _exit(101);
    }
    int st = wait_status(opener);
    cr_assert(st != 0 && st != 101, "hr heap stat beside the damage: %d", st);
    hr_heap_lane l[16];
    int lanes = hr_heap_lanes(h, l, 16), busy = 0;
    for (int i = 0; i < lanes && i < 16; i++)
        busy += l[i].state == HR_HEAP_LANE_BUSY;
    cr_assert_eq(busy, 1, "the live transaction's lane was taken back");
    cr_assert_eq(*o, 42, "the live transaction was rolled back");
    kill(user, SIGKILL);
    wait_status(user);
    hr_heap_close(h);
    pmm_bank_close(b);
}

static hr_heap *ha, *hb;
static uint64_t *oa, *ob;
static pthread_barrier_t both_hold;
static int cross_r[2];

/* Thread k: a word of its own heap first, then the other heap's word the
 * other thread holds. */
static void *cross(void *arg)
{
    int k = (int)(intptr_t)arg;
    hr_heap *mine = k ? hb : ha, *other = k ? ha : hb;
    uint64_t *my_o = k ? ob : oa, *other_o = k ? oa : ob;
    int r = hr_heap_begin(mine);
    if (r == 0)
        r = hr_heap_set64(mine, my_o, 10 + k);
    pthread_barrier_wait(&both_hold);
    if (r == 0 && (r = hr_heap_begin(other)) == 0) {
        r = hr_heap_set64(other, other_o, 20 + k);
        if (r == 0)
            r = hr_heap_commit(other);
        else
            hr_heap_abort(other);
    }
    if (r == 0)
        hr_heap_commit(mine);
    else
        hr_heap_abort(mine); /* all of it, then the other goes on */
    cross_r[k] = r;
    return NULL;
}

/* Seen failing before the fix: each waited for the other for ever (the
 * suite's timeout). */
Test(heap_pfork, two_threads_across_two_heaps_never_wait_for_good)
{
    pmm_bank *b;
    ha = open_heap(&b, "a");
    cr_assert_eq(hr_heap_open(&hb, b, "b", 1 << 20, "k", 1, 0), 0);
    oa = new_root(ha, 1);
    ob = new_root(hb, 2);
    pthread_barrier_init(&both_hold, NULL, 2);
    pthread_t t[2];
    for (int k = 0; k < 2; k++)
        cr_assert_eq(pthread_create(&t[k], NULL, cross, (void *)(intptr_t)k), 0);
    for (int k = 0; k < 2; k++)
        pthread_join(t[k], NULL);
    int busy = (cross_r[0] == K_EBUSY) + (cross_r[1] == K_EBUSY);
    cr_assert_geq(busy, 1, "results %d, %d", cross_r[0], cross_r[1]);
    for (int k = 0; k < 2; k++)
        cr_assert(cross_r[k] == 0 || cross_r[k] == K_EBUSY, "thread %d: %d",
                  k, cross_r[k]);
    cr_assert_eq(hr_heap_check(ha, NULL, NULL), 0);
    cr_assert_eq(hr_heap_check(hb, NULL, NULL), 0);
    hr_heap_close(ha);
    hr_heap_close(hb);
    pmm_bank_close(b);
}
