/* SPDX-License-Identifier: MIT */
/*
 * site.c - where a site lives, and its configuration.
 *
 * A site is an owner-only directory holding ram.bank (the RAM medium, made
 * with default tunables on first use), site.conf (key=value lines: here
 * pmm.diskbank, the DISK bank's path; the controller's hrCtrl.* keys are
 * src/hr/policy.c's) and the controller's socket and log.  A site directory that another user owns, or that others
 * may open, is refused: its banks would not be ours alone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bank.h"
#include "create.h"
#include "ident.h"
#include "names.h"
#include "os/os.h"
#include "site.h"

#define CONF_MAX (64 * 1024) /* site.conf is a few lines */

int pmm_site_path(char *buf, size_t len, const char *site)
{
    /* an actor's site is the one it started in, whatever its environment
     * says now (ident.c) */
    const char *env = pmm__ident_site();
    int n;
    if (!env)
        env = getenv("HR_SITE");
    if (!buf)
        return K_EFAULT;
    if (site && *site)
        n = snprintf(buf, len, "%s", site);
    else if (env && *env)
        n = snprintf(buf, len, "%s", env);
    else if (pmm__os_euid() == 0)
        n = snprintf(buf, len, "/run/hotrestart");
    else if ((env = getenv("XDG_RUNTIME_DIR")) && *env)
        n = snprintf(buf, len, "%s/hotrestart", env);
    else {
        const char *tmp = getenv("TMPDIR");
        n = snprintf(buf, len, "%s/hotrestart-%u", tmp && *tmp ? tmp : "/tmp",
                     (unsigned)pmm__os_euid());
    }
    return n < 0 || (size_t)n >= len ? K_EINVAL : K_OK;
}

int pmm__site_check_dir(const char *dir, uid_t *owner)
{
    uid_t uid, me = pmm__os_euid();
    mode_t mode;
    int r = pmm__os_lstat(dir, &uid, &mode);
    if (r < 0)
        return r == -ENOENT ? K_EUNKNOWN : r;
    if (!S_ISDIR(mode))
        return -ENOTDIR;
    if ((uid != me && me != 0) || (mode & 077))
        return K_EPRIV;
    if (owner)
        *owner = uid;
    return K_OK;
}

/* The site directory just opened as fd (or -errno) checked: fd, and its
 * owner in *owner, as pmm__site_pin says. */
static int checked(int fd, uid_t *owner)
{
    uid_t uid, me = pmm__os_euid();
    mode_t mode;
    if (fd < 0)
        return fd == -ENOENT ? K_EUNKNOWN : fd == -ELOOP ? -ENOTDIR : fd;
    int r = pmm__os_size(fd, NULL, &uid, &mode, NULL, NULL);
    if (r == 0 && ((uid != me && me != 0) || (mode & 077)))
        r = K_EPRIV;
    if (r < 0) {
        pmm__os_close(fd);
        return r;
    }
    *owner = uid;
    return fd;
}

/* pmm__site_pin, and in *made what pmm__os_open_dir made. */
static int pin_made(const char *dir, int create, uid_t *owner, int *made)
{
    return checked(pmm__os_open_dir(dir, create, made), owner);
}

int pmm__site_pin(const char *dir, int create, uid_t *owner)
{
    return pin_made(dir, create, owner, NULL);
}

int pmm__site_hold(const char *dir, int create, uid_t *owner)
{
    /* made as the walk makes it, or held as lstat() would look at it */
    return create ? pmm__site_pin(dir, 1, owner)
                  : checked(pmm__os_hold_dir(dir), owner);
}

/* pmm__site_open, and in *made what pmm__os_open_dir made. */
static int open_made(const char *dir, int create, char *at, size_t cap,
                     int *made)
{
    uid_t owner;
    int r = 0, fd = pin_made(dir, create, &owner, made);
    if (fd < 0)
        return fd;
    if (owner != pmm__os_euid())
        r = K_EPRIV;
    else if (snprintf(at, cap, "/proc/self/fd/%d/.", fd) >= (int)cap)
        r = K_EINVAL;
    if (r < 0) {
        pmm__os_close(fd);
        return r;
    }
    return fd;
}

int pmm__site_open(const char *dir, int create, char *at, size_t cap)
{
    return open_made(dir, create, at, cap, NULL);
}

