/* SPDX-License-Identifier: MIT */
/*
 * test_upgrade.c - warm upgrades (issue 26): hr upgrade on a real
 * controller in a throwaway site, the server of upgrade_actor.c (state in
 * a persistent block, a held TCP socket, persistent clients).
 *
 * What is seen: the image ps shows (path, hash), the answers of the
 * server (its version word, its counter going on, its pid), the exit
 * status and message of hr upgrade, a client connection that goes on
 * across an upgrade or a rollback.  No assertion on timing: every wait
 * is for an event.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "ctl_helpers.h"
#include "test_hrcached_util.h"

static char out[65536];
static const char *site;
static int port;
static char v2[4200]; /* a copy of the server, another image */

static void up(void)
{
    site = site_new(0, 0);
    port = free_port();
    /* the same program with a byte more: another image, another hash */
    char cmd[9000];
    snprintf(v2, sizeof v2, "%s/upgrade_actor.v2", site);
    snprintf(cmd, sizeof cmd, "cp %s %s && printf x >> %s", UPGRADE_BIN, v2, v2);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(upgrade, .init = up, .fini = site_stop_drop, .timeout = 240);

/* hr arun -g 1 --notify --name srv --listen tcp:...:port upgrade_actor V
 * serve [handover], and wait until it is ready. */
static void start_server(int handover)
{
    char listen[64];
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    snprintf(listen, sizeof listen, "tcp:127.0.0.1:%d", port);
    int r = run_hr(out, sizeof out, "arun", "-g", "1", "--wait-ready", "--name",
                   "srv", "--listen", listen, UPGRADE_BIN, "v1", "serve",
                   handover ? "handover" : NULL, NULL);
    cr_assert_eq(r, 0, "arun: %s", out);
}

/* The server's answer to "get" on fd: its version into ver, its count. */
static unsigned get(int fd, char ver[8], int *pid)
{
    char line[128];
    unsigned n = 0;
    cr_assert_gt(mc_ask(fd, "get\n", 4, "\n", line, sizeof line), 0,
                 "the connection ended");
    cr_assert_eq(sscanf(line, "%7s %u %d", ver, &n, pid), 3, "%s", line);
    return n;
}

/* The image path and hash ps shows for srv. */
static void image_of(char *path, size_t cap, char *hash, size_t hcap)
{
    refresh();
    const char *p = strstr(ps, "\"image\": {\"path\": \"");
    cr_assert_not_null(p, "no image in ps: %s", ps);
    p += strlen("\"image\": {\"path\": \"");
    snprintf(path, cap, "%.*s", (int)(strchr(p, '"') - p), p);
    const char *h = strstr(p, "\"hash\": \"");
    cr_assert_not_null(h);
    h += strlen("\"hash\": \"");
    snprintf(hash, hcap, "%.*s", (int)(strchr(h, '"') - h), h);
}

/* hr upgrade [--cold] ACTOR [--timeout S] PROG V MODE [handover]: its
 * exit status, its output and message in out. */
static const char *actor = "srv";
static int cold; /* hr upgrade --cold */
static int upgrade(const char *prog, const char *mode, int handover,
                   const char *timeout)
{
    char *argv[16];
    int n = 0;
    char bin[] = HR_BIN;
    argv[n++] = bin;
    argv[n++] = "upgrade";
    if (cold)
        argv[n++] = "--cold";
    argv[n++] = (char *)actor;
    if (timeout) { /* between ACTOR and PROGRAM, as hr(1) allows */
        argv[n++] = "--timeout";
        argv[n++] = (char *)timeout;
    }
    argv[n++] = (char *)prog;
    argv[n++] = prog == v2 ? "v2" : "v1b";
    argv[n++] = (char *)mode;
    if (handover)
        argv[n++] = "handover";
    argv[n] = NULL;
    return run_all(out, sizeof out, 0, 0, argv);
}

Test(upgrade, to_a_new_image_and_a_crash_restarts_it)
{
    char ver[8], path[4200], hash[64], hash2[64];
    int pid, pid2;
    start_server(0);
    int c = mc_connect(port);
    cr_assert_eq(get(c, ver, &pid), 1);
    cr_assert_str_eq(ver, "v1");
    close(c);
    image_of(path, sizeof path, hash, sizeof hash);
    cr_assert_str_eq(path, UPGRADE_BIN);
    cr_assert_eq(upgrade(v2, "serve", 0, NULL), 0, "%s", out);
    image_of(path, sizeof path, hash2, sizeof hash2);
    cr_assert_str_eq(path, v2, "ps shows the new image");
    cr_assert_str_neq(hash, hash2, "another image, another hash");
    c = mc_connect(port);
    cr_assert_eq(get(c, ver, &pid2), 2, "the state went on");
    cr_assert_str_eq(ver, "v2");
    cr_assert_neq(pid, pid2);
    close(c);
    /* a crash: the group restarts from the NEW image */
    cr_assert_eq(hr_akill(NULL, pid2), 0);
    WAIT_FOR(pid_of("srv") > 0 && pid_of("srv") != pid2 &&
             strstr(ps, "\"readiness\": \"ready\""), "srv back after its crash");
    c = mc_connect(port);
    cr_assert_eq(get(c, ver, &pid), 3);
    cr_assert_str_eq(ver, "v2", "the restart ran the new image");
    close(c);
    /* and ps says so in words too */
    cr_assert_eq(run_hr(out, sizeof out, "ps", NULL), 0);
    cr_assert(strstr(out, v2) && strstr(out, hash2 + strlen("fnv1a64:")), "%s", out);
}

Test(upgrade, to_a_version_that_exits_at_start_rolls_back)
{
    char ver[8];
    int pid, pid2;
    start_server(1);
    int c = mc_connect(port); /* a client connected through the attempt */
    cr_assert_eq(get(c, ver, &pid), 1);
    cr_assert_eq(upgrade(v2, "exit", 1, NULL), 1, "%s", out);
    cr_assert(strstr(out, "rolled back") && strstr(out, "exited with status 3"),
              "hr upgrade names the reason: %s", out);
    cr_assert_eq(get(c, ver, &pid2), 2, "the same connection, the same state");
    cr_assert_str_eq(ver, "v1");
    cr_assert_eq(pid, pid2, "the old version never stopped");
    char path[4200], hash[64];
    image_of(path, sizeof path, hash, sizeof hash);
    cr_assert_str_eq(path, UPGRADE_BIN, "the old image is still the actor's");
    close(c);
}

Test(upgrade, to_a_version_never_ready_rolls_back_with_its_connections)
{
    char ver[8];
    int pid, pid2;
    start_server(1);
    int c = mc_connect(port);
    cr_assert_eq(get(c, ver, &pid), 1);
    cr_assert_eq(upgrade(v2, "never", 1, "1"), 1, "%s", out);
    cr_assert(strstr(out, "rolled back") && strstr(out, "not ready in 1 s"),
              "hr upgrade names the reason: %s", out);
    /* and why a silent new version was waited for, not taken after 1 s */
    cr_assert(strstr(out, "has said READY=1 before: each new version must "
                          "say it too"), "%s", out);
    /* the old image serves again, on the connection it had handed over */
    cr_assert_eq(get(c, ver, &pid2), 2, "%s", ver);
    cr_assert_str_eq(ver, "v1");
    cr_assert_neq(pid, pid2, "the old image was started again");
    int d = mc_connect(port);
    cr_assert_eq(get(d, ver, &pid2), 3);
    cr_assert_str_eq(ver, "v1");
    close(d);
    close(c);
    refresh();
    cr_assert(strstr(ps, "\"restarts\": 0, "), "no restart charged: %s", ps);
}

/* Whether the actor, asked on q, holds n bytes of unfinished lines ("pending
 * N"); fails the test if q gets no answer. */
static int pending_is(int q, size_t n)
{
    char line[128], want[32];
    cr_assert_gt(mc_ask(q, "pending\n", 8, "\n", line, sizeof line), 0,
                 "no answer to pending");
    snprintf(want, sizeof want, "pending %zu\n", n);
    return strcmp(line, want) == 0;
}

Test(upgrade, hands_over_a_connection_mid_request)
{
    char ver[8], line[128];
    int pid, pid2;
    start_server(1);
    int c = mc_connect(port), q = mc_connect(port);
    cr_assert_eq(get(c, ver, &pid), 1);
    /* a request the old instance reads and cannot answer yet */
    cr_assert_eq(write(c, "get", 3), 3);
    POLL_UNTIL(pending_is(q, 3), "the old instance to read the 3 bytes");
    close(q);
    cr_assert_eq(upgrade(v2, "serve", 1, NULL), 0, "%s", out);
    /* its end: the new version answers the request the old one read */
    cr_assert_gt(mc_ask(c, "\n", 1, "\n", line, sizeof line), 0, "reset");
    cr_assert_eq(sscanf(line, "%7s %*u %d", ver, &pid2), 2, "%s", line);
    cr_assert_str_eq(ver, "v2", "%s", line);
    cr_assert_neq(pid, pid2);
    cr_assert_eq(get(c, ver, &pid2), 3, "the same connection goes on");
    cr_assert_str_eq(ver, "v2");
    close(c);
}

Test(upgrade, of_an_actor_of_sysadm_ini_outlives_a_site_restart)
{
    char ini[4200], ver[8];
    int pid, pid2;
    snprintf(ini, sizeof ini, "%s/sysadm.ini", site);
    FILE *f = fopen(ini, "w");
    cr_assert_not_null(f);
    fprintf(f, "arun -g 1 --listen tcp:127.0.0.1:%d %s v1 serve\n", port,
            UPGRADE_BIN);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    actor = "upgrade_actor"; /* named after its program */
    WAIT_FOR(pid_of(actor) > 0, "the actor of sysadm.ini");
    int c = mc_connect(port);
    cr_assert_eq(get(c, ver, &pid), 1);
    cr_assert_str_eq(ver, "v1");
    close(c);
    cr_assert_eq(upgrade(v2, "serve", 0, NULL), 0, "%s", out);
    c = mc_connect(port);
    cr_assert_eq(get(c, ver, &pid2), 2);
    cr_assert_str_eq(ver, "v2");
    close(c);
    /* a site restart skips sysadm.ini's arun lines and starts the stored
     * image: the new one */
    cr_assert_eq(run_hr(out, sizeof out, "site", "restart", NULL), 0, "%s", out);
    WAIT_FOR(pid_of(actor) > 0 && pid_of(actor) != pid2, "the site restarted");
    c = mc_connect(port);
    cr_assert_eq(get(c, ver, &pid), 3);
    cr_assert_str_eq(ver, "v2", "the site restart ran the new image");
    close(c);
}

/* The controller dies at crash point `point` during an upgrade to v2; the
 * next one (hr site start) runs version `then`, with the state kept. */
static void controller_dies_at(const char *point, const char *then)
{
    char ver[8];
    int pid;
    setenv("HR_CRASHPOINT", point, 1); /* the controller's, from site start */
    start_server(0);
    unsetenv("HR_CRASHPOINT");
    int hrd = hr_ping(NULL);
    cr_assert_gt(hrd, 0);
    int c = mc_connect(port);
    cr_assert_eq(get(c, ver, &pid), 1);
    close(c);
    cr_assert_eq(upgrade(v2, "serve", 0, NULL), 1, "it died: %s", out);
    WAIT_FOR(kill(hrd, 0) != 0, "the controller's death");
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    WAIT_FOR(pid_of("srv") > 0 && strstr(ps, "\"readiness\": \"ready\""),
             "srv started again");
    c = mc_connect(port);
    cr_assert_eq(get(c, ver, &pid), 2, "the state kept");
    cr_assert_str_eq(ver, then);
    close(c);
    char path[4200], hash[64];
    image_of(path, sizeof path, hash, sizeof hash);
    cr_assert_str_eq(path, strcmp(then, "v2") == 0 ? v2 : UPGRADE_BIN);
    cr_assert_eq(check_bank(), 0);
}

Test(upgrade, controller_dies_with_the_trial_stored)
{
    controller_dies_at("hrd.upgrade_trial", "v1");
}

Test(upgrade, controller_dies_at_the_commit)
{
    controller_dies_at("hrd.upgrade_committed", "v2");
}

Test(upgrade, controller_dies_in_the_middle_of_the_copy)
{
    controller_dies_at("hrd.upgrade_copied", "v2");
}

Test(upgrade, clients_mid_stream_see_only_a_pause)
{
    char ver[8];
    int pid, c[4];
    unsigned last[4] = {0};
    start_server(1);
    for (int i = 0; i < 4; i++)
        c[i] = mc_connect(port);
    pid_t up = fork();
    if (up == 0) /* the upgrade runs while the clients ask */
        _exit(upgrade(v2, "serve", 1, NULL));
    int st = -1, asked = 0, after = 0;
    while (after < 4) { /* a round after the upgrade is over */
        for (int i = 0; i < 4; i++) {
            unsigned n = get(c[i], ver, &pid); /* fails on reset, error */
            cr_assert_gt(n, last[i], "answers go on, none repeated");
            last[i] = n;
            asked++;
        }
        if (st < 0 && waitpid(up, &st, WNOHANG) == 0)
            st = -1;
        after += st >= 0;
    }
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "hr upgrade failed");
    cr_assert_str_eq(ver, "v2", "the last answers are the new version's");
    for (int i = 0; i < 4; i++)
        close(c[i]);
    cr_log_info("%d requests on 4 connections through the upgrade", asked);
}

