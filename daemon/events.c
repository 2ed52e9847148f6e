/* SPDX-License-Identifier: MIT */
/*
 * events.c - the queue of group events (see events.h): a ring of
 * HRD_EVENTS in struct hrd.  Each action raises one event at most, so the
 * queue holds a few at a time; a full one can only be a loop in the table,
 * and the controller dies saying so rather than drop an event.
 */
#define _GNU_SOURCE
#include <stdio.h>

#include "events.h"
#include "hrd.h"
#include "log.h"

void hrd_event_raise(struct hrd *d, int group, enum hrd_group_event ev,
                     const char *why)
{
    if (d->ev_len == HRD_EVENTS)
        hrd_die(1, "group %d: %u events waiting: the group table loops",
                group, (unsigned)HRD_EVENTS);
    struct hrd_event *e = &d->events[(d->ev_head + d->ev_len++) % HRD_EVENTS];
    e->group = (int16_t)group;
    e->ev = (uint8_t)ev;
    e->has_why = why != NULL;
    snprintf(e->why, sizeof e->why, "%s", why ? why : "");
}

int hrd_event_take(struct hrd *d, struct hrd_event *e)
{
    if (!d->ev_len)
        return 0;
    *e = d->events[d->ev_head]; /* its slot may be reused at once */
    d->ev_head = (d->ev_head + 1) % HRD_EVENTS;
    d->ev_len--;
    return 1;
}
