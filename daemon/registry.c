/*
 * registry.c - the registry opened, checked and swept (see registry.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hrd.h"
#include "log.h"
#include "pmm_int.h"
#include "proto.h"
#include "registry.h"

/* The registry comes from a file: every field used as an index, a size or
 * a string is checked, and an entry that fails is dropped with a message,
 * never followed. */
static void check_registry(struct hrd *d)
{
    struct registry *g = d->reg;
    g->failure[sizeof g->failure - 1] = 0;
    for (int i = 0; i < HRD_MAX_GROUPS; i++) {
        struct reg_group *G = &g->groups[i];
        if (G->used && (G->used != 1 || G->state > G_RESTARTING)) {
            hrd_log(d, "registry: group %d damaged, dropped", i);
            memset(G, 0, sizeof *G);
            d->dropped++;
        }
    }
    for (int i = 0; i < HRD_MAX_ACTORS; i++) {
        struct reg_actor *a = &g->actors[i];
        if (!a->used)
            continue;
        if (a->used != 1 || hrd_group_check(d, a->group, HRD_GROUP_SLOT) < 0 ||
            !g->groups[a->group].used || a->state > A_DYING || a->pid < 0 ||
            !a->name[0] || !memchr(a->name, 0, sizeof a->name) ||
            a->image_size == 0 || a->image_size > PMM_MAX_BANK_SIZE ||
            a->args_len < 8 || a->args_len > HR_MSG_MAX) {
            hrd_log(d, "registry: actor slot %d damaged, dropped", i);
            memset(a, 0, sizeof *a);
            d->dropped++;
        }
    }
}

void hrd_registry_open(struct hrd *d)
{
    pmm_block info;
    int r = pmm__alloc_sys(d->bank, HRD_REG_NAME, sizeof(struct registry),
                           HRD_SYS_KEY, sizeof HRD_SYS_KEY, 0, -1,
                           (void **)&d->reg, &info);
    if (r < 0)
        hrd_die(1, "registry: %s", pmm_strerror(r));
    if (info.flags & PMM_B_NEW) {
        d->reg->version = 1;
        __atomic_store_n(&d->reg->magic, HRD_REG_MAGIC, __ATOMIC_RELEASE);
    }
    if (d->reg->magic != HRD_REG_MAGIC || d->reg->version != 1)
        hrd_die(1, "registry: not a registry of this version (hr site cold wipes it)");
    check_registry(d);
    d->reg->generation++;
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
    struct registry *reg = o->d->reg;
    if (blk->flags & PMM_B_SYSTEM) {
        int slot = slot_of(blk->name, "image");
        if (slot < 0)
            slot = slot_of(blk->name, "args");
        if (slot < 0 || (slot < HRD_MAX_ACTORS && reg->actors[slot].used))
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
        hrd_log(d, "freed %zu block%s that no registry entry accounts for",
                freed, freed == 1 ? "" : "s");
    free(o.names);
}

int hrd_find_pid(struct hrd *d, pid_t pid)
{
    HRD_FOR_ACTORS(d, i)
        if (d->reg->actors[i].pid == pid && pid > 0)
            return i;
    return -1;
}

int hrd_find_name(struct hrd *d, int group, const char *name)
{
    HRD_FOR_MEMBERS(d, group, i)
        if (strcmp(d->reg->actors[i].name, name) == 0)
            return i;
    return -1;
}

int hrd_name_ok(const char *s)
{
    if (!*s || strlen(s) >= PMM_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') ||
              ('0' <= *s && *s <= '9') || strchr("._-:+@/", *s)))
            return 0;
    return 1;
}