Test(upgrade, a_group_one_after_the_other_then_all_at_once)
{
    char listen[64], ver[8];
    int pid, port2 = free_port();
    start_server(0);
    snprintf(listen, sizeof listen, "tcp:127.0.0.1:%d", port2);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--wait-ready",
                        "--name", "srv2", "--listen", listen, UPGRADE_BIN,
                        "v1", "serve", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "upgrade", "-g", "1", v2, "v2",
                        "serve", NULL), 0, "%s", out);
    for (int k = 0; k < 2; k++) {
        int c = mc_connect(k ? port2 : port);
        get(c, ver, &pid);
        cr_assert_str_eq(ver, "v2", "actor %d upgraded", k);
        close(c);
    }
    /* all at once, to a version that fails: both rolled back, both named */
    cr_assert_eq(run_hr(out, sizeof out, "upgrade", "-g", "1", "--all-at-once",
                        UPGRADE_BIN, "v3", "exit", NULL), 1, "%s", out);
    char log[65536];
    cr_assert_eq(run_hr(log, sizeof log, "log", NULL), 0);
    cr_assert(strstr(log, "actor srv: upgrade abandoned") &&
              strstr(log, "actor srv2: upgrade abandoned"), "%s", log);
    for (int k = 0; k < 2; k++) {
        int c = mc_connect(k ? port2 : port);
        get(c, ver, &pid);
        cr_assert_str_eq(ver, "v2", "actor %d rolled back to v2", k);
        close(c);
    }
}

