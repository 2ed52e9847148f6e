/*
 * site.h - a site's directory and its configuration file.
 */
#ifndef HR_PMM_SITE_H
#define HR_PMM_SITE_H

#include <stddef.h>
#include <stdint.h>

/* The value of key in site's site.conf: K_OK, K_EUNKNOWN if absent,
 * K_EINVAL if it does not fit in len bytes, -errno. */
int pmm__conf_get(const char *site, const char *key, char *val, size_t len);
/* K_OK if dir is a directory of the caller's (or root's) open to nobody
 * else; K_EUNKNOWN if absent, K_EPRIV, -ENOTDIR, -errno. */
int pmm__site_check_dir(const char *dir);

#endif
