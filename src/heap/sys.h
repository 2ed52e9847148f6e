/* SPDX-License-Identifier: MIT */
/*
 * sys.h - the heap's system calls, through the OS layer (src/os/os.h).
 */
#ifndef HR_HEAP_SYS_H
#define HR_HEAP_SYS_H

#include <stdint.h>

#include "view.h"

/* DISK: msync the pages under [off, off+len) (and record them if
 * HR_HEAP_FLUSHLOG is set); RAM: nothing.  0 or -errno. */
int hh_os_flush(struct hr_heap *h, uint64_t off, uint64_t len);
/* Record a commit marker (HR_HEAP_FLUSHLOG). */
void hh_os_record_commit(struct hr_heap *h);
/* Start recording if HR_HEAP_FLUSHLOG is set. */
void hh_os_record_open(struct hr_heap *h);
/* Stop recording: the record closed, the copy freed. */
void hh_os_record_close(struct hr_heap *h);
/* The boot id: the lock of a DISK heap is valid only under the boot that
 * made it.  0, or -errno when it cannot be read (never a made-up id). */
int hh_os_boot_id(uint8_t id[16]);
/* Take the open lock of the heap at offset `where` of the bank file:
 * its descriptor, or -errno. */
int hh_os_open_lock(const char *bank_path, uint64_t where);
void hh_os_open_unlock(int fd);

#endif
