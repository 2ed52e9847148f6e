/* SPDX-License-Identifier: MIT */
/*
 * ctl.c - the controller's system calls behind the contract of ctl.h:
 * files, time, processes (fork, reap, pidfds), signals and the event
 * loop.  The sockets are in ctl_net.c, a child's set-up before its exec
 * in ctl_child.c.  Keeps no state.
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
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
    struct stat st;
    if (access(path, X_OK) < 0 || stat(path, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? -EACCES : 0; /* as execve says of one */
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
    if (r == 0 && buf && cap == 0)
        r = -EFBIG;
    while (r == 0 && buf) {
        char more; /* full: one byte more says whether the file goes on */
        int n = have + 1 < cap ? pmm__os_read(fd, buf + have, cap - 1 - have)
                               : pmm__os_read(fd, &more, 1);
        if (n <= 0) {
            r = n;
            break;
        }
        if (have + 1 >= cap) {
            r = -EFBIG;
            break;
        }
        have += (size_t)n;
    }
    if (buf && cap)
        buf[have] = 0;
    if (r == 0 && buf && memchr(buf, 0, have))
        r = -EILSEQ; /* a NUL byte: not text; what follows it would be lost */
    close(fd);
    return r;
}

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* <linux/memfd.h> of Linux 6.3 */
#endif

int pmm__os_memfd_ro(const char *name, const void *data, size_t len)
{
    char path[64];
    /* executable said outright: where vm.memfd_noexec is 1, a memfd made
     * without MFD_EXEC is sealed against exec; a kernel before 6.3 does
     * not know the flag (EINVAL) and makes every memfd executable */
    int w = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (w < 0 && errno == EINVAL)
        w = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (w < 0)
        return -errno;
    int r = pmm__os_write(w, data, len);
    /* sealed: a descriptor of it, read-only as it is, can be opened again
     * for writing through /proc (a "#!" program keeps one), and a stored
     * image changed so would be what every later restart runs */
    if (r == 0 && fcntl(w, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW |
                                            F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
        r = -errno;
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

uint64_t pmm__os_mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
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

int pmm__os_flock(int fd)
{
    return RETRY(flock(fd, LOCK_EX));
}

int pmm__os_subreaper(void)
{
    return ret(prctl(PR_SET_CHILD_SUBREAPER, 1));
}

int pmm__os_outlive_parent(void)
{
    return ret(prctl(PR_SET_PDEATHSIG, 0));
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
