/* SPDX-License-Identifier: MIT */
/*
 * standby.c - a standby instance's side of its promotion (hr_is_standby,
 * hr_standby_wait).
 *
 * The controller starts the standby of an actor (hr arun --standby) from
 * the actor's stored image, arguments and environment, with HR_STANDBY=1
 * and the HR_RESTARTS of the run it will serve; the library marks it as a
 * standby before main (src/pmm/ident.c), and while marked the calls that
 * touch persistent blocks refuse with K_ESTANDBY.  hr_standby_wait() is
 * one request on the control socket that the controller answers when it
 * promotes the standby (daemon/standby.c): the answer is the group's
 * restart count.  The connection has no timeout: a standby may wait for
 * days.
 *
 * Promoted, it is the actor, and outlives a controller that dies as every
 * actor does, so that the next controller takes its held sockets back.
 * A standby may be promoted before it asks (the live instance failed
 * while it initialised), and its controller may die before it asks: so
 * no death signal is armed for a standby (one armed at its spawn would
 * kill a promoted standby that had not waited yet), and a wait that finds
 * no controller to answer reads the registry, which names the promoted
 * standby as its actor's process from the promotion on.  Named, it goes
 * on as the actor; not named, with no controller left, it ends itself
 * (SIGKILL, as a death signal would have): a spare is no use to the next
 * controller, which makes its own, and ends one still initialising as a
 * leftover of the old generation (daemon/leftover.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hotrestart/hr.h>

#include "os/ctl.h"
#include "os/os.h"
#include "pmm/chorus.h"
#include "pmm/ident.h"
#include "proto.h"
#include "registry.h"

int hr_is_standby(void)
{
    return pmm__ident_standby();
}

/* The call failed with err: the group's restart count when the registry
 * names this process as its actor's (promoted, its controller gone before
 * it answered); no controller left, the end of this standby; else err. */
static int without_answer(const char *site, int err)
{
    uint32_t restarts;
    int r = hr__reg_promoted(site, getenv("HR_ACTOR"), (int32_t)pmm__os_pid(),
                             &restarts);
    if (r == 1)
        return (int)(restarts & INT32_MAX);
    if (hr__controller_holds(site) == 0) {
        pmm__os_kill(pmm__os_pid(), SIGKILL);
        return -ECONNREFUSED; /* never reached: the kill is synchronous */
    }
    return err;
}

int hr_standby_wait(void)
{
    char restarts[16];
    if (!pmm__ident_standby())
        return 0; /* the live instance, or a process no controller started */
    /* initialised as far as it can be: the ChorusOS calls' bank is open
     * (a failure there is theirs to report, after the promotion) */
    pmm__chorus_open_ram();
    const char *site = pmm__ident_site();
    if (!site)
        return -ECONNREFUSED; /* no HR_SITE from a controller: none to ask */
    /* no timeout: a standby may wait for days; the reply is a bare header */
    int r = hr__bare_call(site, HR_REQ_STANDBY, 0);
    if (r < 0)
        r = without_answer(site, r);
    if (r < 0)
        return r;
    /* the identity of the run it serves: what it was started with, unless
     * the controller says otherwise; its children are no standbys */
    snprintf(restarts, sizeof restarts, "%d", r);
    const char *was = getenv("HR_RESTARTS");
    if ((!was || strcmp(was, restarts) != 0) &&
        setenv("HR_RESTARTS", restarts, 1) < 0)
        return -ENOMEM;
    unsetenv("HR_STANDBY");
    pmm__ident_promoted();
    pmm__os_outlive_parent();
    return 0;
}
