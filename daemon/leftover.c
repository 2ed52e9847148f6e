/* SPDX-License-Identifier: MIT */
/*
 * leftover.c - what a dead controller's generation left running: found,
 * its listening sockets taken back, ended (see leftover.h).
 *
 * Every process found is pinned by a pidfd before anything is done to it,
 * so that a pid reused meanwhile is never signalled nor read.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "held.h"
#include "hrd.h"
#include "leftover.h"
#include "log.h"
#include "os/ctl.h"
#include "os/os.h"
#include "spawn.h"

#define MAX_PROCS 4096
#define MAX_POOL (HR_REG_ACTORS * HRD_HELD_MAX)

static struct {
    int pidfd;
    pid_t pid;
} procs[MAX_PROCS]; /* the old generation, pinned */
static int nprocs;

int hrd_env_read(pid_t pid, char *env, size_t cap)
{
    char path[64];
    memset(env, 0, cap);
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    int r = pmm__os_read_file(path, env, cap - 1);
    return r < 0 && !env[0] ? r : 0;
}

const char *hrd_env_get(const char *env, size_t cap, const char *var)
{
    size_t k = strlen(var);
    for (const char *e = env; e < env + cap && *e; e += strlen(e) + 1)
        if (strncmp(e, var, k) == 0)
            return e + k;
    return NULL;
}

/* Pin pid (when ticks, only if it started then); 1 when newly pinned. */
static int pin(pid_t pid, uint64_t ticks)
{
    if (pid <= 1 || pid == pmm__os_pid() || nprocs == MAX_PROCS)
        return 0;
    for (int i = 0; i < nprocs; i++)
        if (procs[i].pid == pid)
            return 0;
    int fd = pmm__os_pidfd_open(pid);
    if (fd < 0)
        return 0;
    if (ticks && hrd_start_ticks(pid) != ticks) {
        pmm__os_close(fd); /* another process has the pid now */
        return 0;
    }
    procs[nprocs].pidfd = fd;
    procs[nprocs++].pid = pid;
    return 1;
}

/* This process, the one that started it (`hr site start` names itself in
 * HRD_STARTER, a number: hrd is its grandchild, in a session of its own)
 * and the ancestors of both, into up: how many.  An `hr site start` run by
 * a start-up command of a dead controller carries that site's HR_STARTUP,
 * but it and its callers are no leftover for the controller they start. */
#define MAX_UP 128
static int ours_up(pid_t *up)
{
    const char *s = getenv("HRD_STARTER");
    char *end;
    long starter = s ? strtol(s, &end, 10) : 0;
    pid_t from[2] = {pmm__os_pid(),
                     s && *s && !*end && starter > 1 && starter < 1l << 22
                         ? (pid_t)starter : 0};
    int n = 0;
    for (int k = 0; k < 2; k++)
        for (pid_t p = from[k]; p > 1 && n < MAX_UP; p = hrd_parent_of(p))
            up[n++] = p;
    return n;
}

static int one_of(pid_t pid, const pid_t *set, int n)
{
    for (int i = 0; i < n; i++)
        if (set[i] == pid)
            return 1;
    return 0;
}

/* Step 1: the registry's actors (logged), the strays carrying the site's
 * environment (an actor's, or that of a command or ordinary actor of the
 * start-up file, which no registry names: the next start runs them
 * again), then the descendants of everything pinned (a walk over the
 * table as it grows).  The old cgroup's members were pinned first. */
static void find(struct hrd *d)
{
    static pid_t pids[32768], up[MAX_UP];
    static char env[65536];
    int nup = ours_up(up);
    HRD_FOR_ACTORS(d, i) {
        struct hr_reg_actor *a = &d->reg->actors[i];
        if (a->pid > 0 && a->start_ticks && pin(a->pid, a->start_ticks))
            hrd_log(d, HRD_INFO, "ending actor %s (pid %d) of the previous "
                    "controller", a->name, a->pid);
    }
    int n = pmm__os_pids(pids, 32768);
    for (int i = 0; i < n; i++) {
        if (hrd_env_read(pids[i], env, sizeof env) < 0)
            continue;
        const char *site = hrd_env_get(env, sizeof env, "HR_SITE=");
        const char *startup = hrd_env_get(env, sizeof env,
                                          HRD_STARTUP_VAR "=");
        if ((site && strcmp(site, d->site) == 0 &&
             hrd_env_get(env, sizeof env, "HR_ACTOR=")) ||
            (startup && strcmp(startup, d->site) == 0 && /* sysadm.ini's */
             !one_of(pids[i], up, nup)))
            pin(pids[i], 0);
    }
    for (int i = 0; i < nprocs; i++) {
        int k = pmm__os_children(procs[i].pid, pids, 32768);
        for (int j = 0; j < k; j++)
            pin(pids[j], 0);
    }
}

/* Pin the members of the old site cgroup (what escaped into it) and of
 * every cgroup under it. */
static void pin_cgroup(int dir)
{
    static char names[1024][64];
    static pid_t pids[4096];
    int n = pmm__os_cgroup_children(dir, names, 1024);
    for (int i = -1; i < n; i++) {
        int k = pmm__os_cgroup_pids(dir, i < 0 ? "." : names[i], pids, 4096);
        for (int j = 0; j < k; j++)
            pin(pids[j], 0);
    }
}

/* Is fd the very socket of one of pool's n descriptors (one that the
 * actor dup()ed, or that a process it started shares)? */
static int pooled_already(int fd, const int *pool, int n)
{
    dev_t dev, pdev;
    ino_t ino, pino;
    if (pmm__os_size(fd, NULL, NULL, NULL, &dev, &ino) < 0)
        return 0;
    for (int i = 0; i < n; i++)
        if (pmm__os_size(pool[i], NULL, NULL, NULL, &pdev, &pino) == 0 &&
            pdev == dev && pino == ino)
            return 1;
    return 0;
}

