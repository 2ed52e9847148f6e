/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - the controller's system calls: files it opens, processes it
 * starts, stops and reaps, its signals, its event loop and its sockets.
 * Also the calls of the controller's client side (src/hr/): its socket.
 * ctl.c keeps the files, processes, signals and event loop, ctl_net.c
 * the sockets.  Part of the OS layer (src/os/): neither the daemon nor
 * src/hr/ makes a system call of its own, which the syscalls test of
 * tests/CMakeLists.txt keeps true.
 *
 * Contract, as os.h's: each function returns 0 (or a count, a pid or a
 * descriptor) on success and -errno on failure, retries EINTR itself, and
 * opens every descriptor close-on-exec.  They keep no state.
 */
#ifndef HR_OS_CTL_H
#define HR_OS_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Files. */
int pmm__os_open_fd(const char *path, int flags, mode_t mode); /* a descriptor */
int pmm__os_read(int fd, void *buf, size_t len);            /* bytes read */
int pmm__os_write(int fd, const void *buf, size_t len);     /* all, or -errno */
int pmm__os_dup2(int from, int to);
/* Let fd pass to programs this process executes (inherit 1) or not. */
int pmm__os_inherit(int fd, int inherit);
/* 0 when this process may execute path (a directory: -EACCES). */
int pmm__os_access_x(const char *path);
/* The working directory, NUL-terminated. */
int pmm__os_getcwd(char *buf, size_t cap);
/* The path of the running program, NUL-terminated. */
int pmm__os_self_exe(char *buf, size_t cap);
/* A read-only descriptor of an anonymous file holding len bytes of data
 * (exec refuses a file open for writing), sealed: no one changes it. */
int pmm__os_memfd_ro(const char *name, const void *data, size_t len);

/* The path an open descriptor was opened by (readlink of
 * /proc/self/fd/FD), NUL-terminated; -ENAMETOOLONG when cut. */
int pmm__os_fd_path(int fd, char *buf, size_t cap);

/* A file another program keeps for us (a configuration file, a link
 * followed): its owner, its mode and whether its file system is mounted
 * read-only, taken from the descriptor it is read through, then the whole
 * of it into buf, NUL-terminated (buf NULL: only the facts; a directory
 * may be asked that way).  -EFBIG if it does not fit in cap - 1 bytes;
 * -EISDIR, -EINVAL for a directory or another file that is not regular
 * (a FIFO, a device: never read). */
struct pmm__os_owned { uid_t uid; mode_t mode; int rdonly; };
int pmm__os_read_owned(const char *path, char *buf, size_t cap,
                      struct pmm__os_owned *o);

/* Time.  Wall-clock seconds, monotonic milliseconds, and a sleep. */
int64_t pmm__os_wall_s(void);
int64_t pmm__os_mono_ms(void);
/* The same in nanoseconds: for deadlines, which a step of the wall clock
 * (NTP, a resumed VM) must not move. */
uint64_t pmm__os_mono_ns(void);
void pmm__os_sleep_ms(unsigned ms);

/* Processes. */
int pmm__os_fork(void); /* the child's pid; 0 in the child */
int pmm__os_kill(pid_t pid, int sig);
/* Reap pid (-1: any child): its pid with *status, 0 when none has ended
 * yet (nohang), -ECHILD when there is no such child. */
int pmm__os_reap(pid_t pid, int *status, int nohang);
int pmm__os_pidfd_open(pid_t pid);          /* -ESRCH once it is gone */
int pmm__os_pidfd_kill(int pidfd, int sig);
/* 1 when fd becomes readable within timeout_ms (-1: no limit), else 0. */
int pmm__os_wait_readable(int fd, int timeout_ms);
int pmm__os_pipe(int fd[2]);
/* Make fd's open file non-blocking: a write that would wait fails with
 * -EAGAIN instead. */
int pmm__os_nonblock(int fd);
/* A pipe whose read end fd[0] is non-blocking (the write end blocks as
 * usual): for output the event loop reads. */
int pmm__os_pipe_nb(int fd[2]);
/* The pids of the system's processes (from /proc), at most max: how many. */
int pmm__os_pids(pid_t *out, int max);
/* Make this process a child subreaper: orphans among its descendants
 * become its children (PR_SET_CHILD_SUBREAPER). */
