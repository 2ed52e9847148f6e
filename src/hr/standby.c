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
 * days.  If the controller goes away, the connection ends and the wait
 * fails, and the standby is killed with its controller (its spawn asked
 * for that death signal: a spare is no use to the next controller, which
 * makes its own).  Promoted, it is the actor, and outlives a controller
 * that dies as every actor does, so that the next controller takes its
 * held sockets back: the death signal is cleared.  One that the
 * controller's death reaches first has been killed as a standby.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hotrestart/hr.h>

#include "os/ctl.h"
#include "os/os.h"
#include "pmm/chorus.h"
#include "pmm/ident.h"
#include "proto.h"

int hr_is_standby(void)
{
    return pmm__ident_standby();
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
