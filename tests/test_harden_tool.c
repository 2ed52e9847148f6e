/* SPDX-License-Identifier: MIT */
/*
 * test_harden_tool.c - the tool under attack and at its limits (issue 21):
 * hr log against an actor's control bytes and a rotating log, concurrent
 * hr site set, the smaller refusals, and a READY=1 sent by another process
 * than the actor.  (The metrics server against slow and idle clients is in
 * test_obs.c, a standby killed while it initialises in test_standby.c.)
 * A real hrd in a throwaway site, real actors.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "ctl_helpers.h"

static char out[262144];
static const char *site;

static void up(void) { site = site_new(0, 0); }

TestSuite(harden_tool, .init = up, .fini = site_stop_drop, .timeout = 300);

static void start(void) { site_start(out, sizeof out); }

/* s holds nothing a terminal acts on: valid UTF-8, no control character
 * but TAB and newline, no C1 control. */
static void terminal_safe(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; p[i]; i++) {
        unsigned char c = p[i];
        cr_assert(c >= 0x20 || c == '\t' || c == '\n',
                  "control byte 0x%02x at %zu of:\n%s", c, i, s);
        cr_assert(c != 0x7f, "DEL at %zu", i);
        if (c < 0x80)
            continue;
        int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        cr_assert(c >= 0xc2 && c <= 0xf4, "bad UTF-8 lead 0x%02x at %zu", c, i);
        cr_assert(!(c == 0xc2 && p[i + 1] < 0xa0), "C1 control at %zu", i);
        for (int k = 1; k < len; k++)
            cr_assert(p[i + k] >= 0x80 && p[i + k] <= 0xbf,
                      "bad UTF-8 at %zu", i + k);
        i += (size_t)len - 1;
    }
}

/* Item 6: an actor's escape sequences, C1 CSI, BEL, NUL, bad UTF-8 and a
 * CR that forges a controller line are shown escaped; --raw keeps them. */
Test(harden_tool, log_escapes_control_characters)
{
    start();
    /* octal, as dash's printf takes it: ESC [2J, ESC ]0;t BEL, C1 CSI,
     * a lone 0xff, a cut 0xc3, a euro sign (kept), then CR and a forgery,
     * then NUL last (the raw capture ends there) */
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--name", "evil",
                        "/bin/sh", "-c",
                        "printf 'esc\\033[2J\\033]0;t\\007 csi\\302\\23331m "
                        "bad\\377\\303 \\342\\202\\254 "
                        "A\\rFAKE: controller stopped nul\\000\\n'; "
                        "exec sleep 1000", NULL), 0, "%s", out);
    const char *line = NULL;
    WAIT_FOR(strstr(console(), "esc\033"), "the actor's line in console.log");
    cr_assert_eq(run_hr(out, sizeof out, "log", NULL), 0);
    line = strstr(out, "esc\\x1b[2J");
    cr_assert_not_null(line, "the actor's line never came:\n%s", out);
    terminal_safe(out);
    cr_assert_not_null(strstr(out, "esc\\x1b[2J\\x1b]0;t\\a csi\\xc2\\x9b31m "
                                   "bad\\xff\\xc3 \xe2\x82\xac A\\rFAKE: "
                                   "controller stopped nul\\x00\n"), "%s", out);
    /* the forgery is seen on the actor's tagged line, not as a line */
    const char *start_of_line = line;
    while (start_of_line > out && start_of_line[-1] != '\n')
        start_of_line--;
    cr_assert_not_null(memmem(start_of_line, (size_t)(line - start_of_line),
                              "g1/evil", 7), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "log", "--raw", NULL), 0);
    cr_assert_not_null(strstr(out, "esc\033[2J\033]0;t\007 csi\302\23331m "
                                   "bad\377\303 \342\202\254 A\rFAKE: "
                                   "controller stopped nul"), "%s", out);
}

