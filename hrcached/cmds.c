/* SPDX-License-Identifier: MIT */
/*
 * cmds.c - the classic commands of memcached's ASCII protocol: retrieval
 * (get, gets, gat, gats), storage (set, add, replace, append, prepend,
 * cas), delete, incr/decr, touch, flush_all, verbosity.
 *
 * Each answers as memcached 1.6 does, byte for byte: the same checks in
 * the same order, the same strings; "noreply" as the last token silences
 * every reply of the command, errors too (s->noreply, words.c).  A reply
 * is appended only after the store's transaction committed.  The one
 * difference kept on purpose: a number beyond its field's 32 bits is
 * refused where memcached cuts it down (docs/hrcached.md).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "store.h"

#define GET_BATCH 64        /* keys looked up in one transaction */
#define GET_FIRST 16        /* keys of a get's first lookup; then as many
                             * as its values so far say fill a part */

/* ---- retrieval ---- */

struct emit_ctx {
    struct mc_session *s;
    int with_cas;
};

/* v in decimal at p: past its last digit. */
static char *put_u64(char *p, uint64_t v)
{
    char t[20];
    int n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *p++ = t[--n];
    return p;
}

/* "VALUE key flags bytes [cas]", the value, "\r\n": one item of a get's
 * answer, its line made by hand (snprintf was a tenth of a 100 B get). */
static void emit(void *arg, const struct mc_view *v)
{
    struct emit_ctx *e = arg;
    char head[MC_KEY_MAX + 80], *p = head;
    memcpy(p, "VALUE ", 6);
    memcpy(p + 6, v->key, v->nkey);
    p += 6 + v->nkey;
    *p++ = ' ';
    p = put_u64(p, v->flags);
    *p++ = ' ';
    p = put_u64(p, v->nbytes);
    if (e->with_cas) {
        *p++ = ' ';
        p = put_u64(p, v->cas);
    }
    *p++ = '\r';
    *p++ = '\n';
    mc_out(e->s, head, (size_t)(p - head));
    mc_out(e->s, v->data, v->nbytes);
    mc_out(e->s, "\r\n", 2);
}

/* The keys of a retrieval line: its tokens from t[i] on, then the words of
 * the rest of the line that the tokenizer left in the terminal token. */
struct keys {
    struct mc_tok *t;
    size_t i, n;
    char *rest;
};

static int next_key(struct keys *k, struct mc_tok *key)
{
    if (k->i + 1 < k->n) {
        *key = k->t[k->i++];
        return 1;
    }
    return k->rest && mc_next_word(&k->rest, key);
}

/* The next key of a retrieval being answered in parts: words between
 * spaces and NULs up to g->end. */
static int rest_key(struct mc_get_rest *g, struct mc_tok *key)
{
    char *p = g->at;
    while (p < g->end && (*p == ' ' || !*p))
        p++;
    char *e = p;
    while (e < g->end && *e != ' ' && *e)
        e++;
    g->at = e;
    *key = (struct mc_tok){p, (size_t)(e - p)};
    return e > p;
}

/* get|gets KEY...  or  gat|gats EXPTIME KEY... (n >= 3).  A key over
 * MC_KEY_MAX anywhere makes the whole answer a CLIENT_ERROR, as in
 * memcached, which drops what it had gathered.  Otherwise the keys wait
 * in the session (MC_S_GET), and the input loop answers them in parts
 * (mc_cmd_get_more). */
void mc_cmd_get(struct mc_server *srv, struct mc_session *s, struct mc_tok *t,
                size_t n, int with_cas, int touch)
{
    int32_t exptime = 0;
    if (touch && mc_strtol32(t[1].p, &exptime) < 0) {
        mc_say(s, "CLIENT_ERROR invalid exptime argument");
        return;
    }
    size_t first = touch ? 2 : 1;
    struct keys k = {t, first, n, t[n - 1].p};
    struct mc_tok key, last = {0};
    while (next_key(&k, &key)) {
        if (key.n > MC_KEY_MAX) {
            mc_say(s, "CLIENT_ERROR bad command line format");
            return;
        }
        last = key;
    }
    /* the keys: from the first to the end of the last, as the tokenizer
     * left them (words between spaces and NULs); none: an empty range */
    s->get = (struct mc_get_rest){last.p ? t[first].p : NULL,
                                  last.p ? last.p + last.n : NULL, with_cas,
                                  touch, exptime, GET_FIRST};
    s->state = MC_S_GET;
    (void)srv;
}

