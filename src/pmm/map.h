/* SPDX-License-Identifier: MIT */
/*
 * map.h - the blocks mapped in this process.
 *
 * The table calls need b->mu held; pmm__unmap() takes it.
 */
#ifndef HR_PMM_MAP_H
#define HR_PMM_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "view.h"

/* The slot of name (whose pmm__name_hash() is hash), or NULL. */
struct pmm_map *pmm__map_find(struct pmm_bank *b, const char *name,
                              uint64_t hash);
/* Remember a mapping; -ENOMEM if the table cannot grow. */
int pmm__map_add(struct pmm_bank *b, const char *name, uint64_t hash,
                 uint32_t idx, uint32_t gen, void *addr, size_t len,
                 int elsewhere);
/* Unmap the block and forget the slot. */
void pmm__map_drop(struct pmm_map *m);
/* Map entry e's pages at their fixed address if that range is free here,
 * else anywhere (*elsewhere says which).  -errno from mmap. */
int pmm__map_block(struct pmm_bank *b, const struct pmm_entry *e, void **addr,
                   int *elsewhere);
/* Unmap every block and empty the table (the bank is being closed). */
void pmm__map_clear(struct pmm_bank *b);
/* Unmap name's block from this process, if mapped; it stays in the bank. */
void pmm__unmap(struct pmm_bank *b, const char *name);

#endif
