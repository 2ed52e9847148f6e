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
        hrd_group_event(d, group, GE_GONE, NULL);
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
    d->end_why[group] = NULL;
    d->ends[group]++;
    hrd_log(d, HRD_INFO, "group %d %s; %zu group block%s freed", group,
            why ? why : "ended", n, n == 1 ? "" : "s");
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
            hrd_log(d, HRD_ERR, "group %d: cannot restart %s: %s", group,
                    d->reg->actors[i].name, pmm_strerror(r));
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
                hrd_log(d, HRD_ERR, "group %d: cannot start %s: %s", group,
                        a->name, pmm_strerror(r));
        }
    }
    return failed;
}

/* Members that could not start (no descriptor or process left, say) fail
 * the group: the policy counts it and escalates; never "running" idle. */
static void start_failed(struct hrd *d, int group, int failed)
{
    if (failed) {
        d->reg->groups[group].last_status = -1;
        d->reg->groups[group].last_fail_ns = pmm__os_now_ns();
        hrd_log(d, HRD_WARNING,
                "group %d: a member could not start: restarting it", group);
        hrd_group_event(d, group, GE_FAILED, NULL);
    }
}

static void make_group(struct hrd *d, int group)
{
    struct hr_reg_group *g = &d->reg->groups[group];
    uint32_t state = g->state;
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

void hrd_group_event(struct hrd *d, int group, enum hrd_group_event ev,
                     const char *why)
{
    struct hr_reg_group *g = &d->reg->groups[group];
    uint8_t next = group_table[g->state][ev].next;
    uint8_t action = group_table[g->state][ev].action;
    char reason[128];
    if (next != KEEP)
        g->state = next; /* first: a new controller sees it */
    if (next == HR_G_ENDING && why)
        d->end_why[group] = why;
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
        if (hrd_policy_group_restart(d, group, reason, sizeof reason))
            hrd_site_restart(d, reason);
        else
            hrd_group_event(d, group, GE_RESTARTED, NULL);
        break;
    case GA_RESTART:
        start_failed(d, group, restart_group(d, group));
        break;
    case GA_END:
        end_group(d, group, why ? why : d->end_why[group]);
        break;
    case GA_BLOCKED:
        hrd_log(d, HRD_WARNING,
                "group %d blocked, some members have not terminated: %s", group,
                why);
        break;
    case GA_FORGET:
        memset(g, 0, sizeof *g);
        break;
    }
}

int hrd_register(struct hrd *d, int group, int direct, const char *name,
                 int exe_fd, const char *args, uint32_t args_len, int *slot)
{
    int s = -1;
    uint32_t used = 0;
    for (int i = 0; i < HR_REG_ACTORS; i++) {
        used += d->reg->actors[i].used != 0;
        if (!d->reg->actors[i].used && s < 0)
            s = i;
    }
    if (s < 0 || used >= d->policy.max_actors)
        return -ENOSPC; /* hrCtrl.maxActors reached */
    uint64_t size = 0;
    int r = hrd_images_store(d, s, exe_fd, args, args_len, &size);
    if (r < 0)
        return r;
    struct hr_reg_actor *a = &d->reg->actors[s];
    memset(a, 0, sizeof *a);
    a->group = group;
    a->direct = (uint32_t)direct;
    snprintf(a->name, sizeof a->name, "%s", name);
    a->image_size = size;
    a->args_len = args_len;
    hrd_actor_event(d, s, AE_REGISTERED, 0);
    hrd_group_event(d, group, GE_REGISTERED, NULL);
    /* registration is complete once `used` is set */
    __atomic_store_n(&a->used, 1, __ATOMIC_RELEASE);
    *slot = s;
    return 0;
}

/* Nothing runs in the group any more: it ended, or it is blocked. */
static void settle(struct hrd *d, int group)
{
    char names[512] = "";
    size_t at = 0;
    int unclean = 0;
    HRD_FOR_MEMBERS(d, group, i) {
        struct hr_reg_actor *a = &d->reg->actors[i];
        if (a->state == HR_A_RUNNING)
            return;
        if (a->state != HR_A_CLEAN) {
            unclean++;
            at += (size_t)snprintf(names + at, at < sizeof names ? sizeof names - at : 0,
                                   "%s%s", unclean > 1 ? " " : "", a->name);
            if (at >= sizeof names)
                at = sizeof names - 1;
        }
    }
    if (!unclean)
        hrd_group_event(d, group, GE_ALL_CLEAN,
                        "ended: every member exited cleanly");
    else
        hrd_group_event(d, group, GE_UNCLEAN, names);
}

