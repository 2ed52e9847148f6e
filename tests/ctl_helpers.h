/* SPDX-License-Identifier: MIT */
/*
 * ctl_helpers.h - what the controller tests share: the last `hr ps`, actor
 * pids in it, run counters in blocks, and waiting for a condition.
 * Included by one test file each; every helper is static.
 */
#ifndef HR_TEST_CTL_HELPERS_H
#define HR_TEST_CTL_HELPERS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "pmm/alloc.h"

static char ps[262144]; /* the last hr ps, as JSON */

static inline double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Take a new ps; an empty one when no controller answers. */
static inline void refresh(void)
{
    if (hr_ps(NULL, 0, ps, sizeof ps) < 0)
        ps[0] = 0;
}

/* pid of actor NAME in the last ps, or 0 */
static inline int pid_of(const char *name)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"name\": \"%s\", \"pid\": ", name);
    const char *p = strstr(ps, pat);
    return p ? atoi(p + strlen(pat)) : 0;
}

/* In the last ps: the pid of NAME's standby in state (NULL: any), or 0. */
static inline int standby_of(const char *name, const char *state)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"name\": \"%s\", ", name);
    const char *p = strstr(ps, pat);
    if (!p || !(p = strstr(p, "\"standby\": ")))
        return 0;
    p += strlen("\"standby\": ");
    if (strncmp(p, "{\"pid\": ", 8) != 0)
        return 0;
    int pid = atoi(p + 8);
    const char *st = strstr(p, "\"state\": \"");
    if (state && (!st || strncmp(st + 10, state, strlen(state)) != 0))
        return 0;
    return pid;
}

/* The run counter test_actor keeps in its block: group >= 0 for its
 * HR_GROUP_KEY block, -1 for its keep.NAME block.  -1 when absent. */
static inline int runs_of(const char *block, int group)
{
    pmm_bank *b = bank_open();
    void *p;
    int r = group >= 0 ? pmm__alloc_sys(b, block, 1, NULL, 0,
                                        PMM_GROUP | PMM_RETRIEVE, group, &p, NULL)
                       : pmm_alloc(b, block, 1, "KEEP", 5, PMM_RETRIEVE, &p, NULL);
    return r == 0 ? *(int *)p : -1;
}

/* Wait for an event, through the one bounded poll helper (common.h),
 * with a fresh ps before each try.  A site that has failed (and so
 * stopped) gives the wait up at once, saying why it failed: a failed site
 * does nothing more by itself, so the event cannot come (this used to
 * wait out the whole bound, 90 s, before saying only "timed out"). */
static inline void ctl_pause(struct poll_wait *w)
{
    hr_site_state st;
    if (!ps[0] && hr_site_status(NULL, &st, NULL, 0) == 0 &&
        st.state == HR_SITE_FAILED) {
        char why[256];
        snprintf(why, sizeof why, "the site failed and stopped: %s (hr log)",
                 st.failure);
        poll_give_up(w, why);
    }
    poll_pause(w, ps);
}
/* The bound as a figure, for a loop not yet moved to the helper (new
 * code: POLL_UNTIL or poll_begin/poll_pause). */
#define WAIT_FOR_S poll_bound_s()
#define WAIT_FOR(cond, what)                                                  \
    do {                                                                      \
        for (struct poll_wait w_ = poll_begin(what); refresh(), !(cond);)     \
            ctl_pause(&w_);                                                   \
    } while (0)

/* The file called name in the current site ($HR_SITE) into buf, or NULL
 * when it cannot be read. */
static inline char *site_file(const char *name, char *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", getenv("HR_SITE"), name);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

/* Kill the site's controller with SIGKILL (its actors outlive it) and
 * wait until it is dead. */
static inline void ctl_crash_controller(void)
{
    pid_t pid = hr_ping(NULL);
    cr_assert_gt(pid, 0, "no controller answers");
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    cr_assert(pfd >= 0, "pidfd_open: %s", strerror(errno));
    cr_assert_eq(kill(pid, SIGKILL), 0);
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    POLL_UNTIL(poll(&p, 1, 0) == 1, "the controller to die of SIGKILL");
    close(pfd);
}

/* The site's console log, as it is now. */
static inline char *console(void)
{
    static char buf[262144];
    cr_assert_not_null(site_file("console.log", buf, sizeof buf));
    return buf;
}

#endif
