/* SPDX-License-Identifier: MIT */
/*
 * tree.c - actors' process trees and their graceful stop (see tree.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "held.h"
#include "hrd.h"
#include "leftover.h"
#include "log.h"
#include "os/os.h"
#include "os/ctl.h"
#include "spawn.h"
#include "tree.h"

#define MAX_CHILDREN 1024

/* 1 when pid is an actor, a standby instance (standby.c) or an
 * upgrade's trial (upgrade.c): no orphan. */
static int known(const struct hrd *d, pid_t pid)
{
    return hrd_find_pid(d, pid) >= 0 || hrd_standby_of(d, pid) >= 0 ||
           hrd_trial_of(d, pid) >= 0;
}

/* The controller's children that are not actors: orphans and start-up
 * commands.  From /proc/self/task/PID/children (the controller is one
 * thread), else, on a kernel without it, from every process's parent. */
static int orphans(struct hrd *d, pid_t *out, int max)
{
    static char buf[16384];
    static pid_t all[32768];
    char path[64];
    int n = 0, self = pmm__os_pid();
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", self, self);
    int r = pmm__os_read_file(path, buf, sizeof buf);
    if (r == -ENOENT) { /* no CONFIG_PROC_CHILDREN */
        int k = pmm__os_pids(all, 32768);
        for (int i = 0; i < k && n < max; i++)
            if (hrd_parent_of(all[i]) == self && !known(d, all[i]))
                out[n++] = all[i];
        return n;
    }
    if (r < 0 && r != -EFBIG) /* too many: the first ones, this time */
        return 0;
    for (char *p = buf, *end; *p && n < max; p = end) {
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        if (pid > 0 && !known(d, (pid_t)pid))
            out[n++] = (pid_t)pid;
    }
    return n;
}

/* The slot of the actor whose run orphan pid belongs to, or -1: the
 * actor of this site it names, in the run (restart count) it names, while
 * that actor runs or dies; -2 for no run's: a standby's, or the start-up
 * file's (an ordinary actor, what a command left running), which no run
 * ends. */
static int owner_of(struct hrd *d, pid_t pid)
{
    static char env[65536];
    hrd_env_read(pid, env, sizeof env); /* what it holds */
    const char *site = hrd_env_get(env, sizeof env, "HR_SITE=");
    const char *name = hrd_env_get(env, sizeof env, "HR_ACTOR=");
    const char *runs = hrd_env_get(env, sizeof env, "HR_RESTARTS=");
    const char *startup = hrd_env_get(env, sizeof env, HRD_STARTUP_VAR "=");
    if (!name && startup && strcmp(startup, d->site) == 0)
        return -2; /* the start-up file's (a command's, an ordinary actor's) */
    if (!site || !name || !runs || strcmp(site, d->site) != 0)
        return -1; /* it shed the environment, or never had it: ended */
    int slot = hrd_find_name(d, -1, name);
    if (slot < 0)
        return -1;
    struct hr_reg_actor *a = &d->reg->actors[slot];
    if (d->slot[slot].standby.pid > 0 &&
        strtoul(runs, NULL, 10) == d->reg->groups[a->group].restarts + 1)
        return -2; /* its standby's (the next run): no orphan of a run */
    if ((a->state != HR_A_RUNNING && a->state != HR_A_DYING) ||
        strtoul(runs, NULL, 10) != d->reg->groups[a->group].restarts)
        return -1; /* its run has ended */
    return slot;
}

void hrd_tree_begin(struct hrd *d)
{
    hrd_leftover_end(d);
    hrd_cgroup_begin(d);
}

/* 1 when pid is dead or dying: a zombie, or SIGKILL pending (ended
 * already, not reaped yet). */
static int dying(pid_t pid)
{
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    buf[0] = 0;
    int r = pmm__os_read_file(path, buf, sizeof buf);
    if (r < 0 && r != -EFBIG)
        return 1; /* gone */
    buf[sizeof buf - 1] = 0;
    const char *st = strstr(buf, "\nState:\t");
    if (st && (st[8] == 'Z' || st[8] == 'X'))
        return 1;
    for (const char *k = buf; (k = strstr(k, "Pnd:\t")) != NULL; k += 5)
        if (strtoull(k + 5, NULL, 16) & (1ull << (SIGKILL - 1)))
            return 1;
    return 0;
}

/* Signal the orphans of slot's run (slot -1: those of no live run, the
 * environment shed included); the number signalled. */
