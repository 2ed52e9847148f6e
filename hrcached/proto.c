/* SPDX-License-Identifier: MIT */
/*
 * proto.c - memcached's ASCII protocol: parse command lines, run them on
 * the store, write the replies memcached writes.  The words (tokens, reply
 * lines) are words.c's, the stats command stats.c's.
 *
 * A line is split on spaces, as memcached does.  Limits and error strings
 * follow memcached 1.6: keys of at most MC_KEY_MAX bytes, an item no larger
 * than -I (SERVER_ERROR object too large for cache, its data dropped),
 * exptime as mc_exptime() reads it, "noreply" as the last token.  A storage
 * command's data block must end in \r\n (else CLIENT_ERROR bad data chunk).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/errors.h>

#include "proto.h"
#include "stats.h"
#include "words.h"

#define MAX_TOKENS 8        /* of a command other than a retrieval */
#define GET_BATCH 64        /* keys looked up in one transaction */

void mc_session_free(struct mc_session *s)
{
    free(s->out.p);
    s->out = (struct mc_buf){0};
}

/* ---- retrieval ---- */

struct emit_ctx {
    struct mc_session *s;
    int with_cas;
};

static void emit(void *arg, const struct mc_view *v)
{
    struct emit_ctx *e = arg;
    char head[MC_KEY_MAX + 80];
    int n = e->with_cas
        ? snprintf(head, sizeof head, "VALUE %.*s %" PRIu32 " %zu %" PRIu64 "\r\n",
                   (int)v->nkey, v->key, v->flags, v->nbytes, v->cas)
        : snprintf(head, sizeof head, "VALUE %.*s %" PRIu32 " %zu\r\n",
                   (int)v->nkey, v->key, v->flags, v->nbytes);
    mc_out(e->s, head, (size_t)n);
    mc_out(e->s, v->data, v->nbytes);
    mc_out(e->s, "\r\n", 2);
}

/* get|gets KEY...  or  gat|gats EXPTIME KEY...  (line after the command) */
static void cmd_get(struct mc_server *srv, struct mc_session *s,
                    const char *line, size_t len, int with_cas, int touch)
{
    struct mc_tok t[GET_BATCH];
    const char *keys[GET_BATCH];
    size_t nkeys[GET_BATCH];
    int64_t exptime = 0;
    size_t i = 0, found = 0;
    struct emit_ctx ctx = {s, with_cas};
    if (touch) {
        struct mc_tok e;
        if (!mc_next_tok(line, len, &i, &e)) {
            mc_say(s, "ERROR");
            return;
        }
        if (mc_to_i64(&e, &exptime) < 0) {
            mc_say(s, "CLIENT_ERROR invalid exptime argument");
            return;
        }
    }
    for (;;) {
        size_t n = 0;
        while (n < GET_BATCH && mc_next_tok(line, len, &i, &t[n])) {
            if (t[n].n > MC_KEY_MAX) {
                mc_say(s, "CLIENT_ERROR bad command line format");
                return;
            }
            keys[n] = t[n].p;
            nkeys[n] = t[n].n;
            n++;
        }
        if (n == 0)
            break;
        found += n;
        srv->cmd_get += n;
        if (touch)
            srv->cmd_touch += n;
        int r = mc_store_get(srv->store, keys, nkeys, n, touch, exptime,
                             emit, &ctx);
        if (r < 0) {
            mc_say_result(s, r);
            return;
        }
    }
    if (found == 0 && !touch) {
        mc_say(s, "ERROR");
        return;
    }
    mc_say(s, "END");
}

/* ---- storage ---- */

