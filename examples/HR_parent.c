/* SPDX-License-Identifier: MIT */
/*
 * HR_parent.c - the restartSpawn parent (ChorusOS guide, 4.5).
 *
 * On every run it (re)spawns the child with hrfexecl() under the name
 * "HR_child", then, for its first three runs, crashes on purpose after a
 * while, which restarts the whole group (the child too).  On its fourth run
 * it exits cleanly.  Usage: HR_parent CHILD_PROGRAM
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <hr/hr.h>
#include <pmm/chPmm.h>

#define MAX_CRASHES 3

typedef struct {
    int restarted; /* runs so far */
    int counter;   /* main-loop iterations */
} HR_Status;

int main(int argc, char **argv)
{
    PmmName pm = {"RAM", "PARENT_PM"}, child = {"RAM", "HR_child"};
    HR_Status *st;
    if (argc < 2) {
        fprintf(stderr, "usage: HR_parent CHILD_PROGRAM\n");
        HR_EXIT_HDL();
        exit(2);
    }
    if (pmmAllocate((VmAddr *)&st, &pm, sizeof *st, HR_GROUP_KEY,
                    HR_GROUP_KEYSIZE) != K_OK) {
        fprintf(stderr, "HR_parent: cannot get PARENT_PM\n");
        HR_EXIT_HDL();
        exit(1);
    }
    if (hrfexecl(&child, argv[1], NULL, NULL, "HR_child", NULL) < 0) {
        perror("HR_parent: hrfexecl");
        HR_EXIT_HDL();
        exit(1);
    }
    if (st->restarted++ < MAX_CRASHES) {
        for (int i = 0; i < 12; i++, st->counter++)
            usleep(10000);
        *(volatile int *)0 = 1; /* crash: the group restarts */
    }
    HR_EXIT_HDL();
    exit(0);
}
