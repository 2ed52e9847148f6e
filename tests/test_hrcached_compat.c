/* SPDX-License-Identifier: MIT */
/*
 * test_hrcached_compat.c - where hrcached once differed from memcached
 * 1.6 in ways a client feels (issue 21 item 13), and the mutants of item
 * 15 the suite let through, one case each: each case fails on the code
 * before its fix (or with its mutant planted) and passes after.
 *
 * Each case makes a throwaway site, holds a listening socket and starts
 * hrcached on it by LISTEN_FDS, as the controller does.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/version.h>

#include "common.h"
#include "test_hrcached_util.h"

static int port, lfd;

static void setup(void)
{
    lfd = mc_case_setup(&port);
}

TestSuite(compat, .init = setup, .fini = mc_case_teardown, .timeout = 120);

/* A key read after every store stays: eviction spares an active item
 * (before: a read moved an item up only once a minute, so the key went
 * with the others after ~1 MiB of stores). */
Test(compat, eviction_keeps_a_key_read_after_every_set)
{
    pid_t pid = mc_startl(lfd, "-m", "1", NULL);
    int fd = mc_connect(port);
    cr_assert_str_eq(MC_ASK(fd, "set hot 0 0 3\r\nhot\r\n", "\r\n"), "STORED\r\n");
    char key[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "key%d", i);
        cr_assert_str_eq(mc_store_n(fd, "set", key, 1000, 'v', "", ""), "STORED\r\n");
        cr_assert_str_eq(MC_ASK(fd, "get hot\r\n", "END\r\n"),
                         "VALUE hot 0 3\r\nhot\r\nEND\r\n",
                         "hot evicted after %d stores", i + 1);
    }
    /* eviction still runs: the first key, never read, is gone */
    cr_assert_str_eq(MC_ASK(fd, "get key0\r\n", "END\r\n"), "END\r\n");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* A set refused as too large deletes the old value (a reader must not
 * keep seeing what the writer replaced); the largest item is memcached's:
 * key + value + 59 bytes within -I. */
