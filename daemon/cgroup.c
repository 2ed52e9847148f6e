/* SPDX-License-Identifier: MIT */
/*
 * cgroup.c - the site's cgroup v2 subtree (see cgroup.h).
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

#define MAX_CGROUPS 1024
#define HRD_CGROUP_YOUNG_S 60 /* a controller's cgroup changed since: kept */
#define SPARE ((pid_t)-1)

/* A process the controller starts is made inside its cgroup, "cN", which
 * is made before it and so cannot be named after its pid (a move into a
 * cgroup after the fork waits for an RCU grace period: milliseconds on a
 * loaded machine, on every restart).  Whose each is: this table, of
 * every cN that exists, until it is removed, with the cgroup open.
 *
 * A process that died alone leaves its cgroup empty: the next start of
 * the same actor slot is made in it (a spare), which spares that start
 * the making of a cgroup and the first process in it (measured: about
 * 80 us of the controller's start of an actor; docs/process-trees.md).
 * Only a cgroup that was never written cgroup.kill is a spare: on Linux
 * 6.x a process made in a cgroup that once was (clone3 CLONE_INTO_CGROUP)
 * is killed at birth. */
static struct bound {
    pid_t pid;      /* its process; 0: nobody's (the sweep ends it);
                       SPARE: empty, kept for the next start of slot */
    uint32_t n;     /* its name, cN */
    int fd;         /* it, open */
    int16_t slot;   /* the actor slot of its process */
    uint8_t killed; /* cgroup.kill written to it: never a spare */
    uint8_t told;   /* logged as left behind (once) */
} bound[MAX_CGROUPS];
static int nbound;
static uint32_t next_n;

/* A sweep that could not remove a cgroup it should have (rmdir: -EBUSY,
 * a killed tree not gone yet) is tried again from the loop, 10 ms later,
 * then 20, doubling to 1 s, then no more: the next death the controller
 * sees may be a long way off, and until then the cgroup and its
 * descriptor would stay.  What is still there after those ~2 s (say a
 * cgroup an actor made inside its own) waits for the next death's sweep,
 * which starts the series again, or for the stop. */
#define AGAIN_FIRST_MS 10
#define AGAIN_MAX_MS 1000
static int64_t again_at; /* pmm__os_mono_ms() of the next sweep; 0: none */
static int again_ms;

static int at_pid(pid_t pid)
{
    for (int i = 0; pid > 0 && i < nbound; i++)
        if (bound[i].pid == pid)
            return i;
    return -1;
}

/* The name of pid's cgroup ("-": none, a name no cgroup has). */
static void name_of(pid_t pid, char *out, size_t cap)
{
    int i = at_pid(pid);
    if (i >= 0)
        snprintf(out, cap, "c%u", bound[i].n);
    else
        snprintf(out, cap, "-");
}

/* Entry i removed (its cgroup too unless keep_dir), the table kept
 * dense. */
static void drop(struct hrd *d, int i, int keep_dir)
{
    char name[32];
    snprintf(name, sizeof name, "c%u", bound[i].n);
    if (!keep_dir && pmm__os_cgroup_remove(d->cg_fd, name) < 0) {
        again_ms = AGAIN_FIRST_MS; /* -EBUSY: the series of sweeps, anew */
        again_at = pmm__os_mono_ms() + again_ms;
        return;
    }
    pmm__os_close(bound[i].fd);
    bound[i] = bound[--nbound];
}

/* Slot's spare, handed out if it is still empty (a process moved into it
 * since is ended with it); -1 when slot has none. */
static int take_spare(struct hrd *d, int slot)
{
    char name[32];
    for (int i = 0; i < nbound; i++) {
        if (bound[i].pid != SPARE || bound[i].slot != slot || bound[i].killed)
            continue;
        snprintf(name, sizeof name, "c%u", bound[i].n);
        if (pmm__os_cgroup_populated(d->cg_fd, name) == 0)
            return i;
        pmm__os_cgroup_kill(d->cg_fd, name, d->cg_kill);
        bound[i].killed = 1;
        bound[i].pid = 0; /* the sweep removes it once empty */
        return -1;
    }
    return -1;
}

int hrd_cgroup_new(struct hrd *d, int slot, uint32_t *n)
{
    char name[32];
    int i = take_spare(d, slot);
    if (i >= 0) {
        *n = bound[i].n;
        return bound[i].fd;
    }
    if (nbound == MAX_CGROUPS)
        return -EMFILE;
    for (int tries = 0; tries < MAX_CGROUPS; tries++) {
        *n = next_n++;
        snprintf(name, sizeof name, "c%u", *n);
        int fd = pmm__os_cgroup_new(d->cg_fd, name);
        if (fd != -EEXIST) { /* one a previous run of ours left: next */
            if (fd >= 0)
                bound[nbound++] = (struct bound){0, *n, fd, (int16_t)slot, 0, 0};
            return fd;
        }
    }
    return -EEXIST;
}

