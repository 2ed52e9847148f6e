/* SPDX-License-Identifier: MIT */
/*
 * ctl_child.c - what a child of the controller does between its fork and
 * its exec (pmm__os_exec_child, ctl.h), the report of a start that failed
 * on the error pipe, and the limit on descriptors given back at an exec.
 * Keeps one word of state: the limit this process started with.
 *
 * Invariants of the child's set-up: it is async-signal-safe (the child
 * may run in its parent's memory, pmm__os_spawn); every step that fails
 * is reported on the error pipe with its errno, the pipe being a good
 * descriptor at each report, moved or not; and no descriptor the child
 * still needs is overwritten while the others are put in place (a parent
 * started with its standard streams closed holds some at 0, 1 or 2).
 */
#define _GNU_SOURCE
#include "ctl.h"
#include "retry.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

extern char **environ;

static void unblock_all(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The start of a child failed at step: errno, saved first, and the step
 * to errpipe (if >= 0), then exit 127.  Async-signal-safe: the child may
 * run in its parent's memory (pmm__os_spawn). */
__attribute__((noreturn)) static void child_fail(int errpipe, int step)
{
    struct pmm__os_child_err e = {.step = step, .err = errno};
    if (errpipe >= 0 && write(errpipe, &e, sizeof e) < 0)
        (void)0; /* nobody to tell */
    _exit(127);
}

/* fd moved to a close-on-exec descriptor numbered from above: 0, or -1
 * with *fd unchanged. */
static int move_above(int *fd, int above)
{
    int to = fcntl(*fd, F_DUPFD_CLOEXEC, above);
    if (to < 0)
        return -1;
    *fd = to;
    return 0;
}

/* Is descriptor fd one of 0, 1 and 2 that a standard stream replaces? */
static int replaced(const int *stdio, int fd)
{
    return fd >= 0 && fd <= 2 && stdio[fd] >= 0 && stdio[fd] != fd;
}

/* Every descriptor *fds[0..n) that sits where a standard stream will be
 * put (a parent started with its streams closed opens its own files at
 * 0, 1 and 2) copied above 2, one copy for all that share a number, so
 * that putting the streams in place overwrites none.  0, or -1 (errno)
 * with nothing overwritten: *fds[0], the error pipe, is still good. */
static int lift(const int *stdio, int *const fds[], int n)
{
    for (int i = 0; i < n; i++) {
        int was = *fds[i];
        if (!replaced(stdio, was))
            continue;
        if (move_above(fds[i], 3) < 0)
            return -1;
        for (int j = i + 1; j < n; j++)
            if (*fds[j] == was)
                *fds[j] = *fds[i];
    }
    return 0;
}

/* Put the npass descriptors pass[] at 3, 4...: first every descriptor
 * the child still needs (the passed ones, the image, the error pipe, the
 * readiness fd) above that range, then dup2 (which clears close-on-exec)
 * into it.  A readiness fd numbered inside the range takes that number
 * afterwards.  Nothing is overwritten before the error pipe is above the
 * range: on a failure *errp is a good error pipe, moved or not. */
static int pass_fds(const int *pass, int npass, int *exe, int *errp,
                    int *ready)
{
    int tmp[HR_OS_PASS_MAX], top = 3 + npass;
    if (*errp >= 0 && move_above(errp, top) < 0)
        return -1;
    for (int i = 0; i < npass; i++)
        if ((tmp[i] = fcntl(pass[i], F_DUPFD_CLOEXEC, top)) < 0)
            return -1;
    if (*exe >= 0 && move_above(exe, top) < 0)
        return -1;
    if (ready && *ready >= 0 && move_above(ready, top) < 0)
        return -1;
    for (int i = 0; i < npass; i++)
        if (dup2(tmp[i], 3 + i) < 0)
            return -1;
    return 0;
}

/* The standard streams in place, each from its own copy when its number
 * was wanted elsewhere (lift); one given at its own number is made
 * inheritable there.  One not had (-1: /dev/null could not be opened) is
 * left as inherited.  0, or -1 (errno). */
static int put_stdio(const int *io)
{
    for (int i = 0; i < 3; i++)
        if (io[i] >= 0 &&
            (io[i] == i ? fcntl(i, F_SETFD, 0) : dup2(io[i], i)) < 0)
            return -1;
    return 0;
}

/* The soft limit on descriptors this process started with; 0 while it
 * has not been raised. */
static rlim_t nofile_start;

int pmm__os_nofile_raise(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) < 0)
        return -errno;
    if (r.rlim_cur >= r.rlim_max)
        return 0;
    rlim_t was = r.rlim_cur;
    r.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &r) < 0)
        return -errno;
    nofile_start = was;
    return 0;
}

uint32_t pmm__os_nofile_now(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) < 0)
        return 1024;
    return r.rlim_cur > INT32_MAX ? INT32_MAX : (uint32_t)r.rlim_cur;
}

