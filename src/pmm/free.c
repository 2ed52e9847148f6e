/* SPDX-License-Identifier: MIT */
/*
 * free.c - freeing blocks: by name, by deletion key, by restart group.
 *
 * Each block is freed in its own update (update.c) under the bank's lock,
 * and unmapped from this process if it was mapped here.  System blocks are
 * freed only through pmm__free_sys(), group blocks through
 * pmm__free_group(): the controller's calls.
 */
#define _GNU_SOURCE
#include <string.h>

#include "crash.h"
#include "free.h"
#include "hash.h"
#include "ident.h"
#include "index.h"
#include "lock.h"
#include "map.h"
#include "names.h"
#include "update.h"

/* Free entry idx (b locked), and unmap it here if mapped. */
static int free_one(struct pmm_bank *b, uint32_t idx, uint32_t pred)
{
    char name[PMM_NAME_MAX];
    memcpy(name, pmm__entry(b, idx)->name, sizeof name);
    int r = pmm__do_free(b, idx, pred);
    struct pmm_map *m = pmm__map_find(b, name, pmm__name_hash(name));
    if (m)
        pmm__map_drop(m);
    return r;
}

static int free_name(pmm_bank *b, const char *name, int sys)
{
    uint32_t idx, pred;
    if (!b || !name)
        return K_EFAULT;
    if (!pmm__name_ok(name, PMM_NAME_MAX))
        return K_EINVAL;
    if (b->rdonly)
        return K_EPRIV;
    int r = pmm__lock(b);
    if (r < 0)
        return r;
    r = pmm__find_locked(b, name, &idx, &pred);
    if (r == K_OK && (pmm__entry(b, idx)->flags & PMM_EF_SYSTEM) && !sys)
        r = K_EPRIV;
    if (r == K_OK)
        r = free_one(b, idx, pred);
    pmm__unlock(b);
    return r;
}

int pmm_free(pmm_bank *b, const char *name)
{
    if (pmm__ident_standby())
        return K_ESTANDBY; /* not before hr_standby_wait() promotes it */
    return free_name(b, name, 0);
}

int pmm__free_sys(pmm_bank *b, const char *name)
{
    return free_name(b, name, 1);
}

/* Free every live entry that `want` accepts, each in its own update. */
static int free_where(pmm_bank *b, int (*want)(const struct pmm_entry *,
                                                const void *),
                      const void *arg, size_t *nfreed)
{
    size_t n = 0;
    int r = pmm__lock(b);
    if (r < 0)
        return r;
    struct pmm_live l;
    pmm__live_now(b, &l);
    uint32_t high = l.high;
    for (uint32_t i = 0; i < high && i < b->g.max_blocks && r == 0; i++) {
        const struct pmm_entry *e = pmm__entry(b, i);
        if (e->state != PMM_E_LIVE || !want(e, arg))
            continue;
        if (!pmm__entry_valid(b, e)) {
            r = K_EBANK;
            break;
        }
        char name[PMM_NAME_MAX];
        uint32_t idx, pred;
        memcpy(name, e->name, sizeof name);
        r = pmm__find_locked(b, name, &idx, &pred);
        if (r == 0 && idx != i)
            r = K_EBANK;
        if (r == 0)
            r = free_one(b, idx, pred);
        if (r == 0 && ++n == 1)
            pmm__crash("freekey.first");
    }
    pmm__unlock(b);
    if (nfreed)
        *nfreed = n;
    if (r < 0)
        return r;
    return n ? K_OK : K_EUNKNOWN;
}

struct keyarg {
    const void *key;
    size_t keylen;
};

static int want_key(const struct pmm_entry *e, const void *arg)
{
    const struct keyarg *k = arg;
    return !(e->flags & (PMM_EF_SYSTEM | PMM_EF_GROUP)) &&
           e->keylen == k->keylen && memcmp(e->key, k->key, k->keylen) == 0;
}

int pmm_free_key(pmm_bank *b, const void *key, size_t keylen, size_t *nfreed)
{
    struct keyarg k = {key, keylen};
    if (nfreed)
        *nfreed = 0;
    if (pmm__ident_standby())
        return K_ESTANDBY;
    if (!b)
        return K_EFAULT;
    if (!key || keylen == 0 || keylen > PMM_KEY_MAX)
        return K_EINVAL;
    if (pmm__is_sys_key(key, keylen) || pmm__is_group_key(key, keylen))
        return K_EPRIV;
    if (b->rdonly)
        return K_EPRIV;
    return free_where(b, want_key, &k, nfreed);
}

static int want_group(const struct pmm_entry *e, const void *arg)
{
    return (e->flags & PMM_EF_GROUP) && e->group == *(const int *)arg;
}

int pmm__free_group(pmm_bank *b, int group, size_t *nfreed)
{
    if (!b)
        return K_EFAULT;
    int r = free_where(b, want_group, &group, nfreed);
    return r == K_EUNKNOWN ? K_OK : r;
}
