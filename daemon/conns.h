/* SPDX-License-Identifier: MIT */
/*
 * conns.h - the connections accepted whose request has not come yet.
 *
 * A connection is served once its request arrives.  Until then it holds a
 * place, so that no client can take them all: a peer (a process) keeps at
 * most HRD_CONNS_PER_PEER of them, each for at most HRD_IDLE_MS; a newcomer
 * that finds the table full takes the place of the oldest connection of
 * the peer that holds the most.  Actors' HR_EXIT_HDL and hrfexec get
 * through whatever other clients do.
 */
#ifndef HRD_CONNS_H
#define HRD_CONNS_H

struct hrd;

/* Keep one descriptor in reserve for hrd_conn_accept_all (at start). */
void hrd_conn_reserve(struct hrd *d);
/* Accept every connection waiting on the control socket.  Out of
 * descriptors, a newcomer is taken with the one kept in reserve and hung
 * up on at once: its client hears, and the loop does not spin on a
 * listening socket that stays readable. */
void hrd_conn_accept_all(struct hrd *d);
/* A connection just accepted: watched for its request, or closed. */
void hrd_conn_add(struct hrd *d, int fd);
/* fd is one of them and has its request: no longer watched nor timed; 1,
 * or 0 when fd is not a waiting connection. */
int hrd_conn_take(struct hrd *d, int fd);
/* Close the connections idle for too long; the milliseconds until the next
 * one is, or -1 when none waits. */
int hrd_conn_expire(struct hrd *d);

#endif