/* Step 2: the listening sockets of the pinned processes, into pool, each
 * socket once: a copy left in the pool would be closed, and its unix
 * socket's file removed, under the actor that took the other. */
static int take_sockets(struct hrd *d, int *pool, int max)
{
    static int fds[4096];
    int n = 0, refused = 0;
    for (int i = 0; i < nprocs && n < max; i++) {
        int k = pmm__os_socket_fds(procs[i].pid, fds, 4096);
        for (int j = 0; j < k && n < max; j++) {
            int fd = pmm__os_pidfd_getfd(procs[i].pidfd, fds[j]);
            if (fd < 0) {
                if (fd == -EPERM && !refused++)
                    hrd_log(d, HRD_WARNING,
                            "cannot take the listening sockets of pid %d "
                            "back: %s (ptrace access to it is needed: "
                            "hrd(8)); they are made again",
                            procs[i].pid, pmm_strerror(fd));
                continue;
            }
            if (pmm__os_is_listening(fd) && !pooled_already(fd, pool, n))
                pool[n++] = fd;
            else
                pmm__os_close(fd);
        }
    }
    return n;
}

/* Step 3: SIGKILL every pinned process and wait for each, 5 s at most. */
static void end_pinned(struct hrd *d)
{
    for (int i = 0; i < nprocs; i++)
        pmm__os_pidfd_kill(procs[i].pidfd, SIGKILL);
    int64_t until = pmm__os_mono_ms() + HRD_KILL_WAIT_S * 1000;
    for (int i = 0; i < nprocs; i++) {
        int64_t left = until - pmm__os_mono_ms();
        if (pmm__os_wait_readable(procs[i].pidfd, left > 0 ? (int)left : 0) <= 0)
            hrd_log(d, HRD_ERR, "pid %d of the previous controller's actors "
                    "did not die", procs[i].pid);
        pmm__os_close(procs[i].pidfd);
    }
}

/* The sockets of pool (n) at the addresses of specs into held.c's pool,
 * for the next start of slot, whose take failed: how many. */
static int wait_for(int slot, char *specs, int *pool, int n)
{
    int waiting = 0;
    for (char *save, *s = strtok_r(specs, ",", &save); s;
         s = strtok_r(NULL, ",", &save))
        for (int i = 0; i < n; i++)
            if (pool[i] >= 0 && pmm__os_listens_on(pool[i], s)) {
                hrd_held_pool_keep(pool[i], slot);
                pool[i] = -1;
                waiting++;
            }
    return waiting;
}

/* Each pooled socket to the actor whose --listen names its address; those
 * of an actor that could not take them all (another of its addresses is
 * someone else's now) wait for its start, clients in their backlog; the
 * rest are closed.  How many were kept. */
static int give_sockets(struct hrd *d, int *pool, int n)
{
    char specs[1024];
    int kept = 0;
    HRD_FOR_ACTORS(d, i)
        if (hrd_spawn_listen_specs(d, i, specs, sizeof specs) > 0)
            kept += hrd_held_take(d, i, specs, pool, n);
    HRD_FOR_ACTORS(d, i)
        if (!d->slot[i].nheld &&
            hrd_spawn_listen_specs(d, i, specs, sizeof specs) > 0)
            kept += wait_for(i, specs, pool, n);
    for (int i = 0; i < n; i++)
        if (pool[i] >= 0)
            pmm__os_close(pool[i]);
    return kept;
}

void hrd_leftover_end(struct hrd *d)
{
    static int pool[MAX_POOL];
    char old_path[4200];
    nprocs = 0;
    int old = hrd_cgroup_old(d, old_path, sizeof old_path);
    if (old >= 0)
        pin_cgroup(old);
    find(d);
    int n = take_sockets(d, pool, MAX_POOL), ended = nprocs;
    end_pinned(d);
    if (old >= 0) { /* what forked meanwhile, and the cgroups themselves */
        hrd_cgroup_end_dir(old, 1, HRD_KILL_WAIT_S * 1000);
        pmm__os_close(old);
        pmm__os_cgroup_remove(AT_FDCWD, old_path);
    }
    int kept = give_sockets(d, pool, n);
    if (ended)
        hrd_log(d, HRD_NOTICE,
                "ended %d process%s left by actors of an earlier controller",
                ended, ended == 1 ? "" : "es");
    if (kept)
        hrd_log(d, HRD_NOTICE, "took %d listening socket%s back from them: "
                "their clients waited in the backlog", kept,
                kept == 1 ? "" : "s");
}

int hrd_leftover_end_blind(struct hrd *d)
{
    static char names[HR_REG_ACTORS * 4][64];
    static pid_t pids[MAX_PROCS];
    char old_path[4200];
    int old = hrd_cgroup_old(d, old_path, sizeof old_path), ended = 0;
    if (old < 0)
        return -1;
    int n = pmm__os_cgroup_children(old, names, HR_REG_ACTORS * 4);
    for (int i = 0; i < n; i++) {
        int k = pmm__os_cgroup_pids(old, names[i], pids, MAX_PROCS);
        ended += k > 0 ? k : 0;
    }
    hrd_cgroup_end_dir(old, 1, HRD_KILL_WAIT_S * 1000);
    pmm__os_close(old);
    pmm__os_cgroup_remove(AT_FDCWD, old_path);
    snprintf(old_path, sizeof old_path, "%s/" HRD_CGROUP_FILE, d->dir);
    pmm__os_unlink(old_path); /* ended: nothing more to look for */
    return ended;
}
