/* SPDX-License-Identifier: MIT */
/*
 * cgroup.c - the site's cgroup v2 subtree (see cgroup.h): a cgroup for
 * each process the controller starts, swept, killed, ended (the site's
 * own cgroup: cgsite.c).
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
    uint64_t grace; /* its process was reaped in a graceful stop: the rest
                       of its tree keeps the stop's deadline (mono ns) */
} bound[HRD_CGROUPS_MAX];
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
    if (nbound == HRD_CGROUPS_MAX)
        return -EMFILE;
    for (int tries = 0; tries < HRD_CGROUPS_MAX; tries++) {
        *n = next_n++;
        snprintf(name, sizeof name, "c%u", *n);
        int fd = pmm__os_cgroup_new(d->cg_fd, name);
        if (fd != -EEXIST) { /* one a previous run of ours left: next */
            if (fd >= 0)
                bound[nbound++] = (struct bound){0, *n, fd, (int16_t)slot, 0,
                                                 0, 0};
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

int hrd_cgroup_reaped(struct hrd *d, int slot, pid_t pid, uint64_t grace)
{
    char name[32];
    int i = at_pid(pid);
    if (i < 0)
        return 0;
    snprintf(name, sizeof name, "c%u", bound[i].n);
    int left = pmm__os_cgroup_populated(d->cg_fd, name);
    if (left > 0 && grace) {
        bound[i].grace = grace; /* SIGTERMed with it: the sweep kills what
                                   is left at the deadline */
        return 1;
    }
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
    static char names[HRD_CGROUPS_MAX][64];
    int n = pmm__os_cgroup_children(d->cg_fd, names, HRD_CGROUPS_MAX), full = 0;
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
        if (at >= 0 && bound[at].grace) {
            if (left > 0 && bound[at].grace > pmm__os_mono_ns())
                continue; /* the rest of a tree in a graceful stop: not yet */
            bound[at].grace = 0; /* its deadline, or empty: ended now */
        }
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
    /* a deadline the walk above did not meet (its cgroup not listed):
     * that cgroup is killed all the same, and no sweep is due for it */
    for (int i = 0; i < nbound; i++)
        if (bound[i].grace && bound[i].grace <= pmm__os_mono_ns()) {
            char name[32];
            snprintf(name, sizeof name, "c%u", bound[i].n);
            pmm__os_cgroup_kill(d->cg_fd, name, d->cg_kill);
            bound[i].killed = 1;
            bound[i].grace = 0;
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

/* The soonest deadline of a tree's rest in a graceful stop (mono ns), 0
 * when none. */
static uint64_t next_grace(void)
{
    uint64_t next = 0;
    for (int i = 0; i < nbound; i++)
        if (bound[i].grace && (!next || bound[i].grace < next))
            next = bound[i].grace;
    return next;
}

int hrd_cgroup_sweep_due(void)
{
    int64_t now = pmm__os_mono_ms(), at = again_at;
    uint64_t grace = next_grace();
    if (grace) { /* its sweep kills what is left, or removes the cgroup */
        int64_t g = (int64_t)((grace + 999999) / 1000000);
        at = at && at < g ? at : g;
    }
    if (!at)
        return -1;
    return at > now ? (int)(at - now) : 0;
}

int hrd_cgroup_graced(struct hrd *d)
{
    char name[32];
    int n = 0;
    uint64_t now = pmm__os_mono_ns();
    for (int i = 0; i < nbound; i++) {
        snprintf(name, sizeof name, "c%u", bound[i].n);
        n += bound[i].grace > now &&
             pmm__os_cgroup_populated(d->cg_fd, name) > 0;
    }
    return n;
}

void hrd_cgroup_end_dir(int dir, int use_kill, int wait_ms)
{
    static char names[HRD_CGROUPS_MAX][64];
    int64_t until = pmm__os_mono_ms() + wait_ms;
    int n = pmm__os_cgroup_children(dir, names, HRD_CGROUPS_MAX);
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
        snprintf(path, sizeof path, "%s/%s", own, d->cg_name);
        pmm__os_cgroup_remove(AT_FDCWD, path);
    }
    hrd_cgroup_file(d, path, sizeof path);
    pmm__os_unlink(path);
}
