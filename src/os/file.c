/* SPDX-License-Identifier: MIT */
/*
 * file.c - files, directories and the bank's lock, behind os.h.
 */
#define _GNU_SOURCE
#include "os.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void tap(int what, int fd, const void *buf, size_t len, uint64_t off)
{
    pmm__os_tap_call(what, fd, buf, len, off);
}

int pmm__os_open(const char *path, int rdonly, int create_excl, int *fd)
{
    /* a FIFO or a device named there is opened without waiting, for the
     * caller's pmm__os_size to refuse (a FIFO would hang the open) */
    int flags = (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW |
                O_NONBLOCK | O_NOCTTY;
    if (create_excl)
        flags |= O_CREAT | O_EXCL;
    int r;
    do
        r = open(path, flags, 0600);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    *fd = r;
    return 0;
}

static int lock_op(int fd, int cmd, short type, uint64_t byte)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET,
                       .l_start = (off_t)byte, .l_len = 1};
    int r;
    do
        r = fcntl(fd, cmd, &fl);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

int pmm__os_lock(int fd, int write)
{
    return lock_op(fd, F_OFD_SETLKW, write ? F_WRLCK : F_RDLCK, 0);
}

int pmm__os_trylock(int fd, int write)
{
    int r = lock_op(fd, F_OFD_SETLK, write ? F_WRLCK : F_RDLCK, 0);
    return r == -EACCES ? -EAGAIN : r;
}

int pmm__os_lock_held(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 1};
    if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
        return -errno;
    return fl.l_type != F_UNLCK;
}

int pmm__os_unlock(int fd)
{
    return lock_op(fd, F_OFD_SETLK, F_UNLCK, 0);
}

int pmm__os_lock_byte(int fd, uint64_t byte)
{
    return lock_op(fd, F_OFD_SETLKW, F_WRLCK, byte);
}

int pmm__os_trylock_byte(int fd, uint64_t byte, int how)
{
    int r = lock_op(fd, F_OFD_SETLK,
                    how > 0 ? F_WRLCK : how == 0 ? F_RDLCK : F_UNLCK, byte);
    return r == -EACCES ? -EAGAIN : r;
}

int pmm__os_chown(int fd, uid_t uid)
{
    return fchown(fd, uid, (gid_t)-1) < 0 ? -errno : 0;
}

int pmm__os_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
    const char *p = buf;
    size_t all = len;
    uint64_t at = off;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    tap(PMM_OS_T_WRITE, fd, buf, all, at);
    return 0;
}

int pmm__os_pread(int fd, void *buf, size_t len, uint64_t off)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -ENODATA;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int pmm__os_size(int fd, uint64_t *size, uid_t *uid, mode_t *mode, dev_t *dev,
                 ino_t *ino)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (size)
        *size = (uint64_t)st.st_size;
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

int pmm__os_truncate(int fd, uint64_t size)
{
    int r;
    do
        r = ftruncate(fd, (off_t)size);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    tap(PMM_OS_T_SIZE, fd, NULL, 0, size);
    return 0;
}

int pmm__os_sync(int fd)
{
    int r;
    do
        r = fdatasync(fd);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    tap(PMM_OS_T_SYNC, fd, NULL, 0, 0);
    return 0;
}

int pmm__os_punch(int fd, uint64_t off, uint64_t len)
{
    if (len == 0)
        return 0;
    int r;
    do
        r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      (off_t)off, (off_t)len);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    tap(PMM_OS_T_PUNCH, fd, NULL, (size_t)len, off);
    return 0;
}

int pmm__os_reserve(int fd, uint64_t off, uint64_t len)
{
    if (len == 0)
        return 0;
    int r;
    do
        r = fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
    while (r < 0 && errno == EINTR);
    return r < 0 && errno != EOPNOTSUPP ? -errno : 0;
}

int pmm__os_close(int fd)
{
    /* Linux frees the descriptor even when close() reports EINTR: never
     * retry, another thread may already have the number. */
    return close(fd) < 0 && errno != EINTR ? -errno : 0;
}

