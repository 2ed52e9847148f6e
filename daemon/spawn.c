/* SPDX-License-Identifier: MIT */
/*
 * spawn.c - images, environment, fork and exec of actors (see spawn.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup.h"
#include "held.h"
#include "hrd.h"
#include "log.h"
#include "logpipe.h"
#include "os/os.h"
#include "os/ctl.h"
#include "pmm/alloc.h"
#include "pmm/free.h"
#include "pmm/map.h"
#include "proto.h"
#include "ready.h"
#include "spawn.h"

static void block_name(char *out, size_t cap, const char *kind, int slot)
{
    snprintf(out, cap, "__SYS.hr.%s.%d", kind, slot);
}

int hrd_exe_bytes(int exe_fd, uint64_t *bytes)
{
    mode_t mode;
    int r = pmm__os_size(exe_fd, bytes, NULL, &mode, NULL, NULL);
    if (r < 0)
        return r;
    if (!S_ISREG(mode) || !(mode & 0111))
        return -EACCES;
    return *bytes == 0 ? -ENOEXEC : 0;
}

/* Copy the program behind exe_fd into the actor's image block. */
static int store_image(struct hrd *d, int slot, int exe_fd, uint64_t *size)
{
    char name[PMM_NAME_MAX];
    uint64_t bytes;
    void *p;
    int r = hrd_exe_bytes(exe_fd, &bytes);
    if (r < 0)
        return r;
    block_name(name, sizeof name, "image", slot);
    r = pmm__alloc_sys(d->bank, name, (size_t)bytes, HR_REG_KEY,
                       sizeof HR_REG_KEY, PMM_EXCL, -1, &p, NULL);
    if (r < 0)
        return r;
    if (pmm__os_pread(exe_fd, p, (size_t)bytes, 0) < 0) {
        pmm__free_sys(d->bank, name);
        return -EIO;
    }
    /* the controller keeps no block mapped that it does not need: every
     * mapping would be copied by each fork */
    pmm__unmap(d->bank, name);
    *size = bytes;
    return 0;
}

static int store_args(struct hrd *d, int slot, const char *args, uint32_t len)
{
    char name[PMM_NAME_MAX];
    void *p;
    block_name(name, sizeof name, "args", slot);
    int r = pmm__alloc_sys(d->bank, name, len, HR_REG_KEY, sizeof HR_REG_KEY,
                           PMM_EXCL, -1, &p, NULL);
    if (r == 0) {
        memcpy(p, args, len);
        pmm__unmap(d->bank, name);
    }
    return r;
}

int hrd_images_store(struct hrd *d, int slot, int exe_fd, const char *args,
                     uint32_t args_len, uint64_t *image_size)
{
    char old[PMM_NAME_MAX];
    hrd_images_free(d, slot); /* leftovers of a registration cut short */
    int r = store_image(d, slot, exe_fd, image_size);
    if (r == 0 && (r = store_args(d, slot, args, args_len)) < 0) {
        block_name(old, sizeof old, "image", slot);
        pmm__free_sys(d->bank, old);
    }
    return r;
}

void hrd_images_free(struct hrd *d, int slot)
{
    char name[PMM_NAME_MAX];
    block_name(name, sizeof name, "image", slot);
    pmm__free_sys(d->bank, name);
    block_name(name, sizeof name, "args", slot);
    pmm__free_sys(d->bank, name);
    if (d->slot[slot].image_fd >= 0)
        pmm__os_close(d->slot[slot].image_fd);
    d->slot[slot].image_fd = -1;
    hrd_held_close(d, slot);
    hrd_logpipe_close(d, slot);
}

