/* SPDX-License-Identifier: MIT */
/*
 * test_standby.c - standby instances (issue 15): a controller in a
 * throwaway site, the actor of standby_actor.c, real signals.
 *
 * Promotion is seen as the actor's pid becoming its standby's (no fresh
 * exec), the run counter in its block going on, and the HR_RESTARTS it
 * reads after the promotion matching its group's restart count.  No
 * assertion on timing: every wait is for an event.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "ctl_helpers.h"
#include "test_hrcached_util.h"

static char out[65536];
static const char *site;

static void up(void) { site = site_new(0, 0); }

TestSuite(standby, .init = up, .fini = site_stop_drop, .timeout = 120);

static void start_site(void) { site_start(out, sizeof out); }

/* hr arun -g 1 [--standby] --name NAME standby_actor MODE [INIT_MS] */
static void arun_init(const char *name, int standby, const char *mode,
                      const char *init_ms)
{
    int r = standby ? run_hr(out, sizeof out, "arun", "-g", "1", "--standby",
                             "--name", name, STANDBY_BIN, mode, init_ms, NULL)
                    : run_hr(out, sizeof out, "arun", "-g", "1", "--name", name,
                             STANDBY_BIN, mode, init_ms, NULL);
    cr_assert_eq(r, 0, "arun %s: %s", name, out);
}

static void arun(const char *name, int standby, const char *mode)
{
    arun_init(name, standby, mode, "0");
}

/* The group's restart count in the last ps (group 1). */
static int restarts(void)
{
    const char *p = strstr(ps, "{\"id\": 1, ");
    p = p ? strstr(p, "\"restarts\": ") : NULL;
    return p ? atoi(p + 12) : -1;
}

/* What the live instance of NAME wrote: its pid, HR_RESTARTS, LISTEN_FDS,
 * LISTEN_PID its own, its run; 0 when it has not written yet. */
struct live {
    int pid, restarts, listen_fds, listen_pid_ok, runs;
};
static int live_of(const char *name, struct live *l)
{
    char file[128], buf[256];
    snprintf(file, sizeof file, "live.%s", name);
    if (!site_file(file, buf, sizeof buf))
        return 0;
    return sscanf(buf, "%d %d %d %d %d", &l->pid, &l->restarts, &l->listen_fds,
                  &l->listen_pid_ok, &l->runs) == 5;
}

/* Wait for NAME's standby to wait: its pid. */
static int waiting_standby(const char *name, int not_pid)
{
    int sb = 0;
    WAIT_FOR((sb = standby_of(name, "waiting")) > 0 && sb != not_pid,
             "a waiting standby");
    return sb;
}

/* gone, or a zombie nobody has reaped yet */
static int gone(int pid) { return !proc_runs(pid); }

/* Fail the live instance of "sa" with how; its standby must take over. */
static void promoted_after(const char *how)
{
    struct live l;
    start_site();
    arun("sa", 1, "wait");
    int sb = waiting_standby("sa", 0);
    refresh();
    int live = pid_of("sa");
    cr_assert(live > 0 && live != sb);
    WAIT_FOR(live_of("sa", &l) && l.pid == live, "the first run");
    cr_assert_eq(l.runs, 1);
    if (strcmp(how, "akill") == 0) {
        char pid[16];
        snprintf(pid, sizeof pid, "%d", live);
        cr_assert_eq(run_hr(out, sizeof out, "akill", pid, NULL), 0, "%s", out);
    } else {
        int sig = strcmp(how, "segv") == 0 ? SIGUSR1
                : strcmp(how, "exit") == 0 ? SIGUSR2 : SIGKILL;
        cr_assert_eq(kill(live, sig), 0);
    }
    WAIT_FOR(pid_of("sa") == sb, "the standby promoted");
    WAIT_FOR(live_of("sa", &l) && l.pid == sb, "the promoted run");
    cr_assert_eq(l.runs, 2, "its state went on: run %d", l.runs);
    cr_assert_eq(l.restarts, 1, "HR_RESTARTS after promotion: %d", l.restarts);
    cr_assert_eq(restarts(), 1, "%s", ps);
    char line[128];
    snprintf(line, sizeof line, "standby pid %d promoted", sb);
    cr_assert(strstr(console(), line), "%s", console());
    /* and a new standby for the next failure, which it takes too */
    int sb2 = waiting_standby("sa", sb);
    cr_assert_eq(kill(sb, SIGKILL), 0);
    WAIT_FOR(pid_of("sa") == sb2, "the second standby promoted");
    WAIT_FOR(live_of("sa", &l) && l.pid == sb2, "the third run");
    cr_assert_eq(l.runs, 3);
    cr_assert_eq(l.restarts, 2);
}

