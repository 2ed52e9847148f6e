/* SPDX-License-Identifier: MIT */
/*
 * test_site.c - site restart, the start-up file, the restart policy, the
 * controller's own death, and cold restart, with a real controller.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "ctl_helpers.h"
#include "hr/registry.h"
#include "pmm/alloc.h"
#include "pmm/hash.h"

static char out[65536];
static const char *site;
static char disk[256];

static void setup(void)
{
    site = site_new(0, 0);
    snprintf(disk, sizeof disk, "/tmp/hrsite-disk.%d", getpid());
    unlink(disk);
}

static void teardown(void)
{
    run_hr(NULL, 0, "site", "stop", NULL);
    unlink(disk);
    site_drop();
}

TestSuite(site, .init = setup, .fini = teardown, .timeout = 300);

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", site, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* The site started with the file name of text, and its log then in out. */
static void start_with(const char *name, const char *text)
{
    write_file(name, text);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "log", NULL), 0);
}

static int lines_of(const char *name)
{
    char path[512], line[256];
    int n = 0;
    snprintf(path, sizeof path, "%s/%s", site, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        n++;
    fclose(f);
    return n;
}

static int count_actors(const char *needle)
{
    int n = 0;
    for (const char *p = ps; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void startup_file(void)
{
    char text[2048];
    snprintf(text, sizeof text,
             "# the site's start-up file\n"
             "sh -c 'echo booted >> \"%s/boots\"'\n"
             "arun -g 1 %s X\n"
             "arun -g 2 \"%s\" Y   # a comment\n",
             site, ACTOR_BIN, ACTOR_BIN);
    write_file("sysadm.ini", text);
}

/* A site restart while the start-up file still runs (the policy's: a
 * group that fails at once, twice, with hrCtrl.maxBadness=1): the fresh
 * controller resumes after the lines that were done, and hr site start
 * hears that the site is ready from it (before: every line ran again, a
 * second actor registered for each arun line, X.1 beside X, and hr site
 * start said "the controller did not start" of a running site). */
Test(site, a_site_restart_inside_the_start_up_file_resumes_it)
{
    char crash[600], text[4096];
    /* it fails only once line 4 has made its mark: a site restart before
     * that (a loaded machine) would have the fresh controller run line 4
     * as a first time, and its sleep would hold the start-up file open */
    script_file(crash, sizeof crash, site, "crash2",
                "#!/bin/sh\nwhile [ ! -e \"$HR_SITE/once\" ]; do sleep 0.01; "
                "done\nn=$(cat \"$HR_SITE/n\" 2>/dev/null || echo 0)\n"
                "echo $((n + 1)) > \"$HR_SITE/n\"\n"
                "[ \"$n\" -ge 2 ] && exec sleep 1000\nexit 3\n");
    hr_policy p = {.max_badness = 1, .interval_s = 60};
    cr_assert_eq(pmm_site_create(site, NULL), 0);
    cr_assert_eq(hr_policy_write(site, &p), 0);
    /* line 4 waits, in the first controller only, for what ends it: the
     * site restart that group 2's second failure makes */
    snprintf(text, sizeof text,
             "sh -c 'echo booted >> \"%s/boots\"'\n"
             "arun -g 1 %s X\n"
             "arun -g 2 %s\n"
             "sh -c '[ -e \"%s/once\" ] || { touch \"%s/once\"; "
             "exec sleep 1000; }'\n"
             "sh -c 'echo last >> \"%s/last\"'\n",
             site, ACTOR_BIN, crash, site, site, site);
    write_file("sysadm.ini", text);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    WAIT_FOR(runs_of("X", 1) >= 1 && pid_of("crash2") > 0 && lines_of("last") == 1,
             "X and the script to run, the file done");
    cr_assert_eq(lines_of("boots"), 1, "line 1 ran once");
    cr_assert_eq(count_actors("\"name\": \"test_actor"), 1,
                 "one actor for the one arun line of X: %s", ps);
    cr_assert_eq(count_actors("\"name\": \"crash2"), 1, "%s", ps);
    cr_assert_eq(run_hr(out, sizeof out, "log", NULL), 0);
    cr_assert(strstr(out, "sysadm.ini from line 4"), "%s", out);
}

Test(site, startup_file_and_site_restart)
{
    startup_file();
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    WAIT_FOR(runs_of("X", 1) == 1 && runs_of("Y", 2) == 1, "X and Y to run");
    cr_assert_eq(lines_of("boots"), 1, "the plain command ran once");
    int px = pid_of("test_actor"), py = pid_of("test_actor.1");
    cr_assert(px && py, "%s", ps);
    cr_assert_eq(run_hr(out, sizeof out, "site", "restart", NULL), 0, "%s", out);
    WAIT_FOR(runs_of("X", 1) == 2 && runs_of("Y", 2) == 2, "X and Y to run again");
    cr_assert_eq(lines_of("boots"), 2, "the plain command ran again");
    cr_assert_eq(kill(px, 0), -1, "the old X is gone");
    cr_assert_eq(kill(py, 0), -1, "the old Y is gone");
    cr_assert_eq(count_actors("\"name\": \"test_actor"), 2,
                 "arun lines did not start a second pair: %s", ps);
    cr_assert(strstr(ps, "\"id\": 1") && strstr(ps, "\"id\": 2"), "%s", ps);
    /* the ChorusOS spellings do the same */
    cr_assert_eq(run_hr(out, sizeof out, "restart", NULL), 0, "%s", out);
    /* both counted before the next restart, or one killed first counts less */
    WAIT_FOR(runs_of("X", 1) == 3 && runs_of("Y", 2) == 3, "X and Y after 'restart'");
    cr_assert_eq(run_hr(out, sizeof out, "shutdown", "-i", "1", NULL), 0, "%s", out);
    WAIT_FOR(runs_of("X", 1) == 4 && runs_of("Y", 2) == 4, "after 'shutdown -i 1'");
    cr_assert_eq(lines_of("boots"), 4);
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0);
    cr_assert(strstr(out, "\"site_restarts\": 3"), "%s", out);
    cr_assert(strstr(out, "\"state\": \"running\""), "%s", out);
    cr_assert(strstr(out, "\"generation\": 4"), "%s", out);
}

Test(site, startup_file_errors_are_reported_by_line)
{
    start_with("sysadm.ini", "true\n"
                             "no-such-program-here\n"
                             "echo 'unterminated\n"
                             "arun -g 1x /bin/true\n"
                             "false\n");
    cr_assert(strstr(out, "sysadm.ini:2: no-such-program-here"), "%s", out);
    cr_assert(strstr(out, "sysadm.ini:3: unterminated quote"), "%s", out);
    cr_assert(strstr(out, "sysadm.ini:4: usage: arun"), "%s", out);
    cr_assert(strstr(out, "sysadm.ini:5: false exited with status 1"), "%s", out);
    cr_assert(hr_ping(NULL) > 0, "the site started all the same");
}

/* A trailing backslash continues no line (sysadm.ini(5): one command a
 * line): before, the newline after it became an argument ("\n"), the
 * actor restart-looped on it and a lone one broke the log's line.  An
 * option of hr arun that sysadm.ini does not take was taken for the
 * program ("--name: No such file or directory"); "--" ends the options. */
Test(site, startup_file_backslash_at_the_end_and_arun_options_are_refused)
{
    start_with("sysadm.ini", "arun -g 4 /bin/sleep 1000 \\\n"
                             "\\\n"
                             "arun -g 2 --name x /bin/sleep 1000\n"
                             "arun -g 2 --stop-timeout 5 /bin/sleep 1000\n"
                             "arun --notify /bin/sleep 1000\n"
                             "arun -g 3 -- /bin/sleep 1000\n");
    WAIT_FOR(strstr(ps, "\"id\": 3"), "group 3's actor, after --");
    cr_assert_null(strstr(ps, "\"id\": 4"), "no actor of line 1: %s", ps);
    cr_assert_null(strstr(ps, "\"id\": 2"), "no actor of lines 3-4: %s", ps);
    for (int n = 1; n <= 2; n++) {
        char want[128];
        snprintf(want, sizeof want, "sysadm.ini:%d: a line cannot end in a "
                 "backslash: lines are not continued\n", n);
        cr_assert(strstr(out, want), "line %d: %s", n, out);
    }
    cr_assert(strstr(out, "sysadm.ini:3: arun option --name is not supported "
                          "here (supported: "), "%s", out);
    cr_assert(strstr(out, "sysadm.ini:4: arun option --stop-timeout is not "
                          "supported here"), "%s", out);
    cr_assert(strstr(out, "sysadm.ini:5: arun option --notify is not "
                          "supported here"), "%s", out);
    cr_assert_null(strstr(out, "No such file"), "%s", out);
}

/* Every mistake of site.conf is logged with its line and what is wrong
 * (before: one warning, naming the first key out of range, with no line;
 * the rest silently ignored), and the meaning is as before: a bad figure
 * takes its default, the first of two lines of one key is used. */
Test(site, site_conf_mistakes_are_each_logged_with_their_line)
{
    start_with("site.conf", "hrCtrl.maxBadness=abc\n"
                            "hrCtrl.interval=-5\n"
                            "hrCtrl.maxActors=99999999999999999999\n"
                            "hrCtrl.logSize=10\n"
                            "hrCtrl.maxbadness=3\n"
                            "hrCtrl.stopTimeout=2000\n"
                            "# a comment, and a blank line\n"
                            "\n"
                            "hrCtrl.stopTimeout=4000\n"
                            "junk\n"
                            "pmm.maxblocks=5\n"
                            "hrCtrl.maxGroups=12\n");
    static const char *const said[] = {
        "site.conf:1: hrCtrl.maxBadness=abc: not a number from 1 to 1000000 "
        "(or 0): its default, 5, is used",
        "site.conf:2: hrCtrl.interval=-5: not a number from 1 to 31536000",
        "site.conf:3: hrCtrl.maxActors=99999999999999999999: not a number "
        "from 1 to 256",
        "site.conf:4: hrCtrl.logSize=10: not a number from 16384 to "
        "1073741824 (or 0): its default, 1048576, is used",
        "site.conf:5: unknown key hrCtrl.maxbadness (did you mean "
        "hrCtrl.maxBadness?): ignored",
        "site.conf:9: hrCtrl.stopTimeout again: ignored, line 6's is used",
        "site.conf:10: not KEY=VALUE: ignored",
        "site.conf:11: unknown key pmm.maxblocks (did you mean "
        "pmm.maxBlocks?): ignored",
    };
    for (size_t i = 0; i < sizeof said / sizeof said[0]; i++)
        cr_assert(strstr(out, said[i]), "'%s' in:\n%s", said[i], out);
    cr_assert_null(strstr(out, "site.conf:7"), "a comment: %s", out);
    cr_assert_null(strstr(out, "site.conf:8"), "a blank line: %s", out);
    cr_assert_null(strstr(out, "site.conf:12"), "a sound line: %s", out);
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0);
    cr_assert(strstr(out, "\"max_badness\": 5,"), "%s", out);
    cr_assert(strstr(out, "\"stop_timeout_ms\": 2000,"), "the first: %s", out);
    cr_assert(strstr(out, "\"max_groups\": 12,"), "%s", out);
}

/* A NUL byte in sysadm.ini or site.conf would end their text unseen:
 * the start-up file is not run at all (before, its lines up to the NUL
 * ran, the one cut there too, and nothing after, without a word), and
 * site.conf's keys all take their defaults, said in the log (before, the
 * keys after the NUL did, silently); so does a site.conf over 64 KiB. */
Test(site, startup_and_site_files_with_a_nul_byte_are_refused_with_a_reason)
{
    char path[512];
    static const char ini[] = "sh -c 'echo one >> boots'\nsh -c 'echo t\0wo >> boots'\n";
    snprintf(path, sizeof path, "%s/sysadm.ini", site);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(ini, 1, sizeof ini - 1, f), sizeof ini - 1);
    fclose(f);
    static const char conf[] = "hrCtrl.maxBadness=3\n\0hrCtrl.interval=9\n";
    snprintf(path, sizeof path, "%s/site.conf", site);
    f = fopen(path, "a");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(conf, 1, sizeof conf - 1, f), sizeof conf - 1);
    fclose(f);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "log", NULL), 0);
    cr_assert(strstr(out, "sysadm.ini: it holds a NUL byte"), "%s", out);
    cr_assert(strstr(out, "site.conf: it holds a NUL byte"), "%s", out);
    cr_assert_eq(lines_of("boots"), 0, "no line of the file ran");
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0);
    cr_assert(strstr(out, "\"max_badness\": 5"), "the default, not 3: %s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    f = fopen(path, "w"); /* site.conf: a key, then 70 KB of comments */
    cr_assert_not_null(f);
    fputs("hrCtrl.maxBadness=3\n", f);
    for (int i = 0; i < 1100; i++) /* 64 bytes a line */
        fputs("# a comment line of sixty-four bytes, to make the file long..\n", f);
    fclose(f);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "log", NULL), 0);
    cr_assert(strstr(out, "site.conf: File too large: every key takes its default"),
              "%s", out);
}

