/* SPDX-License-Identifier: MIT */
/*
 * ending.c - the site's own end, driven by the loop: a stop (a request or
 * a signal), a site restart (asked for, or escalated by the restart
 * policy from the group table) or a cold restart (asked for).
 *
 * hrd_end_begin signals every actor's tree at once (actor.c); from then
 * on each turn of the loop reaps what died and sends the SIGKILLs due
 * (hrd_end_step), until no actor is left or the last one is given up on.
 * Meanwhile the loop goes on reading: requests that only read, an actor's
 * HR_EXIT_HDL and a stop are served, the others refused with EBUSY
 * (requests.c), and the actors' last output is logged; it starts nothing,
 * so no group, standby or upgrade moves on.  Then the end is done: a site
 * restart not asked for is charged to the policy, which may fail the site
 * instead; a stop that came meanwhile wins over a restart; and the loop
 * ends (main.c stops, or executes a fresh controller).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>

#include "actor.h"
#include "ending.h"
#include "group.h"
#include "hrd.h"
#include "log.h"
#include "notify.h"
#include "os/ctl.h"
#include "os/os.h"
#include "pmm/crash.h"
#include "policy.h"
#include "upgrade.h"

void hrd_end_begin(struct hrd *d, enum hrd_end kind, const char *why,
                   int asked)
{
    if (d->ending)
        return;
    d->ending = kind;
    d->end_asked = asked;
    snprintf(d->end_why, sizeof d->end_why, "%s", why ? why : "");
    if (kind == HRD_END_RESTART)
        hrd_log(d, HRD_WARNING, "site restart: %s", d->end_why);
    else if (kind == HRD_END_COLD)
        hrd_log(d, HRD_WARNING, "cold restart: asked for (hr site restart "
                "--cold): every actor stops, the RAM bank and the registry "
                "are made anew, the held listening sockets are kept");
    else
        hrd_notify("STOPPING=1\nSTATUS=stopping: every actor is stopped");
    if (d->ini_pid > 0) { /* a start-up command still runs: it ends too */
        hrd_log(d, HRD_INFO, "sysadm.ini:%d: %s stopped", d->ini_line,
                d->ini_prog);
        pmm__os_kill(d->ini_pid, SIGTERM);
    }
    hrd_upjobs_cut(d, kind == HRD_END_STOP ? "the site stops"
                      : kind == HRD_END_COLD ? "the site restarts cold"
                                             : "the site restarts");
    hrd_kill_all_begin(d);
}

/* Every actor is gone: what follows the end.  A group that was being
 * ended for good (hr akill -g) whose members are all gone ends now, as
 * the next controller would end it, so that its callers are answered
 * (before, the controller closed their connections unanswered). */
static void end_done(struct hrd *d)
{
    for (int g = 0; g < HR_REG_GROUPS; g++)
        if (d->reg->groups[g].used &&
            d->reg->groups[g].state == HR_G_ENDING &&
            !hrd_members_dying(d, g))
            hrd_group_event(d, g, GE_GONE, NULL);
    if (d->ending == HRD_END_RESTART) {
        pmm__crash("hrd.site_restart"); /* every actor gone, no new
                                           controller */
        if (!d->end_asked && hrd_policy_site_restart(d, d->end_why)) {
            d->reg->site.failed = 1;
            hrd_log(d, HRD_ERR,
                    "site failed, stopping: %s (hr site start tries again)",
                    d->reg->site.failure);
            d->stopping = 1;
        } else {
            d->reg->site.site_restarts++;
        }
    }
    /* a cold restart is a request, not a failure: not the policy's */
    d->exec_pending = d->ending != HRD_END_STOP && !d->stopping;
}

int hrd_end_step(struct hrd *d)
{
    int ms = hrd_kill_all_step(d);
    if (ms >= 0)
        return ms;
    hrd_kill_all_end(d);
    end_done(d);
    return -1;
}
