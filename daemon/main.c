/* SPDX-License-Identifier: MIT */
/*
 * main.c - hrd, the Hot Restart Controller of one site.
 *
 *   hrd [--site DIR] [--config DIR] [--ready-fd N] | --help | --version
 *
 * Runs in the foreground (a service manager, a container runtime or `hr
 * site start` puts it in the background).  It is ready once its socket
 * accepts requests: then it writes a newline to fd N if --ready-fd was
 * given (s6 style) and sends READY=1 to $NOTIFY_SOCKET if set (systemd
 * Type=notify; its other messages: notify.c).  It may run as PID 1 of a
 * container: every process that ends in its care is reaped (reap()),
 * orphans included, and SIGTERM/SIGINT/SIGHUP stop the site gracefully.
 * Exit codes (how the site ended): 0 stopped on request or by a signal;
 * 1 could not start or go on (the reason is printed); 2 bad usage;
 * HRD_EXIT_FAILED (3) the site failed: its restart policy stopped it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hotrestart/version.h>

#include "adopt.h"
#include "config.h"
#include "conns.h"
#include "ending.h"
#include "actor.h"
#include "group.h"
#include "members.h"
#include "held.h"
#include "imgver.h"
#include "hrd.h"
#include "leftover.h"
#include "log.h"
#include "logpipe.h"
#include "notify.h"
#include "offline.h"
#include "os/os.h"
#include "os/ctl.h"
#include "pmm/site.h"
#include "policy.h"
#include "proto.h"
#include "ready.h"
#include "requests.h"
#include "setup.h"
#include "standby.h"
#include "startup.h"
#include "tree.h"
#include "upgrade.h"

/* The site failed: the restart policy stopped it (hrCtrl.maxBadness).  A
 * service manager is told not to start it again (RestartPreventExitStatus=
 * in the systemd unit). */
#define HRD_EXIT_FAILED 3
/* What this hrd is for: a controller, or a stopped site's maintenance
 * (offline.h): --end-group G (G >= 0), --end-leftovers. */
enum { HRD_RUN = -2 };

static void notify_ready(int ready_fd);
static int said_ready; /* boot_finish() has said READY=1 */

/* The end of start-up, once the start-up file is done: start again every
 * group that was there before it, and say the controller is ready. */
static void boot_finish(struct hrd *d)
{
    d->reg->site.booted = 1;
    d->reg->site.startup_line = 0;
    hrd_held_pool_end(d); /* what the start-up's actors did not ask for */
    int groups = 0;
    for (int g = 0; g < HR_REG_GROUPS && !d->ending && !d->stopping; g++) {
        if (!d->grp[g].had_group || !d->reg->groups[g].used)
            continue;
        groups++;
        hrd_group_event(d, g, GE_BOOT, NULL);
    }
    if (groups)
        hrd_log(d, HRD_INFO,
                "controller generation %u: %d group%s started again",
                d->reg->site.generation, groups, groups == 1 ? "" : "s");
    notify_ready(d->ready_fd);
    d->ready_fd = -1;
    said_ready = 1;
    hrd_notify_status(d);
}

/* Start-up: end what a previous controller left, run the start-up file
 * (its arun lines on the site's first start only), then boot_finish(),
 * at once or when the loop sees the file's last command end. */
static void boot(struct hrd *d)
{
    int crashed = d->reg->site.controller_pid != 0 && !d->restarted;
    hrd_actors_adopt(d);
    unsetenv("HRD_STARTER"); /* (read by the leftover scan: no actor's) */
    hrd_ver_recover(d); /* an upgrade cut short: committed, or not */
    d->reg->site.controller_pid = (uint64_t)pmm__os_pid();
    if (crashed) {
        d->reg->site.site_restarts++;
        hrd_log(d, HRD_WARNING, "the previous controller died: site restart");
    }
    if (d->reg->site.failed && !d->restarted) {
        hrd_log(d, HRD_NOTICE, "started again after failing (%s)",
                d->reg->site.failure);
        d->reg->site.failed = 0;
        hrd_policy_forgive_site(d);
    }
    hrd_groups_adopt(d);
    for (int g = 0; g < HR_REG_GROUPS; g++)
        d->grp[g].had_group = d->reg->groups[g].used != 0;
    if (d->dropped) /* a walk over every block: only after a repair */
        hrd_registry_sweep(d);
    if (!hrd_startup_begin(d, !d->reg->site.booted))
        boot_finish(d);
}