/* The controller serves while a start-up command runs: the command can
 * call it, and an actor of an earlier line that dies is restarted. */
Test(site, startup_commands_run_while_the_controller_serves)
{
    char text[2048], go[512];
    snprintf(go, sizeof go, "%s/go", site);
    snprintf(text, sizeof text,
             "arun -g 1 %s X\n"
             "sh -c '%s arun -g 2 %s Y && %s ps > \"%s/ps.out\"'\n"
             "sh -c 'i=0; while [ ! -e \"%s\" ] && [ $i -lt 1500 ]; do "
             "sleep 0.02; i=$((i+1)); done'\n",
             ACTOR_BIN, HR_BIN, ACTOR_BIN, HR_BIN, site, go);
    write_file("sysadm.ini", text);
    pid_t starter = fork();
    if (starter == 0) {
        execl(HR_BIN, "hr", "site", "start", (char *)NULL);
        _exit(127);
    }
    WAIT_FOR(runs_of("Y", 2) == 1, "Y, started by a start-up command's hr arun");
    WAIT_FOR(runs_of("X", 1) == 1 && pid_of("test_actor"), "X to run");
    WAIT_FOR(lines_of("ps.out") > 0, "the command's hr ps to answer");
    cr_assert_eq(kill(pid_of("test_actor"), SIGKILL), 0);
    WAIT_FOR(runs_of("X", 1) == 2, "X restarted while the start-up file runs");
    cr_assert_eq(kill(starter, 0), 0, "hr site start waits for the file's end");
    int fd = open(go, O_CREAT | O_WRONLY, 0600);
    cr_assert(fd >= 0);
    close(fd);
    cr_assert_eq(wait_status(starter), 0, "hr site start succeeds");
    cr_assert_eq(run_hr(out, sizeof out, "log", NULL), 0);
    cr_assert_null(strstr(out, "sysadm.ini:2"), "the hr calls failed: %s", out);
}

