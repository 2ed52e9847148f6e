/* SPDX-License-Identifier: MIT */
/*
 * behind.c - planted for the tool_doors_refuse test: a tool file that
 * reaches behind the library's doors, by a private header (found through
 * a relative path, no include directory needed) and an internal call.
 */
#include <stddef.h>

#include "../../../src/os/os.h"

size_t planted_page(void);

size_t planted_page(void)
{
    return pmm__os_page_size();
}