static void cmd_store(struct mc_server *srv, struct mc_session *s,
                      enum mc_op op, const struct mc_tok *t, size_t n)
{
    size_t need = op == MC_CAS ? 6 : 5;
    if (n != need && n != need + 1) {
        mc_say(s, "ERROR");
        return;
    }
    struct mc_pending *p = &s->p;
    uint64_t flags, cas = 0;
    int64_t exptime, nbytes;
    if (t[1].n > MC_KEY_MAX || mc_to_u64(&t[2], &flags) < 0 ||
        flags > UINT32_MAX || mc_to_i64(&t[3], &exptime) < 0 ||
        mc_to_i64(&t[4], &nbytes) < 0 || nbytes < 0 ||
        (op == MC_CAS && mc_to_u64(&t[5], &cas) < 0)) {
        mc_say(s, "CLIENT_ERROR bad command line format");
        return;
    }
    srv->cmd_set++;
    p->op = op;
    memcpy(p->key, t[1].p, t[1].n);
    p->nkey = t[1].n;
    p->flags = (uint32_t)flags;
    p->exptime = exptime;
    p->nbytes = (size_t)nbytes;
    p->cas = cas;
    p->noreply = n == need + 1 && mc_is(&t[need], "noreply");
    if (mc_store_too_large(srv->store, p->nkey, p->nbytes)) {
        /* refused before its data comes: drop the data without keeping it */
        mc_reply(s, p->noreply, MC_TOO_LARGE);
        s->state = MC_S_SWALLOW;
        s->swallow = p->nbytes + 2;
        return;
    }
    s->state = MC_S_DATA;
    s->want = p->nbytes + 2;
}

/* The data block of the pending command is complete in data[0..nbytes+2). */
static void store_data(struct mc_server *srv, struct mc_session *s,
                       const char *data)
{
    struct mc_pending *p = &s->p;
    s->state = MC_S_LINE;
    s->want = 0;
    if (data[p->nbytes] != '\r' || data[p->nbytes + 1] != '\n') {
        mc_say(s, "CLIENT_ERROR bad data chunk");
        return;
    }
    int r = mc_store_put(srv->store, p->op, p->key, p->nkey, p->flags,
                         p->exptime, data, p->nbytes, p->cas);
    mc_reply(s, p->noreply, r);
}

/* ---- other commands ---- */

static void cmd_delete(struct mc_server *srv, struct mc_session *s,
                       const struct mc_tok *t, size_t n)
{
    int quiet = mc_noreply(t, n);
    size_t args = n - (size_t)quiet;
    if (n < 2 || n > 4) {
        mc_say(s, "ERROR");
        return;
    }
    if (args > 3 || (args == 3 && !mc_is(&t[2], "0")) || t[1].n > MC_KEY_MAX) {
        mc_say(s, "CLIENT_ERROR bad command line format.  "
               "Usage: delete <key> [noreply]");
        return;
    }
    mc_reply(s, quiet, mc_store_delete(srv->store, t[1].p, t[1].n));
}

static void cmd_arith(struct mc_server *srv, struct mc_session *s,
                      const struct mc_tok *t, size_t n, int decr)
{
    if (n != 3 && n != 4) {
        mc_say(s, "ERROR");
        return;
    }
    int quiet = n == 4 && mc_is(&t[3], "noreply");
    uint64_t delta, value;
    if (t[1].n > MC_KEY_MAX) {
        mc_say(s, "CLIENT_ERROR bad command line format");
        return;
    }
    if (mc_to_u64(&t[2], &delta) < 0) {
        mc_say(s, "CLIENT_ERROR invalid numeric delta argument");
        return;
    }
    int r = mc_store_arith(srv->store, t[1].p, t[1].n, decr, delta, &value);
    if (r == MC_VALUE) {
        if (!quiet)
            mc_sayf(s, "%" PRIu64, value);
        return;
    }
    mc_reply(s, quiet, r);
}

static void cmd_touch(struct mc_server *srv, struct mc_session *s,
                      const struct mc_tok *t, size_t n)
{
    if (n != 3 && n != 4) {
        mc_say(s, "ERROR");
        return;
    }
    int quiet = n == 4 && mc_is(&t[3], "noreply");
    int64_t exptime;
    if (t[1].n > MC_KEY_MAX) {
        mc_say(s, "CLIENT_ERROR bad command line format");
        return;
    }
    if (mc_to_i64(&t[2], &exptime) < 0) {
        mc_say(s, "CLIENT_ERROR invalid exptime argument");
        return;
    }
    srv->cmd_touch++;
    mc_reply(s, quiet, mc_store_touch(srv->store, t[1].p, t[1].n, exptime));
}

static void cmd_flush(struct mc_server *srv, struct mc_session *s,
                      const struct mc_tok *t, size_t n)
{
    int quiet = mc_noreply(t, n);
    size_t args = n - (size_t)quiet;
    int64_t delay = 0;
    if (args > 2) {
        mc_say(s, "ERROR");
        return;
    }
    if (args == 2 && mc_to_i64(&t[1], &delay) < 0) {
        mc_say(s, "CLIENT_ERROR invalid exptime argument");
        return;
    }
    srv->cmd_flush++;
    int r = mc_store_flush(srv->store, delay);
    if (r < 0)
        mc_say_result(s, r);
    else if (!quiet)
        mc_say(s, "OK");
}