/* hrCtrl.maxGroups and hrCtrl.maxActors, set per site, bound the registry. */
Test(site, registry_limits_are_the_site_tunables)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--max-actors", "257", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--max-groups", "0", NULL), 2);
    char sub[512];
    struct stat st;
    snprintf(sub, sizeof sub, "%s/sub", site);
    hr_policy over = {.max_actors = HR_ACTORS_LIMIT + 1};
    cr_assert_eq(hr_policy_check(&over), -EINVAL);
    cr_assert_eq(hr_policy_write(sub, &over), -EINVAL);
    cr_assert_neq(stat(sub, &st), 0, "a refused site leaves no directory");
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--max-actors", "2",
                        "--max-groups", "3", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0);
    cr_assert(strstr(out, "\"max_actors\": 2") && strstr(out, "\"max_groups\": 3"),
              "stopped: %s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0);
    cr_assert(strstr(out, "\"max_actors\": 2") && strstr(out, "\"max_groups\": 3"),
              "running: %s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "3", ACTOR_BIN, "A", NULL), 1,
                 "group 3 is past hrCtrl.maxGroups");
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "2", ACTOR_BIN, "A", NULL), 0);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "0", ACTOR_BIN, "B", NULL), 0);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", ACTOR_BIN, "C", NULL), 1,
                 "a third actor is past hrCtrl.maxActors");
    WAIT_FOR(runs_of("A", 2) == 1 && runs_of("B", 0) == 1, "A and B to run");
    cr_assert_eq(runs_of("C", 1), -1, "C never ran");
    refresh();
    cr_assert_eq(count_actors("\"name\": \"test_actor"), 2, "%s", ps);
}

