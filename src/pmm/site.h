/* SPDX-License-Identifier: MIT */
/*
 * site.h - a site's directory and its configuration file.
 */
#ifndef HR_PMM_SITE_H
#define HR_PMM_SITE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RAM_BANK "ram.bank"   /* a site's RAM bank, in its directory */
#define SITE_CONF "site.conf" /* and its configuration */

/* The value of key in site's site.conf: K_OK, K_EUNKNOWN if absent,
 * K_EINVAL if it does not fit in len bytes, -errno. */
int pmm__conf_get(const char *site, const char *key, char *val, size_t len);
/* The same, site.conf read inside the site directory held open as site
 * (a link there not followed: -ELOOP). */
int pmm__conf_get_at(int site, const char *key, char *val, size_t len);
/* The value of key in text (site.conf's lines) into val: K_OK, K_EUNKNOWN
 * when absent, K_EINVAL when longer than len. */
int pmm__conf_value(const char *text, const char *key, char *val, size_t len);
/* K_OK if dir is a directory of the caller's (or root's) open to nobody
 * else, its owner in *owner when not NULL; K_EUNKNOWN if absent, K_EPRIV,
 * -ENOTDIR, -errno. */
int pmm__site_check_dir(const char *dir, uid_t *owner);
/* The site directory dir opened once (its missing parts made when
 * create, see pmm__os_open_dir()) and checked on its descriptor: a
 * directory of the caller's (any user's when the caller is root), open to
 * nobody else.  Its descriptor and its owner in *owner; K_EUNKNOWN if
 * absent, K_EPRIV, -ENOTDIR (a link), -errno. */
int pmm__site_pin(const char *dir, int create, uid_t *owner);
/* The same, but without create the directory is only held (O_PATH:
 * pmm__os_hold_dir()), the links on the way to it followed as lstat()
 * follows them: for the *at() calls, fstat() and pmm__os_as_owner(). */
int pmm__site_hold(const char *dir, int create, uid_t *owner);
/* The site directory dir opened once (its missing parts made when create,
 * see pmm__os_open_dir()) and checked on its descriptor: a directory of the
 * caller's (root's too), open to nobody else.  Its descriptor, with in at
 * a path that reaches it through the descriptor ("/proc/self/fd/N/."), to
 * open what it holds; K_EUNKNOWN if absent, K_EPRIV, -ENOTDIR, -errno. */
int pmm__site_open(const char *dir, int create, char *at, size_t cap);

#endif
