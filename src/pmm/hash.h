/* SPDX-License-Identifier: MIT */
/*
 * hash.h - checksums of the on-disk structures and the hash of block names.
 */
#ifndef HR_PMM_HASH_H
#define HR_PMM_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"

uint64_t pmm__sum(const void *p, size_t len, uint64_t seed);
/* Never 0: 0 marks an empty slot of the table of mapped blocks. */
uint64_t pmm__name_hash(const char *name);
uint64_t pmm__entry_sum(const struct pmm_entry *e);
uint64_t pmm__live_sum(const struct pmm_live *l);
uint64_t pmm__geom_sum(const struct pmm_geom *g);

#endif
