/* SPDX-License-Identifier: MIT */
/*
 * proto.h - memcached's ASCII protocol over the item store.
 *
 * The protocol layer sees bytes in and bytes out: mc_proto_input() reads
 * whole commands from what a connection received and appends the replies
 * to the session's output buffer.  It knows nothing of sockets.  A reply
 * is appended only after the store's transaction committed, so a client
 * that reads STORED has its item in the heap.
 */
#ifndef HRCACHED_PROTO_H
#define HRCACHED_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <hotrestart/version.h>

#include "store.h"

/* memcached's protocol version, then the project's (CMakeLists.txt) */
#define MC_VERSION_STRING "1.6.0-hrcached-" HR_VERSION_STRING

/* The longest command line: retrieval lines carry many keys. */
#define MC_LINE_MAX 2048u
#define MC_GET_LINE_MAX (1u << 20)

struct mc_buf {
    char *p;
    size_t len, cap;
};

struct mc_session;

/* One worker thread's server: its store handle and counters, and the
 * settings every worker has alike.  A connection is served by one worker
 * for its life; stats sums every worker's counters (all[0..nthreads)),
 * read while their owners may be counting: each figure is one aligned
 * word, some commands late at worst. */
struct mc_server {
    mc_store *store;        /* this worker's handle */
    struct mc_config cfg;
    const char *heap_name;
    int verbosity;
    int nthreads;           /* -t: workers */
    struct mc_server *all;  /* every worker's, this one among them */
    int64_t started;        /* unix seconds */
    uint64_t items_at_start;    /* items found in the heap at start */
    uint64_t start_to_serve_us; /* from exec (or promotion) to serving */
    uint32_t state_version;     /* the store's format version (item.h) */
    uint64_t cmd_get, cmd_set, cmd_flush, cmd_touch;
    uint64_t curr_conns, total_conns, max_conns;
    uint64_t bytes_read, bytes_written;
    /* stats conns: the event loop's lines for each connection */
    void (*conns)(void *ctx, struct mc_session *out);
    void *conns_ctx;
};

enum mc_state { MC_S_LINE, MC_S_DATA, MC_S_SWALLOW, MC_S_GET };

/* A retrieval answered in parts (MC_S_GET): the rest of its keys, words
 * between spaces and NULs (the tokenizer's) in the session's line, looked
 * up once the answer so far is sent, so that one line naming a big value
 * many times costs a bounded buffer, not a copy of each. */
struct mc_get_rest {
    char *at, *end;
    int with_cas, touch;
    int32_t exptime;
    size_t batch;            /* keys a lookup: fewer as values are big */
};

struct mc_pending {          /* a storage command waiting for its data */
    int meta;                /* ms: answered by meta.c */
    int binary, has_cas, stale;  /* ms: key given in base64, C, I */
    char ret[64];            /* ms: the flags to answer, in order (O k c) */
    char opaque[33];         /* ms: its O token */
    enum mc_op op;
    char key[MC_KEY_MAX + 1];
    size_t nkey;
    uint32_t flags;
    int64_t exptime;
    size_t nbytes;
    uint64_t cas;
    int noreply;
};

struct mc_session {
    struct mc_buf out;
    struct mc_buf line;      /* the command line being run, NUL-terminated */
    enum mc_state state;
    struct mc_pending p;
    struct mc_get_rest get;  /* MC_S_GET */
    size_t swallow;          /* bytes still to drop (MC_S_SWALLOW) */
    size_t want;             /* bytes the next command needs in one piece */
    int noreply;             /* the running command answers nothing */
    int started;             /* a byte came: the protocol is chosen */
    int64_t last_cmd;        /* unix time of its last command */
    int quit;                /* close once out is sent */
    int broken;              /* out of memory: close now */
};

/* Consume whole commands from in[0..len): returns the bytes used.  Stops
 * early when the output holds more than `high` bytes (the caller sends and
 * calls again) or when s->quit is set. */
size_t mc_proto_input(struct mc_server *srv, struct mc_session *s,
                      const char *in, size_t len, size_t high);

void mc_session_free(struct mc_session *s);

#endif