Test(upgrade, connections_the_new_version_does_not_take_are_closed)
{
    char ver[8], line[64];
    int pid;
    start_server(1);
    int c = mc_connect(port);
    cr_assert_eq(get(c, ver, &pid), 1);
    cr_assert_eq(upgrade(v2, "notake", 1, NULL), 0, "%s", out);
    /* handed over, never taken: its end, not a wait for ever */
    cr_assert_eq(mc_ask(c, "get\n", 4, "\n", line, sizeof line), -1,
                 "answered: %s", line);
    close(c);
    c = mc_connect(port);
    cr_assert_eq(get(c, ver, &pid), 2);
    cr_assert_str_eq(ver, "v2");
    close(c);
}

/* A version that fails some way leaves v1 serving the same state, and
 * hr upgrade names the reason. */
static void fails(const char *mode, const char *timeout, const char *reason)
{
    char ver[8];
    int pid, pid2;
    start_server(1);
    int c = mc_connect(port);
    cr_assert_eq(get(c, ver, &pid), 1);
    cr_assert_eq(upgrade(v2, mode, 1, timeout), 1, "%s", out);
    cr_assert(strstr(out, "rolled back") && strstr(out, reason),
              "hr upgrade names the reason (%s): %s", reason, out);
    cr_assert_eq(get(c, ver, &pid2), 2, "the same connection, the same state");
    cr_assert_str_eq(ver, "v1");
    close(c);
    refresh();
    cr_assert(strstr(ps, "\"restarts\": 0, "), "no restart charged: %s", ps);
}

