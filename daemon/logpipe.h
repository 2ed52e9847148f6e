/* SPDX-License-Identifier: MIT */
/*
 * logpipe.h - actors' output, tagged into the controller's log.
 *
 * Each actor slot has one pipe, made at its first start and kept, both
 * ends, for all its restarts (a restart costs no system call for it): its
 * write end is the actor's stdout and stderr, its read end is non-blocking
 * and watched by the event loop.  Each line becomes a line of the log
 * (log.h) tagged "g<group>/<name>", at priority info, or at the one its
 * sd-daemon(3) prefix "<N>" gives.  A line over HRD_LINE_MAX bytes is cut
 * into lines of that length; a last line without its newline is logged
 * when the actor dies.  Indirect actors (hrfexec) write into the pipe of
 * the actor that started them, and carry its tag.
 */
#ifndef HRD_LOGPIPE_H
#define HRD_LOGPIPE_H

struct hrd;

/* The write end of slot's pipe for its next start, made if needed; or -1
 * when none can be made (then the actor writes into console.log itself,
 * untagged). */
int hrd_logpipe_fd(struct hrd *d, int slot);
/* If fd is the read end of an actor's pipe: log what it holds, at most a
 * bounded amount (the loop comes back for the rest), and return 1; else 0. */
int hrd_logpipe_event(struct hrd *d, int fd);
/* Log the whole lines slot's pipe holds now (a pipe's worth at most). */
void hrd_logpipe_read(struct hrd *d, int slot);
/* Log everything slot's pipe holds now, its unfinished line too: the
 * actor has died, its last words come before the news of its death. */
void hrd_logpipe_drain(struct hrd *d, int slot);
/* Drain slot's pipe and close it: the slot is forgotten. */
void hrd_logpipe_close(struct hrd *d, int slot);

#endif
