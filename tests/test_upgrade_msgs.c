/* SPDX-License-Identifier: MIT */
/*
 * test_upgrade_msgs.c - what hr upgrade and the upgrade calls say when an
 * upgrade is refused or cut short, on a real controller in a throwaway
 * site: the tool's own words, never the bare errno text of the code that
 * the controller's reply carries, and every such code in the calls' man
 * pages.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "ctl_helpers.h"

static char out[65536];

static void up(void)
{
    site_new(0, 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
}

TestSuite(upgrade_msgs, .init = up, .fini = site_stop_drop, .timeout = 240);

/* hr upgrade ... said what, exit status st, and not the errno text. */
#define SAYS(st, what, ...)                                                   \
    do {                                                                      \
        cr_assert_eq(hr_all(out, sizeof out, __VA_ARGS__, NULL), st, "%s", out);                   \
        cr_assert(strstr(out, what), "wanted \"%s\": %s", what, out);         \
    } while (0)

/* Before, each refusal was printed as the controller's reply carried it,
 * pmm_strerror of its code: "No such process", "Invalid argument", "Device
 * or resource busy", "Resource temporarily unavailable". */
Test(upgrade_msgs, refusals_are_said_in_the_tools_words)
{
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "5", ACTOR_BIN, "A",
                        "C", ACTOR_BIN, NULL), 0, "%s", out);
    WAIT_FOR(pid_of("C") > 0, "the indirect actor C");
    SAYS(1, "hr: upgrade nosuch: no such actor\n", "upgrade", "nosuch",
         "/bin/sleep", "1");
    SAYS(1, "{\"upgraded\": false, \"error\": \"no such actor\"}",
         "--json", "upgrade", "nosuch", "/bin/sleep", "1");
    SAYS(1, "hr: upgrade group 7: no such group\n", "upgrade", "-g", "7",
         "/bin/sleep", "1");
    SAYS(1, "hr: upgrade C: only a direct actor (started by hr arun -g) can "
            "be upgraded\n", "upgrade", "C", "/bin/sleep", "1");
    SAYS(2, "hr: upgrade: ACTOR is empty", "upgrade", "", "/bin/sleep", "1");
}

/* Eight upgrades that wait for ever (a standby that never calls
 * hr_standby_wait) in the background: the actor of one is busy, and a
 * ninth upgrade is one too many. */
Test(upgrade_msgs, busy_and_too_many_are_said)
{
    pid_t bg[8];
    char name[8];
    for (int i = 0; i < 9; i++) {
        snprintf(name, sizeof name, "a%d", i);
        cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--name", name,
                            "/bin/sleep", "1000", NULL), 0, "%s", out);
    }
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "a%d", i);
        bg[i] = fork();
        cr_assert_geq(bg[i], 0);
        if (bg[i] == 0)
            _exit(hr_all(out, sizeof out, "upgrade", "--timeout", "600", name,
                         "/bin/sleep", "999", NULL));
        if (i == 0) {
            WAIT_FOR(strstr(ps, "\"upgrade\": \"trial\""), "a0's trial");
            SAYS(1, "hr: upgrade a0: not running now: stopped, being upgraded",
                 "upgrade", "a0", "/bin/sleep", "1");
        }
    }
    for (struct poll_wait w = poll_begin("eight trials");;) {
        refresh();
        int n = 0;
        for (const char *p = ps; (p = strstr(p, "\"upgrade\": \"trial\"")); p++)
            n++;
        if (n == 8)
            break;
        ctl_pause(&w);
    }
    SAYS(1, "hr: upgrade a8: too many upgrades at once", "upgrade", "a8",
         "/bin/sleep", "1");
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    for (int i = 0; i < 8; i++) /* each told the site stopped */
        cr_assert_eq(wait_status(bg[i]), 1);
}

/* Names were cut to 24 bytes in every message; one has up to 63. */
Test(upgrade_msgs, long_names_are_said_whole)
{
    char name[64], other[80];
    memset(name, 'n', 63);
    name[63] = 0;
    snprintf(other, sizeof other, "%sx", name);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--name", name,
                        "/bin/sleep", "1000", NULL), 0, "%s", out);
    char said[160];
    snprintf(said, sizeof said, "%s upgraded to ", name);
    SAYS(0, said, "upgrade", "--cold", name, "/bin/sleep", "999");
    snprintf(said, sizeof said, "hr: upgrade %s: no such actor", other);
    SAYS(1, said, "upgrade", other, "/bin/sleep", "1");
}