Test(site, crash_loop_escalates_then_the_site_stops)
{
    hr_policy p = {.max_badness = 2, .interval_s = 60};
    cr_assert_eq(pmm_site_create(site, NULL), 0);
    cr_assert_eq(hr_policy_write(site, &p), 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "4", ACTOR_BIN, "crashloop",
                        NULL), 0, "%s", out);
    /* the event: the site has failed and its controller is gone (a ping
     * also fails while one controller replaces another, so both) */
    hr_site_state st = {0};
    POLL_UNTIL(hr_ping(NULL) <= 0 && hr_site_status(NULL, &st, NULL, 0) == 0 &&
               st.state == HR_SITE_FAILED, "the site to fail");
    int starts = runs_of("crashloop", 4);
    /* per site generation: the first start and M restarts, then the M+1st
     * failure escalates; the M+1st site restart is refused: (M+1)^2, no
     * more, no fewer (badness drains M per interval: 30 s for one unit) */
    cr_assert_eq(starts, 9, "(M+1)^2 starts with hrCtrl.maxBadness=M=2: %d",
                 starts);
    int ping = hr_ping(NULL);
    cr_assert(ping == -ECONNREFUSED || ping == -ENOENT, "the failed site stopped: %d",
              ping);
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0);
    cr_assert(strstr(out, "\"state\": \"failed\""), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "log", NULL), 0);
    cr_assert(strstr(out, "site failed, stopping"), "%s", out);
    cr_assert(strstr(out, "group 4 failed more than 2 times in 60s"), "%s", out);
    /* started again by hand: a fresh try, its groups' badness forgiven
     * with the site's (before: the first failure escalated at once, and
     * the site failed after 7 starts) */
    run_hr(out, sizeof out, "site", "start", NULL); /* 0, or 1: failed again */
    POLL_UNTIL(hr_ping(NULL) <= 0 && hr_site_status(NULL, &st, NULL, 0) == 0 &&
               st.state == HR_SITE_FAILED && runs_of("crashloop", 4) > starts,
               "the site to fail again");
    cr_assert_eq(runs_of("crashloop", 4), 2 * starts, "as many starts again");
}

/* Site restarts asked for (hr site restart) are no failures: more of them
 * than hrCtrl.maxBadness in its interval leave the site running (before,
 * the third with M=2 failed it: "more than 2 site restarts in 60s"). */
