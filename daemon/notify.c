/* SPDX-License-Identifier: MIT */
/*
 * notify.c - the controller's messages to its service manager (see
 * notify.h).  The address is read from the environment at each message:
 * a site restart's fresh controller (the same process, executed again)
 * finds it there too.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "hrd.h"
#include "notify.h"
#include "os/ctl.h"

void hrd_notify(const char *fmt, ...)
{
    const char *ns = getenv("NOTIFY_SOCKET");
    if (!ns || (ns[0] != '/' && ns[0] != '@') || !ns[1])
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    pmm__os_send_to(ns, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

void hrd_notify_status(const struct hrd *d)
{
    static int said_groups = -1, said_actors = -1;
    int groups = 0, actors = 0;
    for (int g = 0; g < HR_REG_GROUPS; g++)
        groups += d->reg->groups[g].used != 0;
    HRD_FOR_ACTORS(d, i)
        actors++;
    if (groups == said_groups && actors == said_actors)
        return;
    said_groups = groups;
    said_actors = actors;
    hrd_notify("STATUS=running: %d group%s, %d actor%s", groups,
               groups == 1 ? "" : "s", actors, actors == 1 ? "" : "s");
}