static int listen_on(struct hrd *d)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/" HR_SOCK_NAME, d->dir);
    /* we hold the controller lock: a socket file there is stale */
    int s = pmm__os_listen(path, 64);
    if (s < 0)
        hrd_die(1, "control socket %s/" HR_SOCK_NAME ": %s", d->site,
                pmm_strerror(s));
    return s;
}

static void notify_ready(int ready_fd)
{
    if (ready_fd >= 0) {
        pmm__os_write(ready_fd, "\n", 1);
        pmm__os_close(ready_fd);
    }
    hrd_notify("READY=1");
}

static void reap(struct hrd *d)
{
    int st;
    pid_t pid;
    while ((pid = pmm__os_reap(-1, &st, 1)) > 0) {
        int r = hrd_startup_child(d, pid, st);
        if (r == 0)
            boot_finish(d);
        else if (r < 0 && !hrd_upgrade_exited(d, pid, st))
            hrd_child_exited(d, pid, st);
    }
}

/* Watch fd for input; the controller cannot run without its socket and
 * its signals, so failing to watch them stops it. */
static void watch(struct hrd *d, int fd, const char *what)
{
    int r = pmm__os_poller_add(d->ep_fd, fd);
    if (r < 0)
        hrd_die(1, "epoll: cannot watch the %s: %s", what, pmm_strerror(r));
}

