/* SPDX-License-Identifier: MIT */
/*
 * repair.h - rebuilding a damaged bank's metadata.
 */
#ifndef HR_PMM_REPAIR_H
#define HR_PMM_REPAIR_H

#include "view.h"

/* Under the bank's lock: rebuild chains, free list, bitmap and counters
 * from the entries, dropping bad ones; fn (when given) hears what is
 * dropped.  0, or -errno (the PMM_OP_REPAIR mark then stays, and the next
 * user runs the repair again). */
int pmm__repair(struct pmm_bank *b, void (*fn)(const char *, void *),
                void *arg);
/* At open, before the metadata is mapped: b->g holds the intact backup
 * geometry; write it over the damaged primary, under the file lock. */
int pmm__repair_geom(struct pmm_bank *b);

#endif
