/* SPDX-License-Identifier: MIT */
/*
 * alloc.c - allocate or retrieve a block: the native interface's main call.
 *
 * Retrieve order, cheapest first: this process's table of mapped blocks (no
 * system call); a lock-free lookup and one mmap; only a new block takes the
 * bank's lock, and looks again under it, so racing allocators of one name
 * all end with the same block.  System blocks ("__SYS" keys) are reachable
 * only through pmm__alloc_sys(), which the controller uses.  A standby
 * instance not yet promoted gets K_ESTANDBY (ident.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include <pmm/chPmm.h>

#include "alloc.h"
#include "block.h"
#include "hash.h"
#include "ident.h"
#include "index.h"
#include "lock.h"
#include "map.h"
#include "names.h"
#include "os/os.h"
#include "update.h"

#define PMM_ALLOC_FLAGS (PMM_RETRIEVE | PMM_EXCL | PMM_NOMAP | PMM_GROUP | \
                         PMM_POPULATE | PMM_POPULATE_BG)
#define PMM_POPULATES (PMM_POPULATE | PMM_POPULATE_BG)

/* What a request asks for, checked once. */
struct req {
    const char *name;
    uint64_t hash;
    uint64_t npages;
    const uint8_t *key;
    size_t keylen;
    unsigned eflags;
    int group;
    unsigned flags;
    int sys;
};

/* May this request take the existing entry e? */
static int match(const struct pmm_bank *b, const struct req *q,
                 const struct pmm_entry *e)
{
    if ((e->flags & PMM_EF_SYSTEM) && !q->sys)
        return K_EPRIV;
    if (q->flags & PMM_EXCL)
        return K_EEXIST;
    if (e->keylen != q->keylen || memcmp(e->key, q->key, q->keylen) != 0 ||
        (e->flags & PMM_EF_GROUP) != (q->eflags & PMM_EF_GROUP) ||
        ((e->flags & PMM_EF_GROUP) && e->group != q->group))
        return K_EEXIST;
    if (q->npages > e->npages)
        return K_ESIZE;
    (void)b;
    return K_OK;
}

static int finish(struct pmm_bank *b, const struct req *q, uint32_t idx,
                  const struct pmm_entry *e, int is_new, void **addr,
                  pmm_block *info)
{
    void *p = (void *)(uintptr_t)(b->g.base_addr + e->page * b->g.page_size);
    int elsewhere = 0, r;
    if (!(q->flags & PMM_NOMAP)) {
        if ((r = pmm__map_block(b, e, &p, &elsewhere)) < 0)
            return r == -ENOMEM || r == -EMFILE ? K_ENOMEM : r;
        r = pmm__map_add(b, q->name, q->hash, idx, e->gen, p,
                         e->npages * b->g.page_size, elsewhere);
        if (r < 0) {
            pmm__os_unmap_block(p, e->npages * b->g.page_size);
            return K_ENOMEM;
        }
    }
    if (addr)
        *addr = p;
    if (info) {
        pmm__fill_block(b, e, info);
        info->addr = p;
        info->flags |= (is_new ? PMM_B_NEW : 0) |
                       ((q->flags & PMM_NOMAP) ? 0 : PMM_B_MAPPED) |
                       (elsewhere ? PMM_B_ELSEWHERE : 0);
    }
    return K_OK;
}

static int from_table(struct pmm_bank *b, const struct req *q, void **addr,
                      pmm_block *info)
{
    struct pmm_map *m = pmm__map_find(b, q->name, q->hash);
    if (!m)
        return 1;
    if (!pmm__same_entry(b, m->idx, m->gen)) {
        pmm__map_drop(m);
        return 1;
    }
    const struct pmm_entry *e = pmm__entry(b, m->idx);
    int r = match(b, q, e);
    if (r < 0)
        return r;
    if (addr)
        *addr = m->addr;
    if (info) {
        pmm__fill_block(b, e, info);
        info->addr = m->addr;
        info->flags |= PMM_B_MAPPED | (m->elsewhere ? PMM_B_ELSEWHERE : 0);
    }
    return K_OK;
}

static int alloc_locked(struct pmm_bank *b, const struct req *q, void **addr,
                        pmm_block *info)
{
    uint32_t idx;
    int r = pmm__lock(b); /* takes b->mu again: released by the caller first */
    if (r < 0)
        return r;
    r = pmm__find_locked(b, q->name, &idx, NULL);
    int is_new = r == K_EUNKNOWN;
    if (is_new) {
        if (q->flags & PMM_RETRIEVE) {
            pmm__unlock(b);
            return K_EUNKNOWN;
        }
        r = pmm__do_alloc(b, q->name, q->npages, q->key, q->keylen,
                          q->eflags, q->group, &idx);
    } else if (r == K_OK) {
        r = match(b, q, pmm__entry(b, idx));
    }
    if (r < 0) {
        pmm__unlock(b);
        return r;
    }
    struct pmm_entry e = *pmm__entry(b, idx);
    if (is_new) {
        /* mapped under the lock: a new block that cannot be mapped (no
         * address space left) is freed again, so a failed call leaves
         * nothing allocated.  It heads its chain: no predecessor. */
        r = finish(b, q, idx, &e, 1, addr, info);
        if (r < 0 && pmm__do_free(b, idx, PMM_NONE) < 0)
            r = K_EBANK;
        pmm__unlock(b);
        return r;
    }
    if (!b->rdonly)
        pmm__os_unlock(b->fd);
    /* still holding b->mu: the table is ours */
    r = finish(b, q, idx, &e, 0, addr, info);
    pmm__mu_unlock(b);
    return r;
}

