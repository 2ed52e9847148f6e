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
/* One turn of the input while hrd_kill_all waits for every actor to die,
 * ms milliseconds at most: requests are served (those that would start
 * or change something refused, -EBUSY: an HR_EXIT_HDL() in an actor's
 * SIGTERM handler is answered, not left until its SIGKILL), the actors'
 * output logged, a signal other than SIGCHLD taken as a stop (the caller
 * reaps the deaths). */
void hrd_serve_stopping(struct hrd *d, int ms);
/* Read the signals that came: any but SIGCHLD (SIGTERM, SIGINT, SIGHUP)
 * asks for a stop; the deaths are the caller's to reap. */
void hrd_signals_take(struct hrd *d);
/* Answer and close the kill-group requests whose group has ended. */
void hrd_answer_ended(struct hrd *d);
/* Answer the arun --wait-ready requests whose actor is ready, or gone. */
void hrd_answer_ready(struct hrd *d);

#endif
