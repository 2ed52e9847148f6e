/* SPDX-License-Identifier: MIT */
/*
 * owner.c - one hrcached process serves a heap at a time.
 *
 * Its worker threads serialise the store's changes with a lock of the
 * process (table.c), and a get that stores nothing reads without a
 * transaction: two processes on one heap would not see each other's
 * locks.  So a server holds an flock on a file named after the heap in
 * the site's directory for its life.  The kernel gives it back when the
 * process ends, however it ends (a SIGKILL too), so a restarted server,
 * or a standby promoted after the live one died, never waits for a dead
 * one; a second server started while one lives waits for it to end.
 * The file is made owner-only, relative to the site directory opened
 * with O_NOFOLLOW, as every site file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

#include "owner.h"

int mc_owner_take(const char *site_dir, const char *name, int wait)
{
    char file[128];
    if (snprintf(file, sizeof file, "hrcached.%s.lock", name) >=
        (int)sizeof file)
        return -ENAMETOOLONG;
    int dir = open(site_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0)
        return -errno;
    int fd = openat(dir, file, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
                    0600);
    int r = fd < 0 ? -errno : 0;
    close(dir);
    if (r < 0)
        return r;
    while ((r = flock(fd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
        ;
    if (r < 0 && errno == EWOULDBLOCK && wait) {
        fprintf(stderr, "hrcached: heap %s is served by another hrcached "
                "of this site: waiting for it to end\n", name);
        while ((r = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
            ;
    }
    if (r < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    return 0;                   /* fd stays open: the lock is the process's */
}
