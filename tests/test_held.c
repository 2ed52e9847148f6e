/* SPDX-License-Identifier: MIT */
/*
 * test_held.c - a listening socket kept across a controller's end (taken
 * back from a crashed one's actors, or passed by a site restart's exec)
 * outlives a start of its actor that fails on another of its addresses:
 * the clients waiting in its backlog are served by the next start, not
 * reset (daemon/held.c, hrd_held_take and the pool).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "ctl_helpers.h"

static char out[65536];
static const char *site;

/* Without cgroups: the next controller finds the old actors through the
 * registry, as everywhere. */
static void up(void)
{
    site = site_new(0, 0);
    setenv("HRD_CGROUPS", "off", 1);
}

TestSuite(held, .init = up, .fini = site_stop_drop, .timeout = 300);

/* A socket on 127.0.0.1:port, listening (listen) or connected to it. */
static int tcp(int port, int listen_)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    cr_assert_geq(s, 0);
    if (!listen_) {
        cr_assert_eq(connect(s, (struct sockaddr *)&a, sizeof a), 0,
                     "connect to %d: %s", port, strerror(errno));
        return s;
    }
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0, "bind %d: %s",
                 port, strerror(errno));
    cr_assert_eq(listen(s, 16), 0);
    return s;
}

/* What the connection c got: 1 an answer (into buf), -1 an end or an
 * error (errno in *err), 0 nothing yet. */
static int answer(int c, char *buf, size_t cap, int *err)
{
    ssize_t k = recv(c, buf, cap - 1, MSG_DONTWAIT);
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    *err = k < 0 ? errno : 0;
    buf[k > 0 ? k : 0] = 0;
    return k > 0 ? 1 : -1;
}

/* The client waiting in the backlog of c is served by the actor's start
 * once port b is free (the foreign socket on it closed) and the file
 * SITE/serve lets `tree_actor hold` accept. */
static void served_once_free(int c, int foreign)
{
    char buf[64], path[600];
    int err = 0, got;
    WAIT_FOR(strstr(console(), "cannot listen on") &&
             (strstr(ps, "\"backoff\": {\"fails\": ") ||
              strstr(console(), "not started")),
             "the start to fail, its other address taken");
    got = answer(c, buf, sizeof buf, &err);
    cr_assert_eq(got, 0, "the waiting client was %s by the failed start",
                 got > 0 ? "answered" : strerror(err));
    snprintf(path, sizeof path, "%s/serve", site);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    close(fd);
    close(foreign);
    snprintf(path, sizeof path, "%s/go", site); /* (sysadm.ini's wait) */
    close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    WAIT_FOR(pid_of("tree_actor") > 0, "the group to start once the port is free");
    POLL_UNTIL((got = answer(c, buf, sizeof buf, &err)) != 0,
               "an answer to the client that waited");
    cr_assert_eq(got, 1, "the client that waited got %s, not an answer:\n%s",
                 err ? strerror(err) : "an end", console());
    cr_assert_eq(atoi(buf), pid_of("tree_actor"), "answered by '%s'", buf);
    close(c);
}

/* A site whose policy never fails it, running `tree_actor hold` on
 * addresses a and b, once it has closed its socket on b. */
static void hold_first_of(const char *a, const char *b)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "set", "hrCtrl.maxBadness=1000000",
                        NULL), 0, "%s", out);
    site_start(out, sizeof out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--listen", a,
                        "--listen", b, TREE_BIN, "hold", site, NULL), 0, "%s", out);
    WAIT_FOR(pid_of("tree_actor") > 0, "the actor");
    char fd4[64];
    snprintf(fd4, sizeof fd4, "/proc/%d/fd/4", pid_of("tree_actor"));
    POLL_UNTIL(access(fd4, F_OK) != 0, "the actor to close its second socket");
}

/* An actor whose second address another program took while its
 * controller was dead (the actor had closed that socket): the next
 * controller takes the first back, the start fails on the second and
 * backs off; the first socket waits, its client in the backlog, and the
 * start that follows once the port is free serves that client. */
Test(held, a_socket_taken_back_waits_for_the_start_that_can_use_it)
{
    int pa = free_port(), pb = free_port();
    char a[64], b[64];
    snprintf(a, sizeof a, "tcp:127.0.0.1:%d", pa);
    snprintf(b, sizeof b, "tcp:127.0.0.1:%d", pb);
    cr_assert_neq(pa, pb);
    hold_first_of(a, b);
    int c = tcp(pa, 0); /* waits: the actor accepts nothing yet */
    ctl_crash_controller();
    int foreign = tcp(pb, 1); /* nobody holds the second address now */
    site_start(out, sizeof out);
    WAIT_FOR(strstr(console(), "cannot listen on"), "the start to fail");
    /* another actor asking for the first address meanwhile is refused,
     * saying who it waits for, and does not take it (nor connect to it:
     * the waiting client stays the first in its backlog) */
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "2", "--name", "z",
                        "--listen", a, TREE_BIN, "serve", site, NULL), 1,
                 "%s", out);
    cr_assert(strstr(console(), "actor z: cannot listen on") &&
              strstr(console(), "holds it for actor tree_actor's next start"),
              "%s", console());
    served_once_free(c, foreign);
    cr_assert(strstr(console(), "took 1 listening socket back"), "%s", console());
}

/* The same with a unix socket, which the actor holds twice (a dup()):
 * both copies are taken back, as one socket, so that the copy the start
 * does not take is not closed later with its file removed under the
 * actor that serves it.  New clients still find the file once it runs. */
