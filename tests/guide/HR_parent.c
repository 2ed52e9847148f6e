/* SPDX-License-Identifier: MIT */
/*
 * HR_parent.c - the restartSpawn parent (guide B.3.1), as the guide writes
 * it, compiled against the installed headers by tests/guide_check.sh.  It
 * spawns the child with hrfexecl on every run, then crashes on purpose;
 * after MAX_LOOPS runs it exits cleanly.
 *
 * Replaced in this copy, having no meaning on Linux: <am/afexec.h> and
 * <exec/chModules.h>; threadDelay() with a KnTimeVal (sleep in waitSec):
 * usleep(); actorPrivilege(K_MYACTOR, ...) choosing HR_child or HR_child_u:
 * the child's path comes from CHILD_PATH, set where the test built it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pmm/chPmm.h>
#include <hr/hr.h>

#define PM_MEDIUM "RAM"
#define PM_NAME "PARENT_PM"
#define MAX_LOOPS 4

typedef struct {
    int restarted;
    int counter;
} HR_Status;

static void waitSec(int tmSec, int tmNSec)
{
    /* threadDelay(&KnTimeVal{tmSec, tmNSec}) in the guide */
    usleep((useconds_t)(tmSec * 1000000 + tmNSec / 1000));
}

static int childCreate(void)
{
    PmmName childName;
    KnCap childCap;
    int res;

    strcpy(childName.medium, PM_MEDIUM);
    strcpy(childName.name, "HR_CHILD");
    res = hrfexecl(&childName, CHILD_PATH, &childCap, NULL, "HR_child", NULL);
    if (res < 0) {
        printf("HR_parent: cannot spawn the child\n");
        HR_EXIT_HDL();
        exit(-1);
    }
    return res;
}

int main(void)
{
    PmmName name;
    HR_Status *st;
    KnError res;

    strcpy(name.medium, PM_MEDIUM);
    strcpy(name.name, PM_NAME);
    res = pmmAllocate((VmAddr *)&st, &name, sizeof(HR_Status), HR_GROUP_KEY,
                      HR_GROUP_KEYSIZE);
    if (res != K_OK) {
        printf("HR_parent: cannot allocate %s: %d\n", PM_NAME, res);
        HR_EXIT_HDL();
        exit(-1);
    }
    childCreate();
    if (st->restarted++ < MAX_LOOPS) {
        for (int i = 0; i < 5; i++, st->counter++)
            waitSec(0, 10000000);
        *(volatile int *)0 = 0; /* crash: the group restarts */
    }
    HR_EXIT_HDL();
    exit(0);
}
