/* SPDX-License-Identifier: MIT */
/*
 * ctl.c - the controller's system calls behind the contract of ctl.h:
 * files, time, processes (fork, exec, reap, pidfds), signals and the
 * event loop.  The sockets are in ctl_net.c.  Keeps no state.
 */
#define _GNU_SOURCE
#include "ctl.h"
#include "retry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int pmm__os_open_fd(const char *path, int flags, mode_t mode)
{
    return RETRY(open(path, flags | O_CLOEXEC, mode));
}

int pmm__os_read(int fd, void *buf, size_t len)
{
    return RETRY(read(fd, buf, len));
}

int pmm__os_write(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        int n = RETRY(write(fd, p, len));
        if (n < 0)
            return n;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int pmm__os_dup2(int from, int to)
{
    return RETRY(dup2(from, to));
}

int pmm__os_inherit(int fd, int inherit)
{
    return ret(fcntl(fd, F_SETFD, inherit ? 0 : FD_CLOEXEC));
}

int pmm__os_access_x(const char *path)
{
    return ret(access(path, X_OK));
}

int pmm__os_getcwd(char *buf, size_t cap)
{
    return getcwd(buf, cap) ? 0 : -errno;
}

int pmm__os_self_exe(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n < 0)
        return -errno;
    if (n == 0 || (size_t)n >= cap - 1)
        return -ENAMETOOLONG;
    buf[n] = 0;
    return 0;
}

int pmm__os_read_owned(const char *path, char *buf, size_t cap,
                      struct pmm__os_owned *o)
{
    struct stat st;
    struct statvfs vfs;
    /* O_NONBLOCK: a FIFO put there does not hold us at open */
    int fd = pmm__os_open_fd(path, O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0)
        return fd;
    int r = fstat(fd, &st) < 0 || fstatvfs(fd, &vfs) < 0 ? -errno : 0;
    if (r == 0) {
        o->uid = st.st_uid;
        o->mode = st.st_mode;
        o->rdonly = !!(vfs.f_flag & ST_RDONLY);
        if (buf && !S_ISREG(st.st_mode)) /* a device, a FIFO: not read */
            r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    }
    size_t have = 0;
    while (r == 0 && buf) {
        if (have + 1 >= cap) {
            r = -EFBIG;
            break;
        }
        int n = pmm__os_read(fd, buf + have, cap - 1 - have);
        if (n <= 0) {
            r = n;
            break;
        }
        have += (size_t)n;
    }
    if (buf && cap)
        buf[have] = 0;
    close(fd);
    return r;
}

int pmm__os_memfd_ro(const char *name, const void *data, size_t len)
{
    char path[64];
    int w = memfd_create(name, MFD_CLOEXEC);
    if (w < 0)
        return -errno;
    int r = pmm__os_write(w, data, len);
    if (r == 0) {
        /* exec refuses a file open for writing: keep only a read-only view */
        snprintf(path, sizeof path, "/proc/self/fd/%d", w);
        r = pmm__os_open_fd(path, O_RDONLY, 0);
    }
    close(w);
    return r;
}

int pmm__os_fd_path(int fd, char *buf, size_t cap)
{
    char link[64];
    if (!cap)
        return -EINVAL;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, cap - 1);
    if (n < 0)
        return -errno;
    buf[n] = 0;
    return (size_t)n < cap - 1 ? 0 : -ENAMETOOLONG;
}

int64_t pmm__os_wall_s(void)
{
    return (int64_t)time(NULL);
}

int64_t pmm__os_mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void pmm__os_sleep_ms(unsigned ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

int pmm__os_fork(void)
{
    return ret(fork());
}

int pmm__os_kill(pid_t pid, int sig)
{
    return ret(kill(pid, sig));
}

int pmm__os_reap(pid_t pid, int *status, int nohang)
{
    int st = 0;
    int r = RETRY(waitpid(pid, &st, nohang ? WNOHANG : 0));
    if (r > 0 && status)
        *status = st;
    return r;
}

int pmm__os_pidfd_open(pid_t pid)
{
    return ret(syscall(SYS_pidfd_open, pid, 0));
}

int pmm__os_pidfd_kill(int pidfd, int sig)
{
    return ret(syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0));
}

int pmm__os_wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return RETRY(poll(&p, 1, timeout_ms));
}

