/*
 * os.h - every system call the library makes, behind one small interface.
 *
 * Contract: each function returns 0 (or a count) on success and -errno on
 * failure, retries EINTR itself, and never leaves a half-done effect that the
 * caller cannot see: a short pwrite is completed or reported.
 */
#ifndef HR_OS_H
#define HR_OS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Open a bank file read-write (or read-only), close-on-exec. */
int pmm__os_open(const char *path, int rdonly, int create_excl, int *fd);
/* Writer lock on the bank: an open-file-description lock the kernel drops
 * when the holder dies.  `write` 0 takes it shared (the checker). */
int pmm__os_lock(int fd, int write);
int pmm__os_trylock(int fd, int write); /* -EAGAIN when held */
int pmm__os_unlock(int fd);
int pmm__os_pwrite(int fd, const void *buf, size_t len, uint64_t off);
int pmm__os_pread(int fd, void *buf, size_t len, uint64_t off);
int pmm__os_size(int fd, uint64_t *size, uid_t *uid, mode_t *mode,
                 dev_t *dev, ino_t *ino);
int pmm__os_truncate(int fd, uint64_t size);
/* Make file data and metadata durable. */
int pmm__os_sync(int fd);
/* Give pages back to the file system: they read as zero afterwards. */
int pmm__os_punch(int fd, uint64_t off, uint64_t len);
/* Read-only shared mapping of the metadata. */
/* read-only at want if that range is free, else anywhere */
int pmm__os_map_ro(int fd, size_t len, uintptr_t want, const void **out);
void pmm__os_unmap(const void *addr, size_t len);
/* Map len bytes of fd at off read-write and shared.  With fixed, exactly at
 * addr, never over an existing mapping: -EEXIST if any of it is taken;
 * else anywhere. */
int pmm__os_map_block(int fd, uint64_t off, size_t len, uintptr_t addr,
                      int fixed, void **out);
int pmm__os_unmap_block(void *addr, size_t len);
int pmm__os_msync(void *addr, size_t len);
int pmm__os_random(void *buf, size_t len);
/* 1 if [addr, addr + len) holds no mapping of this process */
int pmm__os_range_free(uintptr_t addr, uint64_t len);
uint64_t pmm__os_now_ns(void);
size_t pmm__os_page_size(void);

#endif