int pmm__os_subreaper(void);
/* Outlive the parent: the death signal a spawn gave this process
 * (struct pmm__os_child's die_with) is cleared. */
int pmm__os_outlive_parent(void);

/* Process trees (ctl_tree.c).  A cgroup (v2) is a name under a cgroup
 * directory opened by the caller. */
/* The path of this process's cgroup v2 directory (its line "0::" of
 * /proc/self/cgroup under the cgroup2 mount): 0, or -ENOENT without one. */
int pmm__os_cgroup_self(char *path, size_t cap);
/* Make cgroup name under dir (one that exists is no error); remove it
 * (-EBUSY while a process is in it; one that is gone is no error). */
int pmm__os_cgroup_make(int dir, const char *name);
int pmm__os_cgroup_remove(int dir, const char *name);
/* The processes of cgroup name (not of cgroups below it): how many. */
int pmm__os_cgroup_pids(int dir, const char *name, pid_t *out, int max);
/* Send sig to each process of cgroup name. */
int pmm__os_cgroup_signal(int dir, const char *name, int sig);
/* SIGKILL every process of cgroup name and of the cgroups below it:
 * one write to cgroup.kill (use_kill, Linux 5.14), else each process of
 * cgroup.procs, again until none is left (-EAGAIN if forks outrun it). */
int pmm__os_cgroup_kill(int dir, const char *name, int use_kill);
/* 1 when a process is in cgroup name or below, 0 when none. */
int pmm__os_cgroup_populated(int dir, const char *name);
/* The names of the cgroups directly under dir (each under 64 bytes). */
int pmm__os_cgroup_children(int dir, char (*names)[64], int max);
/* 0 when processes may be made and moved under dir: a cgroup made there,
 * a child process moved into it, both gone again; else -errno. */
int pmm__os_cgroup_probe(int dir);
/* Make cgroup name under dir, which must not exist yet (-EEXIST), and
 * open it: a directory descriptor for pmm__os_child.cgroup_into. */
int pmm__os_cgroup_new(int dir, const char *name);
/* Open the existing cgroup name under dir: a directory descriptor. */
int pmm__os_cgroup_open(int dir, const char *name);
/* Mark the cgroup open as cg in use by this process for as long as it
 * lives (a lock the kernel drops when it dies): 0 or -errno. */
int pmm__os_cgroup_hold(int cg);
/* 1 when cgroup name under dir is held so by a live process, or was
 * changed (made, or a cgroup made or removed in it) less than young_s
 * seconds ago; 0 when neither; -errno. */
int pmm__os_cgroup_claimed(int dir, const char *name, unsigned young_s);
/* Move this process into the cgroup open as cg. */
int pmm__os_cgroup_enter(int cg);
/* The children of pid, of all its threads: how many, at most max. */
int pmm__os_children(pid_t pid, pid_t *out, int max);
/* The descriptor numbers of pid's sockets: how many, at most max. */
int pmm__os_socket_fds(pid_t pid, int *out, int max);
/* A descriptor of ours for descriptor fd of the process behind pidfd
 * (pidfd_getfd(2): ptrace access to it is needed), close-on-exec. */
int pmm__os_pidfd_getfd(int pidfd, int fd);

/* Take fd's whole-file lock (flock(2), exclusive), waiting for it: the
 * lock of a site's directory that its writers of site.conf hold (dropped
 * at close, or when the holder dies).  0 or -errno. */
int pmm__os_flock(int fd);

/* What a forked child becomes: pmm__os_exec_child() sets it up in this
 * order and executes the program; it never returns.  When a step fails
 * (the exec, or one before it), a struct pmm__os_child_err naming the
 * step and its errno is written to errpipe (if >= 0) and the child exits
 * 127: the reader tells a start that failed, and why, from a program
 * that started and then died.  Descriptors given here may sit at 0, 1
 * or 2 (a parent started with its standard streams closed): none is
 * overwritten while the streams are put in place, and a stream given at
 * its own number is inherited even if close-on-exec (ctl_child.c). */
