/* SPDX-License-Identifier: MIT */
/*
 * upgrade.h - warm upgrades (hr upgrade, hr_upgrade(3), SPEC 3.2): a new
 * program put in a running direct actor's place, with its persistent
 * state, its held sockets and, for a program that hands them over
 * (handover.h), its open client connections.
 *
 * Step by step, per actor (the table of upgrade.c, every cell written):
 *  1. the new program is stored beside the actor's image (imgver.h) and
 *     started as a standby of the same run (HR_STANDBY=1, the held
 *     sockets): it initialises and waits in hr_standby_wait(), touching
 *     no persistent block; the old instance serves meanwhile;
 *  2. the old instance is asked to stop (SIGTERM, its stop timeout, then
 *     SIGKILL): a planned death, no failure, not charged to the restart
 *     policy; it may hand its connections over first;
 *  3. once it is reaped, the new one is promoted (its wait answered): it
 *     is the actor now, and takes its state, sockets and connections;
 *  4. once it is ready (sd_notify, --ready-fd, or, for one that says
 *     nothing, once it has run HRD_UP_SETTLE_MS since its promotion, or
 *     until the timeout if that comes first), its image becomes the
 *     actor's for every later restart (the commit, imgver.h).
 * A new version that dies before it is ready, or is not ready within the
 * timeout, is ended and the old image started again (a rollback), with
 * the connections it had not taken.  With "cold" there is no step 1: the
 * old one stops, then the new one starts from main like any restart (for
 * programs that do not call hr_standby_wait()).  A group's direct actors
 * are upgraded one after the other (the next once the last is ready;
 * the first rollback ends the job), or all at once on request.
 * Nothing here changes a group's state: a group that restarts or ends
 * meanwhile aborts the upgrade (its restart uses the old image).
 */
#ifndef HRD_UPGRADE_H
#define HRD_UPGRADE_H

#include <stdio.h>
#include <sys/types.h>

struct hrd;
struct hr_msg_hdr;

/* How long a new version that says nothing about its readiness runs
 * after its promotion before it is taken as ready (committed): one that
 * exits at once (a wrong program, a missing library or file) is rolled
 * back, not committed to crash-loop its group. */
#define HRD_UP_SETTLE_MS 1000

/* Every slot without an upgrade (at start). */
void hrd_upgrade_init(struct hrd *d);
/* HR_REQ_UPGRADE on conn (the program in fds[0], taken: set to -1): the
 * result to reply
 * with, or, with *kept set, nothing yet (conn answered when it is done). */
int hrd_upgrade_request(struct hrd *d, int conn, const struct hr_msg_hdr *h,
                        const char *p, int *fds, int nfds, int *kept);
/* HR_REQ_STANDBY from caller: -ESRCH unless it is an upgrade's trial;
 * else as hrd_standby_request(). */
int hrd_upgrade_waiting(struct hrd *d, int conn, pid_t caller, int *kept);
/* The site ends (why: "the site stops"...): every upgrade request still
 * waiting is answered -EINTR, saying so (upjob.c). */
void hrd_upjobs_cut(struct hrd *d, const char *why);
/* Is slot's upgrade over by what happened to its group (restarted, ended,
 * not running: UE_ABORT is due)? */
int hrd_upgrade_moot(struct hrd *d, int slot);
/* A child was reaped: 1 when it was an upgrade's (handled here: no
 * failure of its group), else 0. */
int hrd_upgrade_exited(struct hrd *d, pid_t pid, int status);
/* Upgrades moved on by what the loop sees (ready, timed out, rolled
 * back, their group gone), jobs begun and answered: ms until the next
 * deadline, or -1. */
int hrd_upgrade_tick(struct hrd *d);
/* The table, a cell a line ("upgrade STATE EVENT -> NEXT ACTION"). */
void hrd_upgrade_table_print(FILE *f);

#endif