void hrd_child_exited(struct hrd *d, pid_t pid, int status)
{
    if (hrd_standby_exited(d, pid, status))
        return; /* a standby: no member, no group event */
    int slot = hrd_find_pid(d, pid);
    if (slot < 0) { /* an orphan, or a start-up command */
        hrd_tree_sweep(d); /* what it leaves of an ended run */
        return;
    }
    struct hr_reg_actor *a = &d->reg->actors[slot];
    int group = a->group;
    uint32_t gstate = d->reg->groups[group].state;
    /* its tree ends with it: its group now, its orphans by the sweep below,
     * after any restart, except when an exit 0 asks whether it left some */
    int bg_exit = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    hrd_tree_reaped(d, slot, pid);
    if (a->state == HR_A_DYING || gstate == HR_G_RESTARTING || gstate == HR_G_ENDING) {
        /* killed for a group restart or end (or, in one, not killed yet) */
        hrd_metrics_death(d, group, HRD_DEATH_STOPPED);
        hrd_actor_event(d, slot, AE_HALTED, 0);
        if (!hrd_members_dying(d, group))
            hrd_group_event(d, group, GE_GONE, NULL);
    } else if (a->clean_mark) {
        hrd_metrics_death(d, group, HRD_DEATH_CLEAN);
        hrd_actor_event(d, slot, AE_EXITED, 0);
        settle(d, group);
    } else if (bg_exit && hrd_tree_left(d, slot, pid)) {
        hrd_metrics_death(d, group, HRD_DEATH_BACKGROUND);
        hrd_actor_event(d, slot, AE_FAILED, 0);
        hrd_record_failure(d, a, pid, status, 1);
        hrd_group_event(d, group, GE_BACKGROUND, a->name);
    } else {
        hrd_metrics_death(d, group, hrd_metrics_failure(status));
        hrd_actor_event(d, slot, AE_FAILED, 0);
        hrd_record_failure(d, a, pid, status, 0);
        hrd_group_event(d, group, GE_FAILED, NULL);
    }
    hrd_tree_sweep(d); /* its orphans: its run is over */
}

int hrd_kill_group(struct hrd *d, int group)
{
    if (hrd_group_check(d, group, HRD_GROUP_SLOT) < 0 ||
        !d->reg->groups[group].used)
        return 1; /* an unused group is not an error */
    /* even one over a lowered maxGroups */
    hrd_group_event(d, group, GE_KILL, "killed");
    return !d->reg->groups[group].used;
}

/* Every actor stops; a fresh controller (this program, executed again)
 * runs the start-up file without its arun lines and restarts every group.
 * A site that keeps restarting stops instead, marked failed. */
void hrd_site_restart(struct hrd *d, const char *why)
{
    hrd_log(d, HRD_WARNING, "site restart: %s", why);
    hrd_kill_all(d);
    pmm__crash("hrd.site_restart"); /* every actor gone, no new controller */
    if (hrd_policy_site_restart(d, why)) {
        d->reg->site.failed = 1;
        hrd_log(d, HRD_ERR,
                "site failed, stopping: %s (hr site start tries again)",
                d->reg->site.failure);
        d->stopping = 1;
        return;
    }
    d->reg->site.site_restarts++;
    d->exec_pending = 1;
}

void hrd_groups_adopt(struct hrd *d)
{
    for (int g = 0; g < HR_REG_GROUPS; g++) {
        if (!d->reg->groups[g].used)
            continue;
        if (d->reg->groups[g].state == HR_G_ENDING) /* nothing runs: it ends */
            hrd_group_event(d, g, GE_GONE, "ended (its end was cut short)");
        else if (hrd_next_actor(d, g, -1) < 0)
            hrd_group_event(d, g, GE_KILL, "ended: no member left in the registry");
    }
}

void hrd_unregister(struct hrd *d, int slot)
{
    int group = d->reg->actors[slot].group;
    hrd_actor_event(d, slot, AE_FORGOTTEN, 0);
    if (hrd_next_actor(d, group, -1) < 0)
        hrd_group_event(d, group, GE_ABANDONED, NULL);
}
