/* SPDX-License-Identifier: MIT */
/*
 * meta.c - memcached 1.6's meta commands: mn, mg, ms, md, ma, me.
 *
 * A command is its two letters, the key, then flags: one letter each, some
 * with a token glued on (T30, Oopaque).  Flags are checked first, as
 * memcached checks them (a repeated or unknown flag, a bad token), with
 * its error strings; the answer is a two-letter status (VA, HD, EN, NF,
 * NS, EX), then the asked-for flags in the order they were given, then
 * for mg the Z/X/W of the recache tokens.  q silences the nominal answer
 * only (HD; EN for mg), never an error.  A key with b is base64 and is
 * answered in base64.  What 1.6.18 does not know (E) is an invalid flag
 * here too.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <stdarg.h>

#include "base64.h"
#include "cmds.h"
#include "meta_int.h"
#include "store.h"

#define MAX_OPT_TOKENS 20   /* memcached's MFLAG_MAX_OPT_LENGTH */
#define MAX_OPAQUE 32

/* memcached's _meta_flag_preparse: tokens t[start..n-1).  A repeated or
 * unknown flag stops at once; a bad token is noted and the rest is still
 * read (the last error's string is kept).  -1 on any error. */
static int preparse(struct mc_tok *t, size_t start, size_t n,
                    struct mc_meta_flags *f, const char **errstr)
{
    static const char bad_token[] = "CLIENT_ERROR bad token in command line format";
    unsigned char seen[127] = {0};
    for (size_t i = start; i + 1 < n; i++) {
        unsigned char o = (unsigned char)t[i].p[0];
        const char *arg = t[i].p + 1;
        if (o >= 127 || seen[o]) {
            *errstr = "CLIENT_ERROR duplicate flag";
            return -1;
        }
        seen[o] = 1;
        switch (o) {
        case 'b': {
            size_t k = mc_base64_decode(t[1].p, t[1].n, (unsigned char *)t[1].p);
            if (k == 0) {
                *errstr = "CLIENT_ERROR error decoding key";
                f->has_error = 1;
            }
            t[1].n = k;
            f->binary = 1;
            break;
        }
        case 'N':
            f->vivify = 1;
            if (mc_strtol32(arg, &f->viv_exptime) < 0)
                *errstr = bad_token, f->has_error = 1;
            break;
        case 'T':
            f->ttl = 1;
            if (mc_strtol32(arg, &f->exptime) < 0)
                *errstr = bad_token, f->has_error = 1;
            break;
        case 'R':
            f->recache = 1;
            if (mc_strtol32(arg, &f->recache_time) < 0)
                *errstr = bad_token, f->has_error = 1;
            break;
        case 'l': case 'O': case 'P': case 'L': case 'k': case 's':
        case 't': case 'c': case 'f': case 'h':
            break;
        case 'v': f->value = 1; break;
        case 'u': f->no_update = 1; break;
        case 'q': f->noreply = 1; break;
        case 'I': f->stale = 1; break;
        case 'F':
            if (mc_strtoul32(arg, &f->client_flags) < 0)
                f->has_error = 1;
            break;
        case 'C':
            if (mc_strtoull(arg, &f->cas) < 0)
                *errstr = bad_token, f->has_error = 1;
            else
                f->has_cas = 1;
            break;
        case 'M':
            if (t[i].n != 2)
                *errstr = "CLIENT_ERROR incorrect length for M token",
                f->has_error = 1;
            else
                f->mode = t[i].p[1];
            break;
        case 'J':
            if (mc_strtoull(arg, &f->initial) < 0)
                *errstr = "CLIENT_ERROR invalid numeric initial value",
                f->has_error = 1;
            break;
        case 'D':
            if (mc_strtoull(arg, &f->delta) < 0)
                *errstr = "CLIENT_ERROR invalid numeric delta value",
                f->has_error = 1;
            break;
        default:
            *errstr = "CLIENT_ERROR invalid flag";
            return -1;
        }
    }
    return f->has_error ? -1 : 0;
}

