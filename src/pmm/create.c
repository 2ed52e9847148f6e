/* SPDX-License-Identifier: MIT */
/*
 * create.c - making a new bank file.
 *
 * A bank is made in a private temporary file and published with link(),
 * which fails if another process published one first: concurrent first uses
 * agree on one bank, and a creator killed half-way leaves only its
 * temporary file.  A bank made anew (remake.c) is published with rename()
 * over the old one instead: a process killed at any point leaves the old
 * bank or the new one under the bank's name, never none.  The metadata
 * written here goes to that temporary file, which no other process can
 * have open: a published bank's metadata is written only by update.c,
 * lock.c and repair.c.
 *
 * A bank is made for huge pages (layout.h's PMM_GF_HUGE) when its file
 * system gives them and the caller does not refuse them (PMM_HUGE_AUTO),
 * or because the caller asks (PMM_HUGE_ON: refused with the reason where
 * the file system cannot; never a silent fall back to small pages).
 *
 * The file system's space for the metadata is reserved here, so that no
 * later store to it can fail for want of space; block space is reserved
 * block by block as blocks are allocated (update.c), so a bank may be
 * larger than its file system and allocations fail cleanly (K_ENOMEM)
 * when the file system is full.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <hotrestart/pmm.h>

#include "crash.h"
#include "create.h"
#include "geom.h"
#include "hash.h"
#include "os/os.h"

/* A random 1 GiB slot for the range, preferring one that is free in this
 * process: the creator's own mappings (its program and heap, or the 4 TiB
 * that the address sanitizer reserves at 0x6000_0000_0000) would otherwise
 * send its blocks elsewhere.  Other processes are not known: a block whose
 * place is taken there is mapped elsewhere in that process only. */
static int pick_base(uint64_t span, uint64_t *base)
{
    uint64_t slots = (PMM_USER_TOP - PMM_USER_LOW - span) >> 30;
    for (int tries = 0; tries < 32; tries++) {
        uint64_t rnd;
        int r = pmm__os_random(&rnd, sizeof rnd);
        if (r < 0)
            return r;
        *base = PMM_USER_LOW + (rnd % slots << 30);
        if (pmm__os_range_free((uintptr_t)*base, span))
            return 0;
    }
    return 0; /* a crowded address space: take the last one all the same */
}

