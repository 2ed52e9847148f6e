/* SPDX-License-Identifier: MIT */
/*
 * HR_child.c - the restartSpawn child (ChorusOS guide, 4.5).
 *
 * Builds a message in four checkpointed steps kept in persistent memory and
 * prints it whole, once, however often its group is restarted under it.
 * Its blocks carry HR_GROUP_KEY: the controller frees them with the group.
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hr/hr.h>
#include <pmm/chPmm.h>

#define MESSAGE_SIZE 100

typedef struct {
    int restarted;
    int checkpoint; /* steps done, 0..4 */
    int printed;    /* the message went out */
} HR_Status;

int main(void)
{
    PmmName pm = {"RAM", "CHILD_PM"}, msg = {"RAM", "CHILD_MESSAGE"};
    HR_Status *st;
    char *message;
    if (pmmAllocate((VmAddr *)&st, &pm, sizeof *st, HR_GROUP_KEY,
                    HR_GROUP_KEYSIZE) != K_OK ||
        pmmAllocate((VmAddr *)&message, &msg, MESSAGE_SIZE, HR_GROUP_KEY,
                    HR_GROUP_KEYSIZE) != K_OK) {
        fprintf(stderr, "HR_child: cannot get its blocks\n");
        HR_EXIT_HDL();
        exit(1);
    }
    st->restarted++;
    while (st->checkpoint < 4) {
        /* rebuilt from the checkpoint, so a step cut short is redone */
        int at = 0;
        for (int i = 1; i <= st->checkpoint + 1; i++)
            at += snprintf(message + at, (size_t)(MESSAGE_SIZE - at), " STEP %d", i);
        st->checkpoint++;
        usleep(40000);
    }
    if (!st->printed) {
        char line[200];
        int n = snprintf(line, sizeof line, "=========== Message ===========%s "
                         "======== End of message========\n", message);
        if (write(1, line, (size_t)n) == n) /* one write: all or nothing */
            st->printed = 1;
    }
    HR_EXIT_HDL();
    exit(0);
}