Test(site, asked_site_restarts_are_not_charged_to_the_policy)
{
    hr_policy p = {.max_badness = 2, .interval_s = 60};
    cr_assert_eq(pmm_site_create(site, NULL), 0);
    cr_assert_eq(hr_policy_write(site, &p), 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(run_hr(out, sizeof out, "site", "restart", NULL), 0,
                     "restart %d: %s", i + 1, out);
    hr_site_state st;
    cr_assert_eq(hr_status(NULL, &st), 0, "the site stopped");
    cr_assert_eq(st.site_restarts, 5);
    cr_assert_eq(run_hr(out, sizeof out, "log", NULL), 0);
    cr_assert_null(strstr(out, "site failed"), "%s", out);
}

static void two_groups_up(void)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", ACTOR_BIN, "X", "Z",
                        ACTOR_BIN, NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "2", ACTOR_BIN, "Y", NULL), 0);
    WAIT_FOR(runs_of("X", 1) == 1 && runs_of("Y", 2) == 1 && runs_of("Z", 1) == 1,
             "X, Y and Z to run");
}

static void assert_gone(const int *pids, int n)
{
    for (int i = 0; i < n; i++) {
        char what[96];
        snprintf(what, sizeof what, "process %d of the old generation to end",
                 pids[i]);
        POLL_UNTIL(kill(pids[i], 0) != 0, what);
    }
}

Test(site, controller_killed_then_started_again)
{
    two_groups_up();
    int old[3] = {pid_of("test_actor"), pid_of("test_actor.1"), pid_of("Z")};
    int hrd = hr_ping(NULL);
    cr_assert(hrd > 0);
    kill(hrd, SIGKILL);
    assert_gone(&hrd, 1);
    /* the actors outlive it (holding their sockets, SPEC 3.2): the next
     * controller ends them before it starts anything */
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    assert_gone(old, 3);
    WAIT_FOR(runs_of("X", 1) == 2 && runs_of("Y", 2) == 2 && runs_of("Z", 1) == 2,
             "every group running again, blocks intact");
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0);
    cr_assert(strstr(out, "\"site_restarts\": 1"), "%s", out);
}

Test(site, controller_killed_in_the_middle_of_a_group_restart)
{
    setenv("HR_CRASHPOINT", "hrd.group_restart", 1);
    two_groups_up();
    unsetenv("HR_CRASHPOINT");
    int hrd = hr_ping(NULL);
    int old[3] = {pid_of("test_actor"), pid_of("test_actor.1"), pid_of("Z")};
    kill(old[2], SIGKILL); /* Z fails: the controller dies mid-restart */
    assert_gone(&hrd, 1);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    assert_gone(old, 3); /* ended by the next controller */
    WAIT_FOR(runs_of("X", 1) == 2 && runs_of("Y", 2) == 2 && runs_of("Z", 1) == 2,
             "every group running again");
    cr_assert_eq(check_bank(), 0);
}

Test(site, controller_killed_in_the_middle_of_a_site_restart)
{
    setenv("HR_CRASHPOINT", "hrd.site_restart", 1);
    two_groups_up();
    unsetenv("HR_CRASHPOINT");
    int hrd = hr_ping(NULL);
    int old[3] = {pid_of("test_actor"), pid_of("test_actor.1"), pid_of("Z")};
    cr_assert_eq(hr_site_restart(NULL), 0);
    assert_gone(&hrd, 1);
    assert_gone(old, 3);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    WAIT_FOR(runs_of("X", 1) == 2 && runs_of("Y", 2) == 2 && runs_of("Z", 1) == 2,
             "every group running again");
}

/* A RAM bank that does not open, here one of an older format version,
 * is still wiped by a cold restart, with the sizes its header gives. */
Test(site, cold_restart_replaces_a_bank_that_does_not_open)
{
    pmm_site_config c = {.rambank_size = 8 << 20, .max_blocks = 100};
    cr_assert_eq(pmm_site_create(site, &c), 0);
    char path[512];
    cr_assert_eq(pmm_bank_path(path, sizeof path, site, "RAM"), 0);
    struct pmm_geom g;
    int fd = open(path, O_RDWR);
    cr_assert_eq(pread(fd, &g, sizeof g, 0), (ssize_t)sizeof g);
    g.version = PMM_VERSION - 1;
    g.sum = pmm__geom_sum(&g);
    cr_assert_eq(pwrite(fd, &g, sizeof g, 0), (ssize_t)sizeof g);
    cr_assert_eq(pwrite(fd, &g, sizeof g, PMM_GEOM_BACKUP_OFF), (ssize_t)sizeof g);
    close(fd);
    cr_assert_neq(run_hr(out, sizeof out, "pmm", "ls", NULL), 0);
    cr_assert_eq(pmm_check(path, 0, NULL, NULL), K_EBANK);
    cr_assert_eq(run_hr(out, sizeof out, "site", "cold", NULL), 0, "%s", out);
    cr_assert_eq(pmm_check(path, 0, NULL, NULL), 0);
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0, "%s", out);
    cr_assert(strstr(out, "\"size\": 8388608") && strstr(out, "\"max_blocks\": 100"),
              "the sizes were kept: %s", out);
}

