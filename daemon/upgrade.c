/* SPDX-License-Identifier: MIT */
/*
 * upgrade.c - the life of one actor's upgrade (see upgrade.h for the
 * steps): one table of state x event -> next state, action, and the state
 * when the action fails, every cell written (hrd --tables).
 *
 *   none --begin--> trial --its hr_standby_wait--> stopping --old reaped-->
 *   promoted --ready--> none (committed)
 *   any of them --new one dead, timeout--> undo --nothing runs--> none
 *   (the old image started again if the old one was stopped)
 *
 * Invariants: the state changes in up_event() only, from the cell; an
 * action never delivers an event (the loop's tick, upjob.c, raises the
 * ones it sees: ready, timeout, settled, abort); the old instance's death
 * and the new one's are never a failure of their group (hrd_upgrade_exited
 * takes them before members.c sees them) while their group runs; the
 * trial is no member (tree.c and cgroup.c know it by hrd_trial_of) until
 * it is promoted; the actor's own image changes only at the commit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "actor.h"
#include "handover.h"
#include "hrd.h"
#include "imgver.h"
#include "log.h"
#include "metrics.h"
#include "os/ctl.h"
#include "os/os.h"
#include "proto.h"
#include "ready.h"
#include "spawn.h"
#include "standby.h"
#include "tree.h"
#include "upgrade.h"
#include "upstate.h"

enum {
    UA_NONE,
    UA_TRIAL,    /* store nothing more: start the new one as a standby */
    UA_COLD,     /* stop the old one; the new one starts once it is gone */
    UA_BUSY,     /* a second begin: -EBUSY */
    UA_REFUSE,   /* a wait from no trial waiting to be promoted: -EPERM */
    UA_WAITED,   /* keep its request, stop the old one */
    UA_FAILED,   /* the trial died, the old one serves: over */
    UA_NOTE_NEW, /* the new one is gone: rolled back when nothing runs */
    UA_NOTE_OLD, /* the old one is gone */
    UA_PROMOTE,  /* the old one is gone: the new one is the actor */
    UA_COMMIT,   /* ready: its image is the actor's */
    UA_KILL_NEW, /* not ready in time: the new one ends */
    UA_RESTORE,  /* nothing runs: the old image starts again */
    UA_ABORT,    /* its group restarts or ends: the upgrade ends */
    UA_COUNT
};

struct up_cell {
    uint8_t next, action, fail;
};
#define N HRD_UP_NONE
#define T HRD_UP_TRIAL
#define S HRD_UP_STOPPING
#define P HRD_UP_PROMOTED
#define U HRD_UP_UNDO
#define C(next, action) {next, action, next}
#define F(next, action, fail) {next, action, fail}

/* [state][event].  Columns in enum hrd_up_event order: BEGIN BEGIN_COLD
 * WAITING NEW_GONE OLD_GONE READY TIMEOUT SETTLED ABORT.  The old one's
 * death is taken only while it is being stopped (stopping, undo); the
 * new one's only once it was started (trial and after). */
static const struct up_cell up_table[HRD_UP_UNDO + 1][UE_COUNT] = {
    [N] = {F(T, UA_TRIAL, N), F(S, UA_COLD, N), C(N, UA_REFUSE), C(N, UA_NONE),
           C(N, UA_NONE), C(N, UA_NONE), C(N, UA_NONE), C(N, UA_NONE),
           C(N, UA_NONE)},
    [T] = {C(T, UA_BUSY), C(T, UA_BUSY), F(S, UA_WAITED, U), C(N, UA_FAILED),
           C(T, UA_NONE), C(T, UA_NONE), C(U, UA_KILL_NEW), C(T, UA_NONE),
           C(N, UA_ABORT)},
    [S] = {C(S, UA_BUSY), C(S, UA_BUSY), C(S, UA_REFUSE), C(U, UA_NOTE_NEW),
           F(P, UA_PROMOTE, U), C(S, UA_NONE), C(U, UA_KILL_NEW), C(S, UA_NONE),
           C(N, UA_ABORT)},
    [P] = {C(P, UA_BUSY), C(P, UA_BUSY), C(P, UA_REFUSE), C(U, UA_NOTE_NEW),
           C(P, UA_NONE), C(N, UA_COMMIT), C(U, UA_KILL_NEW), C(P, UA_NONE),
           C(N, UA_ABORT)},
    [U] = {C(U, UA_BUSY), C(U, UA_BUSY), C(U, UA_REFUSE), C(U, UA_NOTE_NEW),
           C(U, UA_NOTE_OLD), C(U, UA_NONE), C(U, UA_NONE), C(N, UA_RESTORE),
           C(N, UA_ABORT)},
};
_Static_assert(UE_COUNT == 9, "up_table has a column for each event");

