/* SPDX-License-Identifier: MIT */
/*
 * log.h - the controller's log: <site>/console.log, and stderr in the
 * foreground.
 *
 * console.log, one line a message:
 *   2026-11-27T18:12:03.123+0000 warning HR_CTRL: text      (the controller)
 *   2026-11-27T18:12:03.125+0000 info g0/name: text         (an actor, logpipe.c)
 * with the local time and its offset from UTC.  It is rotated when the
 * next line would take it over hrCtrl.logSize bytes: console.log becomes
 * console.log.1 (the one before is dropped) and a new console.log begins,
 * so the log takes at most twice that on the site's file system.
 *
 * In the foreground (a terminal, journald, s6-log: whenever stderr is not
 * console.log itself, as it is under hr site start), each line also goes
 * to stderr with its sd-daemon(3) priority prefix and without the time,
 * which the reader adds:  "<4>HR_CTRL: text".
 * Best effort: a line that cannot be written is dropped, the controller
 * goes on.
 */
#ifndef HRD_LOG_H
#define HRD_LOG_H

#include <stddef.h>

struct hrd;

/* Priorities, as sd-daemon(3) and syslog(3) number them. */
enum {
    HRD_ERR = 3,     /* something failed that the controller could not do */
    HRD_WARNING = 4, /* an actor failed, a group restarts, a site restarts */
    HRD_NOTICE = 5,  /* the controller's own life: started, stopped */
    HRD_INFO = 6,    /* the ordinary: an actor started, a group ended */
    HRD_DEBUG = 7,
};

/* 1 when the log should go to stderr too: stderr is open and is not
 * console.log itself.  A stderr that is a pipe or a socket (journald,
 * s6-log, a container runtime) is made non-blocking then: a reader that
 * stalls costs it lines (counted, and said once it reads again; they are
 * all in console.log), never the controller its loop. */
int hrd_log_foreground(struct hrd *d);
void hrd_log(struct hrd *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* One line (len bytes, no newline) written by someone else under tag
 * (an actor's "g<group>/<name>"), at level. */
void hrd_log_line(struct hrd *d, int level, const char *tag, const char *text,
                  size_t len);
/* The controller cannot go on (or was misused): "hrd: " and the message on
 * stderr, then exit with code (1 could not start, 2 bad usage).  Once
 * hrd_die_prefixed(1) was called (in the foreground, after the arguments
 * were read) the line begins with "<3>", so that journald and s6-log file
 * it as an error rather than as info; started by hr site start, the tool
 * shows the bare message. */
void hrd_die(int code, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));
void hrd_die_prefixed(int on);
/* Why a text file (site.conf, sysadm.ini) could not be read, from
 * pmm__os_read_text's answer: words for -EILSEQ (a NUL byte), else
 * pmm_strerror's. */
const char *hrd_text_file_error(int r);

#endif
