/* SPDX-License-Identifier: MIT */
/*
 * syscall_trap.h - every system call of this process counted: a seccomp
 * filter makes each one but rt_sigreturn and exit_group raise SIGSYS,
 * which the caller's handler counts.  The proof that the heap's RAM
 * update path makes none (bench/heap_bench.c's heap_syscalls row, and
 * tests/test_heap.c).  Irreversible: for a child that does nothing else.
 */
#ifndef HR_BENCH_SYSCALL_TRAP_H
#define HR_BENCH_SYSCALL_TRAP_H

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

/* 0, or -1 (errno) when the filter or the handler cannot be set. */
static inline int trap_all_syscalls(void (*on_sigsys)(int, siginfo_t *,
                                                      void *))
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_rt_sigreturn, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof *f, f};
    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
    if (sigaction(SIGSYS, &sa, NULL) < 0 ||
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
        return -1;
    return 0;
}

#endif