/* Why it is rolled back, the first reason only. */
static void say_why(struct hrd_upgrade *u, const char *why)
{
    if (!u->why[0])
        snprintf(u->why, sizeof u->why, "%s", why);
}

static void death_why(struct hrd_upgrade *u, int status)
{
    char why[96];
    if (WIFSIGNALED(status))
        snprintf(why, sizeof why, "the new version was killed by signal %d "
                 "before it was ready", WTERMSIG(status));
    else
        snprintf(why, sizeof why, "the new version exited with status %d "
                 "before it was ready", WEXITSTATUS(status));
    say_why(u, why);
}

/* The upgrade is over with result r: what it held let go, its job told. */
static void finish(struct hrd *d, int slot, int r)
{
    struct hrd_upgrade *u = &d->slot[slot].up;
    if (u->conn >= 0)
        pmm__os_close(u->conn);
    if (u->ready_rd >= 0)
        pmm__os_close(u->ready_rd);
    if (u->image_fd >= 0)
        pmm__os_close(u->image_fd);
    u->conn = u->ready_rd = u->image_fd = -1;
    if (r < 0)
        hrd_ver_drop_trial(d, slot);
    d->slot[slot].standby.want = u->sb_want; /* its standbys come back */
    u->trial_pid = u->new_pid = u->old_pid = 0;
    u->result = r;
    u->done = 1;
}

/* Ask the old instance to stop: a planned death, with its stop timeout. */
static void stop_old(struct hrd *d, int slot)
{
    struct hrd_upgrade *u = &d->slot[slot].up;
    struct hr_reg_actor *a = &d->reg->actors[slot];
    u->old_pid = a->pid;
    hrd_tree_stop(d, slot, hrd_actor_stop_ms(d, a));
    hrd_actor_event(d, slot, AE_KILLED, 0);
}

/* UA_TRIAL: the new version as a standby of the same run. */
static int start_trial(struct hrd *d, int slot)
{
    struct hrd_upgrade *u = &d->slot[slot].up;
    char args[PMM_NAME_MAX];
    hrd_ver_trial_args(slot, args, sizeof args);
    struct hrd_trial t = {u->image_fd, args, d->slot[slot].ver->trial.args_len, 1};
    int ep, rd;
    int pid = hrd_spawn_trial(d, slot, &t, &ep, &rd);
    if (pid < 0)
        return pid;
    u->trial_pid = u->new_pid = pid;
    u->ready_rd = rd;
    int r = hrd_spawn_wait(d, slot, pid, ep);
    return r < 0 ? r : 0; /* a failed exec: its death says so (127) */
}

