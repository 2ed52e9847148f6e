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
 *    and so is it from a controller started with its standard streams
 *    closed;
 *  - a child's descriptors that sit at 0, 1 or 2 (its parent's streams
 *    closed) survive the putting of its streams in place, and its error
 *    pipe there reports a failed start even with no descriptor free above
 *    (src/os/ctl_child.c);
 *  - an hrfexec whose program cannot run fails the call, not the group;
 *  - under a seccomp profile that refuses clone3 with EPERM (older
 *    container runtimes' defaults), a controller in cgroup mode starts
 *    and restarts actors through its fork path (src/os/ctl_spawn.c).
 * The cgroup variants need root and a cgroup v2 mount (skipped, saying
 * why, without them).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "cgroup_helpers.h"
#include "common.h"
#include "ctl_helpers.h"
#include "os/ctl.h"

static char out[65536];
static const char *site;

static void up(void)
{
    site = site_new(0, 0);
    setenv("HRD_CGROUPS", "off", 1);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
}

TestSuite(start_errors, .init = up, .fini = cg_site_down, .timeout = 300);

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

/* A controller in the foreground, started with its standard streams
 * closed (as a careless init script or `hrd <&- >&- 2>&-` does): it
 * opens its own files at 0, 1 and 2. */
static pid_t streamless_hrd; /* the controller started so */

static void start_site_with_closed_streams(void)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never left behind by a failure */
        close(0), close(1), close(2);
        execl(HRD_BIN, "hrd", "--site", site, (char *)NULL);
        _exit(127);
    }
    streamless_hrd = pid;
    POLL_UNTIL(hr_ping(NULL) > 0, "the controller without streams to answer");
}

/* hr arun from a directory the controller cannot see is refused, the
 * reason said by the tool and the log, nothing registered. */
static void arun_from_an_unseen_directory(int closed_streams)
{
    char dir[512], inner[600], want[800];
    if (closed_streams)
        start_site_with_closed_streams();
    else
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

Test(start_errors, arun_from_a_directory_the_controller_cannot_see_is_refused)
{
    arun_from_an_unseen_directory(0);
}

Test(start_errors, a_controller_without_standard_streams_reports_the_step)
{
    arun_from_an_unseen_directory(1);
}

/* ... and has /dev/null at 0-2: before, its own files took them (the RAM
 * bank at 1), where a write meant for a stream would have landed. */
Test(start_errors, a_controller_without_standard_streams_gets_dev_null)
{
    start_site_with_closed_streams();
    for (int fd = 0; fd < 3; fd++) {
        char path[64], target[4096];
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)streamless_hrd, fd);
        ssize_t n = readlink(path, target, sizeof target - 1);
        cr_assert_gt(n, 0, "%s: %s", path, strerror(errno));
        target[n] = 0;
        cr_assert_str_eq(target, "/dev/null", "the controller's %d is %s", fd,
                         target);
    }
}

/* What a test's child saw of a start by pmm__os_spawn: the report on
 * the error pipe (0: nothing came) and the child's exit status. */
struct spawn_seen {
    int r, step, err, status;
};

/* fn(res, arg) in a child of the test with its standard streams closed,
 * which writes what it saw on res: that. */
