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
 * first.  K_EUNKNOWN no such file, K_EPRIV not the caller's or open to
 * others, K_EBANK damaged header (and no intact backup), -errno.  Closed
 * with pmm_bank_close(). */
int pmm__bank_open_path(pmm_bank **out, const char *path, const char *medium,
                        int rdonly);

#endif
