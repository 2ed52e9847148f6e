/* SPDX-License-Identifier: MIT */
/*
 * config.h - a site's settings kept outside the site (hrd --config DIR, or
 * $HR_CONFIG): DIR/site.conf and DIR/sysadm.ini, in a directory that
 * survives reboots (/etc/hotrestart/NAME under systemd, a ConfigMap under
 * Kubernetes) while the site and its RAM bank live on tmpfs.
 *
 * At every start the controller reads them, makes the site when it has no
 * RAM bank (after a reboot, or on a fresh volume) with the sizes DIR's
 * site.conf gives (pmm.rambankSize, pmm.maxBlocks, pmm.diskbank,
 * pmm.diskbankSize, pmm.diskMaxBlocks), and puts owner-only copies of both
 * files in the site, in place of what was there: DIR is the authority, a
 * file missing from it is removed from the site.  Everything else (the
 * policy, the start-up file, the tool, actors opening the DISK medium)
 * reads the site's copies as before.
 *
 * DIR and its files are trusted only when root or the controller's user
 * owns them and nobody else may write them (a read-only mount, as a
 * ConfigMap is, writes for nobody): anything else stops the start with a
 * message that says which file and how to fix it.
 */
#ifndef HRD_CONFIG_H
#define HRD_CONFIG_H

struct hrd;

/* Read DIR's files (dies, status 1, naming the file and the fix). */
void hrd_config_read(const char *dir);
/* The configuration directory read, or NULL. */
const char *hrd_config_dir(void);
/* Make the site at path from the configuration when it has no RAM bank
 * (dies, status 1, when it cannot). */
void hrd_config_make_site(const char *site);
/* The DISK bank that making the site made, where the configuration named
 * one that was missing (for the log, once it is open), or NULL. */
const char *hrd_config_disk_made(void);
/* Put the copies in the site opened as d->dir (dies when it cannot). */
void hrd_config_install(struct hrd *d);

#endif