/* A read-only memfd copy of the image, kept for later restarts. */
static int image_fd(struct hrd *d, int slot)
{
    char name[PMM_NAME_MAX];
    void *p;
    if (d->slot[slot].image_fd >= 0)
        return d->slot[slot].image_fd;
    struct hr_reg_actor *a = &d->reg->actors[slot];
    block_name(name, sizeof name, "image", slot);
    int r = pmm__alloc_sys(d->bank, name, (size_t)a->image_size, HR_REG_KEY,
                           sizeof HR_REG_KEY, PMM_RETRIEVE, -1, &p, NULL);
    if (r < 0)
        return r;
    r = pmm__os_memfd_ro(a->name, p, (size_t)a->image_size);
    pmm__unmap(d->bank, name);
    if (r >= 0)
        d->slot[slot].image_fd = r;
    if (r == -EACCES) /* memfd_create's: no executable memfd allowed */
        snprintf(d->start_why, sizeof d->start_why, "%s",
                 HRD_NOEXEC_MEMFD_WHY);
    return r;
}

/* /proc/PID/stat from its third field (the state) on, into buf; NULL
 * when it cannot be read. */
static const char *stat_of(pid_t pid, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (pmm__os_read_file(path, buf, cap) < 0)
        return NULL;
    const char *p = strrchr(buf, ')'); /* the name may hold any byte */
    return p && p[1] == ' ' ? p + 2 : NULL;
}

uint64_t hrd_start_ticks(pid_t pid)
{
    char buf[1024];
    const char *p = stat_of(pid, buf, sizeof buf);
    unsigned long long v = 0;
    /* fields from the state (3rd) on: starttime is the 22nd */
    if (p && sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
                       "%*d %*d %*d %*d %*d %*d %llu", &v) != 1)
        v = 0;
    return v;
}

pid_t hrd_parent_of(pid_t pid)
{
    char buf[1024];
    const char *p = stat_of(pid, buf, sizeof buf);
    int ppid = 0;
    return p && sscanf(p, "%*c %d", &ppid) == 1 ? (pid_t)ppid : 0;
}

pid_t hrd_pgrp_of(pid_t pid)
{
    char buf[1024];
    const char *p = stat_of(pid, buf, sizeof buf);
    int pgrp = 0;
    return p && sscanf(p, "%*c %*d %d", &pgrp) == 1 ? (pid_t)pgrp : 0;
}

/* The stored HR_LISTEN specs of an actor, or NULL. */
static const char *listen_specs(const struct hr_strings *s)
{
    size_t n = strlen(HRD_HELD_VAR);
    for (uint32_t i = 0; i < s->envc; i++)
        if (strncmp(s->envp[i], HRD_HELD_VAR "=", n + 1) == 0)
            return s->envp[i] + n + 1;
    return NULL;
}

static int ours(const char *e)
{
    static const char *const names[] = {
        "HR_SITE=", "HR_GROUP=", "HR_ACTOR=", "HR_RESTARTS=", HRD_HELD_VAR "=",
        "LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=", HRD_HELD_ENV "=",
        "NOTIFY_SOCKET=", "HR_STANDBY=", "HR_NOTIFY="};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strncmp(e, names[i], strlen(names[i])) == 0)
            return 1;
    return 0;
}

/* The stored arguments of actor slot, decoded into *s (malloc'd, for
 * the caller to free) while their block is mapped (*block: its name, for
 * pmm__unmap); 0 or a negative code. */
static int stored_args(struct hrd *d, int slot, struct hr_strings **s,
                       char block[PMM_NAME_MAX])
{
    struct hr_reg_actor *a = &d->reg->actors[slot];
    const char *args;
    block_name(block, PMM_NAME_MAX, "args", slot);
    int r = pmm__alloc_sys(d->bank, block, a->args_len, HR_REG_KEY,
                           sizeof HR_REG_KEY, PMM_RETRIEVE, -1,
                           (void **)&args, NULL);
    if (r < 0)
        return r;
    *s = malloc(sizeof **s);
    r = !*s ? -ENOMEM : hr__strings_decode(args, a->args_len, 0, *s) < 0 ? K_EBANK : 0;
    if (r < 0) {
        pmm__unmap(d->bank, block);
        free(*s);
    }
    return r;
}

