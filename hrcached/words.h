/* SPDX-License-Identifier: MIT */
/*
 * words.h - the words of memcached's ASCII protocol (words.c): tokens of a
 * command line, numbers as memcached reads them, and reply lines into a
 * session's output buffer.
 */
#ifndef HRCACHED_WORDS_H
#define HRCACHED_WORDS_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* A token: p[0..n) is NUL-terminated in the session's line copy.  The
 * token after the last one (memcached's terminal token) has n == 0 and p
 * NULL, or, when the line had more tokens than were asked for, p pointing
 * at the rest of the line. */
struct mc_tok {
    char *p;
    size_t n;
};

/* Append n bytes to s's output (whatever s->noreply says). */
void mc_out(struct mc_session *s, const void *p, size_t n);
/* A reply line (adding \r\n), a formatted one, the line of a store result
 * r (MC_STORED.. or -error): all dropped while s->noreply is set, as
 * memcached drops every reply of a command sent with noreply. */
void mc_say(struct mc_session *s, const char *line);
void mc_sayf(struct mc_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mc_say_result(struct mc_session *s, int r);

/* Token t is word. */
int mc_is(const struct mc_tok *t, const char *word);
/* Split line (NUL-terminated, written into) on spaces as memcached does:
 * at most max - 1 tokens, then the terminal token; returns the number of
 * tokens counting the terminal one (so 1 for an empty line). */
size_t mc_tokenize(char *line, struct mc_tok *t, size_t max);
/* The next space-separated word of a NUL-terminated string from *p on:
 * 1 with *t set (not NUL-terminated) and *p past it, 0 at the end. */
int mc_next_word(char **p, struct mc_tok *t);
/* Numbers as memcached's safe_strto* read a NUL-terminated string:
 * leading white space and a sign allowed, then digits, then the end or a
 * white space; out of range refused (a 32-bit one is refused above its
 * range, where memcached cuts it down).  0, or -1. */
int mc_strtoull(const char *p, uint64_t *v);
int mc_strtoul32(const char *p, uint32_t *v);
int mc_strtol32(const char *p, int32_t *v);
/* memcached's set_noreply_maybe: the token before the terminal one is
 * "noreply" (t[0..n) with the terminal one counted). */
int mc_noreply(const struct mc_tok *t, size_t n);

#endif
