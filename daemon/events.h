/* SPDX-License-Identifier: MIT */
/*
 * events.h - group events raised and not yet delivered: a queue in struct
 * hrd (events.c).  Actions raise into it; the table's entry point
 * (group.c) takes them out, one at a time, in order.
 */
#ifndef HRD_EVENTS_H
#define HRD_EVENTS_H

#include "gevent.h"

struct hrd;
struct hrd_event;

/* Queue ev on group with a copy of why (NULL: none). */
void hrd_event_raise(struct hrd *d, int group, enum hrd_group_event ev,
                     const char *why);
/* Take the oldest event into *e: 1, or 0 when none waits. */
int hrd_event_take(struct hrd *d, struct hrd_event *e);

#endif