/* Give back the limit this process started with (async-signal-safe). */
static void nofile_restore(void)
{
    struct rlimit r;
    if (nofile_start && getrlimit(RLIMIT_NOFILE, &r) == 0) {
        r.rlim_cur = nofile_start;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

void pmm__os_exec_child(const struct pmm__os_child *c)
{
    if (c->die_with > 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != c->die_with) {
            errno = ESRCH;
            child_fail(c->errpipe, PMM_OS_STEP_PARENT);
        }
    }
    /* handlers first, then the mask: a child of pmm__os_spawn runs in its
     * parent's memory, where no handler of the parent's may run */
    if (c->default_signals)
        for (int sig = 1; sig < NSIG; sig++)
            signal(sig, SIG_DFL);
    unblock_all();
    if (c->own_session)
        setsid();
    else if (c->own_group)
        setpgid(0, 0);
    if (c->same_address) {
        int p = personality(0xffffffff);
        if (p != -1)
            personality((unsigned long)p | ADDR_NO_RANDOMIZE);
    }
    int exe_fd = c->exe_fd, errpipe = c->errpipe;
    int pass_fd = c->pass_to > 2 ? c->pass_fd : -1;
    int io[3] = {c->stdio[0], c->stdio[1], c->stdio[2]};
    int pass[HR_OS_PASS_MAX], npass = c->npass;
    if (npass > HR_OS_PASS_MAX) {
        errno = EMFILE;
        child_fail(errpipe, PMM_OS_STEP_PASS);
    }
    for (int i = 0; i < npass; i++)
        pass[i] = c->pass_fds[i];
    /* the error pipe first: when it cannot move, it reports from where
     * it is, nothing overwritten yet */
    int *need[6 + HR_OS_PASS_MAX] = {&errpipe, &exe_fd, &pass_fd, &io[0],
                                      &io[1], &io[2]};
    for (int i = 0; i < npass; i++)
        need[6 + i] = &pass[i];
    if (lift(c->stdio, need, 6 + npass) < 0 || put_stdio(io) < 0)
        child_fail(errpipe, PMM_OS_STEP_STDIO);
    if (npass > 0 &&
        pass_fds(pass, npass, &exe_fd, &errpipe,
                 c->pass_to > 2 ? &pass_fd : NULL) < 0)
        child_fail(errpipe, PMM_OS_STEP_PASS);
    if (c->pid_var)
        snprintf(c->pid_var, 32, "LISTEN_PID=%d", (int)getpid());
    if (c->pass_to > 2) {
        /* the number asked for may be one of ours: move ours away first */
        if ((exe_fd == c->pass_to && move_above(&exe_fd, c->pass_to + 1) < 0) ||
            (errpipe == c->pass_to && move_above(&errpipe, c->pass_to + 1) < 0))
            child_fail(errpipe, PMM_OS_STEP_PASS_TO);
        if ((pass_fd == c->pass_to ? fcntl(c->pass_to, F_SETFD, 0)
                                   : dup2(pass_fd, c->pass_to)) < 0)
            child_fail(errpipe, PMM_OS_STEP_PASS_TO);
    }
    if (c->cwd && chdir(c->cwd) < 0 && (!c->cwd_or_root || chdir("/") < 0))
        child_fail(errpipe, PMM_OS_STEP_CWD);
    char *const *envp = c->envp ? c->envp : environ;
    /* last: the descriptors were moved with the raised limit's room */
    nofile_restore();
    if (exe_fd >= 0) {
        /* a "#!" program, or a binfmt_misc format's, is read by its
         * interpreter through its descriptor (/dev/fd/N): kept open for
         * those alone; an ELF program gets none, unless the kernel says
         * it cannot run it so (ENOENT: another machine's ELF, which
         * binfmt_misc hands to an emulator, qemu-user) */
        char magic[4];
        if (pread(exe_fd, magic, 4, 0) != 4 || memcmp(magic, "\177ELF", 4))
            fcntl(exe_fd, F_SETFD, 0);
        execveat(exe_fd, "", c->argv, envp, AT_EMPTY_PATH);
        if (errno == ENOENT && fcntl(exe_fd, F_GETFD) == FD_CLOEXEC &&
            fcntl(exe_fd, F_SETFD, 0) == 0)
            execveat(exe_fd, "", c->argv, envp, AT_EMPTY_PATH);
    } else {
        execve(c->path, c->argv, envp);
    }
    child_fail(errpipe, PMM_OS_STEP_EXEC);
}

int pmm__os_child_report(int fd, struct pmm__os_child_err *e)
{
    int n = RETRY(read(fd, e, sizeof *e));
    close(fd);
    if (n == 0) {
        *e = (struct pmm__os_child_err){0};
        return 0;
    }
    if (n != (int)sizeof *e || e->err <= 0)
        return -EIO;
    return -e->err;
}

const char *pmm__os_child_step(int step)
{
    switch (step) {
    case PMM_OS_STEP_EXEC: return "cannot execute its program";
    case PMM_OS_STEP_PARENT: return "its parent was gone before it started";
    case PMM_OS_STEP_STDIO: return "cannot give it its standard streams";
    case PMM_OS_STEP_PASS: return "cannot pass the listening sockets";
    case PMM_OS_STEP_PASS_TO: return "cannot pass its readiness descriptor";
    case PMM_OS_STEP_CWD: return "cannot change to working directory";
    case PMM_OS_STEP_CGROUP: return "cannot move it into its cgroup";
    default: return "its start failed";
    }
}

int pmm__os_exec(const char *path, char *const argv[])
{
    unblock_all();
    nofile_restore(); /* the new image raises it again */
    execv(path, argv);
    return -errno;
}

