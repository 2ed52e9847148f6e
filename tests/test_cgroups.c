/* SPDX-License-Identifier: MIT */
/*
 * test_cgroups.c - the cgroup of each actor process across restarts
 * (daemon/cgroup.c, issue 23 item 5): an actor that died alone is made
 * again in the cgroup it left empty (a spare), one whose tree was killed
 * never is (a process made in a cgroup once killed is killed at birth),
 * and the site leaves no cgroup behind: after restarts, a stop, a
 * controller's crash and the stop that ends what it left, a group killed
 * while it backs off or with its standby; a new controller removes the
 * empty cgroups dead ones left beside its own.
 *
 * Needs root and a cgroup v2 mount (the test moves itself into a fresh
 * cgroup, so that the controller it starts has a subtree of its own);
 * skipped, saying why, without them.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "cgroup_helpers.h"
#include "common.h"
#include "ctl_helpers.h"

static char out[65536];
static char site_cg[4200]; /* the site's cgroup, as the site file names it */

static void up(void)
{
    site_new(0, 0);
    unsetenv("HRD_CGROUPS");
    cg_enter();
}

TestSuite(cgroups, .init = up, .fini = cg_site_down, .timeout = 300);

/* After the suite's up() (Criterion runs it before a test's own .init):
 * its site, whose controller will have no cgroups (the fallback). */
static void up_fallback(void)
{
    setenv("HRD_CGROUPS", "off", 1);
}

/* Start the site, in cgroup mode: its cgroup into site_cg. */
static void start(void)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_not_null(site_file("cgroup", site_cg, sizeof site_cg),
                       "no cgroup mode: %s", console());
    cr_assert(strncmp(site_cg, cg_dir, strlen(cg_dir)) == 0, "%s", site_cg);
}

static void arun(const char *group, const char *name, const char *prog,
                 const char *arg)
{
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", group, "--name", name,
                        prog, arg, NULL), 0, "%s", out);
}

/* The cgroup of live process pid, a path as cg_dir is one (the cgroup2
 * mount's and its line "0::" in /proc/PID/cgroup), into buf; "" when it
 * is gone. */
static const char *cgroup_of(pid_t pid, char *buf, size_t cap)
{
    char path[64], line[4200], self[4200] = "";
    FILE *f = fopen("/proc/self/cgroup", "r"); /* in cg_dir (cg_enter) */
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "0::", 3) == 0)
            sscanf(line + 3, "%4199s", self);
    if (f)
        fclose(f);
    cr_assert(strlen(self) < strlen(cg_dir), "%s in %s", self, cg_dir);
    int mnt = (int)(strlen(cg_dir) - strlen(self));
    snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
    buf[0] = 0;
    f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = 0;
            snprintf(buf, cap, "%.*s%s", mnt, cg_dir, line + 3);
        }
    if (f)
        fclose(f);
    return buf;
}

/* The cgroups under the site's: how many, and how many of them hold no
 * process (*empty). */
static int site_cgroups(int *empty)
{
    char path[8600], events[512];
    DIR *dir = opendir(site_cg);
    struct dirent *e;
    int n = 0;
    *empty = 0;
    cr_assert_not_null(dir, "%s: %s", site_cg, strerror(errno));
    while ((e = readdir(dir))) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s/cgroup.events", site_cg, e->d_name);
        FILE *f = fopen(path, "r");
        size_t k = f ? fread(events, 1, sizeof events - 1, f) : 0;
        if (f)
            fclose(f);
        events[k] = 0;
        n++;
        *empty += strstr(events, "populated 0") != NULL;
    }
    closedir(dir);
    return n;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The restarts of group g in the last ps. */
static int restarts_of(int g)
{
    char pat[64];
    snprintf(pat, sizeof pat, "{\"id\": %d, \"state\": \"", g);
    const char *p = strstr(ps, pat);
    p = p ? strstr(p, "\"restarts\": ") : NULL;
    return p ? atoi(p + 12) : -1;
}

/* SIGKILL actor name (pid was) and wait for its next run: its pid. */
static pid_t crash(const char *name, pid_t was)
{
    cr_assert_eq(kill(was, SIGKILL), 0);
    WAIT_FOR(pid_of(name) > 0 && pid_of(name) != was, "the actor's next run");
    return pid_of(name);
}

