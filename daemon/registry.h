/*
 * registry.h - the controller's side of its registry: opening it at start
 * (made on a site's first start), checking every entry a previous
 * controller left, sweeping what no entry accounts for, and looking actors
 * up in it.
 */
#ifndef HRD_REGISTRY_H
#define HRD_REGISTRY_H

#include <sys/types.h>

struct hrd;

/* Map the registry (made if new); exits the controller with a message for
 * one of another format.  Damaged entries are dropped with a message
 * (counted in d->dropped); the generation moves on. */
void hrd_registry_open(struct hrd *d);
/* Free the blocks that no registry entry accounts for: image and argument
 * blocks of free slots, HR_GROUP_KEY blocks of groups that do not exist.
 * It walks every block, so it runs after entries were dropped only. */
void hrd_registry_sweep(struct hrd *d);
/* The slot of the actor running as pid, or -1. */
int hrd_find_pid(struct hrd *d, pid_t pid);
/* The slot of the actor called name in group (-1: any group), or -1. */
int hrd_find_name(struct hrd *d, int group, const char *name);
/* Names end up in logs and JSON: 1 when s keeps to a plain alphabet. */
int hrd_name_ok(const char *s);

#endif
