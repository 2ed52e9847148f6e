/* SPDX-License-Identifier: MIT */
/*
 * chorus.c - the ChorusOS names, over the native interface.
 *
 * Each medium's bank of the process's site ($HR_SITE or the default) is
 * opened on first use and kept for the life of the process; the RAM bank is
 * made with default tunables if the site has none.  System errors map to
 * the closest K_E... code, since ChorusOS callers expect nothing else.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <hotrestart/pmm.h>

#include "chorus.h"
#include "layout.h"
#include "names.h"

#include <pmm/chPmm.h>

static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static pmm_bank *opened[3]; /* by PMM_KIND_ */

static int chorus_code(int r)
{
    if (r >= 0 || r <= -1000)
        return r;
    switch (-r) {
    case ENOMEM: case ENOSPC: case EMFILE: case ENFILE: case EFBIG:
        return K_ENOMEM;
    case EACCES: case EPERM:
        return K_EPRIV;
    case ENOENT:
        return K_EUNKNOWN;
    default:
        return K_EINVAL;
    }
}

static int bank_for(const char *medium, size_t max, pmm_bank **b)
{
    if (!memchr(medium, 0, max) || !medium[0])
        return K_EINVAL;
    int kind = pmm__medium_kind(medium), r = K_OK;
    if (!kind)
        return K_EUNKNOWN;
    pthread_mutex_lock(&open_mu);
    if (!opened[kind])
        r = pmm_bank_open(&opened[kind], NULL, medium,
                          kind == PMM_KIND_RAM ? PMM_OPEN_CREATE : 0);
    *b = opened[kind];
    pthread_mutex_unlock(&open_mu);
    if (r == -ENOENT && kind == PMM_KIND_DISK)
        return K_EBANK; /* named by site.conf, but missing: not "no such medium" */
    return chorus_code(r);
}

int pmm__chorus_open_ram(void)
{
    pmm_bank *b;
    return bank_for("RAM", sizeof "RAM", &b);
}

KnError pmmAllocate(VmAddr *addr, PmmName *blockName, size_t memSize,
                    const char *delKey, size_t delKeySize)
{
    pmm_bank *b;
    void *p;
    if (!addr || !blockName)
        return K_EFAULT;
    if (!memchr(blockName->name, 0, sizeof blockName->name) ||
        !blockName->name[0] || memSize == 0 || delKeySize > sizeof(PmmDelKey) ||
        (!delKey && delKeySize > 0))
        return K_EINVAL;
    int r = bank_for(blockName->medium, sizeof blockName->medium, &b);
    if (r < 0)
        return r;
    r = pmm_alloc(b, blockName->name, memSize, delKey, delKeySize, 0, &p, NULL);
    if (r == K_OK)
        *addr = (VmAddr)p;
    return chorus_code(r);
}

int pmmFree(PmmName *blockName)
{
    pmm_bank *b;
    if (!blockName)
        return K_EFAULT;
    if (!memchr(blockName->name, 0, sizeof blockName->name) ||
        !blockName->name[0])
        return K_EINVAL;
    int r = bank_for(blockName->medium, sizeof blockName->medium, &b);
    return r < 0 ? r : chorus_code(pmm_free(b, blockName->name));
}

/* Every medium of the site: a key may tag blocks on RAM and on DISK. */
int pmmFreeAll(const char *delKey, size_t delKeySize)
{
    static const char *const media[] = {"RAM", "DISK"};
    size_t total = 0;
    if (!delKey || delKeySize == 0 || delKeySize > sizeof(PmmDelKey))
        return K_EINVAL;
    if (pmm__is_sys_key(delKey, delKeySize) ||
        pmm__is_group_key(delKey, delKeySize))
        return K_EPRIV;
    for (int i = 0; i < 2; i++) {
        pmm_bank *b;
        size_t n = 0;
        int r = bank_for(media[i], sizeof "DISK", &b);
        if (r == K_EUNKNOWN && i > 0)
            continue; /* the site has no DISK medium */
        if (r < 0)
            return r;
        r = pmm_free_key(b, delKey, delKeySize, &n);
        if (r < 0 && r != K_EUNKNOWN)
            return chorus_code(r);
        total += n;
    }
    return total ? K_OK : K_EUNKNOWN;
}
