/* SPDX-License-Identifier: MIT */
/*
 * gaction.c - what a cell of the group table does (see gaction.h): kill or
 * stop the members, start them (boot) or start them again (a restart,
 * promoting standbys), charge the policy, end the group, log that it is
 * blocked or went to the background.
 *
 * Invariants: an action never delivers an event.  It may raise one (the
 * queue of events.c, below it), which the table's entry point (group.c,
 * above it) delivers once the action has returned: the layers test fails
 * a call from here up to group.c.  A failure to start is recorded here
 * (struct hrd_backoff) and charged like any failure; its restart waits.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "actor.h"
#include "events.h"
#include "gaction.h"
#include "hrd.h"
#include "log.h"
#include "os/ctl.h"
#include "os/os.h"
#include "pmm/crash.h"
#include "pmm/free.h"
#include "policy.h"
#include "ready.h"
#include "spawn.h"
#include "standby.h"
#include "tree.h"

/* GA_KILL, GA_TERM: stop the running members' trees (graceful: with their
 * stop timeouts; else with hrCtrl.failStopTimeout, 0: SIGKILL at once),
 * who are dying until the loop reaps them; the others are stopped (even
 * those that had exited cleanly: a restart runs them again).  GE_GONE at
 * once when none is dying. */
static void kill_members(struct hrd *d, int group, int graceful)
{
    int dying = 0;
    HRD_FOR_MEMBERS(d, group, i) {
        struct hr_reg_actor *a = &d->reg->actors[i];
        uint32_t timeout_ms = graceful ? hrd_actor_stop_ms(d, a) : d->policy.fail_stop_ms;
        if (a->pid > 0) {
            if (a->state != HR_A_DYING || !timeout_ms) /* not stopped twice */
                hrd_tree_stop(d, i, timeout_ms);
            hrd_actor_event(d, i, AE_KILLED, 0);
            dying++;
        } else {
            hrd_actor_event(d, i, AE_HALTED, 0);
        }
    }
    if (!dying)
        hrd_event_raise(d, group, GE_GONE, NULL);
}

/* GA_END: the group's end, once no member is left; d->grp[group].ends moves
 * on, which answers the requests that asked for it. */
static void end_group(struct hrd *d, int group, const char *why)
{
    size_t n = 0;
    pmm__crash("hrd.group_end"); /* marked, nothing freed yet */
    HRD_FOR_MEMBERS(d, group, i)
        hrd_actor_event(d, i, AE_FORGOTTEN, 0);
    pmm__free_group(d->bank, group, &n);
    memset(&d->reg->groups[group], 0, sizeof d->reg->groups[group]);
    d->grp[group].ends++;
    hrd_log(d, HRD_INFO, "group %d %s; %zu group block%s freed", group,
            why ? why : "ended", n, n == 1 ? "" : "s");
    d->grp[group].end_why[0] = 0; /* why may be it */
}

void hrd_group_start_failed(struct hrd *d, int group, const char *why)
{
    struct hrd_backoff *b = &d->grp[group].backoff;
    b->this_round = 1;
    snprintf(b->why, sizeof b->why, "%s", why);
}

/* A member of group (in slot) could not start: error r. */
static void cannot_start(struct hrd *d, int group, int slot, int r)
{
    char why[sizeof d->grp[group].backoff.why];
    snprintf(why, sizeof why, "cannot start %s: %s", d->reg->actors[slot].name,
             hrd_start_why(d, r));
    hrd_log(d, HRD_ERR, "group %d: %s", group, why);
    hrd_group_start_failed(d, group, why);
}

/* GA_RESTART: promote the standbys, fork every other direct actor, then
 * see their execs through (they start together, not one after the
 * other): how many fail. */
static int restart_group(struct hrd *d, int group)
{
    int failed = 0;
    static int pid[HR_REG_ACTORS], pipe_fd[HR_REG_ACTORS];
    d->reg->groups[group].restarts++;
    d->reg->site.group_restarts++;
    hrd_ready_restarting(d, group); /* timed from its failure to ready */
    int starts = 0;
    for (int i = 0; i < HR_REG_ACTORS; i++)
        pid[i] = 0;
    HRD_FOR_MEMBERS(d, group, i)
        starts += d->reg->actors[i].direct && d->reg->actors[i].pid <= 0;
    HRD_FOR_MEMBERS(d, group, i) {
        struct hr_reg_actor *a = &d->reg->actors[i];
        /* one that an arun started meanwhile runs already */
        int standby = a->direct && a->pid <= 0 ? hrd_standby_promote(d, i) : 0;
        if (standby > 0) { /* initialised already: no exec to see through */
            hrd_actor_event(d, i, AE_STARTED, standby);
        } else if (a->direct && a->pid <= 0) {
            pid[i] = starts > 1 ? hrd_spawn_beside(d, i, &pipe_fd[i])
                                : hrd_spawn(d, i, NULL, &pipe_fd[i]);
            if (pid[i] > 0)
                hrd_actor_event(d, i, AE_STARTED, pid[i]);
        }
    }
    for (int i = 0; i < HR_REG_ACTORS; i++) {
        d->start_why[0] = 0; /* not an earlier member's reason */
        int r = pid[i] > 0 ? hrd_spawn_wait(d, i, pid[i], pipe_fd[i]) : pid[i];
        if (r < 0 && ++failed)
            cannot_start(d, group, i, r);
    }
    hrd_ready_check(d, group); /* those that say nothing are up once exec'd */
    return failed;
}