void hrd_cgroup_bind(struct hrd *d, uint32_t n, pid_t pid)
{
    int at = -1;
    for (int i = 0; i < nbound; i++)
        if (bound[i].n == n)
            at = i;
    if (at < 0)
        return;
    if (pid <= 0) { /* not started: nothing in it */
        drop(d, at, 0);
        return;
    }
    /* a reused pid: its old cgroup is nobody's now, and the sweep ends it */
    int old = at_pid(pid);
    if (old >= 0)
        bound[old].pid = 0;
    bound[at].pid = pid;
}

int hrd_cgroup_reaped(struct hrd *d, int slot, pid_t pid)
{
    char name[32];
    int i = at_pid(pid);
    if (i < 0)
        return 0;
    snprintf(name, sizeof name, "c%u", bound[i].n);
    int left = pmm__os_cgroup_populated(d->cg_fd, name);
    if (left != 0) { /* its tree, or a cgroup we cannot read: ended */
        pmm__os_cgroup_kill(d->cg_fd, name, d->cg_kill);
        bound[i].killed = 1;
        return left > 0; /* unread: never a spare, but no tree seen */
    }
    /* empty, and nothing can enter it but what we make there */
    for (int j = 0; j < nbound; j++)
        if (bound[j].pid == SPARE && bound[j].slot == slot)
            return 0; /* one is enough: this one goes at the sweep */
    if (!bound[i].killed) {
        bound[i].pid = SPARE;
        bound[i].slot = (int16_t)slot;
    }
    return 0;
}

/* The site file naming the site's cgroup. */
static void file_path(const struct hrd *d, char *out, size_t cap)
{
    snprintf(out, cap, "%s/" HRD_CGROUP_FILE, d->dir);
}

