/* SPDX-License-Identifier: MIT */
/*
 * cgroup.h - the site's cgroup v2 subtree (SPEC 3.2 "An actor is what it
 * started, whatever it sheds").
 *
 * Where the controller's own cgroup lets it make cgroups and move its
 * children into them (a subtree delegated: systemd's Delegate=yes, a
 * container's own cgroup, root), the controller makes the site's cgroup
 * OWN/hrd.PID and every process it starts (actor, standby) is made in a
 * cgroup of its own, OWN/hrd.PID/cN, before it executes its program.  A
 * process cannot leave its cgroup without write access to another, so
 * killing a cgroup (one write to cgroup.kill) ends every process the
 * actor started, whatever it did to its session, its parent or its
 * environment.  The path of the site's cgroup is kept in the site file
 * "cgroup", for the next controller after a crash.
 *
 * Without such a subtree (or with HRD_CGROUPS=off in the controller's
 * environment) d->cg_fd is -1 and tree.c keeps to processes: see tree.h.
 *
 * An actor or a standby is made inside its cgroup, cN (hrd_cgroup_new,
 * then hrd_cgroup_bind with its pid).  One that died alone, its cgroup
 * empty and never killed, leaves it to the next start of the same actor
 * slot (a spare: hrd_cgroup_reaped); a slot has one spare at most, kept
 * while the slot holds an actor, and removed with the rest at the end.
 *
 * Invariant: with d->cg_fd >= 0, each live actor or standby of pid P is
 * in the cgroup bound to P (or was refused its start), alone with what it
 * started; a cgroup whose process is neither is killed and removed at the
 * next sweep, unless it is an empty spare of a slot that holds an actor;
 * a cgroup once written cgroup.kill is never handed out again.
 */
#ifndef HRD_CGROUP_H
#define HRD_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HRD_CGROUP_FILE "cgroup"    /* in the site: the site's cgroup */
#define HRD_CGROUP_ENV "HRD_CGROUPS" /* "off": the fallback, always */

#define HRD_CGROUPS_MAX 1024 /* cgroups under the site's, at most */

struct hrd;

/* At start, after the previous generation was ended (leftover.c): find
 * whether cgroups can be used; if so make the site's cgroup, open it as
 * d->cg_fd and name it in the site file.  Says in the log which mode. */
void hrd_cgroup_begin(struct hrd *d);
/* The previous controller's site cgroup, named by the site file (its
 * path into path), opened (a directory descriptor), or -1 when there is
 * none. */
int hrd_cgroup_old(struct hrd *d, char *path, size_t cap);
/* The site file naming the site's cgroup (DIR/cgroup), into out. */
void hrd_cgroup_file(const struct hrd *d, char *out, size_t cap);
/* A cgroup for a process of actor slot about to start (its number into
 * *n): slot's spare if it has one that is still empty, else a new one.
 * Open: a directory descriptor, which stays the table's, or -errno. */
int hrd_cgroup_new(struct hrd *d, int slot, uint32_t *n);
/* The process pid was started in cgroup n (pid <= 0: it was not, and
 * the cgroup is removed). */
void hrd_cgroup_bind(struct hrd *d, uint32_t n, pid_t pid);
/* Process pid of actor slot was reaped: 1 when its cgroup still held
 * processes, now SIGKILLed, or, in a graceful stop whose deadline grace
 * (mono ns, to come; 0: none) holds for the rest, left to it (the sweep at the
 * deadline kills what is left: tree.c gives one in the site's end only); else 0, and the empty cgroup becomes
 * slot's spare (unless slot has one, or it was ever killed). */
int hrd_cgroup_reaped(struct hrd *d, int slot, pid_t pid, uint64_t grace);
/* How many trees' rests wait for their graceful stop's deadline (the
 * site's end) and still hold a process. */
int hrd_cgroup_graced(struct hrd *d);
/* SIGKILL every process of pid's cgroup (d->cg_fd >= 0). */
void hrd_cgroup_kill(struct hrd *d, pid_t pid);
/* Send sig to every process of pid's cgroup. */
void hrd_cgroup_signal(struct hrd *d, pid_t pid, int sig);
/* 1 when a process is left in pid's cgroup. */
int hrd_cgroup_populated(struct hrd *d, pid_t pid);
/* Kill and remove the cgroups of processes that are no live actor nor
 * standby, and end any process moved into the site's cgroup itself (an
 * actor's descendant leaving its own: logged): the number of cgroups
 * that still held processes (one of the table's counted once).  One that cannot be removed yet (its tree still
 * dying) makes a sweep due 10 ms later; each such sweep (retry: 1, the
 * timer's) doubles the wait, to 1 s, then no more; any other sweep
 * starts the series again. */
int hrd_cgroup_sweep(struct hrd *d, int retry);
/* Actor slot was forgotten: its spare, if it has one, is removed. */
void hrd_cgroup_forget(struct hrd *d, int slot);
/* Milliseconds until the next sweep is due (0: now), -1 when none is: a
 * retry, or a graceful stop's deadline for a tree's rest. */
int hrd_cgroup_sweep_due(void);
/* The controller stops: kill every cgroup, wait up to wait_ms for them
 * to empty (reaping), remove them, the site's cgroup and its file. */
void hrd_cgroup_end(struct hrd *d, int wait_ms);
/* Kill every cgroup under dir (an old site cgroup) and every process in
 * dir itself (one that escaped into it), wait up to wait_ms for them to
 * empty, and remove them. */
void hrd_cgroup_end_dir(int dir, int use_kill, int wait_ms);

#endif