Test(upgrade, to_a_version_killed_by_a_signal_rolls_back)
{
    fails("segv", NULL, "killed by signal 11");
}

Test(upgrade, to_a_version_that_never_waits_rolls_back_at_the_timeout)
{
    fails("hang", "1", "not ready in 1 s");
}

Test(upgrade, cold_to_a_version_that_exits_starts_the_old_image_again)
{
    cold = 1; /* the old one stops first: the rollback starts it again */
    fails("exit", NULL, "exited with status 3");
}

/* A program that says nothing of its readiness is taken as ready once
 * it has run a second after its promotion: one that exits at once (a
 * wrong program) is rolled back and the old image runs again, instead of
 * being committed to crash-loop its group; one that runs on is
 * committed.  (An actor that has said it is ready once is waited for at
 * every run: this one never says.) */
Test(upgrade, cold_to_a_silent_program_that_exits_rolls_back)
{
    char path[4200], hash[64], bin[] = HR_BIN;
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "2", "--name", "quiet",
                        "/bin/sleep", "1000", NULL), 0, "%s", out);
    char *argv[] = {bin, "upgrade", "--cold", "quiet", "/bin/sh", "-c", "exit 3",
                    NULL};
    cr_assert_eq(run_all(out, sizeof out, 0, 0, argv), 1, "%s", out);
    cr_assert(strstr(out, "rolled back") && strstr(out, "exited with status 3"),
              "hr upgrade names the reason: %s", out);
    WAIT_FOR(pid_of("quiet") > 0, "the old image to run again");
    image_of(path, sizeof path, hash, sizeof hash);
    cr_assert(strstr(path, "/sleep"), "rolled back to its image: %s", path);
    argv[4] = "/bin/tail", argv[5] = "-f", argv[6] = "/dev/null";
    cr_assert_eq(run_all(out, sizeof out, 0, 0, argv), 0, "%s", out);
    image_of(path, sizeof path, hash, sizeof hash);
    cr_assert(strstr(path, "/tail"), "committed, its image is the actor's: %s",
              path);
}

