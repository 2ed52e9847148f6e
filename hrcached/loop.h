/* SPDX-License-Identifier: MIT */
/*
 * loop.h - hrcached's event loops: an acceptor on the main thread (epoll
 * over the listening sockets and a signalfd) and n worker threads, each
 * with its own epoll over its connections (worker.h).
 */
#ifndef HRCACHED_LOOP_H
#define HRCACHED_LOOP_H

#include "proto.h"

/* Serve with n workers, worker i with srvs[i] (its own store handle and
 * counters): take the connections a previous instance handed over
 * (hr_handover_take), say READY=1 (sd_notify), then accept until SIGTERM
 * or SIGINT; a SIGTERM of an upgrade hands the connections over
 * (hr_handover_give).  Returns 0 then, or -errno if a loop itself fails
 * (the error is printed).  The listening sockets stay open. */
int mc_loop_run(struct mc_server *srvs, int n, const int *lfds, int nl);

#endif
