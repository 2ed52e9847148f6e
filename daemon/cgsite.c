/* SPDX-License-Identifier: MIT */
/*
 * cgsite.c - the site's own cgroup (see cgroup.h): made at start beside
 * the cgroups dead controllers left (removed once empty), recorded in the
 * site file, found again by the next controller.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "hrd.h"
#include "log.h"
#include "os/ctl.h"
#include "os/os.h"

#define HRD_CGROUP_YOUNG_S 60 /* a controller's cgroup changed since: kept */

void hrd_cgroup_file(const struct hrd *d, char *out, size_t cap)
{
    snprintf(out, cap, "%s/" HRD_CGROUP_FILE, d->dir);
}

/* Name path in the site file, whole: written aside, then renamed. */
static int record(struct hrd *d, const char *path)
{
    char file[4200], tmp[4210];
    hrd_cgroup_file(d, file, sizeof file);
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    int fd = pmm__os_open_fd(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return fd;
    int r = pmm__os_write(fd, path, strlen(path));
    pmm__os_close(fd);
    return r < 0 ? r : pmm__os_rename(tmp, file);
}

int hrd_cgroup_old(struct hrd *d, char *path, size_t cap)
{
    char file[4200];
    hrd_cgroup_file(d, file, sizeof file);
    if (pmm__os_read_file(file, path, cap) < 0 || path[0] != '/')
        return -1;
    /* everything in it is killed: only a cgroup a controller made (its
     * last component hrd.PID or hrd.PID-K, as hrd_cgroup_begin names it),
     * never one a changed site file names (a root stop must not end a
     * system slice) */
    const char *base = strrchr(path, '/') + 1;
    size_t n = strspn(base + 4, "0123456789");
    if (strncmp(base, "hrd.", 4) != 0 || !n ||
        (base[4 + n] && (base[4 + n] != '-' || !base[5 + n] ||
                         strspn(base + 5 + n, "0123456789") !=
                             strlen(base + 5 + n))) ||
        strstr(path, "/../") || strstr(path, "/./"))
        return -1;
    int fd = pmm__os_open_fd(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
    return fd < 0 ? -1 : fd;
}

/* The number N of a name "hrd.N" or "hrd.N-K" (a controller's cgroup),
 * or 0. */
static pid_t controller_of(const char *name)
{
    char *end;
    if (strncmp(name, "hrd.", 4) != 0 || name[4] < '1' || name[4] > '9')
        return 0;
    long n = strtol(name + 4, &end, 10);
    if (*end == '-' && end[1] >= '0' && end[1] <= '9')
        strtol(end + 1, &end, 10);
    return *end || n <= 0 || n > 0x3fffffff ? 0 : (pid_t)n;
}

#define HRD_CGROUP_NAMES 64 /* hrd.PID, then hrd.PID-1 to -63 */

/* A cgroup of our own made in top, its path in path: hrd.PID, or
 * hrd.PID-K when that name is there already.  Never one that is there: a
 * controller of the same number in another pid namespace sharing this
 * tree (a container's PID 1 beside another's) has it, or a dead one left
 * it with what its site's next start ends; shared, each controller would
 * end the other's actors as trees left behind. */
static int make_own(int top, const char *own, char *path, size_t cap)
{
    int fd = -EEXIST;
    for (int k = 0; k < HRD_CGROUP_NAMES && fd == -EEXIST; k++) {
        if (k)
            snprintf(path, cap, "%s/hrd.%d-%d", own, (int)pmm__os_pid(), k);
        else
            snprintf(path, cap, "%s/hrd.%d", own, (int)pmm__os_pid());
        fd = pmm__os_cgroup_new(top, strrchr(path, '/') + 1);
    }
    if (fd >= 0)
        pmm__os_close(fd);
    return fd < 0 ? fd : 0;
}

/* Beside our own: the cgroups of controllers that are dead and left them
 * (killed, and their site removed before any stop or next start read its
 * cgroup file), each removed with its children once they are empty.  Dead
 * means: no process of its number, its lock not held (each controller
 * holds one on its cgroup while it lives), and unchanged for a minute.  A
 * cgroup is only ever removed (rmdir fails on one with a process in it),
 * never killed: one that still holds a dead controller's actors waits for
 * its own site's next start or stop, which ends them.  A live process of
 * that number (its pid, or one that took it since) keeps it.  The number
 * removed. */
static int sweep_dead(int top, pid_t me)
{
    static char names[HRD_CGROUPS_MAX][64], kids[HRD_CGROUPS_MAX][64];
    int n = pmm__os_cgroup_children(top, names, HRD_CGROUPS_MAX), gone = 0;
    for (int i = 0; i < n; i++) {
        pid_t pid = controller_of(names[i]);
        /* dead by its pid, and by its lock: a live controller in another
         * pid namespace sharing this cgroup (a container's) has a pid we
         * cannot see; a young one may be a controller that has just made
         * it and not locked it yet, of a pid that came back */
        if (!pid || pid == me || pmm__os_kill(pid, 0) != -ESRCH ||
            pmm__os_cgroup_claimed(top, names[i], HRD_CGROUP_YOUNG_S) != 0)
            continue;
        int dir = pmm__os_cgroup_open(top, names[i]);
        if (dir < 0)
            continue;
        int k = pmm__os_cgroup_children(dir, kids, HRD_CGROUPS_MAX);
        for (int j = 0; j < k; j++)
            if (pmm__os_cgroup_populated(dir, kids[j]) == 0)
                pmm__os_cgroup_remove(dir, kids[j]);
        pmm__os_close(dir);
        gone += pmm__os_cgroup_remove(top, names[i]) == 0;
    }
    return gone;
}

void hrd_cgroup_begin(struct hrd *d)
{
    char own[4096], path[4200];
    const char *env = getenv(HRD_CGROUP_ENV);
    int r = env && strcmp(env, "off") == 0 ? -ENOTSUP
                                            : pmm__os_cgroup_self(own, sizeof own);
    int dir = -1;
    if (r == 0) {
        int top = pmm__os_open_fd(own, O_RDONLY | O_DIRECTORY, 0);
        r = top < 0 ? top : make_own(top, own, path, sizeof path);
        int gone = r == 0 ? sweep_dead(top, pmm__os_pid()) : 0;
        if (top >= 0)
            pmm__os_close(top);
        if (gone)
            hrd_log(d, HRD_INFO, "process trees: removed %d empty cgroup%s "
                    "of dead controllers beside ours", gone, gone == 1 ? "" : "s");
    }
    if (r == 0 && (r = dir = pmm__os_open_fd(path, O_RDONLY | O_DIRECTORY, 0)) >= 0) {
        pmm__os_cgroup_hold(dir); /* ours while we live (sweep_dead) */
        r = pmm__os_cgroup_probe(dir);
    }
    if (r == 0)
        r = record(d, path);
    if (r < 0) {
        if (dir >= 0) {
            pmm__os_close(dir);
            pmm__os_cgroup_remove(AT_FDCWD, path);
        }
        char file[4200];
        hrd_cgroup_file(d, file, sizeof file);
        pmm__os_unlink(file);
        hrd_log(d, HRD_INFO,
                "process trees: no cgroup (%s): processes re-parented to the "
                "controller are judged instead (hrd(8))",
                r == -ENOTSUP ? HRD_CGROUP_ENV "=off" : pmm_strerror(r));
        return;
    }
    d->cg_fd = dir;
    snprintf(d->cg_name, sizeof d->cg_name, "%s", strrchr(path, '/') + 1);
    /* cgroup.kill (Linux 5.14) is in every cgroup but the root */
    pmm__os_cgroup_make(dir, "kill.probe");
    char kill_file[4300]; /* path (4200 at most) and the file in it */
    snprintf(kill_file, sizeof kill_file, "%s/kill.probe/cgroup.kill", path);
    uid_t uid;
    mode_t mode;
    d->cg_kill = pmm__os_lstat(kill_file, &uid, &mode) == 0;
    pmm__os_cgroup_remove(dir, "kill.probe");
    hrd_log(d, HRD_INFO, "process trees: each actor in a cgroup under %s%s",
            path, d->cg_kill ? "" : " (no cgroup.kill: each process killed)");
}