int pmm__conf_value(const char *text, const char *key, char *val, size_t len)
{
    size_t kl = strlen(key);
    for (const char *line = text, *end; *line; line = end + !!*end) {
        end = line + strcspn(line, "\n");
        if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
            int n = snprintf(val, len, "%.*s", (int)(end - line - kl - 1),
                             line + kl + 1);
            return n < 0 || (size_t)n >= len ? K_EINVAL : K_OK;
        }
    }
    return K_EUNKNOWN;
}

/* The value of key in text read into it (r: how the read went), which
 * is freed. */
static int conf_in(int r, char *text, const char *key, char *val, size_t len)
{
    if (r == 0)
        r = pmm__conf_value(text, key, val, len);
    free(text);
    return r == -ENOENT ? K_EUNKNOWN : r;
}

int pmm__conf_get(const char *site, const char *key, char *val, size_t len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/" SITE_CONF, site);
    char *text = malloc(CONF_MAX);
    if (!text)
        return -ENOMEM;
    return conf_in(pmm__os_read_file(path, text, CONF_MAX), text, key, val,
                   len);
}

int pmm__conf_get_at(int site, const char *key, char *val, size_t len)
{
    char *text = malloc(CONF_MAX);
    if (!text)
        return -ENOMEM;
    return conf_in(pmm__os_read_file_at(site, SITE_CONF, text, CONF_MAX),
                   text, key, val, len);
}

int pmm_bank_path(char *buf, size_t len, const char *site, const char *medium)
{
    char dir[4096];
    int r;
    if (!buf || !medium)
        return K_EFAULT;
    if (!pmm__name_ok(medium, PMM_MEDIUM_MAX))
        return K_EINVAL;
    if ((r = pmm_site_path(dir, sizeof dir, site)) < 0)
        return r;
    switch (pmm__medium_kind(medium)) {
    case PMM_KIND_RAM:
        r = snprintf(buf, len, "%s/" RAM_BANK, dir);
        return r < 0 || (size_t)r >= len ? K_EINVAL : K_OK;
    case PMM_KIND_DISK:
        return pmm__conf_get(dir, "pmm.diskbank", buf, len);
    default:
        return K_EUNKNOWN;
    }
}

/* pmm_bank_open() in the site dir held as dfd, whose owner is owner:
 * with that owner's rights, when the caller is root (pmm__os_as_owner). */
static int open_in(pmm_bank **out, const char *dir, int dfd, uid_t owner,
                   const char *medium, unsigned flags)
{
    char path[4096];
    int rdonly = !!(flags & PMM_OPEN_RDONLY), r;
    if ((r = pmm_bank_path(path, sizeof path, dir, medium)) < 0)
        return r;
    r = pmm__bank_open_path(out, path, medium, rdonly);
    /* A missing DISK bank is one that site.conf names (a site without one
     * has no DISK medium: K_EUNKNOWN above): its volume not mounted, say.
     * It stays -ENOENT and is never made here: an empty bank in its place
     * would hide the state the volume holds. */
    if (r == -ENOENT && pmm__medium_kind(medium) == PMM_KIND_RAM) {
        if (!(flags & PMM_OPEN_CREATE) || rdonly)
            return K_EUNKNOWN; /* a site not used yet */
        struct pmm__bank_want w = {PMM_KIND_RAM, PMM_DEFAULT_BANK_SIZE,
                                   PMM_DEFAULT_MAX_BLOCKS, PMM_HUGE_AUTO, NULL};
        r = pmm__bank_create_at(dfd, RAM_BANK, &w);
        if (r < 0 && r != K_EEXIST)
            return r;
        r = pmm__bank_open_path(out, path, medium, 0);
    }
    /* a site's banks are its owner's: a DISK bank path in site.conf may
     * name any file, another site's bank among them */
    uid_t bank_uid;
    if (r == K_OK && (pmm__os_size((*out)->fd, NULL, &bank_uid, NULL, NULL,
                                   NULL) < 0 || bank_uid != owner)) {
        pmm_bank_close(*out);
        *out = NULL;
        r = K_EPRIV;
    }
    return r;
}

int pmm_bank_open(pmm_bank **out, const char *site, const char *medium,
                  unsigned flags)
{
    char dir[4096];
    struct pmm__os_as as;
    uid_t owner;
    int r, dfd;
    if (!out || !medium)
        return K_EFAULT;
    *out = NULL;
    if (!pmm__name_ok(medium, PMM_MEDIUM_MAX) ||
        (flags & ~(PMM_OPEN_CREATE | PMM_OPEN_RDONLY)))
        return K_EINVAL;
    if (!pmm__medium_kind(medium))
        return K_EUNKNOWN;
    /* the directory made if missing (no link followed) and held open */
    if ((r = pmm_site_path(dir, sizeof dir, site)) < 0 ||
        (r = dfd = pmm__site_hold(dir, !!(flags & PMM_OPEN_CREATE), &owner)) < 0)
        return r;
    if ((r = pmm__os_as_owner(dfd, &as)) == 0) {
        r = open_in(out, dir, dfd, owner, medium, flags);
        pmm__os_as_self(&as);
    }
    pmm__os_close(dfd);
    return r;
}

