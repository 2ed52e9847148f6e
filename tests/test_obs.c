/* SPDX-License-Identifier: MIT */
/*
 * test_obs.c - what a site shows of itself: `hr metrics` (checked by
 * promtool, the Prometheus project's own checker), the console log's cap
 * and rotation, and the priorities and actor tags on a foreground
 * controller's stderr.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "ctl_helpers.h"

static char out[262144];
static const char *site;

static void up(void) { site = site_new(0, 0); }

TestSuite(obs, .init = up, .fini = site_stop_drop, .timeout = 300);

static void start(void) { site_start(out, sizeof out); }

/* An executable shell script at site/name with body. */
static const char *script(const char *name, const char *body)
{
    static char path[512];
    return script_file(path, sizeof path, site, name, "#!/bin/sh\n%s", body);
}

/* The value of the series `series` (name and labels, exactly) in text. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    cr_assert_fail("no series %s in:\n%s", series, text);
    return -1;
}

/* The text passes `promtool check metrics` (Debian: prometheus). */
static void promtool_ok(const char *text)
{
    static const char *const argv[] = {"promtool", "check", "metrics", NULL};
    char said[4096];
    cr_assert_eq(access("/usr/bin/promtool", X_OK), 0,
                 "promtool is missing: apt-get install prometheus "
                 "(scripts/test.sh installs it)");
    int st = run_prog("/usr/bin/promtool", argv, text, said, sizeof said);
    cr_assert_eq(st, 0, "promtool check metrics: %d\n%s\n--- text:\n%s", st,
                 said, text);
}

static pid_t actor_pid(void)
{
    refresh();
    return pid_of("sleeper");
}

/* Three kills of a group: its restart counter and the count of its
 * death-to-ready histogram each move by exactly three. */
Test(obs, metrics_count_three_restarts)
{
    start();
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "0", "--name",
                        "sleeper", "/bin/sleep", "1000", NULL), 0, "%s", out);
    WAIT_FOR(actor_pid() > 0, "the actor");
    cr_assert(hr_metrics(NULL, out, sizeof out) > 0);
    promtool_ok(out);
    double r0 = sample(out, "hr_group_restarts_total{group=\"0\"}");
    double h0 = sample(out, "hr_restart_duration_seconds_count{group=\"0\"}");
    for (int i = 0; i < 3; i++) {
        pid_t pid = actor_pid();
        char arg[32];
        snprintf(arg, sizeof arg, "%d", (int)pid);
        cr_assert_eq(run_hr(out, sizeof out, "akill", arg, NULL), 0, "%s", out);
        WAIT_FOR(actor_pid() > 0 && actor_pid() != pid, "the restart");
    }
    /* the histogram is fed when the group is up again: wait for the count */
    double h1 = h0;
    for (struct poll_wait w = poll_begin("the histogram's count of 3 restarts");
         h1 < h0 + 3; poll_pause(&w, out)) {
        cr_assert(hr_metrics(NULL, out, sizeof out) > 0);
        h1 = sample(out, "hr_restart_duration_seconds_count{group=\"0\"}");
    }
    promtool_ok(out);
    cr_assert_eq(sample(out, "hr_group_restarts_total{group=\"0\"}"), r0 + 3);
    cr_assert_eq(h1, h0 + 3);
    cr_assert_eq(sample(out, "hr_restart_duration_seconds_bucket{group=\"0\","
                             "le=\"+Inf\"}"), h1);
    cr_assert_eq(sample(out, "hr_actor_deaths_total{group=\"0\","
                             "cause=\"signal\"}"), 3);
    cr_assert_eq(sample(out, "hr_actors{state=\"running\"}"), 1);
    cr_assert_eq(sample(out, "hr_groups{state=\"running\"}"), 1);
    cr_assert_gt(sample(out, "hr_bank_used_blocks{medium=\"RAM\"}"), 0);
    cr_assert_eq(sample(out, "hr_bank_up{medium=\"RAM\"}"), 1);
    cr_assert(!strstr(out, "hr_bank_up{medium=\"DISK\"}"),
              "a site with no DISK medium has no DISK series:\n%s", out);
}

