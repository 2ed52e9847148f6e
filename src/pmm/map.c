/* SPDX-License-Identifier: MIT */
/*
 * map.c - the blocks mapped in this process.
 *
 * A small open-addressed table keyed by name hash remembers where each block
 * is mapped, with the entry index and generation it was mapped from.  A
 * retrieve of a block already mapped is a table probe plus a check that the
 * entry still has that generation (it may have been freed by another
 * process): no system call.  Callers hold b->mu (pmm__unmap() takes it).
 *
 * Blocks are mapped with MAP_FIXED_NOREPLACE at their fixed address, so a
 * block never lands on a mapping of the process; the guard page after each
 * block belongs to no block and stays unmapped.  No range is reserved in
 * the process: mapping over a reservation costs a split of it, measured at
 * 1.6 times the cost of a plain mapping.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "geom.h"
#include "hash.h"
#include "map.h"
#include "os/os.h"

struct pmm_map *pmm__map_find(struct pmm_bank *b, const char *name,
                              uint64_t hash)
{
    if (!b->maps_cap)
        return NULL;
    size_t mask = b->maps_cap - 1;
    for (size_t i = hash & mask, n = 0; n < b->maps_cap; i = (i + 1) & mask, n++) {
        struct pmm_map *m = &b->maps[i];
        if (!m->hash && !m->tomb)
            return NULL;
        if (m->hash == hash && strcmp(m->name, name) == 0)
            return m;
    }
    return NULL;
}

static int grow(struct pmm_bank *b)
{
    size_t cap = b->maps_cap ? b->maps_cap * 2 : 64;
    struct pmm_map *old = b->maps, *nm = calloc(cap, sizeof *nm);
    if (!nm)
        return -ENOMEM;
    for (size_t i = 0; i < b->maps_cap; i++) {
        if (!old[i].hash)
            continue;
        size_t j = old[i].hash & (cap - 1);
        while (nm[j].hash)
            j = (j + 1) & (cap - 1);
        nm[j] = old[i];
    }
    free(old);
    b->maps = nm;
    b->maps_cap = cap;
    return 0;
}

int pmm__map_add(struct pmm_bank *b, const char *name, uint64_t hash,
                 uint32_t idx, uint32_t gen, void *addr, size_t len,
                 int elsewhere)
{
    /* used counts live and removed slots alike, so probes always end */
    if ((b->maps_used + 1) * 4 > b->maps_cap * 3) {
        int r = grow(b);
        if (r < 0)
            return r;
        b->maps_used = 0;
        for (size_t i = 0; i < b->maps_cap; i++)
            b->maps_used += b->maps[i].hash != 0;
    }
    size_t mask = b->maps_cap - 1, i = hash & mask;
    while (b->maps[i].hash)
        i = (i + 1) & mask;
    struct pmm_map *m = &b->maps[i];
    if (!m->tomb)
        b->maps_used++;
    memset(m, 0, sizeof *m);
    m->hash = hash;
    m->idx = idx;
    m->gen = gen;
    m->addr = addr;
    m->len = len;
    m->elsewhere = elsewhere;
    strcpy(m->name, name);
    return 0;
}

void pmm__map_drop(struct pmm_map *m)
{
    pmm__os_unmap_block(m->addr, m->len);
    memset(m, 0, sizeof *m);
    m->tomb = 1;
}

/* At the block's fixed address if that range is free in this process,
 * else wherever the kernel puts it (and the caller is told). */
int pmm__map_block(struct pmm_bank *b, const struct pmm_entry *e, void **addr,
                   int *elsewhere)
{
    size_t len = e->npages * b->g.page_size;
    uint64_t off = b->g.data_off + e->fpage * b->g.page_size;
    uintptr_t at = b->g.base_addr + e->page * b->g.page_size;
    int r = pmm__os_map_block(b->fd, off, len, at, 1, addr);
    *elsewhere = r == -EEXIST;
    if (*elsewhere)
        r = pmm__os_map_block(b->fd, off, len, 0, 0, addr);
    return r;
}

void pmm__map_clear(struct pmm_bank *b)
{
    for (size_t i = 0; i < b->maps_cap; i++)
        if (b->maps[i].hash)
            pmm__os_unmap_block(b->maps[i].addr, b->maps[i].len);
    free(b->maps);
    b->maps = NULL;
    b->maps_cap = b->maps_used = 0;
}

void pmm__unmap(struct pmm_bank *b, const char *name)
{
    pthread_mutex_lock(&b->mu);
    struct pmm_map *m = pmm__map_find(b, name, pmm__name_hash(name));
    if (m)
        pmm__map_drop(m);
    pthread_mutex_unlock(&b->mu);
}
