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
 * The whole of it is the table group_table[state][event] below, every
 * cell written: the next state and the action (gaction.c).  The state is
 * set BEFORE the action runs (a controller that dies during the action
 * finds the group marked: restarting, ending), except in the cells marked
 * AFTER, where the action frees what the group holds and the record is
 * cleared last (a controller that dies during it finds the group still
 * ending, and ends it).
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

#include "events.h"
#include "gaction.h"
#include "group.h"
#include "hrd.h"
#include "log.h"
#include "os/ctl.h"

enum { BEFORE, AFTER }; /* the state is set before the action, or after */

struct cell {
    uint8_t next, action, when;
};
#define C(next, action) {next, action, BEFORE}
#define S(state) {state, GA_NONE, BEFORE} /* nothing happens */

/* [state][event] = {next state, action, when}.  Columns in enum
 * hrd_group_event order: REGISTERED SPAWNED BOOT FAILED KILL GONE
 * RESTARTED ALL_CLEAN UNCLEAN ABANDONED BACKGROUND. */
static const struct cell group_table[HR_G_RESTARTING + 1][GE_COUNT] = {
    /* free: the first member registered makes the group; nothing else
     * reaches a group that does not exist */
    [HR_G_FREE] = {C(HR_G_RUNNING, GA_MAKE), S(HR_G_FREE), S(HR_G_FREE),
                   S(HR_G_FREE), S(HR_G_FREE), S(HR_G_FREE), S(HR_G_FREE),
                   S(HR_G_FREE), S(HR_G_FREE), S(HR_G_FREE), S(HR_G_FREE)},
    [HR_G_RUNNING] = {S(HR_G_RUNNING), S(HR_G_RUNNING), C(HR_G_RUNNING, GA_START),
                      C(HR_G_RESTARTING, GA_KILL), C(HR_G_ENDING, GA_TERM),
                      S(HR_G_RUNNING), S(HR_G_RUNNING), C(HR_G_ENDING, GA_KILL),
                      C(HR_G_BLOCKED, GA_BLOCKED), C(HR_G_FREE, GA_FORGET),
                      C(HR_G_BLOCKED, GA_BACKGROUND)},
    /* blocked: an arun does not unblock it (its own member may), and
     * UNCLEAN is said once, when it blocked */
    [HR_G_BLOCKED] = {S(HR_G_BLOCKED), C(HR_G_RUNNING, GA_NONE),
                      C(HR_G_RUNNING, GA_START), C(HR_G_RESTARTING, GA_KILL),
                      C(HR_G_ENDING, GA_TERM), S(HR_G_BLOCKED), S(HR_G_BLOCKED),
                      C(HR_G_ENDING, GA_KILL), S(HR_G_BLOCKED),
                      C(HR_G_FREE, GA_FORGET), C(HR_G_BLOCKED, GA_BACKGROUND)},
    /* ending: requests to join it are refused (-EBUSY), a second kill
     * waits for the first; GA_END frees what it holds, and the record is
     * cleared AFTER */
    [HR_G_ENDING] = {S(HR_G_ENDING), S(HR_G_ENDING), S(HR_G_ENDING),
                     S(HR_G_ENDING), S(HR_G_ENDING),
                     {HR_G_FREE, GA_END, AFTER}, S(HR_G_ENDING), S(HR_G_ENDING),
                     S(HR_G_ENDING), S(HR_G_ENDING), S(HR_G_ENDING)},
    /* restarting: an arun meanwhile just runs; when the policy escalates
     * (GA_CHARGE: a site restart, the loop's) it stays restarting, and the
     * next controller boots it; a back-off also waits here */
    [HR_G_RESTARTING] = {S(HR_G_RESTARTING), S(HR_G_RESTARTING),
                         C(HR_G_RUNNING, GA_START), S(HR_G_RESTARTING),
                         C(HR_G_ENDING, GA_TERM), C(HR_G_RESTARTING, GA_CHARGE),
                         C(HR_G_RUNNING, GA_RESTART), S(HR_G_RESTARTING),
                         S(HR_G_RESTARTING), S(HR_G_RESTARTING),
                         S(HR_G_RESTARTING)},
};
_Static_assert(GE_COUNT == 11, "group_table has a column for each event");

/* One cell of the table: the state change, and the action. */
static void deliver(struct hrd *d, int group, enum hrd_group_event ev,
                    const char *why)
{
    struct hr_reg_group *g = &d->reg->groups[group];
    struct cell c = group_table[g->state][ev];
    if (c.when == BEFORE)
        g->state = c.next; /* first: a new controller sees it */
    if (c.next == HR_G_ENDING && why)
        snprintf(d->grp[group].end_why, sizeof d->grp[group].end_why, "%.63s", why);
    hrd_gaction(d, group, c.action, why);
    if (c.when == AFTER)
        g->state = c.next; /* last: the action has freed what it held */
}

void hrd_group_event(struct hrd *d, int group, enum hrd_group_event ev,
                     const char *why)
{
    hrd_event_raise(d, group, ev, why);
    if (d->delivering)
        return; /* raised during a delivery: the loop below takes it */
    d->delivering = 1;
    struct hrd_event e;
    while (hrd_event_take(d, &e))
        if (!d->exec_pending) /* a site restart: the next controller boots
                                 every group from the registry */
            deliver(d, e.group, e.ev, e.has_why ? e.why : NULL);
    d->delivering = 0;
}

int hrd_groups_tick(struct hrd *d)
{
    int64_t now = pmm__os_mono_ms(), next = -1;
    for (int g = 0; g < HR_REG_GROUPS; g++) {
        struct hrd_backoff *b = &d->grp[g].backoff;
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

static const char *const group_states[] = {"free", "running", "blocked",
                                           "ending", "restarting"};
static const char *const group_events[GE_COUNT] = {
    "registered", "spawned", "boot", "failed", "kill", "gone", "restarted",
    "all_clean", "unclean", "abandoned", "background"};

void hrd_group_table_print(FILE *f)
{
    for (int s = 0; s <= HR_G_RESTARTING; s++)
        for (int e = 0; e < GE_COUNT; e++) {
            struct cell c = group_table[s][e];
            fprintf(f, "group %-10s %-10s -> %-10s %s%s\n", group_states[s],
                    group_events[e], group_states[c.next],
                    hrd_gaction_name(c.action), c.when == AFTER ? " (after)" : "");
        }
}
