/* SPDX-License-Identifier: MIT */
/*
 * keep_block.c - allocate the RAM block named argv[1] (one page) in the
 * site of $HR_SITE and leave it there, for the completion check
 * (tests/check_completion.sh), which wants a block name to be offered.
 * Built against the installed headers by scripts/package_check.sh too.
 */
#include <pmm/chPmm.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    PmmName n = {"RAM", ""};
    VmAddr a;
    if (argc != 2 || strlen(argv[1]) >= sizeof n.name) {
        fprintf(stderr, "usage: keep_block NAME (at most %zu bytes)\n",
                sizeof n.name - 1);
        return 2;
    }
    strcpy(n.name, argv[1]);
    KnError r = pmmAllocate(&a, &n, 1, "keep", sizeof "keep");
    if (r != K_OK) {
        fprintf(stderr, "keep_block: %s: %s\n", argv[1], pmm_strerror(r));
        return 1;
    }
    return 0;
}