/* ---- answers: one line built here, then sent whole ---- */

void mc_meta_put(struct mc_meta_line *l, const char *p, size_t n)
{
    if (l->n + n < sizeof l->b) {
        memcpy(l->b + l->n, p, n);
        l->n += n;
    }
}

void mc_meta_putf(struct mc_meta_line *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(l->b + l->n, sizeof l->b - l->n, fmt, ap);
    va_end(ap);
    if (k > 0 && l->n + (size_t)k < sizeof l->b)
        l->n += (size_t)k;
}

void mc_meta_ttl(struct mc_meta_line *l, char flag,
                 const struct mc_meta_flags *f, int created, int64_t now,
                 int64_t *exptime)
{
    if (flag == 'T')
        *exptime = mc_exptime(f->exptime, now);
    else if (flag == 'N' && created)
        *exptime = mc_exptime(f->viv_exptime, now);
    else if (flag == 't' && *exptime == 0)
        mc_meta_put(l, " t-1", 4);
    else if (flag == 't')   /* memcached's unsigned 32 bits */
        mc_meta_putf(l, " t%" PRIu32, (uint32_t)(*exptime - now));
}

void mc_meta_key(struct mc_meta_line *l, const char *key, size_t nkey,
                 int binary)
{
    mc_meta_put(l, " k", 2);
    if (!binary) {
        mc_meta_put(l, key, nkey);
        return;
    }
    char enc[4 * (MC_KEY_MAX / 3 + 1)];
    mc_meta_put(l, enc, mc_base64_encode((const unsigned char *)key, nkey, enc));
    mc_meta_put(l, " b", 2);
}

/* The O tokens: 0, or -1 when one is too long (the error is said). */
int mc_meta_opaque_ok(struct mc_session *s, struct mc_tok *t, size_t n)
{
    for (size_t i = 2; i + 1 < n; i++)
        if (t[i].p[0] == 'O' && t[i].n > MAX_OPAQUE) {
            s->noreply = 0;
            mc_say(s, "CLIENT_ERROR opaque token too long");
            return -1;
        }
    return 0;
}

/* Status, then the O and k flags in their order (misses and refusals). */
void mc_meta_status(struct mc_session *s, const char *status,
                       struct mc_tok *t, size_t n, size_t first,
                       const char *key, size_t nkey, int binary, int quiet)
{
    struct mc_meta_line l = {.n = 0};
    mc_meta_put(&l, status, 2);
    for (size_t i = first; i + 1 < n; i++) {
        if (t[i].p[0] == 'O') {
            mc_meta_put(&l, " ", 1);
            mc_meta_put(&l, t[i].p, t[i].n);
        } else if (t[i].p[0] == 'k') {
            mc_meta_key(&l, key, nkey, binary);
        }
    }
    mc_meta_put(&l, "\r\n", 2);
    if (!quiet)
        mc_out(s, l.b, l.n);
}

void mc_meta_error(struct mc_session *s, const char *e)
{
    s->noreply = 0;
    mc_say(s, e);
}

/* The checks every meta command starts with: 0 to go on. */
int mc_meta_head(struct mc_session *s, struct mc_tok *t, size_t n,
                 size_t start, struct mc_meta_flags *f,
                 const char *preparse_error)
{
    if (n < 3) {
        mc_say(s, "ERROR");
        return -1;
    }
    if (t[1].n > MC_KEY_MAX) {
        mc_meta_error(s, "CLIENT_ERROR bad command line format");
        return -1;
    }
    if (n > MAX_OPT_TOKENS) {
        mc_meta_error(s, start == 2 && !preparse_error
                  ? "CLIENT_ERROR options flags are too long"
                  : "CLIENT_ERROR options flags too long");
        return -1;
    }
    const char *e = "CLIENT_ERROR bad command line format";
    if (preparse(t, start, n, f, &e) < 0) {
        mc_meta_error(s, preparse_error ? preparse_error : e);
        return -1;
    }
    s->noreply = f->noreply;
    return 0;
}


