/* SPDX-License-Identifier: MIT */
/*
 * restart_bench.c - crash-to-ready latency and group restart.
 *
 * The program restarted everywhere is bench_actor: it retrieves its
 * persistent block and says "ready" (its pid on a fifo).  Measured from the
 * SIGKILL of the running instance to the new instance's "ready":
 *  - the floor: a bare parent that kills, reaps, forks and execs it;
 *  - hotrestart: the program as a direct actor of a group (its rounds
 *    alternate with the floor's, so that both meet the same load);
 *  - s6-supervise, runit's runsv, daemontools' supervise and supervisord,
 *    each running it as a service (when installed).
 * The same with a standby instance (hr arun --standby): the controller
 * promotes a waiting, initialised instance instead of executing the
 * program, against the floor of a fork and an exec.  Then, for a service
 * whose initialisation takes 50 ms (bench_actor FIFO 50): with a standby,
 * without, and under runit's runsv.
 * Then group restarts: one member of a group of N is killed, until all N
 * are ready again.
 *
 *   restart_bench HR_BIN BENCH_ACTOR [--quick]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "report.h"

static const char *hr, *actor;
static const char *init_arg = "";           /* bench_actor's INIT_MS */
static const char *row = "crash_to_ready";  /* the supervisors' row */
static char site[64], fifo[128];
static int rd;

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* The next "ready": a pid, or 0 after timeout_ms. */
static int ready(int timeout_ms)
{
    struct pollfd p = {.fd = rd, .events = POLLIN};
    int pid;
    if (poll(&p, 1, timeout_ms) <= 0)
        return 0;
    if (read(rd, &pid, sizeof pid) != sizeof pid)
        return 0;
    return pid;
}

static void drain(void)
{
    while (ready(0))
        ;
}

static double floor_median;
static double ours_median;