/* A lone process killed from outside leaves its cgroup empty, never
 * killed: every next run is made in it, runs (it is not killed at
 * birth: one restart per crash), and no other cgroup is made. */
Test(cgroups, a_lone_actor_runs_again_in_the_cgroup_it_left)
{
    char first[4200], now_cg[4200];
    start();
    arun("1", "lone", SVC_BIN, "ignore");
    WAIT_FOR(pid_of("lone") > 0, "the actor");
    pid_t pid = pid_of("lone");
    cr_assert(cgroup_of(pid, first, sizeof first)[0]);
    cr_assert(strncmp(first, site_cg, strlen(site_cg)) == 0, "%s not under %s",
              first, site_cg);
    for (int r = 1; r <= 4; r++) {
        pid = crash("lone", pid);
        cr_assert_str_eq(cgroup_of(pid, now_cg, sizeof now_cg), first,
                         "run %d is not in the cgroup its last run left", r + 1);
        int empty, n = site_cgroups(&empty);
        cr_assert(n == 1 && empty == 0, "%d cgroups (%d empty) under %s", n,
                  empty, site_cg);
        refresh();
        cr_assert_eq(restarts_of(1), r, "restarts: %s", ps);
        cr_assert_eq(pid_of("lone"), pid, "the run made in the reused cgroup "
                     "died: %s", console());
    }
}

/* An actor whose tree outlives it: its cgroup is killed, so its next run
 * gets a new one (made in the killed one, it would be killed at birth,
 * over and over), and the killed one is removed. */
Test(cgroups, an_actor_whose_tree_was_killed_gets_a_new_cgroup)
{
    char ready[4200], was[4200], now_cg[4200], seen[4400];
    start();
    snprintf(ready, sizeof ready, "%s/tree.ready", getenv("HR_SITE"));
    arun("2", "tree", SVC_BIN, "tree");
    POLL_UNTIL(exists(ready), "the actor's tree");
    refresh();
    pid_t pid = pid_of("tree");
    for (int r = 1; r <= 3; r++) {
        cr_assert(cgroup_of(pid, was, sizeof was)[0]);
        cr_assert_eq(unlink(ready), 0);
        pid = crash("tree", pid);
        POLL_UNTIL(exists(ready), "the next run's tree");
        cr_assert(cgroup_of(pid, now_cg, sizeof now_cg)[0],
                  "the next run died: %s", console());
        cr_assert_str_neq(now_cg, was, "run %d in the killed cgroup", r + 1);
        int n = 0, empty = 0;
        for (struct poll_wait w = poll_begin("the killed cgroup removed");
             exists(was) || (n = site_cgroups(&empty)) != 1; poll_pause(&w, seen))
            snprintf(seen, sizeof seen, "%s %s; %d cgroups under the site's",
                     was, exists(was) ? "is there" : "is gone", n);
        refresh();
        cr_assert_eq(restarts_of(2), r, "restarts: %s", ps);
    }
}

/* A group restart after a crash kills the other members with cgroup.kill:
 * their cgroups, empty once they are reaped, are never handed out again
 * (their next runs would be killed at birth, over and over), while the
 * member that crashed alone runs again in its own. */
Test(cgroups, a_member_killed_for_its_group_gets_a_new_cgroup)
{
    char x0[4200], y0[4200], x1[4200], y1[4200], seen[4400];
    start();
    arun("5", "x", SVC_BIN, "ignore");
    arun("5", "y", SVC_BIN, "ignore");
    WAIT_FOR(pid_of("x") > 0 && pid_of("y") > 0, "the actors");
    pid_t y = pid_of("y");
    cr_assert(cgroup_of(pid_of("x"), x0, sizeof x0)[0]);
    cr_assert(cgroup_of(y, y0, sizeof y0)[0]);
    pid_t x = crash("x", pid_of("x"));
    WAIT_FOR(pid_of("y") > 0 && pid_of("y") != y, "y's next run");
    y = pid_of("y");
    cr_assert_str_eq(cgroup_of(x, x1, sizeof x1), x0, "x crashed alone");
    cr_assert(cgroup_of(y, y1, sizeof y1)[0], "y's next run died: %s", console());
    cr_assert_str_neq(y1, y0, "y's next run is in the cgroup killed under it");
    int n = 0, empty = 0;
    for (struct poll_wait w = poll_begin("y's killed cgroup removed");
         exists(y0) || (n = site_cgroups(&empty)) != 2; poll_pause(&w, seen))
        snprintf(seen, sizeof seen, "%s %s; %d cgroups under the site's", y0,
                 exists(y0) ? "is there" : "is gone", n);
    refresh();
    cr_assert_eq(restarts_of(5), 1, "restarts: %s", ps);
    cr_assert(pid_of("x") == x && pid_of("y") == y, "a run died: %s", console());
}

