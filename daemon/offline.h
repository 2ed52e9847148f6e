/* SPDX-License-Identifier: MIT */
/*
 * offline.h - a stopped site's maintenance, no controller started
 * (offline.c).
 */
#ifndef HRD_OFFLINE_H
#define HRD_OFFLINE_H

struct hrd;

/* hrd --end-group G: the site has no group G. */
#define HRD_EXIT_NO_GROUP 4
/* group of hrd_offline for --end-leftovers */
#define HRD_LEFTOVERS (-1)

/* --end-group group (group >= 0): the group ends for good, after the
 * leftovers of a controller that died; --end-leftovers (HRD_LEFTOVERS):
 * those leftovers only.  On a site whose RAM bank does not open, the
 * leftovers its recorded cgroup holds are ended, and a group cannot be.
 * The exit code of hrd. */
int hrd_offline(struct hrd *d, int group);

#endif