static struct spawn_seen streamless(void (*fn)(int, int), int arg)
{
    int res[2];
    struct spawn_seen seen = {0};
    cr_assert_eq(pipe2(res, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(0), close(1), close(2);
        fn(res[1], arg);
        _exit(0);
    }
    close(res[1]);
    ssize_t n = read(res[0], &seen, sizeof seen);
    int st = wait_status(pid);
    close(res[0]);
    cr_assert_eq(n, (ssize_t)sizeof seen, "the test's child failed: status %d",
                 st);
    return seen;
}

/* Start c, its error pipe ep; what came on the pipe and how it ended
 * written to res. */
static void spawn_and_tell(int res, struct pmm__os_child *c, int ep[2])
{
    struct pmm__os_child_err e = {0};
    struct spawn_seen seen = {0};
    int pid = pmm__os_spawn(c);
    close(ep[1]);
    seen.r = pid < 0 ? pid : pmm__os_child_report(ep[0], &e);
    seen.step = e.step, seen.err = e.err;
    seen.status = pid < 0 ? -1 : wait_status(pid);
    if (write(res, &seen, sizeof seen) != (ssize_t)sizeof seen)
        _exit(93);
}

/* The error pipe at 1 and no descriptor free from 3 to the limit; the
 * start fails at its working directory.  stream_at_1: a stream is put at
 * 1, so the pipe must move first, and cannot. */
static void crowded(int res, int stream_at_1)
{
    int ep[2], fd;
    struct rlimit rl;
    if (pipe2(ep, O_CLOEXEC) < 0 || ep[1] != 1 || getrlimit(RLIMIT_NOFILE, &rl))
        _exit(90);
    rl.rlim_cur = 64 > res + 1 ? 64 : (rlim_t)res + 1;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        _exit(91);
    int first = open("/dev/null", O_RDONLY | O_CLOEXEC); /* at 2 */
    while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        ;
    if (first != 2 || errno != EMFILE)
        _exit(92);
    int stdio[3] = {-1, stream_at_1 ? 2 : -1, -1};
    char *argv[] = {"true", NULL};
    struct pmm__os_child c = {.default_signals = 1, .stdio = stdio,
                              .cwd = "/nonexistent/hrtest", .exe_fd = -1,
                              .path = "/bin/true", .argv = argv,
                              .errpipe = ep[1], .pass_fd = -1, .pass_to = -1};
    spawn_and_tell(res, &c, ep);
}

/* A child's error pipe at 0, 1 or 2 (its parent started with its streams
 * closed) reports a start that failed before its exec, even when no
 * descriptor is free above 2 to move it to: where nothing is put at its
 * number it stays there; where a stream is, the failure to move it is
 * what it reports.  Before, it was moved in any case and, that failing,
 * nothing was reported: the start was taken for a crash. */
Test(start_errors, an_error_pipe_at_0_to_2_reports_with_no_room_above)
{
    struct spawn_seen seen = streamless(crowded, 0);
    cr_assert_eq(seen.r, -ENOENT, "report %d (0: nothing came)", seen.r);
    cr_assert_eq(seen.step, PMM_OS_STEP_CWD, "step %d", seen.step);
    cr_assert_eq(seen.status, 127);
    seen = streamless(crowded, 1);
    cr_assert_eq(seen.r, -EMFILE, "report %d (0: nothing came)", seen.r);
    cr_assert_eq(seen.step, PMM_OS_STEP_STDIO, "step %d", seen.step);
    cr_assert_eq(seen.status, 127);
}

static char crossed_dir[600];

/* A shell with crossed streams: file "in" at 1 to be its stdin, "out" at
 * 0 to be its stdout, and at 2 either its own image (err_file 0: also its
 * stderr is "out") or the file "err", close-on-exec, given as its stderr
 * at its own number. */
static void crossed(int res, int err_file)
{
    char in[700], outf[700], err[700];
    snprintf(in, sizeof in, "%s/in", crossed_dir);
    snprintf(outf, sizeof outf, "%s/out", crossed_dir);
    snprintf(err, sizeof err, "%s/err", crossed_dir);
    int o = open(outf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int i = open(in, O_RDONLY | O_CLOEXEC);
    int x = err_file ? open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
                     : open("/bin/sh", O_RDONLY | O_CLOEXEC);
    int ep[2];
    if (o != 0 || i != 1 || x != 2 || pipe2(ep, O_CLOEXEC) < 0)
        _exit(90);
    int stdio[3] = {1, 0, err_file ? 2 : 0};
    char *argv[] = {"sh", "-c", "read l; echo \"got $l\"; echo err >&2", NULL};
    struct pmm__os_child c = {.default_signals = 1, .stdio = stdio,
                              .exe_fd = err_file ? -1 : 2, .path = "/bin/sh",
                              .argv = argv, .errpipe = ep[1], .pass_fd = -1,
                              .pass_to = -1};
    spawn_and_tell(res, &c, ep);
}

static void file_is(const char *name, const char *want)
{
    char path[700], got[256] = "";
    snprintf(path, sizeof path, "%s/%s", crossed_dir, name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %m", path);
    size_t n = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    got[n] = 0;
    cr_assert_str_eq(got, want, "%s", path);
}

/* Descriptors a child needs that sit at 0, 1 or 2 survive the putting of
 * its streams in place: crossed streams (the file for its stdin at 1, for
 * its stdout at 0), its program's image at 2, a stream given at its own
 * number though close-on-exec.  Before, dup2 into 0 overwrote the file
 * meant for 1, the image at 2 was replaced by a stream (the exec failed),
 * and a stream at its own number was closed by the exec. */
Test(start_errors, descriptors_at_0_to_2_survive_the_streams_put_in_place)
{
    char in[700];
    snprintf(crossed_dir, sizeof crossed_dir, "%s", site);
    snprintf(in, sizeof in, "%s/in", crossed_dir);
    FILE *f = fopen(in, "w");
    cr_assert_not_null(f);
    fputs("in\n", f);
    fclose(f);
    struct spawn_seen seen = streamless(crossed, 0);
    cr_assert_eq(seen.r, 0, "the start failed: %d at step %d", seen.r,
                 seen.step);
    cr_assert_eq(seen.status, 0);
    file_is("out", "got in\nerr\n");
    seen = streamless(crossed, 1);
    cr_assert_eq(seen.r, 0, "the start failed: %d at step %d", seen.r,
                 seen.step);
    cr_assert_eq(seen.status, 0);
    file_is("out", "got in\n");
    file_is("err", "err\n");
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

/* An hrfexec whose program cannot run (here a file with no #! line that
 * the kernel cannot execute) fails the call, and only the call: the
 * caller handles the error (test_actor: HR_EXIT_HDL and exit), and its
 * group is not restarted for the child that reported the failure.
 * Before, that child's exit (127) was taken for a member's crash: the
 * group restarted at once, its actor called again and failed again, and
 * the site failed within some 40 ms. */
Test(start_errors, an_hrfexec_that_cannot_run_fails_the_call_not_the_group)
{
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad", site); /* removed with the site */
    int fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0700);
    cr_assert_geq(fd, 0, "%s: %m", bad);
    cr_assert_eq(write(fd, "x\n", 2), 2);
    close(fd);
    start_site(0);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--name", "par",
                        ACTOR_BIN, "par", "kid", bad, NULL), 0, "%s", out);
    WAIT_FOR(strstr(console(), "actor kid not started by par") ||
             runs_of("keep.par", -1) > 1, "the failed hrfexec");
    /* a barrier: another actor started and settled, so that the
     * controller has handled the child's death (it exited before the
     * controller answered par) */
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "2", ACTOR_BIN, "B",
                        NULL), 0, "%s", out);
    WAIT_FOR(strstr(console(), "actor B run 1 settled"), "B");
    hr_site_state st;
    cr_assert_eq(hr_status(NULL, &st), 0, "the site stopped:\n%s", console());
    cr_assert_eq(st.group_restarts, 0, "restarted for it:\n%s", console());
    cr_assert_eq(runs_of("keep.par", -1), 1, "%s", console());
    cr_assert_null(strstr(console(), "exited with status 127"), "%s",
                   console());
}