int pmm__os_rename(const char *from, const char *to)
{
    return rename(from, to) < 0 ? -errno : 0;
}

int pmm__os_unlink(const char *path)
{
    return unlink(path) < 0 ? -errno : 0;
}

int pmm__os_mkdir(const char *path, mode_t mode)
{
    return mkdir(path, mode) < 0 ? -errno : 0;
}

int pmm__os_lstat(const char *path, uid_t *uid, mode_t *mode)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return -errno;
    *uid = st.st_uid;
    *mode = st.st_mode;
    return 0;
}

static ssize_t read_retry(int fd, void *buf, size_t len)
{
    ssize_t n;
    do
        n = read(fd, buf, len);
    while (n < 0 && errno == EINTR);
    return n;
}

/* The whole of the file path (in dir, opened with flags besides), as
 * pmm__os_read_file says. */
static int read_len(int dir, const char *path, int flags, char *buf,
                    size_t cap, size_t *len)
{
    int fd, r = 0;
    size_t have = 0;
    if (cap == 0)
        return -EFBIG;
    do
        fd = openat(dir, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | flags);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    for (;;) {
        ssize_t n = read_retry(fd, buf + have, cap - have);
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        have += (size_t)n;
        if (have == cap) {
            r = -EFBIG;
            break;
        }
    }
    close(fd);
    buf[have < cap ? have : cap - 1] = 0;
    *len = have;
    return r;
}

int pmm__os_read_file(const char *path, char *buf, size_t cap)
{
    size_t len;
    return read_len(AT_FDCWD, path, 0, buf, cap, &len);
}

int pmm__os_read_file_at(int dir, const char *name, char *buf, size_t cap)
{
    size_t len;
    return read_len(dir, name, O_NOFOLLOW, buf, cap, &len);
}

int pmm__os_read_text(const char *path, char *buf, size_t cap)
{
    size_t len;
    int r = read_len(AT_FDCWD, path, 0, buf, cap, &len);
    return r == 0 && memchr(buf, 0, len) ? -EILSEQ : r;
}

int pmm__os_cloexec_from(int low)
{
#ifdef CLOSE_RANGE_CLOEXEC
    if (close_range((unsigned)low, ~0u, CLOSE_RANGE_CLOEXEC) == 0)
        return 0;
#endif
    /* older kernels: each open descriptor, as /proc lists them */
    int dirfd, r;
    do
        dirfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    while (dirfd < 0 && errno == EINTR);
    if (dirfd < 0)
        return -errno;
    DIR *d = fdopendir(dirfd);
    if (!d) {
        r = -errno;
        close(dirfd);
        return r;
    }
    for (struct dirent *e; (e = readdir(d));) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd >= low && fd != dirfd) {
            int fl = fcntl(fd, F_GETFD);
            if (fl >= 0)
                fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
        }
    }
    closedir(d);
    return 0;
}

int pmm__os_open_append(const char *path, int *fd)
{
    int r;
    do
        r = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    *fd = r;
    return 0;
}

int pmm__os_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int pmm__os_write_file(const char *path, const void *buf, size_t len)
{
    static unsigned serial; /* threads of one process: names of their own */
    char tmp[4200];
    const char *p = buf;
    int fd, r = 0;
    /* a name no other writer uses at once: two processes writing the file
     * together never write into, or rename, each other's temporary file */
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d.%u", path, (int)getpid(),
                 __atomic_fetch_add(&serial, 1, __ATOMIC_RELAXED)) >=
        (int)sizeof tmp)
        return -ENAMETOOLONG;
    do /* one left by a killed process of the same pid is written again */
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                  0600);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    if (fchmod(fd, 0600) < 0) /* one made 0644 by an older release */
        r = -errno;
    while (len > 0 && r == 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno != EINTR)
            r = -errno;
        else if (n == 0)
            r = -EIO;
        else if (n > 0) {
            p += n;
            len -= (size_t)n;
        }
    }
    if (close(fd) < 0 && r == 0 && errno != EINTR)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    return r;
}
