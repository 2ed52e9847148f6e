/* SPDX-License-Identifier: MIT */
/*
 * test_chorus.c - ChorusOS fidelity, for real: actors under a controller in
 * a throwaway site (chorus_actor.c) doing what the guide says they may.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <unistd.h>

#include <hotrestart/hr.h>
#include <hr/hr.h>

#include "common.h"
#include "ctl_helpers.h"

static char out[65536];

static void up(void) { site_up(out, sizeof out); }

TestSuite(chorus, .init = up, .fini = site_stop_drop, .timeout = 120);

/* Mirrors chorus_actor.c's struct result. */
struct result {
    int runs, hdl, mallocs, ready, env_ok, call_ok;
    long static_val;
    void (*fn)(int *);
    long *static_ptr;
    char why[128];
};

/* The block name's result, or NULL while it does not exist. */
static struct result *result(const char *name)
{
    void *p;
    if (pmm_alloc(bank_open(), name, 1, "CH", 3, PMM_RETRIEVE, &p, NULL) != 0)
        return NULL;
    return p;
}

static int no_groups(void)
{
    return strstr(ps, "\"groups\": []") != NULL;
}

static int console_has(const char *what);

static void arun(const char *group, const char *mode, const char *arg)
{
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", group, CHORUS_ACTOR_BIN,
                        mode, arg, NULL), 0, "%s", out);
}

Test(chorus, identity_survives_clearenv)
{
    arun("4", "clearenv", NULL);
    WAIT_FOR(no_groups(), "the group to end");
    struct result *r = result("ce.plain");
    cr_assert(r, "the ordinary block is in the actor's site");
    cr_assert_str_empty(r->why);
    cr_assert_eq(r->runs, 2, "one crash, one restart, then a clean exit");
    cr_assert_eq(r->hdl, 0, "HR_EXIT_HDL reached the controller");
    pmm_block b;
    cr_assert_eq(pmm_stat(bank_open(), "ce.group", &b), K_EUNKNOWN,
                 "the HR_GROUP_KEY block was the group's: freed with it");
}

Test(chorus, exit_hdl_from_a_sigterm_handler_allocates_nothing)
{
    arun("2", "sigterm", NULL);
    struct result *r;
    WAIT_FOR((r = result("sig")) && r->ready && pid_of("chorus_actor"),
             "the actor to be ready");
    cr_assert_eq(kill(pid_of("chorus_actor"), SIGTERM), 0);
    WAIT_FOR(no_groups(), "the group to end cleanly");
    cr_assert_eq(r->hdl, 0);
    cr_assert_eq(r->mallocs, 0, "HR_EXIT_HDL allocated %d times", r->mallocs);
    cr_assert_eq(r->runs, 1, "a clean exit: no restart");
}

/* The same handler when the whole site stops (hr site stop; a site
 * restart stops every actor the same way): its HR_EXIT_HDL() is answered
 * while the controller waits for the actors to die, and it exits at once
 * (before, the controller read no request then: the call waited until the
 * stop timeout's SIGKILL, "still runs 3000 ms after SIGTERM"). */
Test(chorus, exit_hdl_from_a_sigterm_handler_during_a_site_stop)
{
    arun("2", "sigterm", NULL);
    struct result *r;
    WAIT_FOR((r = result("sig")) && r->ready && pid_of("chorus_actor"),
             "the actor to be ready");
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    cr_assert(!console_has("after SIGTERM: SIGKILL"),
              "the handler's HR_EXIT_HDL was not answered");
    cr_assert_eq(r->hdl, 0);
    cr_assert_eq(r->mallocs, 0, "HR_EXIT_HDL allocated %d times", r->mallocs);
}

Test(chorus, all_seven_hrfexec_forms_spawn)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", CHORUS_ACTOR_BIN);
    arun("3", "seven", dirname(dir));
    WAIT_FOR(no_groups(), "the group of eight to end");
    struct result *p = result("seven");
    cr_assert(p);
    cr_assert_eq(p->call_ok, 7, "seven pids, each in its KnCap");
    const char *kids[] = {"k_", "k_l", "k_le", "k_lp", "k_v", "k_ve", "k_vp"};
    for (int i = 0; i < 7; i++) {
        char name[64];
        snprintf(name, sizeof name, "seven.%s", kids[i]);
        struct result *k = result(name);
        cr_assert(k, "%s ran", kids[i]);
        cr_assert_eq(k->runs, 1, "%s ran once", kids[i]);
        int with_env = strcmp(kids[i], "k_le") == 0 || strcmp(kids[i], "k_ve") == 0;
        cr_assert_eq(k->env_ok, with_env, "%s: its environment", kids[i]);
    }
}

Test(chorus, sys_shutdown_restarts_the_site_and_refuses_the_rest)
{
    char *reboot[] = {"shutdown", "-i", "0"}, *junk[] = {"-x"};
    char *one[] = {"-i", "1"}, *named[] = {"shutdown", "-i1"};
    cr_assert_eq(sysShutdown(3, reboot), K_EINVAL);
    cr_assert_eq(sysShutdown(1, junk), K_EINVAL);
    cr_assert_eq(sysShutdown(0, NULL), K_EINVAL);
    cr_assert_eq(sysShutdown(2, NULL), K_EINVAL);
    hr_site_state before, after;
    cr_assert_eq(hr_status(NULL, &before), 0);
    cr_assert_eq(sysShutdown(2, one), 0);
    WAIT_FOR(hr_status(NULL, &after) == 0 &&
             after.generation == before.generation + 1, "a new controller");
    cr_assert_eq(after.site_restarts, before.site_restarts + 1);
    cr_assert_eq(sysShutdown(2, named), 0);
    WAIT_FOR(hr_status(NULL, &after) == 0 &&
             after.generation == before.generation + 2, "another one");
}

