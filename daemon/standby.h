/* SPDX-License-Identifier: MIT */
/*
 * standby.h - standby instances of direct actors (SPEC 3.2, hr arun
 * --standby): a second instance of the actor, started from its stored
 * image, arguments and environment with HR_STANDBY=1, initialises and
 * waits in hr_standby_wait() (a request on the control socket, kept open);
 * a group restart promotes it (answers that request) instead of executing
 * the program again, then a new standby is started in the background.
 *
 * A standby is not a member of its group: it is in no registry slot of its
 * own, no group event comes from it, and its death while waiting only
 * starts another.  Its state lives in the controller's memory
 * (d->slot[slot].standby), not in the registry: standbys die with their
 * controller (like every actor, SIGKILL when it dies), and the next one
 * starts new ones once the actors are up again.
 */
#ifndef HRD_STANDBY_H
#define HRD_STANDBY_H

#include <stdio.h>
#include <sys/types.h>

struct hrd;

/* Every slot without a standby (at start). */
void hrd_standby_init(struct hrd *d);
/* Start the standbys that are wanted and missing (one whose live instance
 * is up, in a running group), act on those that said READY=1 without
 * waiting.  Milliseconds until one is due (a standby that keeps dying is
 * started again a second apart), or -1. */
int hrd_standby_tick(struct hrd *d);
/* A group restart starts the direct actor in slot again: the pid of its
 * standby, promoted (the caller raises AE_STARTED with it), or 0 when it
 * has none to promote (the caller executes the program). */
int hrd_standby_promote(struct hrd *d, int slot);
/* fd became readable: 1 when it is a standby's readiness pipe (a standby
 * that says it is ready without waiting is given up, as for READY=1),
 * else 0. */
int hrd_standby_pipe_event(struct hrd *d, int fd);
/* A child was reaped: 1 when it was a standby (handled here), else 0. */
int hrd_standby_exited(struct hrd *d, pid_t pid, int status);
/* HR_REQ_STANDBY from caller on conn: the result to reply with, or, with
 * *kept set, nothing yet (conn is kept and answered at promotion). */
int hrd_standby_request(struct hrd *d, int conn, pid_t caller, int *kept);
/* The actor in slot leaves the registry: its standby is killed. */
void hrd_standby_drop(struct hrd *d, int slot);
/* Stop or site restart: every standby killed and reaped. */
void hrd_standby_stop_all(struct hrd *d);
/* The table, a cell a line ("standby STATE EVENT -> NEXT ACTION"), for
 * hrd --tables and the test that checks every cell. */
void hrd_standby_table_print(FILE *f);
/* Its state in words for ps: "starting", "waiting", or NULL (none). */
const char *hrd_standby_state(const struct hrd *d, int slot);

#endif
