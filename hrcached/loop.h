/* SPDX-License-Identifier: MIT */
/*
 * loop.h - hrcached's event loop: one thread, epoll over the listening
 * sockets, the connections and a signalfd.
 */
#ifndef HRCACHED_LOOP_H
#define HRCACHED_LOOP_H

#include "proto.h"

/* Serve until SIGTERM or SIGINT: returns 0 then, or -errno if the loop
 * itself fails (the error is printed).  The listening sockets stay open. */
int mc_loop_run(struct mc_server *srv, const int *lfds, int nl);

#endif