/* A connection to 127.0.0.1:port, retried while the server does not
 * listen yet. */
static int connect_to(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (struct poll_wait w = poll_begin("hr metrics --listen to listen");;
         poll_pause(&w, strerror(errno))) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert(s >= 0);
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0)
            return s;
        close(s);
    }
}

/* One HTTP request to 127.0.0.1:port, its whole answer (to the server's
 * close) into buf. */
static void http(int port, const char *request, char *buf, size_t cap)
{
    int s = connect_to(port);
    cr_assert_eq(write(s, request, strlen(request)), (ssize_t)strlen(request));
    size_t got = 0;
    ssize_t n;
    struct pollfd p = {.fd = s, .events = POLLIN};
    buf[0] = 0;
    for (struct poll_wait w = poll_begin("the scrape's whole answer");
         got + 1 < cap; poll_pause(&w, buf)) {
        if (poll(&p, 1, 0) != 1)
            continue;
        if ((n = read(s, buf + got, cap - 1 - got)) <= 0)
            break;
        got += (size_t)n;
        buf[got] = 0;
    }
    buf[got] = 0;
    close(s);
}

/* How many of the n sockets the server has not closed. */
static int still_open(const int *fds, int n)
{
    int open = 0;
    for (int i = 0; i < n; i++) {
        struct pollfd p = {.fd = fds[i], .events = POLLIN};
        open += poll(&p, 1, 0) == 0;
    }
    return open;
}

/* hr metrics --listen on a free port of 127.0.0.1: its pid. */
static pid_t metrics_server(int *port)
{
    char addr[32];
    *port = free_port();
    snprintf(addr, sizeof addr, "127.0.0.1:%d", *port);
    pid_t server = fork();
    if (server == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never left behind by a failure */
        execl(HR_BIN, "hr", "metrics", "--listen", addr, (char *)NULL);
        _exit(127);
    }
    return server;
}

/* hr metrics --listen: a scrape gets the same text over HTTP, and 503
 * once the controller is gone. */
Test(obs, metrics_over_http)
{
    start();
    int port;
    pid_t server = metrics_server(&port);
    http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof out);
    cr_assert_eq(strncmp(out, "HTTP/1.0 200 OK\r\n", 17), 0, "%s", out);
    cr_assert_not_null(strstr(out, "Content-Type: text/plain; version=0.0.4"));
    char *body = strstr(out, "\r\n\r\n");
    cr_assert_not_null(body);
    promtool_ok(body + 4);
    cr_assert_eq(run_hr(NULL, 0, "site", "stop", NULL), 0);
    http(port, "GET / HTTP/1.0\r\n\r\n", out, sizeof out);
    cr_assert_eq(strncmp(out, "HTTP/1.0 503 ", 13), 0, "%s", out);
    kill(server, SIGTERM);
    cr_assert_eq(wait_status(server), 128 + SIGTERM);
}

/* A method other than GET and HEAD is answered 405 with the Allow header
 * that RFC 9110 (15.5.6) requires of it, naming the two. */
Test(obs, metrics_refuse_other_methods_saying_which_are_allowed)
{
    start();
    int port;
    pid_t server = metrics_server(&port);
    http(port, "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof out);
    cr_assert_eq(strncmp(out, "HTTP/1.0 405 ", 13), 0, "%s", out);
    char *end = strstr(out, "\r\n\r\n");
    cr_assert_not_null(end, "%s", out);
    *end = 0; /* the head only */
    cr_assert_not_null(strstr(out, "\r\nAllow: GET, HEAD\r\n"),
                       "no Allow header:\n%s", out);
    kill(server, SIGTERM);
    cr_assert_eq(wait_status(server), 128 + SIGTERM);
}

/* A scrape, answered 200 with the text. */
static void scrape_ok(int port)
{
    http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof out);
    cr_assert_eq(strncmp(out, "HTTP/1.0 200 OK\r\n", 17), 0, "%s", out);
    cr_assert_not_null(strstr(out, "hr_controller_generation"), "%s", out);
}

