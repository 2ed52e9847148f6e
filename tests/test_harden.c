/* SPDX-License-Identifier: MIT */
/*
 * test_harden.c - the controller under attack and at its limits (issue
 * 17): descriptors passed with nothing else, idle connections, owner-only
 * site files, restarts that fail.  A real hrd in a throwaway site.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "ctl_helpers.h"
#include "ctl_raw.h"

static char out[65536];
static const char *site;

static void up(void) { site = site_up(out, sizeof out); }

TestSuite(harden, .init = up, .fini = site_stop_drop, .timeout = 120);

/* The descriptors a process holds open; with sockets 0, those other than
 * sockets. */
static int fd_count(int pid, int sockets)
{
    int files, all;
    fds_of(pid, &files, &all);
    return sockets ? all : files;
}

Test(harden, descriptors_passed_with_an_empty_message_are_closed)
{
    int pid = hr_ping(NULL);
    cr_assert(pid > 0);
    int before = fd_count(pid, 0);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    for (int i = 0; i < 300; i++) /* empty, and a header too short */
        ctl_send_fd("", i % 2 ? 0 : 1, p[1]);
    close(p[1]);
    cr_assert_eq(hr_ping(NULL), pid, "the same controller still serves");
    int after = fd_count(pid, 0);
    cr_assert_eq(after, before, "hrd held %d descriptors, now %d", before,
                 after);
    /* the controller kept no copy of the write end: the pipe reads EOF */
    char b;
    cr_assert_eq(read(p[0], &b, 1), 0);
    close(p[0]);
}

/* A descriptor the controller's starter left open (fd 57, not
 * close-on-exec, as a careless shell or service manager leaves one) never
 * reaches an actor: actors get their standard streams and what the
 * controller gives them, nothing else. */
Test(harden, an_inherited_descriptor_reaches_no_actor)
{
    run_hr(NULL, 0, "site", "stop", NULL);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(dup2(p[1], 57), 57);
    close(p[1]);
    int r = run_hr(out, sizeof out, "site", "start", NULL);
    close(57); /* the test keeps no copy: only a holder elsewhere would */
    cr_assert_eq(r, 0, "%s", out);
    char script[2048], seen[512], ran[512];
    snprintf(seen, sizeof seen, "%s/fd57-seen", site);
    snprintf(ran, sizeof ran, "%s/fd57-ran", site);
    snprintf(script, sizeof script,
             "if [ -e /proc/self/fd/57 ]; then : > %s; fi; : > %s; "
             "exec sleep 100", seen, ran);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "3", "/bin/sh", "-c",
                        script, NULL), 0, "%s", out);
    POLL_UNTIL(access(ran, F_OK) == 0, "the actor's first line");
    cr_assert_neq(access(seen, F_OK), 0, "the actor got fd 57");
    close(p[0]);
}

Test(harden, every_site_file_is_owner_only)
{
    run_hr(NULL, 0, "site", "stop", NULL);
    site_drop();
    site = site_new(0, 0);
    char disk[300], path[600];
    snprintf(disk, sizeof disk, "%s.disk", site);
    umask(0); /* what the files are made with is the code's doing alone */
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--diskbank", disk,
                        "--max-badness", "7", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "0", "/bin/sleep", "30",
                        NULL), 0, "%s", out);
    snprintf(path, sizeof path, "%s/sysadm.ini", site);
    DIR *d = opendir(site);
    cr_assert_not_null(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", site, e->d_name);
        cr_assert_eq(lstat(path, &st), 0);
        cr_assert_eq(st.st_mode & 077, 0, "%s is mode %o", path,
                     st.st_mode & 07777);
        files++;
    }
    closedir(d);
    cr_assert_geq(files, 5, "ram.bank, site.conf, the lock, log and socket");
    struct stat st;
    cr_assert_eq(stat(disk, &st), 0);
    cr_assert_eq(st.st_mode & 077, 0, "%s is mode %o", disk, st.st_mode & 07777);
    unlink(disk);
}

