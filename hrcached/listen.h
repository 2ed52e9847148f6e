/* SPDX-License-Identifier: MIT */
/*
 * listen.h - hrcached's sockets: the listening ones, inherited by the
 * sd_listen_fds convention or made here from -p/-l/-s (every one returned
 * non-blocking and close-on-exec), and sd_notify's readiness message.
 */
#ifndef HRCACHED_LISTEN_H
#define HRCACHED_LISTEN_H

#include <stdint.h>

#define MC_LISTEN_MAX 16

/* The sockets passed by LISTEN_FDS/LISTEN_PID (fds from 3), if they are
 * meant for this process; the variables are then removed from the
 * environment.  Returns how many were put in fds (0: none passed), or
 * -EINVAL when LISTEN_FDS is malformed or names more than max, -EBADF when
 * one of them is not a listening stream socket. */
int mc_listen_inherited(int *fds, int max);

/* Listen on ADDR:PORT (every address the name resolves to).  Returns how
 * many sockets were put in fds, or -errno; *why says which step failed. */
int mc_listen_tcp(const char *addr, const char *port, int *fds, int max,
                  const char **why);

/* Listen on a Unix socket at path (a stale socket file there is removed).
 * Returns the fd or -errno; *why says which step failed. */
int mc_listen_unix(const char *path, const char **why);

/* Let this process have need descriptors open, as memcached does for its
 * -c: the soft RLIMIT_NOFILE raised to need, the hard one too when it is
 * lower (only a privileged process may).  0, or -errno (-EPERM: the hard
 * limit is lower and may not be raised); *cur and *max are the limits
 * after (before, on an error). */
int mc_files_fit(uint64_t need, uint64_t *cur, uint64_t *max);

/* sd_notify(3)'s READY=1: one datagram to $NOTIFY_SOCKET (a path, or an
 * abstract name written with a leading @), so that the controller (hr arun
 * --wait-ready) or systemd (Type=notify) knows it serves.  0 when sent or
 * when $NOTIFY_SOCKET is not set, else -errno (-EINVAL: a bad address). */
int mc_notify_ready(void);

#endif