static int signal_orphans(struct hrd *d, int slot, int sig)
{
    static pid_t kids[MAX_CHILDREN];
    int n = orphans(d, kids, MAX_CHILDREN), hit = 0;
    for (int i = 0; i < n; i++) {
        if (kids[i] == d->ini_pid || dying(kids[i]) ||
            owner_of(d, kids[i]) != slot)
            continue;
        pmm__os_kill(-kids[i], sig); /* the group it may lead */
        pmm__os_kill(kids[i], sig);
        hit++;
    }
    return hit;
}

/* Send sig to every descendant of pid (children read from /proc while
 * their parents live: a child that left the session is still one). */
static void signal_descendants(pid_t pid, int sig)
{
    static pid_t tree[MAX_CHILDREN];
    int n = 1;
    tree[0] = pid;
    for (int i = 0; i < n && n < MAX_CHILDREN; i++) {
        int k = pmm__os_children(tree[i], tree + n, MAX_CHILDREN - n);
        n += k > 0 ? k : 0;
    }
    for (int i = 1; i < n; i++)
        pmm__os_kill(tree[i], sig);
}

void hrd_tree_stop(struct hrd *d, int slot, uint32_t timeout_ms)
{
    struct hr_reg_actor *a = &d->reg->actors[slot];
    int sig = timeout_ms ? SIGTERM : SIGKILL;
    if (a->pid <= 0) /* nothing runs: kill(0) or kill(-1) would signal the
                        controller's own process group, or every process */
        return;
    signal_descendants(a->pid, sig); /* before their parent dies */
    pmm__os_kill(-a->pid, sig);
    pmm__os_kill(a->pid, sig); /* one that left its group still hears it */
    if (d->cg_fd < 0)
        signal_orphans(d, slot, sig);
    else if (sig == SIGKILL)
        hrd_cgroup_kill(d, a->pid);
    else
        hrd_cgroup_signal(d, a->pid, sig);
    d->slot[slot].kill_at = timeout_ms ? pmm__os_mono_ns() + timeout_ms * 1000000ull
                                  : 0;
    d->slot[slot].kill_ms = timeout_ms;
}

/* Without cgroups: the process groups of actors reaped in the graceful
 * stop of the site's end, each with its stop deadline (with cgroups, a
 * cgroup keeps it: cgroup.c). */
static struct {
    pid_t pgrp;
    uint64_t until;
} graced[HR_REG_ACTORS];
static int ngraced;

void hrd_tree_reaped(struct hrd *d, int slot, pid_t pid)
{
    /* reaped in the graceful stop of the site's end: the rest of its tree
     * keeps the stop's deadline (its SIGTERM had reached every process of
     * it), and the end waits for it: its cgroup, or, without cgroups, its
     * process group (what left the group is ended with the site's end).
     * Not in a group's end, restart or upgrade, which go on once the
     * actor is reaped (blocks freed, a new run started): nothing of the
     * old run may outlive it */
    uint64_t grace = d->killing_all ? d->slot[slot].kill_at : 0;
    if (grace <= pmm__os_mono_ns())
        grace = 0; /* none, or its deadline is past */
    d->slot[slot].kill_at = 0;
    if (d->cg_fd >= 0) /* what was left, noted before it dies */
        d->slot[slot].cg_left = hrd_cgroup_reaped(d, slot, pid, grace) ? pid : 0;
    else if (grace && ngraced < HR_REG_ACTORS) {
        graced[ngraced].pgrp = pid;
        graced[ngraced++].until = grace;
    } else {
        grace = 0;
    }
    if (!grace)
        pmm__os_kill(-pid, SIGKILL);
}

/* Is pgrp one of the graced process groups? */
static int is_graced(pid_t pgrp)
{
    for (int g = 0; g < ngraced; g++)
        if (graced[g].pgrp == pgrp)
            return 1;
    return 0;
}

/* Without cgroups: how many graced process groups still hold a process.
 * Their members whose parent died are the controller's children (it
 * adopts them): those that have ended are reaped first, so that what the
 * group holds then runs (or is dying of a SIGKILL).  A group whose
 * deadline has come gets SIGKILL and is forgotten, as is an empty one. */
