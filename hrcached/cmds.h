/* SPDX-License-Identifier: MIT */
/*
 * cmds.h - the commands of memcached's ASCII protocol (cmds.c: the classic
 * ones; meta.c: the meta ones), for proto.c's dispatch.  t[0..n) are the
 * line's tokens as mc_tokenize() made them (the terminal one counted).
 */
#ifndef HRCACHED_CMDS_H
#define HRCACHED_CMDS_H

#include <stddef.h>

#include "proto.h"
#include "words.h"

/* The rest of a retrieval answered in parts (s->state MC_S_GET): its next
 * keys until the answer holds more than high bytes, or "END". */
void mc_cmd_get_more(struct mc_server *srv, struct mc_session *s, size_t high);
void mc_cmd_get(struct mc_server *srv, struct mc_session *s,
                struct mc_tok *t, size_t n, int with_cas, int touch);
void mc_cmd_store(struct mc_server *srv, struct mc_session *s, enum mc_op op,
                  struct mc_tok *t, size_t n);
/* The data block of the pending storage command, in[0..nbytes+2). */
void mc_store_data(struct mc_server *srv, struct mc_session *s,
                   const char *data);
void mc_cmd_delete(struct mc_server *srv, struct mc_session *s,
                   struct mc_tok *t, size_t n);
void mc_cmd_arith(struct mc_server *srv, struct mc_session *s,
                  struct mc_tok *t, size_t n, int decr);
void mc_cmd_touch(struct mc_server *srv, struct mc_session *s,
                  struct mc_tok *t, size_t n);
void mc_cmd_flush(struct mc_server *srv, struct mc_session *s,
                  struct mc_tok *t, size_t n);
void mc_cmd_verbosity(struct mc_server *srv, struct mc_session *s,
                      struct mc_tok *t, size_t n);

/* The meta commands (meta.c): mn, mg, ms, md, ma, me (t[0] is two bytes
 * starting with m), and the data block of a pending ms. */
void mc_cmd_meta(struct mc_server *srv, struct mc_session *s,
                 struct mc_tok *t, size_t n);
void mc_meta_data(struct mc_server *srv, struct mc_session *s,
                  const char *data);

#endif
