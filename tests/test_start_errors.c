/* SPDX-License-Identifier: MIT */
/*
 * test_start_errors.c - a start that fails before the program runs is
 * told as such, never mistaken for a crash (src/os/ctl.c
 * pmm__os_exec_child, daemon/spawn.c hrd_spawn_wait):
 *  - an actor whose working directory is gone when its group restarts
 *    is not started (no fallback to "/"), the controller says which step
 *    failed, on which directory and why (log, hr ps), and its group backs
 *    off as a failed start: no "exited with status 127" taken for a
 *    crash; once the directory is back, the next try starts it;
 *  - hr arun from a directory the controller cannot see (the caller in a
 *    mount namespace of its own) is refused, the log naming the
 *    directory, and nothing is left registered;
 * The cgroup variants need root and a cgroup v2 mount (skipped, saying
 * why, without them).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "cgroup_helpers.h"
#include "common.h"
#include "ctl_helpers.h"

static char out[65536];
static const char *site;

static void up(void)
{
    site = site_new(0, 0);
    setenv("HRD_CGROUPS", "off", 1);
    /* no escalation to a site restart: a failing start backs off */
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "set",
                        "hrCtrl.maxBadness=1000000", NULL), 0, "%s", out);
}

static void down(void)
{
    run_hr(NULL, 0, "site", "stop", NULL);
    cg_leave();
    site_drop();
}

TestSuite(start_errors, .init = up, .fini = down, .timeout = 300);

/* The site started in cgroup mode: the test in a cgroup of its own. */
static void cgroup_mode(void)
{
    unsetenv("HRD_CGROUPS");
    cg_enter();
}

static void start_site(int cgroups)
{
    char cg[4200];
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    if (cgroups)
        cr_assert_not_null(site_file("cgroup", cg, sizeof cg),
                           "no cgroup mode: %s", console());
}

/* Start test_actor A in group 1 from directory dir: its pid. */
static int arun_from(const char *dir)
{
    char back[4096];
    cr_assert_not_null(getcwd(back, sizeof back));
    cr_assert_eq(chdir(dir), 0, "%s: %m", dir);
    int st = run_hr(out, sizeof out, "arun", "-g", "1", ACTOR_BIN, "A", NULL);
    cr_assert_eq(chdir(back), 0);
    cr_assert_eq(st, 0, "%s", out);
    return atoi(out);
}

/* An actor whose working directory is gone at its group's restart. */
static void gone_working_directory(int cgroups)
{
    char dir[512], want[700];
    start_site(cgroups);
    snprintf(dir, sizeof dir, "%s.work", site);
    cr_assert_eq(mkdir(dir, 0700), 0, "%s: %m", dir);
    int pid = arun_from(dir);
    cr_assert_gt(pid, 0);
    WAIT_FOR(runs_of("keep.A", -1) == 1, "the actor's first run");
    cr_assert_eq(rmdir(dir), 0, "%s: %m", dir);
    kill(pid, SIGKILL); /* a crash: the group restarts, from dir */
    /* the back-off, or (the bug) the program run again elsewhere */
    WAIT_FOR(strstr(ps, "\"backoff\": {") || runs_of("keep.A", -1) > 1,
             "the restart to fail and back off");
    snprintf(want, sizeof want, "cannot start test_actor: cannot change to "
             "working directory %s: No such file or directory", dir);
    cr_assert(strstr(ps, "\"backoff\": {"), "restarted without its working "
              "directory:\n%s", ps);
    cr_assert(strstr(ps, want), "hr ps does not say why: %s\n%s", want, ps);
    cr_assert(strstr(console(), want), "the log does not say: %s\n%s", want,
              console());
    cr_assert_null(strstr(console(), "exited with status 127"),
                   "a failed start taken for a crash:\n%s", console());
    cr_assert_eq(runs_of("keep.A", -1), 1, "the program ran elsewhere");
    /* the directory back: the next try of the back-off starts it there */
    cr_assert_eq(mkdir(dir, 0700), 0, "%s: %m", dir);
    WAIT_FOR(pid_of("test_actor") > 0 && !strstr(ps, "\"backoff\": {"),
             "the group to start once its directory is back");
    WAIT_FOR(runs_of("keep.A", -1) == 2, "the actor's second run");
    char cwd[64], at[4096];
    snprintf(cwd, sizeof cwd, "/proc/%d/cwd", pid_of("test_actor"));
    ssize_t n = readlink(cwd, at, sizeof at - 1);
    cr_assert_gt(n, 0, "%s: %m", cwd);
    at[n] = 0;
    cr_assert_str_eq(at, dir);
    rmdir(dir);
}

Test(start_errors, a_gone_working_directory_is_a_failed_start_not_a_crash)
{
    gone_working_directory(0);
}

Test(start_errors, a_gone_working_directory_in_cgroup_mode)
{
    cgroup_mode();
    gone_working_directory(1);
}

Test(start_errors, arun_from_a_directory_the_controller_cannot_see_is_refused)
{
    char dir[512], inner[600], want[800];
    start_site(0);
    snprintf(dir, sizeof dir, "%s.ns", site);
    cr_assert_eq(mkdir(dir, 0700), 0, "%s: %m", dir);
    /* what a service manager's PrivateTmp= or ProtectHome= does: the
     * caller sees a directory that the controller does not */
    int r = private_tmpfs(dir, "mode=0700");
    if (r < 0) {
        rmdir(dir);
        cr_skip_test("no private mount namespace here: %s", strerror(-r));
    }
    snprintf(inner, sizeof inner, "%s/work", dir);
    cr_assert_eq(mkdir(inner, 0700), 0, "%s: %m", inner);
    char back[4096];
    cr_assert_not_null(getcwd(back, sizeof back));
    cr_assert_eq(chdir(inner), 0);
    char *const argv[] = {HR_BIN, "arun", "-g", "1", ACTOR_BIN, "A", NULL};
    int st = run_all(out, sizeof out, 0, 0, argv);
    cr_assert_eq(chdir(back), 0);
    cr_assert_eq(st, 1, "arun started it: %s", out);
    snprintf(want, sizeof want, "cannot change to working directory %s: No "
             "such file or directory", inner);
    cr_assert(strstr(out, want), "hr arun does not say: %s\n%s", want, out);
    cr_assert(strstr(console(), want), "the log does not say: %s\n%s", want,
              console());
    refresh();
    cr_assert_null(strstr(ps, "test_actor"), "left registered:\n%s", ps);
    cr_assert_eq(runs_of("keep.A", -1), -1, "the program ran");
    umount2(dir, MNT_DETACH);
    rmdir(dir);
}
