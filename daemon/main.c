/*
 * main.c - hrd, the Hot Restart Controller of one site.
 *
 *   hrd [--site DIR] [--ready-fd N]
 *
 * Runs in the foreground (a service manager or `hr site start` puts it in
 * the background).  It is ready once its socket accepts requests: then it
 * writes a newline to fd N if --ready-fd was given (s6 style) and sends
 * READY=1 to $NOTIFY_SOCKET if set (systemd Type=notify).
 * Exit codes: 0 stopped on request or by SIGTERM/SIGINT; 1 could not start
 * (the reason is printed); 2 bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "group.h"
#include "hrd.h"
#include "log.h"
#include "os.h"
#include "policy.h"
#include "proto.h"
#include "adopt.h"
#include "requests.h"
#include "startup.h"

static void notify_ready(int ready_fd);

/* The end of start-up, once the start-up file is done: start again every
 * group that was there before it, and say the controller is ready. */
static void boot_finish(struct hrd *d)
{
    d->reg->site.booted = 1;
    int groups = 0;
    for (int g = 0; g < HR_REG_GROUPS; g++) {
        if (!d->had_group[g] || !d->reg->groups[g].used)
            continue;
        groups++;
        hrd_group_event(d, g, GE_BOOT, NULL);
    }
    if (groups)
        hrd_log(d, "controller generation %u: %d group%s started again",
                d->reg->site.generation, groups, groups == 1 ? "" : "s");
    notify_ready(d->ready_fd);
    d->ready_fd = -1;
}

/* Start-up: end what a previous controller left, run the start-up file
 * (its arun lines on the site's first start only), then boot_finish(),
 * at once or when the loop sees the file's last command end. */
static void boot(struct hrd *d)
{
    int crashed = d->reg->site.controller_pid != 0 && !d->restarted;
    hrd_actors_adopt(d);
    d->reg->site.controller_pid = (uint64_t)getpid();
    if (crashed) {
        d->reg->site.site_restarts++;
        hrd_log(d, "the previous controller died: site restart");
    }
    if (d->reg->site.failed && !d->restarted) {
        hrd_log(d, "started again after failing (%s)", d->reg->site.failure);
        d->reg->site.failed = 0;
        hrd_policy_forgive_site(d);
    }
    hrd_groups_adopt(d);
    for (int g = 0; g < HR_REG_GROUPS; g++)
        d->had_group[g] = d->reg->groups[g].used != 0;
    if (d->dropped) /* a walk over every block: only after a repair */
        hrd_registry_sweep(d);
    if (!hrd_startup_begin(d, !d->reg->site.booted))
        boot_finish(d);
}

static int listen_on(const char *site)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (snprintf(a.sun_path, sizeof a.sun_path, "%s/" HR_SOCK_NAME, site) >=
        (int)sizeof a.sun_path)
        hrd_die(1, "socket path too long: %s/%s", site, HR_SOCK_NAME);
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        hrd_die(1, "socket: %s", strerror(errno));
    unlink(a.sun_path); /* we hold the controller lock: it is stale */
    mode_t old = umask(077);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0)
        hrd_die(1, "bind %s: %s", a.sun_path, strerror(errno));
    umask(old);
    chmod(a.sun_path, 0600);
    if (listen(s, 64) < 0)
        hrd_die(1, "listen: %s", strerror(errno));
    return s;
}

static void notify_ready(int ready_fd)
{
    if (ready_fd >= 0) {
        if (write(ready_fd, "\n", 1) < 0)
            (void)0;
        close(ready_fd);
    }
    const char *ns = getenv("NOTIFY_SOCKET");
    if (ns && (ns[0] == '/' || ns[0] == '@')) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s", ns);
        if (ns[0] == '@')
            a.sun_path[0] = 0;
        int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s >= 0) {
            sendto(s, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&a,
                   sizeof a);
            close(s);
        }
    }
}

static void setup(struct hrd *d, const char *site_arg)
{
    char path[4200];
    int r = pmm_site_path(d->site, sizeof d->site, site_arg);
    if (r < 0)
        hrd_die(1, "site path: %s", pmm_strerror(r));
    if ((r = pmm_bank_open(&d->bank, d->site, "RAM", PMM_OPEN_CREATE)) < 0)
        hrd_die(1, "site %s: RAM bank: %s", d->site, pmm_strerror(r));
    snprintf(path, sizeof path, "%s/controller.lock", d->site);
    d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d->lock_fd < 0 || pmm__os_trylock(d->lock_fd, 1) < 0)
        hrd_die(1, "site %s: a controller already runs", d->site);
    snprintf(path, sizeof path, "%s/console.log", d->site);
    d->console_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (d->console_fd < 0)
        hrd_die(1, "%s: %s", path, strerror(errno));
    for (int i = 0; i < HR_REG_ACTORS; i++)
        d->image_fd[i] = -1;
    hrd_policy_read(d);
    hrd_registry_open(d);
}

static void reap(struct hrd *d)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        int r = hrd_startup_child(d, pid, st);
        if (r == 0)
            boot_finish(d);
        else if (r < 0)
            hrd_child_exited(d, pid, st);
    }
}