/* Run hr with args (NULL-terminated), its stderr into out: its status. */
static int hr_stderr(const char *arg0, ...)
{
    const char *argv[16] = {HR_BIN, arg0};
    int n = 2, fd[2];
    va_list ap;
    va_start(ap, arg0);
    while (n < 15 && (argv[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    argv[n] = NULL;
    cr_assert_eq(pipe(fd), 0);
    pid_t p = fork();
    if (p == 0) {
        dup2(fd[1], 2);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execv(HR_BIN, (char **)argv);
        _exit(127);
    }
    close(fd[1]);
    size_t got = 0;
    ssize_t k;
    while ((k = read(fd[0], out + got, sizeof out - 1 - got)) > 0)
        got += (size_t)k;
    out[got] = 0;
    close(fd[0]);
    return wait_status(p);
}

/* Item 12: hr log on a site whose controller never started says so. */
Test(harden_tool, log_of_a_never_started_site)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0);
    cr_assert_eq(hr_stderr("log", NULL), 1);
    cr_assert_not_null(strstr(out, "never started"), "%s", out);
    cr_assert_null(strstr(out, "No such file"), "%s", out);
}

/* Item 10: hr log while the log rotates under a flood never fails. */
Test(harden_tool, log_read_across_rotations)
{
    char v[32];
    snprintf(v, sizeof v, "hrCtrl.logSize=%u", HR_LOG_SIZE_MIN);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "set", v, NULL), 0, "%s", out);
    start();
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--name", "flood",
                        "/bin/sh", "-c", "exec yes 'a flood of lines, each "
                        "long enough to fill the log quickly'", NULL), 0);
    struct stat st;
    char one[600];
    snprintf(one, sizeof one, "%s/console.log.1", site);
    POLL_UNTIL(stat(one, &st) == 0, "the log's rotation (console.log.1)");
    int failed = 0;
    for (int i = 0; i < 300; i++)
        failed += run_hr(NULL, 0, "log", i % 2 ? "--all" : NULL, NULL) != 0;
    cr_assert_eq(failed, 0, "%d of 300 hr log failed", failed);
}

/* Item 9: 8 hr site set at once, each of another key, 25 times over: none
 * fails, and each round's 8 changes are all in site.conf. */
Test(harden_tool, concurrent_site_set_loses_nothing)
{
    static const char *const keys[8] = {
        "hrCtrl.maxBadness", "hrCtrl.interval", "hrCtrl.maxActors",
        "hrCtrl.maxGroups", "hrCtrl.stopTimeout", "hrCtrl.failStopTimeout",
        "hrCtrl.aslr", "hrCtrl.logSize"};
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0);
    int failed = 0, lost = 0;
    for (unsigned round = 1; round <= 25; round++) {
        uint32_t want[8] = {10 + round, 100 + round, 100 + round, 100 + round,
                            1000 + round, 500 + round, round % 2,
                            HR_LOG_SIZE_MIN + round};
        int go[2];
        pid_t kid[8];
        cr_assert_eq(pipe(go), 0);
        for (int k = 0; k < 8; k++) {
            char kv[64];
            snprintf(kv, sizeof kv, "%s=%u", keys[k], want[k]);
            if ((kid[k] = fork()) == 0) {
                char c;
                close(go[1]);
                if (read(go[0], &c, 1) != 0) /* all at once: at its close */
                    _exit(126);
                int null = open("/dev/null", O_WRONLY);
                dup2(null, 1);
                execl(HR_BIN, "hr", "site", "set", kv, (char *)NULL);
                _exit(127);
            }
        }
        close(go[0]);
        close(go[1]);
        for (int k = 0; k < 8; k++)
            failed += wait_status(kid[k]) != 0;
        hr_policy p;
        cr_assert_eq(hr_policy_read(NULL, &p), 0);
        uint32_t got[8] = {p.max_badness, p.interval_s, p.max_actors,
                           p.max_groups, p.stop_ms, p.fail_stop_ms, p.aslr,
                           p.log_size};
        for (int k = 0; k < 8; k++)
            lost += got[k] != want[k];
    }
    cr_assert(failed == 0 && lost == 0, "of 200 hr site set, %d failed and "
              "%d changes were lost", failed, lost);
    DIR *d = opendir(site);
    struct dirent *e;
    while ((e = readdir(d)))
        cr_assert_null(strstr(e->d_name, ".tmp"), "%s left", e->d_name);
    closedir(d);
}

/* Item 12: KEY=0 is the default for every key, as the docs say; a sign or
 * a space is refused; a refusal gives the range. */
