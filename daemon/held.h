/* SPDX-License-Identifier: MIT */
/*
 * held.h - listening sockets the controller holds for direct actors
 * (sd_listen_fds(3)): made from the actor's HR_LISTEN specs at its first
 * start, passed as fds 3, 4... with LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES
 * at every start, kept open across group restarts, handed to the next
 * controller across a site restart's exec, taken back from the live
 * actors of the previous generation by a controller that follows a crash
 * (leftover.h), closed when the actor leaves the registry.
 *
 * The specs are stored with the actor's arguments (its environment's
 * HR_LISTEN=SPEC[,SPEC...], SPEC tcp:HOST:PORT or unix:PATH), so they live
 * in the registry's blocks like the rest of the actor's image.
 */
#ifndef HRD_HELD_H
#define HRD_HELD_H

#define HRD_HELD_VAR "HR_LISTEN"  /* the stored specs */
#define HRD_STARTUP_VAR "HR_STARTUP" /* the site of a start-up command or
                                        ordinary actor (startup.c) */
#define HRD_HELD_ENV "HRD_HELD"   /* handed over across exec */

struct hrd;

/* The sockets of slot for the specs (a comma-separated list), made now if
 * the slot holds none yet: the pool's (hrd_held_adopt) where it has one at
 * the address, else new ones.  Their count, or -errno: -EINVAL (bad spec,
 * more than HRD_HELD_MAX), -EADDRINUSE (another actor's socket or another
 * program listens there), -ELOOP (a unix: path that is a symbolic link).
 * On an error the slot holds none, the sockets made now are closed and
 * those of the pool wait there for its next start (their clients kept in
 * the backlog). */
int hrd_held_open(struct hrd *d, int slot, const char *specs);
/* After a controller crash (leftover.c): the sockets of slot for the
 * specs taken from pool (npool descriptors taken back from the previous
 * generation; each one taken is set to -1 there), the others made now.
 * How many were taken from pool: 0 leaves slot holding none, every
 * socket of pool back in its entry (none taken, or one of the specs
 * failed: the actor's start says why) and those made now closed. */
int hrd_held_take(struct hrd *d, int slot, const char *specs, int *pool,
                  int npool);
/* Close the sockets of slot (the actor left the registry), and remove the
 * files of its unix sockets.  Those of the pool that waited for it are
 * closed too, or during the start-up left to any actor that asks. */
void hrd_held_close(struct hrd *d, int slot);
/* Before a site restart's exec: let the sockets pass, and say in
 * HRD_HELD_ENV which slot holds which. */
void hrd_held_export(struct hrd *d);
/* At start: take the sockets a previous controller of this site handed
 * over by exec (none after a crash: they are made again). */
void hrd_held_adopt(struct hrd *d);
/* fd, a listening socket taken back from the previous generation, into
 * the pool for the next start of the actor of slot owner, whose
 * hrd_held_take() failed (leftover.c); -1: for any actor that asks. */
void hrd_held_pool_keep(int fd, int owner);
/* After start-up: the pool's sockets no actor took are closed, but for
 * those an actor that holds none (its start failed on another of its
 * addresses) asked for: they wait for its next start, and are closed when
 * it takes sockets without them or leaves the registry.  A site restart's
 * exec passes only the actors' own sockets: these close there. */
void hrd_held_pool_end(struct hrd *d);

#endif
