/* SPDX-License-Identifier: MIT */
/*
 * names.h - what names, keys and media a caller may use.
 */
#ifndef HR_PMM_NAMES_H
#define HR_PMM_NAMES_H

#include <stddef.h>

/* 1 if name is non-empty and NUL-terminated within max bytes. */
int pmm__name_ok(const char *name, size_t max);
/* 1 for a system key ("__SYS..."), which only the controller may use. */
int pmm__is_sys_key(const void *key, size_t keylen);
/* 1 for HR_GROUP_KEY spelled out. */
int pmm__is_group_key(const void *key, size_t keylen);
/* PMM_KIND_RAM or PMM_KIND_DISK for "RAM" or "DISK"; 0 for anything else. */
int pmm__medium_kind(const char *medium);
/* The caller's restart group: an actor's as it started (ident.c), else
 * from $HR_GROUP; K_EINVAL if absent or bad. */
int pmm__group_from_env(int *group);

#endif
