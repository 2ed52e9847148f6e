/* SPDX-License-Identifier: MIT */
/*
 * log.c - the controller's log: console.log with its rotation, and stderr
 * in the foreground (see log.h).
 *
 * The size of console.log is counted as lines are written, and read again
 * from the file every HRD_LOG_RESYNC lines: ordinary actors (hr arun
 * without -g) and start-up commands write into it too, and the count must
 * not drift below the truth for long.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "hrd.h"
#include "log.h"
#include "os/os.h"
#include "os/ctl.h"

#define HRD_LOG_RESYNC 256

static const char *const level_word[8] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};

/* "2026-11-27T18:12:03.123+0000", local time and its offset from UTC. */
static void timestamp(char *out, size_t cap)
{
    uint64_t ns = pmm__os_now_ns();
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    char date[24], zone[8];
    localtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(zone, sizeof zone, "%z", &tm);
    snprintf(out, cap, "%s.%03u%s", date, (unsigned)(ns / 1000000u % 1000u),
             zone);
}

/* console.log to console.log.1, and a new console.log: the old one is
 * closed only once the new one is open, so a failure keeps the log going
 * in the old file. */
static void rotate(struct hrd *d)
{
    char from[128], to[128];
    snprintf(from, sizeof from, "%s/console.log", d->dir);
    snprintf(to, sizeof to, "%s/console.log.1", d->dir);
    if (pmm__os_rename(from, to) < 0)
        return;
    int fd = pmm__os_open_fd(from, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC |
                         O_NOFOLLOW, 0600);
    if (fd < 0)
        return; /* console.log.1 goes on growing: better than nothing */
    if (!d->log_stderr) /* started in the background: stderr is the log */
        pmm__os_dup2(fd, 2);
    pmm__os_close(d->console_fd);
    d->console_fd = fd;
    d->log_bytes = 0;
}

/* Append line (n bytes, newline included) to console.log, rotating first
 * when it would take the file over its cap. */
static void console_write(struct hrd *d, const char *line, size_t n)
{
    if (d->console_fd < 0)
        return;
    if (d->log_lines++ % HRD_LOG_RESYNC == 0 &&
        pmm__os_size(d->console_fd, &d->log_bytes, NULL, NULL, NULL, NULL) < 0)
        d->log_bytes = 0;
    uint64_t cap = d->policy.log_size ? d->policy.log_size
                                      : HR_DEFAULT_LOG_SIZE;
    if (d->log_bytes + n > cap && d->log_bytes > 0)
        rotate(d);
    if (pmm__os_write(d->console_fd, line, n) == 0) /* best effort */
        d->log_bytes += n;
}

int hrd_log_foreground(struct hrd *d)
{
    dev_t dev[2];
    ino_t ino[2];
    mode_t mode;
    if (pmm__os_size(2, NULL, NULL, &mode, &dev[0], &ino[0]) < 0)
        return 0; /* no stderr */
    if (pmm__os_size(d->console_fd, NULL, NULL, NULL, &dev[1], &ino[1]) == 0 &&
        dev[0] == dev[1] && ino[0] == ino[1])
        return 0; /* started in the background: stderr is the log */
    if (S_ISFIFO(mode) || S_ISSOCK(mode))
        pmm__os_nonblock(2); /* else at worst it blocks, as before */
    return 1;
}

/* One line to stderr, or counted as dropped when it is full; the count
 * is said first once it takes lines again. */
static void stderr_write(struct hrd *d, const char *line, size_t n)
{
    char note[128];
    if (d->log_dropped) {
        int k = snprintf(note, sizeof note, "<4>HR_CTRL: %u line%s not "
                         "written here (stderr was full): see console.log\n",
                         d->log_dropped, d->log_dropped == 1 ? "" : "s");
        if (pmm__os_write(2, note, (size_t)k) < 0) {
            d->log_dropped++;
            return;
        }
        d->log_dropped = 0;
    }
    if (pmm__os_write(2, line, n) == -EAGAIN)
        d->log_dropped++;
}

/* head, then len bytes of text (NULs and all), then a newline, into buf
 * (room for HRD_LINE_MAX + 256): the line's length. */
static size_t line(char *buf, const char *head, const char *text, size_t len)
{
    size_t h = strlen(head);
    memcpy(buf, head, h);
    memcpy(buf + h, text, len);
    buf[h + len] = '\n';
    return h + len + 1;
}

void hrd_log_line(struct hrd *d, int level, const char *tag, const char *text,
                  size_t len)
{
    char buf[HRD_LINE_MAX + 256], when[40], head[200];
    if (len > HRD_LINE_MAX)
        len = HRD_LINE_MAX;
    level &= 7;
    timestamp(when, sizeof when);
    snprintf(head, sizeof head, "%s %s %s: ", when, level_word[level], tag);
    console_write(d, buf, line(buf, head, text, len));
    if (d->log_stderr) { /* the same line, without the time */
        snprintf(head, sizeof head, "<%d>%s: ", level, tag);
        stderr_write(d, buf, line(buf, head, text, len));
    }
}

void hrd_log(struct hrd *d, int level, const char *fmt, ...)
{
    char text[HRD_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    hrd_log_line(d, level, "HR_CTRL", text,
                 (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

static int die_prefixed;

void hrd_die_prefixed(int on)
{
    die_prefixed = on;
}

void hrd_die(int code, const char *fmt, ...)
{
    va_list ap;
    fputs(die_prefixed ? "<3>hrd: " : "hrd: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

const char *hrd_text_file_error(int r)
{
    return r == -EILSEQ ? "it holds a NUL byte (not a text file; what "
                          "follows it would be lost)"
                        : pmm_strerror(r);
}