/* Member a of group 3 exits cleanly: its empty cgroup is kept for its
 * next run (3 cgroups, one empty); a crash of b restarts the group, a in
 * its spare (3, none empty); a exits again, a spare is left. */
static void spare_of_a(void)
{
    int empty, n;
    WAIT_FOR(pid_of("a") > 0 && pid_of("b") > 0 && pid_of("lone") > 0,
             "the actors");
    for (int i = 0; i < 2; i++) {
        actor_command("a", "exit");
        WAIT_FOR(pid_of("a") <= 0, "a's clean exit");
        n = site_cgroups(&empty);
        cr_assert(n == 3 && empty == 1, "%d cgroups (%d empty) under %s", n,
                  empty, site_cg);
        if (i == 1)
            break;
        crash("b", pid_of("b")); /* the group restarts: a too */
        WAIT_FOR(pid_of("a") > 0, "a's next run");
        n = site_cgroups(&empty);
        cr_assert(n == 3 && empty == 0, "%d cgroups (%d empty) under %s", n,
                  empty, site_cg);
    }
}

/* Whether the controller (pid) holds a descriptor on a cgroup under the
 * site's. */
static int holds_a_cgroup(pid_t pid)
{
    char under[4300];
    snprintf(under, sizeof under, "%s/", site_cg);
    return fds_naming(pid, under);
}

/* After a group's kill: no cgroup left under the site's, and none held
 * open by the controller (hrd). */
static void no_cgroup_left(pid_t hrd)
{
    char seen[200];
    int n, empty;
    for (struct poll_wait w = poll_begin("no cgroup left, none held open");
         (n = site_cgroups(&empty)) != 0 || holds_a_cgroup(hrd);
         poll_pause(&w, seen))
        snprintf(seen, sizeof seen, "%d cgroups under the site's; the "
                 "controller holds %s", n, holds_a_cgroup(hrd) ? "one" : "none");
}

/* A member that crashes before it is ready leaves its cgroup empty, a
 * spare, while its group backs off; the group killed then has no death
 * left to see: the spare goes all the same (when the slot is forgotten),
 * and the controller holds no cgroup open.  The back-off is let grow to
 * its longest, 1 s, and the kill counts only if it fell inside it (its
 * answer came before the next start was due; else the scenario is run
 * again); a restart policy that never escalates keeps the site up. */
Test(cgroups, a_group_killed_while_backing_off_leaves_no_cgroup)
{
    char seen[200];
    cr_assert_eq(run_hr(out, sizeof out, "site", "set", "hrCtrl.maxBadness=1000000",
                        NULL), 0, "%s", out);
    start();
    pid_t hrd = hr_ping(NULL);
    cr_assert_gt(hrd, 0);
    for (int attempt = 1;; attempt++) {
        cr_assert_leq(attempt, 5, "no kill fell inside the 1 s back-off");
        setenv("HR_NOTIFY", "1", 1); /* it never says ready: a failed start */
        arun("6", "c", ACTOR_BIN, "crash6");
        unsetenv("HR_NOTIFY");
        int n = 0, empty = 0;
        double asked = 0;
        const char *next = NULL;
        for (struct poll_wait w = poll_begin("the group backing off 1 s, a "
                                             "spare left");;
             poll_pause(&w, seen)) {
            asked = now(); /* the backoff's figure is of after this */
            refresh();
            n = site_cgroups(&empty);
            next = strstr(ps, "\"next_start_in_ms\": ");
            if (strstr(ps, "\"delay_ms\": 1000,") && next && n == 1 && empty == 1)
                break;
            snprintf(seen, sizeof seen, "%d cgroups (%d empty); backing off 1 s: %s",
                     n, empty, strstr(ps, "\"delay_ms\": 1000,") ? "yes" : "no");
        }
        long due_ms = atol(next + strlen("\"next_start_in_ms\": "));
        cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "6", NULL), 0, "%s", out);
        int inside = (now() - asked) * 1e3 < (double)due_ms;
        no_cgroup_left(hrd);
        if (inside)
            break;
    }
}