static void cmd_verbosity(struct mc_server *srv, struct mc_session *s,
                          const struct mc_tok *t, size_t n)
{
    int quiet = mc_noreply(t, n);
    uint64_t level;
    if (n != 2 && n != 3) {
        mc_say(s, "ERROR");
        return;
    }
    if (mc_to_u64(&t[1], &level) < 0) {
        if (!quiet)
            mc_say(s, "CLIENT_ERROR bad command line format");
        return;
    }
    srv->verbosity = level > 3 ? 3 : (int)level;
    if (!quiet)
        mc_say(s, "OK");
}

/* ---- dispatch ---- */

static void command(struct mc_server *srv, struct mc_session *s,
                    const char *line, size_t len)
{
    struct mc_tok t[MAX_TOKENS];
    size_t i = 0;
    while (i < len && line[i] == ' ')
        i++;
    size_t cend = i;
    while (cend < len && line[cend] != ' ')
        cend++;
    struct mc_tok c = {line + i, cend - i};
    if (mc_is(&c, "get") || mc_is(&c, "gets") || mc_is(&c, "gat") || mc_is(&c, "gats")) {
        cmd_get(srv, s, line + cend, len - cend, c.n == 4, c.p[1] == 'a');
        return;
    }
    size_t n = mc_split(line, len, t, MAX_TOKENS);
    if (n == 0 || n > MAX_TOKENS) {
        mc_say(s, "ERROR");
        return;
    }
    static const struct { const char *name; enum mc_op op; } stores[] = {
        {"set", MC_SET}, {"add", MC_ADD}, {"replace", MC_REPLACE},
        {"append", MC_APPEND}, {"prepend", MC_PREPEND}, {"cas", MC_CAS},
    };
    for (size_t k = 0; k < sizeof stores / sizeof stores[0]; k++)
        if (mc_is(&t[0], stores[k].name)) {
            cmd_store(srv, s, stores[k].op, t, n);
            return;
        }
    if (mc_is(&t[0], "delete"))
        cmd_delete(srv, s, t, n);
    else if (mc_is(&t[0], "incr") || mc_is(&t[0], "decr"))
        cmd_arith(srv, s, t, n, t[0].p[0] == 'd');
    else if (mc_is(&t[0], "touch"))
        cmd_touch(srv, s, t, n);
    else if (mc_is(&t[0], "flush_all"))
        cmd_flush(srv, s, t, n);
    else if (mc_is(&t[0], "stats"))
        mc_cmd_stats(srv, s, t, n);
    else if (mc_is(&t[0], "version"))          /* arguments ignored, as memcached */
        mc_say(s, "VERSION " MC_VERSION_STRING);
    else if (mc_is(&t[0], "verbosity"))
        cmd_verbosity(srv, s, t, n);
    else if (mc_is(&t[0], "quit"))
        s->quit = 1;
    else
        mc_say(s, "ERROR");
}

static int retrieval_line(const char *p, size_t n)
{
    return (n >= 4 && (memcmp(p, "get ", 4) == 0 || memcmp(p, "gat ", 4) == 0)) ||
           (n >= 5 && (memcmp(p, "gets ", 5) == 0 || memcmp(p, "gats ", 5) == 0));
}

size_t mc_proto_input(struct mc_server *srv, struct mc_session *s,
                      const char *in, size_t len, size_t high)
{
    size_t pos = 0;
    while (pos < len && !s->quit && !s->broken && s->out.len <= high) {
        size_t avail = len - pos;
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
            store_data(srv, s, in + pos);
            pos += s->p.nbytes + 2;
            continue;
        }
        const char *nl = memchr(in + pos, '\n', avail);
        if (!nl) {
            size_t max = retrieval_line(in + pos, avail) ? MC_GET_LINE_MAX
                                                         : MC_LINE_MAX;
            if (avail > max) {
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
        if (n > 0 && line[n - 1] == '\r')
            n--;
        command(srv, s, line, n);
    }
    return pos;
}