int pmm__os_pipe(int fd[2])
{
    return ret(pipe2(fd, O_CLOEXEC));
}

int pmm__os_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -errno : ret(fcntl(fd, F_SETFL, fl | O_NONBLOCK));
}

int pmm__os_pipe_nb(int fd[2])
{
    int r = ret(pipe2(fd, O_CLOEXEC));
    if (r == 0 && (r = pmm__os_nonblock(fd[0])) < 0) {
        close(fd[0]);
        close(fd[1]);
    }
    return r;
}

int pmm__os_pids(pid_t *out, int max)
{
    DIR *dir = opendir("/proc");
    struct dirent *e;
    int n = 0;
    if (!dir)
        return -errno;
    while (n < max && (e = readdir(dir)))
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
            out[n++] = (pid_t)atoi(e->d_name);
    closedir(dir);
    return n;
}

int pmm__os_subreaper(void)
{
    return ret(prctl(PR_SET_CHILD_SUBREAPER, 1));
}

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

/* Put c->pass_fds at 3, 4...: first every descriptor the child still
 * needs (the passed ones, the image, the error pipe, the readiness fd)
 * above that range, then dup2 (which clears close-on-exec) into it.  A
 * readiness fd numbered inside the range takes that number afterwards.
 * Nothing is overwritten before the error pipe is above the range: on a
 * failure *errp is a good error pipe, moved or not. */
static int pass_fds(const struct pmm__os_child *c, int *exe, int *errp,
                    int *ready)
{
    int tmp[HR_OS_PASS_MAX], top = 3 + c->npass;
    if (c->npass > HR_OS_PASS_MAX)
        return errno = EMFILE, -1;
    if (*errp >= 0 && move_above(errp, top) < 0)
        return -1;
    for (int i = 0; i < c->npass; i++)
        if ((tmp[i] = fcntl(c->pass_fds[i], F_DUPFD_CLOEXEC, top)) < 0)
            return -1;
    if (*exe >= 0 && move_above(exe, top) < 0)
        return -1;
    if (ready && *ready >= 0 && move_above(ready, top) < 0)
        return -1;
    for (int i = 0; i < c->npass; i++)
        if (dup2(tmp[i], 3 + i) < 0)
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
    nofile_restore();
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
    int exe_fd = c->exe_fd, errpipe = c->errpipe, pass_fd = c->pass_fd;
    /* the error pipe may sit at 0, 1 or 2 (a daemon started with them
     * closed): above them first */
    if (errpipe >= 0 && errpipe <= 2 && move_above(&errpipe, 3) < 0)
        child_fail(-1, PMM_OS_STEP_STDIO);
    for (int i = 0; i < 3; i++) /* one not had (-1: /dev/null could not
                                    * be opened) is left as inherited */
        if (c->stdio[i] >= 0 && c->stdio[i] != i && dup2(c->stdio[i], i) < 0)
            child_fail(errpipe, PMM_OS_STEP_STDIO);
    if (c->npass > 0 &&
        pass_fds(c, &exe_fd, &errpipe, c->pass_to > 2 ? &pass_fd : NULL) < 0)
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
    if (exe_fd >= 0) {
        fcntl(exe_fd, F_SETFD, 0); /* so that "#!" programs find themselves */
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

int pmm__os_signals(const int *sigs, int n)
{
    sigset_t mask;
    sigemptyset(&mask);
    for (int i = 0; i < n; i++)
        sigaddset(&mask, sigs[i]);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    return ret(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
}

int pmm__os_signal_next(int fd)
{
    struct signalfd_siginfo si;
    int n = RETRY(read(fd, &si, sizeof si));
    if (n == -EAGAIN)
        return 0;
    if (n < 0)
        return n;
    return n == (int)sizeof si ? (int)si.ssi_signo : -EIO;
}

int pmm__os_poller(void)
{
    return ret(epoll_create1(EPOLL_CLOEXEC));
}

int pmm__os_poller_add(int ep, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    return ret(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
}

int pmm__os_poller_del(int ep, int fd)
{
    return ret(epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL));
}

int pmm__os_poller_wait(int ep, int *fds, int max, int timeout_ms)
{
    struct epoll_event got[64];
    if (max > 64)
        max = 64;
    int n = RETRY(epoll_wait(ep, got, max, timeout_ms));
    for (int i = 0; i < n; i++)
        fds[i] = got[i].data.fd;
    return n;
}
