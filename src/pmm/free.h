/* SPDX-License-Identifier: MIT */
/*
 * free.h - freeing blocks (pmm_free() and pmm_free_key() are public), and
 * the controller's calls for system and group blocks.
 */
#ifndef HR_PMM_FREE_H
#define HR_PMM_FREE_H

#include <stddef.h>

#include <hotrestart/pmm.h>

/* pmm_free() that may free system blocks. */
int pmm__free_sys(pmm_bank *b, const char *name);
/* Free every PMM_B_GROUP block of group (none is not an error); *nfreed
 * (when given) counts them.  K_EFAULT, K_EBANK, -errno. */
int pmm__free_group(pmm_bank *b, int group, size_t *nfreed);

#endif
