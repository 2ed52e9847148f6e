/* SPDX-License-Identifier: MIT */
/*
 * names.c - what names, keys and media a caller may use.
 *
 * Pure checks over the caller's arguments (and, for its group, the
 * environment the controller gave it): no bank is read here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hotrestart/pmm.h>
#include <pmm/chPmm.h>

#include "layout.h"
#include "ident.h"
#include "names.h"

int pmm__name_ok(const char *name, size_t max)
{
    return name[0] != 0 && memchr(name, 0, max) != NULL;
}

int pmm__is_sys_key(const void *key, size_t keylen)
{
    return keylen >= 5 && memcmp(key, "__SYS", 5) == 0;
}

int pmm__is_group_key(const void *key, size_t keylen)
{
    return keylen == HR_GROUP_KEYSIZE && memcmp(key, HR_GROUP_KEY, keylen) == 0;
}

int pmm__medium_kind(const char *medium)
{
    if (strcmp(medium, "RAM") == 0)
        return PMM_KIND_RAM;
    if (strcmp(medium, "DISK") == 0)
        return PMM_KIND_DISK;
    return 0;
}

int pmm__group_from_env(int *group)
{
    const char *v = getenv("HR_GROUP");
    char *end;
    if (pmm__ident_group(group)) /* an actor: its group, as it started */
        return K_OK;
    if (!v || !*v)
        return K_EINVAL;
    errno = 0;
    long g = strtol(v, &end, 10);
    if (errno || *end || g < 0 || g > 0x7fffffff)
        return K_EINVAL;
    *group = (int)g;
    return K_OK;
}