static int runs_is(const char *block, int n)
{
    return runs_of(block, 0) == n;
}

Test(harden, idle_connections_lock_nobody_out)
{
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "0", ACTOR_BIN, "idle",
                        NULL), 0, "%s", out);
    WAIT_FOR(runs_is("idle", 1), "the actor's first run");
    enum { IDLE = 300 };
    int c[IDLE];
    for (int i = 0; i < IDLE; i++)
        c[i] = ctl_connect();
    /* a client and an actor still get through */
    cr_assert_gt(hr_ping(NULL), 0);
    refresh();
    cr_assert(pid_of("test_actor") > 0, "%s", ps);
    actor_command("idle", "exit");
    /* its HR_EXIT_HDL got through: a clean exit ends the group, no restart */
    WAIT_FOR(strstr(ps, "\"groups\": []"), "the idle group to end");
    cr_assert_eq(runs_of("keep.idle", -1), 1, "it was never restarted");
    /* and an idle connection is hung up on, in time */
    char b;
    cr_assert_eq(recv(c[IDLE - 1], &b, 1, 0), 0);
    for (int i = 0; i < IDLE; i++)
        close(c[i]);
}

/* The site's controller is gone for good: the site failed, or a fresh
 * controller could not start either (no answer also comes while one
 * controller replaces another, whose pid lives on: not that). */
static int site_down(void)
{
    hr_site_state st;
    return !ps[0] && hr_ping(NULL) < 0 &&
           hr_site_status(NULL, &st, NULL, 0) == 0 &&
           st.state != HR_SITE_RUNNING;
}

/* A restart that fails for want of descriptors ("Too many open files" at
 * fork time) is a failure under the policy: retried, then escalated. */
Test(harden, a_restart_that_cannot_start_is_retried_then_escalated)
{
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "0", "/bin/sleep",
                        "1000", NULL), 0, "%s", out);
    WAIT_FOR(pid_of("sleep") > 0, "sleep to run");
    int old = pid_of("sleep"), hrd = hr_ping(NULL);
    cr_assert_gt(hrd, 0);
    /* one descriptor number to spare (the lowest free: descriptors are
     * given lowest first, and the limit bounds their numbers): a request
     * still gets through, a restart's /dev/null and exec pipe do not */
    char path[64];
    int spare = 0;
    do
        snprintf(path, sizeof path, "/proc/%d/fd/%d", hrd, spare++);
    while (lstat(path, &(struct stat){0}) == 0);
    struct rlimit lim;
    lim.rlim_cur = lim.rlim_max = (rlim_t)spare;
    cr_assert_eq(prlimit(hrd, RLIMIT_NOFILE, &lim, NULL), 0, "%s",
                 strerror(errno));
    cr_assert_eq(kill(old, SIGKILL), 0);
    /* retried until the policy escalates: a site restart (whose fresh
     * controller may start it again, or fail and stop the site) */
    WAIT_FOR(site_down() || (pid_of("sleep") > 0 && pid_of("sleep") != old),
             "the group to be restarted or the site to stop");
    char *log = console();
    cr_assert(strstr(log, "Too many open files"), "%s", log);
    cr_assert(strstr(log, "a member could not start: restarting it"), "%s",
              log);
    cr_assert(strstr(log, "site restart: group 0 failed more than"), "%s",
              log);
}

/* The uid and gid of a second user (made once), for the attacks below. */
static void other_user(uid_t *uid, gid_t *gid)
{
    struct passwd *pw = second_user();
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
}

/* A directory that another user may write in, as the attacks need. */
static const char *open_parent(char *buf, size_t cap)
{
    snprintf(buf, cap, "/dev/shm/hrswap.XXXXXX");
    cr_assert_not_null(mkdtemp(buf));
    cr_assert_eq(chmod(buf, 0777), 0);
    return buf;
}

