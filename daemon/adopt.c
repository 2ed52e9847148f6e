/* SPDX-License-Identifier: MIT */
/*
 * adopt.c - the registry a previous controller left, taken over (see
 * adopt.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hrd.h"
#include "log.h"
#include "adopt.h"
#include "pmm/alloc.h"
#include "pmm/free.h"
#include "os/os.h"
#include "proto.h"

/* The registry comes from a file: every field used as an index, a size or
 * a string is checked, and an entry that fails is dropped with a message,
 * never followed. */
static void check_registry(struct hrd *d)
{
    struct hr_reg *g = d->reg;
    g->site.failure[sizeof g->site.failure - 1] = 0;
    for (int i = 0; i < HR_REG_GROUPS; i++) {
        struct hr_reg_group *G = &g->groups[i];
        if (G->used && !hr__reg_group_ok(G)) {
            hrd_log(d, HRD_ERR, "registry: group %d damaged, dropped", i);
            memset(G, 0, sizeof *G);
            d->dropped++;
        }
    }
    for (int i = 0; i < HR_REG_ACTORS; i++) {
        struct hr_reg_actor *a = &g->actors[i];
        if (!a->used)
            continue;
        if (!hr__reg_actor_ok(g, a)) {
            hrd_log(d, HRD_ERR, "registry: actor slot %d damaged, dropped", i);
            memset(a, 0, sizeof *a);
            d->dropped++;
        }
    }
}

/* A registry of another version or layout may be smaller than ours: it
 * is mapped at its own size, so that its header is read and named. */
void hrd_registry_open(struct hrd *d)
{
    pmm_block info;
    char why[160];
    size_t size = sizeof *d->reg;
    if (pmm_stat(d->bank, HR_REG_NAME, &info) == 0 && info.size < size)
        size = info.size;
    int r = pmm__alloc_sys(d->bank, HR_REG_NAME, size, HR_REG_KEY,
                           sizeof HR_REG_KEY, 0, -1, (void **)&d->reg, &info);
    if (r < 0)
        hrd_die(1, "registry: %s", pmm_strerror(r));
    if (info.flags & PMM_B_NEW)
        hr__reg_init(d->reg, pmm__os_now_ns());
    if (hr__reg_check(d->reg, size, why, sizeof why) < 0)
        hrd_die(1, "registry of site %s refused: %s (hr site cold wipes it)",
                d->site, why);
    check_registry(d);
    if (!d->maintenance) /* hrd --end-group starts no controller */
        d->reg->site.generation++;
}

/* What no registry entry accounts for: image and argument blocks of free
 * actor slots, and HR_GROUP_KEY blocks of groups that do not exist (left by
 * damaged entries that check_registry() dropped).  Gathered first, freed
 * after: the bank is not changed under pmm_iter().  It walks every block
 * (150 ms for a million), so it runs only when an entry was dropped. */
struct orphans {
    struct hrd *d;
    char (*names)[PMM_NAME_MAX];
    size_t n, cap;
    int groups[64];
    size_t ngroups;
};

static int slot_of(const char *name, const char *kind)
{
    char want[PMM_NAME_MAX];
    int slot, end = 0;
    snprintf(want, sizeof want, "__SYS.hr.%s.%%d%%n", kind);
    if (sscanf(name, want, &slot, &end) != 1 || name[end] || slot < 0)
        return -1;
    return slot;
}

static int find_orphan(const pmm_block *blk, void *arg)
{
    struct orphans *o = arg;
    struct hr_reg *reg = o->d->reg;
    if (blk->flags & PMM_B_SYSTEM) {
        static const char *const kinds[] = {"image", "args", "ver", "timage",
                                            "targs"}; /* spawn.h, imgver.h */
        int slot = -1;
        for (size_t k = 0; slot < 0 && k < sizeof kinds / sizeof *kinds; k++)
            slot = slot_of(blk->name, kinds[k]);
        if (slot < 0 || (slot < HR_REG_ACTORS && reg->actors[slot].used))
            return 0;
        if (o->n == o->cap) {
            size_t cap = o->cap ? o->cap * 2 : 16;
            void *more = realloc(o->names, cap * sizeof *o->names);
            if (!more)
                return 1;
            o->names = more;
            o->cap = cap;
        }
        snprintf(o->names[o->n++], PMM_NAME_MAX, "%s", blk->name);
    } else if (blk->group >= 0 &&
               (hrd_group_check(o->d, blk->group, HRD_GROUP_SLOT) < 0 ||
                !reg->groups[blk->group].used)) {
        size_t i = 0;
        while (i < o->ngroups && o->groups[i] != blk->group)
            i++;
        if (i == o->ngroups && o->ngroups < 64)
            o->groups[o->ngroups++] = blk->group;
    }
    return 0;
}

void hrd_registry_sweep(struct hrd *d)
{
    struct orphans o = {.d = d};
    size_t freed = 0;
    pmm_iter(d->bank, find_orphan, &o);
    for (size_t i = 0; i < o.n; i++)
        freed += pmm__free_sys(d->bank, o.names[i]) == 0;
    for (size_t i = 0; i < o.ngroups; i++) {
        size_t n = 0;
        pmm__free_group(d->bank, o.groups[i], &n);
        freed += n;
    }
    if (freed)
        hrd_log(d, HRD_WARNING,
                "freed %zu block%s that no registry entry accounts for", freed,
                freed == 1 ? "" : "s");
    free(o.names);
}