Test(harden_tool, site_set_zero_is_the_default_and_numbers_are_digits)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "set", "hrCtrl.maxBadness=9",
                        "hrCtrl.logSize=20000", NULL), 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "set", "hrCtrl.maxBadness=0",
                        "hrCtrl.interval=0", "hrCtrl.maxActors=0",
                        "hrCtrl.maxGroups=0", "hrCtrl.stopTimeout=0",
                        "hrCtrl.failStopTimeout=0", "hrCtrl.aslr=0",
                        "hrCtrl.logSize=0", NULL), 0, "%s", out);
    hr_policy p;
    cr_assert_eq(hr_policy_read(NULL, &p), 0);
    cr_assert_eq(p.max_badness, HR_DEFAULT_MAX_BADNESS);
    cr_assert_eq(p.log_size, HR_DEFAULT_LOG_SIZE);
    cr_assert_eq(p.stop_ms, HR_DEFAULT_STOP_MS);
    cr_assert_eq(p.max_actors, HR_ACTORS_LIMIT);
    static const char *const bad[] = {"hrCtrl.maxBadness=+5",
                                      "hrCtrl.maxBadness= 5",
                                      "hrCtrl.maxBadness=-0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(hr_stderr("site", "set", bad[i], NULL), 2, "%s", bad[i]);
    cr_assert_eq(hr_stderr("site", "set", "hrCtrl.logSize=100", NULL), 2);
    cr_assert_not_null(strstr(out, "16384 to 1073741824"), "%s", out);
    /* a bank's key is not a policy figure, nor unknown: it is said where
     * it is set */
    cr_assert_eq(hr_stderr("site", "set", "pmm.maxBlocks=8192", NULL), 2);
    cr_assert_not_null(strstr(out, "fixed when the bank is made"), "%s", out);
    cr_assert_eq(hr_stderr("site", "set", "pmm.nope=1", NULL), 2);
    cr_assert_not_null(strstr(out, "unknown key 'pmm.nope'"), "%s", out);
    cr_assert_eq(hr_stderr("arun", "-g+1", "/bin/true", NULL), 2, "%s", out);
    cr_assert_eq(hr_stderr("akill", "-g", "+1", NULL), 2, "%s", out);
    cr_assert_eq(hr_stderr("akill", "+1", NULL), 2, "%s", out);
}

/* Item 12: a started site's destroy leaves no console.log, no
 * controller.lock, no directory. */
Test(harden_tool, destroy_of_a_started_site_leaves_nothing)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0);
    start();
    cr_assert_eq(run_hr(out, sizeof out, "site", "destroy", "--force", NULL), 0,
                 "%s", out);
    struct stat st;
    char path[600];
    snprintf(path, sizeof path, "%s/console.log", site);
    cr_assert_eq(stat(path, &st), -1, "console.log left");
    snprintf(path, sizeof path, "%s/controller.lock", site);
    cr_assert_eq(stat(path, &st), -1, "controller.lock left");
    cr_assert_eq(stat(site, &st), -1, "the site directory left");
}

/* Item 12: a group that does not exist is said so, exit 1; a script whose
 * #! interpreter is missing is said so; a symbolic link to --listen is
 * refused as such. */
Test(harden_tool, akill_listen_and_interpreter_say_what_is_wrong)
{
    start();
    cr_assert_eq(hr_stderr("akill", "-g", "9", NULL), 1);
    cr_assert_not_null(strstr(out, "group 9 does not exist"), "%s", out);
    char script[600], link[600];
    script_file(script, sizeof script, site, "s.sh",
                "#!/nonexistent/interp -x\necho hi\n");
    cr_assert_eq(hr_stderr("arun", "-g", "1", script, NULL), 1);
    cr_assert_not_null(strstr(out, "interpreter '/nonexistent/interp'"), "%s", out);
    cr_assert_eq(hr_stderr("arun", script, NULL), 1);
    cr_assert_not_null(strstr(out, "interpreter '/nonexistent/interp'"), "%s", out);
    snprintf(link, sizeof link, "%s/sock", site);
    cr_assert_eq(symlink("/nonexistent/target", link), 0);
    char spec[640];
    snprintf(spec, sizeof spec, "unix:%s", link);
    cr_assert_eq(hr_stderr("arun", "-g", "1", "--listen", spec, "/bin/sleep",
                           "100", NULL), 2);
    cr_assert_not_null(strstr(out, "symbolic link"), "%s", out);
    cr_assert_null(strstr(out, "in use"), "%s", out);
}

