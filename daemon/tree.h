/* SPDX-License-Identifier: MIT */
/*
 * tree.h - an actor is its whole process tree (SPEC 3.2 "Process trees"),
 * and stopping one is graceful (SPEC 3.2 "Stopping").
 *
 * Each actor runs in its own session and process group, whose id is its
 * pid (spawn.c: setsid in the child).  The controller is a child subreaper
 * (main.c), so a descendant whose parent dies (a daemon forking into the
 * background) becomes the controller's child, not init's: an orphan.  An
 * orphan belongs to the run of the actor whose HR_SITE, HR_ACTOR and
 * HR_RESTARTS it inherited (spawn.c sets them); one that carries none of
 * this site's is left alone until the controller stops.
 *
 * Pids are safe to signal: actors and orphans are our children until we
 * reap them, and a process group's id is not reused while it has a member.
 *
 * A stop sends SIGTERM to the actor's process group and its orphans and
 * sets a deadline (d->kill_at); the event loop sends SIGKILL to those whose
 * deadline passes (hrd_tree_deadlines).
 */
#ifndef HRD_TREE_H
#define HRD_TREE_H

#include <stdint.h>
#include <sys/types.h>

struct hrd;

/* Stop the running actor in slot and its tree: SIGTERM and a deadline
 * timeout_ms away, or SIGKILL at once when timeout_ms is 0. */
void hrd_tree_stop(struct hrd *d, int slot, uint32_t timeout_ms);
/* The actor in slot, pid, was reaped: SIGKILL to what is left of its
 * process group.  Its orphans die in the next hrd_tree_sweep(), once its
 * run is over: off the restart's path (a look at /proc). */
void hrd_tree_reaped(struct hrd *d, int slot, pid_t pid);
/* The same, and SIGKILL to its orphans now: 1 when processes of its run
 * were left running (it went to the background). */
int hrd_tree_left(struct hrd *d, int slot, pid_t pid);
/* SIGKILL every orphan whose actor's run has ended (a restart, a stop). */
void hrd_tree_sweep(struct hrd *d);
/* SIGKILL the trees whose deadline has passed; the milliseconds until the
 * next deadline, or -1 when there is none. */
int hrd_tree_deadlines(struct hrd *d);
/* At start: SIGKILL what a previous generation's actors left outside any
 * controller (a controller that died leaves its actors' descendants under
 * init): every process of this user that carries this site's HR_SITE and
 * an HR_ACTOR and is not the controller's child.  Reads every process's
 * environment: run once, at start. */
void hrd_tree_end_strays(struct hrd *d);
/* The controller stops: SIGKILL every child it has left (orphans, a
 * start-up command) and reap them, waiting up to wait_ms for them. */
void hrd_tree_end_all(struct hrd *d, int wait_ms);

#endif
