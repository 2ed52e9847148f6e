/* SPDX-License-Identifier: MIT */
/*
 * test_cancel.c - a thread cancelled inside a call of the library leaves
 * nothing held: a PMM call waiting for the bank's lock (a cancellation
 * point) finishes whole, then the thread ends; the process's other threads
 * and the other processes get the bank.  Before, the cancelled thread
 * unwound with the bank's mutex held: the next call of any thread of its
 * process waited for good (this test's timeout).  A heap opener cancelled
 * while it waits for the heap's open lock leaves no descriptor behind.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <hotrestart/heap.h>
#include <hotrestart/pmm.h>

#include "common.h"

static void setup(void) { site_new(8 << 20, 16); }
static void teardown(void) { site_drop(); }
TestSuite(cancel, .init = setup, .fini = teardown, .timeout = 120);

/* A child holding byte `byte` of the bank file with an OFD write lock
 * until told: its pid; *release is the pipe end that lets it go. */
static pid_t hold_byte(uint64_t byte, int *release)
{
    int up[2], down[2];
    cr_assert_eq(pipe(up), 0);
    cr_assert_eq(pipe(down), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        char c = 0;
        close(down[1]); /* the parent's end only: its death lets go too */
        int fd = open(site_bank(), O_RDWR);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
                           .l_start = (off_t)byte, .l_len = 1};
        if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) != 0)
            _exit(1);
        if (write(up[1], &c, 1) != 1)
            _exit(2);
        _exit(read(down[0], &c, 1) == 0 ? 0 : 3); /* the end of the file */
    }
    char c;
    cr_assert_eq(read(up[0], &c, 1), 1, "the lock holder failed");
    close(up[0]);
    close(up[1]);
    close(down[0]);
    *release = down[1];
    return pid;
}

static volatile pid_t tid;
static pmm_bank *bank;
static int call_result = 1;

/* 1 once thread tid waits in fcntl (system call 72 on x86-64: its
 * /proc/self/task/TID/syscall starts with the number). */
static int waits_in_fcntl(void *arg)
{
    (void)arg;
    char path[64], buf[64] = "";
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    return ok && atoi(buf) == SYS_fcntl;
}

static void *allocator(void *arg)
{
    (void)arg;
    void *p;
    tid = (pid_t)syscall(SYS_gettid);
    call_result = pmm_alloc(bank, "cancelled", 4096, "K", 1, 0, &p, NULL);
    pthread_testcancel();
    return NULL;
}

/* cancel the thread running fn while it waits in fcntl for a lock the
 * child holds, then let the child go: the thread's end status. */
static void *cancel_in_fcntl(void *(*fn)(void *), uint64_t byte)
{
    int release;
    pid_t holder = hold_byte(byte, &release);
    pthread_t t;
    tid = 0;
    cr_assert_eq(pthread_create(&t, NULL, fn, NULL), 0);
    POLL_UNTIL(tid != 0, "the thread's start");
    poll_until(waits_in_fcntl, NULL, "the thread's wait for the lock");
    cr_assert_eq(pthread_cancel(t), 0);
    close(release);
    cr_assert_eq(wait_status(holder), 0);
    void *res;
    cr_assert_eq(pthread_join(t, &res), 0);
    return res;
}

Test(cancel, a_pmm_call_cancelled_in_its_lock_wait_leaves_the_bank_free)
{
    bank = bank_open();
    void *res = cancel_in_fcntl(allocator, 0);
    cr_assert_eq(res, PTHREAD_CANCELED);
    cr_assert_eq(call_result, 0, "the cancelled call finished whole");
    void *p;
    /* this thread, then another process: the bank is free */
    cr_assert_eq(pmm_alloc(bank, "after", 4096, "K", 1, 0, &p, NULL), 0);
    pmm_block blk;
    cr_assert_eq(pmm_stat(bank, "cancelled", &blk), 0);
    pid_t pid = fork();
    if (pid == 0) {
        pmm_bank *b;
        _exit(pmm_bank_open(&b, NULL, "RAM", 0) == 0 &&
                      pmm_alloc(b, "child", 4096, "K", 1, 0, &p, NULL) == 0
                  ? 0 : 1);
    }
    cr_assert_eq(wait_status(pid), 0);
    pmm_bank_close(bank);
    cr_assert_eq(check_bank(), 0);
}

