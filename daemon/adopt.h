/* SPDX-License-Identifier: MIT */
/*
 * adopt.h - the registry a previous controller left, taken over at start:
 * opened (made on a site's first start), every entry checked, and what no
 * entry accounts for swept.  The format is src/hr/registry.h.
 */
#ifndef HRD_ADOPT_H
#define HRD_ADOPT_H

struct hrd;

/* Map the registry (made if new); exits the controller with a message for
 * one of another format.  Damaged entries are dropped with a message
 * (counted in d->dropped); the generation moves on. */
void hrd_registry_open(struct hrd *d);
/* Free the blocks that no registry entry accounts for: image and argument
 * blocks of free slots, HR_GROUP_KEY blocks of groups that do not exist.
 * It walks every block, so it runs after entries were dropped only. */
void hrd_registry_sweep(struct hrd *d);
#endif
