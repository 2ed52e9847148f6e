/* SPDX-License-Identifier: MIT */
/*
 * words.c - the words of memcached's ASCII protocol, in and out: a command
 * line split on spaces into tokens and its numbers read (as memcached
 * reads them: decimal, no sign for unsigned, overflow refused), and the
 * reply lines written into a session's output buffer (each ending in
 * \r\n; out of memory marks the session broken, never a half line).
 * Knows nothing of the commands (proto.c) or the store beyond its results.
 */
#define _GNU_SOURCE
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
    mc_out(s, line, strlen(line));
    mc_out(s, "\r\n", 2);
}

void mc_sayf(struct mc_session *s, const char *fmt, ...)
{
    char line[512];
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
    return t->n == n && memcmp(t->p, word, n) == 0;
}

int mc_next_tok(const char *line, size_t len, size_t *i, struct mc_tok *t)
{
    while (*i < len && line[*i] == ' ')
        (*i)++;
    if (*i == len)
        return 0;
    size_t start = *i;
    while (*i < len && line[*i] != ' ')
        (*i)++;
    *t = (struct mc_tok){line + start, *i - start};
    return 1;
}

/* Split line on spaces into at most max tokens; returns their number, or
 * max + 1 when there are more. */
size_t mc_split(const char *line, size_t len, struct mc_tok *t, size_t max)
{
    size_t n = 0, i = 0;
    struct mc_tok tok;
    while (mc_next_tok(line, len, &i, &tok)) {
        if (n == max)
            return max + 1;
        t[n++] = tok;
    }
    return n;
}

int mc_to_u64(const struct mc_tok *t, uint64_t *v)
{
    if (t->n == 0 || t->n > 20 || t->p[0] < '0' || t->p[0] > '9')
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < t->n; i++) {
        unsigned d = (unsigned)(t->p[i] - '0');
        if (d > 9 || x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

int mc_to_i64(const struct mc_tok *t, int64_t *v)
{
    struct mc_tok u = *t;
    int neg = u.n > 0 && u.p[0] == '-';
    if (neg)
        u.p++, u.n--;
    uint64_t x;
    if (mc_to_u64(&u, &x) < 0 || x > (uint64_t)INT64_MAX)
        return -1;
    *v = neg ? -(int64_t)x : (int64_t)x;
    return 0;
}

int mc_noreply(const struct mc_tok *t, size_t n)
{
    return n > 0 && mc_is(&t[n - 1], "noreply");
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

void mc_reply(struct mc_session *s, int quiet, int r)
{
    if (!quiet || r < 0)
        mc_say_result(s, r);
}
