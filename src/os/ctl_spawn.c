/* SPDX-License-Identifier: MIT */
/*
 * ctl_spawn.c - pmm__os_spawn (ctl.h): a child started for an exec, in
 * its cgroup from its first instruction, with no fork handler run.
 * Keeps no state.
 *
 * With a cgroup, the child is made inside it (clone3's CLONE_INTO_CGROUP):
 * a move after the fork (a write to cgroup.procs) takes the cgroup lock as
 * a writer, which waits for an RCU grace period, milliseconds on a loaded
 * machine.  It is a copy of the parent (as fork), and the parent goes on
 * at once, so that the children of a group restart execute side by side:
 * the first exec in a cgroup just made takes about a millisecond.
 * Without a cgroup, the child runs pmm__os_exec_child() in the parent's
 * memory (CLONE_VM) on a stack lent from the parent's while the parent
 * waits (CLONE_VFORK): nothing is copied (fork copies the controller's
 * page tables and then takes a fault at each page either side writes).
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

/* clone3(2) as a fork into cgroup cg: the pid, or -errno; the child
 * becomes c.  The parent goes on at once: the children of a group
 * restart execute side by side. */
static long clone_into(const struct pmm__os_child *c, int cg)
{
    /* struct clone_args up to its field cgroup (Linux 5.7) */
    uint64_t args[11] = {0};
    args[0] = HR_CLONE_INTO_CGROUP; /* flags */
    args[4] = SIGCHLD;              /* exit_signal */
    args[10] = (uint64_t)cg;        /* cgroup */
    long pid = syscall(SYS_clone3, args, sizeof args);
    if (pid == 0)
        pmm__os_exec_child(c);
    return pid < 0 ? -errno : pid;
}

int pmm__os_spawn(const struct pmm__os_child *c)
{
    /* Without a cgroup the child's stack lies on ours: we are suspended
     * until it has executed its program or exited (CLONE_VFORK).  Every
     * signal stays blocked until it has put every handler back to its
     * default. */
    char stack[32 << 10] __attribute__((aligned(64)));
    sigset_t all, old;
    long pid;
    if (!c->default_signals)
        return -EINVAL;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (c->cgroup_into) {
        pid = clone_into(c, *c->cgroup_into);
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
