/* SPDX-License-Identifier: MIT */
/*
 * ready.h - when an actor is ready, by the conventions of the ecosystem
 * (SPEC 3.2): sd_notify(3) (READY=1 sent to $NOTIFY_SOCKET, which the
 * controller gives every actor: SITE/notify.sock) or an s6-style readiness
 * fd (hr arun --ready-fd N: a newline written to fd N).  And how long each
 * restart took, from the death the controller saw to ready (to exec for
 * actors that never say ready): the last, and a histogram, per group.
 *
 * Readiness lives in the controller's memory, not in the registry: a new
 * controller restarts every actor, which then says it again.
 */
#ifndef HRD_READY_H
#define HRD_READY_H

#include <stdint.h>

struct hrd;

/* An actor's readiness, while it runs. */
enum { HRD_R_SILENT = 0, /* says nothing (yet): up once exec'd */
       HRD_R_STARTING,   /* will say when it is ready */
       HRD_R_READY };
/* Histogram buckets of the restart times, upper bounds in ms (the last
 * bucket: longer). */
#define HRD_HIST 6
extern const unsigned hrd_hist_ms[HRD_HIST - 1];

/* Bind the notify socket: its descriptor, or -errno (then actors get no
 * NOTIFY_SOCKET). */
int hrd_ready_open(struct hrd *d);
/* Datagrams have arrived on the notify socket. */
void hrd_ready_notified(struct hrd *d);
/* 1 when fd is an actor's readiness pipe (then read and handled), else 0. */
int hrd_ready_pipe_event(struct hrd *d, int fd);
/* The actor in slot was forked with readiness pipe rd (or -1). */
void hrd_ready_started(struct hrd *d, int slot, int rd);
/* The actor in slot does not run any more. */
void hrd_ready_gone(struct hrd *d, int slot);
/* A failure's restart of group begins: time it from its last failure. */
void hrd_ready_restarting(struct hrd *d, int group);
/* The group's restarted actors have been exec'd: record the restart's
 * time if every one is up. */
void hrd_ready_check(struct hrd *d, int group);

#endif
