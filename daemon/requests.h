/* SPDX-License-Identifier: MIT */
/*
 * requests.h - requests from the control socket (proto.h), checked and
 * answered.
 */
#ifndef HRD_REQUESTS_H
#define HRD_REQUESTS_H

struct hrd;

/* Read one request from conn, act on it and reply; conn is closed, or kept
 * until the group it asked to kill has ended. */
void hrd_serve(struct hrd *d, int conn);
/* Read the signals that came: any but SIGCHLD (SIGTERM, SIGINT, SIGHUP)
 * asks for a stop; the deaths are the caller's to reap. */
void hrd_signals_take(struct hrd *d);
/* Answer and close the kill-group requests whose group has ended. */
void hrd_answer_ended(struct hrd *d);
/* Answer the arun --wait-ready requests whose actor is ready, or gone. */
void hrd_answer_ready(struct hrd *d);
/* fd is the kept connection of an arun --wait-ready request, and input
 * came on it (the client hung up: it sends nothing after its request):
 * closed, its place freed; 1, or 0 when fd is no such connection. */
int hrd_ready_waiter_event(struct hrd *d, int fd);

#endif
