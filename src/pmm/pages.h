/* SPDX-License-Identifier: MIT */
/*
 * pages.h - a page bitmap built in memory from the entries.
 */
#ifndef HR_PMM_PAGES_H
#define HR_PMM_PAGES_H

#include <stdint.h>

#include "view.h"

/* Plain bits in each word's low half until pmm__bm_seal() adds the check
 * halves (layout.h).  NULL when out of memory; free() it. */
uint64_t *pmm__bm_new(const struct pmm_bank *b);
/* Mark page p held; 1 if it already was. */
int pmm__bm_take(uint64_t *bm, uint64_t p);
void pmm__bm_seal(const struct pmm_bank *b, uint64_t *bm);

#endif