/* Every page free: each word says so, check half included. */
static int write_empty_bitmap(int fd, const struct pmm_geom *g)
{
    uint64_t buf[1024], words = pmm_bm_words(g->data_pages);
    for (size_t i = 0; i < 1024; i++)
        buf[i] = pmm_bm_make(0);
    for (uint64_t w = 0; w < words; w += 1024) {
        size_t n = words - w < 1024 ? (size_t)(words - w) : 1024;
        int r = pmm__os_pwrite(fd, buf, n * 8, g->bitmap_off + w * 8);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The geometry of a new bank, with its random range and identity. */
static int new_geom(struct pmm_geom *g, int kind, uint64_t size,
                    uint64_t max_blocks, int huge)
{
    size_t pg = pmm__os_page_size();
    int r;
    memset(g, 0, sizeof *g);
    if (huge) {
        g->flags = PMM_GF_HUGE;
        g->huge_shift = PMM_HUGE_SHIFT;
    }
    g->magic = PMM_MAGIC;
    g->version = PMM_VERSION;
    g->layout_sig = PMM_LAYOUT_SIG;
    g->page_size = (uint32_t)pg;
    g->kind = (uint32_t)kind;
    g->max_blocks = max_blocks;
    g->data_pages = (size + pg - 1) / pg;
    pmm__geom_layout(g);
    g->created_ns = pmm__os_now_ns();
    /* the range holds the blocks, a guard page and the metadata view */
    if ((r = pick_base(g->data_pages * pg + pg + g->data_off, &g->base_addr)) < 0 ||
        (r = pmm__os_random(g->uuid, sizeof g->uuid)) < 0)
        return r;
    g->sum = pmm__geom_sum(g);
    return 0;
}

static int write_new(int fd, const struct pmm_geom *g, int kind)
{
    struct pmm_live l;
    int r;
    memset(&l, 0, sizeof l);
    l.sum = pmm__live_sum(&l);
    if ((r = pmm__os_truncate(fd, g->file_size)) < 0 ||
        (r = pmm__os_reserve(fd, 0, g->data_off)) < 0 ||
        (r = pmm__os_pwrite(fd, g, sizeof *g, 0)) < 0 ||
        (r = pmm__os_pwrite(fd, g, sizeof *g, PMM_GEOM_BACKUP_OFF)) < 0 ||
        (r = pmm__os_pwrite(fd, &l, sizeof l, PMM_LIVE_OFF)) < 0 ||
        (r = write_empty_bitmap(fd, g)) < 0 ||
        (kind == PMM_KIND_DISK && (r = pmm__os_sync(fd)) < 0))
        return r;
    return 0;
}

/* 1 for a huge-page bank, 0 for one of small pages, or -EOPNOTSUPP (with
 * *why) when PMM_HUGE_ON asks for what the file system of fd cannot give,
 * or, whatever the mode, when it can hold no bank (hugetlbfs: asked even
 * for PMM_HUGE_OFF, so that the caller hears why instead of the -EINVAL
 * of a write that file system refuses). */
static int want_huge(int fd, int mode, const char **why)
{
    const char *no = NULL;
    int r = pmm__os_huge_fs(fd, 1ull << PMM_HUGE_SHIFT, &no);
    if (r == -EOPNOTSUPP || (r == 0 && mode == PMM_HUGE_ON)) {
        if (why)
            *why = no;
        return -EOPNOTSUPP;
    }
    if (mode == PMM_HUGE_OFF || (r < 0 && mode == PMM_HUGE_AUTO))
        return 0;
    return r;
}

/* The file made aside has just got its name: crash point aside.named,
 * for a replacement only.  A first use passes none: a process reads
 * HR_CRASHPOINT when it first passes a point, and a test that arms a
 * forked child relies on its parent's first bank reading nothing. */
static void has_its_name(int replacing)
{
    if (replacing)
        pmm__crash("aside.named");
}

/* A name of its own for a file made aside for name, into tmp:
 * name.new.PID.R, R 16 random hex digits.  The PID tells the sweep which
 * process to ask whether the maker lives; R is there because a PID is
 * unique in its pid namespace only (two makers of one bank, each PID 1
 * of a container's namespace, would share name.new.1). */
static int name_aside(const char *name, char *tmp, size_t cap)
{
    uint64_t rnd;
    int r = pmm__os_random(&rnd, sizeof rnd);
    if (r < 0)
        return r;
    if (snprintf(tmp, cap, "%s.new.%d.%016llx", name, pmm__os_pid(),
                 (unsigned long long)rnd) >= (int)cap)
        return K_EINVAL;
    return 0;
}

/* Give the file its name tmp in dir, exclusively: by creating it (named,
 * into *fd) or by linking the nameless *fd.  A name that is there already
 * is another maker's, live or dead, and never removed here: another is
 * drawn (-EEXIST after a few, which only a broken source of random
 * numbers could give). */
static int take_name(int dir, const char *name, char *tmp, size_t cap,
                     int named, int *fd)
{
    for (int tries = 1;; tries++) {
        int r = named ? pmm__os_openat(dir, tmp, 0, 1, fd)
                      : pmm__os_link_anon(*fd, dir, tmp);
        if (r != -EEXIST || tries == 8)
            return r;
        if ((r = name_aside(name, tmp, cap)) < 0)
            return r;
    }
}

/* A new bank made whole in the private file tmp (name.new.PID.R in dir, a
 * name no other maker has: name_aside), for the caller to publish under
 * name, then close *fd; nothing left behind on failure.  Every file is
 * named inside dir, held open: a part of the bank's path swapped for a
 * link meanwhile never sends it elsewhere.  The file is locked from
 * before it has that name to the caller's close, so that
 * pmm__os_sweep_aside, which removes the files of dead makers first (a
 * bank-sized file each, in RAM for a RAM bank), never takes a live one's,
 * whatever its pid namespace: it is made nameless, locked, written whole,
 * and only then named.  Where the file system has no nameless files it is
 * created by its name and locked just after (os.h: that instant only our
 * PID keeps it).  Either way the name is taken exclusively: no maker
 * removes or publishes another's file. */
static int make_aside(int dir, const char *name, char *tmp, size_t cap,
                      const struct pmm__bank_want *w, int replacing, int *fd)
{
    struct pmm_geom g;
    int r;
    size_t pg = pmm__os_page_size();

    if (w->max_blocks == 0 || w->max_blocks > PMM_MAX_BLOCKS_LIMIT ||
        w->size < 2 * pg || w->size > PMM_MAX_BANK_SIZE)
        return K_EINVAL;
    if ((r = name_aside(name, tmp, cap)) < 0)
        return r;
    pmm__os_sweep_aside(dir, name);
    int named = (r = pmm__os_open_anon(dir, fd)) == -EOPNOTSUPP;
    if (named && (r = take_name(dir, name, tmp, cap, 1, fd)) == 0)
        has_its_name(replacing);
    if (r < 0)
        return r;
    if ((r = pmm__os_lock(*fd, 1)) == 0 &&
        (r = want_huge(*fd, w->huge, w->why)) >= 0 &&
        (r = new_geom(&g, w->kind, w->size, w->max_blocks, r)) == 0 &&
        (r = write_new(*fd, &g, w->kind)) == 0 && !named &&
        (r = take_name(dir, name, tmp, cap, 0, fd)) == 0)
        has_its_name(replacing);
    if (r < 0) {
        if (named)
            pmm__os_unlinkat(dir, tmp);
        pmm__os_close(*fd);
    }
    return r;
}

int pmm__bank_create_at(int dir, const char *name,
                        const struct pmm__bank_want *w)
{
    char tmp[300];
    int fd, r = make_aside(dir, name, tmp, sizeof tmp, w, 0, &fd);
    if (r < 0)
        return r;
    /* COMMIT POINT: the bank exists once it has its name (our lock held
     * through it, as for a replacement below). */
    if ((r = pmm__os_linkat(dir, tmp, name)) == -EEXIST)
        r = K_EEXIST;
    pmm__os_unlinkat(dir, tmp);
    pmm__os_close(fd);
    return r;
}

int pmm__bank_create_file(const char *path, int kind, uint64_t size,
                          uint64_t max_blocks, int huge, const char **why)
{
    char name[256];
    struct pmm__bank_want w = {kind, size, max_blocks, huge, why};
    int dir = pmm__os_open_parent(path, name, sizeof name);
    if (dir < 0)
        return dir;
    int r = pmm__bank_create_at(dir, name, &w);
    pmm__os_close(dir);
    return r;
}

int pmm__bank_replace_at(int dir, const char *name,
                         const struct pmm__bank_want *w)
{
    char tmp[300];
    int fd, r = make_aside(dir, name, tmp, sizeof tmp, w, 1, &fd);
    if (r < 0)
        return r;
    pmm__crash("remake.aside");
    /* COMMIT POINT: the new bank takes the old one's name in one step;
     * until then the old bank is there, whole.  Our lock (byte 0) is
     * held through it, so that no sweep takes the file while it still
     * has tmp's name; under the bank's name it is the bank's writer lock,
     * which a bank's opener waits for until the close just after (no one
     * could have opened the file by that name before). */
    if ((r = pmm__os_renameat(dir, tmp, name)) < 0)
        pmm__os_unlinkat(dir, tmp);
    pmm__os_close(fd);
    return r;
}
