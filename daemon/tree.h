/* SPDX-License-Identifier: MIT */
/*
 * tree.h - an actor is its whole process tree (SPEC 3.2 "Process trees",
 * "An actor is what it started, whatever it sheds"), and stopping one is
 * graceful (SPEC 3.2 "Stopping").
 *
 * Each actor runs in its own session and process group, whose id is its
 * pid (spawn.c: setsid in the child), and the controller is a child
 * subreaper (main.c): a descendant whose parent dies becomes the
 * controller's child, not init's: an orphan.  What the tree is, two modes:
 *
 *  - cgroups (cgroup.h), where the controller has a delegated cgroup v2
 *    subtree: the actor's cgroup is its tree.  Ending the actor kills the
 *    cgroup (cgroup.kill); nothing can leave it, and an orphan in the
 *    cgroup of a live actor is that actor's.
 *  - the fallback, without: the actor's process group, its descendants
 *    (read from /proc while their parents live) and the orphans.  An
 *    orphan is kept only while it carries the HR_SITE, HR_ACTOR and
 *    HR_RESTARTS of a live run (spawn.c sets them); every other one, one
 *    that cleared its environment included, is a leftover and is ended
 *    at the next death the controller sees or stop.
 *
 * Pids are safe to signal: actors and orphans are our children until we
 * reap them, and a process group's id is not reused while it has a member.
 * A descendant's pid is read from its parent's children and signalled at
 * once: it could be reused only if the descendant died and was reaped in
 * between, a window of microseconds that the cgroup mode does not have.
 *
 * A stop sends SIGTERM to the actor's tree and sets a deadline
 * (d->kill_at); the event loop sends SIGKILL to those whose deadline
 * passes (hrd_tree_deadlines).
 */
#ifndef HRD_TREE_H
#define HRD_TREE_H

#include <stdint.h>
#include <sys/types.h>

struct hrd;

/* Stop the running actor in slot and its tree: SIGTERM and a deadline
 * timeout_ms away, or SIGKILL at once when timeout_ms is 0 (nothing when
 * slot runs no process). */
void hrd_tree_stop(struct hrd *d, int slot, uint32_t timeout_ms);
/* The actor in slot, pid, was reaped: SIGKILL to what is left of its
 * process group and its cgroup, or, in the graceful stop of the site's
 * end (its deadline to come), to what is left of its cgroup (the sweep)
 * or, without cgroups, of its process group (hrd_tree_graced) at that
 * deadline.  Without cgroups its orphans die in the next
 * hrd_tree_sweep(), once its run is over: off the restart's path. */
void hrd_tree_reaped(struct hrd *d, int slot, pid_t pid);
/* How many reaped actors' trees still run in their graceful stop's time
 * (the site's end waits for them); without cgroups, SIGKILL to the
 * process groups whose deadline has come. */
int hrd_tree_graced(struct hrd *d);
/* The same (again, or for the first time), and SIGKILL to its orphans
 * now: 1 when processes of its run were left running when it was reaped
 * (it went to the background). */
int hrd_tree_left(struct hrd *d, int slot, pid_t pid);
/* SIGKILL what is left of every run that has ended: the cgroups of
 * processes that are no actor, or the orphans that are no live run's. */
void hrd_tree_sweep(struct hrd *d);
/* Actor slot was forgotten: its spare cgroup (cgroup.h), kept for its
 * next start, goes now (a group killed while it backs off has no death
 * left to sweep after). */
void hrd_tree_forget(struct hrd *d, int slot);
/* SIGKILL the trees whose deadline has passed, and sweep when a sweep is
 * due (cgroups that could not be removed yet); the milliseconds until the
 * next deadline or sweep, -1 when none is. */
int hrd_tree_deadlines(struct hrd *d);
/* At start, before anything is started: end what the previous
 * generation left (leftover.h), then choose the mode (cgroup.h). */
void hrd_tree_begin(struct hrd *d);
/* The controller stops: SIGKILL every child it has left (orphans, a
 * start-up command) and reap them, waiting up to wait_ms for them. */
void hrd_tree_end_all(struct hrd *d, int wait_ms);

#endif
