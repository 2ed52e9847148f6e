/* SPDX-License-Identifier: MIT */
/*
 * log.h - the controller's console log, <site>/console.log.
 *
 * One line a message, "YYYY-mm-dd HH:MM:SS HR_CTRL: text"; direct actors
 * write their own output to the same file.  Best effort: a message that
 * cannot be written is dropped, the controller goes on.
 */
#ifndef HRD_LOG_H
#define HRD_LOG_H

struct hrd;

void hrd_log(struct hrd *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The controller cannot go on (or was misused): "hrd: " and the message on
 * stderr, then exit with code (1 could not start, 2 bad usage). */
void hrd_die(int code, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));

#endif
