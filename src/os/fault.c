/* SPDX-License-Identifier: MIT */
/*
 * fault.c - reading a shared mapping whose file may shrink under us.
 *
 * A page of a MAP_SHARED mapping past the end of its file raises SIGBUS
 * when read: a bank file truncated by someone else would kill a lookup
 * that reads its metadata lock-free.  pmm__os_guarded() runs such a read
 * with a SIGBUS at an address inside the mapping turned into -EFAULT, at
 * the cost of a sigsetjmp() and no system call.
 *
 * The handler is installed once, on the first guarded read, for the whole
 * process.  A SIGBUS that is not a guarded read's goes to the handler that
 * was installed before ours, or, if there was none, kills the process as
 * it always would (the default action, re-raised).  A program that
 * installs its own SIGBUS handler later replaces ours: its guarded reads
 * then die by SIGBUS as they did before this file existed.
 */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

struct guard {
    sigjmp_buf env;
    uintptr_t lo, hi;
};

/* initial-exec: reading it in the handler never allocates, even in a
 * thread that has not touched it before */
static __thread struct guard *volatile active
    __attribute__((tls_model("initial-exec")));
static struct sigaction before;
static pthread_once_t installed = PTHREAD_ONCE_INIT;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    struct guard *g = active;
    uintptr_t at = (uintptr_t)si->si_addr;
    if (g && at >= g->lo && at < g->hi) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGBUS);
        active = NULL;
        pthread_sigmask(SIG_UNBLOCK, &s, NULL); /* the jump skips sigreturn */
        siglongjmp(g->env, 1);
    }
    if ((before.sa_flags & SA_SIGINFO) && before.sa_sigaction) {
        before.sa_sigaction(sig, si, uc);
        return;
    }
    if (!(before.sa_flags & SA_SIGINFO) && before.sa_handler != SIG_DFL &&
        before.sa_handler != SIG_IGN) {
        before.sa_handler(sig);
        return;
    }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGBUS, &dfl, NULL);
    raise(SIGBUS); /* delivered, and fatal, when the handler returns */
}

/* The handler before ours is read first and ours installed second: with
 * one sigaction() call, glibc copies the old handler out only after the
 * kernel has put ours in, and a SIGBUS in another thread in between would
 * find `before` empty and take the default action instead of the
 * program's handler.  Should the program change the handler between our
 * two calls, the second tells us which one it was. */
static void install(void)
{
    struct sigaction sa, was;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, NULL, &before);
    sigaction(SIGBUS, &sa, &was);
    if (was.sa_sigaction != before.sa_sigaction ||
        was.sa_flags != before.sa_flags)
        before = was;
}

int pmm__os_guarded(const void *addr, size_t len, int (*fn)(void *),
                    void *arg)
{
    struct guard g;
    pthread_once(&installed, install);
    g.lo = (uintptr_t)addr;
    g.hi = g.lo + len;
    if (sigsetjmp(g.env, 0)) /* a SIGBUS in [lo, hi): the read is abandoned */
        return -EFAULT;
    active = &g;
    int r = fn(arg);
    active = NULL;
    return r;
}