Test(upgrade, cold_to_a_new_version)
{
    char ver[8];
    int pid, pid2;
    char by_pid[16];
    cold = 1;
    start_server(1);
    int c = mc_connect(port);
    cr_assert_eq(get(c, ver, &pid), 1);
    snprintf(by_pid, sizeof by_pid, "%d", pid); /* ACTOR given by its pid */
    actor = by_pid;
    cr_assert_eq(upgrade(v2, "serve", 1, NULL), 0, "%s", out);
    cr_assert_eq(get(c, ver, &pid2), 2, "handed over to a fresh start");
    cr_assert_str_eq(ver, "v2");
    cr_assert_neq(pid, pid2);
    close(c);
}

Test(upgrade, ends_when_its_group_restarts_meanwhile)
{
    char listen[64], ver[8];
    int pid, port2 = free_port();
    start_server(0);
    snprintf(listen, sizeof listen, "tcp:127.0.0.1:%d", port2);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--wait-ready",
                        "--name", "other", "--listen", listen, UPGRADE_BIN,
                        "v1", "serve", NULL), 0, "%s", out);
    pid_t up = fork();
    if (up == 0)
        _exit(upgrade(v2, "hang", 0, "600") == 1 &&
                      strstr(out, "its group restarted") ? 0 : 1);
    WAIT_FOR(strstr(ps, "\"upgrade\": \"trial\""), "the trial");
    cr_assert_eq(hr_akill(NULL, pid_of("other")), 0); /* the group fails */
    cr_assert_eq(wait_status(up), 0, "hr upgrade ended, naming why");
    WAIT_FOR(strstr(ps, "\"restarts\": 1, ") && pid_of("srv") > 0 &&
             !strstr(ps, "\"readiness\": \"starting\""), "the group back");
    int c = mc_connect(port);
    get(c, ver, &pid);
    cr_assert_str_eq(ver, "v1", "the group restarted from the old image");
    close(c);
}