Test(held, a_unix_socket_taken_back_keeps_its_file)
{
    int pb = free_port();
    char a[620], b[64], path[600];
    struct sockaddr_un u = {.sun_family = AF_UNIX};
    snprintf(path, sizeof path, "%s/a.sock", site);
    cr_assert_lt(strlen(path), sizeof u.sun_path);
    strcpy(u.sun_path, path);
    snprintf(a, sizeof a, "unix:%s", path);
    snprintf(b, sizeof b, "tcp:127.0.0.1:%d", pb);
    hold_first_of(a, b);
    int c[2];
    for (int i = 0; i < 2; i++) {
        c[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(c[i], 0);
        if (i == 0) /* waits: the actor accepts nothing yet */
            cr_assert_eq(connect(c[0], (struct sockaddr *)&u, sizeof u), 0,
                         "%s: %s", path, strerror(errno));
    }
    ctl_crash_controller();
    int foreign = tcp(pb, 1);
    site_start(out, sizeof out);
    served_once_free(c[0], foreign);
    cr_assert(strstr(console(), "took 1 listening socket back"), "%s", console());
    cr_assert_eq(connect(c[1], (struct sockaddr *)&u, sizeof u), 0,
                 "a new client of %s: %s\n%s", path, strerror(errno), console());
    char buf[64];
    int err = 0, got;
    POLL_UNTIL((got = answer(c[1], buf, sizeof buf, &err)) != 0,
               "an answer to the new client");
    cr_assert_eq(got, 1, "the new client got %s", err ? strerror(err) : "an end");
    close(c[1]);
}

/* A cold restart passes the held socket to the fresh controller; the
 * start-up file, changed meanwhile, asks for it with a second address a
 * foreign socket holds: that arun fails, and a later line asks again once
 * the port is free (sysadm.ini's command waits for SITE/go).  The client
 * that waited in the backlog since before the restart is answered. */
Test(held, a_socket_passed_by_a_cold_restart_outlives_a_failed_arun)
{
    int pa = free_port(), pb = free_port();
    char ini[600];
    cr_assert_neq(pa, pb);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    snprintf(ini, sizeof ini, "%s/sysadm.ini", site);
    FILE *f = fopen(ini, "w");
    cr_assert_not_null(f);
    fprintf(f, "arun -g 1 --listen tcp:127.0.0.1:%d %s A\n", pa, ACTOR_BIN);
    fclose(f);
    site_start(out, sizeof out);
    WAIT_FOR(strstr(console(), "actor A run 1 settled"), "the first actor");
    int c = tcp(pa, 0); /* waits: test_actor accepts nothing */
    int foreign = tcp(pb, 1);
    f = fopen(ini, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 2; i++) {
        fprintf(f, "arun -g 1 --listen tcp:127.0.0.1:%d --listen "
                "tcp:127.0.0.1:%d %s hold %s\n", pa, pb, TREE_BIN, site);
        if (i == 0)
            fprintf(f, "/bin/sh -c 'until [ -e %s/go ]; do sleep 0.01; "
                    "done'\n", site);
    }
    fclose(f);
    cr_assert_eq(run_hr(out, sizeof out, "site", "restart", "--cold", NULL), 0,
                 "%s", out);
    served_once_free(c, foreign);
}

/* An address the controller cannot listen on is named as the reason, not
 * the program (before: "/bin/sleep: its program interpreter ... does not
 * exist" for a unix: path in a missing directory), and a relative unix:
 * path is the caller's, not the controller's directory ("/"). */
Test(held, a_listen_that_cannot_be_had_is_said_as_such)
{
    char buf[8192], sock[600];
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    snprintf(sock, sizeof sock, "%s/sysadm.ini", site);
    FILE *f = fopen(sock, "w");
    cr_assert_not_null(f);
    fprintf(f, "arun -g 3 --listen unix:ini.sock /bin/sleep 100\n");
    fclose(f);
    site_start(out, sizeof out);
    cr_assert(strstr(console(), "cannot listen on unix:ini.sock: a unix: path "
                                "must be absolute"), "%s", console());
    cr_assert_eq(access("/ini.sock", F_OK), -1, "bound in the controller's /");
    char *const gone[] = {HR_BIN, "arun", "-g", "1", "--listen",
                          "unix:/nonexistent-dir/x.sock", "/bin/sleep", "100",
                          NULL};
    cr_assert_eq(run_all(buf, sizeof buf, 0, 0, gone), 1, "%s", buf);
    cr_assert(strstr(buf, "arun: --listen unix:/nonexistent-dir/x.sock: No "
                          "such file or directory"), "%s", buf);
    cr_assert_eq(chdir(site), 0);
    unlink("/rel.sock");
    char *const rel[] = {HR_BIN, "arun", "-g", "2", "--listen", "unix:rel.sock",
                         "/bin/sleep", "100", NULL};
    cr_assert_eq(run_all(buf, sizeof buf, 0, 0, rel), 0, "%s", buf);
    snprintf(sock, sizeof sock, "%s/rel.sock", site);
    struct stat st;
    cr_assert_eq(stat(sock, &st), 0, "no socket at %s:\n%s", sock, console());
    cr_assert(S_ISSOCK(st.st_mode));
    cr_assert_eq(access("/rel.sock", F_OK), -1, "bound in the controller's /");
}