/* With -g, an actor's name as the first operand was run as PROGRAM
 * ("srv: not found on $PATH"); given after ACTOR, -g printed the usage
 * alone. */
Test(upgrade_msgs, an_actor_given_with_g_is_refused)
{
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--name", "srv",
                        "/bin/sleep", "1000", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--name", "sleep",
                        "/bin/sleep", "1000", NULL), 0, "%s", out);
    SAYS(2, "hr: upgrade: ACTOR and -g G exclude each other: srv is an actor",
         "upgrade", "-g", "1", "srv", "/bin/sleep", "1");
    SAYS(2, "hr: upgrade: ACTOR and -g G exclude each other", "upgrade",
         "srv", "-g", "1", "/bin/sleep", "1");
    SAYS(2, "(a program of that name: give its path, ./sleep)", "upgrade",
         "-g", "1", "sleep", "1");
    SAYS(0, "group 1 upgraded to ", "upgrade", "-g", "1", "--cold",
         "--all-at-once", "/bin/sleep", "999");
}

/* The controller dies with the trial stored: hr upgrade said only
 * "Connection reset by peer"; it says what became of the upgrade, and it
 * is so: the next start runs the old image. */
Test(upgrade_msgs, the_controller_going_away_is_said)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    setenv("HR_CRASHPOINT", "hrd.upgrade_trial", 1); /* the controller's */
    site_start(out, sizeof out);
    unsetenv("HR_CRASHPOINT");
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--name", "srv",
                        "/bin/sleep", "1000", NULL), 0, "%s", out);
    SAYS(1, "hr: upgrade srv: the controller went away before the upgrade "
            "ended: the next start of the site runs the old image, unless "
            "the new version had been ready", "upgrade", "srv",
         "/bin/tail", "-f", "/dev/null");
    WAIT_FOR(hr_ping(NULL) < 0, "the controller's death");
    site_start(out, sizeof out);
    WAIT_FOR(pid_of("srv") > 0, "srv started again");
    cr_assert(strstr(ps, "sleep\", \"size\""), "the old image: %s", ps);
}

/* Whether the ERRORS section of man page page lists error name. */
static int man_lists(const char *page, const char *name)
{
    char path[512], text[32768], want[32];
    snprintf(path, sizeof path, "%s/%s", MAN_DIR, page);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    char *errors = strstr(text, "\n.SH ERRORS\n");
    cr_assert_not_null(errors, "%s has no ERRORS", page);
    char *end = strstr(errors + 1, "\n.SH ");
    if (end)
        *end = 0;
    snprintf(want, sizeof want, "\n.B %s\n", name);
    return strstr(errors, want) != NULL;
}

/* hr_upgrade() of a program that is not there returned -ENOENT with why
 * empty, and its page did not list ENOENT. */
Test(upgrade_msgs, the_library_names_a_program_not_there)
{
    char why[256] = "stale", *argv[] = {"prog", NULL};
    hr_upgrade_opts o = {.why = why, .why_cap = sizeof why};
    cr_assert_eq(hr_upgrade(NULL, "srv", "/nonexistent", argv, &o), -ENOENT);
    cr_assert(strstr(why, "/nonexistent") && strstr(why, "No such file"),
              "why: %s", why);
    cr_assert(man_lists("hr_upgrade.3", "ENOENT"), "hr_upgrade(3) lists ENOENT");
}

/* hr_handover_give() of a descriptor that is not open returns -EBADF,
 * which its page did not list. */
Test(upgrade_msgs, a_bad_descriptor_given_is_listed)
{
    const char *argv[] = {UPGRADE_BIN, "v1", "givebad", NULL};
    setenv("HR_ACTOR", "x", 1); /* an actor, as its controller starts one */
    setenv("HR_GROUP", "1", 1);
    cr_assert_eq(run_prog(UPGRADE_BIN, argv, NULL, out, sizeof out), 0);
    cr_assert_eq(atoi(out), -EBADF, "%s", out);
    cr_assert(man_lists("hr_handover.3", "EBADF"), "hr_handover(3) lists EBADF");
}
