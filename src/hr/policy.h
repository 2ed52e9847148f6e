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

/* The policy of the site in directory dir (resolved): a key absent, out
 * of range or too long takes the default, and *bad (when given) names the
 * first key out of range or too long, or is NULL.  0, or why site.conf
 * could not be read (-EFBIG over 64 KiB, -EILSEQ a NUL byte in it): then
 * every key takes its default. */
int hr__policy_read(const char *dir, hr_policy *p, const char **bad);

#endif
