/* SPDX-License-Identifier: MIT */
/*
 * ctl_spawn.c - pmm__os_spawn (ctl.h): a child started for an exec
 * without a copy of its parent, in its cgroup from its first instruction.
 * Keeps no state.
 *
 * The child runs pmm__os_exec_child() while its parent waits
 * (CLONE_VFORK), in the parent's memory (CLONE_VM) on a stack lent from
 * the parent's: nothing is copied (fork copied the controller's page
 * tables and then took a fault at each page either side wrote), and no
 * fork handler runs.  With a cgroup, it is made inside it (clone3's
 * CLONE_INTO_CGROUP): a move after the fork (a write to cgroup.procs)
 * takes the cgroup lock as a writer, which waits for an RCU grace period,
 * milliseconds on a loaded machine.  glibc has no clone3 that runs a
 * function on a new stack: on x86-64 it is done here in assembly; on
 * other machines that child is a copy (as fork), the parent still waiting.
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

#if defined(__x86_64__)
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
#endif

/* The child of c made in cgroup cg, on stack: the pid, or -errno. */
static long clone_into(const struct pmm__os_child *c, int cg, char *stack,
                       size_t len)
{
    /* struct clone_args up to its field cgroup (Linux 5.7) */
    uint64_t args[11] = {0};
    args[0] = CLONE_VFORK | HR_CLONE_INTO_CGROUP; /* flags */
    args[4] = SIGCHLD;                            /* exit_signal */
    args[10] = (uint64_t)cg;                      /* cgroup */
#if defined(__x86_64__)
    args[0] |= CLONE_VM;
    args[5] = (uint64_t)(uintptr_t)stack;         /* stack, stack_size */
    args[6] = len;
    return clone3_run(args, sizeof args, spawn_child, (void *)c);
#else
    /* elsewhere as a fork (its memory copied), the parent still waiting */
    (void)stack, (void)len;
    long pid = syscall(SYS_clone3, args, sizeof args);
    if (pid == 0)
        pmm__os_exec_child(c);
    return pid < 0 ? -errno : pid;
#endif
}

int pmm__os_spawn(const struct pmm__os_child *c)
{
    /* The child's stack may lie on ours: we are suspended until it has
     * executed its program or exited (CLONE_VFORK).  Every signal stays
     * blocked until it has put every handler back to its default. */
    char stack[32 << 10] __attribute__((aligned(64)));
    sigset_t all, old;
    long pid;
    if (!c->default_signals)
        return -EINVAL;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (c->cgroup_into) {
        pid = clone_into(c, *c->cgroup_into, stack, sizeof stack);
        if (pid == -ENOSYS || pid == -E2BIG) {
            pid = fork(); /* before clone3: it moves itself */
            int e = pid == 0 ? -pmm__os_cgroup_enter(*c->cgroup_into) : 0;
            if (e > 0) {
                if (c->errpipe >= 0 && write(c->errpipe, &e, sizeof e) < 0)
                    (void)0;
                _exit(127);
            }
            if (pid == 0)
                pmm__os_exec_child(c);
            pid = pid < 0 ? -errno : pid;
        }
    } else {
        pid = clone(spawn_child, stack + sizeof stack,
                    CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)c);
        pid = pid < 0 ? -errno : pid;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return (int)pid;
}