static hr_heap *opened;

static void *opener(void *arg)
{
    (void)arg;
    tid = (pid_t)syscall(SYS_gettid);
    call_result = hr_heap_open(&opened, bank, "h", 0, "k", 1,
                               HR_HEAP_RETRIEVE);
    pthread_testcancel();
    return NULL;
}

/* The heap's open lock is byte 2^60 + the block's offset in the bank's
 * address range (src/heap/sys.c). */
Test(cancel, a_heap_open_cancelled_in_its_lock_wait_leaves_no_descriptor)
{
    bank = bank_open();
    hr_heap *h;
    cr_assert_eq(hr_heap_open(&h, bank, "h", 1 << 20, "k", 1, 0), 0);
    hr_heap_close(h);
    pmm_bank_info bi;
    pmm_block blk;
    cr_assert_eq(pmm_bank_stat(bank, &bi), 0);
    cr_assert_eq(pmm_stat(bank, "h", &blk), 0);
    int files0, all0, files1, all1;
    fds_of(getpid(), &files0, &all0);
    void *res = cancel_in_fcntl(opener, (1ull << 60) + ((uintptr_t)blk.addr - bi.base));
    cr_assert_eq(res, PTHREAD_CANCELED);
    cr_assert_eq(call_result, 0, "the cancelled open finished whole");
    fds_of(getpid(), &files1, &all1);
    cr_assert_eq(files1, files0, "descriptors before %d, after %d", files0,
                 files1);
    hr_heap_close(opened);
    cr_assert_eq(hr_heap_open(&h, bank, "h", 0, "k", 1, HR_HEAP_RETRIEVE), 0);
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    hr_heap_close(h);
    pmm_bank_close(bank);
}

static int cancel_state_after;

static void *retriever(void *arg)
{
    (void)arg;
    void *p;
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
    call_result = pmm_alloc(bank, "kept", 1, "K", 1, PMM_RETRIEVE, &p, NULL);
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &cancel_state_after);
    return NULL;
}

/* A retrieve whose lock-free lookup meets a dead writer's pending log
 * takes the bank's lock inside the allocation's own hold of the
 * process's mutex.  The thread must come out as cancellable as it went
 * in; before, the inner take overwrote the saved state, and the thread
 * could never be cancelled again. */
Test(cancel, a_retrieve_that_recovers_leaves_the_thread_cancellable)
{
    bank = bank_open();
    pid_t pid = fork();
    if (pid == 0) {
        pmm_bank *b;
        void *p;
        setenv("HR_CRASHPOINT", "alloc.committed:2", 1); /* read once */
        if (pmm_bank_open(&b, NULL, "RAM", 0) != 0 ||
            pmm_alloc(b, "kept", 4096, "K", 1, 0, &p, NULL) != 0)
            _exit(1);
        pmm_alloc(b, "dies", 4096, "K", 1, 0, &p, NULL);
        _exit(2);
    }
    cr_assert_eq(wait_status(pid), 128 + SIGKILL, "killed after its commit");
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, retriever, NULL), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(call_result, 0, "the block is retrieved");
    cr_assert_eq(cancel_state_after, PTHREAD_CANCEL_ENABLE,
                 "the thread is cancellable again after the call");
    pmm_block blk;
    cr_assert_eq(pmm_stat(bank, "dies", &blk), 0, "the dead one's block redone");
    pmm_bank_close(bank);
    cr_assert_eq(check_bank(), 0);
}