struct pmm__os_child {
    pid_t die_with;        /* > 0: SIGKILL when the parent dies, and exit at
                              once unless the parent is still this pid */
    const int *cgroup_into; /* non-NULL (pmm__os_spawn only): start in the
                              cgroup open as this descriptor */
    int side_by_side;      /* with cgroup_into: a copy of the parent, which
                              goes on at once (others start meanwhile) */
    int default_signals;   /* every signal handler back to its default */
    int own_group;         /* its own process group */
    int own_session;       /* its own session (and process group) */
    int same_address;      /* no address-space randomisation: the program
                              is laid out alike at every exec */
    const int *stdio;      /* descriptors for 0, 1 and 2 */
    const char *cwd;       /* working directory ... */
    int cwd_or_root;       /* ... or "/" when it cannot be entered (else
                              the start fails: PMM_OS_STEP_CWD) */
    int pass_fd, pass_to;  /* pass_to > 2: pass_fd given to it as pass_to */
    int exe_fd;            /* >= 0: execute this descriptor ... */
    const char *path;      /* ... else this file */
    char *const *argv;
    char *const *envp;     /* NULL: this process's environment */
    int errpipe;
    const int *pass_fds;   /* become fds 3, 4...: sd_listen_fds(3) */
    int npass;             /* how many (at most HR_OS_PASS_MAX) */
    char *pid_var;         /* NULL, or 32 bytes of envp that the child
                              fills with "LISTEN_PID=<its pid>" */
};
#define HR_OS_PASS_MAX 16
/* The steps of a child's start that can fail, as its report names them. */
enum pmm__os_child_step {
    PMM_OS_STEP_EXEC = 1, /* the exec of its program */
    PMM_OS_STEP_PARENT,   /* die_with: the parent was gone already */
    PMM_OS_STEP_STDIO,    /* its descriptors 0, 1 and 2 */
    PMM_OS_STEP_PASS,     /* the passed sockets (pass_fds) to 3, 4... */
    PMM_OS_STEP_PASS_TO,  /* pass_fd to pass_to (a readiness fd) */
    PMM_OS_STEP_CWD,      /* its working directory */
    PMM_OS_STEP_CGROUP,   /* its move into its cgroup (pmm__os_spawn) */
};
/* What a child whose start failed writes on errpipe: one write, under
 * PIPE_BUF, so that the reader gets all of it or nothing. */
struct pmm__os_child_err {
    int32_t step; /* enum pmm__os_child_step */
    int32_t err;  /* its errno */
};
/* The report of a child on errpipe's read end fd, which is closed: 0 and
 * *e zeroed when nothing came (it executed its program: errpipe is
 * close-on-exec), else -e->err (never 0: -EIO for a report without an
 * errno or cut short). */
int pmm__os_child_report(int fd, struct pmm__os_child_err *e);
/* The failed step in words: "cannot change to working directory" ... */
const char *pmm__os_child_step(int step);
__attribute__((noreturn)) void pmm__os_exec_child(const struct pmm__os_child *c);
/* Start a child that becomes c (pmm__os_exec_child) and run no fork
 * handler.  It runs in this process's memory, nothing copied, this thread
 * waiting until it has executed its program or exited; with
 * c->cgroup_into and c->side_by_side it is a copy of this process instead,
 * which goes on at once.  With c->cgroup_into it is made inside that
 * cgroup (clone3's CLONE_INTO_CGROUP: a move into a cgroup waits for an
 * RCU grace period, milliseconds on a loaded machine; where the kernel
 * has no clone3, or a seccomp profile refuses it (EPERM), it is a copy
 * that moves itself first, and so is every later child).  Its pid (a
 * start that failed, the exec or a step before it, is told on
 * c->errpipe), or -errno; -EINVAL unless c->default_signals. */
int pmm__os_spawn(const struct pmm__os_child *c);
/* Raise the soft limit on open descriptors to the hard one (a controller
 * of up to 256 actors holds a few for each); children started by
 * pmm__os_exec_child, and a process replaced by pmm__os_exec, get the limit
 * this process started with (a program may use select(), which stops at
 * 1024).  0 or -errno. */
