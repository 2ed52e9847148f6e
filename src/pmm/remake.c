/* SPDX-License-Identifier: MIT */
/*
 * remake.c - replacing a bank with an empty one of the same tunables (the
 * cold restart of a site's RAM bank).
 *
 * The new bank is made aside by create.c and renamed over the old one:
 * a process killed at any point leaves the old bank or the new one, whole,
 * never no bank.  No metadata is written here, and a process that still
 * has the old bank open keeps the old, now nameless, file.
 * Only a regular file of the site's owner is replaced, named inside its
 * directory held open (replaceable, below); root remaking a user's bank
 * acts with that user's rights (os.h: pmm__os_as_owner), so the new bank
 * is the user's and nothing is replaced that the user could not replace.
 * A bank that does not open still gives its tunables when its header is
 * sound that far: read with the magic first, as every version of the format
 * keeps it.
 *
 * The new bank has the old one's pages: a bank of 4 KiB pages is made
 * again of 4 KiB pages (PMM_HUGE_OFF), so that a site made --no-huge on a
 * file system that gives huge pages stays so; a huge-page bank, or one
 * whose header says nothing of it, follows the file system
 * (PMM_HUGE_AUTO).  The geometry cannot tell --no-huge from a file system
 * that gave no huge pages when the bank was made: a site that should move
 * to huge pages after its tmpfs is remounted is made again (destroy,
 * create), not remade.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <hotrestart/pmm.h>

#include "create.h"
#include "layout.h"
#include "names.h"
#include "os/os.h"
#include "site.h"

/* The tunables in the header of the bank file name in dir, when its
 * magic, page size and figures are in range, whatever else is damaged. */
static int header_tunables(int dir, const char *name, uint64_t *size,
                           uint64_t *max, int *huge)
{
    struct pmm_geom g;
    int fd, r = pmm__os_openat(dir, name, 1, 0, &fd);
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
    if (g.version == PMM_VERSION && !(g.flags & PMM_GF_HUGE))
        *huge = PMM_HUGE_OFF;
    return K_OK;
}

/* The tunables of the bank of medium: from the bank itself when it opens,
 * else (K_EBANK) from its header, else the defaults; *huge PMM_HUGE_OFF
 * when they say it has 4 KiB pages, else left as it is. */
static int old_tunables(const char *site, const char *medium, int dir,
                        const char *name, pmm_remake_info *info, int *huge)
{
    pmm_bank *b;
    pmm_bank_info st;
    int r = pmm_bank_open(&b, site, medium, PMM_OPEN_RDONLY);
    if (r == K_EBANK) {
        info->from = PMM_REMAKE_HEADER;
        if (header_tunables(dir, name, &info->size, &info->max_blocks,
                            huge) == K_OK)
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
    if (r == 0 && !st.huge_size)
        *huge = PMM_HUGE_OFF;
    info->from = PMM_REMAKE_KEPT;
    info->size = st.size;
    info->max_blocks = st.max_blocks;
    return r;
}

/* The bank file name in dir may be replaced for the site's owner: a
 * regular file of that owner's (site.conf is the owner's to write, and a
 * DISK bank path there may name any file the owner may write, another
 * site's bank among them). */
static int replaceable(int dir, const char *name, uid_t owner)
{
    uid_t uid;
    mode_t mode;
    int r = pmm__os_statat(dir, name, &uid, &mode, NULL, NULL);
    if (r < 0)
        return r;
    return S_ISREG(mode) && uid == owner ? K_OK : K_EPRIV;
}

/* pmm_bank_remake() of the bank of medium of the site owned by owner,
 * with the rights the caller has now (the owner's: pmm_bank_remake). */
static int remake(const char *site, const char *medium, uid_t owner,
                  pmm_remake_info *info)
{
    char path[4096], name[256];
    int r, dir;
    int kind = pmm__medium_kind(medium);
    if ((r = pmm_bank_path(path, sizeof path, site, medium)) < 0)
        return r;
    /* every file named inside the bank's directory, held open: the file
     * looked at is the file replaced */
    if ((r = dir = pmm__os_open_parent(path, name, sizeof name)) < 0)
        goto gone;
    struct pmm__bank_want w = {kind, 0, 0, kind == PMM_KIND_RAM
                               ? PMM_HUGE_AUTO : PMM_HUGE_OFF, NULL};
    if ((r = replaceable(dir, name, owner)) == K_OK &&
        (r = old_tunables(site, medium, dir, name, info, &w.huge)) == K_OK) {
        w.size = info->size;
        w.max_blocks = info->max_blocks;
        r = pmm__bank_replace_at(dir, name, &w);
    }
    pmm__os_close(dir);
gone: /* a DISK bank site.conf names stays missing (pmm_bank_open) */
    return r == -ENOENT && kind != PMM_KIND_DISK ? K_EUNKNOWN : r;
}

int pmm_bank_remake(const char *site, const char *medium, pmm_remake_info *out)
{
    char sdir[4096];
    pmm_remake_info info = {0};
    struct pmm__os_as as;
    uid_t owner;
    int r, dfd;
    if (!medium)
        return K_EFAULT;
    if ((r = pmm_site_path(sdir, sizeof sdir, site)) < 0 ||
        (r = dfd = pmm__site_hold(sdir, 0, &owner)) < 0)
        return r;
    /* root remaking a user's bank does it with the user's rights: what
     * the user's site.conf and links name is what the user could replace */
    if ((r = pmm__os_as_owner(dfd, &as)) == 0) {
        r = remake(site, medium, owner, &info);
        pmm__os_as_self(&as);
    }
    pmm__os_close(dfd);
    if (r == K_OK && out)
        *out = info;
    return r;
}