static __thread const char *create_why;

const char *pmm_site_create_why(void)
{
    return create_why;
}

/* The DISK bank at path made (its directory held open), or one there already kept (a site made again after a reboot); any other
 * file is not the site's to take, nor, later, to remove with it. */
static int make_disk(const char *path, const pmm_site_config *c)
{
    char name[256];
    struct pmm__bank_want w = {PMM_KIND_DISK, c->diskbank_size,
                               c->disk_max_blocks, PMM_HUGE_OFF, NULL};
    int dir = pmm__os_open_parent(path, name, sizeof name);
    if (dir < 0)
        return dir;
    int r = pmm__bank_create_at(dir, name, &w);
    if (r == K_EEXIST)
        r = pmm__bank_of(dir, name, PMM_KIND_DISK, pmm__os_euid(), NULL, NULL)
                ? K_OK : -EEXIST;
    pmm__os_close(dir);
    return r;
}

int pmm_site_create(const char *site, const pmm_site_config *cfg)
{
    pmm_site_config c = {0};
    char dir[4096], path[4200], at[64];
    int r, dfd, made = 0;
    static const uint64_t zero[7];
    if (cfg)
        c = *cfg;
    create_why = NULL;
    _Static_assert(sizeof zero == sizeof c.reserved, "reserved space");
    if (memcmp(c.reserved, zero, sizeof zero) != 0 || c.pad0 ||
        c.huge > PMM_HUGE_OFF)
        return K_EINVAL; /* a field this library does not know yet */
    if (!c.rambank_size)
        c.rambank_size = PMM_DEFAULT_BANK_SIZE;
    if (!c.max_blocks)
        c.max_blocks = PMM_DEFAULT_MAX_BLOCKS;
    if (!c.diskbank_size)
        c.diskbank_size = PMM_DEFAULT_BANK_SIZE;
    if (!c.disk_max_blocks)
        c.disk_max_blocks = c.max_blocks;
    if (c.diskbank_path && (c.diskbank_path[0] != '/' ||
                            strchr(c.diskbank_path, '\n')))
        return K_EINVAL;
    /* the directory opened once (made if missing) and checked on its
     * descriptor; what it holds is made through that descriptor, so that
     * a directory swapped in for it meanwhile is never written.  A call
     * that fails leaves none of the directories it made (a bank refused
     * for its file system, say --huge on ext4: "nothing made"). */
    if ((r = pmm_site_path(dir, sizeof dir, site)) < 0)
        return r;
    if ((r = dfd = open_made(dir, 1, at, sizeof at, &made)) < 0)
        goto fail_dir;
    struct pmm__bank_want w = {PMM_KIND_RAM, c.rambank_size, c.max_blocks,
                               (int)c.huge, &create_why};
    if ((r = pmm__bank_create_at(dfd, RAM_BANK, &w)) < 0) {
        pmm__os_close(dfd);
        goto fail_dir;
    }
    if (c.diskbank_path && (r = make_disk(c.diskbank_path, &c)) < 0)
        goto fail_ram;
    char *text = NULL;
    size_t textlen = 0;
    FILE *f = open_memstream(&text, &textlen); /* no file: a buffer */
    if (!f) {
        r = -ENOMEM;
        goto fail_ram;
    }
    if (c.diskbank_path)
        fprintf(f, "pmm.diskbank=%s\n", c.diskbank_path);
    if (fclose(f) != 0) {
        free(text);
        r = -ENOMEM;
        goto fail_ram;
    }
    snprintf(path, sizeof path, "%s/" SITE_CONF, at);
    r = pmm__os_write_file(path, text, textlen);
    free(text);
    if (r < 0)
        goto fail_ram;
    pmm__os_close(dfd);
    return K_OK;
fail_ram:
    pmm__os_unlinkat(dfd, RAM_BANK);
    pmm__os_close(dfd);
fail_dir:
    pmm__os_unmake_dirs(dir, made);
    return r;
}
