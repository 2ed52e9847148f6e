/* SPDX-License-Identifier: MIT */
/*
 * actor.c - the life of one actor, below its group's (group.c): the table
 * actor_next[event] and the bookkeeping of each event (pid, runs, start
 * time, the clean mark, readiness, the images freed when it is forgotten),
 * starting one actor, a failure kept as its group's last, and stopping or
 * adopting every actor at once.
 *
 * Invariants: an actor's state changes here only, set by
 * hrd_actor_event() from the event alone; nothing here changes a group's
 * state or raises a group event (group.c calls down here, never the other
 * way), so the group table stays the one place where groups change.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "actor.h"
#include "handover.h"
#include "hrd.h"
#include "imgver.h"
#include "log.h"
#include "logpipe.h"
#include "os/os.h"
#include "os/ctl.h"
#include "ready.h"
#include "spawn.h"
#include "standby.h"
#include "tree.h"

/* [state][event] = the next state, every cell written.  The columns, in
 * enum hrd_actor_event order: REGISTERED STARTED KILLED HALTED EXITED
 * FAILED FORGOTTEN.  An actor's next state is its event's, whatever its
 * state: the rows are the same, written out so that the table is the one
 * place to read (and hrd --tables prints) what each pair does; the
 * bookkeeping of each event is hrd_actor_event()'s switch. */
#define ACTOR_ROW                                                              \
    {HR_A_STOPPED, HR_A_RUNNING, HR_A_DYING, HR_A_STOPPED, HR_A_CLEAN,        \
     HR_A_STOPPED, HR_A_FREE}
static const uint8_t actor_table[HR_A_DYING + 1][AE_COUNT] = {
    [HR_A_FREE] = ACTOR_ROW,    [HR_A_RUNNING] = ACTOR_ROW,
    [HR_A_CLEAN] = ACTOR_ROW,   [HR_A_STOPPED] = ACTOR_ROW,
    [HR_A_DYING] = ACTOR_ROW,
};
_Static_assert(AE_COUNT == 7, "actor_table has a column for each event");

void hrd_actor_table_print(FILE *f)
{
    static const char *const states[] = {"free", "running", "clean", "stopped",
                                         "dying"};
    static const char *const events[AE_COUNT] = {
        "registered", "started", "killed", "halted", "exited", "failed",
        "forgotten"};
    for (int s = 0; s <= HR_A_DYING; s++)
        for (int e = 0; e < AE_COUNT; e++)
            fprintf(f, "actor %-10s %-10s -> %s\n", states[s], events[e],
                    states[actor_table[s][e]]);
}

void hrd_actor_event(struct hrd *d, int slot, enum hrd_actor_event ev, pid_t pid)
{
    struct hr_reg_actor *a = &d->reg->actors[slot];
    switch (ev) {
    case AE_STARTED:
        a->pid = pid;
        a->clean_mark = 0;
        a->runs++;
        a->started_ns = pmm__os_now_ns();
        a->start_ticks = hrd_start_ticks(pid); /* set at fork, kept by exec */
        break;
    case AE_KILLED:
        a->clean_mark = 0;
        break;
    case AE_HALTED:
        a->clean_mark = 0;
        /* fall through */
    case AE_EXITED:
    case AE_FAILED:
        a->pid = 0;
        hrd_ready_gone(d, slot);
        hrd_logpipe_drain(d, slot); /* its last words, before what follows */
        break;
    case AE_FORGOTTEN:
        hrd_standby_drop(d, slot);
        hrd_ready_gone(d, slot);
        d->slot[slot].says_ready = 0;
        hrd_images_free(d, slot);
        hrd_ver_forget(d, slot); /* its version record, a trial's blocks */
        hrd_kept_close(d, slot); /* connections no instance will take */
        memset(a, 0, sizeof *a);
        hrd_tree_forget(d, slot); /* its spare cgroup, if it has one */
        return;
    case AE_REGISTERED: /* the state alone */
    case AE_COUNT:
        break;
    }
    a->state = actor_table[a->state <= HR_A_DYING ? a->state : HR_A_FREE][ev];
}

int hrd_start_actor(struct hrd *d, int slot, const int stdio[3])
{
    int pipe_fd, pid = hrd_spawn(d, slot, stdio, &pipe_fd);
    if (pid < 0)
        return pid;
    hrd_actor_event(d, slot, AE_STARTED, pid);
    return hrd_spawn_wait(d, slot, pid, pipe_fd);
}

void hrd_actor_exit_hdl(struct hrd *d, int slot)
{
    d->reg->actors[slot].clean_mark = 1;
}

/* An actor's stop timeout: its own (hr arun --stop-timeout), else the
 * site's. */
