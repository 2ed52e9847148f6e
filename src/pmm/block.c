/* SPDX-License-Identifier: MIT */
/*
 * block.c - reading blocks: look one up, describe it, stat, iterate, sync.
 *
 * A lookup runs lock-free first (index.c); when writers keep moving, or one
 * died mid-update, it takes the lock, which recovers, and looks there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "hash.h"
#include "index.h"
#include "lock.h"
#include "map.h"
#include "names.h"
#include "os/os.h"
#include "update.h"

void pmm__fill_block(const struct pmm_bank *b, const struct pmm_entry *e,
                     pmm_block *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->medium, sizeof out->medium, "%s", b->medium);
    memcpy(out->name, e->name, sizeof out->name);
    memcpy(out->key, e->key, e->keylen);
    out->keylen = e->keylen;
    out->size = e->npages * b->g.page_size;
    out->group = (e->flags & PMM_EF_GROUP) ? e->group : -1;
    out->flags = ((e->flags & PMM_EF_SYSTEM) ? PMM_B_SYSTEM : 0) |
                 ((e->flags & PMM_EF_GROUP) ? PMM_B_GROUP : 0);
    out->addr = (void *)(uintptr_t)(b->g.base_addr + e->page * b->g.page_size);
    out->created_ns = e->created_ns;
    out->creator_pid = e->creator_pid;
}

/* Still the same live entry?  (Another process may have freed it.) */
int pmm__same_entry(const struct pmm_bank *b, uint32_t idx, uint32_t gen)
{
    const struct pmm_entry *e = pmm__entry(b, idx);
    return __atomic_load_n(&e->state, __ATOMIC_ACQUIRE) == PMM_E_LIVE &&
           __atomic_load_n(&e->gen, __ATOMIC_RELAXED) == gen;
}

struct fast {
    const struct pmm_bank *b;
    const char *name;
    uint32_t *idx;
    struct pmm_entry *copy;
    uint64_t *seq;
};

static int fast(void *arg)
{
    struct fast *f = arg;
    return pmm__find_fast(f->b, f->name, f->idx, f->copy, f->seq);
}

int pmm__lookup(struct pmm_bank *b, const char *name, uint32_t *idx,
                struct pmm_entry *copy, uint64_t *seq)
{
    /* a bank file truncated under us: K_EBANK, not death by SIGBUS */
    struct fast f = {b, name, idx, copy, seq};
    int r = pmm__os_guarded(b->meta, b->meta_len, fast, &f);
    if (r == -EFAULT)
        return K_EBANK;
    if (r != -EAGAIN)
        return r;
    if ((r = pmm__lock(b)) < 0)
        return r;
    r = pmm__find_locked(b, name, idx, NULL);
    if (r == K_OK)
        memcpy(copy, pmm__entry(b, *idx), sizeof *copy);
    *seq = pmm__live(b)->seq;
    pmm__unlock(b);
    return r;
}

int pmm__stat_file(pmm_bank *b, const char *name, pmm_block *out,
                   uint64_t *off)
{
    struct pmm_entry e;
    uint32_t idx;
    uint64_t seq;
    if (!b || !name || !out)
        return K_EFAULT;
    if (!pmm__name_ok(name, PMM_NAME_MAX))
        return K_EINVAL;
    int r = pmm__lookup(b, name, &idx, &e, &seq);
    if (r < 0)
        return r;
    pmm__fill_block(b, &e, out);
    if (off)
        *off = b->g.data_off + e.fpage * b->g.page_size;
    return K_OK;
}

int pmm_stat(pmm_bank *b, const char *name, pmm_block *out)
{
    return pmm__stat_file(b, name, out, NULL);
}

int pmm_iter(pmm_bank *b, int (*fn)(const pmm_block *, void *), void *arg)
{
    if (!b || !fn)
        return K_EFAULT;
    int r = pmm__lock(b);
    if (r < 0)
        return r;
    struct pmm_live l;
    pmm__live_now(b, &l);
    uint32_t high = l.high, n = 0;
    pmm_block *all = NULL;
    for (uint32_t i = 0; i < high && i < b->g.max_blocks; i++)
        n += pmm__entry(b, i)->state == PMM_E_LIVE;
    if (n && !(all = calloc(n, sizeof *all))) {
        pmm__unlock(b);
        return -ENOMEM;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < high && i < b->g.max_blocks && k < n; i++) {
        const struct pmm_entry *e = pmm__entry(b, i);
        if (e->state != PMM_E_LIVE)
            continue;
        if (!pmm__entry_valid(b, e)) {
            r = K_EBANK;
            break;
        }
        pmm__fill_block(b, e, &all[k++]);
    }
    pmm__unlock(b);
    for (uint32_t i = 0; i < k && r == 0; i++)
        r = fn(&all[i], arg);
    free(all);
    return r;
}

int pmm_sync(pmm_bank *b, const char *name)
{
    if (!b || !name)
        return K_EFAULT;
    if (!pmm__name_ok(name, PMM_NAME_MAX))
        return K_EINVAL;
    pmm__mu_lock(b);
    struct pmm_map *m = pmm__map_find(b, name, pmm__name_hash(name));
    int r;
    if (m && pmm__same_entry(b, m->idx, m->gen)) {
        r = pmm__os_msync(m->addr, m->len);
        pmm__mu_unlock(b);
        return r;
    }
    pmm__mu_unlock(b);
    pmm_block blk;
    if ((r = pmm_stat(b, name, &blk)) < 0)
        return r;
    return b->rdonly ? K_OK : pmm__os_sync(b->fd);
}