/* Start hrd (beside hr) on $HR_SITE, as a child: its pid once it says it
 * is ready, or 0 when it refused to start (and has exited). */
static pid_t hrd_start(void)
{
    char hrd[512], fd[16], b;
    int p[2];
    snprintf(hrd, sizeof hrd, "%s", HR_BIN);
    strcpy(strrchr(hrd, '/') + 1, "hrd");
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        snprintf(fd, sizeof fd, "%d", p[1]);
        dup2(open("/dev/null", O_WRONLY), 2); /* its refusals: counted */
        execl(hrd, "hrd", "--ready-fd", fd, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    ssize_t n = read(p[0], &b, 1);
    close(p[0]);
    if (n == 1)
        return pid;
    cr_assert_eq(wait_status(pid), 1, "hrd refused to start, and said so");
    return 0;
}

/* Every entry of dir (a path, whichever directory it names now) belongs to
 * the owner of dir: root made nothing in another user's directory. */
static void only_owner_files(const char *dir)
{
    struct stat st, e;
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    cr_assert_eq(fstat(dirfd(d), &st), 0);
    struct dirent *en;
    while ((en = readdir(d))) {
        if (en->d_name[0] == '.')
            continue;
        cr_assert_eq(fstatat(dirfd(d), en->d_name, &e, AT_SYMLINK_NOFOLLOW), 0);
        cr_assert_eq(e.st_uid, st.st_uid, "%s/%s is uid %d's, in uid %d's "
                     "directory", dir, en->d_name, e.st_uid, st.st_uid);
    }
    closedir(d);
}

/* Issue 17 item 1, as the attack was done: another user swaps (renameat2
 * RENAME_EXCHANGE) the site directory with one of theirs while root starts
 * the controller, again and again.  Root's hrd either runs the site it was
 * given or refuses; it never runs their sysadm.ini nor makes a file in
 * their directory. */
Test(harden, a_site_swapped_during_start_is_never_entered)
{
    char parent[64], evil[128], mine[128], pwned[128], ini[160];
    uid_t uid;
    gid_t gid;
    other_user(&uid, &gid);
    run_hr(NULL, 0, "site", "stop", NULL);
    open_parent(parent, sizeof parent);
    snprintf(mine, sizeof mine, "%s/site", parent);
    snprintf(evil, sizeof evil, "%s/evil", parent);
    snprintf(pwned, sizeof pwned, "%s/pwned", parent);
    setenv("HR_SITE", mine, 1);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    pid_t swapper = fork();
    if (swapper == 0) {
        if (setgid(gid) || setuid(uid) || mkdir(evil, 0700))
            _exit(10);
        snprintf(ini, sizeof ini, "%s/sysadm.ini", evil);
        FILE *f = fopen(ini, "w");
        if (!f || fprintf(f, "/usr/bin/touch %s\n", pwned) < 0 || fclose(f))
            _exit(11);
        for (;;)
            syscall(SYS_renameat2, AT_FDCWD, mine, AT_FDCWD, evil,
                    RENAME_EXCHANGE);
    }
    int started = 0, refused = 0;
    for (int i = 0; i < 40; i++) { /* hrd itself: the tool is not tested */
        pid_t hrd = hrd_start();
        if (!hrd) {
            refused++;
            continue;
        }
        kill(hrd, SIGTERM);
        cr_assert_eq(wait_status(hrd), 0, "stopped on SIGTERM");
        started++;
    }
    kill(swapper, SIGKILL);
    wait_status(swapper);
    cr_assert_eq(access(pwned, F_OK), -1, "root ran the other user's "
                 "sysadm.ini (%d starts, %d refused)", started, refused);
    only_owner_files(mine);
    only_owner_files(evil);
    cr_log_info("%d starts, %d refused\n", started, refused);
    cr_assert_gt(started, 0);
    cr_assert_gt(refused, 0, "the swap never won: nothing was tried");
    snprintf(out, sizeof out, "rm -rf '%s'", parent);
    cr_assert_eq(system(out), 0);
    setenv("HR_SITE", site, 1);
}

/* hr site create makes missing parts of the path, but follows no link that
 * another user could have put (or swapped) in an earlier part. */
Test(harden, site_create_follows_no_planted_link)
{
    char parent[64], link[128], target[128], path[200];
    uid_t uid;
    gid_t gid;
    other_user(&uid, &gid);
    open_parent(parent, sizeof parent);
    snprintf(target, sizeof target, "%s.root", parent);
    cr_assert_eq(mkdir(target, 0700), 0); /* root's, out of their reach */
    snprintf(link, sizeof link, "%s/link", parent);
    pid_t pid = fork();
    if (pid == 0)
        _exit(setgid(gid) || setuid(uid) || symlink(target, link) ? 10 : 0);
    cr_assert_eq(wait_status(pid), 0);
    snprintf(path, sizeof path, "%s/new/site", link);
    setenv("HR_SITE", path, 1);
    cr_assert_neq(run_hr(out, sizeof out, "site", "create", NULL), 0);
    cr_assert_neq(run_hr(out, sizeof out, "site", "start", NULL), 0);
    snprintf(path, sizeof path, "%s/new", target);
    cr_assert_eq(access(path, F_OK), -1, "made %s through the link", path);
    /* missing parts of a path of ours are made, owner-only */
    snprintf(path, sizeof path, "%s/a/b/site", target);
    setenv("HR_SITE", path, 1);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    struct stat st;
    snprintf(path, sizeof path, "%s/a", target);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    snprintf(out, sizeof out, "rm -rf '%s' '%s'", parent, target);
    cr_assert_eq(system(out), 0);
    setenv("HR_SITE", site, 1);
}

/* The lowest descriptor number pid does not use: the next it would get. */
static int lowest_free_fd(int pid)
{
    char path[64];
    for (int fd = 0;; fd++) {
        snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, fd);
        if (access(path, F_OK) != 0)
            return fd;
    }
}

