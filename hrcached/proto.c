/* SPDX-License-Identifier: MIT */
/*
 * proto.c - memcached's ASCII protocol on a connection's bytes: cut them
 * into command lines and data blocks, split a line into tokens as
 * memcached does, and send each command to its handler (cmds.c, meta.c,
 * stats.c) under memcached 1.6's rules for the number of tokens.
 *
 * Framing, as memcached's: a line ends at \n (a \r before it dropped); a
 * line of more than MC_LINE_MAX bytes without its \n closes the connection
 * (a retrieval line may reach MC_GET_LINE_MAX); a storage command's data
 * block is taken whole, or dropped unread when the command was refused.
 * A connection whose first byte is 0x80 speaks the binary protocol, which
 * hrcached does not: it gets one binary "unknown command" answer and is
 * closed, so a binary client fails at once instead of waiting.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmds.h"
#include "proto.h"
#include "stats.h"
#include "words.h"

#define MAX_TOKENS 24       /* memcached's: 23 words, then the rest */
#define PREFETCH_AHEAD 16   /* commands whose buckets are warmed at once */

void mc_session_free(struct mc_session *s)
{
    free(s->out.p);
    free(s->line.p);
    s->out = s->line = (struct mc_buf){0};
}

/* ---- dispatch ---- */

static int want(struct mc_session *s, size_t n, size_t min, size_t max)
{
    if (n >= min && n <= max)
        return 1;
    mc_say(s, "ERROR");
    return 0;
}

static const struct { const char *name; enum mc_op op; } stores[] = {
    {"set", MC_SET}, {"add", MC_ADD}, {"replace", MC_REPLACE},
    {"append", MC_APPEND}, {"prepend", MC_PREPEND}, {"cas", MC_CAS},
};

static int retrieval(struct mc_server *srv, struct mc_session *s,
                     struct mc_tok *t, size_t n)
{
    static const char *const names[] = {"get", "gets", "gat", "gats", "bget"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (mc_is(&t[0], names[k])) {
            if (want(s, n, 3, SIZE_MAX))
                mc_cmd_get(srv, s, t, n, k == 1 || k == 3, k == 2 || k == 3);
            return 1;
        }
    return 0;
}

static int storage(struct mc_server *srv, struct mc_session *s,
                   struct mc_tok *t, size_t n)
{
    for (size_t k = 0; k < sizeof stores / sizeof stores[0]; k++)
        if (mc_is(&t[0], stores[k].name)) {
            size_t base = stores[k].op == MC_CAS ? 7 : 6;
            if (n == base || n == base + 1)
                mc_cmd_store(srv, s, stores[k].op, t, n);
            else
                mc_say(s, "ERROR");
            return 1;
        }
    return 0;
}

static void command(struct mc_server *srv, struct mc_session *s, char *line)
{
    struct mc_tok t[MAX_TOKENS];
    size_t n = mc_tokenize(line, t, MAX_TOKENS);
    s->noreply = 0;
    if (n < 2 || t[0].n < 2) {
        mc_say(s, "ERROR");
        return;
    }
    if (t[0].n == 2 && t[0].p[0] == 'm') {
        mc_cmd_meta(srv, s, t, n);
        return;
    }
    if (retrieval(srv, s, t, n) || storage(srv, s, t, n))
        return;
    if (mc_is(&t[0], "delete")) {
        if (want(s, n, 3, 5))
            mc_cmd_delete(srv, s, t, n);
    } else if (mc_is(&t[0], "incr") || mc_is(&t[0], "decr")) {
        if (want(s, n, 4, 5))
            mc_cmd_arith(srv, s, t, n, t[0].p[0] == 'd');
    } else if (mc_is(&t[0], "touch")) {
        if (want(s, n, 4, 5))
            mc_cmd_touch(srv, s, t, n);
    } else if (mc_is(&t[0], "flush_all")) {
        if (want(s, n, 2, 4))
            mc_cmd_flush(srv, s, t, n);
    } else if (mc_is(&t[0], "verbosity")) {
        if (want(s, n, 3, 4))
            mc_cmd_verbosity(srv, s, t, n);
    } else if (mc_is(&t[0], "stats")) {
        mc_cmd_stats(srv, s, t, n - 1);
    } else if (mc_is(&t[0], "version")) {   /* arguments ignored, as memcached */
        mc_say(s, "VERSION " MC_VERSION_STRING);
    } else if (mc_is(&t[0], "quit")) {
        s->quit = 1;
    } else if (mc_is(&t[0], "shutdown")) {
        mc_say(s, "ERROR: shutdown not enabled");
    } else if (n >= 2 && t[n - 2].p && strncmp(t[n - 2].p, "HTTP/", 5) == 0) {
        s->quit = 1;                         /* a web request: memcached hangs up */
    } else {
        mc_say(s, "ERROR");
    }
}

/* ---- framing ---- */

/* A binary-protocol request: one response with status 0x0081 (unknown
 * command) carrying the request's opcode and opaque if they came, then
 * the connection closes. */
static void binary_refusal(struct mc_session *s, const unsigned char *in,
                           size_t len)
{
    static const char body[] = "Unknown command";
    unsigned char h[24] = {0x81};
    h[1] = len > 1 ? in[1] : 0;
    h[7] = 0x81;
    h[11] = sizeof body - 1;
    if (len >= 16)
        memcpy(h + 12, in + 12, 4);
    mc_out(s, h, sizeof h);
    mc_out(s, body, sizeof body - 1);
    s->quit = 1;
}

static int retrieval_line(const char *p, size_t n)
{
    while (n > 0 && *p == ' ')
        p++, n--;
    return (n >= 4 && memcmp(p, "get ", 4) == 0) ||
           (n >= 5 && memcmp(p, "gets ", 5) == 0);
}

/* Copy a line into the session's line buffer, NUL-terminated. */
static char *line_copy(struct mc_session *s, const char *p, size_t n)
{
    struct mc_buf *b = &s->line;
    if (n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            s->broken = 1;
            return NULL;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p, p, n);
    b->p[n] = 0;
    return b->p;
}

/* The number after the first `skip` words of [p, end), or 0. */
static size_t nth_number(const char *p, const char *end, int skip)
{
    for (int w = 0; p < end; w++) {
        while (p < end && *p == ' ')
            p++;
        if (w == skip) {
            size_t v = 0;
            for (; p < end && *p >= '0' && *p <= '9' && v < (1u << 30); p++)
                v = v * 10 + (size_t)(*p - '0');
            return v;
        }
        while (p < end && *p != ' ')
            p++;
    }
    return 0;
}

/* Warm what the next commands received (get and set lines, a set's data
 * skipped) will read under the store's lock, in steps, each over all
 * their keys, so that the misses of a pipeline's commands overlap instead
 * of coming one after another: their buckets; then, the buckets read,
 * the first item of each chain; then the chain to the key's item and
 * its LRU neighbours (mc_store_prefetch).  A line misread only warms
 * something for nothing. */
static void prefetch_keys(struct mc_server *srv, const char *in, size_t len)
{
    const char *p = in, *end = in + len;
    uint64_t hv[PREFETCH_AHEAD];
    int n = 0;
    for (int lines = 0; lines < PREFETCH_AHEAD && p < end; lines++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl || nl - p < 5)
            break;
        int set = memcmp(p, "set ", 4) == 0;
        if (set || memcmp(p, "get ", 4) == 0) {
            const char *k = p + 4, *e = k;
            while (e < nl && *e != ' ' && *e != '\r')
                e++;
            if (e > k && e - k <= MC_KEY_MAX)
                hv[n++] = mc_store_hash(k, (size_t)(e - k));
            if (set && (size_t)(end - nl) <= nth_number(e, nl, 2) + 3)
                break;
            if (set)
                nl += nth_number(e, nl, 2) + 2;   /* the data block */
        }
        p = nl + 1;
    }
    for (int step = 0; step < MC_PREFETCH_STEPS; step++)
        for (int i = 0; i < n; i++)
            mc_store_prefetch(srv->store, hv[i], step);
}

