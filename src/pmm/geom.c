/* SPDX-License-Identifier: MIT */
/*
 * geom.c - a bank's geometry, computed and checked.
 *
 * Everything here is a pure function of a struct pmm_geom: the same
 * arithmetic makes a new bank's offsets and checks an old bank's, so a
 * header whose offsets do not follow from its tunables is refused, not
 * followed.
 */
#define _GNU_SOURCE
#include <hotrestart/errors.h>

#include "geom.h"
#include "hash.h"
#include "os/os.h"

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

static uint64_t pow2_at_least(uint64_t v)
{
    uint64_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

uint64_t pmm__geom_huge(const struct pmm_geom *g)
{
    return g->flags & PMM_GF_HUGE ? 1ull << g->huge_shift : 0;
}

void pmm__geom_layout(struct pmm_geom *g)
{
    uint64_t pg = g->page_size;
    g->nbuckets = pow2_at_least(g->max_blocks);
    g->entries_off = pg;
    g->buckets_off =
        align_up(g->entries_off + g->max_blocks * sizeof(struct pmm_entry), pg);
    g->bitmap_off = align_up(g->buckets_off + g->nbuckets * 4, pg);
    g->data_off = align_up(g->bitmap_off + pmm_bm_words(g->data_pages) * 8,
                           g->flags & PMM_GF_HUGE ? pmm__geom_huge(g) : pg);
    g->file_size = g->data_off; /* block contents come later (update.c) */
}

static const char *fields_wrong(const struct pmm_geom *g)
{
    if (g->magic != PMM_MAGIC)
        return "not a bank file (bad magic)";
    if (g->version < PMM_VERSION)
        return "bank made by an older version of the format (before format 4: "
               "other checksums; before 3, freed blocks' file pages were "
               "reused); a RAM bank is replaced by `hr site cold`, a DISK "
               "bank by a new one";
    if (g->version != PMM_VERSION)
        return "bank made by a newer version of the format";
    if (g->layout_sig != PMM_LAYOUT_SIG)
        return "bank made with another layout (layout signature differs)";
    if (pmm__geom_sum(g) != g->sum)
        return "header checksum mismatch";
    if (g->page_size != pmm__os_page_size())
        return "bank made with another page size";
    if (g->kind != PMM_KIND_RAM && g->kind != PMM_KIND_DISK)
        return "unknown bank kind";
    if (g->flags & ~PMM_GF_ALL)
        return "bank made with a geometry flag this version does not know";
    if ((g->flags & PMM_GF_HUGE) ? g->huge_shift != PMM_HUGE_SHIFT ||
                                       (1ull << g->huge_shift) <= g->page_size
                                 : g->huge_shift != 0)
        return "bank made for another huge page size";
    if (g->base_addr % (pmm__geom_huge(g) ? pmm__geom_huge(g) : g->page_size))
        return "fixed address not aligned to its pages";
    if (g->max_blocks == 0 || g->max_blocks > PMM_MAX_BLOCKS_LIMIT)
        return "max_blocks out of range";
    if (g->data_pages < 2 || g->data_pages > PMM_MAX_BANK_SIZE / g->page_size)
        return "bank size out of range";
    /* data_pages * page_size <= PMM_MAX_BANK_SIZE (above); subtract, never
     * add, so that a huge base_addr cannot wrap past zero into range */
    if (g->base_addr % g->page_size || g->base_addr < PMM_USER_LOW ||
        g->base_addr > PMM_USER_TOP ||
        g->data_pages * g->page_size > PMM_USER_TOP - g->base_addr)
        return "fixed address out of range";
    return NULL;
}

int pmm__geom_check(const struct pmm_geom *g, uint64_t file_size,
                    const char **why)
{
    struct pmm_geom want;
    const char *w = fields_wrong(g);
    if (!w) {
        want = *g;
        pmm__geom_layout(&want);
        if (want.nbuckets != g->nbuckets || want.entries_off != g->entries_off ||
            want.buckets_off != g->buckets_off ||
            want.bitmap_off != g->bitmap_off || want.data_off != g->data_off ||
            want.file_size != g->file_size)
            w = "header offsets are inconsistent";
        else if (file_size < g->file_size)
            w = "file is shorter than its metadata (truncated)";
    }
    if (why)
        *why = w;
    return w ? K_EBANK : K_OK;
}