static int do_alloc(struct pmm_bank *b, struct req *q, void **addr,
                    pmm_block *info)
{
    struct pmm_entry e;
    uint32_t idx;
    uint64_t seq;
    int r;

    if (b->rdonly)
        return K_EPRIV;
    pmm__mu_lock(b);
    if (!(q->flags & PMM_NOMAP)) {
        r = from_table(b, q, addr, info);
        if (r <= 0) {
            pmm__mu_unlock(b);
            return r;
        }
    }
    for (int tries = 0; tries < 8; tries++) {
        r = pmm__lookup(b, q->name, &idx, &e, &seq);
        if (r == K_EUNKNOWN)
            break;
        if (r == K_OK)
            r = match(b, q, &e);
        if (r < 0) {
            pmm__mu_unlock(b);
            return r;
        }
        r = finish(b, q, idx, &e, 0, addr, info);
        if (r < 0 || (q->flags & PMM_NOMAP) || pmm__same_entry(b, idx, e.gen)) {
            pmm__mu_unlock(b);
            return r;
        }
        /* freed under our feet between lookup and mmap: undo, look again */
        struct pmm_map *m = pmm__map_find(b, q->name, q->hash);
        if (m)
            pmm__map_drop(m);
    }
    pmm__mu_unlock(b);
    return alloc_locked(b, q, addr, info);
}

/* PMM_POPULATE, PMM_POPULATE_BG: the whole block as mapped (a retrieve
 * may ask fewer bytes than it has), faulted in here, after the bank's
 * lock is let go.  A hint: where it fails (memory short) the pages fault
 * in at first touch, as without it. */
static void populate(unsigned flags, const pmm_block *blk)
{
    if (flags & PMM_POPULATE)
        pmm__os_populate(blk->addr, blk->size);
    else if (flags & PMM_POPULATE_BG)
        pmm__os_populate_bg(blk->addr, blk->size);
}

static int make_req(struct req *q, const char *name, size_t size,
                    const void *key, size_t keylen, unsigned flags, int sys,
                    int group)
{
    memset(q, 0, sizeof *q);
    if (!name)
        return K_EFAULT;
    if (!pmm__name_ok(name, PMM_NAME_MAX) || size == 0 ||
        keylen > PMM_KEY_MAX || (!key && keylen > 0) ||
        (flags & ~PMM_ALLOC_FLAGS) ||
        (flags & (PMM_RETRIEVE | PMM_EXCL)) == (PMM_RETRIEVE | PMM_EXCL) ||
        (flags & PMM_POPULATES) == PMM_POPULATES ||
        ((flags & PMM_POPULATES) && (flags & PMM_NOMAP)))
        return K_EINVAL;
    /* the system's names (the registry, images, arguments) are its own
     * whatever the key: a user block taking one first would keep the
     * controller from starting, and the site from being destroyed */
    if (!sys && pmm__is_sys_key(name, strlen(name)))
        return K_EPRIV;
    size_t pg = pmm__os_page_size();
    if (size > PMM_MAX_BANK_SIZE)
        return K_ENOMEM;
    q->name = name;
    q->hash = pmm__name_hash(name);
    q->npages = (size + pg - 1) / pg;
    q->flags = flags;
    q->sys = sys;
    q->group = -1;
    if (flags & PMM_GROUP) {
        if (sys)
            q->group = group;
        else if (pmm__group_from_env(&q->group) < 0)
            return K_EINVAL;
        q->key = (const uint8_t *)HR_GROUP_KEY;
        q->keylen = HR_GROUP_KEYSIZE;
        q->eflags = PMM_EF_GROUP;
        return K_OK;
    }
    q->key = key ? key : (const uint8_t *)"";
    q->keylen = keylen;
    if (pmm__is_sys_key(key, keylen)) {
        if (!sys)
            return K_EPRIV;
        q->eflags = PMM_EF_SYSTEM;
    }
    if (pmm__is_group_key(key, keylen)) /* the key spelled out: same thing */
        return make_req(q, name, size, NULL, 0, flags | PMM_GROUP, sys, group);
    return K_OK;
}

int pmm_alloc(pmm_bank *b, const char *name, size_t size, const void *key,
              size_t keylen, unsigned flags, void **addr, pmm_block *info)
{
    struct req q;
    pmm_block own;
    if (pmm__ident_standby())
        return K_ESTANDBY; /* not before hr_standby_wait() promotes it */
    if (!b || (!addr && !(flags & PMM_NOMAP)))
        return K_EFAULT;
    if (!info && (flags & PMM_POPULATES))
        info = &own; /* the block's size, for populate */
    int r = make_req(&q, name, size, key, keylen, flags, 0, -1);
    if (r == 0 && (r = do_alloc(b, &q, addr, info)) == 0 &&
        (flags & PMM_POPULATES)) /* mapped: info->addr is there */
        populate(flags, info);
    return r;
}

int pmm__alloc_sys(pmm_bank *b, const char *name, size_t size, const void *key,
                   size_t keylen, unsigned flags, int group, void **addr,
                   pmm_block *info)
{
    struct req q;
    if (!b || (!addr && !(flags & PMM_NOMAP)))
        return K_EFAULT;
    int r = make_req(&q, name, size, key, keylen, flags, 1, group);
    return r < 0 ? r : do_alloc(b, &q, addr, info);
}