void mc_cmd_get_more(struct mc_server *srv, struct mc_session *s, size_t high)
{
    struct mc_get_rest *g = &s->get;
    struct emit_ctx ctx = {s, g->with_cas};
    const char *keys[GET_BATCH];
    size_t nkeys[GET_BATCH], batch;
    struct mc_tok key;
    size_t want;
    do {
        want = g->batch;
        for (batch = 0; batch < want && rest_key(g, &key); batch++) {
            keys[batch] = key.p;
            nkeys[batch] = key.n;
        }
        /* memcached counts a gat as touches only */
        if (g->touch)
            srv->cmd_touch += batch;
        else
            srv->cmd_get += batch;
        size_t before = s->out.len;
        int r = batch ? mc_store_get(srv->store, keys, nkeys, batch, g->touch,
                                     g->exptime, emit, &ctx) : 0;
        if (r < 0) {
            s->state = MC_S_LINE;
            mc_say_result(s, r);
            return;
        }
        /* as many keys a lookup as fill about `high` bytes, values
         * being what they were (at least one, at most GET_BATCH) */
        size_t per = batch ? (s->out.len - before) / batch + 1 : 1;
        g->batch = high / per < 1 ? 1 : high / per > GET_BATCH ? GET_BATCH
                                                              : high / per;
        if (batch == want && s->out.len > high)
            return; /* sent first, then the rest (MC_S_GET) */
    } while (batch == want);
    s->state = MC_S_LINE;
    mc_say(s, "END");
}

/* ---- storage ---- */

/* set|add|replace|append|prepend KEY FLAGS EXPTIME BYTES [noreply], or
 * cas KEY FLAGS EXPTIME BYTES CAS [noreply] (token count checked). */
void mc_cmd_store(struct mc_server *srv, struct mc_session *s, enum mc_op op,
                  struct mc_tok *t, size_t n)
{
    s->noreply = mc_noreply(t, n);
    struct mc_pending *p = &s->p;
    uint32_t flags;
    int32_t exptime, nbytes;
    uint64_t cas = 0;
    if (t[1].n > MC_KEY_MAX || mc_strtoul32(t[2].p, &flags) < 0 ||
        mc_strtol32(t[3].p, &exptime) < 0 ||
        mc_strtol32(t[4].p, &nbytes) < 0 ||
        (op == MC_CAS && mc_strtoull(t[5].p, &cas) < 0) || nbytes < 0 ||
        nbytes > INT32_MAX - 2) { /* memcached's bound: refused, not swallowed */
        mc_say(s, "CLIENT_ERROR bad command line format");
        return;
    }
    *p = (struct mc_pending){.meta = 0, .op = op, .nkey = t[1].n, .flags = flags,
                             .exptime = exptime, .nbytes = (size_t)nbytes,
                             .cas = cas, .noreply = s->noreply};
    memcpy(p->key, t[1].p, t[1].n);
    if (mc_store_too_large(srv->store, p->nkey, p->flags, p->nbytes)) {
        /* refused before its data comes: the data is dropped unread, and
         * a set leaves no stale value behind (memcached deletes it) */
        if (op == MC_SET) {     /* counted nowhere, as memcached's */
            int r = mc_store_drop(srv->store, p->key, p->nkey);
            if (r < 0) {
                mc_say_result(s, r);
                return;
            }
        }
        mc_say_result(s, MC_TOO_LARGE);
        s->state = MC_S_SWALLOW;
        s->swallow = p->nbytes + 2;
        return;
    }
    srv->cmd_set++;
    s->state = MC_S_DATA;
    s->want = p->nbytes + 2;
}

