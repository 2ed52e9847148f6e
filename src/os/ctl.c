/*
 * ctl.c - the controller's system calls behind the contract of ctl.h.
 */
#define _GNU_SOURCE
#include "ctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* r, or -errno when r < 0 */
static int ret(long r)
{
    return r < 0 ? -errno : (int)r;
}

#define RETRY(expr)                                                           \
    ({                                                                        \
        long r_;                                                              \
        do                                                                    \
            r_ = (long)(expr);                                                \
        while (r_ < 0 && errno == EINTR);                                     \
        ret(r_);                                                              \
    })

int hr__os_open(const char *path, int flags, mode_t mode)
{
    return RETRY(open(path, flags | O_CLOEXEC, mode));
}

int hr__os_read(int fd, void *buf, size_t len)
{
    return RETRY(read(fd, buf, len));
}

int hr__os_write(int fd, const void *buf, size_t len)
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

int hr__os_dup2(int from, int to)
{
    return RETRY(dup2(from, to));
}

int hr__os_inherit(int fd, int inherit)
{
    return ret(fcntl(fd, F_SETFD, inherit ? 0 : FD_CLOEXEC));
}

int hr__os_access_x(const char *path)
{
    return ret(access(path, X_OK));
}

int hr__os_getcwd(char *buf, size_t cap)
{
    return getcwd(buf, cap) ? 0 : -errno;
}

int hr__os_self_exe(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n < 0)
        return -errno;
    if (n == 0 || (size_t)n >= cap - 1)
        return -ENAMETOOLONG;
    buf[n] = 0;
    return 0;
}

int hr__os_memfd_ro(const char *name, const void *data, size_t len)
{
    char path[64];
    int w = memfd_create(name, MFD_CLOEXEC);
    if (w < 0)
        return -errno;
    int r = hr__os_write(w, data, len);
    if (r == 0) {
        /* exec refuses a file open for writing: keep only a read-only view */
        snprintf(path, sizeof path, "/proc/self/fd/%d", w);
        r = hr__os_open(path, O_RDONLY, 0);
    }
    close(w);
    return r;
}

int64_t hr__os_wall_s(void)
{
    return (int64_t)time(NULL);
}

int64_t hr__os_mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void hr__os_sleep_ms(unsigned ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

int hr__os_fork(void)
{
    return ret(fork());
}

int hr__os_kill(pid_t pid, int sig)
{
    return ret(kill(pid, sig));
}

int hr__os_reap(pid_t pid, int *status, int nohang)
{
    int st = 0;
    int r = RETRY(waitpid(pid, &st, nohang ? WNOHANG : 0));
    if (r > 0 && status)
        *status = st;
    return r;
}

int hr__os_pidfd_open(pid_t pid)
{
    return ret(syscall(SYS_pidfd_open, pid, 0));
}

int hr__os_pidfd_kill(int pidfd, int sig)
{
    return ret(syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0));
}

int hr__os_wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return RETRY(poll(&p, 1, timeout_ms));
}

int hr__os_pipe(int fd[2])
{
    return ret(pipe2(fd, O_CLOEXEC));
}

int hr__os_pids(pid_t *out, int max)
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

int hr__os_subreaper(void)
{
    return ret(prctl(PR_SET_CHILD_SUBREAPER, 1));
}

