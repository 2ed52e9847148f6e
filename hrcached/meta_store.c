/* SPDX-License-Identifier: MIT */
/*
 * meta_store.c - the meta commands that store: ms (set in its modes, with
 * a cas, stale) and ma (incr/decr with a cas, vivify, a new expiry), as
 * memcached 1.6.18 answers them.  Flags and answers are meta.c's
 * (meta_int.h); the store's calls are store.h's.
 *
 * ms reads its byte count before its flags, so that whatever is wrong
 * with the flags, its data block is dropped unread and never taken for
 * commands; a value refused as too large deletes the old one, in every
 * mode, as memcached does.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "cmds.h"
#include "meta_int.h"
#include "store.h"

#define MAX_OPT_TOKENS 20

/* ---- ms ---- */

static void swallow(struct mc_session *s, size_t nbytes, const char *e)
{
    mc_meta_error(s, e);
    s->state = MC_S_SWALLOW;
    s->swallow = nbytes + 2;
}

/* The flags the answer will carry, in their order: O k c. */
static void note_ret(struct mc_pending *p, struct mc_tok *t, size_t n)
{
    size_t r = 0;
    for (size_t i = 3; i + 1 < n && r + 1 < sizeof p->ret; i++) {
        char c = t[i].p[0];
        if (c == 'O' && t[i].n <= 32) {
            memcpy(p->opaque, t[i].p, t[i].n);
            p->opaque[t[i].n] = 0;
        }
        if (c == 'O' || c == 'k' || c == 'c')
            p->ret[r++] = c;
    }
    p->ret[r] = 0;
}

static int ms_mode(char mode, enum mc_op *op)
{
    switch (mode) {
    case 0: case 'S': *op = MC_SET; return 0;
    case 'E': *op = MC_ADD; return 0;
    case 'A': *op = MC_APPEND; return 0;
    case 'P': *op = MC_PREPEND; return 0;
    case 'R': *op = MC_REPLACE; return 0;
    default: return -1;
    }
}

void mc_meta_ms(struct mc_server *srv, struct mc_session *s,
                struct mc_tok *t, size_t n)
{
    static const char bad[] = "CLIENT_ERROR bad command line format";
    int32_t vlen;
    if (n < 3) {
        mc_say(s, "ERROR");
        return;
    }
    if (t[1].n > MC_KEY_MAX || n == 3) {
        mc_meta_error(s, bad);
        return;
    }
    if (n > MAX_OPT_TOKENS) {
        mc_meta_error(s, "CLIENT_ERROR options flags too long");
        return;
    }
    if (mc_strtol32(t[2].p, &vlen) < 0 || vlen < 0 || vlen > INT32_MAX - 2) {
        mc_meta_error(s, bad);
        return;
    }
    struct mc_meta_flags f = {0};
    if (mc_meta_head(s, t, n, 3, &f, NULL) < 0) {
        s->state = MC_S_SWALLOW;        /* meta_head said why */
        s->swallow = (size_t)vlen + 2;
        return;
    }
    int long_opaque = 0;
    for (size_t i = 3; i + 1 < n; i++)
        long_opaque |= t[i].p[0] == 'O' && t[i].n > 32;
    enum mc_op op;
    if (ms_mode(f.mode, &op) < 0)
        return swallow(s, (size_t)vlen, "CLIENT_ERROR invalid mode for ms M token");
    if (f.has_cas && (op == MC_SET || op == MC_REPLACE))
        op = MC_CAS;
    if (long_opaque)
        return swallow(s, (size_t)vlen, "CLIENT_ERROR opaque token too long");
    struct mc_pending *p = &s->p;
    *p = (struct mc_pending){.meta = 1, .binary = f.binary,
                             .has_cas = f.has_cas,
                             .stale = f.stale && op == MC_CAS, .op = op,
                             .nkey = t[1].n, .flags = f.client_flags,
                             .exptime = f.ttl ? f.exptime : 0,
                             .nbytes = (size_t)vlen, .cas = f.cas,
                             .noreply = f.noreply};
    memcpy(p->key, t[1].p, t[1].n);
    note_ret(p, t, n);
    if (mc_store_too_large(srv->store, p->nkey, p->flags, p->nbytes)) {
        /* counted nowhere, as memcached's */
        int r = mc_store_drop(srv->store, p->key, p->nkey);
        return swallow(s, p->nbytes, r < 0 ? "SERVER_ERROR out of memory"
                       : "SERVER_ERROR object too large for cache");
    }
    srv->cmd_set++;
    s->state = MC_S_DATA;
    s->want = p->nbytes + 2;
}

