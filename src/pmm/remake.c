/* SPDX-License-Identifier: MIT */
/*
 * remake.c - replacing a bank with an empty one of the same tunables (the
 * cold restart of a site's RAM bank).
 *
 * The new bank is made aside by create.c and renamed over the old one:
 * a process killed at any point leaves the old bank or the new one, whole,
 * never no bank.  No metadata is written here, and a process that still
 * has the old bank open keeps the old, now nameless, file.
 * A bank that does not open still gives its tunables when its header is
 * sound that far: read with the magic first, as every version of the format
 * keeps it.
 */
#define _GNU_SOURCE
#include <string.h>

#include <hotrestart/pmm.h>

#include "create.h"
#include "layout.h"
#include "names.h"
#include "os/os.h"

/* The tunables in the header of the bank file at path, when its magic,
 * page size and figures are in range, whatever else is damaged. */
static int header_tunables(const char *path, uint64_t *size, uint64_t *max)
{
    struct pmm_geom g;
    int fd, r = pmm__os_open(path, 1, 0, &fd);
    if (r < 0)
        return r;
    r = pmm__os_pread(fd, &g, sizeof g, 0);
    pmm__os_close(fd);
    if (r < 0)
        return r;
    if (g.magic != PMM_MAGIC || g.page_size != pmm__os_page_size() ||
        g.data_pages < 2 || g.data_pages > PMM_MAX_BANK_SIZE / g.page_size ||
        g.max_blocks == 0 || g.max_blocks > PMM_MAX_BLOCKS_LIMIT)
        return K_EBANK;
    *size = g.data_pages * g.page_size;
    *max = g.max_blocks;
    return K_OK;
}

/* The tunables of the bank of medium: from the bank itself when it opens,
 * else (K_EBANK) from its header, else the defaults. */
static int old_tunables(const char *site, const char *medium, const char *path,
                        pmm_remake_info *info)
{
    pmm_bank *b;
    pmm_bank_info st;
    int r = pmm_bank_open(&b, site, medium, PMM_OPEN_RDONLY);
    if (r == K_EBANK) {
        info->from = PMM_REMAKE_HEADER;
        if (header_tunables(path, &info->size, &info->max_blocks) == K_OK)
            return K_OK;
        info->from = PMM_REMAKE_DEFAULTS;
        info->size = PMM_DEFAULT_BANK_SIZE;
        info->max_blocks = PMM_DEFAULT_MAX_BLOCKS;
        return K_OK;
    }
    if (r < 0)
        return r;
    r = pmm_bank_stat(b, &st);
    pmm_bank_close(b);
    info->from = PMM_REMAKE_KEPT;
    info->size = st.size;
    info->max_blocks = st.max_blocks;
    return r;
}

int pmm_bank_remake(const char *site, const char *medium, pmm_remake_info *out)
{
    char path[4096];
    pmm_remake_info info = {0};
    int r;
    if (!medium)
        return K_EFAULT;
    if ((r = pmm_bank_path(path, sizeof path, site, medium)) < 0 ||
        (r = old_tunables(site, medium, path, &info)) < 0)
        return r;
    r = pmm__bank_replace_file(path, pmm__medium_kind(medium), info.size,
                               info.max_blocks,
                               pmm__medium_kind(medium) == PMM_KIND_RAM
                                   ? PMM_HUGE_AUTO : PMM_HUGE_OFF);
    if (r == K_OK && out)
        *out = info;
    return r;
}