/* How many lines s holds. */
static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* A group that does not exist is said so in one line, the same whether
 * the site runs or is stopped (where hrd --end-group had said it too, in
 * a line of its own before the tool's). */
Test(harden_tool, akill_of_a_missing_group_says_so_once_running_or_stopped)
{
    char running[512];
    start();
    cr_assert_eq(hr_stderr("akill", "-g", "9", NULL), 1);
    cr_assert_eq(lines(out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "group 9 does not exist"), "%s", out);
    memcpy(running, out, sizeof running - 1);
    running[sizeof running - 1] = 0;
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    cr_assert_eq(hr_stderr("akill", "-g", "9", NULL), 1);
    cr_assert_eq(lines(out), 1, "%s", out);
    cr_assert_str_eq(out, running);
}

/* Item 12: a relative site path is refused (the controller and actors run
 * elsewhere); a site made on a disk file system is warned of. */
Test(harden_tool, relative_site_refused_and_disk_site_warned)
{
    setenv("HR_SITE", "relative/site", 1);
    cr_assert_eq(hr_stderr("site", "create", NULL), 2);
    cr_assert_not_null(strstr(out, "relative"), "%s", out);
    cr_assert_eq(hr_stderr("--site", "x", "ps", NULL), 2);
    cr_assert_not_null(strstr(out, "relative"), "%s", out);
    char disk[] = "/var/tmp/hrdisk.XXXXXX", dir[64];
    cr_assert_not_null(mkdtemp(disk));
    snprintf(dir, sizeof dir, "%s/site", disk);
    struct statfs fs;
    cr_assert_eq(statfs(disk, &fs), 0);
    int on_disk = fs.f_type != TMPFS_MAGIC && fs.f_type != RAMFS_MAGIC;
    int r = hr_stderr("--site", dir, "site", "create", "--rambank-size", "1M",
                      NULL);
    run_hr(NULL, 0, "--site", dir, "site", "destroy", NULL);
    rmdir(disk);
    cr_assert_eq(r, 0, "%s", out);
    if (on_disk) /* /var/tmp is a disk here, as on most machines */
        cr_assert_not_null(strstr(out, "warning"), "%s", out);
    else
        cr_log_warn("/var/tmp is on memory here: the warning is not tried");
}

/* NAME's readiness in the last ps ("starting", "ready"...), or "". */
static const char *readiness(const char *name)
{
    static char buf[16];
    char pat[96];
    snprintf(pat, sizeof pat, "\"name\": \"%s\", ", name);
    const char *p = strstr(ps, pat);
    p = p ? strstr(p, "\"readiness\": ") : NULL;
    buf[0] = 0;
    if (p && p[13] == '"')
        snprintf(buf, sizeof buf, "%.*s", (int)strcspn(p + 14, "\""), p + 14);
    return buf;
}

/* Shell words: python sends READY=1 to $NOTIFY_SOCKET (and then, for
 * SEND_AND_SLEEP, becomes sleep 1000 in the same process). */
#define SEND_PY "import os, socket; socket.socket(socket.AF_UNIX, " \
    "socket.SOCK_DGRAM).sendto(b\"READY=1\", os.environ[\"NOTIFY_SOCKET\"])"
#define SEND_READY "python3 -c '" SEND_PY "'"
#define SEND_AND_SLEEP "python3 -c '" SEND_PY \
    "; os.execvp(\"sleep\", [\"sleep\", \"1000\"])'"

/* Issue 21 item 15: a READY=1 from a process that is not the actor (its
 * own child; a stranger) is not credited to a starting actor.  Datagrams
 * are read in order: once "judge", which says READY=1 itself after both,
 * is ready, both were read. */
Test(harden_tool, ready_from_another_process_is_not_credited)
{
    start();
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--notify",
                        "--name", "waiter", "/bin/sh", "-c",
                        SEND_READY " && : > \"$HR_SITE/sent\"; exec sleep 1000",
                        NULL), 0, "%s", out);
    char sent[600], go[600];
    snprintf(sent, sizeof sent, "%s/sent", site);
    snprintf(go, sizeof go, "%s/go", site);
    struct stat st;
    WAIT_FOR(stat(sent, &st) == 0, "the child's READY=1 sent");
    /* a stranger's, from this process */
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    cr_assert_lt(strlen(site) + 13, sizeof a.sun_path);
    strcat(strcpy(a.sun_path, site), "/notify.sock");
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    cr_assert_eq(sendto(s, "READY=1", 7, 0, (struct sockaddr *)&a, sizeof a), 7,
                 "%s", strerror(errno));
    close(s);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "2", "--notify",
                        "--name", "judge", "/bin/sh", "-c",
                        "exec " SEND_AND_SLEEP, NULL), 0, "%s", out);
    WAIT_FOR(strcmp(readiness("judge"), "ready") == 0, "judge ready");
    refresh();
    cr_assert_str_eq(readiness("waiter"), "starting", "%s", ps);
}

