/* SPDX-License-Identifier: MIT */
/*
 * alloc.h - allocating or retrieving a block (pmm_alloc() is public), and
 * the controller's call for system and group blocks.
 */
#ifndef HR_PMM_ALLOC_H
#define HR_PMM_ALLOC_H

#include <stddef.h>

#include <hotrestart/pmm.h>

/* pmm_alloc() that may use "__SYS" keys (PMM_B_SYSTEM blocks) and, with
 * PMM_GROUP, names the group instead of reading the caller's HR_GROUP.
 * Errors as pmm_alloc(). */
int pmm__alloc_sys(pmm_bank *b, const char *name, size_t size,
                   const void *key, size_t keylen, unsigned flags, int group,
                   void **addr, pmm_block *info);

#endif
