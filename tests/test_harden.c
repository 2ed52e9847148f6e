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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "ctl_helpers.h"
#include "proto.h"

static char out[65536];
static const char *site;

static void up(void)
{
    site = site_new(0, 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
}

static void down(void)
{
    run_hr(NULL, 0, "site", "stop", NULL);
    site_drop();
}

TestSuite(harden, .init = up, .fini = down, .timeout = 120);

/* The descriptors a process holds open; with sockets 0, those other than
 * sockets (the controller closes a connection after its reply, so the
 * caller may still see it). */
static int fd_count(int pid, int sockets)
{
    char path[64], link[384], to[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s: %s", path, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(link, sizeof link, "%s/%s", path, e->d_name);
        ssize_t k = readlink(link, to, sizeof to - 1);
        to[k > 0 ? k : 0] = 0;
        n += sockets || strncmp(to, "socket:", 7) != 0;
    }
    closedir(d);
    return n;
}

/* A connection to the site's controller, not yet used. */
static int conn(void)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/control.sock", site);
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    cr_assert(s >= 0);
    cr_assert_eq(connect(s, (struct sockaddr *)&a, sizeof a), 0, "connect: %s",
                 strerror(errno));
    return s;
}

/* Send len bytes (maybe none) with fd passed alongside; the controller's
 * answer, or -EPIPE when it hung up without one. */
static int send_with_fd(const void *msg, size_t len, int fd)
{
    int s = conn();
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } c;
    memset(&c, 0, sizeof c);
    struct iovec iov = {(void *)msg, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
                       .msg_controllen = sizeof c.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    cr_assert_eq(sendmsg(s, &m, MSG_NOSIGNAL), (ssize_t)len, "sendmsg: %s",
                 strerror(errno));
    struct hr_msg_hdr h;
    ssize_t n = recv(s, &h, sizeof h, 0);
    close(s);
    return n == (ssize_t)sizeof h ? h.arg : -EPIPE;
}

Test(harden, descriptors_passed_with_an_empty_message_are_closed)
{
    int pid = hr_ping(NULL);
    cr_assert(pid > 0);
    int before = fd_count(pid, 0);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    for (int i = 0; i < 300; i++) /* empty, and a header too short */
        send_with_fd("", i % 2 ? 0 : 1, p[1]);
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
        c[i] = conn();
    /* a client and an actor still get through */
    cr_assert_gt(hr_ping(NULL), 0);
    refresh();
    cr_assert(pid_of("test_actor") > 0, "%s", ps);
    char path[512];
    snprintf(path, sizeof path, "%s/cmd.idle", site);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("exit", f);
    fclose(f);
    /* its HR_EXIT_HDL got through: a clean exit ends the group, no restart */
    WAIT_FOR(strstr(ps, "\"groups\": []"), "the idle group to end");
    cr_assert_eq(runs_of("keep.idle", -1), 1, "it was never restarted");
    /* and an idle connection is hung up on, in time */
    char b;
    cr_assert_eq(recv(c[IDLE - 1], &b, 1, 0), 0);
    for (int i = 0; i < IDLE; i++)
        close(c[i]);
}

static char *console(void)
{
    static char buf[262144];
    char path[512];
    snprintf(path, sizeof path, "%s/console.log", site);
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    return buf;
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
    WAIT_FOR(!ps[0] || (pid_of("sleep") > 0 && pid_of("sleep") != old),
             "the group to be restarted or the site to stop");
    char *log = console();
    cr_assert(strstr(log, "Too many open files"), "%s", log);
    cr_assert(strstr(log, "a member could not start: restarting it"), "%s",
              log);
    cr_assert(strstr(log, "site restart: group 0 failed more than"), "%s",
              log);
}
