/* SPDX-License-Identifier: MIT */
/*
 * standby.c - standby instances of direct actors (see standby.h).
 *
 * The life of a standby, per actor slot (d->slot[slot].standby):
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
 * The whole of it is the table sb_table[state][event] below, every cell
 * written: the next state, the action, and the state when the action
 * fails (a start that cannot fork, a promotion whose standby is gone).
 * The functions of standby.h turn what the loop sees into one event each
 * and raise it (sb_event); no action raises another.
 *
 * Invariant: a standby's pid is in d->slot[].standby until it is reaped, never
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
        memset(&d->slot[i].standby, 0, sizeof d->slot[i].standby);
        d->slot[i].standby.conn = d->slot[i].standby.ready_rd = -1;
    }
}

/* What happens to a standby. */
enum sb_event {
    SE_DUE,      /* wanted and missing, its pause over (tick) */
    SE_ASKED,    /* its HR_REQ_STANDBY: it waits in hr_standby_wait() */
    SE_PROMOTE,  /* a group restart starts its actor again */
    SE_UNWAITED, /* it said it was ready (READY=1, its readiness fd)
                    without waiting: a program that does not wait */
    SE_KILLED,   /* reaped, killed by a signal */
    SE_EXITED,   /* reaped, exited */
    SE_DROP,     /* its actor leaves the registry */
    SE_STOP,     /* a stop or a site restart: every standby ends */
    SE_COUNT
};

/* What an event does, besides the state change. */
enum {
    SA_NONE,
    SA_START,    /* fork and exec it from the stored image */
    SA_WAIT,     /* keep its request: answered at promotion */
    SA_BUSY,     /* refuse a second request: -EBUSY */
    SA_REFUSE,   /* refuse a request from no standby: -ESRCH */
    SA_PROMOTE,  /* answer its request: it is the live instance now */
    SA_GIVE_UP,  /* its program does not wait: none any more, killed */
    SA_AGAIN,    /* killed, or died waiting: started again after a pause */
    SA_OFF,      /* exited before it waited: none any more */
    SA_CLEAR,    /* a killed one reaped */
    SA_KILL,     /* SIGKILL to its tree: reaped later */
    SA_FORGET,   /* killed, and its actor's wants forgotten */
    SA_COUNT
};

struct sb_cell {
    uint8_t next, action, fail; /* fail: the state when the action fails */
};
#define N HRD_SB_NONE
#define ST HRD_SB_STARTING
#define W HRD_SB_WAITING
#define DY HRD_SB_DYING
#define C(next, action) {next, action, next}
#define F(next, action, fail) {next, action, fail}

/* [state][event].  Columns in enum sb_event order: DUE ASKED PROMOTE
 * UNWAITED KILLED EXITED DROP STOP.  No process, no death: a none
 * standby's KILLED and EXITED cells cannot be reached. */
static const struct sb_cell sb_table[HRD_SB_DYING + 1][SE_COUNT] = {
    [HRD_SB_NONE] = {F(ST, SA_START, N), C(N, SA_REFUSE), C(N, SA_NONE),
                     C(N, SA_NONE), C(N, SA_NONE), C(N, SA_NONE),
                     C(N, SA_FORGET), C(N, SA_NONE)},
    [HRD_SB_STARTING] = {C(ST, SA_NONE), C(W, SA_WAIT),
                         F(N, SA_PROMOTE, DY), C(DY, SA_GIVE_UP),
                         C(N, SA_AGAIN), C(N, SA_OFF), C(DY, SA_FORGET),
                         C(DY, SA_KILL)},
    [HRD_SB_WAITING] = {C(W, SA_NONE), C(W, SA_BUSY), F(N, SA_PROMOTE, DY),
                        C(W, SA_NONE), C(N, SA_AGAIN), C(N, SA_AGAIN),
                        C(DY, SA_FORGET), C(DY, SA_KILL)},
    [HRD_SB_DYING] = {C(DY, SA_NONE), C(DY, SA_REFUSE), C(DY, SA_NONE),
                      C(DY, SA_NONE), C(N, SA_CLEAR), C(N, SA_CLEAR),
                      C(DY, SA_FORGET), C(DY, SA_NONE)},
};
_Static_assert(SE_COUNT == 8, "sb_table has a column for each event");