int pmm__os_nofile_raise(void);
/* The soft limit on open descriptors now (RLIM_INFINITY as INT32_MAX). */
uint32_t pmm__os_nofile_now(void);
/* Replace this process by path (only returns, -errno, on failure); every
 * signal is unblocked first. */
int pmm__os_exec(const char *path, char *const argv[]);

/* Signals, as events: block sigs (n of them) and read them from the
 * descriptor returned (non-blocking); SIGPIPE is ignored. */
int pmm__os_signals(const int *sigs, int n);
/* The next signal read from fd, or 0 when none is pending. */
int pmm__os_signal_next(int fd);

/* The event loop: an epoll set of descriptors, each watched for input. */
int pmm__os_poller(void);
int pmm__os_poller_add(int ep, int fd);
int pmm__os_poller_del(int ep, int fd);
/* Up to max descriptors ready for input, into fds; waits for the first at
 * most timeout_ms (-1: no limit): 0 when none came. */
int pmm__os_poller_wait(int ep, int *fds, int max, int timeout_ms);

/* Sockets (AF_UNIX).  A SOCK_SEQPACKET socket listening at path, owner-
 * only, non-blocking; a stale socket file there is replaced. */
int pmm__os_listen(const char *path, int backlog);
int pmm__os_accept(int fd); /* non-blocking; -EAGAIN when none waits */
/* A datagram socket bound at path (replaced if there), owner-only,
 * non-blocking, that receives its senders' credentials (sd_notify's
 * NOTIFY_SOCKET). */
int pmm__os_dgram_bind(const char *path);
/* The next datagram of such a socket into buf (cap - 1 bytes at most,
 * NUL-terminated), *pid its sender: its length, -EAGAIN when none. */
int pmm__os_recv_from_pid(int fd, char *buf, size_t cap, pid_t *pid);
/* The credentials of the peer of a connected socket. */
int pmm__os_peer(int fd, uid_t *uid, pid_t *pid);
/* A SOCK_STREAM socket listening on spec, "tcp:HOST:PORT" (HOST may be
 * a name or an address, [brackets] around IPv6) or "unix:PATH" (a stale
 * socket file there, one where nobody listens, is replaced); blocking,
 * close-on-exec, SO_REUSEADDR.  -EADDRINUSE when something listens there
 * already (a unix path as a TCP port), -ELOOP when PATH is a symbolic
 * link, -ENOTSOCK when PATH is another file (a directory...), -EINVAL for
 * a spec of another form or a HOST that does not resolve.  why (cap
 * bytes) gets words the code alone does not give (the host lookup's
 * reason, the file that is no socket), else "". */
int pmm__os_listen_spec(const char *spec, int backlog, char *why, size_t cap);
/* 1 when fd is a listening stream socket, else 0. */
int pmm__os_is_listening(int fd);
/* 1 when fd is a listening stream socket bound where spec says (the same
 * path; the same TCP address and port: never for port 0), else 0. */
int pmm__os_listens_on(int fd, const char *spec);
/* Remove the socket file that fd, a unix socket, is bound at, if a socket
 * file is still there (nothing for TCP or an abstract name). */
int pmm__os_unlink_socket_of(int fd);
/* One datagram to the socket at addr ('@': the abstract namespace). */
int pmm__os_send_to(const char *addr, const void *msg, size_t len);
/* A SOCK_SEQPACKET connection to the socket at path, whose sends and
 * receives give up after timeout_s seconds (-EAGAIN). */
int pmm__os_connect(const char *path, int timeout_s);
/* sendmsg() that raises no SIGPIPE, recvmsg() whose received descriptors
 * are close-on-exec: the bytes sent or received. */
struct msghdr;
int pmm__os_sendmsg(int fd, const struct msghdr *m);
int pmm__os_recvmsg(int fd, struct msghdr *m);
/* Make fd's send buffer hold one message of len bytes whole (a unix
 * SOCK_SEQPACKET message must fit it: EMSGSIZE otherwise), as far as
 * net.core.wmem_max lets an unprivileged process: 0 or -errno. */
int pmm__os_sndbuf_for(int fd, size_t len);

#endif
