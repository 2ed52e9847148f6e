/* SPDX-License-Identifier: MIT */
/*
 * offline.c - a stopped site's maintenance, no controller started: hrd
 * --end-group G (hr akill -g on a stopped site) and hrd --end-leftovers
 * (hr site stop after a controller died).
 */
#define _GNU_SOURCE
#include <stdio.h>

#include "actor.h"
#include "hrd.h"
#include "leftover.h"
#include "log.h"
#include "members.h"
#include "offline.h"
#include "os/os.h"
#include "tree.h"

/* --end-group G: the stopped site's group G ends (its members' leftovers,
 * if a controller died, end first), and no controller starts: the
 * registry says the site is as it was, less that group. */
static int end_group(struct hrd *d, int group)
{
    int r = 0;
    hrd_actors_adopt(d); /* a crashed controller's actors outlive it */
    hrd_groups_adopt(d);
    if (group >= 0 && !d->reg->groups[group].used) {
        fprintf(stderr, "hrd: --end-group: site %s has no group %d\n", d->site,
                group);
        r = HRD_EXIT_NO_GROUP;
    } else if (group >= 0) {
        hrd_kill_group(d, group);
        if (d->reg->groups[group].used)
            hrd_die(1, "--end-group: group %d did not end", group);
    }
    hrd_tree_end_all(d, HRD_KILL_WAIT_S * 1000); /* and our cgroup goes */
    if (d->reg->site.controller_pid) {
        hrd_log(d, HRD_NOTICE, "the actors left by a controller that died "
                "(pid %llu) are ended: the site is stopped",
                (unsigned long long)d->reg->site.controller_pid);
        d->reg->site.controller_pid = 0;
    }
    return r;
}

/* Maintenance of a site whose RAM bank does not open: --end-leftovers
 * ends what the recorded cgroup holds; --end-group needs the registry. */
static int end_without_bank(struct hrd *d, int group)
{
    const char *why = pmm_strerror(d->bank_error);
    if (group >= 0) {
        fprintf(stderr, "hrd: --end-group: site %s: the RAM bank does not "
                "open (%s), so its groups cannot be read (hr site cold "
                "replaces the bank)\n", d->site, why);
        return 1;
    }
    int ended = hrd_leftover_end_blind(d);
    if (ended < 0) {
        fprintf(stderr, "hrd: site %s: the RAM bank does not open (%s) and "
                "no cgroup is recorded: no process of a controller that died "
                "can be looked for\n", d->site, why);
        return 0;
    }
    char text[600];
    snprintf(text, sizeof text, "the RAM bank does not open (%s): %d "
             "process%s left in the cgroup of a controller that died ended "
             "with SIGKILL; the registry is not updated (hr site cold "
             "replaces the bank)", why, ended, ended == 1 ? "" : "es");
    hrd_log(d, HRD_NOTICE, "%s", text);
    fprintf(stderr, "hrd: site %s: %s\n", d->site, text);
    return 0;
}

int hrd_offline(struct hrd *d, int group)
{
    return d->bank_error ? end_without_bank(d, group) : end_group(d, group);
}
