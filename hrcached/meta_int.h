/* SPDX-License-Identifier: MIT */
/*
 * meta_int.h - what meta.c (flags, answers, mg md mn me) lends
 * meta_store.c (ms, ma): the parsed flags and the answer helpers.
 */
#ifndef HRCACHED_META_INT_H
#define HRCACHED_META_INT_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "words.h"


struct mc_meta_flags {
    int has_error, vivify, ttl, recache, value, noreply, no_update;
    int has_cas, stale, binary;
    int32_t exptime, viv_exptime, recache_time;
    uint32_t client_flags;
    uint64_t cas, delta, initial;
    char mode;
};

struct mc_meta_line {
    char b[1024];
    size_t n;
};

void mc_meta_put(struct mc_meta_line *l, const char *p, size_t n);
void mc_meta_putf(struct mc_meta_line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Flag T or N (when created) sets *exptime, the expiry t shows from
 * then on; t shows it: -1 for never, else the seconds left. */
void mc_meta_ttl(struct mc_meta_line *l, char flag,
                 const struct mc_meta_flags *f, int created, int64_t now,
                 int64_t *exptime);
/* " k<key>", or " k<base64> b" for a binary key. */
void mc_meta_key(struct mc_meta_line *l, const char *key, size_t nkey,
                 int binary);
/* Every O token is at most 32 bytes: 0; else the error is said, -1. */
int mc_meta_opaque_ok(struct mc_session *s, struct mc_tok *t, size_t n);
/* A status and the O and k flags in their order; nothing if quiet. */
void mc_meta_status(struct mc_session *s, const char *status, struct mc_tok *t,
                size_t n, size_t first, const char *key, size_t nkey,
                int binary, int quiet);
/* An error line, noreply or not. */
void mc_meta_error(struct mc_session *s, const char *e);
/* The checks every meta command starts with (token count, key length,
 * flags from t[start]); preparse_error replaces the flags' own error
 * string (md, ma).  0 to go on, with s->noreply set from q. */
int mc_meta_head(struct mc_session *s, struct mc_tok *t, size_t n,
                 size_t start, struct mc_meta_flags *f,
                 const char *preparse_error);

void mc_meta_ms(struct mc_server *srv, struct mc_session *s,
                struct mc_tok *t, size_t n);
void mc_meta_ma(struct mc_server *srv, struct mc_session *s,
                struct mc_tok *t, size_t n);

#endif
