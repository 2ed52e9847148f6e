/* SPDX-License-Identifier: MIT */
/*
 * worker.h - one worker thread of hrcached: its own epoll over the
 * connections it was given, read, the protocol, send (worker.c).  The
 * acceptor (loop.c) hands each new connection to one worker, which serves
 * it until it closes.
 */
#ifndef HRCACHED_WORKER_H
#define HRCACHED_WORKER_H

#include "proto.h"

/* An upgrade's wait for each connection to reach a request boundary. */
#define MC_SETTLE_S 2

struct mc_worker;

/* Start a worker serving with srv (its own server: store handle and
 * counters).  It stops when stopfd becomes readable, between two events.
 * 0 or -errno. */
int mc_worker_start(struct mc_worker **out, struct mc_server *srv,
                    int stopfd);

/* Give the worker the connection fd (non-blocking), with the n bytes
 * pending read from it before (a previous instance's, handed over; 0:
 * none), which it runs before reading: 0, or -errno and fd is closed.
 * Called from another thread. */
int mc_worker_adopt(struct mc_worker *w, int fd, const void *pending,
                    size_t n);

/* Before stopfd is made readable: handover 1 when the stop is an
 * upgrade's, the connections to be handed over (hr_handover(3)). */
void mc_worker_stop(struct mc_worker *w, int handover);

/* Wait for the worker's thread to end (after stopfd was made readable),
 * give its connections to the controller (a handover stop) or close
 * them, and free it.  Returns how many it failed to give (closed); adds
 * to *unsettled those a handover stop closed because they did not reach
 * a request boundary in time. */
int mc_worker_join(struct mc_worker *w, int *unsettled);

/* stats conns: memcached's lines for each of the worker's connections. */
void mc_worker_conns(struct mc_worker *w, struct mc_session *out);

#endif
