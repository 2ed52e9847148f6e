/* SPDX-License-Identifier: MIT */
/*
 * ident.c - the calling process's identity as an actor, captured once.
 *
 * The controller starts every actor with HR_SITE, HR_GROUP, HR_ACTOR and
 * HR_RESTARTS in its environment.  The constructor below copies the site
 * and the group when the library is loaded, before main, so that an actor
 * that clears or rewrites its environment (clearenv() at the top of main,
 * as daemons that sanitise their environment do) keeps both: HR_GROUP_KEY
 * still names its group, an ordinary block still lands in its site's bank
 * and HR_EXIT_HDL() still reaches its controller.
 *
 * A process started without HR_ACTOR is not an actor: it has no captured
 * identity and its calls read $HR_SITE and $HR_GROUP when they are made,
 * as the tool and programs that set them at run time expect.
 *
 * A standby instance (HR_STANDBY=1 beside HR_ACTOR: hr arun --standby)
 * is marked as such until hr_standby_wait() returns promoted (src/hr/
 * standby.c): while marked, the calls that touch persistent blocks
 * refuse with K_ESTANDBY.
 *
 * Invariant: nothing here changes after the constructor but the standby
 * mark, cleared once and for good (an atomic store) at promotion, so the
 * readers take no lock and allocate nothing (they are async-signal-safe).
 */
#define _GNU_SOURCE
#include "ident.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct {
    int actor;       /* 1 when the controller started this process */
    int group;
    char site[4096]; /* NUL-terminated; empty: HR_SITE was not given */
    int standby;     /* 1: a standby not promoted yet (atomic: cleared by
                        pmm__ident_promoted) */
} ident;

__attribute__((constructor)) static void ident_capture(void)
{
    const char *actor = getenv("HR_ACTOR"), *group = getenv("HR_GROUP");
    const char *site = getenv("HR_SITE");
    char *end;
    if (!actor || !*actor || !group || !*group)
        return;
    errno = 0;
    long g = strtol(group, &end, 10);
    if (errno || *end || g < 0 || g > 0x7fffffff)
        return;
    if (site && strlen(site) < sizeof ident.site)
        strcpy(ident.site, site);
    ident.group = (int)g;
    ident.actor = 1;
    const char *standby = getenv("HR_STANDBY");
    ident.standby = standby && strcmp(standby, "1") == 0;
}

const char *pmm__ident_site(void)
{
    return ident.actor && ident.site[0] ? ident.site : NULL;
}

int pmm__ident_group(int *group)
{
    if (ident.actor)
        *group = ident.group;
    return ident.actor;
}

int pmm__ident_standby(void)
{
    return __atomic_load_n(&ident.standby, __ATOMIC_ACQUIRE);
}

void pmm__ident_promoted(void)
{
    __atomic_store_n(&ident.standby, 0, __ATOMIC_RELEASE);
}