int hrd_spawn_listen_specs(struct hrd *d, int slot, char *out, size_t cap)
{
    char name[PMM_NAME_MAX];
    struct hr_strings *s;
    if (!d->reg->actors[slot].direct)
        return 0;
    int r = stored_args(d, slot, &s, name);
    if (r < 0)
        return r;
    const char *specs = listen_specs(s);
    if (specs)
        r = snprintf(out, cap, "%s", specs) < (int)cap ? 1 : -EINVAL;
    pmm__unmap(d->bank, name);
    free(s);
    return r;
}

/* 1 when the stored environment holds var (a mark of hr arun's:
 * HR_STANDBY=1 for --standby, HR_NOTIFY=1 for --notify and --wait-ready). */
static int has_mark(const struct hr_strings *s, const char *var)
{
    for (uint32_t i = 0; i < s->envc; i++)
        if (strcmp(s->envp[i], var) == 0)
            return 1;
    return 0;
}

/* Build the environment: the stored one, with the controller's variables,
 * and with nheld sockets the sd_listen_fds ones (vars[3] is LISTEN_PID's
 * room, filled by the child).  A standby is marked HR_STANDBY=1 and given
 * the HR_RESTARTS of the run it will serve (next_run: the next, standby.c;
 * an upgrade's trial serves the current one, upgrade.c). */
static char **actor_env(struct hrd *d, int slot, const struct hr_strings *s,
                        char vars[6][128], int nheld, int standby, int next_run)
{
    struct hr_reg_actor *a = &d->reg->actors[slot];
    char **env = calloc(s->envc + 10, sizeof *env);
    int n = 0;
    if (!env)
        return NULL;
    for (uint32_t i = 0; i < s->envc; i++)
        if (!ours(s->envp[i]))
            env[n++] = (char *)s->envp[i];
    snprintf(vars[0], 128, "HR_GROUP=%d", a->group);
    snprintf(vars[1], 128, "HR_ACTOR=%s", a->name);
    snprintf(vars[2], 128, "HR_RESTARTS=%u",
             d->reg->groups[a->group].restarts + (next_run != 0));
    for (int i = 0; i < 3; i++)
        env[n++] = vars[i];
    if (standby)
        env[n++] = (char *)"HR_STANDBY=1";
    if (nheld > 0) {
        snprintf(vars[3], 128, "LISTEN_PID=");
        snprintf(vars[4], 128, "LISTEN_FDS=%d", nheld);
        size_t len = (size_t)snprintf(vars[5], 128, "LISTEN_FDNAMES=");
        for (int i = 0; i < nheld && len < 100; i++)
            len += (size_t)snprintf(vars[5] + len, 128 - len, "%slisten%d",
                                    i ? ":" : "", i);
        for (int i = 3; i < 6; i++)
            env[n++] = vars[i];
    }
    static char site_var[4200];
    snprintf(site_var, sizeof site_var, "HR_SITE=%s", d->site);
    env[n++] = site_var;
    static char notify_var[4200];
    snprintf(notify_var, sizeof notify_var, "NOTIFY_SOCKET=%s/notify.sock",
             d->site);
    if (d->notify_fd >= 0) /* sd_notify's READY=1 (ready.c) */
        env[n++] = notify_var;
    env[n] = NULL;
    return env;
}

/* Same address at every restart (ChorusOS) unless the site (hrCtrl.aslr)
 * or the actor (HR_ASLR=1 in its stored environment) keeps randomisation. */
static int keeps_aslr(const struct hrd *d, const struct hr_strings *s)
{
    for (uint32_t i = 0; i < s->envc && !d->policy.aslr; i++)
        if (strcmp(s->envp[i], "HR_ASLR=1") == 0)
            return 1;
    return d->policy.aslr != 0;
}

