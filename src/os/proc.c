/* SPDX-License-Identifier: MIT */
/*
 * proc.c - the process, the clock and randomness, behind os.h.
 */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int pmm__os_random(void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

uint64_t pmm__os_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int self_pid; /* 0 until read; cleared in a forked child */
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void pid_forget(void)
{
    __atomic_store_n(&self_pid, 0, __ATOMIC_RELAXED);
}

static void pid_watch_forks(void)
{
    pthread_atfork(NULL, NULL, pid_forget);
}

int pmm__os_pid(void)
{
    int pid = __atomic_load_n(&self_pid, __ATOMIC_RELAXED);
    if (!pid) {
        pthread_once(&pid_once, pid_watch_forks); /* before the first fill */
        pid = (int)getpid();
        __atomic_store_n(&self_pid, pid, __ATOMIC_RELAXED);
    }
    return pid;
}

uid_t pmm__os_euid(void)
{
    return geteuid();
}

void pmm__os_yield(void)
{
    sched_yield();
}

void pmm__os_futex_wait(uint32_t *word, uint32_t seen, long ns)
{
    struct timespec t = {ns / 1000000000L, ns % 1000000000L};
    syscall(SYS_futex, word, FUTEX_WAIT, seen, &t, NULL, 0);
}

void pmm__os_futex_wake(uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void pmm__os_stop(void)
{
    kill(getpid(), SIGSTOP);
}

void pmm__os_die(void)
{
    kill(getpid(), SIGKILL);
    /* reached only by PID 1 of a pid namespace (an init ignores the
     * signals it sends itself): end as a kill would, running nothing */
    _exit(128 + SIGKILL);
}
