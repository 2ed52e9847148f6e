/* SPDX-License-Identifier: MIT */
/*
 * HR_child.c - the restartSpawn child (guide B.3.2), as the guide writes
 * it, compiled against the installed headers by tests/guide_check.sh.  It
 * builds its message step by step in persistent memory: whatever the
 * crashes, the message is printed whole, once.
 *
 * Replaced in this copy, having no meaning on Linux: <exec/chExec.h> and
 * <pd/chPd.h>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pmm/chPmm.h>
#include <hr/hr.h>

#define PM_MEDIUM "RAM"
#define PM_NAME "CHILD_PM"
#define MESSAGE_NAME "CHILD_MESSAGE"
#define MESSAGE_SIZE 100

typedef struct {
    int restarted;
    int checkpoint;
    int printed;
} HR_Status;

static void gen_step(HR_Status *st, char *message)
{
    char step[32];
    sprintf(step, " STEP %d", st->checkpoint + 1);
    strcat(message, step);
    /* if the actor does not get past the next line before a hot restart,
     * the step is done again */
    st->checkpoint = (st->checkpoint + 1) % 4;
    usleep(20000);
}

int main(void)
{
    PmmName name, msgName;
    HR_Status *st;
    char *message;

    strcpy(name.medium, PM_MEDIUM);
    strcpy(name.name, PM_NAME);
    strcpy(msgName.medium, PM_MEDIUM);
    strcpy(msgName.name, MESSAGE_NAME);
    if (pmmAllocate((VmAddr *)&st, &name, sizeof(HR_Status), HR_GROUP_KEY,
                    HR_GROUP_KEYSIZE) != K_OK ||
        pmmAllocate((VmAddr *)&message, &msgName, MESSAGE_SIZE, HR_GROUP_KEY,
                    HR_GROUP_KEYSIZE) != K_OK) {
        printf("HR_child: cannot allocate its blocks\n");
        HR_EXIT_HDL();
        exit(-1);
    }
    st->restarted++;
    if (strlen(message) == 0)
        strcpy(message, "=========== Message ===========");
    while (strstr(message, "STEP 4") == NULL)
        gen_step(st, message);
    if (!st->printed) {
        printf("%s ======== End of message========\n", message);
        fflush(stdout);
        st->printed = 1;
    }
    HR_EXIT_HDL();
    exit(0);
}