/* Issue 21 item 7: 10 clients that send half a request and then nothing
 * do not hold a scrape back: it is answered while they still hold their
 * connections (one at a time, it was answered only once the server had
 * dropped each of them, 2 s each). */
Test(obs, metrics_scrape_beside_slow_clients)
{
    start();
    int port, slow[10];
    pid_t server = metrics_server(&port);
    scrape_ok(port); /* it listens */
    for (int i = 0; i < 10; i++) {
        slow[i] = connect_to(port);
        cr_assert_eq(write(slow[i], "GET / HTTP/1.1\r\nHo", 19), 19);
    }
    scrape_ok(port);
    cr_assert_gt(still_open(slow, 10), 0, "the scrape was answered only "
                 "after the server had dropped every slow client");
    for (int i = 0; i < 10; i++)
        close(slow[i]);
    kill(server, SIGTERM);
    cr_assert_eq(wait_status(server), 128 + SIGTERM);
}

/* Issue 21 item 7: 10,000 idle connections neither keep a scrape out nor
 * take the server's descriptors beyond its cap. */
Test(obs, metrics_scrape_beside_idle_connections)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max < 10200 ? rl.rlim_max : 10200;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    int n = rl.rlim_cur < 10200 ? (int)rl.rlim_cur - 200 : 10000;
    if (n < 10000)
        cr_log_warn("%d idle connections: the descriptor limit is %ld", n,
                    (long)rl.rlim_cur);
    start();
    int port, opened = 0;
    pid_t server = metrics_server(&port);
    scrape_ok(port); /* it listens */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int *idle = calloc((size_t)n, sizeof *idle);
    cr_assert_not_null(idle);
    for (int i = 0; i < n; i++) {
        idle[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        cr_assert(idle[i] >= 0, "socket: %s", strerror(errno));
        int r = connect(idle[i], (struct sockaddr *)&a, sizeof a);
        opened += r == 0 || errno == EINPROGRESS;
    }
    cr_assert_eq(opened, n);
    scrape_ok(port);
    int files, all;
    fds_of(server, &files, &all);
    cr_assert_leq(all, 64 + 8, "the server holds %d descriptors", all);
    for (int i = 0; i < n; i++)
        close(idle[i]);
    free(idle);
    kill(server, SIGTERM);
    cr_assert_eq(wait_status(server), 128 + SIGTERM);
}

Test(obs, metrics_need_a_controller)
{
    cr_assert_eq(hr_metrics(NULL, out, sizeof out), -ECONNREFUSED);
    cr_assert_eq(run_hr(out, sizeof out, "metrics", NULL), 1);
    cr_assert_eq(run_hr(out, sizeof out, "metrics", "extra", NULL), 2);
}

static void read_file(const char *path, char *buf, size_t cap);