/* Start actor slot (its standby instance when standby: then the read end
 * of its readiness pipe goes to *ready_rd, not to ready.c), from its own
 * image, or from an upgrade's trial image t (upgrade.c): made in its
 * cgroup, if the site has them, without a copy of the controller, which
 * waits until it has executed its program, unless beside: then a copy,
 * the controller going on at once (pmm__os_spawn). */
static int spawn(struct hrd *d, int slot, const int *stdio_in, int standby,
                 int *exec_pipe, int *ready_rd, const struct hrd_trial *t,
                 int beside)
{
    struct hr_reg_actor *a = &d->reg->actors[slot];
    char name[PMM_NAME_MAX], vars[6][128];
    d->start_why[0] = 0; /* hrd_spawn_wait says why, if it fails */
    d->start_step = 0;
    const char *args;
    uint32_t args_len = t ? t->args_len : a->args_len;
    int r, fd = t ? t->image_fd : image_fd(d, slot);
    if (fd < 0)
        return fd;
    if (t)
        snprintf(name, sizeof name, "%s", t->args_block);
    else
        block_name(name, sizeof name, "args", slot);
    if ((r = pmm__alloc_sys(d->bank, name, args_len, HR_REG_KEY,
                            sizeof HR_REG_KEY, PMM_RETRIEVE, -1,
                            (void **)&args, NULL)) < 0)
        return r;
    struct hr_strings *s = malloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    if (hr__strings_decode(args, args_len, 0, s) < 0) {
        free(s);
        return K_EBANK;
    }
    const char *specs = a->direct ? listen_specs(s) : NULL;
    int nheld = specs ? hrd_held_open(d, slot, specs) : 0;
    if (nheld < 0) {
        pmm__unmap(d->bank, name);
        free(s);
        return nheld;
    }
    if (!standby) /* its environment, read now, says whether it wants one */
        d->slot[slot].standby.want = (uint8_t)(a->direct && has_mark(s, "HR_STANDBY=1"));
    if (has_mark(s, "HR_NOTIFY=1")) /* waited for at every start */
        d->slot[slot].says_ready = 1;
    char **env = actor_env(d, slot, s, vars, nheld, standby, standby && !t);
    /* opened once, kept (close-on-exec): one open and close less a start */
    static int devnull = -1;
    if (devnull < 0)
        devnull = pmm__os_open_fd("/dev/null", O_RDONLY, 0);
    int stdio[3];
    if (stdio_in) { /* an indirect actor: its starter's streams */
        memcpy(stdio, stdio_in, sizeof stdio);
    } else { /* its lines tagged into the log */
        int out = hrd_logpipe_fd(d, slot);
        stdio[0] = devnull;
        stdio[1] = stdio[2] = out >= 0 ? out : d->console_fd;
    }
    int ep[2], rp[2] = {-1, -1}, cg = -1;
    uint32_t cgn = 0;
    r = !env ? -ENOMEM : pmm__os_pipe(ep);
    if (r == 0 && a->ready_fd > 2 && (r = pmm__os_pipe(rp)) < 0)
        pmm__os_close(ep[0]), pmm__os_close(ep[1]);
    /* its tree's cgroup (cgroup.h), made first: it starts inside */
    if (r == 0 && d->cg_fd >= 0 && (r = cg = hrd_cgroup_new(d, slot, &cgn)) < 0) {
        pmm__os_close(ep[0]), pmm__os_close(ep[1]);
        if (rp[0] >= 0)
            pmm__os_close(rp[0]), pmm__os_close(rp[1]);
    }
    if (r < 0) {
        pmm__unmap(d->bank, name);
        goto out;
    }
    /* an actor outlives its controller, holding its sockets until the
     * next controller takes them back and ends it (leftover.h); so does a
     * standby, no death signal armed: promoted before it waits, it is the
     * actor (its own wait ends it if it finds no controller and was not
     * promoted: src/hr/standby.c) */
    d->slot[slot].aslr = keeps_aslr(d, s);
    struct pmm__os_child child = {
        .cgroup_into = cg >= 0 ? &cg : NULL, .side_by_side = beside,
        .default_signals = 1, .own_session = 1,
        .same_address = !d->slot[slot].aslr,
        .stdio = stdio, .cwd = s->cwd, .cwd_or_root = !d->first_start,
        .exe_fd = fd,
        .argv = (char *const *)s->argv, .envp = env, .errpipe = ep[1],
        .pass_fd = rp[1], .pass_to = rp[1] >= 0 ? a->ready_fd : -1,
        .pass_fds = d->slot[slot].held_fd, .npass = nheld,
        .pid_var = nheld > 0 ? vars[3] : NULL};
    uid_t uid;
    mode_t mode;
    if (!d->first_start && s->cwd &&
        pmm__os_lstat(s->cwd, &uid, &mode) == -ENOENT)
        hrd_log(d, HRD_WARNING, "actor %s: its working directory %s is gone: "
                "it runs in / until the directory is back",
                d->reg->actors[slot].name, s->cwd);
    int pid = pmm__os_spawn(&child);
    if (cg >= 0) /* the table keeps it open */
        hrd_cgroup_bind(d, cgn, pid);
    pmm__os_close(ep[1]);
    if (rp[1] >= 0)
        pmm__os_close(rp[1]);
    if (standby && pid > 0)
        *ready_rd = rp[0];
    else if (!standby)
        hrd_ready_started(d, slot, pid > 0 ? rp[0] : -1);
    if (pid <= 0 && rp[0] >= 0)
        pmm__os_close(rp[0]);
    pmm__unmap(d->bank, name); /* s points into it until the fork */
    if (pid < 0) {
        r = pid;
        pmm__os_close(ep[0]);
        goto out;
    }
    *exec_pipe = ep[0];
    r = pid;
out:
    free(env);
    free(s);
    return r;
}

