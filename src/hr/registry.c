/* SPDX-License-Identifier: MIT */
/*
 * registry.c - the registry's validation, and its read-only reader for
 * hr_site_status() (see registry.h for the format).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hotrestart/hr.h>

#include "hr/policy.h"
#include "hr/proto.h"
#include "hr/registry.h"
#include "os/os.h"
#include "pmm/block.h"
#include "pmm/hash.h"
#include "pmm/layout.h"
#include "pmm/view.h"

static uint64_t header_sum(const struct hr_reg_header *h)
{
    return pmm__sum(h, offsetof(struct hr_reg_header, sum), HR_REG_MAGIC);
}

void hr__reg_init(struct hr_reg *r, uint64_t now_ns)
{
    r->h.version = HR_REG_VERSION;
    r->h.layout_sig = HR_REG_LAYOUT_SIG;
    r->h.groups = HR_REG_GROUPS;
    r->h.actors = HR_REG_ACTORS;
    r->h.created_ns = now_ns;
    r->h.magic = HR_REG_MAGIC;
    uint64_t sum = header_sum(&r->h);
    r->h.magic = 0;
    r->h.sum = sum;
    /* a reader that sees the magic sees the whole header */
    __atomic_store_n(&r->h.magic, HR_REG_MAGIC, __ATOMIC_RELEASE);
}

/* Version and layout are read before the checksum, at offsets every
 * version keeps, so that a registry of another version or layout is named
 * as such rather than as damaged. */
int hr__reg_check(const struct hr_reg *r, size_t len, char *why, size_t cap)
{
    const struct hr_reg_header *h = &r->h;
    if (len < sizeof *h || h->magic != HR_REG_MAGIC)
        snprintf(why, cap, "not a registry (its magic number is wrong): "
                           "damaged");
    else if (h->version != HR_REG_VERSION)
        snprintf(why, cap, "a registry of version %u; this program reads "
                           "version %u", h->version, HR_REG_VERSION);
    else if (h->layout_sig != HR_REG_LAYOUT_SIG)
        snprintf(why, cap, "a registry of another layout (signature %#x; "
                           "this program's is %#x)", h->layout_sig,
                 HR_REG_LAYOUT_SIG);
    else if (h->sum != header_sum(h))
        snprintf(why, cap, "the registry's header is damaged (checksum)");
    else if (len < sizeof *r)
        snprintf(why, cap, "the registry is cut short (%zu bytes of %zu)",
                 len, sizeof *r);
    else
        return 0;
    return K_EBANK;
}

int hr__reg_group_ok(const struct hr_reg_group *g)
{
    return g->used == 1 && g->state <= HR_G_RESTARTING;
}

int hr__reg_actor_ok(const struct hr_reg *r, const struct hr_reg_actor *a)
{
    return a->used == 1 && hr__reg_group_id_ok(a->group) &&
           r->groups[a->group].used && a->state <= HR_A_DYING &&
           a->pid >= 0 && a->name[0] &&
           memchr(a->name, 0, sizeof a->name) && a->image_size != 0 &&
           a->image_size <= PMM_MAX_BANK_SIZE && a->args_len >= 8 &&
           a->args_len <= HR_MSG_MAX;
}

/* The registry as the RAM bank holds it, read without joining the bank and
 * without mapping it: K_EUNKNOWN when the site has none yet. */
static int read_registry(const char *site, struct hr_reg *reg, char *why,
                         size_t cap)
{
    pmm_bank *b;
    pmm_block blk;
    int r = pmm_bank_open(&b, site, "RAM", PMM_OPEN_RDONLY);
    if (r < 0)
        return r;
    uint64_t off;
    r = pmm__stat_file(b, HR_REG_NAME, &blk, &off);
    if (r == 0) {
        size_t len = blk.size < sizeof *reg ? blk.size : sizeof *reg;
        memset(reg, 0, sizeof *reg);
        r = pmm__os_pread(b->fd, reg, len, off);
        if (r == 0)
            r = hr__reg_check(reg, len, why, cap);
    }
    pmm_bank_close(b);
    return r;
}

static void fill(hr_site_state *out, const struct hr_reg *reg)
{
    out->generation = reg->site.generation;
    out->group_restarts = reg->site.group_restarts;
    out->site_restarts = reg->site.site_restarts;
    for (int i = 0; i < HR_REG_GROUPS; i++)
        out->groups += reg->groups[i].used != 0;
    if (reg->site.failed) {
        out->state = HR_SITE_FAILED;
        snprintf(out->failure, sizeof out->failure, "%.*s",
                 (int)sizeof reg->site.failure, reg->site.failure);
    }
}

/* 1 when a controller holds the site's controller.lock (it runs, or is
 * between the two halves of a site restart: the lock is kept across that
 * exec), 0 when none does, or -errno. */
int hr__controller_holds(const char *site)
{
    char dir[4096], path[4200];
    int fd, r = pmm_site_path(dir, sizeof dir, site);
    if (r < 0)
        return r;
    snprintf(path, sizeof path, "%s/controller.lock", dir);
    if ((r = pmm__os_open(path, 1, 0, &fd)) < 0)
        return r == -ENOENT ? 0 : r;
    r = pmm__os_lock_held(fd);
    pmm__os_close(fd);
    return r;
}

int hr_site_status(const char *site, hr_site_state *out, char *why,
                   size_t cap)
{
    char none[1];
    if (!out)
        return K_EFAULT;
    if (!why || !cap)
        why = none, cap = sizeof none;
    why[0] = 0;
    memset(out, 0, sizeof *out);
    out->state = HR_SITE_STOPPED;
    char dir[4096];
    int r = pmm_site_path(dir, sizeof dir, site);
    if (r < 0)
        return r;
    hr__policy_read(dir, &out->policy, NULL, NULL);
    struct hr_reg *reg = malloc(sizeof *reg); /* 48 KiB: not on the stack */
    r = reg ? read_registry(dir, reg, why, cap) : -ENOMEM;
    if (r == K_EUNKNOWN)
        r = K_OK; /* never started: no registry yet */
    else if (r == 0)
        fill(out, reg);
    if (r == 0 && hr__controller_holds(site) > 0) { /* not answering yet */
        out->state = HR_SITE_RUNNING;
        out->controller_pid = (int32_t)reg->site.controller_pid;
    }
    free(reg);
    return r;
}

int hr__controller_ended_it(const char *site)
{
    char dir[4096];
    struct hr_reg *reg = malloc(sizeof *reg);
    int r = reg ? pmm_site_path(dir, sizeof dir, site) : -ENOMEM;
    if (r == 0)
        r = read_registry(dir, reg, NULL, 0);
    if (r == 0)
        r = reg->site.controller_pid == 0;
    free(reg);
    return r;
}

int hr__reg_promoted(const char *site, const char *name, int32_t pid,
                     uint32_t *restarts)
{
    char dir[4096];
    struct hr_reg *reg = malloc(sizeof *reg);
    int r = reg ? pmm_site_path(dir, sizeof dir, site) : -ENOMEM;
    if (r == 0)
        r = read_registry(dir, reg, NULL, 0);
    for (int i = 0; r == 0 && name && i < HR_REG_ACTORS; i++) {
        const struct hr_reg_actor *a = &reg->actors[i];
        if (a->used && a->pid == pid && hr__reg_actor_ok(reg, a) &&
            strncmp(a->name, name, sizeof a->name) == 0) {
            *restarts = reg->groups[a->group].restarts;
            r = 1;
        }
    }
    free(reg);
    return r;
}
