/* SPDX-License-Identifier: MIT */
/*
 * log_cmd.c - hr log: the site's console log, made safe for a terminal.
 *
 * The log holds an actor's bytes as it wrote them, so it may hold escape
 * sequences (clear the screen, set the window title), a carriage return
 * that hides the start of its line under a forged one, a NUL, or bytes
 * that are not UTF-8.  Without --raw, hr log writes these as C escapes, as
 * journalctl does: the line is shown, nothing in it drives the terminal.
 *
 * Invariants:
 *  - without --raw, what reaches stdout is valid UTF-8 holding no control
 *    character but TAB and the newline that ends a line: every other C0
 *    byte, DEL, a C1 control (U+0080 to U+009F) and each byte that is not
 *    part of a valid UTF-8 sequence is written as \a \b \f \r \v or \xNN;
 *    a backslash the actor wrote stays as it is;
 *  - a UTF-8 sequence cut by the end of a read is held until the next
 *    read completes it, so the escaping does not depend on where reads end;
 *  - a rotation (console.log renamed to console.log.1, then made again)
 *    never fails a read: between the rename and the new file, the log is
 *    console.log.1, the file that was console.log a moment ago.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "hr.h"

static const char log_usage[] =
    "The site's console log: the controller's messages and the lines of its\n"
    "actors, each tagged g<group>/<name>.  --all begins with the log before\n"
    "the last rotation (console.log.1, see hrCtrl.logSize); -f follows it,\n"
    "across rotations.  Control characters (escape sequences, carriage\n"
    "returns, NUL, C1 controls) and bytes that are not UTF-8 are shown as\n"
    "C escapes (\\r, \\x1b, \\xc2\\x9b...); --raw writes the bytes as they are.\n";

/* Output: escaped or raw, and the bytes of a UTF-8 sequence a read cut. */
struct sink {
    int raw;
    size_t held;              /* bytes at the start of buf from the last read */
    unsigned char buf[65536]; /* a read's bytes, after those held */
};

/* The length of the valid UTF-8 sequence at p (n bytes there): 1 to 4;
 * 0 when p is a valid start cut short by n; -1 when not valid. */
static int utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    int len;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, lo = c == 0xe0 ? 0xa0 : lo, hi = c == 0xed ? 0x9f : hi;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, lo = c == 0xf0 ? 0x90 : lo, hi = c == 0xf4 ? 0x8f : hi;
    else
        return -1;
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n)
            return 0;
        if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
            return -1;
    }
    return len;
}

static void put_escaped(unsigned char c)
{
    static const char names[] = "\a" "a" "\b" "b" "\f" "f" "\r" "r" "\v" "v";
    const char *n = c ? memchr(names, c, sizeof names - 1) : NULL;
    if (n && (n - names) % 2 == 0)
        printf("\\%c", n[1]);
    else
        printf("\\x%02x", c);
}

/* Write the n bytes at p, escaped; the bytes used: all, but for a UTF-8
 * sequence cut at the end when more may come (!last). */
static size_t put(const unsigned char *p, size_t n, int last)
{
    size_t i = 0, plain = 0; /* p[plain..i) is written as it is */
    while (i < n) {
        int len = utf8_len(p + i, n - i);
        if (len == 0 && !last)
            break;
        int c1 = len == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0;
        int ctl = len == 1 && ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n') ||
                               p[i] == 0x7f);
        if (len > 0 && !c1 && !ctl) {
            i += (size_t)len;
            continue;
        }
        fwrite(p + plain, 1, i - plain, stdout);
        int k = c1 ? 2 : 1; /* an invalid sequence: its first byte alone */
        for (int j = 0; j < k; j++)
            put_escaped(p[i + (size_t)j]);
        i += (size_t)k;
        plain = i;
    }
    fwrite(p + plain, 1, i - plain, stdout);
    return i;
}

/* Show what fd holds from its place to its end. */
static void drain(struct sink *s, int fd)
{
    ssize_t n;
    while ((n = read(fd, s->buf + s->held, sizeof s->buf - s->held)) > 0) {
        size_t have = s->held + (size_t)n, used = have;
        if (!s->raw)
            used = put(s->buf, have, 0);
        else
            fwrite(s->buf, 1, have, stdout);
        memmove(s->buf, s->buf + used, have - used);
        s->held = have - used;
    }
}