static void unblock_all(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Put c->pass_fds at 3, 4...: first every descriptor the child still
 * needs (the passed ones, the image, the error pipe, the readiness fd)
 * above that range, then dup2 (which clears close-on-exec) into it.  A
 * readiness fd numbered inside the range takes that number afterwards. */
static int pass_fds(const struct hr__os_child *c, int *exe, int *errp,
                    int *ready)
{
    int tmp[HR_OS_PASS_MAX], top = 3 + c->npass;
    if (c->npass > HR_OS_PASS_MAX)
        return -1;
    for (int i = 0; i < c->npass; i++)
        if ((tmp[i] = fcntl(c->pass_fds[i], F_DUPFD_CLOEXEC, top)) < 0)
            return -1;
    if (*exe >= 0 && (*exe = fcntl(*exe, F_DUPFD_CLOEXEC, top)) < 0)
        return -1;
    if (*errp >= 0 && (*errp = fcntl(*errp, F_DUPFD_CLOEXEC, top)) < 0)
        return -1;
    if (ready && *ready >= 0 && (*ready = fcntl(*ready, F_DUPFD_CLOEXEC, top)) < 0)
        return -1;
    for (int i = 0; i < c->npass; i++)
        if (dup2(tmp[i], 3 + i) < 0)
            return -1;
    return 0;
}

void hr__os_exec_child(const struct hr__os_child *c)
{
    if (c->die_with > 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != c->die_with)
            _exit(127);
    }
    unblock_all();
    if (c->default_signals)
        for (int sig = 1; sig < NSIG; sig++)
            signal(sig, SIG_DFL);
    if (c->own_session)
        setsid();
    else if (c->own_group)
        setpgid(0, 0);
    for (int i = 0; i < 3; i++)
        if (c->stdio[i] != i)
            dup2(c->stdio[i], i);
    int exe_fd = c->exe_fd, errpipe = c->errpipe, pass_fd = c->pass_fd;
    if (c->npass > 0 &&
        pass_fds(c, &exe_fd, &errpipe, c->pass_to > 2 ? &pass_fd : NULL) < 0)
        _exit(127);
    if (c->pid_var)
        snprintf(c->pid_var, 32, "LISTEN_PID=%d", (int)getpid());
    if (c->pass_to > 2) {
        /* the number asked for may be one of ours: move ours away first */
        if (exe_fd == c->pass_to)
            exe_fd = fcntl(exe_fd, F_DUPFD_CLOEXEC, c->pass_to + 1);
        if (errpipe == c->pass_to)
            errpipe = fcntl(errpipe, F_DUPFD_CLOEXEC, c->pass_to + 1);
        if ((pass_fd == c->pass_to ? fcntl(c->pass_to, F_SETFD, 0)
                                   : dup2(pass_fd, c->pass_to)) < 0)
            _exit(127);
    }
    if (c->cwd && chdir(c->cwd) < 0 && (!c->cwd_or_root || chdir("/") < 0))
        _exit(127);
    char *const *envp = c->envp ? c->envp : environ;
    if (exe_fd >= 0) {
        fcntl(exe_fd, F_SETFD, 0); /* so that "#!" programs find themselves */
        execveat(exe_fd, "", c->argv, envp, AT_EMPTY_PATH);
    } else {
        execve(c->path, c->argv, envp);
    }
    int e = errno;
    if (errpipe >= 0 && write(errpipe, &e, sizeof e) < 0)
        (void)0;
    _exit(127);
}

int hr__os_exec(const char *path, char *const argv[])
{
    unblock_all();
    execv(path, argv);
    return -errno;
}

int hr__os_signals(const int *sigs, int n)
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

int hr__os_signal_next(int fd)
{
    struct signalfd_siginfo si;
    int n = RETRY(read(fd, &si, sizeof si));
    if (n == -EAGAIN)
        return 0;
    if (n < 0)
        return n;
    return n == (int)sizeof si ? (int)si.ssi_signo : -EIO;
}

int hr__os_poller(void)
{
    return ret(epoll_create1(EPOLL_CLOEXEC));
}

int hr__os_poller_add(int ep, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    return ret(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
}

int hr__os_poller_del(int ep, int fd)
{
    return ret(epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL));
}

int hr__os_poller_wait(int ep, int *fds, int max, int timeout_ms)
{
    struct epoll_event got[64];
    if (max > 64)
        max = 64;
    int n = RETRY(epoll_wait(ep, got, max, timeout_ms));
    for (int i = 0; i < n; i++)
        fds[i] = got[i].data.fd;
    return n;
}

/* A non-blocking socket of type bound at path, owner-only (a stale file
 * there replaced), or -errno. */
static int bound_at(const char *path, int type)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (snprintf(a.sun_path, sizeof a.sun_path, "%s", path) >=
        (int)sizeof a.sun_path)
        return -ENAMETOOLONG;
    int s = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return -errno;
    unlink(a.sun_path);
    mode_t old = umask(077);
    int r = bind(s, (struct sockaddr *)&a, sizeof a);
    umask(old);
    if (r == 0)
        r = chmod(a.sun_path, 0600);
    if (r < 0) {
        r = -errno;
        close(s);
        return r;
    }
    return s;
}

/* s, or -errno (s closed) when r failed. */
static int kept_if(int s, int r)
{
    if (r == 0)
        return s;
    r = -errno;
    close(s);
    return r;
}