/* Item 6: a UTF-8 character cut by the end of a read (64 KiB) is kept
 * whole, not escaped as two bad halves; a bad byte at the very end is. */
Test(harden_tool, log_keeps_a_character_across_reads)
{
    char path[600];
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0);
    snprintf(path, sizeof path, "%s/console.log", site);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 65535; i++) /* the euro sign straddles 65536 */
        fputc(i % 64 == 63 ? '\n' : 'x', f);
    fputs("\xe2\x82\xac\n\xe2\x82", f); /* and a cut one at the end */
    fclose(f);
    cr_assert_eq(run_hr(out, sizeof out, "log", NULL), 0);
    terminal_safe(out);
    cr_assert_not_null(strstr(out, "x\xe2\x82\xac\n\\xe2\\x82"), "%.80s",
                       out + strlen(out) - 40);
}

/* What site create and destroy may touch (found by the tool review):
 * destroy refuses a directory that is no site and removes nothing of it;
 * it removes the DISK bank site.conf names only if that is a bank file
 * of the site's owner (before: any file named there, root's too, was
 * unlinked by a root destroy); create refuses a --diskbank path holding a
 * file that is no bank (before: taken as the site's, and destroyed with
 * it); an empty --site is refused, not read as the default site. */
Test(harden_tool, create_and_destroy_touch_only_the_site_s_own_files)
{
    char dir[600], file[700], keep[700];
    snprintf(dir, sizeof dir, "%s.notasite", site);
    cr_assert_eq(mkdir(dir, 0700), 0);
    snprintf(file, sizeof file, "%s/notes.txt", dir);
    snprintf(keep, sizeof keep, "%s/site.conf", dir);
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(i ? keep : file, "w");
        cr_assert_not_null(f);
        fputs("mine\n", f);
        fclose(f);
    }
    struct stat st;
    cr_assert_eq(hr_stderr("--site", dir, "site", "destroy", "--force", NULL), 1,
                 "%s", out);
    cr_assert(strstr(out, "is not a site"), "%s", out);
    cr_assert_eq(stat(file, &st), 0, "notes.txt kept");
    cr_assert_eq(stat(keep, &st), 0, "its site.conf kept");

    /* a file that is no bank at the --diskbank path: refused, kept */
    char other[700];
    snprintf(other, sizeof other, "%s.precious", site);
    FILE *f = fopen(other, "w");
    cr_assert_not_null(f);
    fputs("precious\n", f);
    fclose(f);
    cr_assert_eq(hr_stderr("site", "create", "--diskbank", other, NULL), 1, "%s", out);
    cr_assert(strstr(out, "not a DISK bank of yours"), "%s", out);
    cr_assert_eq(stat(other, &st), 0);
    /* a site whose site.conf names that file: destroyed, the file kept */
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    char conf[700];
    snprintf(conf, sizeof conf, "%s/site.conf", site);
    f = fopen(conf, "a");
    cr_assert_not_null(f);
    fprintf(f, "pmm.diskbank=%s\n", other);
    fclose(f);
    cr_assert_eq(run_hr(out, sizeof out, "site", "destroy", "--force", NULL), 0,
                 "%s", out);
    cr_assert_eq(stat(other, &st), 0, "a file that is no bank is not removed");
    cr_assert_eq(stat(site, &st), -1, "the site is gone");
    unlink(other);
    unlink(file);
    unlink(keep);
    rmdir(dir);

    cr_assert_eq(hr_stderr("--site=", "site", "info", NULL), 2, "%s", out);
    cr_assert(strstr(out, "an empty path"), "%s", out);
}