static uint64_t file_size(const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", site, name);
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

#define LOG_CAP 16384 /* HR_LOG_SIZE_MIN */

/* An actor that prints a line and fails, restarted over and over by its
 * own failures (a policy that never escalates): console.log never grows
 * over hrCtrl.logSize, console.log.1 holds the rotation before. */
Test(obs, console_log_keeps_its_cap)
{
    unsigned want = (unsigned)test_count("HR_OBS_RESTARTS", 10000);
    char cap[64];
    snprintf(cap, sizeof cap, "hrCtrl.logSize=%d", LOG_CAP);
    cr_assert_eq(run_hr(out, sizeof out, "site", "set", cap,
                        "hrCtrl.maxBadness=1000000", "hrCtrl.interval=1",
                        NULL), 0, "%s", out);
    start();
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "0", "--name", "echo",
                        "/bin/echo", "one line a run", NULL), 0, "%s", out);
    hr_site_state st = {0};
    uint64_t biggest = 0, seen = 0;
    double t0 = now();
    /* at least `want` restarts, and on until the log has rotated (a small
     * HR_OBS_RESTARTS, for a quick run, must not make it fail); the bound
     * is on a stall, not on the 10,000 restarts (a sanitizer build under
     * load takes minutes) */
    for (struct poll_wait w = poll_begin("the restarts and a rotation");
         hr_status(NULL, &st) == 0 &&
         (st.group_restarts < want || file_size("console.log.1") <= LOG_CAP / 2);
         poll_pause(&w, NULL)) {
        uint64_t n = file_size("console.log");
        biggest = n > biggest ? n : biggest;
        if (st.group_restarts > seen)
            poll_progress(&w);
        seen = st.group_restarts;
    }
    cr_assert_geq(st.group_restarts, want);
    cr_assert_eq(st.site_restarts, 0, "the policy escalated");
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "0", NULL), 0, "%s",
                 out);
    fprintf(stderr, "console_log_keeps_its_cap: %u restarts in %.1f s\n",
            st.group_restarts, now() - t0);
    cr_assert_leq(biggest, LOG_CAP);
    cr_assert_leq(file_size("console.log"), LOG_CAP);
    cr_assert_leq(file_size("console.log.1"), LOG_CAP);
    cr_assert_gt(file_size("console.log.1"), LOG_CAP / 2, "never rotated");
    /* hr log --all reads both: the rotated lines first */
    cr_assert_eq(run_hr(out, sizeof out, "log", "--all", NULL), 0);
    cr_assert_gt(strlen(out), LOG_CAP);
    cr_assert_not_null(strstr(out, "info g0/echo: one line a run\n"), "%s",
                       out + strlen(out) / 2);
}

/* The last line of text (NUL-terminated), copied into line. */
static void last_line(const char *text, char *line, size_t cap)
{
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '\n')
        n--;
    size_t b = n;
    while (b > 0 && text[b - 1] != '\n')
        b--;
    snprintf(line, cap, "%.*s\n", (int)(n - b), text + b);
}

/* hr log -f goes on with the new console.log after each rotation. */
Test(obs, log_follows_rotations)
{
    char path[512], cap[64], last[2048], *seen = malloc(1 << 20);
    snprintf(cap, sizeof cap, "hrCtrl.logSize=%d", LOG_CAP);
    cr_assert_eq(run_hr(out, sizeof out, "site", "set", cap,
                        "hrCtrl.maxBadness=1000000", "hrCtrl.interval=1",
                        NULL), 0, "%s", out);
    start();
    snprintf(path, sizeof path, "%s/follow.out", site);
    pid_t follower = fork();
    if (follower == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        execl(HR_BIN, "hr", "log", "-f", (char *)NULL);
        _exit(127);
    }
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "0", "--name", "echo",
                        "/bin/echo", "one line a run", NULL), 0, "%s", out);
    hr_site_state st = {0};
    POLL_UNTIL(hr_status(NULL, &st) < 0 || st.group_restarts >= 500,
               "500 restarts");
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "0", NULL), 0);
    snprintf(cap, sizeof cap, "%s/console.log", site);
    read_file(cap, out, sizeof out);
    last_line(out, last, sizeof last);
    /* the follower reads at its pace: wait for it to catch up */
    POLL_UNTIL((read_file(path, seen, 1 << 20), strstr(seen, last)),
               "hr log -f to reach the current log's last line");
    kill(follower, SIGKILL);
    wait_status(follower);
    cr_assert_not_null(strstr(seen, last), "never reached the current log");
    cr_assert_gt(strlen(seen), 2 * LOG_CAP, "no rotation followed");
    free(seen);
}