/* Out of descriptors, the controller hangs up on a newcomer (its client
 * hears at once) instead of leaving it in the backlog while its loop spins
 * on a listening socket that stays readable; it serves again once it has
 * descriptors. */
Test(harden, a_controller_out_of_descriptors_hangs_up_and_recovers)
{
    int pid = hr_ping(NULL);
    cr_assert_gt(pid, 0);
    struct rlimit old, none;
    cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, NULL, &old), 0);
    none = old;
    /* a descriptor the controller frees between the limit and the connect
     * (a loaded machine's late close) lets it accept: the connection then
     * ends idle (HRD_IDLE_MS), not refused; the limit is set again then,
     * a few times at most */
    for (int tries = 0; tries < 5 && !strstr(console(), "out of file "
                                                        "descriptors");
         tries++) {
        struct poll_wait w = poll_begin("the controller's descriptors to "
                                        "settle");
        do { /* every slot below the limit taken, once the connections
                of the start and of the ping above are closed */
            int was;
            do {
                was = lowest_free_fd(pid);
                poll_pause(&w, NULL);
            } while (lowest_free_fd(pid) != was);
            none.rlim_cur = (rlim_t)was;
            cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, &none, NULL), 0,
                         "prlimit: %s", strerror(errno));
        } while ((rlim_t)lowest_free_fd(pid) != none.rlim_cur);
        int s = ctl_connect();
        struct timeval tv = {.tv_sec = 30}; /* a bound, not a figure */
        cr_assert_eq(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv),
                     0);
        char b;
        errno = 0;
        ssize_t n = recv(s, &b, 1, 0);
        cr_assert(n == 0 || (n < 0 && errno == ECONNRESET),
                  "the client was left waiting (%zd, %s)", n, strerror(errno));
        close(s);
    }
    cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, &old, NULL), 0);
    cr_assert_eq(hr_ping(NULL), pid, "served again once descriptors came free");
    cr_assert(strstr(console(), "out of file descriptors"), "%s", console());
}