/* A standby lives in a cgroup of its own: killed with its group, its
 * cgroup goes when it is reaped, not at some later death. */
Test(cgroups, a_group_killed_with_its_standby_leaves_no_cgroup)
{
    char seen[200];
    start();
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "7", "--standby", "--name",
                        "s", STANDBY_BIN, "wait", "0", NULL), 0, "%s", out);
    int n = 0, empty = 0;
    for (struct poll_wait w = poll_begin("the actor and its standby, each in "
                                         "a cgroup");;
         poll_pause(&w, seen)) {
        refresh();
        n = site_cgroups(&empty);
        if (strstr(ps, "\"standby\": {\"pid\": ") && n == 2 && empty == 0)
            break;
        snprintf(seen, sizeof seen, "%d cgroups (%d empty); %s", n, empty,
                 strstr(ps, "\"standby\": {\"pid\": ") ? "a standby"
                                                        : "no standby yet");
    }
    pid_t hrd = hr_ping(NULL);
    cr_assert_gt(hrd, 0);
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "7", NULL), 0, "%s", out);
    no_cgroup_left(hrd);
}

/* A member that exited cleanly keeps its empty cgroup for its next run;
 * no cgroup of the site is left by a stop, by the stop of a site whose
 * controller died while such a spare was there (hrd --end-leftovers), or
 * by the next controller after such a death. */
Test(cgroups, the_site_leaves_no_cgroup_behind)
{
    char old_cg[4200];
    start();
    arun("3", "a", ACTOR_BIN, "a");
    arun("3", "b", ACTOR_BIN, "b");
    arun("4", "lone", SVC_BIN, "ignore");
    spare_of_a();
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    cr_assert(!exists(site_cg), "%s is left after a stop", site_cg);

    start();
    spare_of_a();
    snprintf(old_cg, sizeof old_cg, "%s", site_cg);
    ctl_crash_controller();
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    cr_assert(!exists(old_cg), "%s is left after the stop of a site whose "
              "controller died", old_cg);

    start();
    spare_of_a();
    snprintf(old_cg, sizeof old_cg, "%s", site_cg);
    ctl_crash_controller();
    start();
    cr_assert(!exists(old_cg), "%s is left by the next controller", old_cg);
    WAIT_FOR(pid_of("a") > 0 && pid_of("b") > 0 && pid_of("lone") > 0,
             "the actors");
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    cr_assert(!exists(site_cg), "%s is left after a stop", site_cg);
}

/* An actor whose child saves its state on SIGTERM, taking 300 ms, while
 * the actor itself dies of it at once: the child writes saved.N (N: the
 * actor's argument) once done. */
static void saver(const char *dir, const char *n)
{
    char script[4300];
    /* the child says it is up once its trap is set */
    script_file(script, sizeof script, dir, "saver.sh", "#!/bin/sh\n"
                "sh -c 'trap \"sleep 0.3; echo saved > $0/saved.$1; exit 0\" "
                "TERM; echo $$ > $0/saver.$1; while :; do sleep 1; done' "
                "\"%s\" \"$1\" &\n"
                "exec sleep 1000\n", dir);
    char file[64], buf[32];
    snprintf(file, sizeof file, "saver.%s", n);
    arun("5", n, script, n);
    POLL_UNTIL(site_file(file, buf, sizeof buf) && atoi(buf) > 0,
               "the saver's child");
}

/* Is pid killed: a SIGKILL pending, or already taken (the process
 * exiting: PF_EXITING in the flags of /proc/PID/stat), or gone? */
static int killed(pid_t pid)
{
    unsigned long long pending = proc_status_mask(pid, "SigPnd") |
                                 proc_status_mask(pid, "ShdPnd");
    long long flags = proc_stat_field(pid, 9);
    return ((pending >> (SIGKILL - 1)) & 1) || (flags >= 0 && (flags & 0x4)) ||
           !proc_runs(pid);
}

