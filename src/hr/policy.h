/* SPDX-License-Identifier: MIT */
/*
 * policy.h - a site's restart policy as site.conf holds it: the keys
 * hrCtrl.maxBadness, hrCtrl.interval, hrCtrl.maxActors, hrCtrl.maxGroups,
 * hrCtrl.stopTimeout, hrCtrl.failStopTimeout
 * (public side: hr_policy_* in <hotrestart/hr.h>).  The controller reads
 * it once at start; `hr site create` writes it.
 */
#ifndef HR_HR_POLICY_H
#define HR_HR_POLICY_H

#include <hotrestart/hr.h>

/* What is wrong with line (from 1) of site.conf, in words. */
typedef void hr__conf_say(void *arg, int line, const char *what);
/* The policy of the site in directory dir (resolved): a key absent, out
 * of range or too long takes the default; the first line of a key is the
 * one used.  say (when not NULL) is told of every line that is not blank,
 * a comment (#) or KEY=VALUE of a key of site.conf(5), of every later line
 * of a key, and of every hrCtrl.* figure that took its default.  The
 * number of those figures (0 when all were sound), or why site.conf could
 * not be read (-EFBIG over 64 KiB, -EILSEQ a NUL byte in it): then every
 * key takes its default and no line is told of. */
int hr__policy_read(const char *dir, hr_policy *p, hr__conf_say *say,
                    void *arg);

#endif
