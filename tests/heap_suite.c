/* SPDX-License-Identifier: MIT */
/*
 * heap_suite.c - what the heap test suites share around their tests (see
 * heap_suite.h): one copy of the site, the opening and the collecting that
 * each suite had written out again.
 */
#include "heap_suite.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "heap_work.h"

char hs_seen[4096];

pmm_bank *hs_site(void)
{
    site_new(16 << 20, 64);
    return bank_open();
}

hr_heap *hs_open(pmm_bank *b, const char *name, size_t size)
{
    hr_heap *h;
    int r = hr_heap_open(&h, b, name, size, "k", 1, 0);
    cr_assert_eq(r, 0, "open: %s", pmm_strerror(r));
    return h;
}

hr_heap *hs_open_own(pmm_bank **b, const char *name, size_t size)
{
    cr_assert_eq(pmm_bank_open(b, NULL, "RAM", 0), 0);
    return hs_open(*b, name, size);
}

int hs_open_plain(hr_heap **h, const char *name, size_t size)
{
    pmm_bank *b;
    int r = pmm_bank_open(&b, NULL, "RAM", 0);
    return r ? r : hr_heap_open(h, b, name, size, "k", 1, 0);
}

void hs_assert_clean(hr_heap *h)
{
    char why[256];
    cr_assert_eq(hw_verify(h, why, sizeof why), 0, "%s", why);
}

void hs_collect(const char *problem, void *arg)
{
    (void)arg;
    fprintf(stderr, "  problem: %s\n", problem);
    size_t used = strlen(hs_seen);
    if (used + 2 >= sizeof hs_seen)
        return; /* full: the first problems are kept (and printed above) */
    strncat(hs_seen, problem, sizeof hs_seen - used - 2);
    strcat(hs_seen, "\n");
}