Test(obs, log_size_is_checked)
{
    start(); /* the running controller takes the figure at once */
    cr_assert_eq(run_hr(out, sizeof out, "site", "set", "hrCtrl.logSize=100",
                        NULL), 2, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "set", "hrCtrl.logSize=65536",
                        NULL), 0, "%s", out);
    hr_policy p;
    cr_assert_eq(hr_policy_read(NULL, &p), 0);
    cr_assert_eq(p.log_size, 65536);
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0);
    cr_assert_not_null(strstr(out, "\"log_size\": 65536"), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "info", NULL), 0);
    cr_assert_not_null(strstr(out, "rotated at 65536 bytes"), "%s", out);
}

/* Every line matches re (POSIX extended). */
static void each_line_matches(const char *text, const char *re)
{
    regex_t rx;
    cr_assert_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
    char *copy = strdup(text), *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save))
        cr_assert_eq(regexec(&rx, l, 0, NULL, 0), 0, "'%s' is not /%s/", l, re);
    free(copy);
    regfree(&rx);
}

static void read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
}

/* hrd in the foreground, stderr into a file: each line has its sd-daemon
 * priority; an actor's lines carry its group and name, its own "<N>"
 * honoured, a long line cut, an unfinished last line kept. */
Test(obs, foreground_stderr_has_priorities_and_tags)
{
    char errpath[512], text[65536];
    snprintf(errpath, sizeof errpath, "%s/hrd.stderr", site);
    /* the actor fails at once: the second failure escalates, the site
     * restart fails it again, and the site stops, failed */
    cr_assert_eq(run_hr(out, sizeof out, "site", "set", "hrCtrl.maxBadness=1",
                        NULL), 0, "%s", out);
    pid_t hrd = fork();
    if (hrd == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never left behind by a failure */
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        execl(HRD_BIN, "hrd", "--site", site, (char *)NULL);
        _exit(127);
    }
    POLL_UNTIL(hr_ping(NULL) > 0, "the foreground hrd to answer");
    const char *talker = script("talker",
        "echo to stdout\n"
        "echo '<3>to stderr, an error' >&2\n"
        "head -c 3000 /dev/zero | tr '\\0' x; echo\n"
        "printf 'unfinished'\n"
        "exit 3\n");
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "2", talker, NULL), 0,
                 "%s", out);
    wait_status(hrd); /* the site failed: the controller is gone */
    read_file(errpath, text, sizeof text);
    each_line_matches(text, "^<[0-7]>(HR_CTRL|g[0-9]+/[^:]+): ");
    cr_assert_not_null(strstr(text, "<5>HR_CTRL: controller started"), "%s", text);
    cr_assert_not_null(strstr(text, "<6>g2/talker: to stdout\n"), "%s", text);
    cr_assert_not_null(strstr(text, "<3>g2/talker: to stderr, an error\n"));
    cr_assert_not_null(strstr(text, "<6>g2/talker: unfinished\n"));
    cr_assert_not_null(strstr(text, "<4>HR_CTRL: actor talker"));
    char piece[1100] = "<6>g2/talker: ";
    size_t at = strlen(piece);
    memset(piece + at, 'x', 1024); /* HRD_LINE_MAX */
    strcpy(piece + at + 1024, "\n");
    cr_assert_not_null(strstr(text, piece), "a 3000-byte line in 1024 pieces");
    cr_assert_null(strstr(text, "xx\n<6>g2/talker: \n"), "no empty piece");
    /* console.log: the same lines, with the time and its UTC offset */
    char path[512];
    snprintf(path, sizeof path, "%s/console.log", site);
    read_file(path, text, sizeof text);
    each_line_matches(text, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
                            "[0-9]{2}\\.[0-9]{3}[+-][0-9]{4} "
                            "(err|warning|notice|info|debug) "
                            "(HR_CTRL|g[0-9]+/[^:]+): ");
}

/* A foreground hrd whose stderr nobody reads (a stalled journald or
 * s6-log): restarts go on, the lines stderr cannot take are counted and
 * said once it reads again, and console.log has every one. */
