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
/* May root make the presence file in dir (held open) with its own rights,
 * for a bank's owner who may not (-EACCES)?  1 only when the file (dev,
 * ino) named in dir is the bank open as bank_fd and dir is an
 * administrator's: owned by root, writable by no group nor other (mode &
 * 022 clear; an ACL's grant shows in the group bits).  Else 0. */
int hh_pfile_admins(int dir, int bank_fd, dev_t dev, ino_t ino);

#endif
