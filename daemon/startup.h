/* SPDX-License-Identifier: MIT */
/*
 * startup.h - the site's start-up file, sysadm.ini (see startup.c).
 */
#ifndef HRD_STARTUP_H
#define HRD_STARTUP_H

#include <sys/types.h>

struct hrd;

/* Run the start-up file up to its first command: 1 while a command runs,
 * 0 once the file is done (or absent).  The loop gives each child's end to
 * hrd_startup_child(), which goes on with the next lines: -1 when pid is no
 * start-up command, else as hrd_startup_begin() (1, the file left where it
 * is, for a command the site's end stopped). */
int hrd_startup_begin(struct hrd *d, int with_arun);
int hrd_startup_child(struct hrd *d, pid_t pid, int st);

#endif