uint32_t hrd_actor_stop_ms(const struct hrd *d, const struct hr_reg_actor *a)
{
    return a->stop_ms ? a->stop_ms : d->policy.stop_ms;
}

int hrd_members_dying(struct hrd *d, int group)
{
    int n = 0;
    HRD_FOR_MEMBERS(d, group, i)
        n += d->reg->actors[i].state == HR_A_DYING;
    return n;
}

/* A failure of the actor: kept as the group's last (quiet: the caller
 * says what comes of it). */
void hrd_record_failure(struct hrd *d, const struct hr_reg_actor *a, pid_t pid,
                        int status, int quiet)
{
    struct hr_reg_group *g = &d->reg->groups[a->group];
    g->last_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    g->last_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    g->last_fail_ns = pmm__os_now_ns();
    if (quiet)
        return;
    if (WIFSIGNALED(status))
        hrd_log(d, HRD_WARNING,
                "actor %s (pid %d) of group %d killed by signal %d: "
                "restarting the group",
                a->name, (int)pid, a->group, g->last_signal);
    else
        hrd_log(d, HRD_WARNING,
                "actor %s (pid %d) of group %d exited with status %d "
                "without HR_EXIT_HDL: restarting the group",
                a->name, (int)pid, a->group, g->last_status);
}

/* Stop or site restart: stop every running actor's tree (SIGTERM,
 * hrCtrl.stopTimeout, SIGKILL), all signalled first so that they stop
 * together; the loop then reaps each (hrd_kill_all_step) until none is
 * left.  One that the kernel keeps alive (an uninterruptible sleep)
 * HRD_KILL_WAIT_S after its SIGKILL is logged and left with its SIGKILL
 * pending: the controller stops all the same, and the next one ends it
 * (pidfd and start time) if it is still there.  Then whatever else is
 * left under the controller is ended (hrd_kill_all_end). */
void hrd_kill_all_begin(struct hrd *d)
{
    uint32_t longest = 0;
    hrd_standby_stop_all(d); /* they hold nothing: SIGKILL, reaped now */
    hrd_ver_trials_stop(d);  /* nor do upgrades' trials */
    HRD_FOR_ACTORS(d, i) {
        if (d->reg->actors[i].pid > 0) {
            uint32_t ms = hrd_actor_stop_ms(d, &d->reg->actors[i]);
            if (!d->slot[i].kill_at) /* one being stopped keeps its deadline */
                hrd_tree_stop(d, i, ms);
            longest = ms > longest ? ms : longest;
        }
    }
    d->kill_all_until = pmm__os_mono_ns() +
                        (longest + HRD_KILL_WAIT_S * 1000ull) * 1000000ull;
    d->killing_all = 1;
}

int hrd_kill_all_step(struct hrd *d)
{
    int left = 0;
    HRD_FOR_ACTORS(d, i) {
        struct hr_reg_actor *a = &d->reg->actors[i];
        if (a->pid <= 0)
            continue;
        if (pmm__os_reap(a->pid, NULL, 1) != 0) { /* reaped, or not ours */
            hrd_tree_reaped(d, i, a->pid); /* orphans: hrd_kill_all_end */
            hrd_actor_event(d, i, AE_HALTED, 0);
        } else {
            hrd_logpipe_read(d, i); /* its goodbye, not blocked on a
                                       full pipe */
            left++;
        }
    }
    left += hrd_tree_graced(d); /* the rests of trees in their stop time */
    uint64_t now = pmm__os_mono_ns();
    if (!left || now > d->kill_all_until)
        return -1;
    int ms = hrd_tree_deadlines(d); /* SIGKILLs due: sent */
    int until_ms = (int)((d->kill_all_until - now) / 1000000u) + 1;
    if (ms < 0 || ms > until_ms)
        ms = until_ms;
    /* a death wakes the loop (SIGCHLD); a pid that is not ours any more
     * does not, so look again now and then all the same */
    return ms < HRD_KILL_LOOK_MS ? ms : HRD_KILL_LOOK_MS;
}

void hrd_kill_all_end(struct hrd *d)
{
    d->killing_all = 0;
    HRD_FOR_ACTORS(d, i) {
        struct hr_reg_actor *a = &d->reg->actors[i];
        if (a->pid > 0)
            hrd_log(d, HRD_ERR,
                    "actor %s (pid %d) has not died %d s after SIGKILL: "
                    "left to the kernel",
                    a->name, a->pid, HRD_KILL_WAIT_S);
    }
    hrd_tree_end_all(d, HRD_KILL_WAIT_S * 1000);
}

void hrd_actors_adopt(struct hrd *d)
{
    hrd_tree_begin(d); /* the old generation ended, its sockets taken back */
    HRD_FOR_ACTORS(d, i)
        hrd_actor_event(d, i, AE_HALTED, 0);
}