Test(chorus, kncap_and_acparam_have_their_chorus_shape)
{
    KnCap cap = {{1, 2}, {3, 4}};
    AcParam p = {.acFlags = 0, .acCap = &cap, .acPrivilege = NULL,
                 .acStackSize = 0};
    cr_assert_eq(cap.ui.head + cap.ui.tail + cap.key.keyHead + cap.key.keyTail,
                 10);
    cr_assert_eq(p.acCap->ui.tail, 2);
}

Test(chorus, a_restarted_actor_comes_back_at_the_same_address)
{
    arun("6", "address", NULL);
    struct result *r;
    WAIT_FOR(((r = result("addr")) && r->runs >= 3) || no_groups(),
             "the group to end (or to loop on a stale pointer)");
    cr_assert_eq(r->runs, 2, "one crash, one restart that used the pointers");
    cr_assert_eq(r->call_ok, 1, "the stored function pointer was called");
    cr_assert_eq(r->static_val, 4242, "the stored static pointer was read");
}

static unsigned long personality_of(int pid)
{
    char path[64];
    unsigned long pers = 0;
    snprintf(path, sizeof path, "/proc/%d/personality", pid);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    cr_assert_eq(fscanf(f, "%lx", &pers), 1);
    fclose(f);
    return pers;
}

Test(chorus, ps_shows_which_actors_keep_randomisation)
{
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "7", "--aslr",
                        CHORUS_ACTOR_BIN, "sigterm", NULL), 0, "%s", out);
    WAIT_FOR(pid_of("chorus_actor"), "the actor");
    cr_assert(strstr(ps, "\"aslr\": true"), "%s", ps);
    char buf[65536];
    cr_assert_eq(personality_of(pid_of("chorus_actor")) & ADDR_NO_RANDOMIZE, 0,
                 "randomised");
    cr_assert_eq(run_hr(buf, sizeof buf, "ps", NULL), 0);
    cr_assert(strstr(buf, "randomised"), "%s", buf);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "8", CHORUS_ACTOR_BIN,
                        "sigterm", NULL), 0, "%s", out);
    WAIT_FOR(pid_of("chorus_actor.1"), "the same-address actor");
    cr_assert(strstr(ps, "\"aslr\": false"), "%s", ps);
    cr_assert_neq(personality_of(pid_of("chorus_actor.1")) & ADDR_NO_RANDOMIZE, 0,
                  "same address");
    cr_assert_eq(run_hr(buf, sizeof buf, "ps", NULL), 0);
    cr_assert(strstr(buf, "same address"), "%s", buf);
}

static int console_has(const char *what)
{
    char path[4200], buf[65536];
    snprintf(path, sizeof path, "%s/console.log", getenv("HR_SITE"));
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, what) != NULL;
}

Test(chorus, arun_as_the_guide_has_it)
{
    /* without -g: an ordinary actor, watched by no one */
    cr_assert_eq(run_hr(out, sizeof out, "arun", "/bin/sh", "-c",
                        "echo ordinary ran", NULL), 0, "%s", out);
    cr_assert_gt(atoi(out), 0, "its pid: %s", out);
    WAIT_FOR(console_has("ordinary ran"), "the ordinary actor's output");
    cr_assert(no_groups(), "not restartable: %s", ps);
    /* -g without a number: group 0 */
    cr_assert_eq(run_hr(out, sizeof out, "--json", "arun", "-g", CHORUS_ACTOR_BIN,
                        "sigterm", NULL), 0, "%s", out);
    cr_assert(strstr(out, "\"group\": 0"), "%s", out);
    WAIT_FOR(pid_of("chorus_actor"), "the actor in group 0");
    cr_assert(strstr(ps, "\"id\": 0"), "%s", ps);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-gx", "/bin/true", NULL), 2,
                 "a group that is not a number");
}

/* A fresh site whose start-up file has the guide's two arun lines: arun
 * lines run on a site's first start only.  The suite's own site (Criterion
 * runs its .init first) is stopped and dropped, not left running. */
static void up_with_ini(void)
{
    char path[4200];
    site_stop_drop();
    site_new(0, 0);
    snprintf(path, sizeof path, "%s/sysadm.ini", getenv("HR_SITE"));
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fprintf(f, "arun -g %s sigterm\narun /bin/sh -c 'echo from the ini'\n",
            CHORUS_ACTOR_BIN);
    fclose(f);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
}

Test(chorus, sysadm_ini_arun_lines_as_the_guide_has_them, .init = up_with_ini)
{
    WAIT_FOR(pid_of("chorus_actor") && console_has("from the ini"),
             "both lines to have run");
    cr_assert(strstr(ps, "\"id\": 0"), "arun -g alone is group 0: %s", ps);
    cr_assert(!console_has("usage: arun"), "no line refused");
}
