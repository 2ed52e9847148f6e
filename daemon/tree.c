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

#include "hrd.h"
#include "log.h"
#include "os/os.h"
#include "os/ctl.h"
#include "tree.h"

#define MAX_CHILDREN 1024

/* The parent of pid (from /proc), or 0. */
static pid_t parent_of(pid_t pid)
{
    char path[64], buf[1024];
    int ppid = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (pmm__os_read_file(path, buf, sizeof buf) < 0)
        return 0;
    char *p = strrchr(buf, ')');
    return p && sscanf(p + 2, "%*c %d", &ppid) == 1 ? ppid : 0;
}

/* 1 when pid is an actor or a standby instance (standby.c): no orphan. */
static int known(const struct hrd *d, pid_t pid)
{
    return hrd_find_pid(d, pid) >= 0 || hrd_standby_of(d, pid) >= 0;
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
        int k = hr__os_pids(all, 32768);
        for (int i = 0; i < k && n < max; i++)
            if (parent_of(all[i]) == self && !known(d, all[i]))
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

/* The value of variable var ("HR_ACTOR=") in an environment block of
 * NUL-separated entries (the buffer zeroed past its end), or NULL. */
static const char *env_get(const char *env, size_t cap, const char *var)
{
    size_t k = strlen(var);
    for (const char *e = env; e < env + cap && *e; e += strlen(e) + 1)
        if (strncmp(e, var, k) == 0)
            return e + k;
    return NULL;
}

/* The slot of the actor whose run orphan pid belongs to, or -1: the
 * actor of this site it names, in the run (restart count) it names, while
 * that actor runs or dies. */
static int owner_of(struct hrd *d, pid_t pid)
{
    static char env[65536];
    char path[64];
    memset(env, 0, sizeof env);
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    pmm__os_read_file(path, env, sizeof env - 1); /* what it holds */
    const char *site = env_get(env, sizeof env, "HR_SITE=");
    const char *name = env_get(env, sizeof env, "HR_ACTOR=");
    const char *runs = env_get(env, sizeof env, "HR_RESTARTS=");
    if (!site || !name || !runs || strcmp(site, d->site) != 0)
        return -2; /* not an actor's: not ours to judge */
    int slot = hrd_find_name(d, -1, name);
    if (slot < 0)
        return -1;
    struct hr_reg_actor *a = &d->reg->actors[slot];
    if (d->standby[slot].pid > 0 &&
        strtoul(runs, NULL, 10) == d->reg->groups[a->group].restarts + 1)
        return -2; /* its standby's (the next run): no orphan of a run */
    if ((a->state != HR_A_RUNNING && a->state != HR_A_DYING) ||
        strtoul(runs, NULL, 10) != d->reg->groups[a->group].restarts)
        return -1; /* its run has ended */
    return slot;
}

void hrd_tree_end_strays(struct hrd *d)
{
    static pid_t pids[32768];
    static char env[65536];
    char path[64];
    int n = hr__os_pids(pids, 32768), ended = 0, self = pmm__os_pid();
    for (int i = 0; i < n; i++) {
        if (pids[i] == self || parent_of(pids[i]) == self)
            continue;
        memset(env, 0, sizeof env);
        snprintf(path, sizeof path, "/proc/%d/environ", (int)pids[i]);
        if (pmm__os_read_file(path, env, sizeof env - 1) < 0 && !env[0])
            continue; /* another user's, or gone */
        const char *site = env_get(env, sizeof env, "HR_SITE=");
        if (site && strcmp(site, d->site) == 0 &&
            env_get(env, sizeof env, "HR_ACTOR=") &&
            hr__os_kill(pids[i], SIGKILL) == 0)
            ended++;
    }
    if (ended)
        hrd_log(d, HRD_NOTICE,
                "ended %d process%s left by actors of an earlier controller",
                ended, ended == 1 ? "" : "es");
}

/* Signal the orphans of slot's run (slot -1: those whose run ended);
 * the number signalled. */
static int signal_orphans(struct hrd *d, int slot, int sig)
{
    static pid_t kids[MAX_CHILDREN];
    int n = orphans(d, kids, MAX_CHILDREN), hit = 0;
    for (int i = 0; i < n; i++) {
        if (kids[i] == d->ini_pid || owner_of(d, kids[i]) != slot)
            continue;
        hr__os_kill(-kids[i], sig); /* the group it may lead */
        hr__os_kill(kids[i], sig);
        hit++;
    }
    return hit;
}

void hrd_tree_stop(struct hrd *d, int slot, uint32_t timeout_ms)
{
    struct hr_reg_actor *a = &d->reg->actors[slot];
    int sig = timeout_ms ? SIGTERM : SIGKILL;
    hr__os_kill(-a->pid, sig);
    hr__os_kill(a->pid, sig); /* one that left its group still hears it */
    signal_orphans(d, slot, sig);
    d->kill_at[slot] = timeout_ms ? pmm__os_now_ns() + timeout_ms * 1000000ull
                                  : 0;
    d->kill_ms[slot] = timeout_ms;
}

void hrd_tree_reaped(struct hrd *d, int slot, pid_t pid)
{
    d->kill_at[slot] = 0;
    hr__os_kill(-pid, SIGKILL);
}

int hrd_tree_left(struct hrd *d, int slot, pid_t pid)
{
    hrd_tree_reaped(d, slot, pid);
    /* what runs of its tree now hangs from the controller: its children
     * were adopted at its death.  Counted by them, not by the group kill,
     * which a zombie of the group (a child not yet reaped) would pass. */
    return signal_orphans(d, slot, SIGKILL) > 0;
}

void hrd_tree_sweep(struct hrd *d)
{
    int n = signal_orphans(d, -1, SIGKILL);
    if (n)
        hrd_log(d, HRD_NOTICE, "ended %d process%s left behind by an actor", n,
                n == 1 ? "" : "es");
}

int hrd_tree_deadlines(struct hrd *d)
{
    uint64_t now = pmm__os_now_ns(), next = 0;
    HRD_FOR_ACTORS(d, i) {
        struct hr_reg_actor *a = &d->reg->actors[i];
        uint64_t at = d->kill_at[i];
        if (!at || a->pid <= 0)
            continue;
        if (at <= now) {
            hrd_log(d, HRD_WARNING,
                    "actor %s (pid %d) still runs %u ms after SIGTERM: "
                    "SIGKILL",
                    a->name, a->pid, d->kill_ms[i]);
            hrd_tree_stop(d, i, 0);
        } else if (!next || at < next) {
            next = at;
        }
    }
    return next ? (int)((next - now + 999999) / 1000000) : -1;
}

void hrd_tree_end_all(struct hrd *d, int wait_ms)
{
    static pid_t kids[MAX_CHILDREN];
    uint64_t until = pmm__os_now_ns() + (uint64_t)wait_ms * 1000000ull;
    int n, ended = 0;
    while ((n = orphans(d, kids, MAX_CHILDREN)) > 0) {
        for (int i = 0; i < n; i++) {
            hr__os_kill(-kids[i], SIGKILL);
            hr__os_kill(kids[i], SIGKILL);
            if (kids[i] == d->ini_pid)
                d->ini_pid = 0;
        }
        int st;
        pid_t pid;
        while ((pid = hr__os_reap(-1, &st, 1)) > 0)
            ended += hrd_find_pid(d, pid) < 0;
        if (pmm__os_now_ns() > until)
            break;
        hr__os_sleep_ms(1);
    }
    if (ended)
        hrd_log(d, HRD_NOTICE, "ended %d process%s left under the controller",
                ended, ended == 1 ? "" : "es");
}
