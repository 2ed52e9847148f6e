/* SPDX-License-Identifier: MIT */
/*
 * config.c - the site's settings from a configuration directory (see
 * config.h).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "hrd.h"
#include "log.h"
#include "os/os.h"
#include "os/ctl.h"

#define CONF_MAX (64 * 1024) /* site.conf: a few lines */

static struct {
    char dir[4096];
    char *file[2];  /* site.conf, sysadm.ini; NULL: absent */
} cf;
static const char *const names[2] = {"site.conf", "sysadm.ini"};

/* Root's or ours, and written by nobody else (a read-only mount: nobody). */
static void check_owned(const char *path, const struct pmm__os_owned *o)
{
    uid_t me = pmm__os_euid();
    if (o->uid != 0 && o->uid != me)
        hrd_die(1, "config %s: refused: it belongs to uid %u, not to root "
                   "or uid %u (this controller's user): chown it",
                path, (unsigned)o->uid, (unsigned)me);
    if ((o->mode & 022) && !o->rdonly)
        hrd_die(1, "config %s: refused: others may write it (mode %04o); "
                   "only root or its owner may change what the controller "
                   "runs: chmod go-w %s", path, (unsigned)(o->mode & 07777),
                path);
}

void hrd_config_read(const char *dir)
{
    struct pmm__os_owned o;
    char path[4200];
    if (snprintf(cf.dir, sizeof cf.dir, "%s", dir) >= (int)sizeof cf.dir)
        hrd_die(1, "config %.64s...: path too long", dir);
    int r = pmm__os_read_owned(dir, NULL, 0, &o);
    if (r < 0)
        hrd_die(1, "config %s: %s%s", dir, pmm_strerror(r),
                r == -ENOENT ? " (make it, with site.conf and sysadm.ini "
                               "as needed)" : "");
    if (!S_ISDIR(o.mode))
        hrd_die(1, "config %s: not a directory", dir);
    check_owned(dir, &o);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *text = malloc(i == 0 ? CONF_MAX : HRD_INI_MAX);
        if (!text)
            hrd_die(1, "config %s: out of memory", path);
        r = pmm__os_read_owned(path, text, i == 0 ? CONF_MAX : HRD_INI_MAX, &o);
        if (r == -ENOENT) {
            free(text);
            continue; /* absent: the site has none either */
        }
        if (r == -EISDIR || r == -EINVAL)
            hrd_die(1, "config %s: not a regular file", path);
        if (r < 0)
            hrd_die(1, "config %s: %s", path, r == -EFBIG ? "too large" :
                    hrd_text_file_error(r));
        check_owned(path, &o);
        cf.file[i] = text;
    }
}

const char *hrd_config_dir(void)
{
    return cf.dir[0] ? cf.dir : NULL;
}

/* The value of key in site.conf's text, or NULL; at most cap - 1 bytes. */
static const char *conf_value(const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *line = cf.file[0], *end; line && *line;
         line = end + !!*end) {
        end = line + strcspn(line, "\n");
        if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
            snprintf(out, cap, "%.*s", (int)(end - line - kl - 1),
                     line + kl + 1);
            return out;
        }
    }
    return NULL;
}

/* A size or a count: decimal, with K, M, G or T (powers of 1024). */
static uint64_t conf_size(const char *key)
{
    char v[64], *end;
    if (!conf_value(key, v, sizeof v))
        return 0; /* the default */
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    int shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    default: break;
    }
    if (errno || !isdigit((unsigned char)v[0]) || *end || n == 0 ||
        n > (~0ull >> shift))
        hrd_die(1, "config %s/site.conf: %s=%s: not a size (a number, "
                   "with K, M, G or T)", cf.dir, key, v);
    return (uint64_t)n << shift;
}

static char disk_made[4096]; /* hrd_config_disk_made() */

const char *hrd_config_disk_made(void)
{
    return disk_made[0] ? disk_made : NULL;
}

void hrd_config_make_site(const char *site)
{
    char path[4200], disk[4096];
    uid_t uid;
    mode_t mode;
    snprintf(path, sizeof path, "%s/ram.bank", site);
    if (pmm__os_lstat(path, &uid, &mode) != -ENOENT)
        return; /* there (or not ours to judge here: setup() says) */
    pmm_site_config c = {
        .rambank_size = conf_size("pmm.rambankSize"),
        .max_blocks = conf_size("pmm.maxBlocks"),
        .diskbank_path = conf_value("pmm.diskbank", disk, sizeof disk),
        .diskbank_size = conf_size("pmm.diskbankSize"),
        .disk_max_blocks = conf_size("pmm.diskMaxBlocks"),
    };
    /* a first start, or a volume not mounted yet: the log says which
     * bank was made, never silently (hrd_check_disk) */
    int missing = c.diskbank_path &&
                  pmm__os_lstat(c.diskbank_path, &uid, &mode) == -ENOENT;
    int r = pmm_site_create(site, &c);
    if (r < 0 && r != K_EEXIST)
        hrd_die(1, "site %s: cannot make it from %s/site.conf: %s", site,
                cf.dir, pmm_strerror(r));
    if (r == 0 && missing)
        snprintf(disk_made, sizeof disk_made, "%s", c.diskbank_path);
}

void hrd_config_install(struct hrd *d)
{
    char path[4200];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", d->dir, names[i]);
        int r = cf.file[i] ? pmm__os_write_file(path, cf.file[i],
                                                 strlen(cf.file[i]))
                           : pmm__os_unlink(path);
        if (r < 0 && r != -ENOENT)
            hrd_die(1, "site %s: %s from %s: %s", d->site, names[i], cf.dir,
                    pmm_strerror(r));
        free(cf.file[i]);
        cf.file[i] = NULL;
    }
    hrd_log(d, HRD_INFO, "settings from %s: site.conf and sysadm.ini copied",
            cf.dir);
}
