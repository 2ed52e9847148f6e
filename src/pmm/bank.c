/* SPDX-License-Identifier: MIT */
/*
 * bank.c - opening and closing bank files (create.c makes them).
 *
 * Opening validates the geometry (geom.c: magic, version, layout signature,
 * page size, every offset against the file's size, checksum) and falls back
 * to the backup copy of the geometry when the primary is damaged.
 * Banks stay open for the life of the process; a forked child re-opens each
 * bank file so that its lock is its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bank.h"
#include "crash.h"
#include "geom.h"
#include "lock.h"
#include "map.h"
#include "os/os.h"
#include "repair.h"
#include "update.h"

static pthread_mutex_t banks_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pmm_bank *banks;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* Read and validate the geometry, restoring the primary from the backup
 * when only the primary is damaged and we may write. */
static int load_geom(struct pmm_bank *b, uint64_t file_size)
{
    struct pmm_geom backup;
    int r = pmm__os_pread(b->fd, &b->g, sizeof b->g, 0);
    if (r < 0)
        return r == -ENODATA ? K_EBANK : r;
    if (pmm__geom_check(&b->g, file_size, NULL) == K_OK)
        return K_OK;
    r = pmm__os_pread(b->fd, &backup, sizeof backup, PMM_GEOM_BACKUP_OFF);
    if (r < 0 || pmm__geom_check(&backup, file_size, NULL) != K_OK)
        return K_EBANK;
    b->g = backup;
    return b->rdonly ? K_OK : pmm__repair_geom(b);
}

static void atfork_prepare(void)
{
    pthread_mutex_lock(&banks_mu);
    for (struct pmm_bank *b = banks; b; b = b->next)
        pthread_mutex_lock(&b->mu);
}

static void atfork_parent(void)
{
    for (struct pmm_bank *b = banks; b; b = b->next)
        pthread_mutex_unlock(&b->mu);
    pthread_mutex_unlock(&banks_mu);
}

/* The child shares its parent's open file descriptions, and so its file
 * locks: give it descriptions of its own.  The mutexes were locked by the
 * parent's thread, which does not exist here: make them anew. */
static void mutex_renew(pthread_mutex_t *mu)
{
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    /* recursive: a lookup that falls back to the lock may already hold it */
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(mu, &ma);
    pthread_mutexattr_destroy(&ma);
}

static void atfork_child(void)
{
    pmm__crash_reset();
    for (struct pmm_bank *b = banks; b; b = b->next) {
        int fd;
        if (pmm__os_open(b->path, b->rdonly, 0, &fd) == 0) {
            pmm__os_close(b->fd);
            b->fd = fd;
        }
        mutex_renew(&b->mu);
    }
    pthread_mutex_init(&banks_mu, NULL);
}