static int groups_graced(struct hrd *d)
{
    static pid_t kids[MAX_CHILDREN];
    int n = ngraced ? orphans(d, kids, MAX_CHILDREN) : 0, left = 0;
    for (int i = 0; i < n; i++)
        if (is_graced(hrd_pgrp_of(kids[i])))
            pmm__os_reap(kids[i], NULL, 1); /* (a zombie: gone now) */
    uint64_t now = pmm__os_mono_ns();
    for (int g = 0; g < ngraced;) {
        int runs = pmm__os_kill(-graced[g].pgrp, 0) == 0;
        if (runs && now >= graced[g].until) {
            pmm__os_kill(-graced[g].pgrp, SIGKILL);
            runs = 0;
        }
        if (runs) {
            left++;
            g++;
        } else {
            graced[g] = graced[--ngraced];
        }
    }
    return left;
}

int hrd_tree_graced(struct hrd *d)
{
    return d->cg_fd >= 0 ? hrd_cgroup_graced(d) : groups_graced(d);
}

int hrd_tree_left(struct hrd *d, int slot, pid_t pid)
{
    /* its cgroup held what ran of its tree when it was reaped; else what
     * now hangs from the controller, its children adopted at its death.
     * Counted by them, not by the group kill, which a zombie of the group
     * (a child not yet reaped) would pass. */
    int left = d->cg_fd >= 0 &&
               (d->slot[slot].cg_left == pid || hrd_cgroup_populated(d, pid));
    hrd_tree_reaped(d, slot, pid);
    return d->cg_fd >= 0 ? left : signal_orphans(d, slot, SIGKILL) > 0;
}

/* hrd_tree_sweep(); retry: the timer's sweep of cgroups not removed
 * yet (hrd_cgroup_sweep). */
static void sweep(struct hrd *d, int retry)
{
    int n = d->cg_fd >= 0 ? hrd_cgroup_sweep(d, retry)
                          : signal_orphans(d, -1, SIGKILL);
    if (n)
        hrd_log(d, HRD_NOTICE, "ended %d %s left behind by an actor", n,
                d->cg_fd >= 0 ? (n == 1 ? "cgroup" : "cgroups")
                              : (n == 1 ? "process" : "processes"));
}

void hrd_tree_sweep(struct hrd *d)
{
    sweep(d, 0);
}

void hrd_tree_forget(struct hrd *d, int slot)
{
    if (d->cg_fd >= 0)
        hrd_cgroup_forget(d, slot);
}

int hrd_tree_deadlines(struct hrd *d)
{
    int sweep_ms = d->cg_fd >= 0 ? hrd_cgroup_sweep_due() : -1;
    if (sweep_ms == 0) { /* cgroups that could not be removed yet */
        sweep(d, 1);
        sweep_ms = hrd_cgroup_sweep_due();
    }
    uint64_t now = pmm__os_mono_ns(), next = 0;
    HRD_FOR_ACTORS(d, i) {
        struct hr_reg_actor *a = &d->reg->actors[i];
        uint64_t at = d->slot[i].kill_at;
        if (!at || a->pid <= 0)
            continue;
        if (at <= now) {
            hrd_log(d, HRD_WARNING,
                    "actor %s (pid %d) still runs %u ms after SIGTERM: "
                    "SIGKILL",
                    a->name, a->pid, d->slot[i].kill_ms);
            hrd_tree_stop(d, i, 0);
        } else if (!next || at < next) {
            next = at;
        }
    }
    int kill_ms = next ? (int)((next - now + 999999) / 1000000) : -1;
    return kill_ms < 0 || (sweep_ms >= 0 && sweep_ms < kill_ms) ? sweep_ms
                                                                : kill_ms;
}

void hrd_tree_end_all(struct hrd *d, int wait_ms)
{
    static pid_t kids[MAX_CHILDREN];
    hrd_cgroup_end(d, wait_ms); /* with cgroups: every actor's tree */
    ngraced = 0; /* (without: their groups are orphans', ended below) */
    uint64_t until = pmm__os_mono_ns() + (uint64_t)wait_ms * 1000000ull;
    int n, ended = 0;
    while ((n = orphans(d, kids, MAX_CHILDREN)) > 0) {
        for (int i = 0; i < n; i++) {
            pmm__os_kill(-kids[i], SIGKILL);
            pmm__os_kill(kids[i], SIGKILL);
            if (kids[i] == d->ini_pid)
                d->ini_pid = 0;
        }
        int st;
        pid_t pid;
        while ((pid = pmm__os_reap(-1, &st, 1)) > 0)
            ended += hrd_find_pid(d, pid) < 0;
        if (pmm__os_mono_ns() > until)
            break;
        pmm__os_sleep_ms(1);
    }
    if (ended)
        hrd_log(d, HRD_NOTICE, "ended %d process%s left under the controller",
                ended, ended == 1 ? "" : "es");
}
