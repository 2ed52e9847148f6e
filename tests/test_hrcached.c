/* SPDX-License-Identifier: MIT */
/*
 * test_hrcached.c - hrcached against clients nobody here wrote
 * (libmemcached's memccapable, pymemcache), memcached's error strings and
 * limits, eviction, options, and items that outlive a SIGKILL.
 *
 * Each case makes a throwaway site, holds a listening socket and starts
 * hrcached on it by LISTEN_FDS, as the controller does.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/hr.h>
#include <hotrestart/version.h>

#include "common.h"
#include "test_hrcached_util.h"

static int port, lfd;

static void setup(void)
{
    lfd = mc_case_setup(&port);
}

TestSuite(hrcached, .init = setup, .fini = mc_case_teardown, .timeout = 120);

/* Send cmd, wait for a reply ending in end. */
static const char *get(int fd, const char *cmd, const char *end)
{
    static char out[65536];
    cr_assert_gt(mc_ask(fd, cmd, strlen(cmd), end, out, sizeof out), 0,
                 "no reply to %s", cmd);
    return out;
}

static ssize_t get_into(int fd, const char *cmd, char *out, size_t cap)
{
    return mc_ask(fd, cmd, strlen(cmd), "END\r\n", out, cap);
}

#define start(...) mc_startl(lfd, __VA_ARGS__)

Test(hrcached, memccapable_passes_every_ascii_test)
{
    cr_assert_eq(access("/usr/bin/memccapable", X_OK), 0,
                 "memccapable missing: apt-get install libmemcached-tools "
                 "(scripts/test.sh installs it)");
    pid_t pid = start("-t", "4", NULL);  /* memcached's default, written */
    char sport[16], out[16384];
    snprintf(sport, sizeof sport, "%d", port);
    const char *argv[] = {"/usr/bin/memccapable", "-h", "127.0.0.1", "-p",
                          sport, "-a", NULL};
    int st = mc_run(out, sizeof out, argv);
    cr_assert_eq(st, 0, "memccapable failed (%d):\n%s", st, out);
    cr_assert_not_null(strstr(out, "All tests passed"), "%s", out);
    cr_assert_null(strstr(out, "[FAIL]"), "%s", out);
    cr_assert_eq(mc_stop(pid), 0);
}

Test(hrcached, pymemcache_workload_and_its_data_after_sigkill)
{
    cr_assert_eq(access("/usr/bin/python3", X_OK), 0);
    char sport[16], out[16384];
    snprintf(sport, sizeof sport, "%d", port);
    const char *fill[] = {"/usr/bin/python3", PYMEMCACHE_SCRIPT, sport,
                          "fill", NULL};
    const char *check[] = {"/usr/bin/python3", PYMEMCACHE_SCRIPT, sport,
                           "check", NULL};
    pid_t pid = start(NULL);
    int st = mc_run(out, sizeof out, fill);
    cr_assert_eq(st, 0, "pymemcache fill (install python3-pymemcache):\n%s",
                 out);
    kill(pid, SIGKILL);
    cr_assert_eq(wait_status(pid), 128 + SIGKILL);
    pid = start(NULL);
    st = mc_run(out, sizeof out, check);
    cr_assert_eq(st, 0, "pymemcache check after SIGKILL:\n%s", out);
    cr_assert_eq(mc_stop(pid), 0);
}

