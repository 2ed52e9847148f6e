/* SPDX-License-Identifier: MIT */
/*
 * helloRestart.c - the guide's "hello world" restartable actor (B.2.1), as
 * the guide writes it, compiled against the installed headers by
 * tests/guide_check.sh.
 *
 * Replaced in this copy, having no meaning on Linux: the ChorusOS kernel
 * headers and calls rgnAllocate(K_MYACTOR, &rgn) with KnRgnDesc,
 * K_ANYWHERE | K_RESERVED and vmPageSize() (a reserved, inaccessible
 * region to crash on): mmap() of one PROT_NONE page with getpagesize().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pmm/chPmm.h>
#include <hr/hr.h>

#define HR_GROUP "HELLO_GROUP"

int main(void)
{
    PmmName name;
    int *counter_p;
    long *p;
    long any = 1;
    KnError res;

    bzero(&name, sizeof(name));
    strcpy(name.medium, "RAM");
    strcpy(name.name, "PM1");

    /* rgnAllocate(K_MYACTOR, &rgn), rgn.options = K_ANYWHERE | K_RESERVED,
     * rgn.size = vmPageSize(), in the guide */
    p = (long *)mmap(NULL, (size_t)getpagesize(), PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == (long *)MAP_FAILED) {
        printf("Cannot allocate a region\n");
        HR_EXIT_HDL();
        exit(-1);
    }

    res = pmmAllocate((VmAddr *)&counter_p, &name, sizeof(int), HR_GROUP,
                      sizeof(HR_GROUP));
    if (res != K_OK) {
        printf("Cannot allocate or map the persistent memory block called "
               "%s. Error = %d\n", name.name, res);
        HR_EXIT_HDL();
        exit(-1);
    }

    if (*counter_p == 0) {
        printf("Hello world!\n");
        fflush(stdout);
        (*counter_p)++;
        *p = any; /* segmentation fault: the group is restarted */
    }

    printf("Hello again! I have been restarted.\n");
    fflush(stdout);
    pmmFree(&name);
    HR_EXIT_HDL();
    exit(0);
}
