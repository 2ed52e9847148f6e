/* SPDX-License-Identifier: MIT */
/*
 * members.h - what happens to members, as group events (members.c): the
 * entry points of the loop and of requests into the group table.
 */
#ifndef HRD_MEMBERS_H
#define HRD_MEMBERS_H

#include <stdint.h>
#include <sys/types.h>

struct hrd;

/* Register an actor (its image and arguments stored) in group, stopped;
 * *slot gets its registry slot.  -ENOSPC past hrCtrl.maxActors. */
int hrd_register(struct hrd *d, int group, int direct, const char *name,
                 int exe_fd, const char *args, uint32_t args_len, int *slot);
/* Unregister an actor that never ran; a group left with no member goes. */
void hrd_unregister(struct hrd *d, int slot);
/* A child of the controller was reaped. */
void hrd_child_exited(struct hrd *d, pid_t pid, int status);
/* End a group for good: 1 when done at once (or no such group), 0 when its
 * members still have to die (the loop finishes it when the last is reaped;
 * d->grp[group].ends moves on then). */
int hrd_kill_group(struct hrd *d, int group);
/* At start, after hrd_actors_adopt() (actor.h): end the groups whose end
 * was cut short or that have no member left. */
void hrd_groups_adopt(struct hrd *d);

#endif
