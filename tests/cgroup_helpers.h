/* SPDX-License-Identifier: MIT */
/*
 * cgroup_helpers.h - the cgroup a controller test moves itself into, so
 * that the controller it starts has a subtree of its own (root and a
 * cgroup v2 mount are needed; the test is skipped, saying why, without
 * them), and the end of such a test (cg_site_down, its suite's .fini).
 * Included by one test file each; every helper is static.
 */
#ifndef HR_TEST_CGROUP_HELPERS_H
#define HR_TEST_CGROUP_HELPERS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static char cg_dir[8300];    /* the test's own cgroup, or "" */
static char cg_parent[8200]; /* ... and the one it came from */

/* Write text into file; 0 or -errno. */
static inline int put(const char *file, const char *text)
{
    int fd = open(file, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = write(fd, text, strlen(text)) < 0 ? -errno : 0;
    close(fd);
    return r;
}

/* Move this test into a cgroup of its own under its cgroup v2 one, so
 * that the controller it starts may make cgroups below; skipped (with the
 * reason) where that cannot be. */
static inline void cg_enter(void)
{
    char line[4096], mnt[4096] = "", own[4096] = "";
    FILE *f = fopen("/proc/self/mountinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, " - cgroup2 ") && sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1)
            break;
    if (f)
        fclose(f);
    f = fopen("/proc/self/cgroup", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "0::", 3) == 0)
            sscanf(line + 3, "%4095s", own);
    if (f)
        fclose(f);
    if (!mnt[0] || !own[0])
        cr_skip_test("no cgroup v2 mount here");
    snprintf(cg_parent, sizeof cg_parent, "%s%s", mnt, strcmp(own, "/") ? own : "");
    snprintf(cg_dir, sizeof cg_dir, "%s/hrtest.%d", cg_parent, (int)getpid());
    char procs[8400];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", cg_dir);
    if (mkdir(cg_dir, 0755) < 0 || put(procs, "0") < 0) {
        rmdir(cg_dir);
        cg_dir[0] = 0;
        cr_skip_test("cannot make a cgroup to delegate (root is needed): %s",
                     strerror(errno));
    }
}

static inline void cg_leave(void)
{
    char procs[8400];
    if (!cg_dir[0])
        return;
    snprintf(procs, sizeof procs, "%s/cgroup.procs", cg_parent);
    put(procs, "0");
    /* what a controller left under it (a failed test) goes too */
    char rm[17000];
    snprintf(rm, sizeof rm, "rmdir %s/*/* %s/* 2>/dev/null", cg_dir, cg_dir);
    /* its last processes exiting */
    for (struct poll_wait w = poll_begin("the test's cgroup to empty");
         rmdir(cg_dir) < 0 && errno == EBUSY; poll_pause(&w, cg_dir))
        if (system(rm) < 0)
            break;
    cg_dir[0] = 0;
}

/* The end of a controller test that may have entered a cgroup: its site
 * stopped (a controller of the test's gone, with what it started), the
 * test's cgroup left and removed, the site removed. */
static inline void cg_site_down(void)
{
    run_hr(NULL, 0, "site", "stop", NULL);
    cg_leave();
    unsetenv("HRD_CGROUPS");
    site_drop();
}

#endif
