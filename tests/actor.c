/* SPDX-License-Identifier: MIT */
/*
 * actor.c - a restartable actor for the controller tests.
 *
 *   test_actor NAME [CHILD_NAME CHILD_PROGRAM [once]]
 *
 * Each run adds one to the `runs` counter of its group block NAME (key
 * HR_GROUP_KEY) and of its block keep.NAME (key "KEEP"), spawns CHILD_NAME
 * with hrfexecl if asked (with "once": on its first run only), prints
 * "actor NAME run N settled" once past that, then obeys the file
 * $HR_SITE/cmd.NAME:
 *   exit     HR_EXIT_HDL() and exit(0)
 *   badexit  exit(3) without HR_EXIT_HDL
 *   segv     write through a NULL pointer
 * A NAME that begins with "crash" crashes at once after counting its run.
 */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hr/hr.h>
#include <pmm/chPmm.h>

struct state {
    int runs;
};

static void get(const char *name, const char *key, size_t keylen,
                struct state **st)
{
    PmmName n;
    memset(&n, 0, sizeof n);
    strcpy(n.medium, "RAM");
    snprintf(n.name, sizeof n.name, "%s", name);
    if (pmmAllocate((VmAddr *)st, &n, sizeof **st, key, keylen) != K_OK) {
        fprintf(stderr, "test_actor: cannot get block %s\n", name);
        HR_EXIT_HDL();
        exit(1);
    }
}

int main(int argc, char **argv)
{
    struct state *mine, *keep;
    char keepname[64], cmdfile[4200], cmd[512];
    if (argc < 2)
        return 2;
    snprintf(keepname, sizeof keepname, "keep.%s", argv[1]);
    get(argv[1], HR_GROUP_KEY, HR_GROUP_KEYSIZE, &mine);
    get(keepname, "KEEP", 5, &keep);
    mine->runs++;
    keep->runs++;
    printf("actor %s run %d\n", argv[1], mine->runs);
    fflush(stdout);
    if (strncmp(argv[1], "crash", 5) == 0)
        *(volatile int *)0 = 1;
    if (argc >= 4 && !(argc >= 5 && strcmp(argv[4], "once") == 0 && mine->runs > 1)) {
        PmmName child = {"RAM", ""};
        snprintf(child.name, sizeof child.name, "%s", argv[2]);
        if (hrfexecl(&child, argv[3], NULL, NULL, argv[2], argv[2], NULL) < 0) {
            perror("test_actor: hrfexecl");
            HR_EXIT_HDL();
            exit(1);
        }
    }
    printf("actor %s run %d settled\n", argv[1], mine->runs); /* for tests */
    fflush(stdout);
    snprintf(cmdfile, sizeof cmdfile, "%s/cmd.%s", getenv("HR_SITE"), argv[1]);
    for (;;) {
        int fd = open(cmdfile, O_RDONLY);
        if (fd >= 0) {
            ssize_t n = read(fd, cmd, sizeof cmd - 1);
            close(fd);
            if (n <= 0) { /* made but not yet written: read it again */
                usleep(5000);
                continue;
            }
            cmd[n] = 0;
            unlink(cmdfile);
            if (strncmp(cmd, "exit", 4) == 0) {
                HR_EXIT_HDL();
                exit(0);
            }
            if (strncmp(cmd, "badexit", 7) == 0)
                exit(3);
            if (strncmp(cmd, "segv", 4) == 0)
                *(volatile int *)0 = 1;
            if (strncmp(cmd, "stat ", 5) == 0) { /* may never come back */
                struct stat st;
                stat(cmd + 5, &st);
            }
        }
        usleep(5000);
    }
}
