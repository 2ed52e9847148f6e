/* SPDX-License-Identifier: MIT */
/*
 * members.c - what happens to a group's members, turned into group events
 * (group.c's table): an actor registered or forgotten, a child of the
 * controller reaped (a clean exit, a failure, one that went to the
 * background, one killed for its group's restart or end), a group killed
 * for good, the groups a previous controller left.
 *
 * Each function here is an entry point the loop (or a request it serves)
 * calls: it reads the members and raises one event, which group.c
 * delivers with every event that follows from it before returning.
 * Nothing here is called by an action of the table.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "actor.h"
#include "gaction.h"
#include "group.h"
#include "hrd.h"
#include "imgver.h"
#include "log.h"
#include "members.h"
#include "metrics.h"
#include "os/os.h"
#include "ready.h"
#include "spawn.h"
#include "standby.h"
#include "tree.h"

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
    hrd_ver_registered(d, s, exe_fd); /* its image's version, for ps */
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

/* A member that was to say it is ready died first: a failure to start. */
static void died_unready(struct hrd *d, int group, const struct hr_reg_actor *a,
                         int status)
{
    char why[160];
    if (WIFSIGNALED(status))
        snprintf(why, sizeof why, "%s was killed by signal %d before it was "
                 "ready", a->name, WTERMSIG(status));
    else
        snprintf(why, sizeof why, "%s exited with status %d before it was "
                 "ready", a->name, WEXITSTATUS(status));
    hrd_group_start_failed(d, group, why);
}

void hrd_child_exited(struct hrd *d, pid_t pid, int status)
{
    if (hrd_standby_exited(d, pid, status)) {
        hrd_tree_sweep(d); /* its cgroup: no standby's any more */
        return; /* a standby: no member, no group event */
    }
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
        if (d->slot[slot].readiness == HRD_R_STARTING)
            died_unready(d, group, a, status);
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