/* The "Max open files" soft limit of pid, or -1. */
static long nofile_soft(int pid)
{
    char path[64], line[256];
    long soft = -1;
    snprintf(path, sizeof path, "/proc/%d/limits", pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Max open files %ld", &soft) == 1)
            break;
    fclose(f);
    return soft;
}

/* A controller holds a few descriptors for each of up to 256 actors: it
 * takes the hard limit for itself, and its actors get the soft limit it
 * was started with. */
Test(harden, the_controller_raises_its_descriptor_limit_and_not_its_actors)
{
    site_stop_drop(); /* the suite's site, started under the usual limit */
    struct rlimit r;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &r), 0);
    cr_assert_gt(r.rlim_max, 300, "a hard limit to raise to");
    r.rlim_cur = 200;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &r), 0, "%s", strerror(errno));
    site = site_new(0, 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    int pid = hr_ping(NULL);
    cr_assert_gt(pid, 0);
    cr_assert_eq(nofile_soft(pid), r.rlim_max == RLIM_INFINITY ? -1
                                                                : (long)r.rlim_max,
                 "the controller's soft limit is its hard one");
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "0", ACTOR_BIN, "lim",
                        NULL), 0, "%s", out);
    WAIT_FOR(pid_of("test_actor") > 0, "the actor");
    cr_assert_eq(nofile_soft(pid_of("test_actor")), 200,
                 "the actor has the limit the controller was started with");
}

/* A user's site under a directory they may only pass through (mode 0711,
 * as home directories often are): made and started, no EACCES for a
 * directory that need not be read. */
Test(harden, a_site_under_a_traversable_only_parent)
{
    char top[64], mine[96], path[160];
    uid_t uid;
    gid_t gid;
    other_user(&uid, &gid);
    snprintf(top, sizeof top, "/dev/shm/hrt711.XXXXXX");
    cr_assert_not_null(mkdtemp(top));
    cr_assert_eq(chmod(top, 0711), 0);
    snprintf(mine, sizeof mine, "%s/home", top);
    cr_assert_eq(mkdir(mine, 0700), 0);
    cr_assert_eq(chown(mine, uid, gid), 0);
    snprintf(path, sizeof path, "%s/site", mine);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(gid) || setuid(uid))
            _exit(10);
        setenv("HR_SITE", path, 1);
        int r = run_hr(out, sizeof out, "site", "create", NULL);
        if (r == 0 && (r = run_hr(out, sizeof out, "site", "start", NULL)) == 0)
            r = run_hr(out, sizeof out, "site", "stop", NULL);
        if (r != 0)
            fprintf(stderr, "hr: %s\n", out);
        _exit(r);
    }
    int st = wait_status(pid);
    snprintf(out, sizeof out, "rm -rf '%s'", top);
    cr_assert_eq(system(out), 0);
    cr_assert_eq(st, 0, "hr site create, start and stop as another user "
                        "under a 0711 parent");
}

/* Write to process pid's descriptor of its image (an anonymous file), as
 * the process itself could, through /proc: 0 written, else -errno. */
static int write_image_of(int pid)
{
    char dir[64], link[340], target[256];
    snprintf(dir, sizeof dir, "/proc/%d/fd", pid);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    int r = -ENOENT;
    while (r == -ENOENT && (e = readdir(d))) {
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0 || (target[n] = 0, !strstr(target, "memfd:")))
            continue;
        int fd = open(link, O_RDWR);
        r = fd < 0 ? -errno : pwrite(fd, "#!/bin/false\n", 13, 0) < 0 ? -errno : 0;
        if (fd >= 0)
            close(fd);
    }
    closedir(d);
    return r;
}

/* No actor changes the image it is restarted from.  A "#!" program (any
 * program that is not ELF) keeps its image's descriptor (the kernel names
 * the script /dev/fd/N to its interpreter), and it could open it again
 * for writing through /proc: its writes are refused (the anonymous file
 * is sealed), and its restart runs the same script.  An ELF program holds
 * no descriptor of its image at all. */