int hr__os_listen(const char *path, int backlog)
{
    int s = bound_at(path, SOCK_SEQPACKET);
    return s < 0 ? s : kept_if(s, listen(s, backlog));
}

int hr__os_dgram_bind(const char *path)
{
    int on = 1, s = bound_at(path, SOCK_DGRAM);
    return s < 0 ? s : kept_if(s, setsockopt(s, SOL_SOCKET, SO_PASSCRED, &on,
                                             sizeof on));
}

int hr__os_recv_from_pid(int fd, char *buf, size_t cap, pid_t *pid)
{
    union {
        char space[CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } c;
    struct iovec iov = {buf, cap - 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = c.space, .msg_controllen = sizeof c.space};
    int n = RETRY(recvmsg(fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
    if (n < 0)
        return n;
    buf[n] = 0;
    *pid = 0;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_CREDENTIALS) {
            struct ucred u;
            memcpy(&u, CMSG_DATA(h), sizeof u);
            *pid = u.pid;
        } else if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
            /* descriptors sent along (FDSTORE=1) are not kept */
            int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < k; i++) {
                int f;
                memcpy(&f, CMSG_DATA(h) + i * sizeof f, sizeof f);
                close(f);
            }
        }
    }
    return n;
}

static int listen_unix_stream(const char *path, int backlog)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    struct stat st;
    if (snprintf(a.sun_path, sizeof a.sun_path, "%s", path) >=
        (int)sizeof a.sun_path)
        return -ENAMETOOLONG;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, backlog) < 0) {
        int r = -errno;
        close(s);
        return r;
    }
    return s;
}

static int listen_tcp(const char *hostport, int backlog)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || !colon[1] ||
        (size_t)(colon - hostport) >= sizeof host)
        return -EINVAL;
    const char *h = hostport;
    size_t hl = (size_t)(colon - hostport);
    if (h[0] == '[' && h[hl - 1] == ']')
        h++, hl -= 2;
    memcpy(host, h, hl);
    host[hl] = 0;
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
        return -EINVAL;
    int s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, ai->ai_protocol);
    int r = s < 0 ? -errno : 0, on = 1;
    if (r == 0) {
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (bind(s, ai->ai_addr, ai->ai_addrlen) < 0 || listen(s, backlog) < 0) {
            r = -errno;
            close(s);
        }
    }
    freeaddrinfo(ai);
    return r < 0 ? r : s;
}

int hr__os_listen_spec(const char *spec, int backlog)
{
    if (strncmp(spec, "tcp:", 4) == 0)
        return listen_tcp(spec + 4, backlog);
    if (strncmp(spec, "unix:", 5) == 0 && spec[5])
        return listen_unix_stream(spec + 5, backlog);
    return -EINVAL;
}

int hr__os_is_listening(int fd)
{
    int type = 0, on = 0;
    socklen_t l1 = sizeof type, l2 = sizeof on;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) == 0 &&
           type == SOCK_STREAM &&
           getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &l2) == 0 && on;
}

int hr__os_accept(int fd)
{
    return RETRY(accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK));
}

int hr__os_peer(int fd, uid_t *uid, pid_t *pid)
{
    struct ucred cred;
    socklen_t cl = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
        return -errno;
    *uid = cred.uid;
    *pid = cred.pid;
    return 0;
}

int hr__os_send_to(const char *addr, const void *msg, size_t len)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (snprintf(a.sun_path, sizeof a.sun_path, "%s", addr) >=
        (int)sizeof a.sun_path)
        return -ENAMETOOLONG;
    if (addr[0] == '@')
        a.sun_path[0] = 0;
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    int r = ret(sendto(s, msg, len, MSG_NOSIGNAL, (struct sockaddr *)&a,
                       sizeof a));
    close(s);
    return r < 0 ? r : 0;
}

int hr__os_connect(const char *path, int timeout_s)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (snprintf(a.sun_path, sizeof a.sun_path, "%s", path) >=
        (int)sizeof a.sun_path)
        return -ENAMETOOLONG;
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct timeval tv = {timeout_s, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        int r = -errno;
        close(s);
        return r;
    }
    return s;
}

int hr__os_sendmsg(int fd, const struct msghdr *m)
{
    return RETRY(sendmsg(fd, m, MSG_NOSIGNAL));
}

int hr__os_recvmsg(int fd, struct msghdr *m)
{
    return RETRY(recvmsg(fd, m, MSG_CMSG_CLOEXEC));
}