Test(standby, promoted_on_sigkill) { promoted_after("kill"); }
Test(standby, promoted_on_sigsegv) { promoted_after("segv"); }
Test(standby, promoted_on_bad_exit) { promoted_after("exit"); }
Test(standby, promoted_on_akill) { promoted_after("akill"); }

Test(standby, refused_before_promotion)
{
    char buf[256];
    int codes[5];
    start_site();
    arun("sa", 1, "wait");
    waiting_standby("sa", 0);
    refresh();
    cr_assert_not_null(site_file("probe.sa", buf, sizeof buf));
    cr_assert_eq(sscanf(buf, "%d %d %d %d %d", &codes[0], &codes[1], &codes[2],
                        &codes[3], &codes[4]), 5, "%s", buf);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(codes[i], K_ESTANDBY, "call %d: %d (%s)", i, codes[i],
                     pmm_strerror(codes[i]));
    cr_assert(strstr(pmm_strerror(K_ESTANDBY), "standby"));
    /* and the group's end ends its standby */
    int sb = standby_of("sa", "waiting");
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "1", NULL), 0, "%s", out);
    POLL_UNTIL(gone(sb), "the standby to end with its group");
}

/* "sa" with a standby and a held socket, its live instance killed: the
 * standby promoted, what it wrote in *l, its pid. */
static int promoted_with_a_held_socket(struct live *l)
{
    char spec[512];
    snprintf(spec, sizeof spec, "unix:%s/sa.sock", site);
    start_site();
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--standby",
                        "--listen", spec, "--name", "sa", STANDBY_BIN, NULL),
                 0, "%s", out);
    int sb = waiting_standby("sa", 0);
    refresh();
    cr_assert_eq(kill(pid_of("sa"), SIGKILL), 0);
    WAIT_FOR(live_of("sa", l) && l->pid == sb, "the promoted run");
    return sb;
}

Test(standby, held_sockets_at_promotion)
{
    struct live l;
    promoted_with_a_held_socket(&l);
    cr_assert_eq(l.listen_fds, 1);
    cr_assert_eq(l.listen_pid_ok, 1, "LISTEN_PID is the promoted pid");
}

/* The readiness of the actor "sa" in the last ps, or NULL. */
static const char *readiness_of(char *buf, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"name\": \"sa\", ");
    const char *p = strstr(ps, pat);
    p = p ? strstr(p, "\"readiness\": ") : NULL;
    if (!p)
        return NULL;
    snprintf(buf, cap, "%.7s", p + 13);
    return buf;
}

/* An actor that says it is ready (how: --notify or --ready-fd 5, and its
 * mode): its standby starts once it is ready, and the promoted one is
 * starting until it says it, as a fresh start is. */
