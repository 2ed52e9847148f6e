/* SPDX-License-Identifier: MIT */
/*
 * test_standby_crash.c - standbys and a controller that dies (SIGKILL):
 * a controller in a throwaway site, the actor of standby_actor.c.
 *
 * A standby promoted before it called hr_standby_wait() is the actor from
 * its promotion on: the controller's death must not take it, nor its held
 * socket, and its wait, called after that death, returns as promoted (the
 * registry names it).  One still initialising and never promoted is ended
 * by the next controller.  Every wait is for an event.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "ctl_helpers.h"

static char out[65536];
static const char *site;

static void up(void) { site = site_new(0, 0); }

TestSuite(standby_crash, .init = up, .fini = site_stop_drop, .timeout = 120);

/* The pid the live instance of NAME wrote to live.NAME, or 0. */
static int live_pid(const char *name)
{
    char file[128], buf[256];
    snprintf(file, sizeof file, "live.%s", name);
    return site_file(file, buf, sizeof buf) ? atoi(buf) : 0;
}

static int gone(int pid) { return !proc_runs(pid); }

/* 1 when something accepts a connection on 127.0.0.1:port (its backlog
 * does: nobody needs to accept it). */
static int tcp_open(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(s, 0);
    int r = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
    close(s);
    return r;
}

static int controller_pid(void)
{
    const char *c = strstr(ps, "\"controller_pid\": ");
    cr_assert_not_null(c, "%s", ps);
    return atoi(c + 18);
}

/* "sl" with a standby that initialises for 4 s and a held TCP socket:
 * the standby's pid, still initialising. */
static int with_a_slow_standby(int port)
{
    char spec[64];
    snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", port);
    site_start(out, sizeof out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "4", "--standby",
                        "--listen", spec, "--name", "sl", STANDBY_BIN, "wait",
                        "4000", NULL),
                 0, "%s", out);
    int sb = 0;
    WAIT_FOR((sb = standby_of("sl", "starting")) > 0 && pid_of("sl") > 0,
             "a standby initialising");
    return sb;
}

/* The reviewer's repro: promoted before it waited, then the controller
 * killed before it waits.  Before, the death signal its spawn armed for a
 * standby stayed, and it died with the controller, its port closing. */
Test(standby_crash, promoted_before_waiting_outlives_the_controller)
{
    int port = free_port();
    int sb = with_a_slow_standby(port);
    cr_assert_eq(kill(pid_of("sl"), SIGKILL), 0);
    WAIT_FOR(pid_of("sl") == sb, "the standby promoted");
    cr_assert(strstr(console(), "had not called hr_standby_wait yet"), "%s",
              console());
    int ctl = controller_pid();
    cr_assert_eq(kill(ctl, SIGKILL), 0);
    POLL_UNTIL(gone(ctl), "the controller gone");
    /* it goes on through its wait, as the actor, with no controller */
    POLL_UNTIL(live_pid("sl") == sb || gone(sb), "the promoted run");
    cr_assert(!gone(sb), "the promoted standby died with its controller");
    cr_assert(tcp_open(port), "its held socket closed with the controller");
    site_start(out, sizeof out); /* the next controller adopts the site */
    cr_assert(strstr(console(), "took 1 listening socket back"), "%s",
              console());
    cr_assert(gone(sb), "the old live instance outlived the next controller");
    int live = 0;
    WAIT_FOR((live = pid_of("sl")) > 0 && live != sb && live_pid("sl") == live,
             "the actor running under the next controller");
    cr_assert(tcp_open(port), "its socket after the next controller's start");
}

/* A standby that is never promoted, still initialising when the
 * controller dies, is ended by the next controller (as a leftover of the
 * old generation), which starts a new one. */
Test(standby_crash, unpromoted_standby_ended_by_the_next_controller)
{
    int sb = with_a_slow_standby(free_port());
    int live = pid_of("sl");
    int ctl = controller_pid();
    cr_assert_eq(kill(ctl, SIGKILL), 0);
    POLL_UNTIL(gone(ctl), "the controller gone");
    site_start(out, sizeof out);
    cr_assert(gone(sb), "the old standby outlived the next controller");
    cr_assert(gone(live), "the old live instance outlived the next controller");
    int sb2 = 0;
    WAIT_FOR((sb2 = standby_of("sl", "starting")) > 0 && sb2 != sb,
             "a new standby");
}

/* A standby killed while it waits, deaths in a row: started again at
 * once, then 10 ms doubling (daemon/standby.c, again_in), as hr(1) and
 * hr_standby_wait(3) say (the latter said "a second apart after three
 * deaths in a row"). */
Test(standby_crash, a_standby_killed_in_a_row_comes_back_10_ms_doubling)
{
    static const char *const pauses[] = {"started again in 0 ms",
                                         "started again in 10 ms",
                                         "started again in 20 ms"};
    char page[16384];
    site_start(out, sizeof out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--standby",
                        "--name", "sk", STANDBY_BIN, NULL), 0, "%s", out);
    int sb = 0;
    for (int i = 0; i < 3; i++) {
        int was = sb;
        WAIT_FOR((sb = standby_of("sk", "waiting")) > 0 && sb != was,
                 "a waiting standby");
        cr_assert_eq(kill(sb, SIGKILL), 0);
        WAIT_FOR(strstr(console(), pauses[i]), pauses[i]);
    }
    int fd = open(SOURCE_DIR "/man/hr_standby_wait.3", O_RDONLY);
    cr_assert_geq(fd, 0);
    ssize_t n = read(fd, page, sizeof page - 1);
    close(fd);
    cr_assert_gt(n, 0);
    page[n] = 0;
    cr_assert(strstr(page, "10 ms doubling to a second"),
              "hr_standby_wait.3 does not give the pauses");
    cr_assert_null(strstr(page, "a second apart"), "hr_standby_wait.3");
}