/* The sooner of two timeouts in ms (-1: none). */
static int sooner(int a, int b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* After each event the loop dispatched: the answers it allows, and a
 * site restart asked for (by a request, or by the restart policy from the
 * group table: delivered here, never inside the table's action) begun. */
static void after_event(struct hrd *d)
{
    hrd_answer_ended(d); /* kill-group requests whose group ended */
    if (said_ready && !d->ending) /* STATUS= changes, after READY=1's own
                                     (once the site ends, STOPPING=1's) */
        hrd_notify_status(d);
    hrd_answer_ready(d); /* arun --wait-ready requests */
    if (d->restart_pending && !d->stopping && !d->ending) { /* a stop wins */
        d->restart_pending = 0;
        if (d->cold_pending)
            hrd_end_begin(d, HRD_END_COLD, NULL, 1);
        else
            hrd_end_begin(d, HRD_END_RESTART,
                          d->restart_why[0] ? d->restart_why
                                            : "asked for (hr site restart)",
                          !d->restart_why[0]);
        d->restart_why[0] = 0;
    }
}

/* One input of the running site. */
static void input(struct hrd *d, int fd, int *accepting)
{
    if (fd == d->sig_fd) {
        hrd_signals_take(d);
        reap(d);
    } else if (fd == d->listen_fd) {
        *accepting = 1; /* after this batch, whose connections a newcomer
                           could take the place of */
    } else if (fd == d->notify_fd) {
        hrd_ready_notified(d);
    } else if (hrd_standby_pipe_event(d, fd)) {
        /* a standby's readiness fd: handled */
    } else if (hrd_ready_pipe_event(d, fd)) {
        /* an actor's readiness fd: handled */
    } else if (hrd_logpipe_event(d, fd)) {
        /* an actor's output: logged */
    } else if (hrd_ready_waiter_event(d, fd)) {
        /* an arun --wait-ready that gave up: its place freed */
    } else if (hrd_conn_take(d, fd)) {
        hrd_serve(d, fd);
        reap(d);
    }
}

/* One input while the site ends (ending.c): requests (those that would
 * start or change something refused: requests.c), the actors' last
 * output, signals (a stop wins over a restart).  The deaths are
 * hrd_end_step's to reap; readiness is no more read (what is left of it
 * is the next controller's), nor watched. */
static void ending_input(struct hrd *d, int fd, int *accepting)
{
    if (fd == d->sig_fd)
        hrd_signals_take(d);
    else if (fd == d->listen_fd)
        *accepting = 1;
    else if (hrd_logpipe_event(d, fd))
        ; /* an actor's output: logged */
    else if (hrd_ready_waiter_event(d, fd))
        ; /* an arun --wait-ready that gave up */
    else if (hrd_conn_take(d, fd))
        hrd_serve(d, fd);
    else
        pmm__os_poller_del(d->ep_fd, fd);
}

/* Until the site has ended: each turn moves the site's end on (ending.c),
 * or the upgrades, standbys and groups that are due, then waits for input
 * at most until the next of them is due. */
static void loop(struct hrd *d)
{
    hrd_conn_reserve(d);
    watch(d, d->listen_fd, "control socket");
    watch(d, d->sig_fd, "signals");
    if (d->notify_fd >= 0)
        watch(d, d->notify_fd, "notify socket");
    after_event(d); /* boot may have asked for a site restart */
    for (;;) {
        int got[16], accepting = 0, wait_ms;
        if (d->stopping && !d->ending)
            hrd_end_begin(d, HRD_END_STOP, NULL, 1);
        if (d->ending) { /* wakes for a death (SIGCHLD), the next stop
                            deadline, an idle connection's end */
            wait_ms = hrd_end_step(d);
            after_event(d); /* the deaths it took: answered */
            if (wait_ms < 0)
                return;
            wait_ms = sooner(hrd_conn_expire(d), wait_ms);
        } else {
            int upgrade_ms = hrd_upgrade_tick(d); /* upgrades moved on */
            int standby_ms = hrd_standby_tick(d); /* standbys missing: started */
            int backoff_ms = hrd_groups_tick(d); /* groups whose back-off is over */
            after_event(d);
            if (d->stopping || d->ending)
                continue;
            /* wakes for an idle connection's end, the next stop deadline,
             * the next standby due and the next group restart due */
            wait_ms = sooner(sooner(hrd_conn_expire(d), hrd_tree_deadlines(d)),
                             sooner(sooner(standby_ms, backoff_ms),
                                    upgrade_ms));
        }
        int n = pmm__os_poller_wait(d->ep_fd, got, 16, wait_ms);
        if (n < 0)
            hrd_die(1, "epoll: %s", pmm_strerror(n));
        for (int i = 0; i < n; i++) {
            if (d->ending)
                ending_input(d, got[i], &accepting);
            else
                input(d, got[i], &accepting);
            after_event(d);
        }
        if (accepting)
            hrd_conn_accept_all(d);
    }
}

static const char usage[] =
    "usage: hrd [--site DIR] [--config CONFDIR] [--ready-fd N]\n"
    "       hrd [--site DIR] --end-group G | --end-leftovers\n"
    "       hrd --help | --version | --tables\n"
    "The Hot Restart Controller of a site, in the foreground.\n"
    "Runs DIR/sysadm.ini (serving requests meanwhile), starts again\n"
    "the groups of an earlier run, then says it is ready: writes a\n"
    "newline to fd N and READY=1 to $NOTIFY_SOCKET (with STATUS= lines,\n"
    "and STOPPING=1 when it stops).\n"
    "DIR (default $HR_SITE) must exist ('hr site create' makes it); only\n"
    "the default site of the user is made when missing.\n"
    "--config CONFDIR (default $HR_CONFIG): site.conf and sysadm.ini are\n"
    "taken from CONFDIR at every start and copied into DIR, which is made\n"
    "from them (pmm.rambankSize, pmm.maxBlocks...) when it has no bank.\n"
    "Stops gracefully on SIGTERM, SIGINT, SIGHUP or 'hr site stop'; may run\n"
    "as PID 1 of a container (it reaps every process left to it).\n"
    "--end-group G: on a stopped or failed site, end group G for good (its\n"
    "images and HR_GROUP_KEY blocks freed, as hr akill -g does with a\n"
    "controller) and exit; no controller starts.  hr akill -g runs it.\n"
    "--end-leftovers: on a stopped site, end what a controller that died\n"
    "left running (its actors outlive it until a controller ends them),\n"
    "and exit; hr site stop runs it.  Both end those leftovers.\n"
    "--tables prints the group and actor state tables, a cell a line.\n"
    "exit codes: 0 stopped on request or by a signal (--end-group: ended),\n"
    "1 could not start or go on, 2 bad usage, 3 the site failed (its restart\n"
    "policy stopped it: hrCtrl.maxBadness), 4 --end-group: no such group\n";

/* G of --end-group: a group id. */
static int group_arg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || !hr__reg_group_id_ok(v) || (*s < '0' || *s > '9'))
        hrd_die(2, "--end-group: '%s' is not a group number (0 to %d)", s,
                HR_REG_GROUPS - 1);
    return (int)v;
}