/* GA_START: a new controller starts the direct actors again: how many fail */
static int start_group(struct hrd *d, int group)
{
    int failed = 0;
    HRD_FOR_MEMBERS(d, group, i) {
        struct hr_reg_actor *a = &d->reg->actors[i];
        /* skips one that a request started during start-up */
        if (a->direct && a->pid <= 0) {
            int r = hrd_start_actor(d, i, NULL);
            if (r < 0 && ++failed)
                cannot_start(d, group, i, r);
        }
    }
    return failed;
}

/* Members that could not start (no descriptor or process left, a held
 * socket taken, say) fail the group: the policy counts it and escalates,
 * the restart backs off; never "running" idle. */
static void start_failed(struct hrd *d, int group, int failed)
{
    if (failed) {
        d->reg->groups[group].last_signal = 0;
        d->reg->groups[group].last_status = -1;
        d->reg->groups[group].last_fail_ns = pmm__os_now_ns();
        hrd_log(d, HRD_WARNING,
                "group %d: a member could not start: restarting it", group);
        hrd_event_raise(d, group, GE_FAILED, NULL);
    }
}

/* GA_CHARGE, after the policy let the group start again: at once after a
 * crash, or after the back-off when it failed to start; 1 when due now. */
static int restart_due(struct hrd *d, int group)
{
    struct hrd_backoff *b = &d->grp[group].backoff;
    if (!b->this_round) { /* a crash after a good start */
        b->fails = 0;
        b->until_ms = 0;
        return 1;
    }
    b->this_round = 0;
    b->fails++;
    uint32_t ms = HRD_BACKOFF_MIN_MS;
    for (uint32_t i = 1; i < b->fails && ms < HRD_BACKOFF_MAX_MS; i++)
        ms *= 2;
    b->delay_ms = ms < HRD_BACKOFF_MAX_MS ? ms : HRD_BACKOFF_MAX_MS;
    b->until_ms = pmm__os_mono_ms() + b->delay_ms;
    hrd_log(d, HRD_WARNING,
            "group %d: %u failed start%s in a row (%s): next start in %u ms",
            group, b->fails, b->fails == 1 ? "" : "s", b->why, b->delay_ms);
    return 0;
}

static void make_group(struct hrd *d, int group)
{
    struct hr_reg_group *g = &d->reg->groups[group];
    uint32_t state = g->state, ends = d->grp[group].ends;
    /* a new group under a used id: none of the old one's counters, only
     * the count of ends that waiters compare (requests.c) */
    memset(&d->grp[group], 0, sizeof d->grp[group]);
    d->grp[group].ends = ends;
    memset(g, 0, sizeof *g);
    g->state = state;
    g->last_status = -1;
    g->started_ns = pmm__os_now_ns();
    g->used = 1;
}

/* GA_BACKGROUND: the group is blocked, said once in the log and always in
 * ps (its `background` mark); the other members are stopped. */
static void backgrounded(struct hrd *d, int group, const char *name)
{
    d->reg->groups[group].background = 1;
    hrd_log(d, HRD_WARNING,
            "actor %s of group %d went to the background (it exited "
            "leaving processes behind, now ended): run it in the "
            "foreground, e.g. memcached without -d; group %d blocked "
            "(hr akill -g %d ends it)",
            name, group, group, group);
    kill_members(d, group, 1);
}

void hrd_gaction(struct hrd *d, int group, int action, const char *why)
{
    struct hr_reg_group *g = &d->reg->groups[group];
    char reason[128];
    switch (action) {
    case GA_NONE:
        break;
    case GA_MAKE:
        make_group(d, group);
        break;
    case GA_START:
        g->background = 0;
        start_failed(d, group, start_group(d, group));
        break;
    case GA_KILL:
        kill_members(d, group, 0);
        break;
    case GA_TERM:
        kill_members(d, group, 1);
        break;
    case GA_BACKGROUND:
        backgrounded(d, group, why);
        break;
    case GA_CHARGE:
        pmm__crash("hrd.group_restart"); /* members gone, none started yet */
        if (hrd_policy_group_restart(d, group, reason, sizeof reason)) {
            d->grp[group].backoff.until_ms = 0; /* the site restart boots it */
            d->restart_pending = 1;         /* the loop restarts the site */
            snprintf(d->restart_why, sizeof d->restart_why, "%s", reason);
        } else if (restart_due(d, group)) {
            hrd_event_raise(d, group, GE_RESTARTED, NULL);
        } /* else hrd_groups_tick() raises it when the back-off is over */
        break;
    case GA_RESTART:
        start_failed(d, group, restart_group(d, group));
        break;
    case GA_END:
        memset(&d->grp[group].backoff, 0, sizeof d->grp[group].backoff);
        end_group(d, group, why ? why : d->grp[group].end_why[0] ? d->grp[group].end_why : NULL);
        break;
    case GA_BLOCKED:
        hrd_log(d, HRD_WARNING,
                "group %d blocked, some members have not terminated: %s", group,
                why);
        break;
    case GA_FORGET:
        memset(&d->grp[group].backoff, 0, sizeof d->grp[group].backoff);
        memset(g, 0, sizeof *g);
        break;
    }
}

const char *hrd_gaction_name(int action)
{
    static const char *const names[GA_COUNT] = {
        "-", "make", "start", "kill", "term", "background", "charge",
        "restart", "end", "blocked", "forget"};
    return action >= 0 && action < GA_COUNT ? names[action] : "?";
}