static void atfork_init(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static int bank_owner_ok(uid_t uid, mode_t mode)
{
    if (!S_ISREG(mode))
        return 0;
    if ((mode & 077) != 0)
        return 0;
    uid_t me = pmm__os_euid();
    return uid == me || me == 0;
}

/* The read-only view of the metadata goes in the bank's own range, one
 * guard page after its last data page.  Beside being tidy, this keeps the
 * page tables above the blocks populated (lookups touch the metadata), and
 * on the kernels measured a block's mmap then costs about a sixth less than
 * in an otherwise empty part of the address space.  Where that place is
 * taken the view goes anywhere: nothing depends on its address. */
static uintptr_t meta_addr(const struct pmm_bank *b)
{
    return (uintptr_t)(b->g.base_addr + (b->g.data_pages + 1) * b->g.page_size);
}

static int open_file(struct pmm_bank *b, const char *path, int rdonly)
{
    uint64_t size;
    uid_t uid;
    mode_t mode;
    int r;

    if (strlen(path) >= sizeof b->path)
        return K_EINVAL;
    strcpy(b->path, path);
    b->rdonly = rdonly;
    b->fd = -1;
    b->page = pmm__os_page_size();
    mutex_renew(&b->mu);
    if ((r = pmm__os_open(path, rdonly, 0, &b->fd)) < 0)
        return r == -EACCES ? K_EPRIV : r;
    if ((r = pmm__os_size(b->fd, &size, &uid, &mode, &b->dev, &b->ino)) < 0)
        return r;
    if (!bank_owner_ok(uid, mode))
        return K_EPRIV;
    if ((r = load_geom(b, size)) < 0)
        return r;
    b->file_len = size;
    b->durable = b->g.kind == PMM_KIND_DISK;
    b->meta_len = b->g.data_off;
    if (pmm__geom_huge(&b->g)) { /* said by pmm_bank_stat, never refused */
        const char *why;
        r = pmm__os_huge_fs(b->fd, pmm__geom_huge(&b->g), &why);
        b->huge_now = r == 1;
    }
    return pmm__os_map_ro(b->fd, b->meta_len, meta_addr(b), (const void **)&b->meta);
}

static void bank_free(struct pmm_bank *b)
{
    pmm__map_clear(b);
    pmm__os_unmap(b->meta, b->meta_len);
    if (b->fd >= 0)
        pmm__os_close(b->fd);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

int pmm__bank_of(int dir, const char *name, uint32_t kind, uid_t uid,
                 dev_t *dev, ino_t *ino)
{
    uid_t owner;
    mode_t mode;
    int fd;
    /* looked at first: a device named there is never opened */
    if (pmm__os_statat(dir, name, &owner, &mode, NULL, NULL) < 0 ||
        !S_ISREG(mode) || owner != uid ||
        pmm__os_openat(dir, name, 1, 0, &fd) < 0)
        return 0;
    struct pmm_geom g;
    int ok = pmm__os_size(fd, NULL, &owner, &mode, dev, ino) == 0 &&
             S_ISREG(mode) && owner == uid &&
             pmm__os_pread(fd, &g, sizeof g, 0) == 0 &&
             g.magic == PMM_MAGIC && g.kind == kind;
    pmm__os_close(fd);
    return ok;
}

int pmm__bank_open_path(pmm_bank **out, const char *path, const char *medium,
                        int rdonly)
{
    struct pmm_bank *b = calloc(1, sizeof *b);
    int r;
    if (!b)
        return -ENOMEM;
    pthread_once(&atfork_once, atfork_init);
    if ((r = open_file(b, path, rdonly)) < 0)
        goto fail;
    snprintf(b->medium, sizeof b->medium, "%s", medium);

    pthread_mutex_lock(&banks_mu);
    for (struct pmm_bank *o = banks; o; o = o->next) {
        if (o->dev == b->dev && o->ino == b->ino && o->rdonly == rdonly) {
            o->refs++;
            pthread_mutex_unlock(&banks_mu);
            bank_free(b);
            *out = o;
            return K_OK;
        }
    }
    if (!rdonly && pmm__needs_recovery(b)) { /* the lock recovers */
        if ((r = pmm__lock(b)) == 0)
            pmm__unlock(b);
        if (r < 0) {
            pthread_mutex_unlock(&banks_mu);
            goto fail;
        }
    }
    b->refs = 1;
    b->next = banks;
    banks = b;
    pthread_mutex_unlock(&banks_mu);
    *out = b;
    return K_OK;
fail:
    bank_free(b);
    return r;
}

void pmm__bank_ref(pmm_bank *b)
{
    pthread_mutex_lock(&banks_mu);
    b->refs++;
    pthread_mutex_unlock(&banks_mu);
}

void pmm_bank_close(pmm_bank *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&banks_mu);
    if (--b->refs > 0) {
        pthread_mutex_unlock(&banks_mu);
        return;
    }
    for (struct pmm_bank **p = &banks; *p; p = &(*p)->next) {
        if (*p == b) {
            *p = b->next;
            break;
        }
    }
    pthread_mutex_unlock(&banks_mu);
    bank_free(b);
}

int pmm_bank_stat(pmm_bank *b, pmm_bank_info *out)
{
    if (!b || !out)
        return K_EFAULT;
    int r = pmm__lock(b);
    if (r < 0)
        return r;
    struct pmm_live now, *l = &now;
    pmm__live_now(b, l);
    memset(out, 0, sizeof *out);
    snprintf(out->medium, sizeof out->medium, "%s", b->medium);
    snprintf(out->path, sizeof out->path, "%s", b->path);
    out->page_size = b->g.page_size;
    out->size = b->g.data_pages * b->g.page_size;
    out->used = l->used_pages * b->g.page_size;
    out->free = out->size - out->used - l->nblocks * b->g.page_size;
    out->blocks = l->nblocks;
    out->max_blocks = b->g.max_blocks;
    out->base = b->g.base_addr;
    out->durable = b->durable;
    out->huge_size = pmm__geom_huge(&b->g);
    out->huge_now = (uint32_t)b->huge_now;
    pmm__unlock(b);
    return K_OK;
}
