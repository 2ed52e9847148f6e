/* SPDX-License-Identifier: MIT */
/*
 * group.c - restartable actors and restart groups: one state machine.
 *
 * Group life, as SPEC 3.1 has it:
 *  - any failure of a member (death by a signal, exit without HR_EXIT_HDL,
 *    akill) kills every other member and starts the group's direct actors
 *    again from their stored images, including those that exited cleanly;
 *    indirect actors wait for their direct actor to hrfexec them again;
 *  - when every member has exited cleanly the group ends: images, argument
 *    blocks and HR_GROUP_KEY blocks are freed, names and number released;
 *  - when nothing runs but some member has not exited cleanly (it was not
 *    re-spawned), the group is blocked, and the log says who holds it up.
 *  - a member that exits without HR_EXIT_HDL leaving descendants behind
 *    went to the background (a forking daemon): its tree is ended, it is
 *    one failure, and the group is blocked rather than restarted into the
 *    same end again.
 * A group restart kills the members (SIGKILL at once by default: the group
 * is failing; hrCtrl.failStopTimeout makes it a graceful stop) and goes on
 * when the loop has reaped the last of them (HR_A_DYING, HR_G_RESTARTING),
 * so a member slow to die holds up its own group only: the controller
 * keeps serving and restarting other groups.  Ending a group (akill -g,
 * hrKillGroup) is a graceful stop: SIGTERM, hrCtrl.stopTimeout, SIGKILL
 * (tree.c).  A site restart and a controller stop do the same for every
 * actor and wait for them there and then: members are our children, so
 * their pids are ours until reaped.  Killing an actor kills its process
 * tree (tree.c).
 *
 * The whole of it is the table group_table[state][event] below: the next
 * state, set BEFORE the action runs (a controller that dies during the
 * action finds the group marked: restarting, ending), and the action.
 * An action never runs the next event itself: it raises it (raise_event,
 * a queue), and hrd_group_event(), the one entry point, delivers the queue
 * one event at a time, in order, until it is empty.  A start that keeps
 * failing is so a sequence of events, never a recursion.  Failures to
 * start (the exec, a held socket, death before ready) back off: the
 * restart waits 10 ms, doubling to 1 s (struct hrd_backoff), and the loop
 * raises GE_RESTARTED when it is due (hrd_groups_tick); a crash after a
 * good start restarts at once.
 * An actor's own state and bookkeeping (its table, starting it, stopping
 * every actor at once) are actor.c's, below this file: group.c calls it,
 * it never raises a group event.  A direct actor with a standby instance
 * (standby.c) is started again in a group restart by promoting it; the
 * standby itself is no member, and its death raises no group event.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "actor.h"
#include "group.h"
#include "hrd.h"
#include "log.h"
#include "metrics.h"
#include "os/ctl.h"
#include "os/os.h"
#include "pmm/crash.h"
#include "pmm/free.h"
#include "policy.h"
#include "ready.h"
#include "spawn.h"
#include "standby.h"
#include "tree.h"

/* What a group event does, besides the state change. */
enum {
    GA_NONE,
    GA_MAKE,     /* a fresh group record */
    GA_START,    /* start every direct actor that does not run (boot) */
    GA_KILL,     /* kill the members (hrCtrl.failStopTimeout); GE_GONE
                    once none is dying */
    GA_TERM,     /* the same, a stop (hrCtrl.stopTimeout) */
    GA_BACKGROUND, /* a member went to the background: say so, stop the rest */
    GA_CHARGE,   /* ask the policy: GE_RESTARTED, or a site restart */
    GA_RESTART,  /* count the restart, start every direct actor again */
    GA_END,      /* free what the group holds, release its number */
    GA_BLOCKED,  /* log who holds it up */
    GA_FORGET,   /* release its number: it never ran */
};

static void raise_event(struct hrd *d, int group, enum hrd_group_event ev,
                        const char *why);

#define KEEP 0xff /* no state change */
#define STAY {KEEP, GA_NONE}

/* [state][event] = {next state, action}.  Columns in enum hrd_group_event
 * order: REGISTERED SPAWNED BOOT FAILED KILL GONE RESTARTED ALL_CLEAN
 * UNCLEAN ABANDONED BACKGROUND. */