/* Numbers are decimal (010 is ten, 0x20 no number), counts take no size
 * suffix, a size of 0 is refused, and a port past 65535 is refused
 * rather than wrapped (before: 99999 listened on 34463). */
Test(harden_tool, numbers_are_decimal_and_ports_in_range)
{
    static const char *const bad[][2] = {
        {"--max-badness", "0x20"}, {"--max-actors", "2B"}, {"--interval", "1K"},
        {"--max-blocks", "1K"}, {"--rambank-size", "0x100000"},
        {"--rambank-size", "0"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(hr_stderr("site", "create", bad[i][0], bad[i][1], NULL), 2,
                     "%s %s: %s", bad[i][0], bad[i][1], out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--max-badness", "010",
                        "--rambank-size", "010M", NULL), 0, "%s", out);
    hr_policy p;
    cr_assert_eq(hr_policy_read(NULL, &p), 0);
    cr_assert_eq(p.max_badness, 10, "decimal, not octal");
    start();
    cr_assert_eq(hr_stderr("arun", "-g", "3", "--listen", "tcp:127.0.0.1:99999",
                           "/bin/sleep", "30", NULL), 2, "%s", out);
    cr_assert_eq(hr_stderr("metrics", "--listen", "127.0.0.1:70000", NULL), 2,
                 "%s", out);
    cr_assert(strstr(out, "0 to 65535"), "%s", out);
    /* no file to check is said so, not "NOT consistent" */
    cr_assert_eq(hr_stderr("pmm", "check", "--bank", "/nonexistent/ram.bank", NULL),
                 1, "%s", out);
    cr_assert(strstr(out, "No such file") && !strstr(out, "NOT consistent"),
              "%s", out);
    /* nor is a directory (the site's, given for its bank) */
    cr_assert_eq(hr_stderr("pmm", "check", "--bank", site, NULL), 1, "%s", out);
    cr_assert(strstr(out, "is a directory") && strstr(out, "/ram.bank") &&
              !strstr(out, "NOT consistent"), "%s", out);
    cr_assert_eq(hr_stderr("pmm", "check", "--bank", "/nonexistent/ram.bank",
                           "--medium", "DISK", NULL), 2, "%s", out);
}

/* arun -g with no group number, then an option or "--" (the forms its
 * synopsis gives: arun [-g [GROUP]] [--name NAME]... [--] PROGRAM): group
 * 0, the option read.  Before, "--" or "--name" was taken for the program
 * ("not found on $PATH"). */
Test(harden_tool, arun_g_without_a_number_then_options)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    start();
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "--name", "gx",
                        "/bin/sleep", "30", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "--", "/bin/sleep", "31",
                        NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "--json", "ps", NULL), 0, "%s", out);
    cr_assert(strstr(out, "\"name\": \"gx\""), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "0", NULL), 0, "%s", out);
}

/* pmm ls shows a key as text only in the form pmm freeall takes as text
 * (its letters, then its NUL); the same letters without the NUL are
 * another key, shown in hex, which freeall --hex takes.  Before, both
 * read "KV", and "hr pmm freeall KV" found nothing for the second. */
Test(harden_tool, keys_shown_as_freeall_takes_them)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    pmm_bank *b;
    cr_assert_eq(pmm_bank_open(&b, NULL, "RAM", 0), 0);
    cr_assert_eq(pmm_alloc(b, "with.nul", 4096, "KV", 3, PMM_NOMAP, NULL, NULL), 0);
    cr_assert_eq(pmm_alloc(b, "without", 4096, "KV", 2, PMM_NOMAP, NULL, NULL), 0);
    pmm_bank_close(b);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "ls", NULL), 0, "%s", out);
    cr_assert(strstr(out, "0x4b56"), "the key without its NUL in hex: %s", out);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "freeall", "--hex", "4b56", NULL),
                 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "freeall", "KV", NULL), 0, "%s", out);
    cr_assert(strstr(out, "1 block freed"), "%s", out);
}