/* Watch fd for input; the controller cannot run without its socket and
 * its signals, so failing to watch them stops it. */
static void watch(struct hrd *d, int fd, const char *what)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(d->ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
        hrd_die(1, "epoll: cannot watch the %s: %s", what, strerror(errno));
}

static void loop(struct hrd *d)
{
    d->ep_fd = epoll_create1(EPOLL_CLOEXEC);
    if (d->ep_fd < 0)
        hrd_die(1, "epoll: %s", strerror(errno));
    watch(d, d->listen_fd, "control socket");
    watch(d, d->sig_fd, "signals");
    int conns = 0;
    while (!d->stopping) {
        struct epoll_event got[16];
        int n = epoll_wait(d->ep_fd, got, 16, -1);
        if (n < 0 && errno != EINTR)
            hrd_die(1, "epoll: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            int fd = got[i].data.fd;
            if (fd == d->sig_fd) {
                struct signalfd_siginfo si;
                while (read(d->sig_fd, &si, sizeof si) == sizeof si)
                    if (si.ssi_signo != SIGCHLD)
                        d->stopping = 1;
                reap(d);
            } else if (fd == d->listen_fd) {
                int c;
                while ((c = accept4(d->listen_fd, NULL, NULL,
                                    SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
                    /* served when its request arrives; never waited for */
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    if (conns >= HRD_MAX_CONNS ||
                        epoll_ctl(d->ep_fd, EPOLL_CTL_ADD, c, &cev) < 0) {
                        close(c);
                        continue;
                    }
                    conns++;
                }
            } else {
                /* cannot fail: fd was added above and is still open */
                if (epoll_ctl(d->ep_fd, EPOLL_CTL_DEL, fd, NULL) < 0)
                    hrd_log(d, "epoll: %s", strerror(errno));
                conns--;
                hrd_serve(d, fd);
                reap(d);
            }
            hrd_answer_ended(d); /* kill-group requests whose group ended */
            if (d->restart_pending) {
                d->restart_pending = 0;
                hrd_site_restart(d, "asked for (hr site restart)");
            }
            if (d->exec_pending)
                return;
        }
    }
}

int main(int argc, char **argv)
{
    static struct hrd d;
    const char *site = NULL;
    int ready_fd = -1;
    d.ready_fd = -1;
    for (int i = 0; i < HRD_MAX_WAITING; i++)
        d.waiting[i].conn = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--site") == 0 && i + 1 < argc)
            site = argv[++i];
        else if (strcmp(argv[i], "--restarted") == 0)
            d.restarted = 1; /* exec'd by a site restart: not a crash */
        else if (strcmp(argv[i], "--ready-fd") == 0 && i + 1 < argc)
            ready_fd = atoi(argv[++i]);
        else if (strcmp(argv[i], "--help") == 0) {
            puts("usage: hrd [--site DIR] [--ready-fd N]\n"
                 "The Hot Restart Controller of a site, in the foreground.\n"
                 "Runs DIR/sysadm.ini (serving requests meanwhile), starts again\n"
                 "the groups of an earlier run, then says it is ready: writes a\n"
                 "newline to fd N and READY=1 to $NOTIFY_SOCKET.\n"
                 "Stops on SIGTERM or 'hr site stop'.");
            return 0;
        } else
            hrd_die(2, "unknown argument '%s' (see hrd --help)", argv[i]);
    }
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    d.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (d.sig_fd < 0)
        hrd_die(1, "signalfd: %s", strerror(errno));
    ssize_t sl = readlink("/proc/self/exe", d.self, sizeof d.self - 1);
    if (sl <= 0)
        hrd_die(1, "cannot find its own program: %s", strerror(errno));
    d.self[sl] = 0;
    setup(&d, site);
    /* listen first: actors started by boot() may call us at once (their
     * requests wait in the backlog until the loop runs) */
    d.listen_fd = listen_on(d.site);
    if (ready_fd >= 0) { /* started in the background: errors go to the log */
        dup2(d.console_fd, 2);
        fcntl(ready_fd, F_SETFD, FD_CLOEXEC); /* not for the children */
    }
    d.ready_fd = ready_fd;
    hrd_log(&d, "controller started (pid %d, generation %u)", (int)getpid(),
            d.reg->site.generation);
    boot(&d); /* says ready once the start-up file is done */
    loop(&d);
    if (d.ini_pid > 0) { /* a start-up command still runs: it ends with us */
        hrd_log(&d, "sysadm.ini:%d: %s stopped", d.ini_line, d.ini_prog);
        kill(d.ini_pid, SIGTERM);
    }
    hrd_kill_all(&d);
    char path[4200];
    snprintf(path, sizeof path, "%s/" HR_SOCK_NAME, d.site);
    unlink(path);
    if (d.exec_pending) { /* the site restart: a fresh controller */
        hrd_log(&d, "starting a fresh controller");
        sigprocmask(SIG_UNBLOCK, &mask, NULL);
        execl(d.self, "hrd", "--site", d.site, "--restarted", (char *)NULL);
        hrd_log(&d, "site restart: cannot run %s: %s", d.self, strerror(errno));
    }
    d.reg->site.controller_pid = 0;
    hrd_log(&d, "controller stopped; persistent memory kept");
    return 0;
}