/* UA_PROMOTE: the old one is gone; the new one is the actor now. */
static int promote(struct hrd *d, int slot)
{
    struct hrd_upgrade *u = &d->slot[slot].up;
    char args[PMM_NAME_MAX];
    int pid = u->trial_pid, r = 0;
    int64_t settle = pmm__os_mono_ms() + HRD_UP_SETTLE_MS;
    u->settle_ms = settle < u->deadline_ms ? settle : u->deadline_ms;
    if (u->cold) {
        hrd_ver_trial_args(slot, args, sizeof args);
        struct hrd_trial t = {u->image_fd, args, d->slot[slot].ver->trial.args_len, 0};
        int ep, rd;
        pid = hrd_spawn_trial(d, slot, &t, &ep, &rd);
        d->slot[slot].standby.want = 0; /* not before it is committed */
        if (pid > 0) {
            u->new_pid = pid;
            hrd_actor_event(d, slot, AE_STARTED, pid);
            r = hrd_spawn_wait(d, slot, pid, ep);
        }
        return pid < 0 ? pid : r < 0 ? r : 0;
    }
    /* COMMIT POINT of the take-over: the answer wakes it as the actor */
    r = hr__msg_send(u->conn, HR_REPLY,
                     (int32_t)d->reg->groups[d->reg->actors[slot].group].restarts,
                     NULL, 0, NULL, 0);
    pmm__os_close(u->conn);
    u->conn = -1;
    if (r < 0) {
        pmm__os_kill(-pid, SIGKILL); /* gone meanwhile: its death follows */
        pmm__os_kill(pid, SIGKILL);
        say_why(u, "the new version went away before its promotion");
        return r;
    }
    u->trial_pid = 0; /* a member from here on */
    hrd_actor_event(d, slot, AE_STARTED, pid);
    hrd_ready_started(d, slot, u->ready_rd); /* its readiness pipe is ready.c's */
    u->ready_rd = -1;
    return 0;
}

/* UA_KILL_NEW: the new one ends (the trial, or the promoted actor). */
static void kill_new(struct hrd *d, int slot)
{
    struct hrd_upgrade *u = &d->slot[slot].up;
    if (u->trial_pid) {
        pmm__os_kill(-u->trial_pid, SIGKILL);
        pmm__os_kill(u->trial_pid, SIGKILL);
    } else if (u->new_pid && d->reg->actors[slot].pid == u->new_pid) {
        hrd_tree_stop(d, slot, 0);
        hrd_actor_event(d, slot, AE_KILLED, 0);
    }
}

/* UA_RESTORE: nothing runs; the old image starts again if it was stopped. */
static void restore(struct hrd *d, int slot)
{
    struct hrd_upgrade *u = &d->slot[slot].up;
    struct hr_reg_actor *a = &d->reg->actors[slot];
    hrd_ver_drop_trial(d, slot);
    if (u->old_gone && a->pid <= 0) {
        int r = hrd_start_actor(d, slot, NULL);
        if (r < 0) {
            hrd_log(d, HRD_ERR, "actor %s: rolled back, but its old image "
                    "cannot start: %s", a->name, hrd_start_why(d, r));
            u->restore_failed = 1;
        }
    }
    hrd_log(d, HRD_WARNING, "actor %s of group %d: upgrade rolled back: %s; "
            "the old version serves", a->name, a->group, u->why);
    finish(d, slot, -ECANCELED);
}

static void commit(struct hrd *d, int slot)
{
    struct hrd_upgrade *u = &d->slot[slot].up;
    struct hr_reg_actor *a = &d->reg->actors[slot];
    int r = hrd_ver_commit(d, slot);
    if (r < 0)
        hrd_log(d, HRD_ERR, "actor %s: its new image could not be made its "
                "own (%s): the next controller tries again", a->name,
                pmm_strerror(r));
    if (d->slot[slot].image_fd >= 0) /* later starts execute the new one */
        pmm__os_close(d->slot[slot].image_fd);
    d->slot[slot].image_fd = u->image_fd;
    u->image_fd = -1;
    if (d->slot[slot].nkept) { /* it took what it would before it was ready */
        hrd_log(d, HRD_WARNING, "actor %s: %u connection%s handed over and not "
                "taken by the new version: closed", a->name, d->slot[slot].nkept,
                d->slot[slot].nkept == 1 ? "" : "s");
        hrd_kept_close(d, slot);
    }
    const struct hrd_image_ver *v = hrd_ver_of(d, slot);
    hrd_log(d, HRD_NOTICE, "actor %s of group %d upgraded: pid %d runs %s "
            "(%llu bytes, fnv1a64 %016llx)", a->name, a->group, a->pid,
            v ? v->path : "?", v ? (unsigned long long)v->size : 0ull,
            v ? (unsigned long long)v->hash : 0ull);
    finish(d, slot, 0);
}

