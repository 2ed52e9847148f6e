/* SPDX-License-Identifier: MIT */
/*
 * geom.h - a bank's geometry: the offsets that follow from its tunables,
 * and the check that a geometry read from a file is one we made.
 */
#ifndef HR_PMM_GEOM_H
#define HR_PMM_GEOM_H

#include <stdint.h>

#include "layout.h"

/* Banks' fixed ranges lie below USER_TOP, far under the area where the
 * kernel places a process's own mappings (top-down from below the stack,
 * randomised by up to 1 TiB), so they are almost never taken. */
#define PMM_USER_TOP 0x700000000000ull
/* ... and above 0x2000_0000_0000, clear of the shadow memory that the
 * address sanitizer reserves up to 0x1000_7fff_8000 (seen taking a bank's
 * range in a sanitizer build: the test of same addresses failed once). */
#define PMM_USER_LOW 0x200000000000ull

/* The huge page size of a huge-page bank (PMM_GF_HUGE), else 0. */
uint64_t pmm__geom_huge(const struct pmm_geom *g);
/* Fill in nbuckets, the offsets and file_size from page_size, max_blocks,
 * data_pages and the flags. */
void pmm__geom_layout(struct pmm_geom *g);
/* K_OK if g is a geometry of this format, this machine and a file of
 * file_size bytes (at least its metadata: block contents extend it); else
 * K_EBANK, and *why (when given) says what differs. */
int pmm__geom_check(const struct pmm_geom *g, uint64_t file_size,
                    const char **why);

#endif
