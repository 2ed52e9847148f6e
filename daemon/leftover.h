/* SPDX-License-Identifier: MIT */
/*
 * leftover.h - what a dead controller's generation left running (SPEC 3.2:
 * "a new controller that finds a live registry kills what is left of the
 * old generation"; "Held sockets survive a controller crash").
 *
 * An actor outlives its controller (it is not killed when the controller
 * dies): it keeps serving its held sockets until the next controller
 * comes, which then, before it starts anything:
 *  1. finds the old generation by what a process cannot shed: every
 *     process of the previous site cgroup (the site file "cgroup",
 *     cgroup.h); the registry's actors, each pinned by a pidfd and proved
 *     by its start time; the descendants of all of these (children read
 *     from /proc while their parents live, so a child that left its
 *     session or cleared its environment is found through its parent);
 *     and, a last net, processes carrying this site's HR_SITE and an
 *     HR_ACTOR (re-parented to init earlier, out of any tree);
 *  2. takes the listening sockets they hold (pidfd_getfd) and keeps each
 *     for the actor whose --listen names its address: the socket never
 *     closes, clients wait in its backlog;
 *  3. ends them all (cgroup.kill, SIGKILL by pidfd) and waits for them.
 */
#ifndef HRD_LEFTOVER_H
#define HRD_LEFTOVER_H

#include <stddef.h>
#include <sys/types.h>

struct hrd;

/* At start, before anything is started: the three steps above. */
void hrd_leftover_end(struct hrd *d);
/* Maintenance of a stopped site whose RAM bank does not open
 * (d->bank_error): its registry cannot be read, so what the dead
 * controller left is found by the cgroup it recorded alone, and ended
 * with SIGKILL.  Returns the number of processes ended, or -1 when no
 * cgroup was recorded (nothing can be found). */
int hrd_leftover_end_blind(struct hrd *d);
/* pid's environment into env (cap bytes, zeroed past its end): 0, or
 * -errno (another user's process, or gone). */
int hrd_env_read(pid_t pid, char *env, size_t cap);
/* The value of var ("HR_ACTOR=") in such an environment, or NULL. */
const char *hrd_env_get(const char *env, size_t cap, const char *var);

#endif
