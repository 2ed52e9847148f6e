/*
 * proto.c - memcached's ASCII protocol: parse command lines, run them on
 * the store, write the replies memcached writes.
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/errors.h>

#include "proto.h"

#define MAX_TOKENS 8        /* of a command other than a retrieval */
#define GET_BATCH 64        /* keys looked up in one transaction */

/* ---- output ---- */

static void put(struct mc_session *s, const void *p, size_t n)
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

static void say(struct mc_session *s, const char *line)
{
    put(s, line, strlen(line));
    put(s, "\r\n", 2);
}

static void sayf(struct mc_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sayf(struct mc_session *s, const char *fmt, ...)
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
    put(s, line, (size_t)n + 2);
}

void mc_session_free(struct mc_session *s)
{
    free(s->out.p);
    s->out = (struct mc_buf){0};
}

/* ---- tokens ---- */

struct tok {
    const char *p;
    size_t n;
};

static int is(const struct tok *t, const char *word)
{
    size_t n = strlen(word);
    return t->n == n && memcmp(t->p, word, n) == 0;
}

/* Split line on spaces into at most max tokens; returns their number, or
 * max + 1 when there are more. */
static size_t split(const char *line, size_t len, struct tok *t, size_t max)
{
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && line[i] == ' ')
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && line[i] != ' ')
            i++;
        if (n == max)
            return max + 1;
        t[n++] = (struct tok){line + start, i - start};
    }
    return n;
}

static int to_u64(const struct tok *t, uint64_t *v)
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

static int to_i64(const struct tok *t, int64_t *v)
{
    struct tok u = *t;
    int neg = u.n > 0 && u.p[0] == '-';
    if (neg)
        u.p++, u.n--;
    uint64_t x;
    if (to_u64(&u, &x) < 0 || x > (uint64_t)INT64_MAX)
        return -1;
    *v = neg ? -(int64_t)x : (int64_t)x;
    return 0;
}

static int noreply(const struct tok *t, size_t n)
{
    return n > 0 && is(&t[n - 1], "noreply");
}

/* ---- results ---- */

static void say_result(struct mc_session *s, int r)
{
    switch (r) {
    case MC_STORED: say(s, "STORED"); break;
    case MC_NOT_STORED: say(s, "NOT_STORED"); break;
    case MC_EXISTS: say(s, "EXISTS"); break;
    case MC_NOT_FOUND: say(s, "NOT_FOUND"); break;
    case MC_DELETED: say(s, "DELETED"); break;
    case MC_TOUCHED: say(s, "TOUCHED"); break;
    case MC_TOO_LARGE: say(s, "SERVER_ERROR object too large for cache"); break;
    case MC_NO_MEMORY: say(s, "SERVER_ERROR out of memory storing object"); break;
    case MC_NON_NUMERIC:
        say(s, "CLIENT_ERROR cannot increment or decrement non-numeric value");
        break;
    default:
        sayf(s, "SERVER_ERROR %s", pmm_strerror(r));
        break;
    }
}

static void reply(struct mc_session *s, int quiet, int r)
{
    if (!quiet || r < 0)
        say_result(s, r);
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
    put(e->s, head, (size_t)n);
    put(e->s, v->data, v->nbytes);
    put(e->s, "\r\n", 2);
}

