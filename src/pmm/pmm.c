/*
 * pmm.c - allocate, retrieve, free: the native interface's operations.
 *
 * Retrieve order, cheapest first: this process's table of mapped blocks (no
 * system call); a lock-free lookup and one mmap; only a new block takes the
 * bank's lock, and looks again under it, so racing allocators of one name
 * all end with the same block.  System blocks ("__SYS" keys) are reachable
 * only through the pmm__*_sys calls that the controller uses.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os/os.h"
#include "pmm_int.h"

#include <pmm/chPmm.h>

#define PMM_ALLOC_FLAGS (PMM_RETRIEVE | PMM_EXCL | PMM_NOMAP | PMM_GROUP)

int pmm__name_ok(const char *name, size_t max)
{
    return name[0] != 0 && memchr(name, 0, max) != NULL;
}

int pmm__is_sys_key(const void *key, size_t keylen)
{
    return keylen >= 5 && memcmp(key, "__SYS", 5) == 0;
}

int pmm__is_group_key(const void *key, size_t keylen)
{
    return keylen == HR_GROUP_KEYSIZE && memcmp(key, HR_GROUP_KEY, keylen) == 0;
}

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
            return r == -12 || r == -24 ? K_ENOMEM : r; /* ENOMEM, EMFILE */
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

/* Still the same live entry?  (Another process may have freed it.) */
static int same_entry(const struct pmm_bank *b, uint32_t idx, uint32_t gen)
{
    const struct pmm_entry *e = pmm__entry(b, idx);
    return __atomic_load_n(&e->state, __ATOMIC_ACQUIRE) == PMM_E_LIVE &&
           __atomic_load_n(&e->gen, __ATOMIC_RELAXED) == gen;
}

static int from_table(struct pmm_bank *b, const struct req *q, void **addr,
                      pmm_block *info)
{
    struct pmm_map *m = pmm__map_find(b, q->name, q->hash);
    if (!m)
        return 1;
    if (!same_entry(b, m->idx, m->gen)) {
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
    if (!b->rdonly)
        pmm__os_unlock(b->fd);
    /* still holding b->mu: the table is ours */
    r = finish(b, q, idx, &e, is_new, addr, info);
    pthread_mutex_unlock(&b->mu);
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
    pthread_mutex_lock(&b->mu);
    if (!(q->flags & PMM_NOMAP)) {
        r = from_table(b, q, addr, info);
        if (r <= 0) {
            pthread_mutex_unlock(&b->mu);
            return r;
        }
    }
    for (int tries = 0; tries < 8; tries++) {
        r = pmm__find_fast(b, q->name, &idx, &e, &seq);
        if (r == K_EUNKNOWN)
            break;
        if (r == K_OK)
            r = match(b, q, &e);
        if (r < 0) {
            pthread_mutex_unlock(&b->mu);
            return r;
        }
        r = finish(b, q, idx, &e, 0, addr, info);
        if (r < 0 || (q->flags & PMM_NOMAP) || same_entry(b, idx, e.gen)) {
            pthread_mutex_unlock(&b->mu);
            return r;
        }
        /* freed under our feet between lookup and mmap: undo, look again */
        struct pmm_map *m = pmm__map_find(b, q->name, q->hash);
        if (m)
            pmm__map_drop(m);
    }
    pthread_mutex_unlock(&b->mu);
    return alloc_locked(b, q, addr, info);
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
        (flags & (PMM_RETRIEVE | PMM_EXCL)) == (PMM_RETRIEVE | PMM_EXCL))
        return K_EINVAL;
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
    if (!b || (!addr && !(flags & PMM_NOMAP)))
        return K_EFAULT;
    int r = make_req(&q, name, size, key, keylen, flags, 0, -1);
    return r < 0 ? r : do_alloc(b, &q, addr, info);
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
    uint32_t high = pmm__live(b)->high;
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

void pmm__unmap(pmm_bank *b, const char *name)
{
    pthread_mutex_lock(&b->mu);
    struct pmm_map *m = pmm__map_find(b, name, pmm__name_hash(name));
    if (m)
        pmm__map_drop(m);
    pthread_mutex_unlock(&b->mu);
}

int pmm_stat(pmm_bank *b, const char *name, pmm_block *out)
{
    struct pmm_entry e;
    uint32_t idx;
    uint64_t seq;
    if (!b || !name || !out)
        return K_EFAULT;
    if (!pmm__name_ok(name, PMM_NAME_MAX))
        return K_EINVAL;
    int r = pmm__find_fast(b, name, &idx, &e, &seq);
    if (r < 0)
        return r;
    pmm__fill_block(b, &e, out);
    return K_OK;
}

int pmm_iter(pmm_bank *b, int (*fn)(const pmm_block *, void *), void *arg)
{
    if (!b || !fn)
        return K_EFAULT;
    int r = pmm__lock(b);
    if (r < 0)
        return r;
    uint32_t high = pmm__live(b)->high, n = 0;
    pmm_block *all = NULL;
    for (uint32_t i = 0; i < high && i < b->g.max_blocks; i++)
        n += pmm__entry(b, i)->state == PMM_E_LIVE;
    if (n && !(all = calloc(n, sizeof *all))) {
        pmm__unlock(b);
        return -12;
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
    pthread_mutex_lock(&b->mu);
    struct pmm_map *m = pmm__map_find(b, name, pmm__name_hash(name));
    int r;
    if (m && same_entry(b, m->idx, m->gen)) {
        r = pmm__os_msync(m->addr, m->len);
        pthread_mutex_unlock(&b->mu);
        return r;
    }
    pthread_mutex_unlock(&b->mu);
    pmm_block blk;
    if ((r = pmm_stat(b, name, &blk)) < 0)
        return r;
    return b->rdonly ? K_OK : pmm__os_sync(b->fd);
}