/* What the loop saw, for the action: a request's connection, a death's
 * wait status, how it said it was ready.  The action's result: 0 or
 * more, or negative when it failed (the cell's fail state is taken). */
struct sb_ctx {
    int conn, status;
    const char *how;
};

/* Close what the standby's process held (its wants are kept). */
static void release(struct hrd_standby *sb)
{
    if (sb->conn >= 0)
        pmm__os_close(sb->conn);
    if (sb->ready_rd >= 0)
        pmm__os_close(sb->ready_rd);
    sb->conn = sb->ready_rd = -1;
    sb->pid = 0;
}

/* SIGKILL to the standby and its tree; reaped later. */
static void kill_it(struct hrd_standby *sb)
{
    if (!sb->pid)
        return;
    pmm__os_kill(-sb->pid, SIGKILL);
    pmm__os_kill(sb->pid, SIGKILL);
}

static int start(struct hrd *d, int slot)
{
    struct hrd_standby *sb = &d->slot[slot].standby;
    struct hr_reg_actor *a = &d->reg->actors[slot];
    int ep, rd = -1;
    int pid = hrd_spawn_standby(d, slot, &ep, &rd);
    if (pid < 0) {
        hrd_log(d, HRD_ERR,
                "actor %s: cannot start its standby: %s (tried again in "
                "%d ms)",
                a->name, pmm_strerror(pid), AGAIN_PAUSE_MS);
        sb->not_before_ms = pmm__os_mono_ms() + AGAIN_PAUSE_MS;
        return pid;
    }
    sb->pid = pid;
    /* watched: a newline there before the wait is a program that does not
     * wait (hrd_standby_pipe_event) */
    if (rd >= 0 && d->ep_fd >= 0 && pmm__os_poller_add(d->ep_fd, rd) < 0) {
        pmm__os_close(rd);
        rd = -1;
    }
    sb->ready_rd = rd;
    sb->conn = -1;
    sb->run = d->reg->groups[a->group].restarts + 1;
    int r = hrd_spawn_wait(d, slot, pid, ep);
    if (r < 0) { /* it exits 127, reaped as a standby that never waited */
        sb->off = 1;
        hrd_log(d, HRD_ERR,
                "actor %s: cannot start its standby: %s: it runs without "
                "one",
                a->name, hrd_start_why(d, r));
    }
    return 0;
}

/* SA_PROMOTE: its pid, or -1 when it cannot be (made for another run, or
 * gone before its answer): then it is killed, and the caller executes the
 * program. */