Test(site, cold_restart_wipes_ram_and_keeps_disk)
{
    pmm_site_config c = {.diskbank_path = disk, .diskbank_size = 1 << 20};
    cr_assert_eq(pmm_site_create(site, &c), 0);
    two_groups_up();
    pmm_bank *d;
    void *p;
    cr_assert_eq(pmm_bank_open(&d, NULL, "DISK", 0), 0);
    cr_assert_eq(pmm_alloc(d, "survivor", 100, "D", 2, 0, &p, NULL), 0);
    strcpy(p, "still here");
    cr_assert_eq(pmm_sync(d, "survivor"), 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "cold", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0);
    cr_assert(strstr(out, "\"RAM\": {") && strstr(out, "\"blocks\": 0"), "%s", out);
    cr_assert(strstr(out, "\"generation\": 0"), "an empty registry: %s", out);
    cr_assert(strstr(out, "\"state\": \"stopped\""), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "--json", "pmm", "ls", NULL), 0);
    cr_assert(strstr(out, "\"blocks\": []"), "%s", out);
    pmm_block blk;
    pmm_bank *d2;
    pid_t pid = fork();
    if (pid == 0) { /* a fresh process finds the DISK block */
        char *q;
        if (pmm_bank_open(&d2, NULL, "DISK", 0) != 0 ||
            pmm_alloc(d2, "survivor", 100, "D", 2, PMM_RETRIEVE, (void **)&q, &blk))
            _exit(1);
        _exit(strcmp(q, "still here") == 0 ? 0 : 2);
    }
    cr_assert_eq(wait_status(pid), 0);
    /* and the site boots afresh */
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    refresh();
    cr_assert(strstr(ps, "\"groups\": []"), "%s", ps);
}

Test(site, controller_killed_in_the_middle_of_a_group_end)
{
    setenv("HR_CRASHPOINT", "hrd.group_end", 1);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    unsetenv("HR_CRASHPOINT");
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "6", ACTOR_BIN, "E", NULL), 0);
    WAIT_FOR(runs_of("E", 6) == 1, "E to run");
    int hrd = hr_ping(NULL);
    actor_command("E", "exit"); /* the group ends: the controller dies in it */
    assert_gone(&hrd, 1);
    pmm_block blk;
    cr_assert_eq(pmm_stat(bank_open(), "E", &blk), 0, "nothing freed yet");
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    refresh();
    cr_assert(strstr(ps, "\"groups\": []"), "the group's end was finished: %s", ps);
    cr_assert_eq(pmm_stat(bank_open(), "E", &blk), K_EUNKNOWN, "group block freed");
    cr_assert_eq(pmm_stat(bank_open(), "keep.E", &blk), 0, "other blocks kept");
    cr_assert_eq(pmm_stat(bank_open(), "__SYS.hr.image.0", &blk), K_EUNKNOWN);
}

Test(site, damaged_registry_entries_are_dropped_not_followed)
{
    two_groups_up();
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    struct hr_reg *reg;
    cr_assert_eq(pmm__alloc_sys(bank_open(), HR_REG_NAME, sizeof *reg, HR_REG_KEY,
                                sizeof HR_REG_KEY, PMM_RETRIEVE, -1, (void **)&reg,
                                NULL), 0);
    int bad = -1;
    for (int i = 0; i < HR_REG_ACTORS && bad < 0; i++)
        if (reg->actors[i].used && reg->actors[i].group == 2)
            bad = i;
    cr_assert(bad >= 0);
    pmm_block blk0;
    char image0[64];
    snprintf(image0, sizeof image0, "__SYS.hr.image.%d", bad);
    cr_assert_eq(pmm_stat(bank_open(), image0, &blk0), 0, "the image is there");
    reg->actors[bad].group = 100000;      /* an index far out of range */
    reg->actors[bad].args_len = 0xffffffffu;
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    WAIT_FOR(runs_of("X", 1) == 2, "group 1 running again");
    cr_assert_eq(run_hr(out, sizeof out, "log", NULL), 0);
    cr_assert(strstr(out, "damaged, dropped"), "%s", out);
    cr_assert(hr_ping(NULL) > 0, "the controller runs");
    /* what only the dropped entry accounted for is freed, not leaked:
     * its image and arguments, and its group, left with no member */
    char image[64], args[64];
    snprintf(image, sizeof image, "__SYS.hr.image.%d", bad);
    snprintf(args, sizeof args, "__SYS.hr.args.%d", bad);
    pmm_block blk;
    cr_assert_eq(pmm_stat(bank_open(), image, &blk), K_EUNKNOWN);
    cr_assert_eq(pmm_stat(bank_open(), args, &blk), K_EUNKNOWN);
    cr_assert_eq(runs_of("Y", 2), -1, "group 2's block is freed");
    cr_assert(strstr(out, "group 2 ended: no member left in the registry"), "%s", out);
    char ver[64]; /* its image's version record (daemon/imgver.h) */
    snprintf(ver, sizeof ver, "__SYS.hr.ver.%d", bad);
    cr_assert_eq(pmm_stat(bank_open(), ver, &blk), K_EUNKNOWN);
    cr_assert(strstr(out, "freed 3 blocks that no registry entry accounts for"),
              "%s", out);
    cr_assert_eq(check_bank(), 0);
}