static void ready_after_promotion(const char *how, const char *mode)
{
    char rd[16];
    struct live l;
    start_site();
    int r = strcmp(how, "--notify") == 0
                ? run_hr(out, sizeof out, "arun", "-g", "1", "--standby",
                         "--notify", "--wait-ready", "--name", "sa",
                         STANDBY_BIN, mode, NULL)
                : run_hr(out, sizeof out, "arun", "-g", "1", "--standby",
                         "--ready-fd", "5", "--wait-ready", "--name", "sa",
                         STANDBY_BIN, mode, NULL);
    cr_assert_eq(r, 0, "%s", out);
    int sb = waiting_standby("sa", 0);
    cr_assert_str_eq(readiness_of(rd, sizeof rd), "\"ready\"", "%s", ps);
    cr_assert_eq(kill(pid_of("sa"), SIGKILL), 0);
    WAIT_FOR(live_of("sa", &l) && l.pid == sb, "the promoted run");
    WAIT_FOR(pid_of("sa") == sb && readiness_of(rd, sizeof rd) &&
             strcmp(rd, "\"ready\"") == 0, "the promoted one ready");
    const char *last = strstr(ps, "\"restart_ms\": {\"last\": ");
    cr_assert(last && strncmp(last + 23, "null", 4) != 0,
              "the restart was timed to ready: %s", ps);
}

Test(standby, readiness_by_notify) { ready_after_promotion("--notify", "notify"); }
Test(standby, readiness_by_fd) { ready_after_promotion("--ready-fd", "fd"); }

/* A failure while the standby still initialises: it is promoted all the
 * same, and its wait returns at once when it comes. */
Test(standby, promoted_before_it_waits)
{
    struct live l;
    start_site();
    arun_init("sa", 1, "wait", "4000"); /* long enough to be killed meanwhile */
    WAIT_FOR(standby_of("sa", "starting") > 0, "a standby starting");
    int sb = standby_of("sa", "starting");
    int live = pid_of("sa");
    WAIT_FOR(live_of("sa", &l) && l.pid == live, "the first run");
    cr_assert_eq(kill(live, SIGKILL), 0);
    WAIT_FOR(pid_of("sa") == sb, "the starting standby promoted");
    WAIT_FOR(live_of("sa", &l) && l.pid == sb, "its run, after its wait");
    cr_assert_eq(l.restarts, 1);
    cr_assert_eq(l.runs, 2);
    cr_assert(strstr(console(), "had not called hr_standby_wait yet"), "%s",
              console());
}

Test(standby, dies_while_waiting_is_replaced)
{
    start_site();
    arun("sa", 1, "wait");
    int sb = waiting_standby("sa", 0);
    refresh();
    int live = pid_of("sa");
    cr_assert_eq(kill(sb, SIGKILL), 0);
    int sb2 = waiting_standby("sa", sb);
    cr_assert_neq(sb2, sb);
    cr_assert_eq(pid_of("sa"), live, "the live instance is left alone");
    cr_assert_eq(restarts(), 0, "no group restart: %s", ps);
    cr_assert(strstr(console(), "while waiting: started again"), "%s", console());
}

/* Issue 21 item 8: a standby killed while it initialises is not a program
 * that never waits: it is started again (twice here), and one that lives
 * through its initialisation waits. */
Test(standby, killed_while_initialising_is_started_again)
{
    start_site();
    arun_init("sa", 1, "wait", "3000"); /* long enough to be killed meanwhile */
    int killed = 0;
    for (int i = 0; i < 2; i++) {
        int sb = 0;
        WAIT_FOR((sb = standby_of("sa", "starting")) > 0 && sb != killed,
                 "a standby starting");
        cr_assert_eq(kill(sb, SIGKILL), 0);
        killed = sb;
        /* fails fast: the old controller gave it up at once */
        WAIT_FOR(strstr(ps, "\"standby_off\": true") ||
                 ((sb = standby_of("sa", NULL)) > 0 && sb != killed),
                 "a new standby, or the standby given up");
        cr_assert_null(strstr(ps, "\"standby_off\": true"),
                       "a killed standby was taken for one that never "
                       "waits:\n%s", console());
    }
    waiting_standby("sa", killed);
    cr_assert(strstr(console(), "while it initialised: started again"), "%s",
              console());
    cr_assert_eq(restarts(), 0, "no group restart: %s", ps);
}

/* A program not made for a standby (mode): its standby is given up, and
 * the log says why (said). */
