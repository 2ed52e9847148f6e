/* SPDX-License-Identifier: MIT */
/*
 * words.h - the words of memcached's ASCII protocol (words.c): tokens of a
 * command line, and reply lines into a session's output buffer.
 */
#ifndef HRCACHED_WORDS_H
#define HRCACHED_WORDS_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct mc_tok {
    const char *p;
    size_t n;
};

/* Append n bytes, a line (adding \r\n), a formatted line to s's output. */
void mc_out(struct mc_session *s, const void *p, size_t n);
void mc_say(struct mc_session *s, const char *line);
void mc_sayf(struct mc_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The reply line of a store result r (MC_STORED.. or -error). */
void mc_say_result(struct mc_session *s, int r);
/* mc_say_result, unless quiet (noreply) and r is no error. */
void mc_reply(struct mc_session *s, int quiet, int r);

/* Token t is word. */
int mc_is(const struct mc_tok *t, const char *word);
/* The next token of line[0..len) from *i on (spaces skipped): 1 with *t
 * set and *i past it, 0 at the end. */
int mc_next_tok(const char *line, size_t len, size_t *i, struct mc_tok *t);
/* Split line on spaces into at most max tokens; returns their number, or
 * max + 1 when there are more. */
size_t mc_split(const char *line, size_t len, struct mc_tok *t, size_t max);
/* A decimal number, 0 (else -1: not one, or out of range). */
int mc_to_u64(const struct mc_tok *t, uint64_t *v);
int mc_to_i64(const struct mc_tok *t, int64_t *v);
/* The last of n tokens is "noreply". */
int mc_noreply(const struct mc_tok *t, size_t n);

#endif
