/* SPDX-License-Identifier: MIT */
/*
 * mem.c - mappings and the address space, behind os.h.
 */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

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
    if (msync(addr, len, MS_SYNC) < 0)
        return -errno;
    pmm__os_tap_call(PMM_OS_T_MSYNC, -1, addr, len, 0); /* a test's count */
    return 0;
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