/* A cold restart killed between making the new RAM bank and naming it
 * (crash point remake.aside), from the tool and from the controller:
 * the site still has its old bank, whole (its blocks, its registry: the
 * groups come back), and the checker finds it clean; a cold restart
 * after that makes the new one.  Before the new bank was made aside and
 * renamed over the old, a death there left the site with no bank. */
static void keep_block(const char *name)
{
    pmm_bank *b = bank_open();
    void *p;
    cr_assert_eq(pmm_alloc(b, name, 64, "K", 2, 0, &p, NULL), 0);
    strcpy(p, "the old bank");
    pmm_bank_close(b);
}

static void old_bank_whole(int runs)
{
    cr_assert_eq(check_bank(), 0);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "show", "kept", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    WAIT_FOR(runs_of("X", 1) == runs && runs_of("Y", 2) == runs, "the old groups");
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
}

/* Banks made aside (ram.bank.new.PID.R) in the site's directory. */
static int banks_aside(void)
{
    DIR *d = opendir(site);
    cr_assert(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strncmp(e->d_name, "ram.bank.new.", 13) == 0;
    closedir(d);
    return n;
}

Test(site, cold_restart_killed_before_the_new_bank_is_named_keeps_the_old)
{
    two_groups_up();
    keep_block("kept");
    setenv("HR_CRASHPOINT", "remake.aside", 1);
    cr_assert_eq(run_hr(out, sizeof out, "site", "cold", NULL), 128 + SIGKILL,
                 "the tool dies at remake.aside: %s", out);
    unsetenv("HR_CRASHPOINT");
    cr_assert_eq(banks_aside(), 1, "the tool's");
    old_bank_whole(2);
    setenv("HR_CRASHPOINT", "remake.aside", 1); /* the controller's turn */
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    unsetenv("HR_CRASHPOINT");
    /* both groups, or a cold restart may stop Y before its third run
     * counts itself, and the next start finds it one behind */
    WAIT_FOR(runs_of("X", 1) == 3 && runs_of("Y", 2) == 3, "both groups back");
    int hrd = hr_ping(NULL);
    cr_assert(hrd > 0);
    run_hr(out, sizeof out, "site", "restart", "--cold", NULL);
    assert_gone(&hrd, 1);
    old_bank_whole(4);
    cr_assert_eq(banks_aside(), 1, "the controller's (it removed the tool's)");
    cr_assert_eq(run_hr(out, sizeof out, "site", "cold", NULL), 0, "%s", out);
    cr_assert_eq(check_bank(), 0);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "show", "kept", NULL), 1,
                 "the new bank is empty: %s", out);
    /* the next maker removed the dead makers' banks (each the size of
     * the bank, in RAM) */
    cr_assert_eq(banks_aside(), 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "destroy", NULL), 0, "%s", out);
    cr_assert_neq(access(site, F_OK), 0, "the site directory is gone");
}

/* Without cgroups the controller judges processes re-parented to it by
 * their environment.  An ordinary actor of the start-up file (arun PROG,
 * "not watched, not restarted") and what a command leaves running are
 * the start-up file's, not a dead run's: an actor's crash and its group's
 * restart leave them running (before, both were SIGKILLed at the first
 * death).  The site's stop ends them. */
Test(site, startup_processes_are_no_leftovers_without_cgroups)
{
    char path[600], ord[600], bg[600], buf[64];
    snprintf(path, sizeof path, "%s/sysadm.ini", site);
    snprintf(ord, sizeof ord, "%s/ord.pid", site);
    snprintf(bg, sizeof bg, "%s/bg.pid", site);
    const char *files[2] = {"ord.pid", "bg.pid"};
    cr_assert_eq(pmm_site_create(site, NULL), 0);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "arun /bin/sh -c \"echo $$ > %s; exec sleep 1000\"\n"
               "/bin/sh -c \"sleep 1000 > /dev/null 2>&1 & echo $! > %s\"\n"
               "arun -g 1 %s fa\n", ord, bg, ACTOR_BIN);
    fclose(f);
    setenv("HRD_CGROUPS", "off", 1);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    WAIT_FOR(runs_of("fa", 1) == 1, "the actor");
    int pids[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        POLL_UNTIL(site_file(files[i], buf, sizeof buf) &&
                   (pids[i] = atoi(buf)) > 0, files[i]);
        cr_assert_eq(kill(pids[i], 0), 0, "%s: %d", files[i], pids[i]);
    }
    refresh();
    int actor = pid_of("test_actor");
    cr_assert_gt(actor, 0, "%s", ps);
    cr_assert_eq(kill(actor, SIGKILL), 0);
    WAIT_FOR(runs_of("fa", 1) == 2, "the group restarted");
    for (int i = 0; i < 2; i++)
        cr_assert_eq(kill(pids[i], 0), 0, "%s: %d ended with the actor's "
                     "run:\n%s", files[i], pids[i], console());
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    for (int i = 0; i < 2; i++)
        POLL_UNTIL(kill(pids[i], 0) != 0, "the stop to end it");
}

