/* SPDX-License-Identifier: MIT */
/*
 * destroy.c - removing a site: its banks and their presence files,
 * site.conf, and its directory when nothing else is left in it.
 *
 * Root may destroy any user's site, and that user writes the site's
 * directory, site.conf and the directory of the DISK bank.  So each file
 * is named inside a directory held open (opened once, by a walk that
 * follows no link the user could have put or swapped in: os.h), and a
 * bank, a presence file or the directory is removed only while its name
 * still holds the file of the owner's that was looked at
 * (pmm__os_unlink_same): a part of a path swapped for a link, or a file
 * renamed, between the look and the removal sends the removal nowhere
 * else.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "bank.h"
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

/* site.conf names the DISK bank, and the site's owner writes it: only a
 * bank file of that owner goes (root destroying a site must not remove
 * whatever file its owner named there). */
static void unlink_disk(int site, uid_t owner)
{
    char path[4096], name[256];
    if (pmm__conf_get_at(site, "pmm.diskbank", path, sizeof path) != K_OK)
        return;
    int dir = pmm__os_open_parent(path, name, sizeof name);
    if (dir < 0)
        return;
    unlink_bank(dir, name, PMM_KIND_DISK, owner);
    pmm__os_close(dir);
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

int pmm_site_destroy(const char *site)
{
    char dir[4096];
    uid_t owner;
    int r, fd;
    if ((r = pmm_site_path(dir, sizeof dir, site)) < 0 ||
        (r = fd = pmm__site_pin(dir, 0, &owner)) < 0)
        return r;
    /* a directory without a RAM bank is no site: nothing of it removed */
    if (!pmm__bank_of(fd, RAM_BANK, PMM_KIND_RAM, owner, NULL, NULL)) {
        pmm__os_close(fd);
        return K_EUNKNOWN;
    }
    unlink_disk(fd, owner);
    pmm__os_unlinkat(fd, SITE_CONF);
    r = unlink_bank(fd, RAM_BANK, PMM_KIND_RAM, owner);
    if (r == -ENOENT || r == K_EUNKNOWN) /* gone meanwhile: as well */
        r = K_OK;
    /* other files (the controller's) may remain: keep the directory then */
    if (r == K_OK)
        unlink_dir(dir, fd);
    pmm__os_close(fd);
    return r;
}
