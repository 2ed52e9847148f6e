/* SPDX-License-Identifier: MIT */
/*
 * test_start_errors.c - a start that fails before the program runs is
 * told as such, never mistaken for a crash (src/os/ctl.c
 * pmm__os_exec_child, daemon/spawn.c hrd_spawn_wait):
 *  - an actor whose working directory is gone when its group restarts
 *    comes back in "/", the log saying so (under the default policy: a
 *    failed restart would be retried until the whole site failed), and
 *    runs in its directory again once it is back;
 *  - hr arun from a directory the controller cannot see (the caller in a
 *    mount namespace of its own) is refused, the log naming the
 *    directory, and nothing is left registered;
 *  - under a seccomp profile that refuses clone3 with EPERM (older
 *    container runtimes' defaults), a controller in cgroup mode starts
 *    and restarts actors through its fork path (src/os/ctl_spawn.c).
 * The cgroup variants need root and a cgroup v2 mount (skipped, saying
 * why, without them).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
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

/* The working directory of the running test_actor. */
static void cwd_of_actor(char *at, size_t cap)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/%d/cwd", pid_of("test_actor"));
    ssize_t n = readlink(link, at, cap - 1);
    cr_assert_gt(n, 0, "%s: %m", link);
    at[n] = 0;
}

/* An actor whose working directory is gone when its group restarts comes
 * back, in "/", the log saying so: under the default policy, a restart
 * that failed instead would be retried until the site failed (a release
 * directory pruned after a deploy would take every group down).  Once
 * the directory is back, the next restart runs there again. */
static void gone_working_directory(int cgroups)
{
    char dir[512], want[700], at[4096];
    start_site(cgroups);
    snprintf(dir, sizeof dir, "%s.work", site);
    cr_assert_eq(mkdir(dir, 0700), 0, "%s: %m", dir);
    int pid = arun_from(dir);
    cr_assert_gt(pid, 0);
    WAIT_FOR(runs_of("keep.A", -1) == 1, "the actor's first run");
    cr_assert_eq(rmdir(dir), 0, "%s: %m", dir);
    kill(pid, SIGKILL); /* a crash: the group restarts, from dir */
    WAIT_FOR(runs_of("keep.A", -1) == 2 && pid_of("test_actor") > 0 &&
             pid_of("test_actor") != pid,
             "the actor back without its directory");
    cwd_of_actor(at, sizeof at);
    cr_assert_str_eq(at, "/");
    snprintf(want, sizeof want, "actor test_actor: its working directory %s is gone: "
             "it runs in / until the directory is back", dir);
    cr_assert(strstr(console(), want), "the log does not say: %s\n%s", want,
              console());
    cr_assert_null(strstr(ps, "\"backoff\": {"), "it backed off:\n%s", ps);
    cr_assert_null(strstr(console(), "exited with status 127"),
                   "a start taken for a crash:\n%s", console());
    /* the directory back: the next restart runs there */
    cr_assert_eq(mkdir(dir, 0700), 0, "%s: %m", dir);
    pid = pid_of("test_actor");
    kill(pid, SIGKILL);
    WAIT_FOR(runs_of("keep.A", -1) == 3 && pid_of("test_actor") > 0 &&
             pid_of("test_actor") != pid, "the actor's third run");
    cwd_of_actor(at, sizeof at);
    cr_assert_str_eq(at, dir);
    rmdir(dir);
}

Test(start_errors, a_gone_working_directory_runs_in_root_with_a_warning)
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

/* clone3 refused with EPERM from now on, for this process and every one
 * it starts; every other call allowed.  0, or -errno. */
static int refuse_clone3(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof *f, f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
        return -errno;
    if (syscall(__NR_clone3, NULL, 0) != -1 || errno != EPERM)
        return -EPROTO; /* the filter is not in place */
    return 0;
}

/* hr site start under that filter: the controller, and every process it
 * starts, meets it; this test process does not (glibc's posix_spawn,
 * under system(), would fail). */
static void start_site_refusing_clone3(void)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int r = refuse_clone3();
        if (r < 0)
            _exit(100 + (-r & 63));
        execl(HR_BIN, "hr", "site", "start", (char *)NULL);
        _exit(99);
    }
    int st = wait_status(pid);
    cr_assert_lt(st, 99, "no seccomp filter here (status %d)", st);
    cr_assert_eq(st, 0, "hr site start under the filter: status %d\n%s", st,
                 console());
}

/* The cgroup v2 path of a /proc/PID/cgroup file (its "0::" line). */
static void unified_cgroup(const char *file, char *buf, size_t cap)
{
    char line[4200];
    FILE *f = fopen(file, "r");
    cr_assert_not_null(f, "%s: %m", file);
    buf[0] = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "0::", 3) == 0)
            snprintf(buf, cap, "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
    fclose(f);
    cr_assert(buf[0], "%s has no cgroup v2 line", file);
}

Test(start_errors, clone3_refused_by_seccomp_falls_back_to_fork)
{
#ifndef __x86_64__
    cr_skip_test("the filter is written for x86-64");
#endif
    char cg[4200];
    cgroup_mode();
    start_site_refusing_clone3();
    cr_assert_not_null(site_file("cgroup", cg, sizeof cg), "no cgroup mode: %s",
                       console());
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", ACTOR_BIN, "A",
                        NULL), 0, "arun under the filter: %s\n%s", out,
                 console());
    int pid = atoi(out);
    WAIT_FOR(runs_of("keep.A", -1) == 1, "the actor's first run");
    kill(pid, SIGKILL);
    WAIT_FOR(pid_of("test_actor") > 0 && pid_of("test_actor") != pid,
             "the crashed actor to restart");
    WAIT_FOR(runs_of("keep.A", -1) == 2, "the actor's second run");
    cr_assert_null(strstr(ps, "\"backoff\": {"), "%s", ps);
    /* made in a cgroup below the test's own, as in cgroup mode */
    char self[4200], line[4200], path[64];
    snprintf(path, sizeof path, "/proc/%d/cgroup", pid_of("test_actor"));
    unified_cgroup("/proc/self/cgroup", self, sizeof self);
    unified_cgroup(path, line, sizeof line);
    strcat(self, "/");
    cr_assert(strncmp(line, self, strlen(self)) == 0,
              "not in a cgroup below the test's (%s): %s", self, line);
}
