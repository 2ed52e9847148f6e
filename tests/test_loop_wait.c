/* SPDX-License-Identifier: MIT */
/*
 * test_loop_wait.c - the controller's places for hr arun --wait-ready
 * (HRD_MAX_WAITING, 64): a client that gives up hangs up, and its place is
 * freed then, not when its actor is at last ready; a full table is told
 * so in its own words, not as the client's 30 s.  A controller in a
 * throwaway site; the waiters speak to its socket directly (ctl_raw.h),
 * so that 64 of them are cheap.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "ctl_helpers.h"
#include "ctl_raw.h"
#include "proto.h"

#define WAITERS 64 /* HRD_MAX_WAITING */

static char out[65536];

static void up(void) { site_new(0, 0); }

TestSuite(loop_wait, .init = up, .fini = site_stop_drop, .timeout = 120);

/* A new connection that asks to be answered once actor pid is ready. */
static int waiter(int pid)
{
    struct hr_msg_hdr h = {.magic = HR_MSG_MAGIC, .type = HR_REQ_WAIT_READY,
                           .arg = pid};
    int s = ctl_connect();
    cr_assert_eq(send(s, &h, sizeof h, MSG_NOSIGNAL), (ssize_t)sizeof h,
                 "send: %s", strerror(errno));
    return s;
}

/* The reply's result on s (blocking), or -EPIPE when it hung up. */
static int answer(int s)
{
    struct hr_msg_hdr h;
    ssize_t n = recv(s, &h, sizeof h, 0);
    return n == (ssize_t)sizeof h ? h.arg : -EPIPE;
}

/* Before, a waiter's place was kept until its actor was ready or gone,
 * though its client had given up: 64 that gave up, and every later
 * --wait-ready was told at once that the actor "never said it was ready
 * within 30 s". */
Test(loop_wait, a_waiter_that_hangs_up_frees_its_place)
{
    int w[WAITERS];
    site_start(out, sizeof out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--notify",
                        "--name", "q", ACTOR_BIN, "quiet", NULL), 0, "%s", out);
    WAIT_FOR(pid_of("q") > 0, "the quiet actor");
    int pid = pid_of("q");
    for (int i = 0; i < WAITERS; i++) /* 8 at a time, a ps served after */
        if ((w[i] = waiter(pid)) >= 0 && i % 8 == 7) /* them: at most 16 */
            refresh(); /* unserved connections of one peer (conns.h) */
    /* one more is told so, in its own words */
    int r = hr_all(out, sizeof out, "arun", "-g", "2", "--wait-ready", "--name",
                   "q2", ACTOR_BIN, "quiet2", NULL);
    cr_assert_eq(r, 1, "%s", out);
    cr_assert(strstr(out, "too many hr arun --wait-ready waiting at once (64)"),
              "%s", out);
    for (int i = 0; i < WAITERS; i++)
        close(w[i]); /* they give up */
    refresh();
    /* a new waiter has a place: it is answered when the actor stops */
    int s = waiter(pid);
    refresh();
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "1", NULL), 0, "%s",
                 out);
    cr_assert_eq(answer(s), -ESRCH, "the new waiter had no place");
    close(s);
}