static const struct {
    uint8_t next, action;
} group_table[HR_G_RESTARTING + 1][GE_COUNT] = {
    [HR_G_FREE] = {{HR_G_RUNNING, GA_MAKE}, STAY, STAY, STAY, STAY, STAY, STAY,
                STAY, STAY, STAY, STAY},
    [HR_G_RUNNING] = {STAY, STAY, {HR_G_RUNNING, GA_START},
                   {HR_G_RESTARTING, GA_KILL}, {HR_G_ENDING, GA_TERM}, STAY, STAY,
                   {HR_G_ENDING, GA_KILL}, {HR_G_BLOCKED, GA_BLOCKED},
                   {HR_G_FREE, GA_FORGET}, {HR_G_BLOCKED, GA_BACKGROUND}},
    /* blocked: an arun does not unblock it (its own member may), and
     * UNCLEAN is said once, when it blocked */
    [HR_G_BLOCKED] = {STAY, {HR_G_RUNNING, GA_NONE}, {HR_G_RUNNING, GA_START},
                   {HR_G_RESTARTING, GA_KILL}, {HR_G_ENDING, GA_TERM}, STAY, STAY,
                   {HR_G_ENDING, GA_KILL}, STAY, {HR_G_FREE, GA_FORGET},
                   {KEEP, GA_BACKGROUND}},
    /* ending: requests to join it are refused (-EBUSY), a second kill
     * waits for the first; GA_END releases the record itself, last, so
     * that a controller that dies during it finds the group still ending
     * and ends it */
    [HR_G_ENDING] = {STAY, STAY, STAY, STAY, STAY, {KEEP, GA_END}, STAY, STAY,
                  STAY, STAY, STAY},
    /* restarting: an arun meanwhile just runs; when the policy escalates
     * (GA_CHARGE: a site restart) it stays restarting, and the next
     * controller boots it */
    [HR_G_RESTARTING] = {STAY, STAY, {HR_G_RUNNING, GA_START}, STAY,
                      {HR_G_ENDING, GA_TERM}, {KEEP, GA_CHARGE},
                      {HR_G_RUNNING, GA_RESTART}, STAY, STAY, STAY, STAY},
};
_Static_assert(GE_COUNT == 11, "group_table has a column for each event");

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
        raise_event(d, group, GE_GONE, NULL);
}

/* GA_END: the group's end, once no member is left; d->ends[group] moves
 * on, which answers the requests that asked for it. */
static void end_group(struct hrd *d, int group, const char *why)
{
    size_t n = 0;
    pmm__crash("hrd.group_end"); /* marked, nothing freed yet */
    HRD_FOR_MEMBERS(d, group, i)
        hrd_actor_event(d, i, AE_FORGOTTEN, 0);
    pmm__free_group(d->bank, group, &n);
    memset(&d->reg->groups[group], 0, sizeof d->reg->groups[group]);
    d->ends[group]++;
    hrd_log(d, HRD_INFO, "group %d %s; %zu group block%s freed", group,
            why ? why : "ended", n, n == 1 ? "" : "s");
    d->end_why[group][0] = 0; /* why may be it */
}

void hrd_group_start_failed(struct hrd *d, int group, const char *why)
{
    struct hrd_backoff *b = &d->backoff[group];
    b->this_round = 1;
    snprintf(b->why, sizeof b->why, "%s", why);
}

/* A member of group (in slot) could not start: error r. */
static void cannot_start(struct hrd *d, int group, int slot, int r)
{
    char why[160];
    snprintf(why, sizeof why, "cannot start %s: %s", d->reg->actors[slot].name,
             pmm_strerror(r));
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
    for (int i = 0; i < HR_REG_ACTORS; i++)
        pid[i] = 0;
    HRD_FOR_MEMBERS(d, group, i) {
        struct hr_reg_actor *a = &d->reg->actors[i];
        /* one that an arun started meanwhile runs already */
        int standby = a->direct && a->pid <= 0 ? hrd_standby_promote(d, i) : 0;
        if (standby > 0) { /* initialised already: no exec to see through */
            hrd_actor_event(d, i, AE_STARTED, standby);
        } else if (a->direct && a->pid <= 0) {
            pid[i] = hrd_spawn(d, i, NULL, &pipe_fd[i]);
            if (pid[i] > 0)
                hrd_actor_event(d, i, AE_STARTED, pid[i]);
        }
    }
    for (int i = 0; i < HR_REG_ACTORS; i++) {
        int r = pid[i] > 0 ? hrd_spawn_wait(pid[i], pipe_fd[i]) : pid[i];
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
        raise_event(d, group, GE_FAILED, NULL);
    }
}

