/* SPDX-License-Identifier: MIT */
/*
 * all_forms.c - the seven hrfexec forms, KnCap, AcParam and sysShutdown as
 * the guide and the ChorusOS man pages write them, compiled against the
 * installed headers by tests/guide_check.sh.
 *
 *   all_forms DIR     (a direct actor; DIR holds this program)
 *
 * Each run spawns seven children, one per form, each of which prints
 * "child FORM ok" and exits cleanly, and checks each KnCap (a direct actor
 * spawns its indirect ones on every run, or its group could never end).
 * Its first run then asks for a site restart with sysShutdown("-i 1"); the
 * site restart starts it again, and its second run, finding its counter at
 * 1, prints "all_forms restarted by the site" and exits cleanly.
 *
 * Replaced in this copy, having no meaning on Linux: nothing but the
 * binary's path (the children are this program, found in DIR).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pmm/chPmm.h>
#include <hr/hr.h>

#define HR_KEY "ALL_FORMS"

static int child(const char *form)
{
    const char *e = getenv("FORM_ENV");
    printf("child %s ok%s\n", form, e && strcmp(e, "yes") == 0 ? " env" : "");
    fflush(stdout);
    HR_EXIT_HDL();
    exit(0);
}

int main(int argc, char **argv)
{
    char self[1024];
    char *envp[] = {"FORM_ENV=yes", NULL};
    char *av[] = {"all_forms", "child", NULL, NULL};
    PmmName name, n;
    KnCap cap;
    AcParam param;
    int *runs, pid, pids[7], k = 0;

    if (argc == 3 && strcmp(argv[1], "child") == 0)
        return child(argv[2]);
    if (argc != 2) {
        HR_EXIT_HDL();
        exit(2);
    }
    strcpy(name.medium, "RAM");
    strcpy(name.name, "ALL_FORMS_RUNS");
    if (pmmAllocate((VmAddr *)&runs, &name, sizeof(int), HR_KEY,
                    sizeof(HR_KEY)) != K_OK) {
        HR_EXIT_HDL();
        exit(1);
    }
    snprintf(self, sizeof self, "%s/all_forms", argv[1]);
    setenv("PATH", argv[1], 1);
    memset(&param, 0, sizeof param);
    param.acFlags = 0; /* accepted and ignored */
    strcpy(n.medium, "RAM");

#define CHECK(form, call)                                                     \
    do {                                                                      \
        snprintf(n.name, sizeof n.name, "form_%s", form);                    \
        pid = call;                                                           \
        if (pid < 0 || cap.ui.tail != (unsigned long)pid) {                   \
            printf("hrfexec%s failed\n", form);                               \
            HR_EXIT_HDL();                                                    \
            exit(1);                                                          \
        }                                                                     \
        pids[k++] = pid;                                                      \
    } while (0)
    CHECK("", hrfexec(&n, self, &cap, &param, "all_forms", "child", "bare",
                      NULL));
    CHECK("l", hrfexecl(&n, self, &cap, NULL, "all_forms", "child", "l", NULL));
    CHECK("le", hrfexecle(&n, self, &cap, NULL, "all_forms", "child", "le",
                          NULL, envp));
    CHECK("lp", hrfexeclp(&n, "all_forms", &cap, NULL, "all_forms", "child",
                          "lp", NULL));
    av[2] = "v";
    CHECK("v", hrfexecv(&n, self, &cap, NULL, av));
    av[2] = "ve";
    CHECK("ve", hrfexecve(&n, self, &cap, &param, av, envp));
    av[2] = "vp";
    CHECK("vp", hrfexecvp(&n, "all_forms", &cap, NULL, av));
    printf("all_forms spawned seven\n");
    fflush(stdout);
    /* the children print before the site restarts: wait until none is a
     * running actor any more */
    for (int i = 0; i < 7; i++)
        while (hrGetActorGroup(pids[i]) >= 0)
            usleep(10000);
    if ((*runs)++ > 0) {
        printf("all_forms restarted by the site\n");
        fflush(stdout);
        pmmFree(&name);
        HR_EXIT_HDL();
        exit(0);
    }

    char *sargv[] = {"shutdown", "-i", "1", NULL};
    if (sysShutdown(3, sargv) != 0) {
        printf("sysShutdown failed\n");
        HR_EXIT_HDL();
        exit(1);
    }
    for (;;) /* the site restart stops this run */
        pause();
}