/* ---- mg ---- */

struct mg_ctx {
    struct mc_session *s;
    struct mc_tok *t;
    size_t n;
    const struct mc_meta_flags *f;
};

/* The hit's answer: flags in their order (T and N change what t shows
 * after them), then Z, X, W, then the value. */
static void mg_emit(void *arg, const struct mc_meta_view *m)
{
    struct mg_ctx *c = arg;
    const struct mc_meta_flags *f = c->f;
    struct mc_meta_line l = {.n = 0};
    int64_t exptime = m->exptime;
    if (f->value)
        mc_meta_putf(&l, "VA %zu", m->v.nbytes);
    else
        mc_meta_put(&l, "HD", 2);
    for (size_t i = 2; i + 1 < c->n; i++) {
        const struct mc_tok *t = &c->t[i];
        switch (t->p[0]) {
        case 'T': case 'N': case 't':
            mc_meta_ttl(&l, t->p[0], f, m->created, m->now, &exptime);
            break;
        case 's': mc_meta_putf(&l, " s%zu", m->v.nbytes); break;
        case 'c': mc_meta_putf(&l, " c%" PRIu64, m->v.cas); break;
        case 'f': mc_meta_putf(&l, " f%" PRIu32, m->v.flags); break;
        case 'l': mc_meta_putf(&l, " l%" PRIu32, (uint32_t)m->age); break;
        case 'h':
            mc_meta_put(&l, m->bits & MC_META_FETCHED ? " h1" : " h0", 3);
            break;
        case 'O': mc_meta_put(&l, " ", 1); mc_meta_put(&l, t->p, t->n); break;
        case 'k':   /* as the item was stored, as memcached */
            mc_meta_key(&l, m->v.key, m->v.nkey, !!(m->bits & MC_META_BINKEY));
            break;
        }
    }
    if (m->bits & MC_META_TOKEN)
        mc_meta_put(&l, " Z", 2);
    if (m->bits & MC_META_STALE)
        mc_meta_put(&l, " X", 2);
    if (m->won)
        mc_meta_put(&l, " W", 2);
    mc_meta_put(&l, "\r\n", 2);
    mc_out(c->s, l.b, l.n);
    if (f->value) {
        mc_out(c->s, m->v.data, m->v.nbytes);
        mc_out(c->s, "\r\n", 2);
    }
}

static void cmd_mg(struct mc_server *srv, struct mc_session *s,
                   struct mc_tok *t, size_t n)
{
    struct mc_meta_flags f = {0};
    if (mc_meta_head(s, t, n, 2, &f, NULL) < 0)
        return;
    int refused = 0;
    for (size_t i = 2; i + 1 < n; i++)
        refused |= t[i].p[0] == 'O' && t[i].n > MAX_OPAQUE;
    struct mc_mget q = {f.no_update, f.ttl, f.exptime, f.vivify,
                        f.viv_exptime, f.recache, f.recache_time, refused, 0};
    struct mc_session hold = {0};  /* the hit's answer, until O is known good */
    struct mg_ctx c = {&hold, t, n, &f};
    int r = mc_store_mget(srv->store, t[1].p, t[1].n, &q, mg_emit, &c);
    if (r == 0 && q.touch)
        srv->cmd_touch++;       /* memcached: a hit with T is a touch */
    else
        srv->cmd_get++;
    if (r < 0) {
        mc_session_free(&hold);
        mc_meta_error(s, "SERVER_ERROR out of memory");
        return;
    }
    if (mc_meta_opaque_ok(s, t, n) == 0) {
        if (r == MC_NOT_FOUND)
            mc_meta_status(s, "EN", t, n, 2, t[1].p, t[1].n, f.binary, f.noreply);
        else
            mc_out(s, hold.out.p, hold.out.len);
    }
    if (hold.broken)
        s->broken = 1;
    mc_session_free(&hold);
}

/* ---- md ---- */

