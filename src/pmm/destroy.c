/* SPDX-License-Identifier: MIT */
/*
 * destroy.c - removing a site: its banks and their presence files,
 * site.conf, and its directory when nothing else is left in it.
 *
 * Root may destroy any user's site, and that user writes the site's
 * directory, site.conf and the directories on the way to the DISK bank.
 * So root does it with the user's rights (os.h: pmm__os_as_owner): the
 * user's links are followed as the user would follow them, and nothing
 * goes that the user could not remove.  Each file is named inside a
 * directory held open, and a bank or a presence file is removed only
 * while its name still holds the file of the owner's that was looked at
 * (pmm__os_unlink_same): never a file renamed there in between.  The
 * directory itself, empty, is removed last with the caller's own rights
 * (its parent may be root's), and only while its name holds the
 * directory held from the start.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "bank.h"
#include "crash.h"
#include "os/os.h"
#include "site.h"

/* The heaps' presence file of the bank name in dir (src/heap/presence.c),
 * gone with the bank, after it: an opener then finds no bank by the name
 * rather than the old bank beside a new presence file (which the heap
 * would refuse, -ESTALE, while the old one's users live).  Only a file of
 * the owner's: a DISK bank's directory may hold others' files. */
static void unlink_presence(int dir, const char *bank, uid_t owner)
{
    char name[300];
    uid_t uid;
    mode_t mode;
    dev_t dev;
    ino_t ino;
    snprintf(name, sizeof name, "%s.presence", bank);
    if (pmm__os_statat(dir, name, &uid, &mode, &dev, &ino) == 0 &&
        S_ISREG(mode) && uid == owner)
        pmm__os_unlink_same(dir, name, 0, dev, ino);
}

/* The bank name in dir, and its presence file, removed if it is a bank of
 * kind, owner's: 0, K_EUNKNOWN when it is none, -ESTALE when it was
 * replaced between the look and the removal, -errno. */
static int unlink_bank(int dir, const char *name, uint32_t kind, uid_t owner)
{
    dev_t dev;
    ino_t ino;
    if (!pmm__bank_of(dir, name, kind, owner, &dev, &ino))
        return K_EUNKNOWN;
    int r = pmm__os_unlink_same(dir, name, 0, dev, ino);
    if (r == 0 || r == -ENOENT)
        unlink_presence(dir, name, owner);
    return r;
}

/* A bank looked at: its directory held, its name, the file seen there. */
struct look {
    int dir; /* -1: no bank of the owner's there */
    char name[256];
    dev_t dev;
    ino_t ino;
};

/* site.conf names the DISK bank, and the site's owner writes it: only a
 * bank file of that owner goes (root destroying a site must not remove
 * whatever file its owner named there, even with the owner's rights: it
 * may be another site's bank, or a file of the owner's own). */
static void look_disk(int site, uid_t owner, struct look *l)
{
    char path[4096];
    l->dir = -1;
    if (pmm__conf_get_at(site, "pmm.diskbank", path, sizeof path) != K_OK ||
        (l->dir = pmm__os_open_parent(path, l->name, sizeof l->name)) < 0)
        return;
    if (!pmm__bank_of(l->dir, l->name, PMM_KIND_DISK, owner, &l->dev,
                      &l->ino)) {
        pmm__os_close(l->dir);
        l->dir = -1;
    }
}

/* The DISK bank looked at, and its presence file, removed if its name
 * still holds it. */
static void unlink_disk(struct look *l, uid_t owner)
{
    if (l->dir < 0)
        return;
    int r = pmm__os_unlink_same(l->dir, l->name, 0, l->dev, l->ino);
    if (r == 0 || r == -ENOENT)
        unlink_presence(l->dir, l->name, owner);
    pmm__os_close(l->dir);
}

/* The site directory dir, held open as fd, removed if it is empty and
 * its name still holds it. */
static void unlink_dir(const char *dir, int fd)
{
    char name[256];
    dev_t dev;
    ino_t ino;
    int parent = pmm__os_open_parent(dir, name, sizeof name);
    if (parent < 0)
        return;
    if (pmm__os_size(fd, NULL, NULL, NULL, &dev, &ino) == 0)
        pmm__os_unlink_same(parent, name, 1, dev, ino);
    pmm__os_close(parent);
}

/* The site held as fd, of owner, emptied of its banks and site.conf:
 * 0, K_EUNKNOWN when it has no RAM bank (no site: nothing removed),
 * -errno. */
static int empty(int fd, uid_t owner)
{
    if (!pmm__bank_of(fd, RAM_BANK, PMM_KIND_RAM, owner, NULL, NULL))
        return K_EUNKNOWN;
    struct look disk;
    look_disk(fd, owner, &disk);
    pmm__crash("destroy.looked"); /* the banks looked at, nothing removed */
    unlink_disk(&disk, owner);
    pmm__os_unlinkat(fd, SITE_CONF);
    int r = unlink_bank(fd, RAM_BANK, PMM_KIND_RAM, owner);
    return r == -ENOENT || r == K_EUNKNOWN ? K_OK : r; /* gone meanwhile */
}

int pmm_site_destroy(const char *site)
{
    char dir[4096];
    struct pmm__os_as as;
    uid_t owner;
    int r, fd;
    if ((r = pmm_site_path(dir, sizeof dir, site)) < 0 ||
        (r = fd = pmm__site_hold(dir, 0, &owner)) < 0)
        return r;
    if ((r = pmm__os_as_owner(fd, &as)) == 0) {
        r = empty(fd, owner);
        pmm__os_as_self(&as);
    }
    /* other files (the controller's) may remain: keep the directory then */
    if (r == K_OK)
        unlink_dir(dir, fd);
    pmm__os_close(fd);
    return r;
}