/* An ordinary actor of the start-up file (arun PROG) runs in a session of
 * its own with every signal at its default (before: in the controller's
 * session, SIGPIPE ignored), and one that a controller left running when
 * it died is ended by the next controller, which starts its own (before,
 * it lived on beside the new one: one more copy at every crash, and a
 * stop ended only the newest); but not the command that started that
 * controller, though it carries the same mark. */
Test(site, a_dead_controller_s_ordinary_actor_ends_at_the_next_start)
{
    char path[600], ord[600], buf[64];
    snprintf(path, sizeof path, "%s/sysadm.ini", site);
    snprintf(ord, sizeof ord, "%s/ord.pid", site);
    cr_assert_eq(pmm_site_create(site, NULL), 0);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "arun /bin/sh -c \"echo $$ > %s; exec sleep 1000\"\n", ord);
    fclose(f);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    int first = 0, next = 0;
    POLL_UNTIL(site_file("ord.pid", buf, sizeof buf) && (first = atoi(buf)) > 0,
               "the ordinary actor");
    cr_assert_eq(proc_stat_field(first, 6), first, "not in a session of its own");
    cr_assert_eq(proc_status_mask(first, "SigIgn"), 0, "signals ignored: %llx",
                 proc_status_mask(first, "SigIgn"));
    int hrd = hr_ping(NULL);
    cr_assert_gt(hrd, 0);
    cr_assert_eq(kill(hrd, SIGKILL), 0);
    assert_gone(&hrd, 1);
    cr_assert_eq(kill(first, 0), 0, "it outlives its controller");
    cr_assert_eq(unlink(ord), 0);
    /* started again as a start-up command would (a watchdog): the starter
     * carries the site's HR_STARTUP, and is no leftover */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "HR_STARTUP='%s' '%s' site start; echo rc=$?",
             site, HR_BIN);
    const char *const sh[] = {"/bin/sh", "-c", cmd, NULL};
    int st = run_prog("/bin/sh", sh, NULL, out, sizeof out);
    cr_assert(st == 0 && strstr(out, "rc=0"), "the starter: status %d: %s", st,
              out);
    POLL_UNTIL(site_file("ord.pid", buf, sizeof buf) && (next = atoi(buf)) > 0,
               "the next controller's ordinary actor");
    POLL_UNTIL(kill(first, 0) != 0, "the dead controller's one to end");
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    POLL_UNTIL(kill(next, 0) != 0, "the stop to end the next one");
}

/* How many times the log says a start-up file was another user's. */
static int refusals(void)
{
    int n = 0;
    for (const char *p = console(); (p = strstr(p, "sysadm.ini: belongs to "
                                                "uid 65534")); p++)
        n++;
    return n;
}

/* The start-up file's commands run as the controller's user, so the file
 * must be that user's: one of another user's (left in a site directory
 * since chowned to root, or a link of theirs in its place) is not run,
 * and the log says whose it is (before: its commands ran as root). */
Test(site, a_startup_file_of_another_user_is_not_run)
{
    char path[600], target[600], mark[600], buf[64];
    cr_assert_eq(pmm_site_create(site, NULL), 0);
    snprintf(path, sizeof path, "%s/sysadm.ini", site);
    snprintf(target, sizeof target, "%s/theirs.ini", site);
    snprintf(mark, sizeof mark, "%s/ran", site);
    FILE *f = fopen(target, "w");
    cr_assert_not_null(f);
    fprintf(f, "/bin/sh -c \"echo yes > %s\"\n", mark);
    fclose(f);
    cr_assert_eq(chown(target, 65534, 65534), 0);
    cr_assert_eq(symlink("theirs.ini", path), 0); /* root's link, their file */
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    POLL_UNTIL(refusals() == 1 || site_file("ran", buf, sizeof buf),
               "the refusal in the log, or their command's mark");
    cr_assert(!site_file("ran", buf, sizeof buf), "their command ran");
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    /* their link in place of it, to a file of root's */
    cr_assert_eq(chown(target, 0, 0), 0);
    cr_assert_eq(lchown(path, 65534, 65534), 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    POLL_UNTIL(refusals() == 2 || site_file("ran", buf, sizeof buf),
               "the second refusal in the log, or their command's mark");
    cr_assert(!site_file("ran", buf, sizeof buf), "their link's file ran");
}