/* Root acting on another user's site acts as that user: a DISK bank path
 * the owner wrote into site.conf (here: a bank of root's, with a block
 * "secret") is opened with the owner's rights, so root's hr pmm ls of the
 * owner's site cannot list, nor free, root's block (before: it listed it,
 * and hr pmm free freed it; with a link or a swapped directory, root's
 * destroy, cold restart and heap commands removed, replaced or made files
 * wherever the owner pointed).  What the owner may do, root still does. */
Test(harden_tool, root_acts_as_the_owner_of_a_users_site)
{
    char usite[64], rsite[128], disk[128], conf[200];
    snprintf(usite, sizeof usite, "/dev/shm/hrtest-owner.%d", (int)getpid());
    snprintf(rsite, sizeof rsite, "%s.root", usite);
    snprintf(disk, sizeof disk, "/tmp/hrtest-rootdisk.%d", (int)getpid());
    pmm_site_config c = {.diskbank_path = disk};
    cr_assert_eq(pmm_site_create(rsite, &c), 0);
    pmm_bank *b;
    void *p;
    cr_assert_eq(pmm_bank_open(&b, rsite, "DISK", 0), 0);
    cr_assert_eq(pmm_alloc(b, "secret", 4096, "K", 2, 0, &p, NULL), 0);
    pmm_bank_close(b);
    /* the user's site: made here and given to nobody (uid 65534), as
     * its own hr site create would leave it; no program runs as nobody,
     * whose rights may not reach this build's directory */
    char cmd0[200];
    cr_assert_eq(pmm_site_create(usite, NULL), 0);
    snprintf(cmd0, sizeof cmd0, "chown -R 65534:65534 %s", usite);
    cr_assert_eq(system(cmd0), 0);
    snprintf(conf, sizeof conf, "%s/site.conf", usite);
    FILE *f = fopen(conf, "a");
    cr_assert_not_null(f, "%s", conf);
    fprintf(f, "pmm.diskbank=%s\n", disk);
    fclose(f);
    /* every figure first, the files removed, then the verdicts */
    char ls[4096], info[4096];
    int r_ls = run_hr(ls, sizeof ls, "--site", usite, "pmm", "ls", "--medium",
                      "DISK", NULL);
    int r_free = run_hr(out, sizeof out, "--site", usite, "pmm", "free",
                        "--medium", "DISK", "secret", NULL);
    /* the owner's RAM bank: root reads it, as the owner would (the DISK
     * bank it names stays out of reach: exit 1) */
    run_hr(info, sizeof info, "--site", usite, "site", "info", NULL);
    /* nor does the library, for root: a site's banks are its owner's */
    pmm_bank *theirs = NULL;
    int r_lib = pmm_bank_open(&theirs, usite, "DISK", 0);
    if (theirs)
        pmm_bank_close(theirs);
    /* hr itself runs as the owner: the site.conf it writes is theirs */
    int r_set = run_hr(out, sizeof out, "--site", usite, "site", "set",
                       "hrCtrl.interval=30", NULL);
    struct stat cs;
    uid_t conf_uid = stat(conf, &cs) == 0 ? cs.st_uid : (uid_t)-1;
    int kept = pmm_bank_open(&b, rsite, "DISK", 0) == 0 &&
               pmm_alloc(b, "secret", 4096, "K", 2, PMM_RETRIEVE, &p, NULL) == 0;
    if (kept)
        pmm_bank_close(b);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", usite);
    int rm = system(cmd);
    int gone = pmm_site_destroy(rsite);
    cr_assert(r_ls != 0 && !strstr(ls, "secret"), "root listed its own bank "
              "through the owner's site (exit %d): %s", r_ls, ls);
    cr_assert_eq(r_free, 1, "%s", out);
    cr_assert_eq(r_lib, K_EPRIV, "root's library opened another user's "
                 "site's DISK bank of root's: %d", r_lib);
    cr_assert(kept, "root's block was freed through the owner's site");
    cr_assert(strstr(info, "/ram.bank"), "%s", info);
    cr_assert_eq(r_set, 0, "%s", out);
    cr_assert_eq(conf_uid, 65534, "site.conf written as uid %u, not as the "
                 "site's owner", (unsigned)conf_uid);
    cr_assert_eq(rm, 0);
    cr_assert_eq(gone, 0);
}
