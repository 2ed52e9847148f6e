/* SPDX-License-Identifier: MIT */
/*
 * create.h - making a new bank file.
 */
#ifndef HR_PMM_CREATE_H
#define HR_PMM_CREATE_H

#include <stdint.h>
#include <sys/types.h>

/* A new bank's kind (PMM_KIND_*), size bytes of block space, room for
 * max_blocks blocks, huge pages as huge (PMM_HUGE_*) says, and where to
 * say why PMM_HUGE_ON cannot be had (NULL: nowhere). */
struct pmm__bank_want {
    int kind;
    uint64_t size;
    uint64_t max_blocks;
    int huge;
    const char **why;
};

/* Make a bank of kind (PMM_KIND_*) with size bytes of block space and room
 * for max_blocks blocks at path, for huge pages as huge (PMM_HUGE_*) says.
 * K_EEXIST if a bank is already there (made by a racing process, perhaps:
 * use that one); K_EINVAL for tunables out of range; -EOPNOTSUPP for
 * PMM_HUGE_ON where the file system gives no huge pages, and *why (when
 * given) says why; -errno from the file system. */
int pmm__bank_create_file(const char *path, int kind, uint64_t size,
                          uint64_t max_blocks, int huge, const char **why);
/* The same, named name inside the directory dir (held open: every file
 * is named inside it), the caller's (root making a bank for a site it
 * does not own acts as its owner first: pmm__os_as_owner). */
int pmm__bank_create_at(int dir, const char *name,
                        const struct pmm__bank_want *w);
/* The same bank made aside in dir and renamed over the bank name there,
 * which it replaces in one step (crash point remake.aside just before). */
int pmm__bank_replace_at(int dir, const char *name,
                         const struct pmm__bank_want *w);

#endif