Test(harden, no_actor_changes_its_stored_image)
{
    char script[4300], buf[32];
    script_file(script, sizeof script, site, "selfwrite.sh",
                "#!/bin/sh\nn=$(($(cat %s/runs 2>/dev/null || echo 0) + 1))\n"
                "echo $n > %s/runs.new; mv %s/runs.new %s/runs\n"
                "exec sleep 1000\n", site, site, site, site);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "0", script, NULL), 0,
                 "%s", out);
    POLL_UNTIL(site_file("runs", buf, sizeof buf) && atoi(buf) == 1,
               "the script's first run");
    WAIT_FOR(pid_of("selfwrite.sh") > 0, "the script's process");
    int pid = pid_of("selfwrite.sh");
    cr_assert(fds_naming(pid, "memfd:"), "a #! program keeps its image");
    int r = write_image_of(pid);
    cr_assert_eq(r, -EPERM, "a write to its image: %s",
                 r ? strerror(-r) : "written");
    cr_assert_eq(kill(pid, SIGKILL), 0);
    POLL_UNTIL(site_file("runs", buf, sizeof buf) && atoi(buf) == 2,
               "the script's second run, from its stored image");
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "/bin/sleep",
                        "1000", NULL), 0, "%s", out);
    WAIT_FOR(pid_of("sleep") > 0, "the ELF actor");
    cr_assert(!fds_naming(pid_of("sleep"), "memfd:"),
              "an ELF program holds a descriptor of its image");
}

/* Where memfds are made no-exec unless they say otherwise (the sysctl
 * vm.memfd_noexec = 1, per pid namespace, Linux 6.3 and later), actors
 * still start: the image's copy is made executable outright.  (Before,
 * every start failed: "not an executable file".)  Where none may be
 * executable (2), the start fails saying so.  The controller runs in
 * a pid namespace of its own with the sysctl set there, so that nothing
 * else on the machine sees it. */
Test(harden, actors_start_where_memfds_are_no_exec_by_default)
{
    if (access("/proc/sys/vm/memfd_noexec", F_OK) != 0)
        cr_skip_test("no vm.memfd_noexec here (Linux before 6.3)");
    run_hr(NULL, 0, "site", "stop", NULL);
    char script[1024];
    snprintf(script, sizeof script,
             "echo 1 > /proc/sys/vm/memfd_noexec || exit 77; "
             "%s site start && %s arun -g 1 /bin/sleep 100 && "
             "%s site stop", HR_BIN, HR_BIN, HR_BIN);
    char *argv[] = {"/usr/bin/unshare", "--pid", "--fork", "--mount-proc",
                    "/bin/sh", "-c", script, NULL};
    int r = run_all(out, sizeof out, 0, 0, argv);
    if (r == 77 || r == 127 || (r != 0 && strstr(out, "unshare: ")))
        cr_skip_test("no pid namespace with its own /proc and the sysctl "
                     "set there: %s", out);
    cr_assert_eq(r, 0, "in a pid namespace with vm.memfd_noexec=1: %s", out);
    /* at 2 no memfd may be executed: a new actor's start fails, saying
     * why (group 1's, from the registry, fails and backs off) */
    snprintf(script, sizeof script,
             "echo 2 > /proc/sys/vm/memfd_noexec || exit 77; "
             "%s site start || exit 3; %s arun -g 2 /bin/sleep 100; r=$?; "
             "%s site stop; exit $r", HR_BIN, HR_BIN, HR_BIN);
    r = run_all(out, sizeof out, 0, 0, argv);
    cr_assert_eq(r, 1, "the arun (exit 1, its failure) with "
                 "vm.memfd_noexec=2: %s", out);
    cr_assert(strstr(out, "vm.memfd_noexec is 2"), "%s", out);
}
