/* SPDX-License-Identifier: MIT */
/*
 * bank.h - opening a bank file by path.
 */
#ifndef HR_PMM_BANK_H
#define HR_PMM_BANK_H

#include <hotrestart/pmm.h>

#include "view.h"

/* Open the bank file at path as medium (read-only with rdonly), or share
 * this process's handle to it.  A writer recovers a dead writer's update
 * first.  -ENOENT no such file (what it means, a RAM bank not made yet
 * or a DISK bank gone, is the caller's to say), K_EPRIV not the caller's
 * or open to others, K_EBANK damaged header (and no intact backup), -errno.  Closed
 * with pmm_bank_close(). */
/* Is the file name in dir a bank of kind (PMM_KIND_*), owned by uid: a
 * regular file (a link is not followed, nor a FIFO opened) whose header
 * has the banks' magic?  Its other fields may be damaged or of another
 * version: a bank all the same, to remove with its site.  1 and the file
 * looked at in *dev, *ino (either may be NULL), or 0. */
int pmm__bank_of(int dir, const char *name, uint32_t kind, uid_t uid,
                 dev_t *dev, ino_t *ino);
int pmm__bank_open_path(pmm_bank **out, const char *path, const char *medium,
                        int rdonly);
/* One more reference to an open bank b (a heap's handle holds one, so
 * that the bank's last pmm_bank_close() does not unmap its block under
 * it), given back with pmm_bank_close(). */
void pmm__bank_ref(pmm_bank *b);

#endif