/* GA_CHARGE, after the policy let the group start again: at once after a
 * crash, or after the back-off when it failed to start; 1 when due now. */
static int restart_due(struct hrd *d, int group)
{
    struct hrd_backoff *b = &d->backoff[group];
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
    b->until_ms = hr__os_mono_ms() + b->delay_ms;
    hrd_log(d, HRD_WARNING,
            "group %d: %u failed start%s in a row (%s): next start in %u ms",
            group, b->fails, b->fails == 1 ? "" : "s", b->why, b->delay_ms);
    return 0;
}

static void make_group(struct hrd *d, int group)
{
    struct hr_reg_group *g = &d->reg->groups[group];
    uint32_t state = g->state;
    memset(&d->backoff[group], 0, sizeof d->backoff[group]);
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

/* One cell of the table: the state change, then the action. */
static void deliver(struct hrd *d, int group, enum hrd_group_event ev,
                    const char *why)
{
    struct hr_reg_group *g = &d->reg->groups[group];
    uint8_t next = group_table[g->state][ev].next;
    uint8_t action = group_table[g->state][ev].action;
    char reason[128];
    if (next != KEEP)
        g->state = next; /* first: a new controller sees it */
    if (next == HR_G_ENDING && why)
        snprintf(d->end_why[group], sizeof d->end_why[group], "%.63s", why);
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
            d->backoff[group].until_ms = 0; /* the site restart boots it */
            d->restart_pending = 1;         /* the loop restarts the site */
            snprintf(d->restart_why, sizeof d->restart_why, "%s", reason);
        } else if (restart_due(d, group)) {
            raise_event(d, group, GE_RESTARTED, NULL);
        } /* else hrd_groups_tick() raises it when the back-off is over */
        break;
    case GA_RESTART:
        start_failed(d, group, restart_group(d, group));
        break;
    case GA_END:
        memset(&d->backoff[group], 0, sizeof d->backoff[group]);
        end_group(d, group, why ? why : d->end_why[group][0] ? d->end_why[group] : NULL);
        break;
    case GA_BLOCKED:
        hrd_log(d, HRD_WARNING,
                "group %d blocked, some members have not terminated: %s", group,
                why);
        break;
    case GA_FORGET:
        memset(&d->backoff[group], 0, sizeof d->backoff[group]);
        memset(g, 0, sizeof *g);
        break;
    }
}

/* Queue an event for delivery after the action that raised it. */
static void raise_event(struct hrd *d, int group, enum hrd_group_event ev,
                        const char *why)
{
    if (d->ev_len == HRD_EVENTS) /* each action raises one at most: a
                                    full queue is a loop in the table */
        hrd_die(1, "group %d: %u events waiting: the group table loops",
                group, (unsigned)HRD_EVENTS);
    struct hrd_event *e = &d->events[(d->ev_head + d->ev_len++) % HRD_EVENTS];
    e->group = (int16_t)group;
    e->ev = (uint8_t)ev;
    e->has_why = why != NULL;
    snprintf(e->why, sizeof e->why, "%s", why ? why : "");
}

void hrd_group_event(struct hrd *d, int group, enum hrd_group_event ev,
                     const char *why)
{
    raise_event(d, group, ev, why);
    if (d->delivering)
        return; /* raised during a delivery: the loop below takes it */
    d->delivering = 1;
    while (d->ev_len) {
        struct hrd_event e = d->events[d->ev_head]; /* its slot may be
                                                       reused meanwhile */
        d->ev_head = (d->ev_head + 1) % HRD_EVENTS;
        d->ev_len--;
        if (d->exec_pending) /* a site restart: the next controller boots
                                every group from the registry */
            continue;
        deliver(d, e.group, e.ev, e.has_why ? e.why : NULL);
    }
    d->delivering = 0;
}

int hrd_groups_tick(struct hrd *d)
{
    int64_t now = hr__os_mono_ms(), next = -1;
    for (int g = 0; g < HR_REG_GROUPS; g++) {
        struct hrd_backoff *b = &d->backoff[g];
        if (!b->until_ms)
            continue;
        if (d->reg->groups[g].state != HR_G_RESTARTING) {
            b->until_ms = 0; /* ended or booted meanwhile */
        } else if (b->until_ms <= now) {
            b->until_ms = 0;
            hrd_group_event(d, g, GE_RESTARTED, NULL);
        } else if (next < 0 || b->until_ms - now < next) {
            next = b->until_ms - now;
        }
    }
    return (int)next;
}
