/* SPDX-License-Identifier: MIT */
/*
 * standby.c - standby instances of direct actors (see standby.h).
 *
 * The life of a standby, per actor slot (d->standby[slot]):
 *
 *   none --tick: the live instance is up--> starting --its HR_REQ_STANDBY-->
 *   waiting --group restart--> (promoted: it is the live instance now)
 *
 *  - started (hrd_standby_tick) only for a direct actor whose stored
 *    environment holds HR_STANDBY=1, once its live instance is up (ready,
 *    or exec'd for one that says nothing), in a running group: its
 *    initialisation never competes with the live instance's.  It is given
 *    the HR_RESTARTS of the run it will serve (the group's count + 1), so
 *    that its identity, and what its children inherit, is right from the
 *    start; a promotion checks it still is.
 *  - promoted (hrd_standby_promote, from the group restart): waiting, its
 *    request is answered with the restart count; still starting, it is
 *    promoted all the same (it has done part of its initialisation, never
 *    more than a fresh start would) and its request, when it comes, is
 *    answered at once.  It takes the actor's readiness as a fresh start
 *    does (ready.c).
 *  - a standby killed by a signal, while waiting or still initialising,
 *    is started again: not a failure of its group, and not a sign that its
 *    program does not wait (an operator's kill, the OOM killer).  Deaths
 *    in a row back off: the first at once, then 10 ms doubling to a
 *    second; a promotion ends the row.  One that exits before it ever
 *    waited, or says READY=1 (or writes its readiness fd) without
 *    waiting, is a program that does not call hr_standby_wait(): the
 *    actor runs without a standby from then on, and the log says so.
 *
 * Invariant: a standby's pid is in d->standby[] until it is reaped, never
 * in the registry: it is no member of its group (group events never see
 * it; kill_members does not stop it, so it survives the restart it is
 * promoted in), and tree.c does not take it for an orphan.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "hrd.h"
#include "log.h"
#include "os/ctl.h"
#include "os/os.h"
#include "proto.h"
#include "ready.h"
#include "spawn.h"
#include "standby.h"

#define AGAIN_FIRST_MS 10    /* the pause after the second death in a row */
#define AGAIN_PAUSE_MS 1000  /* ... doubling up to this */
#define AFTER_PROMOTION_MS 10 /* a new standby waits this long after a
                                 promotion: its fork and exec do not compete
                                 with the promoted instance's first moments */

void hrd_standby_init(struct hrd *d)
{
    for (int i = 0; i < HR_REG_ACTORS; i++) {
        memset(&d->standby[i], 0, sizeof d->standby[i]);
        d->standby[i].conn = d->standby[i].ready_rd = -1;
    }
}

/* Forget the process of slot's standby (its wants are kept). */
static void clear(struct hrd_standby *sb)
{
    if (sb->conn >= 0)
        pmm__os_close(sb->conn);
    if (sb->ready_rd >= 0)
        pmm__os_close(sb->ready_rd);
    sb->conn = sb->ready_rd = -1;
    sb->pid = 0;
    sb->state = HRD_SB_NONE;
}

/* SIGKILL to the standby and its tree; reaped later (HRD_SB_DYING). */
static void kill_it(struct hrd_standby *sb)
{
    if (!sb->pid || sb->state == HRD_SB_DYING)
        return;
    hr__os_kill(-sb->pid, SIGKILL);
    hr__os_kill(sb->pid, SIGKILL);
    sb->state = HRD_SB_DYING;
}

static void start(struct hrd *d, int slot)
{
    struct hrd_standby *sb = &d->standby[slot];
    struct hr_reg_actor *a = &d->reg->actors[slot];
    int ep, rd = -1;
    int pid = hrd_spawn_standby(d, slot, &ep, &rd);
    if (pid < 0) {
        hrd_log(d, HRD_ERR,
                "actor %s: cannot start its standby: %s (tried again in "
                "%d ms)",
                a->name, pmm_strerror(pid), AGAIN_PAUSE_MS);
        sb->not_before_ms = hr__os_mono_ms() + AGAIN_PAUSE_MS;
        return;
    }
    sb->pid = pid;
    sb->state = HRD_SB_STARTING;
    /* watched: a newline there before the wait is a program that does not
     * wait (hrd_standby_pipe_event) */
    if (rd >= 0 && d->ep_fd >= 0 && hr__os_poller_add(d->ep_fd, rd) < 0) {
        pmm__os_close(rd);
        rd = -1;
    }
    sb->ready_rd = rd;
    sb->conn = -1;
    sb->run = d->reg->groups[a->group].restarts + 1;
    int r = hrd_spawn_wait(pid, ep);
    if (r < 0) { /* it exits 127, reaped as a standby that never waited */
        sb->off = 1;
        hrd_log(d, HRD_ERR,
                "actor %s: cannot start its standby: %s: it runs without "
                "one",
                a->name, pmm_strerror(r));
    }
}