/* What memcached 1.6 answers, byte for byte. */
Test(hrcached, memcached_limits_and_error_strings)
{
    pid_t pid = start("-I", "2k", NULL);
    int fd = mc_connect(port);
    char big[300];
    memset(big, 'k', sizeof big);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "set %.251s 0 0 1\r\n", big);
    cr_assert_str_eq(mc_line(fd, cmd), "CLIENT_ERROR bad command line format\r\n");
    cr_assert_str_eq(mc_line(fd, "x\r\n"), "ERROR\r\n");
    snprintf(cmd, sizeof cmd, "set %.250s 0 0 1\r\nx\r\n", big);
    cr_assert_str_eq(mc_line(fd, cmd), "STORED\r\n");
    /* over -I: refused, and its data is not taken for commands */
    snprintf(cmd, sizeof cmd, "set big 0 0 3000\r\n%3000d\r\n", 7);
    cr_assert_str_eq(mc_line(fd, cmd),
                     "SERVER_ERROR object too large for cache\r\n");
    /* 3 bytes read as the data; the \n left is an empty command */
    cr_assert_str_eq(get(fd, "set a 0 0 1\r\nab\r\n", "ERROR\r\n"),
                     "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
    cr_assert_str_eq(mc_line(fd, "set a 0 0 -1\r\n"),
                     "CLIENT_ERROR bad command line format\r\n");
    cr_assert_str_eq(mc_line(fd, "bogus\r\n"), "ERROR\r\n");
    cr_assert_str_eq(mc_line(fd, "set n 0 0 2\r\nab\r\n"), "STORED\r\n");
    cr_assert_str_eq(mc_line(fd, "incr n 1\r\n"),
        "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
    cr_assert_str_eq(mc_line(fd, "incr n x\r\n"),
                     "CLIENT_ERROR invalid numeric delta argument\r\n");
    cr_assert_str_eq(mc_line(fd, "set n 0 0 2\r\n99\r\n"), "STORED\r\n");
    cr_assert_str_eq(mc_line(fd, "incr n 1\r\n"), "100\r\n");
    cr_assert_str_eq(mc_line(fd, "decr n 1000\r\n"), "0\r\n");
    cr_assert_str_eq(mc_line(fd, "set n 0 0 20\r\n18446744073709551615\r\n"),
                     "STORED\r\n");
    cr_assert_str_eq(mc_line(fd, "incr n 2\r\n"), "1\r\n"); /* wraps */
    cr_assert_str_eq(mc_line(fd, "touch n x\r\n"),
                     "CLIENT_ERROR invalid exptime argument\r\n");
    cr_assert_str_eq(mc_line(fd, "delete n 1\r\n"),
                     "CLIENT_ERROR bad command line format.  Usage: delete "
                     "<key> [noreply]\r\n");
    cr_assert_str_eq(mc_line(fd, "delete n noreply\r\nversion\r\n"),
                     "VERSION 1.6.0-hrcached-" HR_VERSION_STRING "\r\n");
    cr_assert_str_eq(mc_line(fd, "delete n\r\n"), "NOT_FOUND\r\n");
    cr_assert_str_eq(mc_line(fd, "cas nope 0 0 1 5\r\nx\r\n"), "NOT_FOUND\r\n");
    cr_assert_str_eq(mc_line(fd, "verbosity\r\n"), "ERROR\r\n");
    cr_assert_str_eq(mc_line(fd, "verbosity 1\r\n"), "OK\r\n");
    cr_assert_str_eq(mc_line(fd, "stats reset\r\n"), "RESET\r\n");
    /* a line that never ends is cut off */
    char line[3000];
    memset(line, 'x', sizeof line);
    cr_assert_eq(send(fd, line, sizeof line, 0), (ssize_t)sizeof line);
    cr_assert_str_eq(mc_line(fd, ""), "CLIENT_ERROR line too long\r\n");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

Test(hrcached, expiry_as_memcached_reads_it)
{
    pid_t pid = start(NULL);
    int fd = mc_connect(port);
    char out[4096], cmd[256];
    cr_assert_str_eq(mc_line(fd, "set past 0 -1 1\r\nx\r\n"), "STORED\r\n");
    cr_assert_str_eq(mc_line(fd, "set abs 0 1000000000 1\r\nx\r\n"),
                     "STORED\r\n");  /* 2001: an absolute time long gone */
    snprintf(cmd, sizeof cmd, "set future 0 %ld 1\r\nx\r\n",
             (long)time(NULL) + 3600);
    cr_assert_str_eq(mc_line(fd, cmd), "STORED\r\n");
    cr_assert_str_eq(mc_line(fd, "set rel 0 2592000 1\r\nx\r\n"),
                     "STORED\r\n");  /* 30 days: still relative */
    cr_assert_gt(get_into(fd, "get past abs future rel\r\n", out, sizeof out), 0);
    cr_assert_str_eq(out, "VALUE future 0 1\r\nx\r\nVALUE rel 0 1\r\nx\r\n"
                          "END\r\n");
    cr_assert_str_eq(mc_line(fd, "touch rel -1\r\n"), "TOUCHED\r\n");
    cr_assert_gt(get_into(fd, "gat 100 rel future\r\n", out, sizeof out), 0);
    cr_assert_str_eq(out, "VALUE future 0 1\r\nx\r\nEND\r\n");
    cr_assert_str_eq(mc_line(fd, "flush_all\r\n"), "OK\r\n");
    cr_assert_gt(get_into(fd, "get future\r\n", out, sizeof out), 0);
    cr_assert_str_eq(out, "END\r\n");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* The byte of key<i>'s value, as fill() stores it. */
static char fill_byte(int i)
{
    return (char)('a' + i % 26);
}

static void fill(int fd, int n, int size)
{
    char *cmd = malloc((size_t)size + 100), out[256];
    for (int i = 0; i < n; i++) {
        int h = snprintf(cmd, 100, "set key%d 0 0 %d\r\n", i, size);
        memset(cmd + h, fill_byte(i), (size_t)size);
        memcpy(cmd + h + size, "\r\n", 2);
        cr_assert_gt(mc_ask(fd, cmd, (size_t)(h + size + 2), "\r\n", out,
                            sizeof out), 0);
        cr_assert_str_eq(out, "STORED\r\n", "item %d: %s", i, out);
    }
    free(cmd);
}

static uint64_t stat_of(int fd, const char *name)
{
    char out[8192], key[64];
    cr_assert_gt(get_into(fd, "stats\r\n", out, sizeof out), 0);
    snprintf(key, sizeof key, "STAT %s ", name);
    const char *p = strstr(out, key);
    cr_assert_not_null(p, "no %s in stats", name);
    return strtoull(p + strlen(key), NULL, 10);
}

Test(hrcached, memory_limit_evicts_the_least_recently_used)
{
    pid_t pid = start("-m", "1", NULL);
    int fd = mc_connect(port);
    fill(fd, 3000, 1000);                    /* 3 MB into 1 MiB */
    cr_assert_gt(stat_of(fd, "evictions"), 0);
    cr_assert_leq(stat_of(fd, "bytes"), 1u << 20);
    char out[4096];
    cr_assert_gt(get_into(fd, "get key0\r\n", out, sizeof out), 0);
    cr_assert_str_eq(out, "END\r\n", "the oldest item was kept");
    cr_assert_gt(get_into(fd, "get key2999\r\n", out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "VALUE key2999 0 1000"), "%s", out);
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
    char res[4096];
    const char *argv[] = {HRCACHED_BIN, "--check", NULL};
    cr_assert_eq(mc_run(res, sizeof res, argv), 0, "%s", res);
}

Test(hrcached, disabled_evictions_refuse_stores_when_full)
{
    pid_t pid = start("-m", "1", "-M", NULL);
    int fd = mc_connect(port);
    char cmd[1200], out[256];
    int refused = 0, i;
    for (i = 0; i < 3000 && !refused; i++) {
        int h = snprintf(cmd, 100, "set key%d 0 0 1000\r\n", i);
        memset(cmd + h, 'z', 1000);
        memcpy(cmd + h + 1000, "\r\n", 2);
        cr_assert_gt(mc_ask(fd, cmd, (size_t)h + 1002, "\r\n", out,
                            sizeof out), 0);
        refused = strcmp(out, "SERVER_ERROR out of memory storing object\r\n") == 0;
        cr_assert(refused || strcmp(out, "STORED\r\n") == 0, "%s", out);
    }
    cr_assert(refused, "1000 items of 1 KB fit in 1 MiB with -M");
    cr_assert_eq(stat_of(fd, "evictions"), 0);
    const char *r = get(fd, "get key0\r\n", "END\r\n");
    cr_assert_not_null(strstr(r, "VALUE key0 0 1000"), "%s", r);
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

Test(hrcached, every_item_outlives_sigkill_and_the_store_checks_clean)
{
    pid_t pid = start(NULL);
    int fd = mc_connect(port);
    fill(fd, 2000, 200);
    cr_assert_str_eq(mc_line(fd, "set cnt 0 0 1\r\n7\r\n"), "STORED\r\n");
    cr_assert_str_eq(mc_line(fd, "incr cnt 5\r\n"), "12\r\n");
    close(fd);
    kill(pid, SIGKILL);
    cr_assert_eq(wait_status(pid), 128 + SIGKILL);
    pid = start(NULL);
    fd = mc_connect(port);
    cr_assert_eq(stat_of(fd, "curr_items"), 2001);
    char out[4096], cmd[64], want[512];
    for (int i = 0; i < 2000; i++) {     /* each whole: key, flags, bytes */
        int n = snprintf(cmd, sizeof cmd, "get key%d\r\n", i);
        int h = snprintf(want, sizeof want, "VALUE key%d 0 200\r\n", i);
        memset(want + h, fill_byte(i), 200);
        strcpy(want + h + 200, "\r\nEND\r\n");
        cr_assert_gt(mc_ask(fd, cmd, (size_t)n, "END\r\n", out, sizeof out), 0);
        cr_assert_str_eq(out, want, "key%d", i);
    }
    cr_assert_str_eq(mc_line(fd, "incr cnt 1\r\n"), "13\r\n");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
    const char *argv[] = {HRCACHED_BIN, "--check", NULL};
    cr_assert_eq(mc_run(out, sizeof out, argv), 0, "%s", out);
    cr_assert_not_null(strstr(out, "2001 items"), "%s", out);
    cr_assert_not_null(strstr(out, "consistent"), "%s", out);
    const char *hr[] = {HR_BIN, "heap", "check", "hrcached", NULL};
    cr_assert_eq(mc_run(out, sizeof out, hr), 0, "hr heap check: %s", out);
}

Test(hrcached, listens_on_its_own_unix_socket)
{
    char path[100], out[256];
    snprintf(path, sizeof path, "%s/mc.sock", getenv("HR_SITE"));
    const char *args[] = {HRCACHED_BIN, "-p", "0", "-s", path, NULL};
    pid_t pid = mc_fork();
    if (pid == 0) {
        execv(HRCACHED_BIN, (char **)args);
        _exit(127);
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = -1;
    for (struct poll_wait w = poll_begin("hrcached to listen on its unix "
                                         "socket"); fd < 0;) {
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            close(fd);
            fd = -1;
            poll_pause(&w, path);
        }
    }
    cr_assert_gt(mc_ask(fd, "version\r\n", 9, "\r\n", out, sizeof out), 0);
    cr_assert_str_eq(out, "VERSION 1.6.0-hrcached-" HR_VERSION_STRING "\r\n");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
    struct stat st;
    cr_assert_neq(stat(path, &st), 0, "socket file left behind");
}

Test(hrcached, options_help_version_and_one_line_errors)
{
    char out[8192];
    const char *help[] = {HRCACHED_BIN, "--help", NULL};
    cr_assert_eq(mc_run(out, sizeof out, help), 0);
    cr_assert_not_null(strstr(out, "usage: hrcached"));
    cr_assert_not_null(strstr(out, "Exit status"));
    const char *ver[] = {HRCACHED_BIN, "--version", NULL};
    cr_assert_eq(mc_run(out, sizeof out, ver), 0);
    cr_assert_str_eq(out, "hrcached 1.6.0-hrcached-" HR_VERSION_STRING "\n");
    const char *bad[][5] = {
        {HRCACHED_BIN, "-x", NULL},
        {HRCACHED_BIN, "-m", "lots", NULL},
        {HRCACHED_BIN, "-I", "2g", NULL},
        {HRCACHED_BIN, "-p", "70000", NULL},
        {HRCACHED_BIN, "-U", "11211", NULL},
        {HRCACHED_BIN, "-m", NULL},
        {HRCACHED_BIN, "extra", NULL},
        {HRCACHED_BIN, "--populate=sometimes", NULL},
        {HRCACHED_BIN, "--populate", NULL},
        {HRCACHED_BIN, "-p", "0", NULL}, /* refused before a heap is made:
                                          * the -m 8 below would be refused */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(mc_run(out, sizeof out, bad[i]), 2, "%s: %s", bad[i][1],
                     out);
        cr_assert_eq(strncmp(out, "hrcached: ", 10), 0, "%s", out);
        cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1,
                     "not one line: %s", out);
    }
    /* as an actor, a fatal error is at priority err in the site's log */
    setenv("HR_ACTOR", "mc", 1);
    cr_assert_eq(mc_run(out, sizeof out, bad[0]), 2, "%s", out);
    unsetenv("HR_ACTOR");
    cr_assert_eq(strncmp(out, "<3>hrcached: ", 13), 0, "%s", out);
    /* the heap keeps the -m it was made with */
    pid_t pid = start("-m", "8", NULL);
    int fd = mc_connect(port);
    cr_assert_str_eq(mc_line(fd, "version\r\n"),
                     "VERSION 1.6.0-hrcached-" HR_VERSION_STRING "\r\n");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
    const char *other[] = {HRCACHED_BIN, "-m", "16", "-p", "0", "-s",
                           "/nonexistent/x", NULL};
    cr_assert_eq(mc_run(out, sizeof out, other), 1, "%s", out);
    cr_assert_not_null(strstr(out, "made with -m 8"), "%s", out);
    /* a second heap by name */
    const char *named[] = {HRCACHED_BIN, "-n", "other", "--check", NULL};
    cr_assert_eq(mc_run(out, sizeof out, named), 1, "%s", out);
    cr_assert_not_null(strstr(out, "cannot open heap other"), "%s", out);
}

/* sysadm.ini's arun --listen; after the controller's crash the next one
 * makes the socket again, and the items are there. */
Test(hrcached, held_socket_from_sysadm_ini_and_after_a_controller_crash)
{
    close(lfd);                       /* the controller listens there now */
    char ini[300], out[8192];
    snprintf(ini, sizeof ini, "%s/sysadm.ini", getenv("HR_SITE"));
    FILE *f = fopen(ini, "w");
    cr_assert_not_null(f);
    fprintf(f, "arun -g 1 --listen tcp:127.0.0.1:%d %s -m 8\n", port,
            HRCACHED_BIN);
    fclose(f);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    int fd = mc_connect(port);
    cr_assert_str_eq(mc_line(fd, "set kept 5 0 3\r\nabc\r\n"), "STORED\r\n");
    pid_t srv = (pid_t)stat_of(fd, "pid");
    close(fd);
    char state;
    pid_t hrd = 0;
    cr_assert(proc_state(srv, &state, &hrd) && hrd > 1, "no parent for %d",
              (int)srv);
    cr_assert_eq(kill(hrd, SIGKILL), 0);
    POLL_UNTIL(hr_ping(NULL) <= 0, "the killed controller to stop answering");
    /* the actor outlives its controller, serving, until the next one takes
     * its socket back and ends it (SPEC 3.2) */
    /* the dead one's lock goes last */
    POLL_UNTIL(run_hr(out, sizeof out, "site", "start", NULL) == 0,
               "a next controller to start");
    fd = mc_connect(port);
    cr_assert_str_eq(get(fd, "get kept\r\n", "END\r\n"),
                     "VALUE kept 5 3\r\nabc\r\nEND\r\n");
    cr_assert_neq((pid_t)stat_of(fd, "pid"), srv);
    close(fd);
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
}

/* READY=1 by sd_notify once it serves: hr arun --wait-ready returns, and
 * the first request after it is answered (before: no READY=1, so the
 * controller waited until its timeout and said it never became ready). */
Test(hrcached, says_ready_so_arun_wait_ready_returns_when_it_serves)
{
    close(lfd);                       /* the controller listens there now */
    char out[8192], listen[64];
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    snprintf(listen, sizeof listen, "tcp:127.0.0.1:%d", port);
    int st = run_hr(out, sizeof out, "arun", "-g", "1", "--wait-ready",
                    "--listen", listen, HRCACHED_BIN, "-m", "8", NULL);
    cr_assert_eq(st, 0, "hr arun --wait-ready: %s", out);
    int fd = mc_connect(port);
    cr_assert_str_eq(mc_line(fd, "version\r\n"),
                     "VERSION 1.6.0-hrcached-" HR_VERSION_STRING "\r\n");
    close(fd);
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
}

/* hrcached's own stats: the heap, and what a restart found. */
Test(hrcached, stats_say_restarts_and_items_recovered)
{
    pid_t pid = start(NULL);
    int fd = mc_connect(port);
    fill(fd, 100, 10);
    cr_assert_eq(stat_of(fd, "restarts"), 0);
    cr_assert_eq(stat_of(fd, "items_recovered"), 0);
    close(fd);
    kill(pid, SIGKILL);
    cr_assert_eq(wait_status(pid), 128 + SIGKILL);
    pid = start(NULL);
    fd = mc_connect(port);
    cr_assert_eq(stat_of(fd, "restarts"), 1);
    cr_assert_eq(stat_of(fd, "items_recovered"), 100);
    cr_assert_gt(stat_of(fd, "heap_used"), 100 * 10);
    cr_assert_gt(stat_of(fd, "heap_size"), stat_of(fd, "heap_free"));
    stat_of(fd, "start_to_serve_us");    /* there (its value is timing) */
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* stats items, stats slabs, stats settings and stats conns in
 * memcached's names: the one class hrcached has holds every item. */
Test(hrcached, stats_items_slabs_settings_conns_in_memcached_names)
{
    pid_t pid = start(NULL);
    int fd = mc_connect(port);
    char out[8192];
    cr_assert_gt(get_into(fd, "stats items\r\n", out, sizeof out), 0);
    cr_assert_str_eq(out, "END\r\n");
    fill(fd, 10, 100);
    cr_assert_gt(get_into(fd, "stats items\r\n", out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "STAT items:1:number 10\r\n"), "%s", out);
    cr_assert_not_null(strstr(out, "STAT items:1:evicted 0\r\n"), "%s", out);
    cr_assert_gt(get_into(fd, "stats slabs\r\n", out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "STAT 1:used_chunks 10\r\n"), "%s", out);
    cr_assert_not_null(strstr(out, "STAT active_slabs 1\r\n"), "%s", out);
    cr_assert_gt(get_into(fd, "stats settings\r\n", out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "STAT maxbytes 67108864\r\n"), "%s", out);
    cr_assert_not_null(strstr(out, "STAT item_size_max 1048576\r\n"), "%s", out);
    cr_assert_not_null(strstr(out, "STAT num_threads 4\r\n"), "%s", out);
    cr_assert_gt(get_into(fd, "stats conns\r\n", out, sizeof out), 0);
    cr_assert_not_null(strstr(out, ":addr tcp:127.0.0.1:"), "%s", out);
    cr_assert_not_null(strstr(out, ":state conn_parse_cmd\r\n"), "%s", out);
    cr_assert_str_eq(mc_line(fd, "stats nonsense\r\n"), "ERROR\r\n");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* A bank without room for the heap: the need said is above the room said,
 * never "88 MiB in a bank with 88 MiB free". */
Test(hrcached, no_room_says_a_need_above_the_room)
{
    char out[8192], site[320], sock[340], orig[300];
    snprintf(orig, sizeof orig, "%s", getenv("HR_SITE"));
    snprintf(site, sizeof site, "%s.small", orig);
    pmm_site_config c = {.rambank_size = 88ull << 20};
    cr_assert_eq(mkdir(site, 0700), 0);
    int r = pmm_site_create(site, &c);
    cr_assert_eq(r, 0, "%s: %s", site, pmm_strerror(r));
    snprintf(sock, sizeof sock, "%s/mc.sock", site);
    const char *argv[] = {HRCACHED_BIN, "-m", "64", "-p", "0", "-s", sock, NULL};
    setenv("HR_SITE", site, 1);
    int st = mc_run(out, sizeof out, argv);
    setenv("HR_SITE", orig, 1);
    snprintf(sock, sizeof sock, "rm -rf '%s'", site);
    cr_assert_eq(system(sock), 0);
    cr_assert_eq(st, 1, "%s", out);
    const char *at = strstr(out, "no room for heap hrcached of ");
    cr_assert_not_null(at, "%s", out);
    double need = strtod(at + strlen("no room for heap hrcached of "), NULL);
    const char *fr = strstr(at, "RAM bank (");
    cr_assert_not_null(fr, "%s", out);
    double room = strtod(fr + strlen("RAM bank ("), NULL);
    cr_assert_gt(need, room, "%s", out);
}
