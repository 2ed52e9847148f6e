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

#include "hrd.h"
#include "os.h"
#include "pmm/alloc.h"
#include "pmm/free.h"
#include "pmm/layout.h"
#include "pmm/site.h"
#include "proto.h"

__attribute__((noreturn, format(printf, 2, 3))) static void die(int code,
                                                                const char *fmt,
                                                                ...)
{
    va_list ap;
    fputs("hrd: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

/* The registry comes from a file: every field used as an index, a size or
 * a string is checked, and an entry that fails is dropped with a message,
 * never followed. */
static void check_registry(struct hrd *d)
{
    struct registry *g = d->reg;
    g->failure[sizeof g->failure - 1] = 0;
    for (int i = 0; i < HRD_MAX_GROUPS; i++) {
        struct reg_group *G = &g->groups[i];
        if (G->used && (G->used != 1 || G->state > G_RESTARTING)) {
            hrd_log(d, "registry: group %d damaged, dropped", i);
            memset(G, 0, sizeof *G);
            d->dropped++;
        }
    }
    for (int i = 0; i < HRD_MAX_ACTORS; i++) {
        struct reg_actor *a = &g->actors[i];
        if (!a->used)
            continue;
        if (a->used != 1 || a->group < 0 || a->group >= HRD_MAX_GROUPS ||
            !g->groups[a->group].used || a->state > A_DYING || a->pid < 0 ||
            !a->name[0] || !memchr(a->name, 0, sizeof a->name) ||
            a->image_size == 0 || a->image_size > PMM_MAX_BANK_SIZE ||
            a->args_len < 8 || a->args_len > HR_MSG_MAX) {
            hrd_log(d, "registry: actor slot %d damaged, dropped", i);
            memset(a, 0, sizeof *a);
            d->dropped++;
        }
    }
}

static void open_registry(struct hrd *d)
{
    pmm_block info;
    int r = pmm__alloc_sys(d->bank, HRD_REG_NAME, sizeof(struct registry),
                           HRD_SYS_KEY, sizeof HRD_SYS_KEY, 0, -1,
                           (void **)&d->reg, &info);
    if (r < 0)
        die(1, "registry: %s", pmm_strerror(r));
    if (info.flags & PMM_B_NEW) {
        d->reg->version = 1;
        __atomic_store_n(&d->reg->magic, HRD_REG_MAGIC, __ATOMIC_RELEASE);
    }
    if (d->reg->magic != HRD_REG_MAGIC || d->reg->version != 1)
        die(1, "registry: not a registry of this version (hr site cold wipes it)");
    check_registry(d);
    d->reg->generation++;
}

/* End a process left by a previous controller, if it is still the same
 * process: a pidfd pins it, then its start time proves it is ours. */
static void end_leftover(struct hrd *d, struct reg_actor *a)
{
    int pfd = (int)syscall(SYS_pidfd_open, a->pid, 0);
    if (pfd < 0)
        return; /* gone */
    if (a->start_ticks && hrd_start_ticks(a->pid) == a->start_ticks) {
        syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            hrd_log(d, "actor %s (pid %d) of the previous controller did not "
                       "die", a->name, a->pid);
        else
            hrd_log(d, "ended actor %s (pid %d) of the previous controller",
                    a->name, a->pid);
    }
    close(pfd);
}

/* What no registry entry accounts for: image and argument blocks of free
 * actor slots, and HR_GROUP_KEY blocks of groups that do not exist (left by
 * damaged entries that check_registry() dropped).  Gathered first, freed
 * after: the bank is not changed under pmm_iter().  It walks every block
 * (150 ms for a million), so it runs only when an entry was dropped. */
struct orphans {
    struct hrd *d;
    char (*names)[PMM_NAME_MAX];
    size_t n, cap;
    int groups[64];
    size_t ngroups;
};

static int slot_of(const char *name, const char *kind)
{
    char want[PMM_NAME_MAX];
    int slot, end = 0;
    snprintf(want, sizeof want, "__SYS.hr.%s.%%d%%n", kind);
    if (sscanf(name, want, &slot, &end) != 1 || name[end] || slot < 0)
        return -1;
    return slot;
}

static int find_orphan(const pmm_block *blk, void *arg)
{
    struct orphans *o = arg;
    struct registry *reg = o->d->reg;
    if (blk->flags & PMM_B_SYSTEM) {
        int slot = slot_of(blk->name, "image");
        if (slot < 0)
            slot = slot_of(blk->name, "args");
        if (slot < 0 || (slot < HRD_MAX_ACTORS && reg->actors[slot].used))
            return 0;
        if (o->n == o->cap) {
            size_t cap = o->cap ? o->cap * 2 : 16;
            void *more = realloc(o->names, cap * sizeof *o->names);
            if (!more)
                return 1;
            o->names = more;
            o->cap = cap;
        }
        snprintf(o->names[o->n++], PMM_NAME_MAX, "%s", blk->name);
    } else if (blk->group >= 0 &&
               (blk->group >= HRD_MAX_GROUPS || !reg->groups[blk->group].used)) {
        size_t i = 0;
        while (i < o->ngroups && o->groups[i] != blk->group)
            i++;
        if (i == o->ngroups && o->ngroups < 64)
            o->groups[o->ngroups++] = blk->group;
    }
    return 0;
}

static void free_orphans(struct hrd *d)
{
    struct orphans o = {.d = d};
    size_t freed = 0;
    pmm_iter(d->bank, find_orphan, &o);
    for (size_t i = 0; i < o.n; i++)
        freed += pmm__free_sys(d->bank, o.names[i]) == 0;
    for (size_t i = 0; i < o.ngroups; i++) {
        size_t n = 0;
        pmm__free_group(d->bank, o.groups[i], &n);
        freed += n;
    }
    if (freed)
        hrd_log(d, "freed %zu block%s that no registry entry accounts for",
                freed, freed == 1 ? "" : "s");
    free(o.names);
}

static void notify_ready(int ready_fd);

/* The end of start-up, once the start-up file is done: start again every
 * group that was there before it, and say the controller is ready. */
static void boot_finish(struct hrd *d)
{
    d->reg->booted = 1;
    int groups = 0;
    for (int g = 0; g < HRD_MAX_GROUPS; g++) {
        if (!d->had_group[g] || !d->reg->groups[g].used)
            continue;
        groups++;
        d->reg->groups[g].state = G_RUNNING;
        for (int i = 0; i < HRD_MAX_ACTORS; i++) {
            struct reg_actor *a = &d->reg->actors[i];
            /* skips one that a request started during start-up */
            if (a->used && a->group == g && a->direct && a->pid <= 0) {
                int r = hrd_start_actor(d, i);
                if (r < 0)
                    hrd_log(d, "group %d: cannot start %s: %s", g, a->name,
                            pmm_strerror(r));
            }
        }
    }
    if (groups)
        hrd_log(d, "controller generation %u: %d group%s started again",
                d->reg->generation, groups, groups == 1 ? "" : "s");
    notify_ready(d->ready_fd);
    d->ready_fd = -1;
}

/* Start-up: end what a previous controller left, run the start-up file
 * (its arun lines on the site's first start only), then boot_finish(),
 * at once or when the loop sees the file's last command end. */
static void boot(struct hrd *d)
{
    uint8_t *had = d->had_group;
    int crashed = d->reg->controller_pid != 0 && !d->restarted;
    for (int i = 0; i < HRD_MAX_ACTORS; i++) {
        struct reg_actor *a = &d->reg->actors[i];
        if (!a->used)
            continue;
        if (a->pid > 0)
            end_leftover(d, a);
        a->pid = 0;
        a->state = A_STOPPED;
        a->clean_mark = 0;
    }
    d->reg->controller_pid = (uint64_t)getpid();
    if (crashed) {
        d->reg->site_restarts++;
        hrd_log(d, "the previous controller died: site restart");
    }
    if (d->reg->failed && !d->restarted) {
        hrd_log(d, "started again after failing (%s)", d->reg->failure);
        d->reg->failed = 0;
        d->reg->badness_milli = 0;
    }
    for (int g = 0; g < HRD_MAX_GROUPS; g++) {
        int members = 0;
        for (int i = 0; i < HRD_MAX_ACTORS; i++)
            members += d->reg->actors[i].used && d->reg->actors[i].group == g;
        if (d->reg->groups[g].used && d->reg->groups[g].state == G_ENDING)
            hrd_end_group(d, g, "ended (its end was cut short)");
        else if (d->reg->groups[g].used && !members)
            hrd_end_group(d, g, "ended: no member left in the registry");
        had[g] = d->reg->groups[g].used != 0;
    }
    if (d->dropped) /* a walk over every block: only after a repair */
        free_orphans(d);
    if (!hrd_startup_begin(d, !d->reg->booted))
        boot_finish(d);
}

static void read_policy(struct hrd *d)
{
    struct pmm_hr_tunables t;
    const char *bad;
    pmm__hr_tunables(d->site, &t, &bad);
    if (bad)
        hrd_log(d, "site.conf: %s is out of range: the default is used", bad);
    d->max_badness = t.max_badness;
    d->interval_s = t.interval_s;
    d->max_actors = t.max_actors;
    d->max_groups = (int)t.max_groups;
}

static int listen_on(const char *site)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (snprintf(a.sun_path, sizeof a.sun_path, "%s/" HR_SOCK_NAME, site) >=
        (int)sizeof a.sun_path)
        die(1, "socket path too long: %s/%s", site, HR_SOCK_NAME);
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        die(1, "socket: %s", strerror(errno));
    unlink(a.sun_path); /* we hold the controller lock: it is stale */
    mode_t old = umask(077);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0)
        die(1, "bind %s: %s", a.sun_path, strerror(errno));
    umask(old);
    chmod(a.sun_path, 0600);
    if (listen(s, 64) < 0)
        die(1, "listen: %s", strerror(errno));
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
        die(1, "site path: %s", pmm_strerror(r));
    if ((r = pmm_bank_open(&d->bank, d->site, "RAM", PMM_OPEN_CREATE)) < 0)
        die(1, "site %s: RAM bank: %s", d->site, pmm_strerror(r));
    snprintf(path, sizeof path, "%s/controller.lock", d->site);
    d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d->lock_fd < 0 || pmm__os_trylock(d->lock_fd, 1) < 0)
        die(1, "site %s: a controller already runs", d->site);
    snprintf(path, sizeof path, "%s/console.log", d->site);
    d->console_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (d->console_fd < 0)
        die(1, "%s: %s", path, strerror(errno));
    for (int i = 0; i < HRD_MAX_ACTORS; i++)
        d->image_fd[i] = -1;
    read_policy(d);
    open_registry(d);
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

static void loop(struct hrd *d)
{
    struct epoll_event ev = {.events = EPOLLIN};
    d->ep_fd = epoll_create1(EPOLL_CLOEXEC);
    ev.data.fd = d->listen_fd;
    epoll_ctl(d->ep_fd, EPOLL_CTL_ADD, d->listen_fd, &ev);
    ev.data.fd = d->sig_fd;
    epoll_ctl(d->ep_fd, EPOLL_CTL_ADD, d->sig_fd, &ev);
    int conns = 0;
    while (!d->stopping) {
        struct epoll_event got[16];
        int n = epoll_wait(d->ep_fd, got, 16, -1);
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
                epoll_ctl(d->ep_fd, EPOLL_CTL_DEL, fd, NULL);
                conns--;
                hrd_serve(d, fd);
                reap(d);
            }
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
            die(2, "unknown argument '%s' (see hrd --help)", argv[i]);
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
    ssize_t sl = readlink("/proc/self/exe", d.self, sizeof d.self - 1);
    if (sl <= 0)
        die(1, "cannot find its own program: %s", strerror(errno));
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
            d.reg->generation);
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
    d.reg->controller_pid = 0;
    hrd_log(&d, "controller stopped; persistent memory kept");
    return 0;
}