/* A stop while an upgrade is under way answers the upgrade, saying why
 * (before: "Connection reset by peer", which told nothing of the outcome),
 * and the next start runs the old version (nothing was committed). */
Test(upgrade, a_stop_under_way_answers_the_upgrade)
{
    char ver[8];
    int pid;
    start_server(0);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t up = fork();
    if (up == 0) {
        int st = upgrade(v2, "hang", 0, "600");
        _exit(st == 1 && strstr(out, "the site stops before the upgrade "
                                     "ended") ? 0 : write(p[1], out,
                                                          strlen(out)) > 0);
    }
    close(p[1]);
    WAIT_FOR(strstr(ps, "\"upgrade\": \"trial\""), "the trial");
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    int st = wait_status(up);
    ssize_t k = read(p[0], out, sizeof out - 1);
    out[k > 0 ? k : 0] = 0;
    close(p[0]);
    cr_assert_eq(st, 0, "hr upgrade said: %s", out);
    site_start(out, sizeof out);
    WAIT_FOR(pid_of("srv") > 0 && !strstr(ps, "\"readiness\": \"starting\""),
             "the server back");
    int c = mc_connect(port);
    get(c, ver, &pid);
    cr_assert_str_eq(ver, "v1", "nothing was committed");
    close(c);
}

/* The pid of srv's standby in the last ps if it waits, else 0. */
static int waiting_standby(void)
{
    const char *p = strstr(ps, "\"standby\": {\"pid\": ");
    return p && strstr(p, "\"state\": \"waiting\"") ? atoi(p + 19) : 0;
}

Test(upgrade, of_an_actor_with_a_standby_brings_a_standby_of_the_new_image)
{
    char listen[64], ver[8];
    int pid, sb;
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    snprintf(listen, sizeof listen, "tcp:127.0.0.1:%d", port);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--wait-ready",
                        "--standby", "--name", "srv", "--listen", listen,
                        UPGRADE_BIN, "v1", "serve", NULL), 0, "%s", out);
    WAIT_FOR((sb = waiting_standby()) > 0, "the old image's standby");
    cr_assert_eq(upgrade(v2, "serve", 0, NULL), 0, "%s", out);
    int old_sb = sb;
    WAIT_FOR((sb = waiting_standby()) > 0 && sb != old_sb, "a new standby");
    /* a crash promotes it: it is the new image */
    cr_assert_eq(hr_akill(NULL, pid_of("srv")), 0);
    WAIT_FOR(pid_of("srv") == sb && strstr(ps, "\"readiness\": \"ready\""),
             "the standby promoted");
    int c = mc_connect(port);
    cr_assert_eq(get(c, ver, &pid), 1);
    cr_assert_str_eq(ver, "v2", "the standby ran the new image");
    cr_assert_eq(pid, sb);
    close(c);
}

