/* SPDX-License-Identifier: MIT */
/*
 * sys.c - every system call of the persistent heap, none on the RAM
 * update path; each goes through the library's OS layer (src/os/os.h).
 *
 *  - hh_os_flush: msync of the pages under a range (DISK only).  With
 *    HR_HEAP_FLUSHLOG=path set when the heap is opened, each flush also
 *    appends to that file every page of the block that changed since the
 *    last flush (HH_RECORD_PAGE: what the kernel might have written back on
 *    its own by then), then {offset, length, the bytes} of the flush, and
 *    each commit a marker, so that a test can rebuild the block as a power
 *    cut at any flush could have left it (tests/test_heap_disk.c).
 *  - the boot id (/proc/sys/kernel/random/boot_id, or HR_HEAP_BOOT_ID for
 *    the power-cut test) that tells a DISK heap's lock from a past boot;
 *  - the open lock: an OFD lock on one byte of the bank file far beyond its
 *    end, one byte per heap, held while a heap is formatted or its lock
 *    remade.  The kernel drops it when its holder dies; pmm locks byte 0
 *    only (PMM_LOCK_BYTE), so the two never meet.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "os/os.h"
#include "sys.h"

#define HH_RECORD_COMMIT UINT64_MAX
#define HH_RECORD_PAGE (1ull << 63) /* | offset: a page as memory holds it */

static void record(struct hr_heap *h, uint64_t off, uint64_t len,
                   const void *bytes)
{
    uint64_t head[2] = {off, len};
    if (pmm__os_write_all(h->record_fd, head, sizeof head) < 0 ||
        (bytes && pmm__os_write_all(h->record_fd, bytes, len) < 0)) {
        pmm__os_close(h->record_fd); /* a broken record must not pass for whole */
        h->record_fd = -1;
    }
}

/* The pages that changed in memory since the last flush. */
static void record_pages(struct hr_heap *h)
{
    for (uint64_t off = 0; off < h->size && h->record_fd >= 0; off += h->page)
        if (memcmp(h->base + off, h->record_snap + off, h->page) != 0) {
            memcpy(h->record_snap + off, h->base + off, h->page);
            record(h, HH_RECORD_PAGE | off, h->page, h->base + off);
        }
}

int hh_os_flush(struct hr_heap *h, uint64_t off, uint64_t len)
{
    if (!h->durable || !len)
        return 0;
    uint64_t lo = off & ~(h->page - 1);
    uint64_t hi = (off + len + h->page - 1) & ~(h->page - 1);
    if (hi > h->size)
        hi = h->size;
    if (h->record_fd >= 0) {
        pthread_mutex_lock(&h->record_mu);
        record_pages(h);
        record(h, lo, hi - lo, h->base + lo);
        pthread_mutex_unlock(&h->record_mu);
    }
    return pmm__os_msync(h->base + lo, hi - lo);
}

void hh_os_record_commit(struct hr_heap *h)
{
    if (h->record_fd >= 0) {
        pthread_mutex_lock(&h->record_mu);
        record(h, HH_RECORD_COMMIT, 0, NULL);
        pthread_mutex_unlock(&h->record_mu);
    }
}

/* Start recording if HR_HEAP_FLUSHLOG is set: h->record_fd, and a copy of
 * the block as it is now to see which pages change. */
void hh_os_record_open(struct hr_heap *h)
{
    const char *path = getenv("HR_HEAP_FLUSHLOG");
    h->record_fd = -1;
    if (!path || !*path || !(h->record_snap = malloc(h->size)))
        return;
    memcpy(h->record_snap, h->base, h->size);
    if (pmm__os_open_append(path, &h->record_fd) < 0)
        h->record_fd = -1;
}

void hh_os_record_close(struct hr_heap *h)
{
    if (h->record_fd >= 0)
        pmm__os_close(h->record_fd);
    h->record_fd = -1;
    free(h->record_snap);
    h->record_snap = NULL;
}

/* 16 bytes from a boot id string: its hex digits, hashed if it is not one */
static void id_from(const char *s, uint8_t id[16])
{
    memset(id, 0, 16);
    uint64_t hsh = 1469598103934665603ull;
    for (unsigned i = 0; *s; s++) {
        int v = *s >= '0' && *s <= '9' ? *s - '0'
              : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;
        hsh = (hsh ^ (uint8_t)*s) * 1099511628211ull;
        if (v >= 0 && i < 32) {
            id[i / 2] |= (uint8_t)(v << (i % 2 ? 0 : 4));
            i++;
        }
    }
    for (int i = 0; i < 8; i++)
        id[i] ^= (uint8_t)(hsh >> (8 * i));
}

int hh_os_boot_id(uint8_t id[16])
{
    static uint8_t cached[16];
    static int have; /* cached is filled: threads may race, each writes the
                      * same bytes before it publishes them */
    const char *test = getenv("HR_HEAP_BOOT_ID");
    if (test && *test) {
        id_from(test, id);
        return 0;
    }
    if (!__atomic_load_n(&have, __ATOMIC_ACQUIRE)) {
        /* a failed read (no descriptor left, no /proc) is an error, never
         * a boot id: taken for another boot's, it would make the opener
         * remake the lanes under their live holders */
        char buf[64];
        int r = pmm__os_read_file("/proc/sys/kernel/random/boot_id", buf,
                                  sizeof buf);
        if (r < 0)
            return r;
        id_from(buf, cached);
        __atomic_store_n(&have, 1, __ATOMIC_RELEASE);
    }
    memcpy(id, cached, 16);
    return 0;
}

#define HH_OPEN_LOCK_BASE (1ull << 60)

int hh_os_open_lock(const char *bank_path, uint64_t where)
{
    int fd;
    int r = pmm__os_open(bank_path, 0, 0, &fd);
    if (r < 0)
        return r;
    r = pmm__os_lock_byte(fd, HH_OPEN_LOCK_BASE + where);
    if (r < 0) {
        pmm__os_close(fd);
        return r;
    }
    return fd;
}

void hh_os_open_unlock(int fd)
{
    pmm__os_close(fd); /* drops the OFD lock with its open file description */
}
