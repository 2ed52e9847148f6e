/* SPDX-License-Identifier: MIT */
/*
 * at.c - directories walked without following another's link, and files
 * named inside a directory held open, behind os.h.
 *
 * Why: a file looked at and then acted on (removed, replaced) is named
 * inside a descriptor of its directory, opened once, and removed only
 * while its name still holds the file that was looked at
 * (pmm__os_unlink_same); a FIFO named there is never waited for.  Whose
 * rights these calls use is the caller's affair: root acting on another
 * user's site takes that user's (cred.c), so the user's own links are
 * followed as the user would follow them, and lead nowhere the user could
 * not reach.
 */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* 1 when only root or we may change what directory fd holds: a link there
 * can be followed. */
static int trusted(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && (st.st_uid == 0 || st.st_uid == geteuid()) &&
           !(st.st_mode & 022);
}

int pmm__os_open_dir(const char *path, int create, int *made)
{
    char p[4096], *save = NULL;
    struct stat st;
    if (made)
        *made = 0;
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return -ENAMETOOLONG;
    /* the way there is only passed through (O_PATH: a parent of mode 0711
     * will do); the directory itself is opened for reading */
    char *part = strtok_r(p, "/", &save);
    int fd = open(p[0] == '/' ? "/" : ".",
                  (part ? O_PATH : O_RDONLY) | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    while (part && fd >= 0) {
        char *more = strtok_r(NULL, "/", &save);
        int flags = more ? (DIR_FLAGS & ~O_RDONLY) | O_PATH : DIR_FLAGS;
        int next = openat(fd, part, flags);
        int mine = 0;
        if (next < 0 && errno == ENOENT && create) { /* ours to make */
            mine = mkdirat(fd, part, 0700) == 0;
            next = !mine && errno != EEXIST ? -1 : openat(fd, part, flags);
            if (next >= 0 && (fstat(next, &st) < 0 || st.st_uid != geteuid())) {
                close(next); /* not the one we made */
                next = -1;
                errno = EPERM;
            }
        } else if (next < 0 && (errno == ELOOP || errno == ENOTDIR) &&
                   more && trusted(fd)) { /* a link, or no dir */
            next = openat(fd, part, (flags & ~O_NOFOLLOW));
        }
        int e = errno;
        close(fd);
        fd = next < 0 ? -e : next;
        part = more;
        if (made) /* the parts at the end that this call made */
            *made = mine ? *made + 1 : 0;
    }
    return fd;
}

void pmm__os_unmake_dirs(const char *path, int made)
{
    char p[4096], in[4100];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return;
    for (; made > 0; made--) {
        size_t len = strlen(p);
        while (len > 1 && p[len - 1] == '/')
            p[--len] = 0;
        char *slash = strrchr(p, '/'), *name = slash ? slash + 1 : p;
        const char *parent = !slash ? "." : slash == p ? "/" : p;
        if (slash && slash != p)
            *slash = 0;
        /* named inside its parent, walked as the making walked it (the
         * parent a part on the way: followed where a link may be) */
        snprintf(in, sizeof in, "%s/.", parent);
        int dir = pmm__os_open_dir(in, 0, NULL);
        int r = dir < 0 ? -1 : unlinkat(dir, name, AT_REMOVEDIR);
        if (dir >= 0)
            close(dir);
        if (r < 0 || parent != p) /* not empty or not there: left alone */
            return;
    }
}

int pmm__os_hold_dir(const char *path)
{
    int fd;
    do
        fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

int pmm__os_open_parent(const char *path, char *name, size_t cap)
{
    char dir[4096];
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') /* "site/" names "site" */
        len--;
    const char *end = memrchr(path, '/', len);
    const char *base = end ? end + 1 : path;
    size_t blen = len - (size_t)(base - path);
    size_t dlen = end ? (end == path ? 1 : (size_t)(end - path)) : 1;
    if (blen == 0 || blen >= cap || dlen >= sizeof dir)
        return blen == 0 ? -EINVAL : -ENAMETOOLONG;
    memcpy(dir, end ? path : ".", dlen);
    dir[dlen] = 0;
    memcpy(name, base, blen);
    name[blen] = 0;
    /* every link followed, as open() follows them; only passed through
     * (O_PATH): a directory the caller may write or search but not read,
     * a drop directory of mode 1733, will do */
    int fd;
    do
        fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

int pmm__os_openat(int dir, const char *name, int rdonly, int create_excl,
                   int *fd)
{
    int flags = (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW |
                O_NONBLOCK | O_NOCTTY;
    if (create_excl)
        flags |= O_CREAT | O_EXCL;
    int r;
    do
        r = openat(dir, name, flags, 0600);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    *fd = r;
    return 0;
}

int pmm__os_statat(int dir, const char *name, uid_t *uid, mode_t *mode,
                   dev_t *dev, ino_t *ino)
{
    struct stat st;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if (uid)
        *uid = st.st_uid;
    if (mode)
        *mode = st.st_mode;
    if (dev)
        *dev = st.st_dev;
    if (ino)
        *ino = st.st_ino;
    return 0;
}

int pmm__os_unlinkat(int dir, const char *name)
{
    return unlinkat(dir, name, 0) < 0 ? -errno : 0;
}

int pmm__os_unlink_same(int dir, const char *name, int is_dir, dev_t dev,
                        ino_t ino)
{
    struct stat st;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if (st.st_dev != dev || st.st_ino != ino)
        return -ESTALE;
    return unlinkat(dir, name, is_dir ? AT_REMOVEDIR : 0) < 0 ? -errno : 0;
}

int pmm__os_linkat(int dir, const char *from, const char *to)
{
    return linkat(dir, from, dir, to, 0) < 0 ? -errno : 0;
}

int pmm__os_renameat(int dir, const char *from, const char *to)
{
    return renameat(dir, from, dir, to) < 0 ? -errno : 0;
}