static void given_up(const char *mode, const char *said)
{
    start_site();
    arun("sa", 1, mode);
    WAIT_FOR(strstr(ps, "\"standby_off\": true"), "the standby given up");
    cr_assert(strstr(console(), said), "%s", console());
    cr_assert_eq(standby_of("sa", NULL), 0, "no standby any more: %s", ps);
}

Test(standby, never_waits_runs_without)
{
    given_up("nowait", "before it called hr_standby_wait()");
    int live = pid_of("sa");
    cr_assert_eq(kill(live, SIGKILL), 0);
    WAIT_FOR(pid_of("sa") > 0 && pid_of("sa") != live && restarts() == 1,
             "a plain restart");
    cr_assert_eq(standby_of("sa", NULL), 0, "no standby any more: %s", ps);
}

Test(standby, said_ready_without_waiting)
{
    given_up("ready", "said READY=1 without waiting");
}

/* The same said on its readiness fd (hr arun --ready-fd 5). */
Test(standby, wrote_its_ready_fd_without_waiting)
{
    start_site();
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--standby",
                        "--ready-fd", "5", "--name", "sa", STANDBY_BIN,
                        "readyfd", NULL), 0, "%s", out);
    WAIT_FOR(strstr(ps, "\"standby_off\": true"), "the standby given up");
    cr_assert(strstr(console(), "wrote its readiness fd without waiting"), "%s",
              console());
    cr_assert_eq(standby_of("sa", NULL), 0, "no standby any more: %s", ps);
    WAIT_FOR(strstr(ps, "\"readiness\": \"ready\""), "the live one ready");
}

/* A group of two, one with a standby: a failure of either restarts both,
 * the standby promoted, the other executed again; both in the same run. */
Test(standby, group_of_two)
{
    struct live la, lb;
    start_site();
    arun("sa", 1, "wait");
    arun("sb", 0, "wait");
    int s1 = waiting_standby("sa", 0);
    /* both first runs counted before the kill: a live instance killed by
     * the group's restart before it counts its run does not count it */
    WAIT_FOR(live_of("sa", &la), "sa's first run");
    WAIT_FOR(live_of("sb", &lb), "sb's first run");
    int b0 = lb.pid;
    cr_assert_eq(kill(b0, SIGKILL), 0);
    WAIT_FOR(pid_of("sa") == s1 && pid_of("sb") > 0 && pid_of("sb") != b0,
             "both restarted");
    WAIT_FOR(live_of("sa", &la) && la.pid == s1 && live_of("sb", &lb) &&
             lb.pid != b0, "both runs");
    cr_assert_eq(la.restarts, 1);
    cr_assert_eq(lb.restarts, 1);
    cr_assert_eq(la.runs, 2);
    cr_assert_eq(lb.runs, 2);
    int s2 = waiting_standby("sa", s1);
    int b1 = lb.pid;
    cr_assert_eq(kill(s1, SIGKILL), 0); /* now the one with the standby */
    WAIT_FOR(live_of("sa", &la) && la.pid == s2 && live_of("sb", &lb) &&
             lb.pid != b1, "both runs again");
    cr_assert_eq(la.restarts, 2);
    cr_assert_eq(lb.restarts, 2);
    cr_assert_eq(la.runs, 3);
    cr_assert_eq(lb.runs, 3);
    refresh();
    cr_assert_eq(restarts(), 2, "%s", ps);
}

Test(standby, controller_crash)
{
    struct live l;
    start_site();
    arun("sa", 1, "wait");
    int sb = waiting_standby("sa", 0);
    const char *c = strstr(ps, "\"controller_pid\": ");
    cr_assert_not_null(c);
    int ctl = atoi(c + 18), live = pid_of("sa");
    cr_assert_eq(kill(ctl, SIGKILL), 0);
    /* the standby dies with the controller; the live instance outlives
     * it, holding its sockets, until the next controller ends it */
    POLL_UNTIL(gone(sb) && gone(ctl), "the standby to die with the controller");
    start_site(); /* the next controller: a site restart */
    cr_assert(gone(live), "the old live instance outlived the next controller");
    int sb2 = waiting_standby("sa", sb);
    refresh();
    int live2 = pid_of("sa");
    cr_assert(live2 > 0 && live2 != live && live2 != sb);
    cr_assert_eq(kill(live2, SIGKILL), 0);
    WAIT_FOR(live_of("sa", &l) && l.pid == sb2, "the new standby promoted");
}