/* Wanted and missing: a direct actor with HR_STANDBY=1 whose live
 * instance is up in a running group. */
static int due(const struct hrd *d, int slot)
{
    const struct hrd_standby *sb = &d->standby[slot];
    const struct hr_reg_actor *a = &d->reg->actors[slot];
    return sb->want && !sb->off && sb->state == HRD_SB_NONE && a->direct &&
           a->state == HR_A_RUNNING && a->pid > 0 &&
           d->readiness[slot] != HRD_R_STARTING &&
           d->reg->groups[a->group].state == HR_G_RUNNING;
}

/* slot's standby said it was ready (how) before it waited: its program
 * does not call hr_standby_wait(); the actor runs without one. */
static void ready_unwaited(struct hrd *d, int slot, const char *how)
{
    struct hrd_standby *sb = &d->standby[slot];
    if (sb->state != HRD_SB_STARTING)
        return;
    hrd_log(d, HRD_WARNING,
            "actor %s: its standby (pid %d) %s without waiting in "
            "hr_standby_wait(): a program that does not call it runs "
            "without a standby",
            d->reg->actors[slot].name, sb->pid, how);
    sb->off = 1;
    kill_it(sb);
}

static void said_ready(struct hrd *d, int slot)
{
    d->standby[slot].said_ready = 0;
    ready_unwaited(d, slot, "said READY=1");
}

int hrd_standby_pipe_event(struct hrd *d, int fd)
{
    char buf[64];
    HRD_FOR_ACTORS(d, i) {
        struct hrd_standby *sb = &d->standby[i];
        if (sb->ready_rd != fd || fd < 0)
            continue;
        int n = hr__os_read(fd, buf, sizeof buf);
        if (n > 0 && memchr(buf, '\n', (size_t)n))
            ready_unwaited(d, i, "wrote its readiness fd");
        else if (n == 0 || (n < 0 && n != -EAGAIN)) {
            /* closed: its death is on its way, or it closes what it
             * inherited; either way nothing more to hear before promotion */
            hr__os_poller_del(d->ep_fd, fd);
        }
        return 1;
    }
    return 0;
}

int hrd_standby_tick(struct hrd *d)
{
    int64_t now = hr__os_mono_ms(), next = -1;
    if (d->stopping || d->exec_pending)
        return -1;
    HRD_FOR_ACTORS(d, i) {
        struct hrd_standby *sb = &d->standby[i];
        if (sb->said_ready)
            said_ready(d, i);
        if (!due(d, i))
            continue;
        if (sb->not_before_ms > now) {
            int64_t in = sb->not_before_ms - now;
            next = next < 0 || in < next ? in : next;
            continue;
        }
        start(d, i);
    }
    return (int)next;
}

int hrd_standby_promote(struct hrd *d, int slot)
{
    struct hrd_standby *sb = &d->standby[slot];
    struct hr_reg_actor *a = &d->reg->actors[slot];
    uint32_t restarts = d->reg->groups[a->group].restarts;
    pid_t pid = sb->pid;
    if (!pid || sb->state == HRD_SB_DYING)
        return 0;
    if (sb->run != restarts) { /* made for another run: cannot happen */
        kill_it(sb);
        return 0;
    }
    int waited = sb->state == HRD_SB_WAITING;
    /* COMMIT POINT: the answer wakes it; from here on it is the live one */
    if (waited && hr__msg_send(sb->conn, HR_REPLY, (int32_t)restarts, NULL, 0,
                               NULL, 0) < 0) {
        kill_it(sb); /* gone meanwhile: its death is on its way */
        return 0;
    }
    if (sb->ready_rd >= 0 && d->ep_fd >= 0) /* ready.c's from here on */
        hr__os_poller_del(d->ep_fd, sb->ready_rd);
    hrd_ready_started(d, slot, sb->ready_rd); /* the pipe is the actor's now */
    sb->ready_rd = -1;
    clear(sb);
    sb->deaths = 0;
    sb->pending = (uint8_t)!waited;
    sb->not_before_ms = hr__os_mono_ms() + AFTER_PROMOTION_MS;
    hrd_log(d, HRD_INFO, "actor %s of group %d: standby pid %d promoted%s",
            a->name, a->group, (int)pid, waited ? "" : " (it had not called "
            "hr_standby_wait yet: it goes on when it does)");
    return pid;
}

