/* SPDX-License-Identifier: MIT */
/*
 * setup.c - the site a controller opens (see setup.h): the directory
 * checked on its descriptor, the RAM bank, the controller lock (kept
 * across a site restart's exec), the console log, the policy and the
 * registry; and what passes to a fresh controller at that exec.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "adopt.h"
#include "config.h"
#include "held.h"
#include "hrd.h"
#include "log.h"
#include "os/ctl.h"
#include "os/os.h"
#include "pmm/site.h"
#include "policy.h"
#include "setup.h"

/* The site directory was refused: say why, and how to mend it. */
static void refused(const char *site, int r)
{
    uid_t uid, me = pmm__os_euid();
    mode_t mode;
    if (r == K_EPRIV && pmm__os_lstat(site, &uid, &mode) == 0 &&
        S_ISDIR(mode)) {
        if (uid != me)
            hrd_die(1, "site %s: refused: it belongs to uid %u, not to uid "
                       "%u (this controller's user): run hrd as its owner "
                       "(hr site start, run by root, does)", site,
                    (unsigned)uid, (unsigned)me);
        if (mode & 077)
            hrd_die(1, "site %s: refused: it is open to others (mode %04o) "
                       "and a site must be its owner's alone: chmod 700 it, "
                       "or use a directory in it (a Kubernetes emptyDir is "
                       "0777: --site %s/site, which --config makes)", site,
                    (unsigned)(mode & 07777), site);
    }
    hrd_die(1, "site %s: %s", site, r == K_EPRIV ?
            "refused: not this user's directory, or open to others" :
            pmm_strerror(r));
}

/* The controller lock, controller.lock: taken, or, after a site
 * restart's exec, kept: the controller before passes its descriptor
 * (HRD_LOCK_ENV), so that the site is never without a controller between
 * the two (a stop that comes then finds it running, and waits for it). */
#define HRD_LOCK_ENV "HRD_LOCK"
static int take_lock(struct hrd *d)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/controller.lock", d->dir);
    int fd = pmm__os_open_fd(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
    const char *v = getenv(HRD_LOCK_ENV);
    int kept = v && d->restarted ? atoi(v) : -1;
    unsetenv(HRD_LOCK_ENV);
    if (fd < 0)
        return fd;
    dev_t dev[2];
    ino_t ino[2];
    if (kept > 2 && pmm__os_size(kept, NULL, NULL, NULL, &dev[0], &ino[0]) == 0 &&
        pmm__os_size(fd, NULL, NULL, NULL, &dev[1], &ino[1]) == 0 &&
        dev[0] == dev[1] && ino[0] == ino[1] &&
        pmm__os_trylock(kept, 1) == 0) { /* ours already: a no-op */
        pmm__os_inherit(kept, 0);
        pmm__os_close(fd);
        return kept;
    }
    if (pmm__os_trylock(fd, 1) < 0) {
        pmm__os_close(fd);
        return -EAGAIN;
    }
    return fd;
}

/* The site restart's exec: the lock and the held sockets pass to the
 * fresh controller. */
void hrd_hand_over(struct hrd *d)
{
    char v[16];
    hrd_held_export(d);
    if (pmm__os_inherit(d->lock_fd, 1) == 0) {
        snprintf(v, sizeof v, "%d", d->lock_fd);
        setenv(HRD_LOCK_ENV, v, 1);
    }
}