static int log_has(const char *what)
{
    return run_hr(out, sizeof out, "log", NULL) == 0 && strstr(out, what);
}

/* An actor may give connections at any time (its next instance takes
 * them), but not without end: each copy of one descriptor is a new one
 * in the controller.  Before, one actor could make the controller hold
 * 4096 descriptors and 256 MiB, and a few such actors took every
 * descriptor it had: its clients were reset and its groups failed to
 * start ("Too many open files") until the site restarted.  Now all the
 * actors of a site together keep at most half the open files limit (and
 * 64 MiB of pending bytes); the next gift is refused, the controller
 * serves on. */
Test(upgrade, connections_given_without_end_are_refused_past_a_bound)
{
    struct rlimit lim = {512, 512}; /* the controller started from here */
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    int hrd = hr_ping(NULL);
    cr_assert_gt(hrd, 0);
    int files, all;
    fds_of(hrd, &files, &all);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--name", "flood",
                        UPGRADE_BIN, "v1", "flood", NULL), 0, "%s", out);
    WAIT_FOR(log_has("g1/flood: flood: "), "the actor to give all it could");
    const char *at = strstr(out, "g1/flood: flood: ");
    long gave = atol(at + strlen("g1/flood: flood: "));
    cr_assert(strstr(at, "No space left"), "refused as full: %.120s", at);
    cr_assert(gave >= 200 && gave <= 256, "%ld kept of half of 512: %s", gave, out);
    int files2, all2;
    fds_of(hrd, &files2, &all2);
    cr_assert_leq(all2, all + 256 + 16, "the controller holds %d descriptors "
                  "(%d before: the actor adds a few of its own)", all2, all);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "2", "/bin/sleep", "30",
                        NULL), 0, "it still starts actors: %s", out);
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "1", NULL), 0, "%s", out);
    WAIT_FOR((fds_of(hrd, &files2, &all2), all2 <= all + 8),
             "the kept connections closed with their actor");
}

/* hrcached upgraded while one client stalls inside a set (its data never
 * comes) and another waits idle: the idle one goes over to the new
 * version, the stalled one is closed after the settle bound, and hrcached
 * says so in the log; it had closed it without a word. */
Test(upgrade, hrcached_says_how_many_connections_it_closed)
{
    char listen[64], line[128];
    snprintf(listen, sizeof listen, "tcp:127.0.0.1:%d", port);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--wait-ready",
                        "--name", "mc", "--listen", listen, HRCACHED_BIN, "-m",
                        "16", "-t", "2", NULL), 0, "arun: %s", out);
    int idle = mc_connect(port), stalled = mc_connect(port);
    const char *got = MC_ASK(idle, "set k 0 0 1\r\nv\r\n", "\r\n");
    cr_assert(got && strcmp(got, "STORED\r\n") == 0, "%s", got ? got : "");
    cr_assert_eq(write(stalled, "set st 0 0 10\r\nabc", 18), 18);
    cr_assert_eq(run_hr(out, sizeof out, "upgrade", "mc", HRCACHED_BIN, "-m",
                        "16", "-t", "2", NULL), 0, "upgrade: %s", out);
    WAIT_FOR(log_has("1 connection did not reach a request boundary"),
             "hrcached to say it closed the stalled connection");
    cr_assert_eq(read(stalled, line, sizeof line), 0, "the stalled one closed");
    got = MC_ASK(idle, "get k\r\n", "END\r\n");
    cr_assert(got && strstr(got, "VALUE k 0 1\r\nv\r\n"),
              "the idle one went over: %s", got ? got : "(closed)");
    close(idle);
    close(stalled);
}