void mc_meta_data(struct mc_server *srv, struct mc_session *s,
                  const char *data)
{
    struct mc_pending *p = &s->p;
    s->state = MC_S_LINE;
    s->want = 0;
    s->noreply = p->noreply;
    if (data[p->nbytes] != '\r' || data[p->nbytes + 1] != '\n') {
        mc_meta_error(s, "CLIENT_ERROR bad data chunk");
        return;
    }
    uint64_t cas = 0;
    struct mc_put mp = {.op = p->op, .key = p->key, .nkey = p->nkey,
                         .flags = p->flags, .exptime = p->exptime,
                         .data = data, .nbytes = p->nbytes, .cas = p->cas,
                         .has_cas = p->has_cas, .stale = p->stale,
                         .binary = p->binary,
                         .cas_out = &cas};
    int r = mc_store_mput(srv->store, &mp);
    const char *st;
    switch (r) {
    case MC_STORED: st = "HD"; break;
    case MC_EXISTS: st = "EX"; break;
    case MC_NOT_FOUND: st = "NF"; break;
    case MC_NOT_STORED: st = "NS"; break;
    default:
        mc_meta_error(s, r == MC_NO_MEMORY ? "SERVER_ERROR out of memory storing object"
                  : "SERVER_ERROR out of memory");
        return;
    }
    struct mc_meta_line l = {.n = 0};
    mc_meta_put(&l, st, 2);
    for (const char *c = p->ret; *c; c++) {
        if (*c == 'O') {
            mc_meta_put(&l, " ", 1);
            mc_meta_put(&l, p->opaque, strlen(p->opaque));
        } else if (*c == 'k') {
            mc_meta_key(&l, p->key, p->nkey, p->binary);
        } else {
            mc_meta_putf(&l, " c%" PRIu64, r == MC_STORED ? cas : 0);
        }
    }
    mc_meta_put(&l, "\r\n", 2);
    if (!(r == MC_STORED && p->noreply))
        mc_out(s, l.b, l.n);
}

/* ---- ma ---- */

static void ma_answer(struct mc_session *s, struct mc_tok *t, size_t n,
                      const struct mc_meta_flags *f,
                      const struct mc_marith_out *o)
{
    char digits[24];
    size_t len = (size_t)snprintf(digits, sizeof digits, "%" PRIu64, o->value);
    struct mc_meta_line l = {.n = 0};
    int64_t exptime = o->exptime;
    if (f->value)
        mc_meta_putf(&l, "VA %zu", len);
    else
        mc_meta_put(&l, "HD", 2);
    for (size_t i = 2; i + 1 < n; i++) {
        switch (t[i].p[0]) {
        case 'c': mc_meta_putf(&l, " c%" PRIu64, o->cas); break;
        case 'T': case 'N': case 't':
            mc_meta_ttl(&l, t[i].p[0], f, o->created, o->now, &exptime);
            break;
        case 'O':
            mc_meta_put(&l, " ", 1);
            mc_meta_put(&l, t[i].p, t[i].n);
            break;
        case 'k': mc_meta_key(&l, t[1].p, t[1].n, f->binary); break;
        }
    }
    if (f->value) {
        mc_meta_put(&l, "\r\n", 2);
        mc_meta_put(&l, digits, len);
    }
    mc_meta_put(&l, "\r\n", 2);
    if (!(f->noreply && !o->created))
        mc_out(s, l.b, l.n);
}

void mc_meta_ma(struct mc_server *srv, struct mc_session *s,
                struct mc_tok *t, size_t n)
{
    struct mc_meta_flags f = {.delta = 1};
    if (mc_meta_head(s, t, n, 2, &f, "CLIENT_ERROR invalid or duplicate flag") < 0)
        return;
    int decr;
    switch (f.mode) {
    case 0: case 'I': case '+': decr = 0; break;
    case 'D': case '-': decr = 1; break;
    default:
        mc_meta_error(s, "CLIENT_ERROR invalid mode for ma M token");
        return;
    }
    struct mc_marith q = {decr, f.delta, f.has_cas ? f.cas : 0, f.initial,
                          f.vivify, f.viv_exptime, f.ttl, f.exptime};
    struct mc_marith_out o = {0};
    int r = mc_store_marith(srv->store, t[1].p, t[1].n, &q, &o);
    if (r == MC_NON_NUMERIC)    /* errors before the O tokens are looked at */
        mc_meta_error(s, "CLIENT_ERROR cannot increment or decrement non-numeric value");
    else if (r != MC_VALUE && r != MC_NOT_FOUND && r != MC_EXISTS)
        mc_meta_error(s, "SERVER_ERROR out of memory");
    else if (mc_meta_opaque_ok(s, t, n) < 0)
        return;
    else if (r == MC_VALUE)
        ma_answer(s, t, n, &f, &o);
    else
        mc_meta_status(s, r == MC_EXISTS ? "EX" : "NF", t, n, 2, t[1].p, t[1].n,
                   f.binary, 0);
}
