/* SPDX-License-Identifier: MIT */
/*
 * test_soak.c - one real controller under a long run of requests and group
 * restarts: its descriptors (/proc/PID/fd) and memory (VmRSS) after are
 * those before, within a small bound.  Issue 17's figures, 100,000
 * requests and 10,000 group restarts, with HR_SOAK=full; a tenth of them
 * by default, to keep the suite short, and a hundredth under ASan, where
 * every restart starts an instrumented program and RSS is not asserted
 * (its quarantine keeps freed memory).  The figures are printed.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "ctl_raw.h"
#include "proto.h"

#define RSS_SLACK_KB 1024 /* malloc's own caches may settle a little */

static char out[4096], ps[262144];

TestSuite(soak, .fini = site_stop_drop, .timeout = 900);

/* The controller holds no cgroup of an ended actor any more: a killed
 * tree's is removed once it is empty, by a sweep its loop runs again
 * until it can (cgroup.c), so it may outlive the kill's answer a little.
 * Counted after that, the descriptors are the controller's own. */
static int cgroups_gone(void *arg)
{
    int pid = *(int *)arg;
    char own[32];
    snprintf(own, sizeof own, "/hrd.%d/", pid);
    return !fds_naming(pid, own);
}

/* One request of a mix: the kinds clients send, and bad ones. */
static void request(int i, int fd)
{
    hr_site_state st;
    struct hr_msg_hdr h = {HR_MSG_MAGIC, HR_REQ_PING, 0, 0, 0};
    switch (i % 8) {
    case 0: cr_assert_gt(hr_ping(NULL), 0); break;
    case 1: cr_assert_eq(hr_status(NULL, &st), 0); break;
    case 2: cr_assert_geq(hr_ps(NULL, i % 16 == 2, ps, sizeof ps), 0); break;
    case 3: cr_assert_geq(hr_info(NULL, ps, sizeof ps), 0); break;
    case 4: ctl_send_fd("garbage", 7, -1); break;
    case 5: ctl_send_fd("", 0, fd); break; /* empty, with a descriptor */
    case 6: ctl_send_fd(&h, sizeof h, fd); break; /* a ping with one unasked */
    case 7: cr_assert_eq(hr_akill(NULL, 999999), -ESRCH); break;
    }
}

static uint32_t restarts(void)
{
    hr_site_state st;
    cr_assert_eq(hr_status(NULL, &st), 0);
    return st.group_restarts;
}

#if defined(__SANITIZE_ADDRESS__)
#define SOAK_SHARE 100 /* of the full figures, by default */
#else
#define SOAK_SHARE 10
#endif

Test(soak, descriptors_and_memory_stay_flat)
{
    const char *full = getenv("HR_SOAK");
    int share = full && !strcmp(full, "full") ? 1 : SOAK_SHARE;
    int nreq = 100000 / share;
    uint32_t nrestart = 10000u / (uint32_t)share;
    site_new(0, 0);
    /* restarts as fast as they come, never escalated */
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--max-badness",
                        "1000000", "--interval", "1", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    int pid = hr_ping(NULL), p[2];
    cr_assert_gt(pid, 0);
    cr_assert_eq(pipe(p), 0);
    /* warm up: the first of each kind of request, one crash loop ended */
    for (int i = 0; i < 64; i++)
        request(i, p[1]);
    cr_assert_gt(hr_arun(NULL, 1, ACTOR_BIN, (char *[]){"a", "crash1", NULL},
                         NULL), 0);
    while (restarts() < 20)
        ;
    cr_assert_eq(hr_kill_group(NULL, 1), 0);
    int files0, all0, files1, all1;
    static char list0[4096], list1[4096];
    poll_until(cgroups_gone, &pid, "the cgroups of the ended actors removed");
    fds_list(pid, &files0, &all0, list0, sizeof list0);
    long rss0 = rss_kb(pid);
    uint32_t r0 = restarts();
    /* the soak: a crash loop restarting group 1 all along */
    cr_assert_gt(hr_arun(NULL, 1, ACTOR_BIN, (char *[]){"a", "crash2", NULL},
                         NULL), 0);
    for (int i = 0; i < nreq; i++)
        request(i, p[1]);
    while (restarts() - r0 < nrestart)
        request(0, -1);
    cr_assert_eq(hr_kill_group(NULL, 1), 0);
    uint32_t done = restarts() - r0;
    close(p[1]);
    poll_until(cgroups_gone, &pid, "the cgroups of the ended actors removed");
    fds_list(pid, &files1, &all1, list1, sizeof list1);
    long rss1 = rss_kb(pid);
    fprintf(stderr, "soak: %d requests, %u group restarts: hrd descriptors "
            "%d -> %d (files %d -> %d), RSS %ld -> %ld KiB\n", nreq, done,
            all0, all1, files0, files1, rss0, rss1);
    cr_assert_eq(files1, files0, "descriptors other than sockets: before%s; "
                 "after%s", list0, list1);
    cr_assert_leq(all1, all0 + 1, "one connection may still be closing");
#if !defined(__SANITIZE_ADDRESS__)
    cr_assert_leq(rss1, rss0 + RSS_SLACK_KB, "RSS grew %ld KiB", rss1 - rss0);
#else
    /* ASan holds freed memory in its quarantine (256 MiB): RSS says
     * nothing there; the other builds assert it */
#endif
    char b;
    cr_assert_eq(read(p[0], &b, 1), 0, "hrd kept no passed descriptor");
}