static int promote(struct hrd *d, int slot, int waited)
{
    struct hrd_standby *sb = &d->slot[slot].standby;
    struct hr_reg_actor *a = &d->reg->actors[slot];
    uint32_t restarts = d->reg->groups[a->group].restarts;
    pid_t pid = sb->pid;
    /* COMMIT POINT: the answer wakes it; from here on it is the live one */
    if (sb->run != restarts || /* made for another run: cannot happen */
        (waited && hr__msg_send(sb->conn, HR_REPLY, (int32_t)restarts, NULL, 0,
                                NULL, 0) < 0)) {
        kill_it(sb); /* gone meanwhile: its death is on its way */
        return -1;
    }
    if (sb->ready_rd >= 0 && d->ep_fd >= 0) /* ready.c's from here on */
        pmm__os_poller_del(d->ep_fd, sb->ready_rd);
    hrd_ready_started(d, slot, sb->ready_rd); /* the pipe is the actor's now */
    sb->ready_rd = -1;
    release(sb);
    sb->deaths = 0;
    sb->pending = (uint8_t)!waited;
    sb->not_before_ms = pmm__os_mono_ms() + AFTER_PROMOTION_MS;
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

/* SA_AGAIN: killed, or died while waiting: not a failure of its group
 * (an operator's kill, the OOM killer): started again, deaths in a row
 * apart. */
static void again(struct hrd *d, int slot, int was, int status)
{
    struct hrd_standby *sb = &d->slot[slot].standby;
    char how[64];
    describe(status, how, sizeof how);
    int64_t pause = again_in(sb->deaths++);
    sb->not_before_ms = pause ? pmm__os_mono_ms() + pause : 0;
    hrd_log(d, HRD_WARNING,
            "actor %s: its standby (pid %d) %s while %s: started again in "
            "%lld ms",
            d->reg->actors[slot].name, (int)sb->pid, how,
            was == HRD_SB_WAITING ? "waiting" : "it initialised",
            (long long)pause);
}

/* SA_OFF, SA_GIVE_UP: its program does not call hr_standby_wait() (how
 * it showed it, and when: "before it called", "without waiting in"):
 * the actor runs without a standby from then on. */
static void off(struct hrd *d, int slot, const char *how, const char *when)
{
    struct hrd_standby *sb = &d->slot[slot].standby;
    hrd_log(d, HRD_WARNING,
            "actor %s: its standby (pid %d) %s %s hr_standby_wait(): a "
            "program that does not call it runs without a standby",
            d->reg->actors[slot].name, (int)sb->pid, how, when);
    sb->off = 1;
}

static int act(struct hrd *d, int slot, int action, int was,
               const struct sb_ctx *c)
{
    struct hrd_standby *sb = &d->slot[slot].standby;
    char how[64];
    switch (action) {
    case SA_START:
        return start(d, slot);
    case SA_WAIT:
        sb->conn = c->conn;
        return 0;
    case SA_BUSY:
        return -EBUSY;
    case SA_REFUSE:
        return -ESRCH;
    case SA_PROMOTE:
        return promote(d, slot, was == HRD_SB_WAITING);
    case SA_GIVE_UP:
        off(d, slot, c->how, "without waiting in");
        kill_it(sb);
        return 0;
    case SA_AGAIN: /* one given up already (its exec failed) is not */
        if (!sb->off)
            again(d, slot, was, c->status);
        release(sb);
        return 0;
    case SA_OFF:
        describe(c->status, how, sizeof how);
        if (!sb->off)
            off(d, slot, how, "before it called");
        release(sb);
        return 0;
    case SA_CLEAR:
        release(sb);
        return 0;
    case SA_KILL:
        kill_it(sb);
        return 0;
    case SA_FORGET:
        kill_it(sb);
        if (sb->conn >= 0)
            pmm__os_close(sb->conn);
        if (sb->ready_rd >= 0)
            pmm__os_close(sb->ready_rd);
        sb->conn = sb->ready_rd = -1;
        sb->want = sb->off = sb->pending = sb->said_ready = 0;
        sb->deaths = 0;
        sb->not_before_ms = 0;
        return 0;
    }
    return 0;
}

/* Raise ev on slot's standby: the cell's action, then its next state (or
 * its fail state when the action failed); the action's result. */
static int sb_event(struct hrd *d, int slot, enum sb_event ev,
                    const struct sb_ctx *c)
{
    struct hrd_standby *sb = &d->slot[slot].standby;
    uint8_t was = sb->state;
    struct sb_cell cell = sb_table[was][ev];
    int r = act(d, slot, cell.action, was, c);
    sb->state = r < 0 ? cell.fail : cell.next;
    return r;
}

/* Wanted and missing: a direct actor with HR_STANDBY=1 whose live
 * instance is up in a running group. */
static int due(const struct hrd *d, int slot)
{
    const struct hrd_standby *sb = &d->slot[slot].standby;
    const struct hr_reg_actor *a = &d->reg->actors[slot];
    return sb->want && !sb->off && sb->state == HRD_SB_NONE && a->direct &&
           a->state == HR_A_RUNNING && a->pid > 0 &&
           d->slot[slot].readiness != HRD_R_STARTING &&
           d->reg->groups[a->group].state == HR_G_RUNNING;
}

int hrd_standby_pipe_event(struct hrd *d, int fd)
{
    char buf[64];
    HRD_FOR_ACTORS(d, i) {
        struct hrd_standby *sb = &d->slot[i].standby;
        if (sb->ready_rd != fd || fd < 0)
            continue;
        int n = pmm__os_read(fd, buf, sizeof buf);
        if (n > 0 && memchr(buf, '\n', (size_t)n)) {
            struct sb_ctx c = {.how = "wrote its readiness fd"};
            sb_event(d, i, SE_UNWAITED, &c);
        } else if (n == 0 || (n < 0 && n != -EAGAIN)) {
            /* closed: its death is on its way, or it closes what it
             * inherited; either way nothing more to hear before promotion */
            pmm__os_poller_del(d->ep_fd, fd);
        }
        return 1;
    }
    return 0;
}

int hrd_standby_tick(struct hrd *d)
{
    int64_t now = pmm__os_mono_ms(), next = -1;
    if (d->stopping || d->ending || d->exec_pending)
        return -1;
    HRD_FOR_ACTORS(d, i) {
        struct hrd_standby *sb = &d->slot[i].standby;
        if (sb->said_ready) { /* ready.c heard its READY=1 */
            struct sb_ctx c = {.how = "said READY=1"};
            sb->said_ready = 0;
            sb_event(d, i, SE_UNWAITED, &c);
        }
        if (!due(d, i))
            continue;
        if (sb->not_before_ms > now) {
            int64_t in = sb->not_before_ms - now;
            next = next < 0 || in < next ? in : next;
            continue;
        }
        sb_event(d, i, SE_DUE, NULL);
    }
    return (int)next;
}

int hrd_standby_promote(struct hrd *d, int slot)
{
    if (!d->slot[slot].standby.pid)
        return 0;
    int r = sb_event(d, slot, SE_PROMOTE, NULL);
    return r > 0 ? r : 0;
}

int hrd_standby_exited(struct hrd *d, pid_t pid, int status)
{
    int slot = hrd_standby_of(d, pid);
    if (slot < 0)
        return 0;
    pmm__os_kill(-pid, SIGKILL); /* what is left of its tree */
    struct sb_ctx c = {.status = status};
    sb_event(d, slot, WIFSIGNALED(status) ? SE_KILLED : SE_EXITED, &c);
    return 1;
}

int hrd_standby_request(struct hrd *d, int conn, pid_t caller, int *kept)
{
    int slot = hrd_standby_of(d, caller);
    *kept = 0;
    if (slot >= 0) {
        struct sb_ctx c = {.conn = conn};
        int r = sb_event(d, slot, SE_ASKED, &c);
        *kept = r == 0;
        return r;
    }
    slot = hrd_find_pid(d, caller);
    if (slot < 0 || !d->slot[slot].standby.pending)
        return -EPERM; /* not a standby of this site */
    d->slot[slot].standby.pending = 0; /* promoted before it asked */
    return (int)d->reg->groups[d->reg->actors[slot].group].restarts;
}

void hrd_standby_drop(struct hrd *d, int slot)
{
    sb_event(d, slot, SE_DROP, NULL);
}

void hrd_standby_stop_all(struct hrd *d)
{
    int64_t until = pmm__os_mono_ms() + HRD_KILL_WAIT_S * 1000;
    for (int i = 0; i < HR_REG_ACTORS; i++)
        sb_event(d, i, SE_STOP, NULL);
    for (int i = 0; i < HR_REG_ACTORS; i++) {
        struct hrd_standby *sb = &d->slot[i].standby;
        int st = 0;
        while (sb->pid && pmm__os_reap(sb->pid, &st, 1) == 0 &&
               pmm__os_mono_ms() < until)
            pmm__os_sleep_ms(1);
        if (sb->pid) { /* reaped, or left to the kernel: forgotten */
            struct sb_ctx c = {.status = st};
            sb_event(d, i, SE_KILLED, &c);
        }
    }
}

const char *hrd_standby_state(const struct hrd *d, int slot)
{
    uint8_t s = d->slot[slot].standby.state;
    return s == HRD_SB_STARTING ? "starting"
         : s == HRD_SB_WAITING ? "waiting" : NULL;
}

void hrd_standby_table_print(FILE *f)
{
    static const char *const states[] = {"none", "starting", "waiting",
                                         "dying"};
    static const char *const events[SE_COUNT] = {
        "due", "asked", "promote", "unwaited", "killed", "exited", "drop",
        "stop"};
    static const char *const actions[SA_COUNT] = {
        "-", "start", "wait", "busy", "refuse", "promote", "give_up", "again",
        "off", "clear", "kill", "forget"};
    for (int s = 0; s <= HRD_SB_DYING; s++)
        for (int e = 0; e < SE_COUNT; e++) {
            struct sb_cell c = sb_table[s][e];
            fprintf(f, "standby %-10s %-10s -> %-10s %s", states[s], events[e],
                    states[c.next], actions[c.action]);
            if (c.fail != c.next)
                fprintf(f, " (failing: %s)", states[c.fail]);
            fputc('\n', f);
        }
}
