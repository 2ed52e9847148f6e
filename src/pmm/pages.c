/* SPDX-License-Identifier: MIT */
/*
 * pages.c - a page bitmap built in memory from the entries: what the
 * checker compares with the bank's, and what the repair writes.
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "pages.h"

uint64_t *pmm__bm_new(const struct pmm_bank *b)
{
    return calloc(pmm_bm_words(b->g.data_pages), 8);
}

int pmm__bm_take(uint64_t *bm, uint64_t p)
{
    uint64_t m = 1ull << (p & (PMM_BM_PAGES - 1));
    int had = (bm[p >> PMM_BM_SHIFT] & m) != 0;
    bm[p >> PMM_BM_SHIFT] |= m;
    return had;
}

void pmm__bm_seal(const struct pmm_bank *b, uint64_t *bm)
{
    for (uint64_t w = 0; w < pmm_bm_words(b->g.data_pages); w++)
        bm[w] = pmm_bm_make((uint32_t)bm[w]);
}