void hrd_setup(struct hrd *d, const char *site_arg)
{
    char path[4200];
    int r = pmm_site_path(d->site, sizeof d->site, site_arg);
    if (r < 0)
        hrd_die(1, "site path: %s", pmm_strerror(r));
    if (strlen(d->site) > HR_SITE_PATH_MAX) /* nobody could reach us */
        hrd_die(1, "site path %s: %zu bytes, over the %u a site may have: its "
                "control socket would not fit a socket address (choose a "
                "shorter one)", d->site, strlen(d->site), HR_SITE_PATH_MAX);
    if (hrd_config_dir())
        hrd_config_make_site(d->site);
    /* opened once and checked on its descriptor (ours, owner-only): a
     * directory swapped in for it later is never read nor written */
    if ((r = pmm__site_open(d->site, 1, d->dir, sizeof d->dir)) < 0)
        refused(d->site, r);
    /* maintenance goes on without it: a dead controller's leftovers are
     * still found by their cgroup (leftover.c) */
    if ((r = pmm_bank_open(&d->bank, d->dir, "RAM", PMM_OPEN_CREATE)) < 0 &&
        !d->maintenance)
        hrd_die(1, "site %s: RAM bank: %s", d->site, r == K_EPRIV ?
                "not allowed: it is not this user's, or not the site's "
                "owner's (a site's files must all be its owner's: chown -R "
                "the directory to one user)" : pmm_strerror(r));
    d->bank_error = r < 0 ? r : 0;
    if ((d->lock_fd = take_lock(d)) < 0)
        hrd_die(1, "site %s: a controller already runs", d->site);
    snprintf(path, sizeof path, "%s/console.log", d->dir);
    d->console_fd = pmm__os_open_fd(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW,
                                0600);
    if (d->console_fd < 0)
        hrd_die(1, "%s/console.log: %s", d->site, pmm_strerror(d->console_fd));
    if (d->bank_error)
        return;
    for (int i = 0; i < HR_REG_ACTORS; i++)
        d->slot[i].image_fd = -1;
    if (hrd_config_dir())
        hrd_config_install(d); /* before anything reads them */
    hrd_policy_read(d);
    /* orphans of actors' trees become ours, not init's (tree.c) */
    if ((r = pmm__os_subreaper()) < 0)
        hrd_die(1, "cannot become a child subreaper: %s", pmm_strerror(r));
    hrd_registry_open(d);
}

void hrd_check_disk(struct hrd *d)
{
    char path[4096];
    pmm_bank *b;
    const char *made = hrd_config_disk_made();
    if (made)
        hrd_log(d, HRD_WARNING, "the DISK bank %s that site.conf names was "
                "missing and is made anew, empty, with the site: right for "
                "a first start; if it lives on a volume not mounted yet, "
                "stop the site, remove it and mount the volume", made);
    if (pmm_bank_path(path, sizeof path, d->dir, "DISK") < 0)
        return; /* no DISK medium */
    int r = pmm_bank_open(&b, d->dir, "DISK", PMM_OPEN_RDONLY);
    if (r == 0)
        pmm_bank_close(b);
    else if (r == -ENOENT)
        hrd_log(d, HRD_WARNING, "the DISK bank %s that site.conf names is "
                "missing (an unmounted volume?): it is not made anew, and "
                "actors that open it fail until it is back", path);
    else
        hrd_log(d, HRD_WARNING, "the DISK bank %s that site.conf names does "
                "not open: %s", path, pmm_strerror(r));
}

/* A site named by --site or $HR_SITE must exist: a mistyped name is
 * refused, not booted as an empty site (nor its missing parents made). */
void hrd_check_named_site(const char *site_arg)
{
    const char *env = getenv("HR_SITE");
    const char *named = site_arg ? site_arg : env && *env ? env : NULL;
    uid_t uid;
    mode_t mode;
    if (!named || hrd_config_dir())
        return; /* the default site, or one the configuration makes */
    int r = pmm__os_lstat(named, &uid, &mode);
    if (r == -ENOENT)
        hrd_die(1, "site %s does not exist (hr site create makes it)%s", named,
                site_arg ? "" : "; it comes from $HR_SITE");
    if (r < 0)
        hrd_die(1, "site %s: %s", named, pmm_strerror(r));
    if (!S_ISDIR(mode))
        hrd_die(1, "site %s is not a directory", named);
}

void hrd_cold_bank(struct hrd *d)
{
    pmm_remake_info info;
    int r = pmm_bank_remake(d->dir, "RAM", &info);
    if (r < 0)
        hrd_log(d, HRD_ERR, "cold restart: the RAM bank cannot be made "
                "anew (%s): the fresh controller comes back on it as it was",
                pmm_strerror(r));
    else
        hrd_log(d, HRD_NOTICE, "cold restart: RAM bank and registry made "
                "anew (%llu bytes, %llu blocks); DISK banks kept",
                (unsigned long long)info.size,
                (unsigned long long)info.max_blocks);
}
