/* SPDX-License-Identifier: MIT */
/*
 * aside.c - files made aside for a bank made anew, behind os.h: made
 * nameless (O_TMPFILE) and named once whole and locked, and the sweep of
 * those that dead makers left.
 *
 * Invariant: a maker holds its file's lock (pmm__os_lock) from before the
 * file has a name until it has published it, so that a sweep, which takes
 * a file whose PID names no process here and whose lock is free, never
 * takes a live maker's, even one in another pid namespace (whose PID
 * names another process here, or none).  Where the file system has no
 * nameless files, the maker creates the file by its name and locks it
 * just after: for that instant only its PID keeps it.
 */
#define _GNU_SOURCE
#include "os.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pmm__os_open_anon(int dir, int *fd)
{
    int r;
    do
        r = openat(dir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    while (r < 0 && errno == EINTR);
    if (r < 0) /* EISDIR: a kernel without O_TMPFILE took it for O_DIRECTORY */
        return errno == EISDIR || errno == EOPNOTSUPP ? -EOPNOTSUPP : -errno;
    *fd = r;
    return 0;
}

int pmm__os_link_anon(int fd, int dir, const char *name)
{
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    int r;
    do /* through /proc: linkat(fd, "", AT_EMPTY_PATH) needs a capability */
        r = linkat(AT_FDCWD, self, dir, name, AT_SYMLINK_FOLLOW);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno == ENOENT) /* no /proc mounted here */
        do
            r = linkat(fd, "", dir, name, AT_EMPTY_PATH);
        while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

/* The PID in the name of a file made aside, after its prefix: PID.R (R
 * 16 hex digits: create.c) or PID alone (the name an older version gave);
 * 0 for any other name. */
static pid_t aside_pid(const char *s)
{
    char *end;
    if (*s < '1' || *s > '9')
        return 0;
    long pid = strtol(s, &end, 10);
    if (*end == '.' && strspn(end + 1, "0123456789abcdef") == 16)
        end += 17;
    return *end || pid > INT_MAX ? 0 : (pid_t)pid;
}

/* Left by a dead maker: named PREFIX<pid>[.R] with no such process, and
 * its lock free (a live maker holds it, whatever its pid namespace).  Our
 * own PID is no proof of life: the file is a dead maker's of our PID
 * (every maker of a container's controller is PID 1), a live one's of
 * another pid namespace, or another thread's of ours; the lock alone
 * tells (where a file is created by its name, not for the instant before
 * its maker locks it: os.h). */
static int aside_dead(int dir, const char *name, size_t plen)
{
    pid_t pid = aside_pid(name + plen);
    if (!pid || (pid != getpid() && (kill(pid, 0) == 0 || errno != ESRCH)))
        return 0;
    struct stat st, now;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISREG(st.st_mode))
        return 0;
    int fd, dead = 0;
    do
        fd = openat(dir, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
                                   O_NOCTTY);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return 0;
    /* locked by us, and the name still that file (not a new maker's,
     * made under a reused pid since) */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        pmm__os_trylock(fd, 1) == 0 &&
        fstatat(dir, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
        now.st_dev == st.st_dev && now.st_ino == st.st_ino)
        dead = unlinkat(dir, name, 0) == 0;
    close(fd);
    return dead;
}

int pmm__os_sweep_aside(int dir, const char *name)
{
    char prefix[300];
    if (snprintf(prefix, sizeof prefix, "%s.new.", name) >= (int)sizeof prefix)
        return -ENAMETOOLONG;
    int fd; /* a description of its own: closedir() closes it */
    do
        fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = -errno;
        close(fd);
        return e;
    }
    size_t plen = strlen(prefix);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strncmp(e->d_name, prefix, plen) == 0)
            n += aside_dead(fd, e->d_name, plen);
    closedir(d);
    return n;
}
