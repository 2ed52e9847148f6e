/* SPDX-License-Identifier: MIT */
/*
 * helloRestart.c - the ChorusOS "hello world" restartable actor.
 *
 * First run: prints "Hello world!", counts itself in a persistent block and
 * crashes on purpose (a write through a bad pointer).  The controller
 * restarts its group; the second run finds the counter, prints "Hello
 * again! I have been restarted.", frees its block and exits cleanly.
 *
 *   hr arun -g 0 helloRestart
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <hr/hr.h>
#include <pmm/chPmm.h>

#define HR_GROUP "HELLO_GROUP"

int main(void)
{
    PmmName name = {"RAM", "PM1"};
    int *counter;
    /* a reserved, inaccessible page: writing there crashes (rgnAllocate
     * with K_RESERVED in the original) */
    long *p = mmap(NULL, (size_t)getpagesize(), PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        printf("Cannot reserve a region\n");
        HR_EXIT_HDL();
        exit(-1);
    }
    KnError res = pmmAllocate((VmAddr *)&counter, &name, sizeof(int), HR_GROUP,
                              sizeof(HR_GROUP));
    if (res != K_OK) {
        printf("Cannot allocate or map the persistent memory block called %s. "
               "Error = %d\n", name.name, res);
        HR_EXIT_HDL();
        exit(-1);
    }
    if (*counter == 0) {
        printf("Hello world!\n");
        fflush(stdout);
        (*counter)++;
        *p = 1; /* segmentation fault: the group is restarted */
    }
    printf("Hello again! I have been restarted.\n");
    fflush(stdout);
    pmmFree(&name);
    HR_EXIT_HDL();
    exit(0);
}
