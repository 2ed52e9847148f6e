/* SPDX-License-Identifier: MIT */
/*
 * ctl_spawn.c - pmm__os_spawn (ctl.h): a child started for an exec, in
 * its cgroup from its first instruction, with no fork handler run.
 * Keeps no state.
 *
 * The child runs pmm__os_exec_child() in the parent's memory (CLONE_VM)
 * on a stack lent from the parent's while the parent waits (CLONE_VFORK):
 * nothing is copied (a fork copies the controller's page tables, and the
 * child then takes a fault at each page it writes before its exec: 60 to
 * 100 us of a restart, measured with perf at load 3 to 6).  The caller
 * waits for the exec next anyway (hrd_spawn_wait), so waiting here costs
 * nothing.  With a cgroup, the child is made inside it (clone3's
 * CLONE_INTO_CGROUP): a move after the fork (a write to cgroup.procs)
 * takes the cgroup lock as a writer, which waits for an RCU grace period,
 * milliseconds on a loaded machine.  glibc has no clone3 that runs a
 * function on a new stack: on x86-64 it is done here in assembly.
 * Several children started together (c->side_by_side: a group restart)
 * are copies instead, as fork, and the parent goes on at once: on a
 * loaded machine each child waits for a CPU before it executes, and those
 * waits should not add up one after the other; elsewhere than x86-64
 * every child in a cgroup is such a copy.
 * Where clone3 is refused (ENOSYS on an older kernel, EPERM from a
 * seccomp profile: older container runtimes' defaults deny unknown system
 * calls so), the child is a fork that moves itself into its cgroup, and
 * every later one too.
 * Under AddressSanitizer it is a copy instead (a raw fork, no handlers):
 * a child running in our memory writes ASan's shadow of our stack, and
 * the parent's next report of anything crashes ASan itself.
 */
#define _GNU_SOURCE
#include "ctl.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

static int spawn_child(void *c)
{
    pmm__os_exec_child(c);
}

#define HR_CLONE_INTO_CGROUP 0x200000000ull

#if defined(__SANITIZE_ADDRESS__)
#define HR_SPAWN_COPY 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HR_SPAWN_COPY 1
#endif
#endif
#ifndef HR_SPAWN_COPY
#define HR_SPAWN_COPY 0
#endif

#if defined(__x86_64__) && !HR_SPAWN_COPY
/* clone3(2) whose child runs fn(arg) on the stack given in args (and
 * exits with its value): the pid, or -errno.  In assembly, as glibc's own
 * clone is: the child may not return through C frames of the parent. */
static long clone3_run(uint64_t *args, size_t size, int (*fn)(void *), void *arg)
{
    long ret;
    register void *r8 __asm__("r8") = (void *)fn;
    register void *r9 __asm__("r9") = arg;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "xor %%ebp, %%ebp\n\t" /* the child: on its stack */
                     "mov %%r9, %%rdi\n\t"
                     "call *%%r8\n\t"
                     "mov %%eax, %%edi\n\t"
                     "mov $60, %%eax\n\t" /* exit */
                     "syscall\n\t"
                     "hlt\n"
                     "1:"
                     : "=a"(ret)
                     : "0"((long)SYS_clone3), "D"(args), "S"(size), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#define HR_SPAWN_SHARED 1
#else
#define HR_SPAWN_SHARED 0
#endif

/* clone3(2) into cgroup cg: the pid, or -errno; the child becomes c.  A
 * copy (as fork) when c->side_by_side (or where the child cannot run on
 * a stack of its own: not x86-64, or under ASan), and the parent goes on
 * at once; else in our memory, on stack, the parent waiting until it has
 * executed its program or exited (CLONE_VM, CLONE_VFORK). */
static long clone_into(const struct pmm__os_child *c, int cg, char *stack,
                       size_t len)
{
    /* struct clone_args up to its field cgroup (Linux 5.7) */
    uint64_t args[11] = {0};
    args[0] = HR_CLONE_INTO_CGROUP; /* flags */
    args[4] = SIGCHLD;              /* exit_signal */
    args[10] = (uint64_t)cg;        /* cgroup */
#if HR_SPAWN_SHARED
    if (!c->side_by_side) {
        args[0] |= CLONE_VM | CLONE_VFORK;
        args[5] = (uint64_t)(uintptr_t)stack; /* stack, stack_size */
        args[6] = len;
        return clone3_run(args, sizeof args, spawn_child, (void *)c);
    }
#endif
    (void)stack, (void)len;
    long pid = syscall(SYS_clone3, args, sizeof args);
    if (pid == 0)
        pmm__os_exec_child(c);
    return pid < 0 ? -errno : pid;
}

/* Set once clone3 itself has been refused, for a reason that will not
 * change: ENOSYS (an older kernel), E2BIG (no CLONE_INTO_CGROUP), EPERM (a
 * seccomp profile that denies it, as older container runtimes' default
 * profiles do): every later child takes the fork path at once. */
static int no_clone3;

/* Should a clone3 that failed with r be tried again as a fork that moves
 * itself?  Not for a lack of processes or memory, which a fork meets too;
 * yes for anything else: a refusal of clone3 (remembered), or one of the
 * cgroup (EBUSY, EOPNOTSUPP...), which the fork's own move then reports
 * through the error pipe with its step. */
static int fork_instead(long r)
{
    if (r == -ENOSYS || r == -E2BIG || r == -EPERM)
        no_clone3 = 1;
    return r < 0 && r != -EAGAIN && r != -ENOMEM && r != -EINTR;
}

int pmm__os_spawn(const struct pmm__os_child *c)
{
    /* Unless it is a copy, the child's stack lies on ours: we are
     * suspended until it has executed its program or exited
     * (CLONE_VFORK).  Every signal stays blocked until it has put every
     * handler back to its default. */
    char stack[32 << 10] __attribute__((aligned(64)));
    sigset_t all, old;
    long pid;
    if (!c->default_signals)
        return -EINVAL;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (c->cgroup_into) {
        pid = no_clone3 ? -ENOSYS : clone_into(c, *c->cgroup_into, stack,
                                                sizeof stack);
        if (fork_instead(pid)) {
            /* before clone3: it moves itself; a raw fork, no handler
             * run (glibc's fork() would run the library's, which reopen
             * every bank in the child) */
            pid = syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
            int e = pid == 0 ? pmm__os_cgroup_enter(*c->cgroup_into) : 0;
            if (e < 0) {
                struct pmm__os_child_err ce = {PMM_OS_STEP_CGROUP, -e};
                if (c->errpipe >= 0 && write(c->errpipe, &ce, sizeof ce) < 0)
                    (void)0; /* nobody to tell */
                _exit(127);
            }
            if (pid == 0)
                pmm__os_exec_child(c);
            pid = pid < 0 ? -errno : pid;
        }
    } else if (HR_SPAWN_COPY) {
        pid = syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid == 0)
            pmm__os_exec_child(c);
        pid = pid < 0 ? -errno : pid;
    } else {
        pid = clone(spawn_child, stack + sizeof stack,
                    CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)c);
        pid = pid < 0 ? -errno : pid;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return (int)pid;
}
