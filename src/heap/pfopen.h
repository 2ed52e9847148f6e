/* SPDX-License-Identifier: MIT */
/*
 * pfopen.h - the presence file opened, made at first need (pfopen.c).
 */
#ifndef HR_HEAP_PFOPEN_H
#define HR_HEAP_PFOPEN_H

#include <sys/types.h>

/* Open the presence file name in the directory dir (held open: every file
 * is named inside it), made at first need (by root: for owner), and check that it is owner's, mode 0600, a regular file: 0 and
 * *fd (with its device and inode); K_EPRIV another's, open to others, a
 * directory or a link; -EACCES it does not exist and this process may
 * not make it (the directory); or -errno. */
int hh_pfile_open(int dir, const char *name, uid_t owner, int *fd,
                  dev_t *dev, ino_t *ino);

#endif