Test(obs, full_stderr_never_blocks)
{
    int p[2];
    cr_assert_eq(run_hr(out, sizeof out, "site", "set",
                        "hrCtrl.maxBadness=1000000", "hrCtrl.interval=1",
                        NULL), 0, "%s", out);
    cr_assert_eq(pipe(p), 0);
    pid_t hrd = fork();
    if (hrd == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never left behind by a failure */
        dup2(p[1], 2);
        execl(HRD_BIN, "hrd", "--site", site, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    POLL_UNTIL(hr_ping(NULL) > 0, "the foreground hrd to answer");
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "0", "--name", "echo",
                        "/bin/echo", "one line a run", NULL), 0, "%s", out);
    hr_site_state st = {0};
    POLL_UNTIL(hr_status(NULL, &st) < 0 || st.group_restarts >= 1000,
               "1000 restarts (stuck: blocked on its stderr?)");
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "0", NULL), 0);
    /* read what stderr holds, then a stop writes again */
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    while (read(p[0], out, sizeof out) > 0)
        ;
    fcntl(p[0], F_SETFL, 0);
    cr_assert_eq(run_hr(NULL, 0, "site", "stop", NULL), 0);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < sizeof out &&
           (n = read(p[0], out + got, sizeof out - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = 0;
    close(p[0]);
    wait_status(hrd);
    cr_assert_not_null(strstr(out, "not written here (stderr was full): "
                                   "see console.log\n"), "%s", out);
    cr_assert_not_null(strstr(out, "<5>HR_CTRL: controller stopped"), "%s",
                       out);
}

/* In the foreground, a controller that cannot start says so as an error
 * (<3>), so that journald and s6-log file it as one. */
Test(obs, a_foreground_controller_that_cannot_start_says_so_as_an_error)
{
    char missing[600], errpath[600], text[4096];
    snprintf(missing, sizeof missing, "%s/no-such-site", site);
    snprintf(errpath, sizeof errpath, "%s/hrd.stderr", site);
    pid_t hrd = fork();
    if (hrd == 0) {
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        execl(HRD_BIN, "hrd", "--site", missing, (char *)NULL);
        _exit(127);
    }
    cr_assert_eq(wait_status(hrd), 1, "hrd could not start");
    read_file(errpath, text, sizeof text);
    cr_assert(strncmp(text, "<3>hrd: site ", 13) == 0, "%s", text);
    cr_assert_not_null(strstr(text, "does not exist"), "%s", text);
}

/* A group id used again after its group ended starts its counters at 0:
 * the deaths and restart times of the group that had it before are not
 * the new group's. */
Test(obs, a_group_id_used_again_starts_its_counters_afresh)
{
    start();
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "0", "--name",
                        "sleeper", "/bin/sleep", "1000", NULL), 0, "%s", out);
    WAIT_FOR(actor_pid() > 0, "the actor");
    pid_t pid = actor_pid();
    kill(pid, SIGKILL);
    WAIT_FOR(actor_pid() > 0 && actor_pid() != pid, "the restart");
    cr_assert(hr_metrics(NULL, out, sizeof out) > 0);
    cr_assert_eq(sample(out, "hr_actor_deaths_total{group=\"0\","
                             "cause=\"signal\"}"), 1, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "0", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "0", "--name",
                        "sleeper", "/bin/sleep", "1000", NULL), 0, "%s", out);
    WAIT_FOR(actor_pid() > 0, "the new group's actor");
    cr_assert(hr_metrics(NULL, out, sizeof out) > 0);
    promtool_ok(out);
    cr_assert_eq(sample(out, "hr_actor_deaths_total{group=\"0\","
                             "cause=\"signal\"}"), 0, "%s", out);
    cr_assert_eq(sample(out, "hr_restart_duration_seconds_count{group=\"0\"}"),
                 0, "%s", out);
}