static int act(struct hrd *d, int slot, int action, const struct up_ctx *c)
{
    struct hrd_upgrade *u = &d->slot[slot].up;
    char why[160]; /* u->why's room */
    switch (action) {
    case UA_TRIAL:
        return start_trial(d, slot);
    case UA_COLD:
        stop_old(d, slot);
        return 0;
    case UA_BUSY:
        return -EBUSY;
    case UA_REFUSE:
        return -EPERM;
    case UA_WAITED:
        u->conn = c->conn;
        stop_old(d, slot);
        return 0;
    case UA_FAILED:
        death_why(u, c->status);
        hrd_log(d, HRD_WARNING, "actor %s: upgrade abandoned: %s; the old "
                "version serves", d->reg->actors[slot].name, u->why);
        finish(d, slot, -ECANCELED);
        return 0;
    case UA_NOTE_NEW:
        death_why(u, c->status);
        if (d->reg->actors[slot].pid == u->new_pid) { /* promoted: no failure */
            hrd_tree_reaped(d, slot, u->new_pid);
            hrd_actor_event(d, slot, AE_HALTED, 0);
        }
        u->trial_pid = u->new_pid = 0;
        return 0;
    case UA_NOTE_OLD:
    case UA_PROMOTE:
        hrd_tree_reaped(d, slot, u->old_pid);
        hrd_actor_event(d, slot, AE_HALTED, 0);
        u->old_pid = 0;
        u->old_gone = 1;
        return action == UA_PROMOTE ? promote(d, slot) : 0;
    case UA_COMMIT:
        commit(d, slot);
        return 0;
    case UA_KILL_NEW: /* the timeout in s, or in ms if it is not whole */
        snprintf(why, sizeof why, "the new version was not ready in %lld %s%s",
                 (long long)(c->timeout_ms % 1000 ? c->timeout_ms
                                                  : c->timeout_ms / 1000),
                 c->timeout_ms % 1000 ? "ms" : "s",
                 d->slot[slot].says_ready && !u->trial_pid /* promoted */
                     ? " (its actor has said READY=1 before: each new "
                       "version must say it too)" : "");
        say_why(u, why);
        kill_new(d, slot);
        return 0;
    case UA_RESTORE:
        restore(d, slot);
        return 0;
    case UA_ABORT:
        if (u->trial_pid) { /* no member: ended here */
            pmm__os_kill(-u->trial_pid, SIGKILL);
            pmm__os_kill(u->trial_pid, SIGKILL);
        }
        say_why(u, "its group restarted or ended meanwhile (it starts from "
                "its old image)");
        finish(d, slot, -ECANCELED);
        return 0;
    }
    return 0;
}

int hrd_up_event(struct hrd *d, int slot, enum hrd_up_event ev,
                 const struct up_ctx *c)
{
    struct hrd_upgrade *u = &d->slot[slot].up;
    struct up_cell cell = up_table[u->state][ev];
    d->start_why[0] = 0; /* only this action's start says why */
    int r = act(d, slot, cell.action, c);
    if (r < 0 && (cell.action == UA_TRIAL || cell.action == UA_PROMOTE ||
                  cell.action == UA_WAITED)) {
        char why[160]; /* u->why's room */
        snprintf(why, sizeof why, "the new version could not start: %.120s",
                 hrd_start_why(d, r));
        say_why(u, why);
        if (cell.fail == HRD_UP_NONE) /* nothing ran: over at once */
            finish(d, slot, r);
    }
    u->state = r < 0 ? cell.fail : cell.next;
    return r;
}

