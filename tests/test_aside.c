/* SPDX-License-Identifier: MIT */
/*
 * test_aside.c - the file a maker of a new bank makes aside (create.c,
 * BANK.new.PID.R) and the sweep of those that dead makers left
 * (pmm__os_sweep_aside), with makers in pid namespaces of their own.
 *
 * A maker stopped at the instant its file first has a name already holds
 * that file's lock: a sweep from another pid namespace leaves it.  Two
 * makers with one PID, each in a pid namespace of its own, have names of
 * their own: neither takes the other's file, both publish.  A maker killed
 * there leaves its file to the next maker's sweep, even one with its PID.
 * A crash point in a namespace's init (which ignores its own SIGKILL) ends
 * it all the same.
 *
 * Every process started here dies with the test (PR_SET_PDEATHSIG, and
 * SIGKILL on the failure paths): none is left stopped or orphaned.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "os.h"
#include "pmm/crash.h"

static void setup(void) { site_new(8 << 20, 512); unsetenv("HR_CRASHPOINT"); }
static void teardown(void) { site_drop(); }
TestSuite(aside, .init = setup, .fini = teardown);

/* The files made aside for the bank by makers of PID pid (any PID for 0),
 * named BANK.new.PID.R or, by an older version, BANK.new.PID: how many,
 * and the path of the last into path (cap bytes). */
static int aside_files(pid_t pid, char *path, size_t cap)
{
    char dir[512], prefix[600];
    const char *bank = site_bank(), *base = strrchr(bank, '/');
    cr_assert(base);
    snprintf(dir, sizeof dir, "%.*s", (int)(base - bank), bank);
    int plen = snprintf(prefix, sizeof prefix, "%s.new.", base + 1);
    if (pid)
        plen += snprintf(prefix + plen, sizeof prefix - plen, "%d", (int)pid);
    DIR *d = opendir(dir);
    cr_assert(d, "%s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        const char *rest = e->d_name + plen;
        if (strncmp(e->d_name, prefix, plen) == 0 &&
            (!pid || *rest == 0 || *rest == '.')) {
            cr_assert_lt(snprintf(path, cap, "%s/%s", dir, e->d_name), (int)cap);
            n++;
        }
    }
    closedir(d);
    return n;
}

/* A process of a pid namespace of its own, PID 2 there: PID 1 is an init
 * that idles beside it, since an init ignores the signals it sends itself
 * (a crash point's SIGSTOP or SIGKILL).  Its keeper, here, waits for it. */
struct ns_proc {
    pid_t keeper; /* our child, in our pid namespace; its exit: fn's */
    pid_t pid;    /* the process, as our pid namespace numbers it */
    int status;   /* of its first stop or of its end, as waitpid gives */
};

/* The keeper: a namespace made, its init and fn's process started; tells
 * fd the process's pid and the status of its first stop or end, then
 * exits as fn did (100: no pid namespace can be made here). */
static void keep(int (*fn)(void), int fd)
{
    if (unshare(CLONE_NEWPID) < 0)
        _exit(100);
    pid_t init = fork();
    if (init == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;)
            pause();
    }
    pid_t p = init < 0 ? -1 : fork();
    if (p == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        _exit(fn());
    }
    /* on a failure here, init and p die with us (PR_SET_PDEATHSIG) */
    int st, msg[2];
    if (p < 0 || waitpid(p, &st, WUNTRACED) != p)
        _exit(98);
    msg[0] = p;
    msg[1] = st;
    if (write(fd, msg, sizeof msg) != sizeof msg ||
        (WIFSTOPPED(st) && waitpid(p, &st, 0) != p))
        _exit(98);
    kill(init, SIGKILL);
    waitpid(init, NULL, 0);
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

/* Run fn (its return: the exit status) as PID 2 of a new pid namespace,
 * until it stops or ends: 0, or 100 (skip) where no pid namespace can be
 * made here. */
static int in_pid_namespace(int (*fn)(void), struct ns_proc *np)
{
    int fds[2];
    pid_t test = getpid();
    cr_assert_eq(pipe(fds), 0);
    np->keeper = fork();
    cr_assert_geq(np->keeper, 0);
    if (np->keeper == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != test)
            _exit(97);
        close(fds[0]);
        keep(fn, fds[1]);
    }
    close(fds[1]);
    int msg[2];
    ssize_t n = read(fds[0], msg, sizeof msg);
    close(fds[0]);
    if (n != sizeof msg) {
        int r = wait_status(np->keeper);
        cr_assert_eq(r, 100, "the keeper of a pid namespace failed (%d)", r);
        return 100;
    }
    np->pid = msg[0];
    np->status = msg[1];
    return 0;
}

/* The process and its keeper killed and reaped: the failure path. */
static void ns_kill(const struct ns_proc *np)
{
    if (np->pid > 0) /* never -1: every process we may signal */
        kill(np->pid, SIGKILL);
    wait_status(np->keeper);
}

