/* SPDX-License-Identifier: MIT */
/*
 * log.c - the controller's console log (see log.h).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hrd.h"
#include "log.h"
#include "os/ctl.h"

void hrd_log(struct hrd *d, const char *fmt, ...)
{
    char buf[1024], when[32];
    time_t t = (time_t)hr__os_wall_s();
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
    int n = snprintf(buf, sizeof buf, "%s HR_CTRL: ", when);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    if (d->console_fd >= 0)
        hr__os_write(d->console_fd, buf, (size_t)n); /* best effort */
}

void hrd_die(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("hrd: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}
