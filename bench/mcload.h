/* SPDX-License-Identifier: MIT */
/*
 * mcload.h - what the load generator's parts share: the options, one
 * connection's state, and the per-thread tallies.
 *
 * A connection runs a closed loop: it sends one batch of `depth` commands
 * (gets of up to `keys` keys each, sets at `set_ratio`), then reads until
 * every reply of the batch has come, then sends the next.  A reply counts
 * only when it is whole; a batch cut by a dead server counts nothing and
 * the connection dials again.
 *
 * Paced (--rate): a connection whose batch is answered before its next is
 * due waits (parked) until then; one that falls behind catches up at most
 * PACE_CATCHUP_NS of schedule, so the end of an outage is no burst.
 */
#ifndef HR_BENCH_MCLOAD_H
#define HR_BENCH_MCLOAD_H

#include <stddef.h>
#include <stdint.h>

enum { PROTO_MEMCACHE, PROTO_REDIS };

struct mcl_opts {
    const char *host, *port, *unix_path;
    int proto, threads, conns, depth, keys;
    double set_ratio, duration;
    double rate;   /* ops/s over all connections (0: as fast as it
                      answers), each connection paced at rate/conns */
    uint64_t nkeys, value_size, seed;
    uint64_t fill; /* set keys 0..fill-1 once, then exit */
    int windows;   /* print only "start_ms values" per 100 ms window (the
                      positional form, for a script of its own): the
                      values received, that is hits, not keys asked */
};

/* Latency histogram: 64 binary orders of 64 linear steps each (1.6 %). */
#define HIST_BINS (64 * 64)

struct mcl_tally {
    uint64_t ops, hits, misses, errors, reconnects;
    uint64_t hist[HIST_BINS];
    uint32_t *per_ms; /* ops completed in each millisecond of the run */
    uint64_t ms_cap;
    uint64_t first_new_ns; /* first reply on a connection dialled after
                              the kill (the new server's), or 0 */
};

/* One command of a batch: a get of n keys (n >= 1) or a set (n == 0). */
struct mcl_cmd {
    int nkeys;
    uint64_t key0; /* first key: the rest are drawn when the batch is built */
};

struct mcl_conn {
    int fd;
    char *out, *in;
    size_t out_len, out_off, out_cap, in_len, in_off, in_cap;
    struct mcl_cmd *cmds;
    int ncmds, done;        /* commands in the batch; replies read whole */
    int elem_left;          /* RESP: bulks left in the current array */
    int hits;               /* hits so far in the current reply */
    int good;               /* replies of the batch that were not errors */
    uint64_t sent_ns;       /* when the batch went out */
    uint64_t dialed_ns;     /* when this connection was made */
    uint64_t due_ns;        /* paced (--rate): the next batch not before */
    int parked;             /* paced: a batch is due, not yet sent */
    uint64_t rng;
};

/* Monotonic time in nanoseconds. */
uint64_t mcl_now(void);
uint64_t mcl_rand(uint64_t *state);

/* Connect (blocking, then non-blocking for the loop): fd or -errno. */
int mcl_dial(const struct mcl_opts *o);

/* Build the next batch of c into its out buffer.  With fill_next non-NULL,
 * a batch of sets of consecutive keys from *fill_next up to fill_end. */
int mcl_build(const struct mcl_opts *o, struct mcl_conn *c,
              uint64_t *fill_next, uint64_t fill_end);

/* Parse what has arrived: 1 when the batch's replies are all in, 0 when
 * more is needed, -1 on a reply we do not understand.  Each whole reply
 * is added to t at time now. */
int mcl_parse(const struct mcl_opts *o, struct mcl_conn *c,
              struct mcl_tally *t, uint64_t start_ns, uint64_t now);

/* Record one reply's latency and completion time. */
void mcl_count(struct mcl_tally *t, uint64_t start_ns, uint64_t now,
               uint64_t lat_ns, uint64_t ops);

#endif