int hrd_spawn(struct hrd *d, int slot, const int *stdio, int *exec_pipe)
{
    return spawn(d, slot, stdio, 0, exec_pipe, NULL, NULL, 0);
}

int hrd_spawn_beside(struct hrd *d, int slot, int *exec_pipe)
{
    return spawn(d, slot, NULL, 0, exec_pipe, NULL, NULL, 1);
}

int hrd_spawn_standby(struct hrd *d, int slot, int *exec_pipe, int *ready_rd)
{
    *ready_rd = -1;
    return spawn(d, slot, NULL, 1, exec_pipe, ready_rd, NULL, 0);
}

int hrd_spawn_trial(struct hrd *d, int slot, const struct hrd_trial *t,
                    int *exec_pipe, int *ready_rd)
{
    *ready_rd = -1;
    return spawn(d, slot, NULL, t->standby, exec_pipe, ready_rd, t, 0);
}

int hrd_spawn_wait(struct hrd *d, int slot, int pid, int exec_pipe)
{
    struct pmm__os_child_err e;
    char block[PMM_NAME_MAX], where[PATH_MAX + 8] = "";
    struct hr_strings *s;
    int r = pmm__os_child_report(exec_pipe, &e);
    if (r == 0)
        return pid;
    /* the directory is the stored one (an upgrade's trial keeps it) */
    if (e.step == PMM_OS_STEP_CWD && stored_args(d, slot, &s, block) == 0) {
        snprintf(where, sizeof where, " %s", s->cwd);
        pmm__unmap(d->bank, block);
        free(s);
    }
    d->start_step = e.step;
    /* a long directory is cut, the reason kept */
    snprintf(d->start_why, sizeof d->start_why, "%s%.200s: %s",
             pmm__os_child_step(e.step), where, pmm_strerror(r));
    return r;
}

const char *hrd_start_why(const struct hrd *d, int r)
{
    return d->start_why[0] ? d->start_why : pmm_strerror(r);
}