/* Name path in the site file, whole: written aside, then renamed. */
static int record(struct hrd *d, const char *path)
{
    char file[4200], tmp[4210];
    file_path(d, file, sizeof file);
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
    file_path(d, file, sizeof file);
    if (pmm__os_read_file(file, path, cap) < 0 || path[0] != '/')
        return -1;
    /* everything in it is killed: only a cgroup a controller made (its
     * last component hrd.PID, as hrd_cgroup_begin names it), never one a
     * changed site file names (a root stop must not end a system slice) */
    const char *base = strrchr(path, '/') + 1;
    if (strncmp(base, "hrd.", 4) != 0 || !base[4] ||
        strspn(base + 4, "0123456789") != strlen(base + 4) ||
        strstr(path, "/../") || strstr(path, "/./"))
        return -1;
    int fd = pmm__os_open_fd(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
    return fd < 0 ? -1 : fd;
}

/* The number N of a name "hrd.N" (a controller's cgroup), or 0. */
static pid_t controller_of(const char *name)
{
    char *end;
    if (strncmp(name, "hrd.", 4) != 0 || name[4] < '1' || name[4] > '9')
        return 0;
    long n = strtol(name + 4, &end, 10);
    return *end || n <= 0 || n > 0x3fffffff ? 0 : (pid_t)n;
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
    static char names[MAX_CGROUPS][64], kids[MAX_CGROUPS][64];
    int n = pmm__os_cgroup_children(top, names, MAX_CGROUPS), gone = 0;
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
        int k = pmm__os_cgroup_children(dir, kids, MAX_CGROUPS);
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
        snprintf(path, sizeof path, "%s/hrd.%d", own, pmm__os_pid());
        int top = pmm__os_open_fd(own, O_RDONLY | O_DIRECTORY, 0);
        r = top < 0 ? top : pmm__os_cgroup_make(top, strrchr(path, '/') + 1);
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
        file_path(d, file, sizeof file);
        pmm__os_unlink(file);
        hrd_log(d, HRD_INFO,
                "process trees: no cgroup (%s): processes re-parented to the "
                "controller are judged instead (hrd(8))",
                r == -ENOTSUP ? HRD_CGROUP_ENV "=off" : pmm_strerror(r));
        return;
    }
    d->cg_fd = dir;
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

void hrd_cgroup_kill(struct hrd *d, pid_t pid)
{
    char name[32];
    int i = at_pid(pid);
    if (i < 0)
        return;
    bound[i].killed = 1;
    snprintf(name, sizeof name, "c%u", bound[i].n);
    pmm__os_cgroup_kill(d->cg_fd, name, d->cg_kill);
}

void hrd_cgroup_signal(struct hrd *d, pid_t pid, int sig)
{
    char name[32];
    name_of(pid, name, sizeof name);
    pmm__os_cgroup_signal(d->cg_fd, name, sig);
}

int hrd_cgroup_populated(struct hrd *d, pid_t pid)
{
    char name[32];
    name_of(pid, name, sizeof name);
    return pmm__os_cgroup_populated(d->cg_fd, name) > 0;
}

/* Whose cgroup "cN" is (*at: its place in bound, else -1): a pid,
 * SPARE, or 0 for nobody's and for another name. */
static pid_t pid_of(const char *name, int *at)
{
    char *end;
    *at = -1;
    unsigned long n = name[0] == 'c' ? strtoul(name + 1, &end, 10) : 0;
    for (int i = 0; name[0] == 'c' && end != name + 1 && !*end && i < nbound; i++)
        if (bound[i].n == n) {
            *at = i;
            return bound[i].pid;
        }
    return 0;
}

/* A process in the site's cgroup itself: none of ours lives there (the
 * controller is in the cgroup above, what it starts in a cN below), so
 * it is a descendant of an actor that moved itself there (an actor runs
 * as the controller's user, who may write the subtree's cgroup.procs) to
 * leave its own: ended, each process, until none is left.  The number. */
static int end_escaped(int dir)
{
    static pid_t pids[64];
    int n = pmm__os_cgroup_pids(dir, ".", pids, 64);
    if (n > 0)
        pmm__os_cgroup_kill(dir, ".", 0); /* (cgroup.kill: the cNs too) */
    return n > 0 ? n : 0;
}

int hrd_cgroup_sweep(struct hrd *d, int retry)
{
    static char names[MAX_CGROUPS][64];
    int n = pmm__os_cgroup_children(d->cg_fd, names, MAX_CGROUPS), full = 0;
    int busy = 0, escaped = end_escaped(d->cg_fd);
    if (escaped)
        hrd_log(d, HRD_NOTICE, "ended %d process%s moved into the site's "
                "cgroup itself (out of an actor's own)", escaped,
                escaped == 1 ? "" : "es");
    for (int i = 0; i < n; i++) {
        int at;
        pid_t pid = pid_of(names[i], &at);
        if (pid > 0 && (hrd_find_pid(d, pid) >= 0 || hrd_standby_of(d, pid) >= 0 ||
                        hrd_trial_of(d, pid) >= 0))
            continue;
        int left = pmm__os_cgroup_populated(d->cg_fd, names[i]);
        if (pid == SPARE && left == 0 &&
            d->reg->actors[bound[at].slot].state != HR_A_FREE)
            continue; /* kept for its actor's next start */
        if (left > 0) {
            pmm__os_cgroup_kill(d->cg_fd, names[i], d->cg_kill);
            full += at < 0 || !bound[at].told; /* a retry says it once */
            if (at >= 0)
                bound[at].pid = 0, bound[at].killed = 1, bound[at].told = 1;
        }
        int r = pmm__os_cgroup_remove(d->cg_fd, names[i]);
        if (r == 0 && at >= 0)
            drop(d, at, 1);
        busy += r == -EBUSY; /* its tree is still dying: soon gone */
    }
    /* only the timer's sweeps move the back-off on: a death's sweep may
     * have a new busy cgroup, which gets the whole series */
    if (!retry)
        again_ms = 0;
    if (busy && again_ms < AGAIN_MAX_MS) {
        again_ms = again_ms ? again_ms * 2 : AGAIN_FIRST_MS;
        if (again_ms > AGAIN_MAX_MS)
            again_ms = AGAIN_MAX_MS;
        again_at = pmm__os_mono_ms() + again_ms;
    } else {
        again_ms = 0;
        again_at = 0;
    }
    return full;
}

void hrd_cgroup_forget(struct hrd *d, int slot)
{
    for (int i = 0; i < nbound; i++)
        if (bound[i].pid == SPARE && bound[i].slot == slot) {
            bound[i].pid = 0; /* nobody's, if it cannot go now */
            drop(d, i, 0);
            return; /* one spare at most */
        }
}

int hrd_cgroup_sweep_due(void)
{
    if (!again_at)
        return -1;
    int64_t left = again_at - pmm__os_mono_ms();
    return left > 0 ? (int)left : 0;
}

void hrd_cgroup_end_dir(int dir, int use_kill, int wait_ms)
{
    static char names[MAX_CGROUPS][64];
    int64_t until = pmm__os_mono_ms() + wait_ms;
    int n = pmm__os_cgroup_children(dir, names, MAX_CGROUPS);
    end_escaped(dir);
    for (int i = 0; i < n; i++)
        pmm__os_cgroup_kill(dir, names[i], use_kill);
    /* the controller reaps its own children: they are in no cgroup once
     * dead, zombies included; dir itself is empty when its cNs and what
     * escaped into it are */
    while (pmm__os_cgroup_populated(dir, ".") > 0 &&
           pmm__os_mono_ms() < until) {
        end_escaped(dir); /* (one that forked as it was killed) */
        while (pmm__os_reap(-1, NULL, 1) > 0)
            ;
        pmm__os_sleep_ms(1);
    }
    for (int i = 0; i < n; i++)
        pmm__os_cgroup_remove(dir, names[i]);
}

void hrd_cgroup_end(struct hrd *d, int wait_ms)
{
    char own[4096], path[4200];
    if (d->cg_fd < 0)
        return;
    hrd_cgroup_end_dir(d->cg_fd, d->cg_kill, wait_ms);
    while (nbound > 0)
        drop(d, nbound - 1, 1);
    pmm__os_close(d->cg_fd);
    d->cg_fd = -1;
    if (pmm__os_cgroup_self(own, sizeof own) == 0) {
        snprintf(path, sizeof path, "%s/hrd.%d", own, pmm__os_pid());
        pmm__os_cgroup_remove(AT_FDCWD, path);
    }
    file_path(d, path, sizeof path);
    pmm__os_unlink(path);
}
