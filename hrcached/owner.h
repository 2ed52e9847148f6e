/* SPDX-License-Identifier: MIT */
/*
 * owner.h - one hrcached process serves a heap at a time (owner.c).
 */
#ifndef HRCACHED_OWNER_H
#define HRCACHED_OWNER_H

/* Become the one process serving the heap `name` of the site at site_dir:
 * an exclusive lock on the file hrcached.NAME.lock there (owner-only),
 * held until the process ends, when the kernel lets it go whatever the
 * death.  With wait, a lock held by another process is waited for, after
 * a line on stderr saying so; without, it is -EWOULDBLOCK.  0 or -errno. */
int mc_owner_take(const char *site_dir, const char *name, int wait);

#endif
