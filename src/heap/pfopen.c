/* SPDX-License-Identifier: MIT */
/*
 * pfopen.c - the presence file (presence.c) found, or made at first need,
 * and checked to be the bank's owner's: whoever makes it, it is the bank
 * file's owner's, mode 0600, and nothing else under its name is used.
 * Root, making it for a site it does not own, makes it aside, gives it to
 * the owner, then links it under its name, so that no one meets it under
 * its name with the wrong owner.
 *
 * Root makes it with root's rights (not the owner's) in one place only:
 * beside the bank itself, in an administrator's directory (root's, that
 * no group or other may write; hh_pfile_admins).  A directory that others
 * write (a mail spool, group mail) holds files that their users own and
 * can make look like a bank: root would make files there for them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "hotrestart/errors.h"
#include "os/os.h"
#include "pfopen.h"

/* Root making the presence file name in dir for a site it does not own:
 * made aside (name.new.PID, locked as pmm__os_sweep_aside expects), given
 * to the bank's owner, then linked under its name, so that no one meets
 * it under its name with the wrong owner.  All inside dir, held open: a
 * part of the bank's path swapped for a link meanwhile sends root's new
 * file nowhere else. */
static int make_for(int dir, const char *name, uid_t owner)
{
    char aside[300];
    int fd, r;
    snprintf(aside, sizeof aside, "%s.new.%d", name, pmm__os_pid());
    pmm__os_sweep_aside(dir, name); /* what a killed maker left */
    if ((r = pmm__os_openat(dir, aside, 0, 1, &fd)) < 0)
        return r;
    if ((r = pmm__os_lock(fd, 1)) == 0 && (r = pmm__os_chown(fd, owner)) == 0)
        r = pmm__os_linkat(dir, aside, name);
    pmm__os_unlinkat(dir, aside);
    pmm__os_close(fd);
    return r == -EEXIST ? 0 : r; /* another made it first: that one */
}

/* Open the presence file name in dir, made at first need, and check that
 * it is the bank's owner's, owner-only: 0 and *fd, K_EPRIV, or -errno. */
int hh_pfile_open(int dir, const char *name, uid_t owner, int *fd, dev_t *dev,
                  ino_t *ino)
{
    int r = pmm__os_openat(dir, name, 0, 0, fd);
    if (r == -ENOENT) {
        if (pmm__os_euid() != owner)
            r = make_for(dir, name, owner);
        else if ((r = pmm__os_openat(dir, name, 0, 1, fd)) == 0)
            goto check;
        if (r == -EACCES)
            return r; /* the bank's directory not writable: made by none */
        if (r == 0 || r == -EEXIST)
            r = pmm__os_openat(dir, name, 0, 0, fd);
    }
    if (r == -EACCES || r == -EISDIR || r == -ELOOP)
        return K_EPRIV; /* another's, a directory, a link */
    if (r < 0)
        return r;
check:;
    uid_t uid;
    mode_t mode;
    if ((r = pmm__os_size(*fd, NULL, &uid, &mode, dev, ino)) == 0 &&
        (!S_ISREG(mode) || uid != owner || (mode & 077)))
        r = K_EPRIV; /* another's, open to others, or no file */
    if (r < 0)
        pmm__os_close(*fd);
    return r;
}

int hh_pfile_admins(int dir, int bank_fd, dev_t dev, ino_t ino)
{
    dev_t bdev;
    ino_t bino;
    uid_t duid;
    mode_t dmode;
    return pmm__os_size(bank_fd, NULL, NULL, NULL, &bdev, &bino) == 0 &&
           bdev == dev && bino == ino &&
           pmm__os_size(dir, NULL, &duid, &dmode, NULL, NULL) == 0 &&
           S_ISDIR(dmode) && duid == 0 && !(dmode & 022);
}
