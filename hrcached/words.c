/* SPDX-License-Identifier: MIT */
/*
 * words.c - the words of memcached's ASCII protocol, in and out: a command
 * line split on spaces into tokens as memcached splits it, numbers read
 * as memcached's safe_strto* read them (libc's strto*, then a white space
 * or the end), and the reply lines written into a session's output buffer
 * (each ending in \r\n; out of memory marks the session broken, never a
 * half line; nothing while the command has noreply).
 * Knows nothing of the commands (proto.c) or the store beyond its results.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hotrestart/errors.h>

#include "words.h"

void mc_out(struct mc_session *s, const void *p, size_t n)
{
    struct mc_buf *b = &s->out;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            s->broken = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void mc_say(struct mc_session *s, const char *line)
{
    if (s->noreply)
        return;
    mc_out(s, line, strlen(line));
    mc_out(s, "\r\n", 2);
}

void mc_sayf(struct mc_session *s, const char *fmt, ...)
{
    char line[512];
    if (s->noreply)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 3)
        n = (int)(sizeof line - 3);
    memcpy(line + n, "\r\n", 2);
    mc_out(s, line, (size_t)n + 2);
}

/* ---- tokens ---- */

int mc_is(const struct mc_tok *t, const char *word)
{
    size_t n = strlen(word);
    return t->p && t->n == n && memcmp(t->p, word, n) == 0;
}

size_t mc_tokenize(char *line, struct mc_tok *t, size_t max)
{
    size_t n = 0;
    char *s = line, *e = line;
    for (; *e; e++) {
        if (*e != ' ')
            continue;
        if (s != e) {
            t[n++] = (struct mc_tok){s, (size_t)(e - s)};
            *e = 0;
            if (n == max - 1) {
                s = ++e;
                break;
            }
        }
        s = e + 1;
    }
    if (s != e)
        t[n++] = (struct mc_tok){s, (size_t)(e - s)};
    t[n++] = (struct mc_tok){*e ? e : NULL, 0};
    return n;
}

int mc_next_word(char **p, struct mc_tok *t)
{
    char *s = *p;
    while (*s == ' ')
        s++;
    if (!*s)
        return 0;
    char *e = s;
    while (*e && *e != ' ')
        e++;
    *t = (struct mc_tok){s, (size_t)(e - s)};
    *p = e;
    return 1;
}

static int num_end_ok(const char *p, const char *end)
{
    return end != p && (*end == 0 || isspace((unsigned char)*end));
}

int mc_strtoull(const char *p, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(p, &end, 10);
    if (errno == ERANGE || !num_end_ok(p, end))
        return -1;
    if ((long long)x < 0 && strchr(p, '-'))
        return -1;              /* a negative number read as unsigned */
    *v = x;
    return 0;
}

int mc_strtoul32(const char *p, uint32_t *v)
{
    uint64_t x;
    if (mc_strtoull(p, &x) < 0 || x > UINT32_MAX)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

int mc_strtol32(const char *p, int32_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(p, &end, 10);
    if (errno == ERANGE || !num_end_ok(p, end) || x < INT32_MIN ||
        x > INT32_MAX)
        return -1;
    *v = (int32_t)x;
    return 0;
}

int mc_noreply(const struct mc_tok *t, size_t n)
{
    return n >= 2 && mc_is(&t[n - 2], "noreply");
}

/* ---- results ---- */

void mc_say_result(struct mc_session *s, int r)
{
    switch (r) {
    case MC_STORED: mc_say(s, "STORED"); break;
    case MC_NOT_STORED: mc_say(s, "NOT_STORED"); break;
    case MC_EXISTS: mc_say(s, "EXISTS"); break;
    case MC_NOT_FOUND: mc_say(s, "NOT_FOUND"); break;
    case MC_DELETED: mc_say(s, "DELETED"); break;
    case MC_TOUCHED: mc_say(s, "TOUCHED"); break;
    case MC_TOO_LARGE: mc_say(s, "SERVER_ERROR object too large for cache"); break;
    case MC_NO_MEMORY: mc_say(s, "SERVER_ERROR out of memory storing object"); break;
    case MC_NON_NUMERIC:
        mc_say(s, "CLIENT_ERROR cannot increment or decrement non-numeric value");
        break;
    default:
        mc_sayf(s, "SERVER_ERROR %s", pmm_strerror(r));
        break;
    }
}
