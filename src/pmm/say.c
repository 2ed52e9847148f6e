/* SPDX-License-Identifier: MIT */
/*
 * say.c - the findings of the checker and the repair, told to the caller.
 *
 * The first SAY_MAX problems are told one by one; the rest are counted, so
 * a badly damaged bank gives a readable report.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>

#include "say.h"

#define SAY_MAX 40

void pmm__say(struct pmm_say *s, int problem, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = problem ? 0 : snprintf(buf, sizeof buf, "note: ");
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    s->problems += problem;
    if (s->fn && s->problems <= SAY_MAX)
        s->fn(buf, s->arg);
}

void pmm__say_end(struct pmm_say *s)
{
    if (s->problems > SAY_MAX && s->fn) {
        char more[64];
        snprintf(more, sizeof more, "(%d more problems not shown)",
                 s->problems - SAY_MAX);
        s->fn(more, s->arg);
    }
}
