/*
 * os.c - system calls behind the contract of os.h.
 */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

int pmm__os_open(const char *path, int rdonly, int create_excl, int *fd)
{
    int flags = (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW;
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

static int lock_op(int fd, int cmd, short type)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET,
                       .l_start = 0, .l_len = 1};
    int r;
    do
        r = fcntl(fd, cmd, &fl);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

int pmm__os_lock(int fd, int write)
{
    return lock_op(fd, F_OFD_SETLKW, write ? F_WRLCK : F_RDLCK);
}

int pmm__os_trylock(int fd, int write)
{
    int r = lock_op(fd, F_OFD_SETLK, write ? F_WRLCK : F_RDLCK);
    return r == -EACCES ? -EAGAIN : r;
}

int pmm__os_unlock(int fd)
{
    return lock_op(fd, F_OFD_SETLK, F_UNLCK);
}

int pmm__os_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
    const char *p = buf;
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
    return r < 0 ? -errno : 0;
}

int pmm__os_sync(int fd)
{
    int r;
    do
        r = fdatasync(fd);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
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
    return r < 0 ? -errno : 0;
}

int pmm__os_map_ro(int fd, size_t len, uintptr_t want, const void **out)
{
    void *p = mmap((void *)want, len, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
    if (p != MAP_FAILED && (uintptr_t)p != want) { /* kernels before 4.17 */
        munmap(p, len);
        p = MAP_FAILED;
    }
    if (p == MAP_FAILED)
        p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    *out = p;
    return 0;
}

void pmm__os_unmap(const void *addr, size_t len)
{
    if (addr)
        munmap((void *)addr, len);
}

int pmm__os_map_block(int fd, uint64_t off, size_t len, uintptr_t addr,
                      int fixed, void **out)
{
    void *p = mmap(fixed ? (void *)addr : NULL, len, PROT_READ | PROT_WRITE,
                   MAP_SHARED | (fixed ? MAP_FIXED_NOREPLACE : 0), fd, (off_t)off);
    if (p == MAP_FAILED)
        return -errno;
    if (fixed && (uintptr_t)p != addr) { /* kernels before 4.17: a hint */
        munmap(p, len);
        return -EEXIST;
    }
    *out = p;
    return 0;
}

int pmm__os_unmap_block(void *addr, size_t len)
{
    return munmap(addr, len) < 0 ? -errno : 0;
}

int pmm__os_msync(void *addr, size_t len)
{
    return msync(addr, len, MS_SYNC) < 0 ? -errno : 0;
}

int pmm__os_range_free(uintptr_t addr, uint64_t len)
{
    void *p = mmap((void *)addr, len, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (p == MAP_FAILED)
        return 0;
    munmap(p, len);
    return (uintptr_t)p == addr; /* before 4.17 the address was a hint */
}

int pmm__os_random(void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

uint64_t pmm__os_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Threads may race to fill the cache: each stores the same value. */
size_t pmm__os_page_size(void)
{
    static size_t page;
    size_t p = __atomic_load_n(&page, __ATOMIC_RELAXED);
    if (!p) {
        p = (size_t)sysconf(_SC_PAGESIZE);
        __atomic_store_n(&page, p, __ATOMIC_RELAXED);
    }
    return p;
}

int pmm__os_close(int fd)
{
    /* Linux frees the descriptor even when close() reports EINTR: never
     * retry, another thread may already have the number. */
    return close(fd) < 0 && errno != EINTR ? -errno : 0;
}

int pmm__os_link(const char *from, const char *to)
{
    return link(from, to) < 0 ? -errno : 0;
}

int pmm__os_unlink(const char *path)
{
    return unlink(path) < 0 ? -errno : 0;
}

int pmm__os_mkdir(const char *path, mode_t mode)
{
    return mkdir(path, mode) < 0 ? -errno : 0;
}

int pmm__os_rmdir(const char *path)
{
    return rmdir(path) < 0 ? -errno : 0;
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

int pmm__os_read_file(const char *path, char *buf, size_t cap)
{
    int fd, r = 0;
    size_t have = 0;
    if (cap == 0)
        return -EFBIG;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
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
    return r;
}

int pmm__os_write_file(const char *path, const void *buf, size_t len)
{
    const char *p = buf;
    int fd, r = 0;
    do
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
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
    return r;
}

static int self_pid; /* 0 until read; cleared in a forked child */
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void pid_forget(void)
{
    __atomic_store_n(&self_pid, 0, __ATOMIC_RELAXED);
}

static void pid_watch_forks(void)
{
    pthread_atfork(NULL, NULL, pid_forget);
}

int pmm__os_pid(void)
{
    int pid = __atomic_load_n(&self_pid, __ATOMIC_RELAXED);
    if (!pid) {
        pthread_once(&pid_once, pid_watch_forks); /* before the first fill */
        pid = (int)getpid();
        __atomic_store_n(&self_pid, pid, __ATOMIC_RELAXED);
    }
    return pid;
}

uid_t pmm__os_euid(void)
{
    return geteuid();
}

void pmm__os_yield(void)
{
    sched_yield();
}

void pmm__os_die(void)
{
    kill(getpid(), SIGKILL);
    for (;;)
        pause(); /* SIGKILL is never blocked: not reached */
}