/* A promoted standby is the actor: it outlives a controller that dies,
 * holding its held socket, and the next controller takes the socket back
 * (before, the death signal its spawn gave it as a standby stayed, and it
 * died with the controller, its socket with it); the waiting standby
 * dies with the controller. */
Test(standby, promoted_outlives_a_controller_crash)
{
    struct live l;
    int sb = promoted_with_a_held_socket(&l);
    int sb2 = waiting_standby("sa", sb);
    const char *c = strstr(ps, "\"controller_pid\": ");
    cr_assert_not_null(c);
    int ctl = atoi(c + 18);
    cr_assert_eq(kill(ctl, SIGKILL), 0);
    POLL_UNTIL(gone(sb2) && gone(ctl), "the standby to die with the controller");
    cr_assert(!gone(sb), "the promoted standby died with its controller");
    start_site(); /* the next controller */
    cr_assert(strstr(console(), "took 1 listening socket back"), "%s",
              console());
    cr_assert(gone(sb), "the old live instance outlived the next controller");
}

Test(standby, site_restart_starts_them_again)
{
    struct live l;
    start_site();
    arun("sa", 1, "wait");
    int sb = waiting_standby("sa", 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "restart", NULL), 0, "%s", out);
    int sb2 = waiting_standby("sa", sb);
    cr_assert(gone(sb), "the old standby was stopped with its site");
    refresh();
    cr_assert_eq(kill(pid_of("sa"), SIGKILL), 0);
    WAIT_FOR(live_of("sa", &l) && l.pid == sb2, "promoted after the restart");
}

Test(standby, from_sysadm_ini)
{
    struct live l;
    char path[512];
    snprintf(path, sizeof path, "%s/sysadm.ini", site);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "arun -g 1 --standby %s\n", STANDBY_BIN);
    fclose(f);
    start_site();
    WAIT_FOR(standby_of("standby_actor", "waiting") > 0, "its standby");
    int sb = standby_of("standby_actor", "waiting");
    cr_assert_eq(kill(pid_of("standby_actor"), SIGKILL), 0);
    WAIT_FOR(live_of("standby_actor", &l) && l.pid == sb, "promoted");
}

/* hrcached with a standby: it takes its socket and waits, then, promoted,
 * opens its heap and serves what the killed one stored. */
Test(standby, hrcached_promoted_keeps_its_items)
{
    char spec[64], reply[4096];
    int port, l = mc_listener(&port);
    close(l); /* a free port, for the controller to listen on */
    snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", port);
    start_site();
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--standby",
                        "--listen", spec, "--name", "mc", HRCACHED_BIN, "-m", "8",
                        NULL), 0, "%s", out);
    int sb = waiting_standby("mc", 0);
    int fd = mc_connect(port);
    cr_assert_str_eq(mc_line(fd, "set k 0 0 4\r\nkept\r\n"), "STORED\r\n");
    close(fd);
    refresh();
    cr_assert_eq(kill(pid_of("mc"), SIGKILL), 0);
    fd = mc_connect(port); /* waits in the backlog for the promoted one */
    cr_assert_gt(mc_ask(fd, "get k\r\n", 7, "END\r\n", reply, sizeof reply), 0);
    cr_assert_str_eq(reply, "VALUE k 0 4\r\nkept\r\nEND\r\n");
    char want[64];
    snprintf(want, sizeof want, "STAT pid %d\r\n", sb);
    cr_assert_gt(mc_ask(fd, "stats\r\n", 7, "END\r\n", reply, sizeof reply), 0);
    cr_assert(strstr(reply, want), "served by the standby %d: %s", sb, reply);
    close(fd);
}