/* A site stop with a saver (its child saves 300 ms after its SIGTERM,
 * the actor itself dying of it at once) and an actor whose child ignores
 * SIGTERM (stop timeout 500 ms): the stop ends once the first child has
 * saved, and the second child is killed at its deadline, not left. */
static void site_stop_waits_for_trees(const char *dir)
{
    char buf[32], script[4300];
    saver(dir, "2");
    script_file(script, sizeof script, dir, "ignorer.sh",
                "#!/bin/sh\nsh -c 'trap \"\" TERM; echo $$ > $0/ignorer.pid; "
                "while :; do sleep 1; done' \"%s\" &\nexec sleep 1000\n", dir);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "6", "--stop-timeout",
                        "500", script, NULL), 0, "%s", out);
    int ignorer = 0;
    POLL_UNTIL(site_file("ignorer.pid", buf, sizeof buf) &&
               (ignorer = atoi(buf)) > 0, "the ignoring child");
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    cr_assert_not_null(site_file("saved.2", buf, sizeof buf),
                       "the child did not save before the stop ended: %s",
                       console());
    cr_assert(killed(ignorer), "the child ignoring SIGTERM outlives the stop");
}

/* The site's end gives the whole tree its stop time: an actor's process
 * that dies of the SIGTERM at once leaves the rest of its tree the stop
 * timeout to end, and hr site stop returns once it has (before, its child
 * was killed the moment the actor was reaped, and saved nothing); one that
 * ignores SIGTERM gets SIGKILL at its deadline.  A group's end is no such
 * wait: its blocks are freed, so nothing of its run outlives it, and the
 * rest gets SIGKILL when the actor is reaped (the child saves nothing). */
Test(cgroups, the_site_s_end_gives_the_whole_tree_its_stop_time)
{
    char buf[32];
    const char *dir = getenv("HR_SITE"); /* up()'s site */
    hr_policy p = {.stop_ms = 10000};
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    cr_assert_eq(hr_policy_write(dir, &p), 0);
    start();
    saver(dir, "1");
    cr_assert_not_null(site_file("saver.1", buf, sizeof buf));
    int child = atoi(buf);
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "5", NULL), 0, "%s",
                 out);
    /* it saves (300 ms after its SIGTERM) only if it runs on: once it
     * has ended, its file says which */
    POLL_UNTIL(!proc_runs(child), "the ended group's child to end");
    cr_assert_null(site_file("saved.1", buf, sizeof buf),
                   "the ended group's child %d ran on after its group ended",
                   child);
    site_stop_waits_for_trees(dir);
    cr_assert(!exists(site_cg), "%s is left after a stop", site_cg);
}

/* Without cgroups the site's end gives an actor's process group the same
 * stop time (before, the group got SIGKILL the moment the actor was
 * reaped, and its child saved nothing). */