Test(compat, too_large_set_deletes_and_the_limit_is_memcached_s)
{
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    cr_assert_str_eq(MC_ASK(fd, "set k 0 0 3\r\nold\r\n", "\r\n"), "STORED\r\n");
    cr_assert_str_eq(mc_store_n(fd, "set", "k", 1048517, 'x', "", ""),
                     "SERVER_ERROR object too large for cache\r\n");
    cr_assert_str_eq(MC_ASK(fd, "get k\r\n", "END\r\n"), "END\r\n");
    cr_assert_str_eq(mc_store_n(fd, "set", "k", 1048516, 'x', "", ""), "STORED\r\n");
    cr_assert_str_eq(mc_store_n(fd, "set", "kk", 1048516, 'x', "", ""),
                     "SERVER_ERROR object too large for cache\r\n");
    /* an append past the limit is NOT_STORED, the value kept */
    cr_assert_str_eq(MC_ASK(fd, "append k 0 0 1\r\ny\r\n", "\r\n"),
                     "NOT_STORED\r\n");
    const char *r = MC_ASK(fd, "get k\r\n", "END\r\n");
    cr_assert(strncmp(r, "VALUE k 0 1048516\r\n", 19) == 0, "%.40s", r);
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* noreply silences every reply of its command, errors too: the first
 * line back is the version's. */
Test(compat, noreply_commands_send_nothing)
{
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    cr_assert_str_eq(MC_ASK(fd, "set n 0 0 1 noreply\r\nx\r\n"
                             "set b 0 0 -1 noreply\r\n"
                             "incr zz 1 noreply\r\n"
                             "incr n 1 noreply\r\n"
                             "incr n x noreply\r\n"
                             "touch n x noreply\r\n"
                             "delete n 1 noreply\r\n"
                             "flush_all x noreply\r\n"
                             "verbosity x noreply\r\n"
                             "cas n 0 0 1 1 noreply\r\ny\r\n"
                             "add n 0 0 1 noreply\r\ny\r\n"
                             "version\r\n", "\r\n"),
                     "VERSION 1.6.0-hrcached-" HR_VERSION_STRING "\r\n");
    /* refused as too large, its data dropped unread, and nothing said */
    cr_assert_str_eq(mc_store_n(fd, "set", "n", 2000000, 'z', " noreply", "version\r\n"),
                     "VERSION 1.6.0-hrcached-" HR_VERSION_STRING "\r\n");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* A binary-protocol request gets a binary "unknown command" answer with
 * its opcode and opaque, and the connection closes (before: no answer and
 * no close, the client hung). */
Test(compat, binary_request_gets_an_answer_and_a_close)
{
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    unsigned char req[25] = {0x80, 0x00, 0x00, 0x01};   /* GET, key "a" */
    req[11] = 1;                                       /* body length */
    memcpy(req + 12, "\xde\xad\xbe\xef", 4);           /* opaque */
    req[24] = 'a';
    cr_assert_eq(send(fd, req, sizeof req, 0), (ssize_t)sizeof req);
    unsigned char out[256];
    size_t len = 0;
    ssize_t n;
    while ((n = recv(fd, out + len, sizeof out - len, 0)) > 0)
        len += (size_t)n;
    cr_assert_eq(n, 0, "the connection was not closed");
    cr_assert_geq(len, 24);
    cr_assert_eq(out[0], 0x81);
    cr_assert_eq(out[1], 0x00);
    cr_assert_eq(out[6] << 8 | out[7], 0x0081, "status");
    cr_assert_eq(memcmp(out + 12, "\xde\xad\xbe\xef", 4), 0, "opaque");
    uint32_t body = (uint32_t)out[8] << 24 | out[9] << 16 | out[10] << 8 | out[11];
    cr_assert_eq(len, 24 + body);
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* incr/decr read values and deltas as memcached's strtoull does, and a
 * value that shrinks keeps its length, padded with spaces. */
Test(compat, incr_decr_read_and_write_values_as_memcached)
{
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    static const struct { const char *cmd, *reply; } steps[] = {
        {"set a 0 0 2\r\n 7\r\n", "STORED\r\n"}, {"incr a 1\r\n", "8\r\n"},
        {"set b 0 0 3\r\n+5 \r\n", "STORED\r\n"}, {"incr b 1\r\n", "6\r\n"},
        {"set c 0 0 6\r\n12 abc\r\n", "STORED\r\n"}, {"incr c 1\r\n", "13\r\n"},
        {"incr c +3\r\n", "16\r\n"},
        {"incr c -1\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n"},
        {"set d 0 0 5\r\n12abc\r\n", "STORED\r\n"},
        {"incr d 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
        {"set e 0 0 0\r\n\r\n", "STORED\r\n"},
        {"incr e 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
        {"set f 0 0 2\r\n-0\r\n", "STORED\r\n"}, {"incr f 5\r\n", "5\r\n"},
        {"set g 0 0 2\r\n-5\r\n", "STORED\r\n"},
        {"incr g 5\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
        {"set h 0 0 3\r\n100\r\n", "STORED\r\n"}, {"decr h 1\r\n", "99\r\n"},
        {"get h b\r\n", "VALUE h 0 3\r\n99 \r\nVALUE b 0 3\r\n6  \r\nEND\r\n"},
        {"incr h 1\r\n", "100\r\n"}, {"incr h 900\r\n", "1000\r\n"},
        {"get h\r\n", "VALUE h 0 4\r\n1000\r\nEND\r\n"},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        const char *end = strncmp(steps[i].cmd, "get", 3) == 0 ? "END\r\n" : "\r\n";
        cr_assert_str_eq(MC_ASK(fd, steps[i].cmd, end), steps[i].reply,
                         "after %s", steps[i].cmd);
    }
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

static uint64_t cas_of(int fd, const char *key)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "gets %s\r\n", key);
    const char *r = MC_ASK(fd, cmd, "END\r\n");
    const char *nl = strstr(r, "\r\n");
    cr_assert_not_null(nl);
    const char *sp = nl;
    while (sp > r && sp[-1] != ' ')
        sp--;
    return strtoull(sp, NULL, 10);
}

/* Mutant of item 15: append keeping the old cas.  Every change gives a
 * new cas value, so a cas made with the old one fails. */
Test(compat, append_and_prepend_give_a_new_cas)
{
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    cr_assert_str_eq(MC_ASK(fd, "set k 0 0 1\r\na\r\n", "\r\n"), "STORED\r\n");
    uint64_t c1 = cas_of(fd, "k");
    cr_assert_str_eq(MC_ASK(fd, "append k 0 0 1\r\nb\r\n", "\r\n"), "STORED\r\n");
    uint64_t c2 = cas_of(fd, "k");
    cr_assert_neq(c1, c2, "append kept cas %" PRIu64, c1);
    cr_assert_str_eq(MC_ASK(fd, "prepend k 0 0 1\r\nc\r\n", "\r\n"), "STORED\r\n");
    uint64_t c3 = cas_of(fd, "k");
    cr_assert_neq(c2, c3, "prepend kept cas %" PRIu64, c2);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "cas k 0 0 1 %" PRIu64 "\r\nz\r\n", c2);
    cr_assert_str_eq(MC_ASK(fd, cmd, "\r\n"), "EXISTS\r\n");
    cr_assert_str_eq(MC_ASK(fd, "get k\r\n", "END\r\n"), "VALUE k 0 3\r\ncab\r\nEND\r\n");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* Mutant of item 15: items expiring one second late (< for <=).  An item
 * whose absolute expiry is the current second is already gone.  A try
 * counts only if the clock did not move between the set and the get
 * (else both readings expire it, and the try proves nothing). */
Test(compat, an_item_is_gone_in_its_expiry_second)
{
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    int clean = 0;
    for (int i = 0; i < 50 && !clean; i++) {
        char cmd[128];
        time_t t = time(NULL);
        snprintf(cmd, sizeof cmd, "set e 0 %lld 1\r\nx\r\n", (long long)t);
        cr_assert_str_eq(MC_ASK(fd, cmd, "\r\n"), "STORED\r\n");
        const char *r = MC_ASK(fd, "get e\r\n", "END\r\n");
        if (time(NULL) != t)
            continue;
        cr_assert_str_eq(r, "END\r\n", "alive in its expiry second %lld",
                         (long long)t);
        clean = 1;
    }
    cr_assert(clean, "the clock moved during each of 50 tries");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

struct gone { int fd; const char *key; };

static int is_gone(void *arg)
{
    struct gone *g = arg;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "get %s\r\n", g->key);
    return strcmp(MC_ASK(g->fd, cmd, "END\r\n"), "END\r\n") == 0;
}

/* Mutant of item 15: flush_all ignoring its delay.  With a delay the
 * items stay until it has passed, then go; without one they go now. */
Test(compat, flush_all_keeps_items_until_its_delay)
{
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    cr_assert_str_eq(MC_ASK(fd, "set k 0 0 1\r\nx\r\n", "\r\n"), "STORED\r\n");
    cr_assert_str_eq(MC_ASK(fd, "flush_all 100\r\n", "\r\n"), "OK\r\n");
    cr_assert_str_eq(MC_ASK(fd, "get k\r\n", "END\r\n"), "VALUE k 0 1\r\nx\r\nEND\r\n",
                     "flush_all 100 flushed at once");
    cr_assert_str_eq(MC_ASK(fd, "flush_all 2\r\n", "\r\n"), "OK\r\n");
    struct gone g = {fd, "k"};
    mc_poll(is_gone, &g, "flush_all 2 to flush");
    cr_assert_str_eq(MC_ASK(fd, "set k 0 0 1\r\ny\r\nflush_all 0\r\nget k\r\n",
                         "END\r\n"), "STORED\r\nOK\r\nEND\r\n");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* flush_all <time> as memcached reads it (the expiry's rule): above 30
 * days a unix time, before read as a delay of 56 years.  One past flushes
 * now, -1 too; one still to come keeps the items until then; one from
 * before the server's start flushes nothing (memcached's clock starts
 * there: a time before it turns flushing off). */
static const char *flush_at(int fd, long long t)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "set k 0 0 1\r\nx\r\nflush_all %lld\r\n", t);
    cr_assert_str_eq(MC_ASK(fd, cmd, "OK\r\n"), "STORED\r\nOK\r\n");
    return MC_ASK(fd, "get k\r\n", "END\r\n");
}

Test(compat, flush_all_takes_a_unix_time)
{
    static const char kept[] = "VALUE k 0 1\r\nx\r\nEND\r\n";
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    long long now = (long long)time(NULL);
    cr_assert_str_eq(flush_at(fd, now - 10), "END\r\n", "a past time");
    cr_assert_str_eq(flush_at(fd, -1), "END\r\n", "-1");
    cr_assert_str_eq(flush_at(fd, 2592001), kept, "before the start");
    cr_assert_str_eq(flush_at(fd, now + 1000), kept, "a time to come");
    char cmd[64];
    snprintf(cmd, sizeof cmd, "flush_all %lld\r\n", (long long)time(NULL) + 2);
    cr_assert_str_eq(MC_ASK(fd, cmd, "\r\n"), "OK\r\n");
    struct gone g = {fd, "k"};
    mc_poll(is_gone, &g, "flush_all <now + 2> to flush");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* Commands pipelined behind a reply larger than the output's high-water
 * mark are run once it is sent, though no more bytes come (found by the
 * differential test: they waited for the client's next send). */
Test(compat, commands_behind_a_large_reply_run)
{
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    cr_assert_str_eq(mc_store_n(fd, "set", "big", 1000000, 'b', "", ""), "STORED\r\n");
    const char *r = MC_ASK(fd, "get big big\r\nversion\r\n",
                           "VERSION 1.6.0-hrcached-" HR_VERSION_STRING "\r\n");
    cr_assert_eq(strlen(r), 2 * (21 + 1000000 + 2) + 5 + 30);
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* Read an answer of exactly want bytes (at most 10 s between two reads):
 * its last bytes. */
static const char *read_answer(int fd, size_t want)
{
    static char tail[64];
    tail[0] = 0;
    size_t got = 0;
    char *buf = malloc(1 << 20);
    cr_assert_not_null(buf);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (got < want) {
        ssize_t n = recv(fd, buf, 1 << 20, 0);
        cr_assert_gt(n, 0, "the answer stopped after %zu of %zu bytes", got, want);
        got += (size_t)n;
        /* the last bytes of all read so far, across reads */
        size_t keep = (size_t)n < sizeof tail - 1 ? (size_t)n : sizeof tail - 1;
        size_t had = strlen(tail), old = had + keep < sizeof tail ? had
                                                                 : sizeof tail - 1 - keep;
        memmove(tail, tail + had - old, old);
        memcpy(tail + old, buf + n - keep, keep);
        tail[old + keep] = 0;
    }
    free(buf);
    cr_assert_eq(got, want, "%zu bytes, not %zu", got, want);
    return tail;
}

/* One get line naming a big value many times, from a client that does not
 * read: the answer goes out in parts, so the server holds a bounded buffer
 * (before: a copy of every value, 400 MB here, until the connection
 * closed; a line of 1 MiB could ask for 250 GB), and the whole answer
 * still comes, then the next command's. */
Test(compat, a_get_naming_a_big_value_many_times_holds_a_bounded_buffer)
{
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    cr_assert_str_eq(mc_store_n(fd, "set", "big", 1000000, 'b', "", ""), "STORED\r\n");
    enum { TIMES = 400 };
    char line[TIMES * 4 + 32] = "get";
    for (int i = 0; i < TIMES; i++)
        strcat(line, " big");
    strcat(line, "\r\nversion\r\n");
    long before = rss_kb(pid);
    cr_assert_eq(send(fd, line, strlen(line), 0), (ssize_t)strlen(line));
    pace_us(500 * 1000); /* time to answer what the socket takes, no more */
    long during = rss_kb(pid);
    cr_assert_lt(during - before, 64 * 1024, "%ld KiB more while the client "
                 "reads nothing (%ld before)", during - before, before);
    const char *tail = read_answer(fd, TIMES * (21 + 1000000 + 2) + 5 + 30);
    cr_assert(strstr(tail, "END\r\nVERSION 1.6.0-hrcached"), "%s", tail);
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* me writes the key as its item was stored, whatever the way it is
 * asked (memcached reads its item's ITEM_KEY_BINARY): in base64 for an
 * item stored with b, raw for one stored raw.  Raw, a key holding
 * "\r\nEND\r\n" forged reply lines for the client; and when me followed
 * the asking command's b, `me abc` of an item stored as `ms YWJj 1 b`
 * said ME abc. */
Test(compat, me_writes_the_key_as_its_item_was_stored)
{
    static const char *const cases[][3] = {
        /* YQ0KRU5EDQp4 is "a\r\nEND\r\nx" */
        {"ms YQ0KRU5EDQp4 2 b\r\nhi\r\n", "me YQ0KRU5EDQp4 b\r\n",
         "ME YQ0KRU5EDQp4 exp="},
        {"ms YWJj 1 b\r\nx\r\n", "me abc\r\n", "ME YWJj exp="},
        {"ms def 1\r\nx\r\n", "me ZGVm b\r\n", "ME def exp="},
    };
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_str_eq(MC_ASK(fd, cases[i][0], "\r\n"), "HD\r\n");
        const char *r = MC_ASK(fd, cases[i][1], "\r\n");
        cr_assert(strncmp(r, cases[i][2], strlen(cases[i][2])) == 0,
                  "%s: %s", cases[i][1], r);
    }
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* A byte count over INT_MAX - 2 is a bad command line, as in memcached:
 * refused, the data not awaited and the key kept (before: the key was
 * deleted and the next 2 GiB on the connection swallowed). */
Test(compat, a_byte_count_past_memcached_s_bound_is_a_bad_line)
{
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    cr_assert_str_eq(MC_ASK(fd, "set a2 0 0 1\r\nA\r\n", "\r\n"), "STORED\r\n");
    cr_assert_str_eq(MC_ASK(fd, "set a2 0 0 2147483647\r\n", "\r\n"),
                     "CLIENT_ERROR bad command line format\r\n");
    cr_assert_str_eq(MC_ASK(fd, "ms a2 2147483646\r\n", "\r\n"),
                     "CLIENT_ERROR bad command line format\r\n");
    cr_assert_str_eq(MC_ASK(fd, "get a2\r\n", "END\r\n"), "VALUE a2 0 1\r\nA\r\nEND\r\n");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* incr of a number padded far with spaces, under a small -m: only the
 * bytes that change are saved (before: the whole value went into a
 * lane's log, more than it holds at -m 8, and the answer was a misleading
 * "bank full"). */
Test(compat, incr_of_a_long_padded_number_under_a_small_memory_limit)
{
    pid_t pid = mc_startl(lfd, "-m", "8", NULL);
    int fd = mc_connect(port);
    char *cmd = malloc(100100);
    cr_assert_not_null(cmd);
    int h = snprintf(cmd, 64, "set sp 0 0 100001\r\n1");
    memset(cmd + h, ' ', 100000);
    memcpy(cmd + h + 100000, "\r\n", 2);
    cr_assert_str_eq(mc_ask_s(fd, cmd, (size_t)h + 100002, "\r\n"), "STORED\r\n");
    free(cmd);
    cr_assert_str_eq(MC_ASK(fd, "incr sp 1\r\n", "\r\n"), "2\r\n");
    cr_assert_str_eq(MC_ASK(fd, "decr sp 2\r\n", "\r\n"), "0\r\n");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* A get answered in parts whose last part is big (small values, then big
 * ones) is followed by the commands sent behind it: its end uses no new
 * input, and must not be taken for "nothing to do until more comes" (the
 * first version of the parts stalled here, found by hrcached_diff). */
Test(compat, commands_behind_a_get_answered_in_parts_run)
{
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    cr_assert_str_eq(mc_store_n(fd, "set", "big", 900000, 'b', "", ""), "STORED\r\n");
    cr_assert_str_eq(mc_store_n(fd, "set", "mid", 600000, 'm', "", ""), "STORED\r\n");
    cr_assert_str_eq(MC_ASK(fd, "set small 0 0 1\r\ns\r\n", "\r\n"), "STORED\r\n");
    /* 16 big values (a part sent), then a small one and two that make
     * the last part over the 1 MiB a part holds */
    char line[512] = "get";
    for (int i = 0; i < 16; i++)
        strcat(line, " big");
    strcat(line, " small mid mid\r\nversion\r\n");
    cr_assert_eq(send(fd, line, strlen(line), 0), (ssize_t)strlen(line));
    const char *tail = read_answer(fd, 16 * (20 + 900000 + 2) + (17 + 1 + 2) +
                                           2 * (20 + 600000 + 2) + 5 + 30);
    cr_assert(strstr(tail, "END\r\nVERSION 1.6.0-hrcached"), "%s", tail);
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* me only looks: a stale item's recache win (md I) stays for the next mg
 * that asks, as in memcached (before: me took it, and every client was
 * told someone else recached, serving stale data for good). */
Test(compat, me_leaves_a_stale_item_s_win_to_the_next_mg)
{
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    cr_assert_str_eq(MC_ASK(fd, "set a 0 1000 1\r\ny\r\n", "\r\n"), "STORED\r\n");
    cr_assert_str_eq(MC_ASK(fd, "md a I\r\n", "\r\n"), "HD\r\n");
    const char *r = MC_ASK(fd, "me a\r\n", "\r\n");
    cr_assert(strncmp(r, "ME a ", 5) == 0, "%s", r);
    cr_assert_str_eq(MC_ASK(fd, "mg a v c\r\n", "\r\ny\r\n"), "VA 1 c2 X W\r\ny\r\n");
    cr_assert_str_eq(MC_ASK(fd, "mg a v c\r\n", "\r\ny\r\n"), "VA 1 c2 Z X\r\ny\r\n");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* A counter stored with its C string's NUL (a C client's strlen + 1)
 * counts up to the NUL, as memcached's strtoull reads it; one that begins
 * with a NUL is no number, in both. */
Test(compat, a_counter_ending_in_a_nul_byte_counts)
{
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    static const char set0[] = "set n 0 0 2\r\n0\0\r\n";
    cr_assert_str_eq(mc_ask_s(fd, set0, sizeof set0 - 1, "\r\n"), "STORED\r\n");
    cr_assert_str_eq(MC_ASK(fd, "incr n 1\r\n", "\r\n"), "1\r\n");
    cr_assert_str_eq(MC_ASK(fd, "get n\r\n", "END\r\n"), "VALUE n 0 2\r\n1 \r\nEND\r\n");
    static const char set1[] = "set m 0 0 2\r\n\0005\r\n";
    cr_assert_str_eq(mc_ask_s(fd, set1, sizeof set1 - 1, "\r\n"), "STORED\r\n");
    cr_assert_str_eq(MC_ASK(fd, "incr m 1\r\n", "\r\n"),
                     "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* hr site destroy removes hrcached's lock file of each heap it served
 * with the rest of the site (before: the lock files kept the directory). */
Test(compat, site_destroy_takes_hrcached_s_lock_files_too)
{
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    cr_assert_str_eq(MC_ASK(fd, "set a 0 0 1\r\ny\r\n", "\r\n"), "STORED\r\n");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
    const char *site = getenv("HR_SITE");
    char lock[600], out[4096];
    snprintf(lock, sizeof lock, "%s/hrcached.hrcached.lock", site);
    cr_assert_eq(access(lock, F_OK), 0, "%s: the lock file hrcached takes", lock);
    cr_assert_eq(run_hr(out, sizeof out, "site", "destroy", NULL), 0, "%s", out);
    cr_assert_neq(access(site, F_OK), 0, "%s is still there", site);
}

/* The highest descriptor number pid has open. */
static int top_fd(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    cr_assert_not_null(d);
    int top = -1;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.' && atoi(e->d_name) > top)
            top = atoi(e->d_name);
    closedir(d);
    return top;
}

/* A new connection's answer to version: 'V' served, 'E' told too many
 * connections, 'C' closed; a hang (no byte within the socket's 20 s)
 * fails the test. */
static char try_conn(int *fdp)
{
    int fd = *fdp = mc_connect(port);
    char buf[128];
    size_t len = 0;
    if (send(fd, "version\r\n", 9, MSG_NOSIGNAL) < 0)
        return 'C';
    while (len < 2 || memcmp(buf + len - 2, "\r\n", 2) != 0) {
        ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        cr_assert(n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK),
                  "a client left hanging: no answer and no close");
        if (n <= 0 || len + (size_t)n >= sizeof buf - 1)
            return 'C';
        len += (size_t)n;
    }
    buf[len] = 0;
    if (strncmp(buf, "VERSION ", 8) == 0)
        return 'V';
    cr_assert_str_eq(buf, "ERROR Too many open connections\r\n");
    return 'E';
}

static int served(void *arg)
{
    (void)arg;
    int fd;
    char c = try_conn(&fd);
    close(fd);
    return c == 'V';
}

/* Out of descriptors (its limit lowered under it, as prlimit(1) does),
 * hrcached refuses a new client with memcached's line and a close, and
 * serves again once a connection ends.  Before, the acceptor returned on
 * EMFILE with the connection still queued: it woke at once for ever, a
 * core spun, and the client hung. */
Test(compat, out_of_descriptors_a_client_is_refused_not_left_hanging)
{
    pid_t pid = mc_startl(lfd, "-m", "8", "-t", "2", NULL);
    int fds[8], ok = 0, refused = 0;
    cr_assert_eq(try_conn(&fds[0]), 'V');
    struct rlimit rl = {(rlim_t)top_fd(pid) + 3, (rlim_t)top_fd(pid) + 3};
    cr_assert_eq(prlimit(pid, RLIMIT_NOFILE, &rl, NULL), 0, "%s",
                 strerror(errno));
    for (int i = 1; i < 8; i++) {
        char c = try_conn(&fds[i]);
        ok += c == 'V';
        refused += c != 'V';
    }
    cr_log_info("under the lowered limit: %d clients served, %d refused", ok,
                refused);
    cr_assert_gt(refused, 0, "no client refused: the limit did not bite");
    cr_assert_str_eq(MC_ASK(fds[0], "version\r\n", "\r\n"),
                     "VERSION 1.6.0-hrcached-" HR_VERSION_STRING "\r\n");
    for (int i = 0; i < 8; i++)
        close(fds[i]);
    mc_poll(served, NULL, "a client served once connections closed");
    cr_assert_eq(mc_stop(pid), 0);
}

/* st: hrcached's pid, its status, a client's fd that sent version. */
static int ended(void *arg)
{
    int *st = arg;
    pid_t pid = (pid_t)st[0];
    if (waitpid(pid, &st[1], WNOHANG) == pid)
        return 1;
    char buf[64];
    ssize_t n = recv(st[2], buf, sizeof buf, MSG_DONTWAIT);
    cr_assert(n <= 0, "serving with 64 open files for -c 1024");
    return 0;
}

/* A descriptor limit too low for -c, that hrcached may not raise, is
 * refused at start (memcached refuses it too), with a message that says
 * what to do.  Before, hrcached started and its clients hung once the
 * descriptors ran out. */
Test(compat, a_file_limit_too_low_for_c_is_refused_at_start)
{
    if (geteuid() == 0)   /* root could raise the hard limit: not here */
        cr_assert_eq(prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0), 0);
    struct rlimit rl = {64, 64};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    char log[] = "/tmp/hrcached_nofile.XXXXXX";
    int lf = mkstemp(log), saved = dup(2);
    cr_assert(lf >= 0 && saved >= 0);
    dup2(lf, 2);
    pid_t pid = mc_startl(lfd, "-c", "1024", NULL);
    dup2(saved, 2);
    int st[3] = {(int)pid, 0, mc_connect(port)};
    cr_assert_eq(send(st[2], "version\r\n", 9, MSG_NOSIGNAL), 9);
    mc_poll(ended, st, "hrcached to refuse its start");
    close(st[2]);
    char msg[512] = "";
    ssize_t n = pread(lf, msg, sizeof msg - 1, 0);
    msg[n > 0 ? n : 0] = 0;
    close(lf);
    close(saved);
    unlink(log);
    cr_assert(WIFEXITED(st[1]) && WEXITSTATUS(st[1]) == 1, "%s", msg);
    cr_assert(strstr(msg, "-c 1024 needs") && strstr(msg, "lower -c"),
              "%s", msg);
}