/* The pause before a standby's next start after n deaths in a row
 * before this one: none, then AGAIN_FIRST_MS doubling to AGAIN_PAUSE_MS. */
static int64_t again_in(uint32_t n)
{
    if (n == 0)
        return 0;
    int64_t ms = AGAIN_FIRST_MS;
    while (--n > 0 && ms < AGAIN_PAUSE_MS)
        ms *= 2;
    return ms < AGAIN_PAUSE_MS ? ms : AGAIN_PAUSE_MS;
}

static void describe(int status, char *buf, size_t cap)
{
    if (WIFSIGNALED(status))
        snprintf(buf, cap, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
}

int hrd_standby_exited(struct hrd *d, pid_t pid, int status)
{
    int slot = hrd_standby_of(d, pid);
    char how[64];
    if (slot < 0)
        return 0;
    struct hrd_standby *sb = &d->standby[slot];
    const char *name = d->reg->actors[slot].name;
    hr__os_kill(-pid, SIGKILL); /* what is left of its tree */
    describe(status, how, sizeof how);
    int waiting = sb->state == HRD_SB_WAITING;
    if (waiting || (sb->state == HRD_SB_STARTING && !sb->off &&
                    WIFSIGNALED(status))) {
        int64_t pause = again_in(sb->deaths++);
        sb->not_before_ms = pause ? hr__os_mono_ms() + pause : 0;
        hrd_log(d, HRD_WARNING,
                "actor %s: its standby (pid %d) %s while %s: started "
                "again in %lld ms",
                name, (int)pid, how, waiting ? "waiting" : "it initialised",
                (long long)pause);
    } else if (sb->state == HRD_SB_STARTING && !sb->off) {
        sb->off = 1;
        hrd_log(d, HRD_WARNING,
                "actor %s: its standby (pid %d) %s before it called "
                "hr_standby_wait(): a program that does not call it runs "
                "without a standby",
                name, (int)pid, how);
    }
    clear(sb);
    return 1;
}

int hrd_standby_request(struct hrd *d, int conn, pid_t caller, int *kept)
{
    int slot = hrd_standby_of(d, caller);
    *kept = 0;
    if (slot >= 0) {
        struct hrd_standby *sb = &d->standby[slot];
        if (sb->state != HRD_SB_STARTING)
            return sb->state == HRD_SB_WAITING ? -EBUSY : -ESRCH;
        sb->state = HRD_SB_WAITING;
        sb->conn = conn;
        *kept = 1;
        return 0;
    }
    slot = hrd_find_pid(d, caller);
    if (slot < 0 || !d->standby[slot].pending)
        return -EPERM; /* not a standby of this site */
    d->standby[slot].pending = 0; /* promoted before it asked */
    return (int)d->reg->groups[d->reg->actors[slot].group].restarts;
}

void hrd_standby_drop(struct hrd *d, int slot)
{
    struct hrd_standby *sb = &d->standby[slot];
    kill_it(sb);
    if (sb->conn >= 0)
        pmm__os_close(sb->conn);
    if (sb->ready_rd >= 0)
        pmm__os_close(sb->ready_rd);
    sb->conn = sb->ready_rd = -1;
    sb->want = sb->off = sb->pending = sb->said_ready = 0;
    sb->deaths = 0;
    sb->not_before_ms = 0;
}

void hrd_standby_stop_all(struct hrd *d)
{
    int64_t until = hr__os_mono_ms() + HRD_KILL_WAIT_S * 1000;
    for (int i = 0; i < HR_REG_ACTORS; i++)
        kill_it(&d->standby[i]);
    for (int i = 0; i < HR_REG_ACTORS; i++) {
        struct hrd_standby *sb = &d->standby[i];
        while (sb->pid && hr__os_reap(sb->pid, NULL, 1) == 0 &&
               hr__os_mono_ms() < until)
            hr__os_sleep_ms(1);
        if (sb->pid)
            clear(sb);
    }
}

const char *hrd_standby_state(const struct hrd *d, int slot)
{
    uint8_t s = d->standby[slot].state;
    return s == HRD_SB_STARTING ? "starting"
         : s == HRD_SB_WAITING ? "waiting" : NULL;
}