/* The sweep of the files made aside for the site's RAM bank. */
static int sweep_bank(void)
{
    char name[256];
    int dir = pmm__os_open_parent(site_bank(), name, sizeof name);
    if (dir < 0)
        return dir;
    int n = pmm__os_sweep_aside(dir, name);
    close(dir);
    return n;
}

static int sweep(void)
{
    int n = sweep_bank();
    return n < 0 ? 99 : n;
}

/* A remake of the bank, and one stopped or killed at the instant its
 * file made aside first has its name (aside.named). */
static int remake(void)
{
    return pmm_bank_remake(NULL, "RAM", NULL) == 0 ? 0 : 1;
}

static int remake_armed(int stop)
{
    setenv("HR_CRASHPOINT", "aside.named", 1);
    if (stop)
        setenv("HR_CRASHPOINT_STOP", "1", 1);
    pmm__crash_reset();
    return remake();
}

static int remake_stopped(void) { return remake_armed(1); }
static int remake_killed(void) { return remake_armed(0); }

/* A cold remake's maker stopped (crash point aside.named with
 * HR_CRASHPOINT_STOP=1) at the instant its file made aside first has its
 * name, ram.bank.new.PID.R: the file is whole and locked already, so a
 * sweep by a maker in another pid namespace, where PID names no process,
 * leaves it (before, the file was named at its creation and locked just
 * after: such a sweep could take a live maker's file in that instant).
 * Let go, the maker publishes its bank, and nothing is left aside. */
Test(aside, a_file_made_aside_is_locked_from_its_naming)
{
    char tmp[600];
    int st, fd;
    pmm_bank *b = bank_open(); /* the bank there, to be made anew */
    cr_assert_not_null(b);
    pid_t maker = fork();
    cr_assert_geq(maker, 0);
    if (maker == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never left stopped by a failure */
        _exit(remake_stopped());
    }
    cr_assert_eq(waitpid(maker, &st, WUNTRACED), maker);
    cr_assert(WIFSTOPPED(st), "the maker did not stop at aside.named (status "
              "%#x)", st);
    cr_assert_eq(aside_files(maker, tmp, sizeof tmp), 1, "its file not there");
    cr_assert_eq(pmm__os_open(tmp, 1, 0, &fd), 0, "%s not there", tmp);
    cr_assert_eq(pmm__os_lock_held(fd), 1, "named before it was locked");
    close(fd);
    struct ns_proc sweeper;
    if (in_pid_namespace(sweep, &sweeper) == 100) {
        kill(maker, SIGKILL);
        wait_status(maker);
        cr_skip_test("no pid namespace can be made here");
    }
    int n = wait_status(sweeper.keeper);
    cr_assert_eq(n, 0, "the sweep took %d files (status %d)", n, n);
    cr_assert_eq(access(tmp, F_OK), 0, "a live maker's file was taken");
    cr_assert_eq(kill(maker, SIGCONT), 0);
    cr_assert_eq(wait_status(maker), 0, "the remake failed");
    cr_assert_eq(aside_files(0, tmp, sizeof tmp), 0, "%s left", tmp);
    pmm_bank_close(b);
    cr_assert_eq(check_bank(), 0);
}

/* Killed at aside.named, a maker leaves its file beside the bank, whole
 * and unlocked (the bank itself untouched); the next maker's sweep
 * removes it. */
Test(aside, killed_at_aside_named_the_next_maker_removes_its_file)
{
    char tmp[600];
    pmm_bank *b = bank_open();
    cr_assert_not_null(b);
    pmm_bank_close(b);
    pid_t maker = fork();
    cr_assert_geq(maker, 0);
    if (maker == 0)
        _exit(remake_killed());
    cr_assert_eq(wait_status(maker), 128 + SIGKILL);
    cr_assert_eq(aside_files(maker, tmp, sizeof tmp), 1, "its file not left");
    cr_assert_eq(check_bank(), 0);
    cr_assert_eq(pmm_bank_remake(NULL, "RAM", NULL), 0);
    cr_assert_neq(access(tmp, F_OK), 0, "%s not removed", tmp);
    cr_assert_eq(check_bank(), 0);
}

/* Two makers of the bank with one PID, 2, each in a pid namespace of its
 * own (as two containers' controllers may be): A stopped at aside.named,
 * its file named and locked; B makes the bank anew to its end; then A
 * goes on.  Each file has a name of its own, so B neither removes A's
 * live file nor publishes it, and A's rename finds its own: both publish,
 * nothing is left aside, and the bank (A's, the last) checks clean.
 * (With BANK.new.PID alone, B unlinked A's file, of its own name, before
 * making its own: A's rename failed with ENOENT.) */