/* The end of a file: bytes held are a sequence that never completed. */
static void drain_end(struct sink *s, int fd)
{
    drain(s, fd);
    if (s->held)
        put(s->buf, s->held, 1);
    s->held = 0;
}

/* Print path from fd's place on, forever: at the end, wait, and when the
 * file was rotated (path names another file) finish this one and go on
 * with the new one. */
__attribute__((noreturn)) static void follow(struct sink *s, const char *path,
                                             int fd)
{
    struct stat at, now;
    for (;;) {
        drain(s, fd);
        fflush(stdout);
        if (fstat(fd, &at) == 0 && stat(path, &now) == 0 &&
            (at.st_ino != now.st_ino || at.st_dev != now.st_dev)) {
            int next = open(path, O_RDONLY | O_CLOEXEC);
            if (next >= 0) {
                drain_end(s, fd); /* its end */
                close(fd);
                fd = next;
                continue;
            }
        }
        poll(NULL, 0, 200);
    }
}

/* The log as it is now: console.log, or, caught between a rotation's
 * rename and the new file, console.log.1 (the same log).  *old_too: 0
 * when console.log.1 is the log itself, not the log before it. */
static int open_log(const char *path, const char *old, int *old_too)
{
    *old_too = 1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT)
        return fd;
    fd = open(old, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    *old_too = 0;
    return fd;
}

/* --all: console.log.1 unless a rotation since fd was opened made it fd's
 * file (then the log before is gone). */
static void show_old(struct sink *s, const char *old, int fd)
{
    struct stat a, b;
    int ofd = open(old, O_RDONLY | O_CLOEXEC);
    if (ofd < 0) {
        if (errno != ENOENT)
            hr_die(HR_EXIT_FAIL, "log: %s: %s", old, pmm_strerror(-errno));
        return;
    }
    if (fstat(ofd, &a) < 0 || fstat(fd, &b) < 0 || a.st_ino != b.st_ino ||
        a.st_dev != b.st_dev)
        drain_end(s, ofd);
    close(ofd);
}

enum { OPT_ALL = HR_OPT_OWN, OPT_RAW };
const struct hr_optdef hr_log_options[] = {
    {"f", 'f', HR_ARG_NONE, NULL, NULL, NULL},
    {"all", OPT_ALL, HR_ARG_NONE, NULL, NULL, NULL},
    {"raw", OPT_RAW, HR_ARG_NONE, NULL, NULL, NULL},
    {0},
};

int hr_cmd_log(int argc, char **argv, const struct hr_opts *go)
{
    struct hr_opts ov = *go, *o = &ov;
    struct hr_cmdline cl = {.cmd = "log", .usage = log_usage,
                            .table = hr_command("log"), .o = o};
    static struct sink s;
    int follow_it = 0, all = 0, c, old_too;
    while ((c = hr_getopt(argc, argv, &cl)) != -1)
        *(c == 'f' ? &follow_it : c == OPT_ALL ? &all : &s.raw) = 1;
    if (optind < argc)
        hr_die(HR_EXIT_USAGE, "log: unexpected argument '%s'", argv[optind]);
    char dir[4096], path[4200], old[4200];
    hr_site_existing(o, dir, sizeof dir, "log");
    snprintf(path, sizeof path, "%s/console.log", dir);
    snprintf(old, sizeof old, "%s/console.log.1", dir);
    int fd = open_log(path, old, &old_too);
    if (fd < 0 && errno == ENOENT)
        hr_die(HR_EXIT_FAIL, "log: the site has no log yet: its controller "
                             "has never started (hr site start)");
    if (fd < 0)
        hr_die(HR_EXIT_FAIL, "log: %s: %s", path, pmm_strerror(-errno));
    if (all && old_too)
        show_old(&s, old, fd);
    if (follow_it)
        follow(&s, path, fd); /* never returns */
    drain_end(&s, fd);
    close(fd);
    return HR_EXIT_OK;
}