void mc_store_data(struct mc_server *srv, struct mc_session *s,
                   const char *data)
{
    struct mc_pending *p = &s->p;
    if (p->meta) {
        mc_meta_data(srv, s, data);
        return;
    }
    s->state = MC_S_LINE;
    s->want = 0;
    s->noreply = p->noreply;
    if (data[p->nbytes] != '\r' || data[p->nbytes + 1] != '\n') {
        mc_say(s, "CLIENT_ERROR bad data chunk");
        return;
    }
    mc_say_result(s, mc_store_put(srv->store, p->op, p->key, p->nkey,
                                  p->flags, p->exptime, data, p->nbytes,
                                  p->cas));
}

/* ---- other commands ---- */

/* delete KEY [0] [noreply] (3 to 5 tokens) */
void mc_cmd_delete(struct mc_server *srv, struct mc_session *s,
                   struct mc_tok *t, size_t n)
{
    if (n > 3) {
        int hold_zero = mc_is(&t[2], "0");
        s->noreply = mc_noreply(t, n);
        if (!((n == 4 && (hold_zero || s->noreply)) ||
              (n == 5 && hold_zero && s->noreply))) {
            mc_say(s, "CLIENT_ERROR bad command line format.  "
                   "Usage: delete <key> [noreply]");
            return;
        }
    }
    if (t[1].n > MC_KEY_MAX) {
        mc_say(s, "CLIENT_ERROR bad command line format");
        return;
    }
    mc_say_result(s, mc_store_delete(srv->store, t[1].p, t[1].n));
}

/* incr|decr KEY DELTA [noreply] */
void mc_cmd_arith(struct mc_server *srv, struct mc_session *s,
                  struct mc_tok *t, size_t n, int decr)
{
    s->noreply = mc_noreply(t, n);
    uint64_t delta, value;
    if (t[1].n > MC_KEY_MAX) {
        mc_say(s, "CLIENT_ERROR bad command line format");
        return;
    }
    if (mc_strtoull(t[2].p, &delta) < 0) {
        mc_say(s, "CLIENT_ERROR invalid numeric delta argument");
        return;
    }
    int r = mc_store_arith(srv->store, t[1].p, t[1].n, decr, delta, &value);
    if (r == MC_VALUE)
        mc_sayf(s, "%" PRIu64, value);
    else if (r == MC_NO_MEMORY)
        mc_say(s, "SERVER_ERROR out of memory");
    else
        mc_say_result(s, r);
}

/* touch KEY EXPTIME [noreply] */
void mc_cmd_touch(struct mc_server *srv, struct mc_session *s,
                  struct mc_tok *t, size_t n)
{
    s->noreply = mc_noreply(t, n);
    int32_t exptime;
    if (t[1].n > MC_KEY_MAX) {
        mc_say(s, "CLIENT_ERROR bad command line format");
        return;
    }
    if (mc_strtol32(t[2].p, &exptime) < 0) {
        mc_say(s, "CLIENT_ERROR invalid exptime argument");
        return;
    }
    srv->cmd_touch++;
    mc_say_result(s, mc_store_touch(srv->store, t[1].p, t[1].n, exptime));
}

/* flush_all [DELAY] [noreply] (2 to 4 tokens) */
void mc_cmd_flush(struct mc_server *srv, struct mc_session *s,
                  struct mc_tok *t, size_t n)
{
    s->noreply = mc_noreply(t, n);
    int32_t delay = 0;
    srv->cmd_flush++;
    if (n != (s->noreply ? 3u : 2u) && mc_strtol32(t[1].p, &delay) < 0) {
        mc_say(s, "CLIENT_ERROR invalid exptime argument");
        return;
    }
    /* memcached's clock starts 62 s before its process (process_started):
     * a unix time before that is before all time to it */
    int r = mc_store_flush(srv->store, delay, srv->started - 62);
    if (r < 0)
        mc_say_result(s, r);
    else
        mc_say(s, "OK");
}

/* verbosity LEVEL [noreply] */
void mc_cmd_verbosity(struct mc_server *srv, struct mc_session *s,
                      struct mc_tok *t, size_t n)
{
    s->noreply = mc_noreply(t, n);
    uint32_t level;
    if (mc_strtoul32(t[1].p, &level) < 0) {
        mc_say(s, "CLIENT_ERROR bad command line format");
        return;
    }
    for (int i = 0; i < srv->nthreads; i++)    /* every worker's */
        srv->all[i].verbosity = level > 3 ? 3 : (int)level;
    mc_say(s, "OK");
}
