/* SPDX-License-Identifier: MIT */
/*
 * chorus_actor.c - actors for the ChorusOS fidelity tests (test_chorus.c).
 *
 *   chorus_actor clearenv   clears its environment first thing in main, then
 *                           uses HR_GROUP_KEY, an ordinary block and
 *                           HR_EXIT_HDL(): crashes on its first run, exits
 *                           cleanly on its second
 *   chorus_actor sigterm    waits for SIGTERM; its handler calls
 *                           HR_EXIT_HDL(), counting the allocations made
 *                           meanwhile, then _exit(0)
 *   chorus_actor seven DIR  spawns one child with each of the seven hrfexec
 *                           forms (DIR holds this program, for the p forms)
 *   chorus_actor child NAME counts its run in block seven.NAME and whether
 *                           it got SEVEN=yes in its environment
 *   chorus_actor address    stores a function pointer and a pointer to a
 *                           static variable in a block, crashes, and on the
 *                           restart calls and reads them
 *
 * Results go to blocks with the key "CH" (kept after the group ends), which
 * the test reads.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hr/hr.h>
#include <pmm/chPmm.h>
#include "asan.h"

struct result {
    int runs;
    int hdl;         /* what HR_EXIT_HDL() returned */
    int mallocs;     /* allocations made inside HR_EXIT_HDL() */
    int ready;
    int env_ok;
    int call_ok;     /* the stored function pointer answered */
    long static_val; /* read through the stored pointer */
    void (*fn)(int *);
    long *static_ptr;
    char why[128];
};

static struct result *block(const char *name)
{
    PmmName n;
    struct result *r;
    memset(&n, 0, sizeof n);
    strcpy(n.medium, "RAM");
    snprintf(n.name, sizeof n.name, "%s", name);
    int e = pmmAllocate((VmAddr *)&r, &n, sizeof *r, "CH", 3);
    if (e != K_OK) {
        fprintf(stderr, "chorus_actor: block %s: %s\n", name, pmm_strerror(e));
        HR_EXIT_HDL();
        exit(1);
    }
    return r;
}

/* Count every allocation: the sanitizers' hook under ASan, else this
 * program's own malloc family over glibc's. */
static volatile int allocations;
#if defined(__SANITIZE_ADDRESS__)
/* the sanitizers' runtime has it; gcc ships no header that declares it */
void __sanitizer_install_malloc_and_free_hooks(
    void (*malloc_hook)(const volatile void *, size_t),
    void (*free_hook)(const volatile void *));
static void on_malloc(const volatile void *p, size_t n) { (void)p, (void)n, allocations++; }
static void on_free(const volatile void *p) { (void)p; }
static void count_allocations(void)
{
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}
#else
extern void *__libc_malloc(size_t), *__libc_calloc(size_t, size_t),
    *__libc_realloc(void *, size_t);
void *malloc(size_t n) { allocations++; return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { allocations++; return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { allocations++; return __libc_realloc(p, n); }
static void count_allocations(void) {}
#endif

static struct result *sig_res;

static void on_term(int sig)
{
    (void)sig;
    int before = allocations;
    sig_res->hdl = HR_EXIT_HDL();
    sig_res->mallocs = allocations - before;
    _exit(0);
}

static int clearenv_actor(void)
{
    clearenv(); /* as a daemon that sanitises its environment does */
    struct result *r = block("ce.plain"), *g;
    PmmName gn = {"RAM", "ce.group"};
    int e = pmmAllocate((VmAddr *)&g, &gn, sizeof *g, HR_GROUP_KEY,
                        HR_GROUP_KEYSIZE);
    if (e != K_OK) {
        snprintf(r->why, sizeof r->why, "HR_GROUP_KEY: %s", pmm_strerror(e));
        HR_EXIT_HDL();
        exit(1);
    }
    r->runs++;
    g->runs++;
    if (r->runs == 1)
        *(volatile int *)0 = 1; /* a failure: the group must restart */
    r->hdl = HR_EXIT_HDL();
    exit(0);
}

__attribute__((noreturn)) static int sigterm_actor(void)
{
    sig_res = block("sig");
    count_allocations();
    signal(SIGTERM, on_term);
    sig_res->runs++;
    sig_res->ready = 1;
    for (;;)
        pause();
}

static int seven_actor(const char *dir)
{
    char self[4096];
    char *envp[] = {"SEVEN=yes", NULL};
    snprintf(self, sizeof self, "%s/chorus_actor", dir);
    setenv("PATH", dir, 1);
    PmmName n[7] = {{"RAM", "k_"},  {"RAM", "k_l"},  {"RAM", "k_le"},
                    {"RAM", "k_lp"}, {"RAM", "k_v"}, {"RAM", "k_ve"},
                    {"RAM", "k_vp"}};
    KnCap cap[7];
    AcParam param = {0}; /* accepted and ignored */
    int pid[7];
    pid[0] = hrfexec(&n[0], self, &cap[0], &param, "chorus_actor", "child",
                     "k_", NULL);
    pid[1] = hrfexecl(&n[1], self, &cap[1], NULL, "chorus_actor", "child",
                      "k_l", NULL);
    pid[2] = hrfexecle(&n[2], self, &cap[2], NULL, "chorus_actor", "child",
                       "k_le", NULL, envp);
    pid[3] = hrfexeclp(&n[3], "chorus_actor", &cap[3], NULL, "chorus_actor",
                       "child", "k_lp", NULL);
    char *av[] = {"chorus_actor", "child", "k_v", NULL};
    pid[4] = hrfexecv(&n[4], self, &cap[4], NULL, av);
    av[2] = "k_ve";
    pid[5] = hrfexecve(&n[5], self, &cap[5], NULL, av, envp);
    av[2] = "k_vp";
    pid[6] = hrfexecvp(&n[6], "chorus_actor", &cap[6], NULL, av);
    struct result *r = block("seven");
    for (int i = 0; i < 7; i++)
        if (pid[i] > 0 && cap[i].ui.tail == (unsigned long)pid[i] &&
            cap[i].ui.head == 0 && cap[i].key.keyHead == 0)
            r->call_ok++; /* spawned, and the capability names it */
    r->runs++;
    HR_EXIT_HDL();
    exit(0);
}

static int child_actor(const char *name)
{
    char bn[64];
    snprintf(bn, sizeof bn, "seven.%s", name);
    struct result *r = block(bn);
    const char *e = getenv("SEVEN");
    r->env_ok = e && strcmp(e, "yes") == 0;
    r->runs++;
    HR_EXIT_HDL();
    exit(0);
}

static long the_static = 4242;
static void answer(int *x) { *x = 1; }

static int address_actor(void)
{
    struct result *r = block("addr");
    r->runs++;
    if (r->runs == 1) {
        r->fn = answer;
        r->static_ptr = &the_static;
        *(volatile int *)0 = 1; /* the group restarts */
    }
    /* a restarted run: the pointers kept are used as they are (garbage,
     * a crash and a restart loop if this run's layout were another) */
    r->fn(&r->call_ok);
    r->static_val = *r->static_ptr;
    HR_EXIT_HDL();
    exit(0);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "clearenv") == 0)
        return clearenv_actor();
    if (argc >= 2 && strcmp(argv[1], "sigterm") == 0)
        return sigterm_actor();
    if (argc >= 3 && strcmp(argv[1], "seven") == 0)
        return seven_actor(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "child") == 0)
        return child_actor(argv[2]);
    if (argc >= 2 && strcmp(argv[1], "address") == 0)
        return address_actor();
    HR_EXIT_HDL();
    return 2;
}