static pid_t floor_start(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl(actor, actor, fifo, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void sh(const char *cmd)
{
    if (system(cmd) != 0)
        fprintf(stderr, "restart_bench: '%s' failed\n", cmd);
}

/* The floor and hotrestart without a standby, one round of each in turn,
 * so that both see the same load: on a shared machine the load moves
 * within a run more than the difference being measured.  Each round is
 * timed from the SIGKILL to the new instance's "ready". */
static void bench_plain(int rounds)
{
    char cmd[1024];
    double *v = calloc((size_t)rounds, sizeof *v);
    double *dead = calloc((size_t)rounds, sizeof *dead);
    double *ours = calloc((size_t)rounds, sizeof *ours);
    double *ratio = calloc((size_t)rounds, sizeof *ratio);
    pid_t fpid = floor_start();
    ready(5000);
    snprintf(cmd, sizeof cmd, "%s site start >/dev/null && %s arun -g 0 %s %s "
                              ">/dev/null", hr, hr, actor, fifo);
    sh(cmd);
    int hpid = ready(5000), n = 0;
    for (int i = 0; i < rounds && hpid; i++, n++) {
        double t0 = now_us();
        kill(fpid, SIGKILL);
        waitpid(fpid, NULL, 0);
        dead[i] = now_us() - t0;
        fpid = floor_start();
        ready(5000);
        v[i] = now_us() - t0;
        t0 = now_us();
        kill(hpid, SIGKILL);
        hpid = ready(5000);
        ours[i] = now_us() - t0;
        ratio[i] = ours[i] / v[i];
    }
    kill(fpid, SIGKILL);
    waitpid(fpid, NULL, 0);
    snprintf(cmd, sizeof cmd, "%s akill -g 0", hr);
    sh(cmd);
    double med, p99, rmed, rp99;
    bench_stats(v, n, &med, &p99);
    floor_median = med;
    bench_row("crash_to_ready", "fork+exec floor (no supervisor)", "us", med, p99,
              0, "kill, reap, fork, exec, ready");
    /* what the kernel takes before any supervisor can know of a death: a
     * standby is promoted no sooner (the dead one may write until then) */
    char note[160];
    bench_stats(dead, n, &med, &p99);
    snprintf(note, sizeof note, "kill until reaped: %.2fx the floor; no "
             "restart can begin sooner", med / floor_median);
    bench_row("crash_to_death", "kernel (no supervisor)", "us", med, p99, 0,
              note);
    bench_stats(ours, n, &med, &p99);
    bench_stats(ratio, n, &rmed, &rp99);
    ours_median = med;
    snprintf(note, sizeof note, "%.2fx the floor (median of each round's "
             "ratio: %.2fx); rounds alternate with the floor's; policy set "
             "not to escalate", med / floor_median, rmed);
    bench_row("crash_to_ready", "hotrestart", "us", med, p99, 0, note);
    free(ratio);
    free(ours);
    free(dead);
    free(v);
}

static void service_dir(const char *dir);
static void bench_supervisor(const char *system, const char *prog,
                             char *const argv[], int rounds, const char *note);

/* The pid of actor name's standby once it waits (asked of the controller
 * every 0.2 ms, untimed), or 0 after 10 s. */
static int standby_waiting(const char *name)
{
    static char buf[65536];
    char pat[128];
    snprintf(pat, sizeof pat, "\"name\": \"%s\", ", name);
    for (int i = 0; i < 50000; i++, usleep(200)) {
        if (hr_ps(NULL, 0, buf, sizeof buf) < 0)
            continue;
        const char *p = strstr(buf, pat);
        p = p ? strstr(p, "\"standby\": {\"pid\": ") : NULL;
        if (!p)
            continue;
        char *end;
        long pid = strtol(p + 19, &end, 10);
        if (strncmp(end, ", \"state\": \"waiting\"", 20) == 0)
            return (int)pid;
    }
    return 0;
}

/* Crash to ready of actor name in group (bench_actor FIFO init), started
 * with hr arun OPTS: rounds kills, each (with a standby) once the standby
 * waits; the median, its p99, how many were timed and, with a standby, how
 * many came back as the standby (promoted, not executed). */
struct rounds {
    double med, p99;
    int done, promoted;
};
static struct rounds bench_actor_rounds(int rounds, int group, int standby,
                                        const char *name, const char *init)
{
    char cmd[1024];
    struct rounds r = {0};
    double *v = calloc((size_t)rounds, sizeof *v);
    drain();
    snprintf(cmd, sizeof cmd, "%s arun -g %d %s --name %s %s %s %s >/dev/null",
             hr, group, standby ? "--standby" : "", name, actor, fifo, init);
    sh(cmd);
    int pid = ready(10000);
    for (int i = 0; i < rounds && pid; i++) {
        int sb = standby ? standby_waiting(name) : 0;
        if (standby && !sb)
            break;
        double t0 = now_us();
        kill(pid, SIGKILL);
        pid = ready(10000);
        if (pid)
            v[r.done++] = now_us() - t0;
        r.promoted += standby && pid == sb;
    }
    snprintf(cmd, sizeof cmd, "%s akill -g %d", hr, group);
    sh(cmd);
    bench_stats(v, r.done, &r.med, &r.p99);
    free(v);
    return r;
}

static void bench_standby(int rounds)
{
    char note[128];
    struct rounds r = bench_actor_rounds(rounds, 1, 1, "standby", "0");
    snprintf(note, sizeof note, "%.2fx the floor (goal <= 0.2x); %d of %d "
             "promoted", r.med / floor_median, r.promoted, r.done);
    bench_row("crash_to_ready", "hotrestart, standby", "us", r.med, r.p99, 0,
              note);
}

/* A service that initialises for 50 ms: with a standby, without, runsv. */
static void bench_init50(int rounds, int sup_rounds)
{
    char note[160];
    struct rounds sb = bench_actor_rounds(rounds, 2, 1, "standby50", "50");
    struct rounds no = bench_actor_rounds(rounds, 3, 0, "plain50", "50");
    snprintf(note, sizeof note, "%d of %d promoted; without it %.0fx slower "
             "(goal >= 50x)", sb.promoted, sb.done, no.med / sb.med);
    bench_row("crash_to_ready_init50", "hotrestart, standby", "us", sb.med,
              sb.p99, 0, note);
    bench_row("crash_to_ready_init50", "hotrestart, no standby", "us", no.med,
              no.p99, no.med / sb.med, "exec, then its 50 ms start-up");
    ours_median = sb.med;
    row = "crash_to_ready_init50";
    init_arg = "50";
    char dir[256];
    snprintf(dir, sizeof dir, "%s/svc-runit50", site);
    service_dir(dir);
    bench_supervisor("runit runsv", "runsv", (char *[]){"runsv", dir, NULL},
                     sup_rounds, "default settings; kills 1.1 s apart");
}

/* A service directory whose run script execs the actor. */
static void service_dir(const char *dir)
{
    char path[512];
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/run", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "#!/bin/sh\nexec %s %s %s\n", actor, fifo, init_arg);
    fclose(f);
    chmod(path, 0700);
}

static pid_t start_supervisor(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void bench_supervisor(const char *system, const char *prog,
                             char *const argv[], int rounds, const char *note)
{
    char path[512];
    snprintf(path, sizeof path, "/usr/bin/%s", prog);
    if (access(path, X_OK) != 0) {
        bench_row(row, system, "us", 0, 0, 0,
                  "not run: not installed (bench/run installs it)");
        return;
    }
    drain();
    pid_t sup = start_supervisor(argv);
    double *v = calloc((size_t)rounds, sizeof *v);
    int pid = ready(10000), n = 0;
    for (int i = 0; i < rounds && pid; i++) {
        /* supervisors throttle a service that dies within 1 s of its start:
         * let each instance live past that, so the restart is not delayed */
        usleep(1100000);
        double t0 = now_us();
        kill(pid, SIGKILL);
        pid = ready(10000);
        if (pid)
            v[n++] = now_us() - t0;
    }
    kill(-sup, SIGKILL);
    waitpid(sup, NULL, 0);
    if (pid)
        kill(pid, SIGKILL);
    double med, p99;
    bench_stats(v, n, &med, &p99);
    if (!n) {
        bench_row(row, system, "us", 0, 0, 0, "not run: never ready");
    } else {
        char full[256];
        snprintf(full, sizeof full, "%s; %d restarts", note, n);
        bench_row(row, system, "us", med, p99, med / ours_median, full);
    }
    free(v);
}

static void bench_supervisors(int rounds)
{
    char dir[256], conf[512];
    snprintf(dir, sizeof dir, "%s/svc-s6", site);
    service_dir(dir);
    bench_supervisor("s6-supervise", "s6-supervise",
                     (char *[]){"s6-supervise", dir, NULL}, rounds,
                     "s6 2.11 defaults; it waited ~1 s before each restart; "
                     "kills 1.1 s apart");
    snprintf(dir, sizeof dir, "%s/svc-runit", site);
    service_dir(dir);
    bench_supervisor("runit runsv", "runsv", (char *[]){"runsv", dir, NULL}, rounds,
                     "default settings; kills 1.1 s apart");
    snprintf(dir, sizeof dir, "%s/svc-dt", site);
    service_dir(dir);
    bench_supervisor("daemontools supervise", "supervise",
                     (char *[]){"supervise", dir, NULL}, rounds,
                     "default settings; kills 1.1 s apart");
    snprintf(conf, sizeof conf, "%s/supervisord.conf", site);
    FILE *f = fopen(conf, "w");
    fprintf(f, "[supervisord]\nnodaemon=true\nlogfile=%s/supervisord.log\n"
               "pidfile=%s/supervisord.pid\nuser=root\n"
               "[program:actor]\ncommand=%s %s\nautorestart=true\nstartsecs=0\n"
               "startretries=1000000\n", site, site, actor, fifo);
    fclose(f);
    bench_supervisor("supervisord", "supervisord",
                     (char *[]){"supervisord", "-n", "-c", conf, NULL}, rounds,
                     "startsecs=0 (the least), autorestart; it restarted ~1 s "
                     "after each death; kills 1.1 s apart");
}

/* Kill one member of a group of n; time until all n are ready again. */
static void bench_group(int n, int rounds, int group)
{
    char cmd[1024];
    int *pids = calloc((size_t)n, sizeof *pids);
    double *v = calloc((size_t)rounds, sizeof *v);
    drain();
    for (int i = 0; i < n; i++) {
        snprintf(cmd, sizeof cmd, "%s arun -g %d %s %s >/dev/null", hr, group,
                 actor, fifo);
        sh(cmd);
    }
    int got = 0;
    for (int i = 0; i < n; i++)
        got += (pids[i] = ready(5000)) != 0;
    int done = 0;
    for (int r = 0; r < rounds && got == n; r++, done++) {
        double t0 = now_us();
        kill(pids[r % n], SIGKILL);
        got = 0;
        for (int i = 0; i < n; i++)
            got += (pids[i] = ready(5000)) != 0;
        v[r] = now_us() - t0;
    }
    snprintf(cmd, sizeof cmd, "%s akill -g %d", hr, group);
    sh(cmd);
    double med, p99;
    bench_stats(v, done, &med, &p99);
    char name[64], note[96];
    snprintf(name, sizeof name, "group_restart_%d", n);
    snprintf(note, sizeof note, "%.1f us per actor; %d restarts", med / n, done);
    bench_row(name, "hotrestart", "us", med, p99, 0, note);
    free(pids);
    free(v);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: restart_bench HR_BIN BENCH_ACTOR [--quick]\n");
        return 2;
    }
    static char hr_abs[4096], actor_abs[4096];
    if (!realpath(argv[1], hr_abs) || !realpath(argv[2], actor_abs)) {
        fprintf(stderr, "restart_bench: %s or %s not found\n", argv[1], argv[2]);
        return 2;
    }
    hr = hr_abs;
    actor = actor_abs;
    int quick = argc > 3 && strcmp(argv[3], "--quick") == 0;
    snprintf(site, sizeof site, "/dev/shm/hrbench.XXXXXX");
    if (!mkdtemp(site))
        return 1;
    setenv("HR_SITE", site, 1);
    snprintf(fifo, sizeof fifo, "%s/ready", site);
    mkfifo(fifo, 0600);
    rd = open(fifo, O_RDWR); /* a writer of our own: never EOF */

    /* a policy that never escalates: here restarts are the point */
    char cmd0[1024];
    snprintf(cmd0, sizeof cmd0, "%s site create --max-badness 1000000 --interval 1 "
                                ">/dev/null", hr);
    sh(cmd0);
    int rounds = quick ? 200 : 1000;
    bench_header("crash to ready: SIGKILL until the new instance has its state");
    bench_plain(rounds);
    bench_standby(rounds);
    bench_supervisors(quick ? 5 : 20);

    bench_header("crash to ready of a service whose start-up takes 50 ms");
    bench_init50(quick ? 10 : 20, quick ? 5 : 10);

    bench_header("group restart: one member killed, until all are ready");
    static const int sizes_full[] = {1, 4, 16, 64, 256}, sizes_quick[] = {1, 4, 16};
    const int *sizes = quick ? sizes_quick : sizes_full;
    int nsizes = quick ? 3 : 5;
    for (int i = 0; i < nsizes; i++)
        bench_group(sizes[i], quick ? 30 : 100, 10 + i);

    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s site stop >/dev/null; rm -rf %s", hr, site);
    sh(cmd);
    return 0;
}