Test(cgroups, the_site_s_end_gives_the_process_group_its_stop_time,
     .init = up_fallback)
{
    char buf[4200];
    const char *dir = getenv("HR_SITE");
    hr_policy p = {.stop_ms = 10000};
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    cr_assert_eq(hr_policy_write(dir, &p), 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_null(site_file("cgroup", buf, sizeof buf), "cgroup mode");
    site_stop_waits_for_trees(dir);
}

/* A pid no process has now: a child's, reaped. */
static pid_t dead_pid(void)
{
    pid_t p = fork();
    cr_assert_geq(p, 0);
    if (p == 0)
        _exit(0);
    cr_assert_eq(waitpid(p, NULL, 0), p);
    return p;
}

/* Make cgroup dir/name (and its child cgroup c1) as a controller would
 * have; the path of c1 into kid.  old: last changed an hour ago. */
static void make_like_a_controller(const char *name, char *kid, size_t cap,
                                   int old)
{
    char path[8600];
    snprintf(path, sizeof path, "%s/%s", cg_dir, name);
    cr_assert_eq(mkdir(path, 0755), 0, "%s: %s", path, strerror(errno));
    snprintf(kid, cap, "%s/c1", path);
    cr_assert_eq(mkdir(kid, 0755), 0, "%s: %s", kid, strerror(errno));
    struct timespec t[2] = {{.tv_sec = time(NULL) - 3600},
                            {.tv_sec = time(NULL) - 3600}};
    if (old)
        cr_assert_eq(utimensat(AT_FDCWD, path, t, 0), 0, "%s", strerror(errno));
}

static void remove_like_a_controller(const char *name)
{
    char path[8700];
    snprintf(path, sizeof path, "%s/%s/c1", cg_dir, name);
    rmdir(path);
    snprintf(path, sizeof path, "%s/%s", cg_dir, name);
    rmdir(path);
}

/* The cgroups a dead controller left beside the new one's (its site was
 * removed before a stop or next start read them) are removed by the next
 * controller made there once empty.  Left alone: one still holding a
 * process, one named after a live process, one whose lock is held (a live
 * controller in another pid namespace: its pid is not seen from here), and
 * one changed less than a minute ago (a controller that has just made it,
 * under a pid that came back). */
Test(cgroups, empty_cgroups_of_dead_controllers_beside_ours_are_removed)
{
    char dead[64], busy[64], live[64], held[64], young[64], kid_dead[8700],
        kid_busy[8700], kid_live[8700], kid_held[8700], kid_young[8700],
        procs[8800], path[8600];
    snprintf(dead, sizeof dead, "hrd.%d", (int)dead_pid());
    snprintf(busy, sizeof busy, "hrd.%d", (int)dead_pid());
    snprintf(live, sizeof live, "hrd.%d", (int)getppid());
    snprintf(held, sizeof held, "hrd.%d", (int)dead_pid());
    snprintf(young, sizeof young, "hrd.%d", (int)dead_pid());
    make_like_a_controller(dead, kid_dead, sizeof kid_dead, 1);
    make_like_a_controller(busy, kid_busy, sizeof kid_busy, 1);
    make_like_a_controller(live, kid_live, sizeof kid_live, 1);
    make_like_a_controller(held, kid_held, sizeof kid_held, 1);
    make_like_a_controller(young, kid_young, sizeof kid_young, 0);
    snprintf(path, sizeof path, "%s/%s", cg_dir, held);
    int lock = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(lock, 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(flock(lock, LOCK_EX | LOCK_NB), 0, "%s", strerror(errno));
    /* a process left in the busy one: only its own site's start ends it */
    pid_t sleeper = fork();
    cr_assert_geq(sleeper, 0);
    if (sleeper == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* not outliving a failed test */
        snprintf(procs, sizeof procs, "%s/cgroup.procs", kid_busy);
        if (put(procs, "0") < 0)
            _exit(1);
        pause();
        _exit(0);
    }
    snprintf(procs, sizeof procs, "%s/cgroup.procs", kid_busy);
    char have[64] = "";
    for (struct poll_wait w = poll_begin("the sleeper in its cgroup");
         !have[0]; poll_pause(&w, NULL)) {
        FILE *f = fopen(procs, "r");
        if (f && !fgets(have, sizeof have, f))
            have[0] = 0;
        if (f)
            fclose(f);
    }
    /* the busy one changed as the sleeper entered: old again */
    struct timespec t[2] = {{.tv_sec = time(NULL) - 3600},
                            {.tv_sec = time(NULL) - 3600}};
    snprintf(path, sizeof path, "%s/%s", cg_dir, busy);
    cr_assert_eq(utimensat(AT_FDCWD, path, t, 0), 0, "%s", strerror(errno));

    start();
    cr_assert(!exists(kid_dead), "%s is left: %s", kid_dead, console());
    snprintf(path, sizeof path, "%s/%s", cg_dir, dead);
    cr_assert(!exists(path), "%s is left", path);
    cr_assert(strstr(console(), "removed 1 empty cgroup of dead controllers"),
              "%s", console());
    cr_assert(exists(kid_busy), "a cgroup holding a process was removed");
    cr_assert(exists(kid_live), "a live process's was removed");
    cr_assert(exists(kid_held), "one whose lock is held was removed");
    cr_assert(exists(kid_young), "one changed a moment ago was removed");
    cr_assert_eq(kill(sleeper, 0), 0, "the left process was killed");

    kill(sleeper, SIGKILL);
    cr_assert_eq(waitpid(sleeper, NULL, 0), sleeper);
    close(lock);
    remove_like_a_controller(busy);
    remove_like_a_controller(live);
    remove_like_a_controller(held);
    remove_like_a_controller(young);
}