static void cmd_md(struct mc_server *srv, struct mc_session *s,
                   struct mc_tok *t, size_t n)
{
    struct mc_meta_flags f = {0};
    if (mc_meta_head(s, t, n, 2, &f, "CLIENT_ERROR invalid or duplicate flag") < 0 ||
        mc_meta_opaque_ok(s, t, n) < 0)
        return;
    struct mc_mdelete q = {f.has_cas, f.cas, f.stale, f.ttl, f.exptime};
    int r = mc_store_mdelete(srv->store, t[1].p, t[1].n, &q);
    if (r < 0) {
        mc_meta_error(s, "SERVER_ERROR out of memory");
        return;
    }
    const char *st = r == MC_DELETED ? "HD" : r == MC_EXISTS ? "EX" : "NF";
    mc_meta_status(s, st, t, n, 2, t[1].p, t[1].n, f.binary,
               r == MC_DELETED && f.noreply);
}

/* ---- me: what memcached's debug line says, in hrcached's terms ---- */

struct me_ctx {
    struct mc_session *s;
    int binary; /* asked with b: the key comes in base64 */
};

static void me_emit(void *arg, const struct mc_meta_view *m)
{
    struct me_ctx *c = arg;
    struct mc_session *s = c->s;
    struct mc_meta_line l = {.n = 0};
    mc_meta_put(&l, "ME ", 3);
    /* as the item was stored, whatever the way it was asked (memcached's
     * ITEM_KEY_BINARY); raw, a key of \r\n would forge reply lines */
    if (m->bits & MC_META_BINKEY) {
        char enc[4 * (MC_KEY_MAX / 3 + 1)];
        mc_meta_put(&l, enc, mc_base64_encode((const unsigned char *)m->v.key,
                                              m->v.nkey, enc));
    } else {
        mc_meta_put(&l, m->v.key, m->v.nkey);
    }
    mc_meta_putf(&l, " exp=%" PRId64 " la=%" PRId64 " cas=%" PRIu64
         " fetch=%s cls=1 size=%zu\r\n",
         m->exptime ? m->exptime - m->now : -1, m->age, m->v.cas,
         m->bits & MC_META_FETCHED ? "yes" : "no", m->v.nkey + m->v.nbytes);
    mc_out(s, l.b, l.n);
}

static void cmd_me(struct mc_server *srv, struct mc_session *s,
                   struct mc_tok *t, size_t n)
{
    if (n < 3 || t[1].n > MC_KEY_MAX) {
        mc_say(s, "CLIENT_ERROR bad command line format");
        return;
    }
    struct me_ctx c = {s, n >= 4 && mc_is(&t[2], "b")};
    if (c.binary) {
        t[1].n = mc_base64_decode(t[1].p, t[1].n, (unsigned char *)t[1].p);
        if (t[1].n == 0) {
            mc_say(s, "CLIENT_ERROR bad command line format");
            return;
        }
    }
    /* me only looks: no LRU bump, and no recache token taken (a stale
     * item's win stays for the next mg that asks) */
    struct mc_mget q = {.no_bump = 1, .refused = 1, .quiet = 1};
    int r = mc_store_mget(srv->store, t[1].p, t[1].n, &q, me_emit, &c);
    if (r == MC_NOT_FOUND)
        mc_say(s, "EN");
    else if (r < 0)
        mc_say_result(s, r);
}

void mc_cmd_meta(struct mc_server *srv, struct mc_session *s,
                 struct mc_tok *t, size_t n)
{
    switch (t[0].p[1]) {
    case 'g': cmd_mg(srv, s, t, n); break;
    case 's': mc_meta_ms(srv, s, t, n); break;
    case 'd': cmd_md(srv, s, t, n); break;
    case 'n': mc_say(s, "MN"); break;
    case 'a': mc_meta_ma(srv, s, t, n); break;
    case 'e': cmd_me(srv, s, t, n); break;
    default: mc_say(s, "ERROR"); break;
    }
}