int hrd_upgrade_moot(struct hrd *d, int slot)
{
    struct hrd_upgrade *u = &d->slot[slot].up;
    struct hr_reg_actor *a = &d->reg->actors[slot];
    return !a->used || d->reg->groups[a->group].state != HR_G_RUNNING ||
           d->reg->groups[a->group].restarts != u->restarts0 ||
           d->grp[a->group].ends != u->ends0;
}

int hrd_upgrade_waiting(struct hrd *d, int conn, pid_t caller, int *kept)
{
    int slot = hrd_trial_of(d, caller);
    *kept = 0;
    if (slot < 0)
        return -ESRCH;
    struct up_ctx c = {.conn = conn};
    if (hrd_upgrade_moot(d, slot)) {
        /* its group restarted or ended since the tick looked (the old
         * instance's death came in the same batch as this request): the
         * upgrade is over, and no old instance is stopped, which is no
         * more (its pid 0 would have signalled the controller's own
         * process group) */
        c.conn = -1;
        hrd_up_event(d, slot, UE_ABORT, &c);
        return -ECANCELED;
    }
    int r = hrd_up_event(d, slot, UE_WAITING, &c);
    *kept = r == 0;
    return r;
}

int hrd_upgrade_exited(struct hrd *d, pid_t pid, int status)
{
    for (int i = 0; pid > 0 && i < HR_REG_ACTORS; i++) {
        struct hrd_upgrade *u = &d->slot[i].up;
        if (u->state == HRD_UP_NONE)
            continue;
        int running = d->reg->groups[d->reg->actors[i].group].state == HR_G_RUNNING;
        struct up_ctx c = {.status = status};
        if (pid == u->trial_pid) {
            pmm__os_kill(-pid, SIGKILL); /* what is left of its tree */
            hrd_up_event(d, i, UE_NEW_GONE, &c);
            hrd_tree_sweep(d);
            return 1;
        }
        if (!running)
            continue; /* stopped for its group: members.c's */
        if (pid == u->new_pid || pid == u->old_pid) {
            if (pid == u->new_pid)
                hrd_metrics_death(d, d->reg->actors[i].group,
                                  hrd_metrics_failure(status));
            else
                hrd_metrics_death(d, d->reg->actors[i].group, HRD_DEATH_STOPPED);
            hrd_up_event(d, i, pid == u->new_pid ? UE_NEW_GONE : UE_OLD_GONE, &c);
            hrd_tree_sweep(d);
            return 1;
        }
    }
    return 0;
}

void hrd_upgrade_init(struct hrd *d)
{
    for (int i = 0; i < HR_REG_ACTORS; i++) {
        struct hrd_upgrade *u = &d->slot[i].up;
        memset(u, 0, sizeof *u);
        u->conn = u->ready_rd = u->image_fd = u->job = -1;
    }
}

void hrd_upgrade_table_print(FILE *f)
{
    static const char *const states[] = {"none", "trial", "stopping",
                                         "promoted", "undo"};
    static const char *const events[UE_COUNT] = {
        "begin", "begin_cold", "waiting", "new_gone", "old_gone", "ready",
        "timeout", "settled", "abort"};
    static const char *const actions[UA_COUNT] = {
        "-", "trial", "cold", "busy", "refuse", "waited", "failed", "note_new",
        "note_old", "promote", "commit", "kill_new", "restore", "abort"};
    for (int s = 0; s <= HRD_UP_UNDO; s++)
        for (int e = 0; e < UE_COUNT; e++) {
            struct up_cell c = up_table[s][e];
            fprintf(f, "upgrade %-10s %-10s -> %-10s %s", states[s], events[e],
                    states[c.next], actions[c.action]);
            if (c.fail != c.next)
                fprintf(f, " (failing: %s)", states[c.fail]);
            fputc('\n', f);
        }
}
