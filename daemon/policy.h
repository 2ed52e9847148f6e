/* SPDX-License-Identifier: MIT */
/*
 * policy.h - the restart policy: when a failing group escalates to a site
 * restart, and when a site that keeps restarting gives up.
 *
 * Each group, and the site, carries a badness that every restart raises by
 * one and that drains by hrCtrl.maxBadness units per hrCtrl.interval
 * seconds (it drains fully in one interval).  A group restart that takes a
 * group's badness over hrCtrl.maxBadness becomes a site restart; a site
 * restart that takes the site's over it stops the site, marked failed.
 * The figures come from site.conf (hrCtrl.*, src/hr/policy.c), read once
 * at start.
 */
#ifndef HRD_POLICY_H
#define HRD_POLICY_H

#include <stddef.h>

struct hrd;

/* Read the hrCtrl.* tunables into d->policy (out-of-range values are
 * logged and take the default). */
void hrd_policy_read(struct hrd *d);
/* Charge a restart of group: 0 when it may restart, 1 when it must escalate
 * to a site restart (why says so). */
int hrd_policy_group_restart(struct hrd *d, int group, char *why, size_t cap);
/* Charge a site restart: 0 when it may go on (every group's badness starts
 * afresh), 1 when the site has failed (the registry says why). */
int hrd_policy_site_restart(struct hrd *d, const char *why);
/* A site started again by hand after failing starts with no badness,
 * its groups' included: a fresh try. */
void hrd_policy_forgive_site(struct hrd *d);

#endif