Test(aside, two_makers_with_one_pid_in_two_namespaces_both_publish)
{
    char tmp[600];
    pmm_bank_close(bank_open()); /* the bank there, to be made anew */
    struct ns_proc a, b;
    if (in_pid_namespace(remake_stopped, &a) == 100)
        cr_skip_test("no pid namespace can be made here");
    if (!WIFSTOPPED(a.status)) {
        ns_kill(&a);
        cr_assert_fail("A did not stop at aside.named (status %#x)", a.status);
    }
    if (aside_files(2, tmp, sizeof tmp) != 1) {
        ns_kill(&a);
        cr_assert_fail("A's file ram.bank.new.2 not there");
    }
    int r = in_pid_namespace(remake, &b) == 0 ? wait_status(b.keeper) : -1;
    if (r != 0) {
        ns_kill(&a);
        cr_assert_fail("B's remake failed (%d)", r);
    }
    cr_assert_eq(kill(a.pid, SIGCONT), 0);
    r = wait_status(a.keeper);
    cr_assert_eq(r, 0, "A's remake failed (%d): its file was taken", r);
    cr_assert_eq(aside_files(0, tmp, sizeof tmp), 0, "%s left", tmp);
    cr_assert_eq(check_bank(), 0);
}

/* Killed at aside.named, a maker of PID 2 leaves its file; the next
 * maker, PID 2 of another pid namespace, removes it: a name with its own
 * PID is not taken for its own, or for a live process's (the lock is
 * free), so a site whose makers are always one PID (a container's
 * controller, PID 1) is not left a bank-sized file at each such death. */
Test(aside, a_dead_makers_file_is_removed_by_a_maker_of_its_pid)
{
    char tmp[600];
    pmm_bank_close(bank_open());
    struct ns_proc a, b;
    if (in_pid_namespace(remake_killed, &a) == 100)
        cr_skip_test("no pid namespace can be made here");
    cr_assert_eq(wait_status(a.keeper), 128 + SIGKILL, "A not killed there");
    cr_assert_eq(aside_files(2, tmp, sizeof tmp), 1, "A's file not left");
    cr_assert_eq(in_pid_namespace(remake, &b), 0);
    cr_assert_eq(wait_status(b.keeper), 0, "B's remake failed");
    cr_assert_eq(aside_files(0, tmp, sizeof tmp), 0, "%s left", tmp);
    cr_assert_eq(check_bank(), 0);
}

/* A dead maker's file is swept in either form, BANK.new.PID.R and the
 * BANK.new.PID of an older version; a name of neither form is left. */
Test(aside, the_sweep_takes_both_forms_and_no_other_name)
{
    static const char *const forms[] = {
        "%s.new.%d.0123456789abcdef", "%s.new.%d", /* swept */
        "%s.new.%d.0123456789abcde", "%s.new.%d.0123456789abcdef0",
        "%s.new.%d.0123456789ABCDEF", "%s.new.%d.", "%s.new.%dx",
        "%s.new.0%d",
    };
    char path[8][600];
    pid_t dead = fork();
    cr_assert_geq(dead, 0);
    if (dead == 0)
        _exit(0);
    cr_assert_eq(wait_status(dead), 0); /* its PID names no process now */
    for (int i = 0; i < 8; i++) {
        int fd;
        snprintf(path[i], sizeof path[i], forms[i], site_bank(), (int)dead);
        cr_assert_eq(pmm__os_open(path[i], 0, 1, &fd), 0, "%s", path[i]);
        close(fd);
    }
    cr_assert_eq(sweep_bank(), 2);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(access(path[i], F_OK) == 0, i >= 2, "%s %s", path[i],
                     i < 2 ? "left" : "taken");
}

/* PID 1 of a pid namespace (an init: a container's controller) ignores
 * the SIGKILL it sends itself: a crash point armed there ended in an
 * endless pause().  It ends now as a kill would, by _exit(128 + SIGKILL),
 * leaving its file aside as a killed maker does, and the bank whole. */
Test(aside, a_crash_point_in_an_init_ends_it)
{
    int st;
    pid_t keeper = fork();
    cr_assert_geq(keeper, 0);
    if (keeper == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (unshare(CLONE_NEWPID) < 0)
            _exit(100);
        pid_t init = fork();
        if (init == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            setenv("HR_CRASHPOINT", "aside.named", 1);
            pmm__crash_reset();
            _exit(pmm_bank_remake(NULL, "RAM", NULL) == 0 ? 0 : 1);
        }
        if (init < 0 || waitpid(init, &st, 0) != init)
            _exit(98);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
    POLL_UNTIL(waitpid(keeper, &st, WNOHANG) == keeper,
               "the init at crash point aside.named to end");
    cr_assert(WIFEXITED(st));
    if (WEXITSTATUS(st) == 100)
        cr_skip_test("no pid namespace can be made here");
    cr_assert_eq(WEXITSTATUS(st), 128 + SIGKILL, "the init ended with %d",
                 WEXITSTATUS(st));
    /* as a killed maker: its file left aside (for the next maker of its
     * PID: a_dead_makers_file_is_removed_by_a_maker_of_its_pid), the
     * bank untouched */
    char path[600];
    cr_assert_eq(aside_files(1, path, sizeof path), 1, "its file not left");
    cr_assert_eq(check_bank(), 0);
    cr_assert_eq(remake(), 0);
    cr_assert_eq(check_bank(), 0);
}