/* fd of --ready-fd: a number, 0 or more. */
static int fd_arg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 1 << 20)
        hrd_die(2, "--ready-fd: '%s' is not a descriptor number", s);
    return (int)v;
}

/* Started with standard streams closed: /dev/null there first, so that no
 * file of ours (the RAM bank, the site's directory) takes 0-2, where a
 * write meant for a stream (a message, a library's) would land in it. */
static void streams_open(void)
{
    int fd;
    while ((fd = pmm__os_open_fd("/dev/null", O_RDWR, 0)) >= 0 && fd <= 2)
        ;
    if (fd > 2)
        pmm__os_close(fd);
}

int main(int argc, char **argv)
{
    static struct hrd d;
    streams_open();
    const char *site = NULL, *config = getenv("HR_CONFIG");
    int ready_fd = -1, end_group = HRD_RUN;
    d.ready_fd = -1;
    d.notify_fd = -1;
    d.cg_fd = -1; /* no cgroups until cgroup.c finds them */
    for (int i = 0; i < HRD_MAX_WAITING; i++)
        d.waiting[i].conn = d.ready_wait[i].conn = -1;
    for (int i = 0; i < HR_REG_ACTORS; i++)
        d.slot[i].ready_pipe = -1;
    hrd_standby_init(&d);
    hrd_upgrade_init(&d);
    for (int i = 1; i < argc; i++) {
        int valued = strcmp(argv[i], "--site") == 0 ||
                     strcmp(argv[i], "--config") == 0 ||
                     strcmp(argv[i], "--ready-fd") == 0 ||
                     strcmp(argv[i], "--end-group") == 0;
        if (valued && i + 1 >= argc)
            hrd_die(2, "%s needs a value (see hrd --help)", argv[i]);
        if (strcmp(argv[i], "--site") == 0)
            site = argv[++i];
        else if (strcmp(argv[i], "--config") == 0 && !*argv[i + 1])
            hrd_die(2, "--config needs a directory, not an empty name");
        else if (strcmp(argv[i], "--config") == 0)
            config = argv[++i];
        else if (strcmp(argv[i], "--restarted") == 0)
            d.restarted = 1; /* exec'd by a site restart: not a crash */
        else if (strcmp(argv[i], "--ready-fd") == 0)
            ready_fd = fd_arg(argv[++i]);
        else if ((strcmp(argv[i], "--end-group") == 0 ||
                  strcmp(argv[i], "--end-leftovers") == 0) && end_group != HRD_RUN)
            hrd_die(2, "--end-group G or --end-leftovers, once (see hrd --help)");
        else if (strcmp(argv[i], "--end-group") == 0)
            end_group = group_arg(argv[++i]);
        else if (strcmp(argv[i], "--end-leftovers") == 0)
            end_group = HRD_LEFTOVERS; /* nothing more than that */
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--tables") == 0) {
            hrd_group_table_print(stdout); /* every cell, for the test */
            hrd_actor_table_print(stdout);
            hrd_standby_table_print(stdout);
            hrd_upgrade_table_print(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            puts("hrd (hotrestart) " HR_VERSION_STRING);
            return 0;
        } else
            hrd_die(2, "unknown argument '%s' (see hrd --help)", argv[i]);
    }
    hrd_die_prefixed(ready_fd < 0); /* in the foreground: for a log reader */
    unsetenv(HRD_STARTUP_VAR); /* started by a start-up command: not one */
    if (config && *config)
        hrd_config_read(config);
    /* a few descriptors for each actor (its log pipe, readiness, held
     * sockets): the hard limit, not the 1024 a shell usually gives */
    int nr = pmm__os_nofile_raise();
    if (nr < 0)
        fprintf(stderr, "hrd: cannot raise the open files limit: %s\n",
                pmm_strerror(nr));
    hrd_check_named_site(site);
    /* what our starter left open (its pipes, its files) is not the actors':
     * they get their standard streams, held sockets and readiness fd only */
    int r = pmm__os_cloexec_from(3);
    if (r < 0)
        hrd_die(1, "cannot mark inherited descriptors close-on-exec: %s",
                pmm_strerror(r));
    /* not for the children; and checked: a closed one is refused now */
    if (ready_fd >= 0 && pmm__os_inherit(ready_fd, 0) < 0)
        hrd_die(2, "--ready-fd %d: not an open descriptor", ready_fd);
    static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP};
    d.sig_fd = pmm__os_signals(sigs, 4);
    if (d.sig_fd < 0)
        hrd_die(1, "signalfd: %s", pmm_strerror(d.sig_fd));
    r = pmm__os_self_exe(d.self, sizeof d.self);
    if (r < 0)
        hrd_die(1, "cannot find its own program: %s", pmm_strerror(r));
    d.maintenance = end_group != HRD_RUN;
    hrd_setup(&d, site);
    if (d.maintenance)
        return hrd_offline(&d, end_group);
    hrd_held_adopt(&d);
    /* listen first: actors started by boot() may call us at once (their
     * requests wait in the backlog until the loop runs) */
    d.listen_fd = listen_on(&d);
    if (ready_fd >= 0) { /* started in the background: errors go to the log */
        pmm__os_dup2(d.console_fd, 2);
    }
    /* in the foreground (not started by hr site start, nor exec'd by a
     * site restart of such a one), the log goes to stderr too */
    d.log_stderr = hrd_log_foreground(&d);
    d.ready_fd = ready_fd;
    /* before boot(): the actors it starts are watched for readiness */
    d.ep_fd = pmm__os_poller();
    if (d.ep_fd < 0)
        hrd_die(1, "epoll: %s", pmm_strerror(d.ep_fd));
    d.notify_fd = hrd_ready_open(&d);
    hrd_log(&d, HRD_NOTICE, "controller started (pid %d, generation %u)",
            pmm__os_pid(), d.reg->site.generation);
    hrd_check_disk(&d);
    hrd_notify("STATUS=starting: site %s, generation %u", d.site,
               d.reg->site.generation);
    boot(&d); /* says ready once the start-up file is done */
    loop(&d); /* until the site has ended: every actor is gone */
    if (d.exec_pending)
        hrd_notify("STATUS=site restart: a fresh controller comes");
    else if (d.reg->site.failed)
        hrd_notify("STOPPING=1\nSTATUS=site failed, stopping: %s",
                   d.reg->site.failure);
    else if (d.ending != HRD_END_STOP) /* (a stop's own said it at once) */
        hrd_notify("STOPPING=1\nSTATUS=stopping: every actor is stopped");
    char path[4200];
    snprintf(path, sizeof path, "%s/notify.sock", d.dir);
    pmm__os_unlink(path);
    snprintf(path, sizeof path, "%s/" HR_SOCK_NAME, d.dir);
    pmm__os_unlink(path);
    if (d.exec_pending && d.cold_pending) /* every actor gone: a new bank */
        hrd_cold_bank(&d);
    if (d.exec_pending) { /* the site restart: a fresh controller */
        /* not ready yet (a site restart inside the start-up file): the
         * fresh controller says it, to whoever waits (hr site start) */
        char fdarg[16], *argv_new[9] = {"hrd", "--site", d.site, "--restarted"};
        int k = 4;
        if (d.ready_fd >= 0 && pmm__os_inherit(d.ready_fd, 1) == 0) {
            snprintf(fdarg, sizeof fdarg, "%d", d.ready_fd);
            argv_new[k++] = "--ready-fd";
            argv_new[k++] = fdarg;
        }
        if (hrd_config_dir()) {
            argv_new[k++] = "--config";
            argv_new[k++] = (char *)hrd_config_dir();
        }
        argv_new[k] = NULL;
        hrd_hand_over(&d); /* the lock and the sockets pass to the fresh one */
        hrd_log(&d, HRD_NOTICE, "starting a fresh controller");
        r = pmm__os_exec(d.self, argv_new);
        hrd_log(&d, HRD_ERR, "site restart: cannot run %s: %s", d.self,
                pmm_strerror(r));
    }
    d.reg->site.controller_pid = 0;
    hrd_log(&d, HRD_NOTICE, "controller stopped; persistent memory kept");
    return d.reg->site.failed ? HRD_EXIT_FAILED : 0;
}