size_t mc_proto_input(struct mc_server *srv, struct mc_session *s,
                      const char *in, size_t len, size_t high)
{
    size_t pos = 0;
    if (s->state == MC_S_LINE)
        prefetch_keys(srv, in, len);
    if (len > 0 && !s->started) {
        s->started = 1;
        if ((unsigned char)in[0] == 0x80) {
            binary_refusal(s, (const unsigned char *)in, len);
            return len;
        }
    }
    while ((pos < len || s->state == MC_S_GET) && !s->quit && !s->broken &&
           s->out.len <= high) {
        size_t avail = len - pos;
        if (s->state == MC_S_GET) { /* the answer so far is sent */
            mc_cmd_get_more(srv, s, high);
            continue;
        }
        if (s->state == MC_S_SWALLOW) {
            size_t n = avail < s->swallow ? avail : s->swallow;
            pos += n;
            if ((s->swallow -= n) == 0)
                s->state = MC_S_LINE;
            continue;
        }
        if (s->state == MC_S_DATA) {
            if (avail < s->want)
                break;
            mc_store_data(srv, s, in + pos);
            pos += s->p.nbytes + 2;
            continue;
        }
        const char *nl = memchr(in + pos, '\n', avail);
        if (!nl) {
            size_t max = retrieval_line(in + pos, avail) ? MC_GET_LINE_MAX
                                                         : MC_LINE_MAX;
            if (avail > max) {
                s->noreply = 0;
                mc_say(s, "CLIENT_ERROR line too long");
                s->quit = 1;
            }
            s->want = avail + 1;
            break;
        }
        size_t n = (size_t)(nl - (in + pos));
        const char *line = in + pos;
        pos += n + 1;
        s->want = 0;
        if (n > 1 && line[n - 1] == '\r')
            n--;
        s->last_cmd = time(NULL);
        char *copy = line_copy(s, line, n);
        if (copy)
            command(srv, s, copy);
    }
    return pos;
}