/* get|gets KEY...  or  gat|gats EXPTIME KEY...  (line after the command) */
static void cmd_get(struct mc_server *srv, struct mc_session *s,
                    const char *line, size_t len, int with_cas, int touch)
{
    struct tok t[GET_BATCH];
    const char *keys[GET_BATCH];
    size_t nkeys[GET_BATCH];
    int64_t exptime = 0;
    size_t i = 0, found = 0;
    struct emit_ctx ctx = {s, with_cas};
    if (touch) {
        struct tok e;
        while (i < len && line[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && line[i] != ' ')
            i++;
        e = (struct tok){line + start, i - start};
        if (e.n == 0) {
            say(s, "ERROR");
            return;
        }
        if (to_i64(&e, &exptime) < 0) {
            say(s, "CLIENT_ERROR invalid exptime argument");
            return;
        }
    }
    for (;;) {
        size_t n = 0;
        while (n < GET_BATCH) {
            while (i < len && line[i] == ' ')
                i++;
            if (i == len)
                break;
            size_t start = i;
            while (i < len && line[i] != ' ')
                i++;
            t[n] = (struct tok){line + start, i - start};
            if (t[n].n > MC_KEY_MAX) {
                say(s, "CLIENT_ERROR bad command line format");
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
            say_result(s, r);
            return;
        }
    }
    if (found == 0 && !touch) {
        say(s, "ERROR");
        return;
    }
    say(s, "END");
}

/* ---- storage ---- */

static void cmd_store(struct mc_server *srv, struct mc_session *s,
                      enum mc_op op, const struct tok *t, size_t n)
{
    size_t need = op == MC_CAS ? 6 : 5;
    if (n != need && n != need + 1) {
        say(s, "ERROR");
        return;
    }
    struct mc_pending *p = &s->p;
    uint64_t flags, cas = 0;
    int64_t exptime, nbytes;
    if (t[1].n > MC_KEY_MAX || to_u64(&t[2], &flags) < 0 ||
        flags > UINT32_MAX || to_i64(&t[3], &exptime) < 0 ||
        to_i64(&t[4], &nbytes) < 0 || nbytes < 0 ||
        (op == MC_CAS && to_u64(&t[5], &cas) < 0)) {
        say(s, "CLIENT_ERROR bad command line format");
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
    p->noreply = n == need + 1 && is(&t[need], "noreply");
    if (mc_store_too_large(srv->store, p->nkey, p->nbytes)) {
        /* refused before its data comes: drop the data without keeping it */
        reply(s, p->noreply, MC_TOO_LARGE);
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
        say(s, "CLIENT_ERROR bad data chunk");
        return;
    }
    int r = mc_store_put(srv->store, p->op, p->key, p->nkey, p->flags,
                         p->exptime, data, p->nbytes, p->cas);
    reply(s, p->noreply, r);
}

/* ---- other commands ---- */

static void cmd_delete(struct mc_server *srv, struct mc_session *s,
                       const struct tok *t, size_t n)
{
    int quiet = noreply(t, n);
    size_t args = n - (size_t)quiet;
    if (n < 2 || n > 4) {
        say(s, "ERROR");
        return;
    }
    if (args > 3 || (args == 3 && !is(&t[2], "0")) || t[1].n > MC_KEY_MAX) {
        say(s, "CLIENT_ERROR bad command line format.  "
               "Usage: delete <key> [noreply]");
        return;
    }
    reply(s, quiet, mc_store_delete(srv->store, t[1].p, t[1].n));
}

static void cmd_arith(struct mc_server *srv, struct mc_session *s,
                      const struct tok *t, size_t n, int decr)
{
    if (n != 3 && n != 4) {
        say(s, "ERROR");
        return;
    }
    int quiet = n == 4 && is(&t[3], "noreply");
    uint64_t delta, value;
    if (t[1].n > MC_KEY_MAX) {
        say(s, "CLIENT_ERROR bad command line format");
        return;
    }
    if (to_u64(&t[2], &delta) < 0) {
        say(s, "CLIENT_ERROR invalid numeric delta argument");
        return;
    }
    int r = mc_store_arith(srv->store, t[1].p, t[1].n, decr, delta, &value);
    if (r == MC_VALUE) {
        if (!quiet)
            sayf(s, "%" PRIu64, value);
        return;
    }
    reply(s, quiet, r);
}

static void cmd_touch(struct mc_server *srv, struct mc_session *s,
                      const struct tok *t, size_t n)
{
    if (n != 3 && n != 4) {
        say(s, "ERROR");
        return;
    }
    int quiet = n == 4 && is(&t[3], "noreply");
    int64_t exptime;
    if (t[1].n > MC_KEY_MAX) {
        say(s, "CLIENT_ERROR bad command line format");
        return;
    }
    if (to_i64(&t[2], &exptime) < 0) {
        say(s, "CLIENT_ERROR invalid exptime argument");
        return;
    }
    srv->cmd_touch++;
    reply(s, quiet, mc_store_touch(srv->store, t[1].p, t[1].n, exptime));
}

static void cmd_flush(struct mc_server *srv, struct mc_session *s,
                      const struct tok *t, size_t n)
{
    int quiet = noreply(t, n);
    size_t args = n - (size_t)quiet;
    int64_t delay = 0;
    if (args > 2) {
        say(s, "ERROR");
        return;
    }
    if (args == 2 && to_i64(&t[1], &delay) < 0) {
        say(s, "CLIENT_ERROR invalid exptime argument");
        return;
    }
    srv->cmd_flush++;
    int r = mc_store_flush(srv->store, delay);
    if (r < 0)
        say_result(s, r);
    else if (!quiet)
        say(s, "OK");
}

static void cmd_verbosity(struct mc_server *srv, struct mc_session *s,
                          const struct tok *t, size_t n)
{
    int quiet = noreply(t, n);
    uint64_t level;
    if (n != 2 && n != 3) {
        say(s, "ERROR");
        return;
    }
    if (to_u64(&t[1], &level) < 0) {
        if (!quiet)
            say(s, "CLIENT_ERROR bad command line format");
        return;
    }
    srv->verbosity = level > 3 ? 3 : (int)level;
    if (!quiet)
        say(s, "OK");
}

static void stat_u64(struct mc_session *s, const char *name, uint64_t v)
{
    sayf(s, "STAT %s %" PRIu64, name, v);
}

static void stats_general(struct mc_server *srv, struct mc_session *s)
{
    const struct mc_counters *c = mc_store_counters(srv->store);
    struct mc_usage u = {0};
    int r = mc_store_usage(srv->store, &u);
    if (r < 0) {
        say_result(s, r);
        return;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int64_t now = time(NULL);
    stat_u64(s, "pid", (uint64_t)getpid());
    stat_u64(s, "uptime", (uint64_t)(now - srv->started));
    stat_u64(s, "time", (uint64_t)now);
    sayf(s, "STAT version %s", MC_VERSION_STRING);
    stat_u64(s, "pointer_size", sizeof(void *) * 8);
    sayf(s, "STAT rusage_user %ld.%06ld", (long)ru.ru_utime.tv_sec,
         (long)ru.ru_utime.tv_usec);
    sayf(s, "STAT rusage_system %ld.%06ld", (long)ru.ru_stime.tv_sec,
         (long)ru.ru_stime.tv_usec);
    stat_u64(s, "max_connections", srv->max_conns);
    stat_u64(s, "curr_connections", srv->curr_conns);
    stat_u64(s, "total_connections", srv->total_conns);
    stat_u64(s, "cmd_get", srv->cmd_get);
    stat_u64(s, "cmd_set", srv->cmd_set);
    stat_u64(s, "cmd_flush", srv->cmd_flush);
    stat_u64(s, "cmd_touch", srv->cmd_touch);
    const struct { const char *name; uint64_t v; } rows[] = {
        {"get_hits", c->get_hits}, {"get_misses", c->get_misses},
        {"get_expired", c->get_expired}, {"get_flushed", c->get_flushed},
        {"delete_misses", c->delete_misses}, {"delete_hits", c->delete_hits},
        {"incr_misses", c->incr_misses}, {"incr_hits", c->incr_hits},
        {"decr_misses", c->decr_misses}, {"decr_hits", c->decr_hits},
        {"cas_misses", c->cas_misses}, {"cas_hits", c->cas_hits},
        {"cas_badval", c->cas_badval}, {"touch_hits", c->touch_hits},
        {"touch_misses", c->touch_misses},
        {"store_too_large", c->store_too_large},
        {"store_no_memory", c->store_no_memory},
        {"bytes_read", srv->bytes_read}, {"bytes_written", srv->bytes_written},
        {"limit_maxbytes", u.mem_limit}, {"threads", 1},
        {"bytes", u.bytes}, {"curr_items", u.items},
        {"total_items", c->total_items}, {"evictions", c->evictions},
        {"reclaimed", c->reclaimed}, {"hash_buckets", u.nbuckets},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        stat_u64(s, rows[i].name, rows[i].v);
    say(s, "END");
}

static void stats_settings(struct mc_server *srv, struct mc_session *s)
{
    stat_u64(s, "maxbytes", srv->cfg.mem_limit);
    stat_u64(s, "maxconns", srv->max_conns);
    stat_u64(s, "verbosity", (uint64_t)srv->verbosity);
    sayf(s, "STAT evictions %s", srv->cfg.no_evict ? "off" : "on");
    stat_u64(s, "item_size_max", srv->cfg.item_max);
    sayf(s, "STAT heap %s", srv->heap_name);
    say(s, "END");
}

static void cmd_stats(struct mc_server *srv, struct mc_session *s,
                      const struct tok *t, size_t n)
{
    if (n == 1)
        stats_general(srv, s);
    else if (n == 2 && is(&t[1], "reset")) {
        mc_store_reset_counters(srv->store);
        srv->cmd_get = srv->cmd_set = srv->cmd_flush = srv->cmd_touch = 0;
        srv->total_conns = srv->bytes_read = srv->bytes_written = 0;
        say(s, "RESET");
    } else if (n == 2 && is(&t[1], "settings"))
        stats_settings(srv, s);
    else
        say(s, "ERROR");
}

/* ---- dispatch ---- */

static void command(struct mc_server *srv, struct mc_session *s,
                    const char *line, size_t len)
{
    struct tok t[MAX_TOKENS];
    size_t i = 0;
    while (i < len && line[i] == ' ')
        i++;
    size_t cend = i;
    while (cend < len && line[cend] != ' ')
        cend++;
    struct tok c = {line + i, cend - i};
    if (is(&c, "get") || is(&c, "gets") || is(&c, "gat") || is(&c, "gats")) {
        cmd_get(srv, s, line + cend, len - cend, c.n == 4, c.p[1] == 'a');
        return;
    }
    size_t n = split(line, len, t, MAX_TOKENS);
    if (n == 0 || n > MAX_TOKENS) {
        say(s, "ERROR");
        return;
    }
    static const struct { const char *name; enum mc_op op; } stores[] = {
        {"set", MC_SET}, {"add", MC_ADD}, {"replace", MC_REPLACE},
        {"append", MC_APPEND}, {"prepend", MC_PREPEND}, {"cas", MC_CAS},
    };
    for (size_t k = 0; k < sizeof stores / sizeof stores[0]; k++)
        if (is(&t[0], stores[k].name)) {
            cmd_store(srv, s, stores[k].op, t, n);
            return;
        }
    if (is(&t[0], "delete"))
        cmd_delete(srv, s, t, n);
    else if (is(&t[0], "incr") || is(&t[0], "decr"))
        cmd_arith(srv, s, t, n, t[0].p[0] == 'd');
    else if (is(&t[0], "touch"))
        cmd_touch(srv, s, t, n);
    else if (is(&t[0], "flush_all"))
        cmd_flush(srv, s, t, n);
    else if (is(&t[0], "stats"))
        cmd_stats(srv, s, t, n);
    else if (is(&t[0], "version"))          /* arguments ignored, as memcached */
        say(s, "VERSION " MC_VERSION_STRING);
    else if (is(&t[0], "verbosity"))
        cmd_verbosity(srv, s, t, n);
    else if (is(&t[0], "quit"))
        s->quit = 1;
    else
        say(s, "ERROR");
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
                say(s, "CLIENT_ERROR line too long");
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
