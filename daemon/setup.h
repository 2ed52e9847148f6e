/* SPDX-License-Identifier: MIT */
/*
 * setup.h - the site a controller opens, and what it hands to a fresh
 * controller at a site restart (setup.c).
 */
#ifndef HRD_SETUP_H
#define HRD_SETUP_H

struct hrd;

/* Open the site (--site, else $HR_SITE, else the user's default): its
 * directory checked, bank, controller lock, console log, policy (and the
 * configuration directory's files), subreaper, registry; dies saying why
 * when one cannot be had. */
void hrd_setup(struct hrd *d, const char *site_arg);
/* Log what the DISK bank that site.conf names is, when it is not there to
 * open: missing (an unmounted volume?), or made anew, empty, by making the
 * site from the configuration.  The controller starts anyway (hrd(8)). */
void hrd_check_disk(struct hrd *d);
/* A site named by --site or $HR_SITE must exist: else die saying so. */
void hrd_check_named_site(const char *site_arg);
/* Before a site restart's exec: the controller lock and the held sockets
 * pass to the fresh controller (HRD_LOCK, HRD_HELD). */
void hrd_hand_over(struct hrd *d);

/* A cold restart's new RAM bank, made once every actor is gone: the
 * fresh controller opens it and finds an empty registry, so it runs the
 * whole start-up file.  This controller's mapping is of the old file,
 * unlinked; DISK banks are not touched.  A bank that cannot be made is
 * said, and the fresh controller comes back on the old one (a site
 * restart). */
void hrd_cold_bank(struct hrd *d);

#endif
