/* SPDX-License-Identifier: MIT */
/*
 * policy.c - a site's restart policy in its site.conf (see policy.h).
 *
 * Invariants: site.conf is replaced whole (pmm__os_write_file: a new file
 * renamed over the old), so a reader that reads it once sees one writer's
 * policy whole, never keys of two; every writer holds the site's lock (an
 * exclusive flock of the site directory, as hr site set holds it) from its
 * read of site.conf to its rename, so that writers at once keep each
 * other's other lines and a change made from what was read loses none made
 * meanwhile.  Readers take no lock: a read never waits for a writer (the
 * controller reads in its event loop).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hotrestart/hr.h>

#include "hr/policy.h"
#include "os/ctl.h"
#include "os/os.h"
#include "pmm/site.h"

#define SITE_CONF "site.conf"
#define CONF_MAX (64 * 1024) /* site.conf is a few lines */

/* The keys, their defaults and ceilings, in one table. */
static const struct key {
    const char *name;
    size_t off;
    uint32_t dflt, min, max;
} keys[] = {
    {"hrCtrl.maxBadness", offsetof(hr_policy, max_badness),
     HR_DEFAULT_MAX_BADNESS, 1, HR_MAX_BADNESS_LIMIT},
    {"hrCtrl.interval", offsetof(hr_policy, interval_s), HR_DEFAULT_INTERVAL_S,
     1, HR_INTERVAL_LIMIT_S},
    {"hrCtrl.maxActors", offsetof(hr_policy, max_actors), HR_ACTORS_LIMIT,
     1, HR_ACTORS_LIMIT},
    {"hrCtrl.maxGroups", offsetof(hr_policy, max_groups), HR_GROUPS_LIMIT,
     1, HR_GROUPS_LIMIT},
    {"hrCtrl.stopTimeout", offsetof(hr_policy, stop_ms), HR_DEFAULT_STOP_MS,
     1, HR_STOP_LIMIT_MS},
    {"hrCtrl.failStopTimeout", offsetof(hr_policy, fail_stop_ms), 0, 0,
     HR_STOP_LIMIT_MS},
    {"hrCtrl.aslr", offsetof(hr_policy, aslr), 0, 0, 1},
    {"hrCtrl.logSize", offsetof(hr_policy, log_size), HR_DEFAULT_LOG_SIZE,
     HR_LOG_SIZE_MIN, HR_LOG_SIZE_LIMIT},
};
#define NKEYS (sizeof keys / sizeof keys[0])

static uint32_t *field(hr_policy *p, const struct key *k)
{
    return (uint32_t *)((char *)p + k->off);
}

/* The decimal text v as k's figure: 0 (its default) or in its range,
 * digits only (no sign, no space); 0, or -EINVAL. */
static int parse(const struct key *k, const char *v, uint32_t *out)
{
    char *end;
    if (v[0] < '0' || v[0] > '9')
        return -EINVAL;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end || (n != 0 && (n < k->min || n > k->max)))
        return -EINVAL;
    *out = n ? (uint32_t)n : k->dflt;
    return 0;
}

static uint32_t value(const char *text, const struct key *k, const char **bad)
{
    char v[64];
    uint32_t n;
    int r = pmm__conf_value(text, k->name, v, sizeof v);
    if (r == K_EUNKNOWN)
        return k->dflt; /* absent */
    if (r != K_OK || parse(k, v, &n) < 0) { /* too long, or out of range */
        if (bad && !*bad)
            *bad = k->name;
        return k->dflt;
    }
    return n;
}

int hr_policy_set(hr_policy *p, const char *key, const char *value)
{
    if (!p || !key || !value)
        return K_EFAULT;
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(key, keys[i].name) == 0)
            return parse(&keys[i], value, field(p, &keys[i]));
    return -ENOENT;
}

/* p from the text of site.conf, as hr__policy_read says. */
static void policy_of(const char *text, hr_policy *p, const char **bad)
{
    if (bad)
        *bad = NULL;
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < NKEYS; i++)
        *field(p, &keys[i]) = value(text, &keys[i], bad);
}

int hr__policy_read(const char *dir, hr_policy *p, const char **bad)
{
    char path[4200], *text = malloc(CONF_MAX);
    snprintf(path, sizeof path, "%s/" SITE_CONF, dir);
    /* read once: the keys of one writer's file (an unreadable one gives
     * the defaults, as each key absent did, and says why) */
    int r = text ? pmm__os_read_text(path, text, CONF_MAX) : -ENOMEM;
    if (r < 0 && text)
        text[0] = 0;
    policy_of(text ? text : "", p, bad);
    free(text);
    return r == -ENOENT ? 0 : r;
}

int hr_policy_read(const char *site, hr_policy *p)
{
    char dir[4096];
    const char *bad;
    if (!p)
        return K_EFAULT;
    int r = pmm_site_path(dir, sizeof dir, site);
    if (r < 0)
        return r;
    r = hr__policy_read(dir, p, &bad);
    if (r == -EFBIG || r == -EILSEQ) /* not site.conf's text: defaults */
        return K_EINVAL;
    return r < 0 ? r : bad ? K_EINVAL : K_OK;
}

int hr_policy_check(const hr_policy *p)
{
    static const uint32_t zero[2];
    if (!p)
        return K_EFAULT;
    _Static_assert(sizeof zero == sizeof p->reserved, "reserved space");
    if (memcmp(p->reserved, zero, sizeof zero) != 0)
        return -EINVAL; /* a figure this library does not know yet */
    for (size_t i = 0; i < NKEYS; i++)
        if (*field((hr_policy *)p, &keys[i]) > keys[i].max)
            return -EINVAL;
    return K_OK;
}

/* site.conf with its hrCtrl.* lines replaced by p's; other lines kept. */
static char *conf_with(const char *old, const hr_policy *p, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len); /* no file: a buffer */
    if (!f)
        return NULL;
    for (const char *line = old, *end; line && *line; line = end + !!*end) {
        end = line + strcspn(line, "\n");
        if (strncmp(line, "hrCtrl.", 7) != 0)
            fprintf(f, "%.*s\n", (int)(end - line), line);
    }
    for (size_t i = 0; i < NKEYS; i++) {
        uint32_t v = *field((hr_policy *)p, &keys[i]);
        fprintf(f, "%s=%u\n", keys[i].name, v ? v : keys[i].dflt);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

int hr_policy_update(const char *site,
                     int (*change)(hr_policy *p, int read, void *arg), void *arg)
{
    char dir[4096], path[4200], at[64], *old = malloc(CONF_MAX), *text = NULL;
    const char *bad;
    hr_policy p;
    size_t len;
    int dfd = -1, r = !change ? K_EFAULT : !old ? -ENOMEM : 0;
    if (r < 0 || (r = pmm_site_path(dir, sizeof dir, site)) < 0 ||
        (r = dfd = pmm__site_open(dir, 0, at, sizeof at)) < 0)
        goto out;
    /* from the read to the rename: see the top of this file */
    if ((r = pmm__os_flock(dfd)) < 0)
        goto out;
    snprintf(path, sizeof path, "%s/" SITE_CONF, at); /* that directory's */
    r = pmm__os_read_text(path, old, CONF_MAX); /* never rewrite what it lost */
    if (r < 0 && r != -ENOENT)
        goto out;
    if (r == -ENOENT)
        old[0] = 0;
    policy_of(old, &p, &bad);
    if ((r = change(&p, bad ? K_EINVAL : K_OK, arg)) < 0 ||
        (r = hr_policy_check(&p)) < 0)
        goto out;
    text = conf_with(old, &p, &len);
    r = text ? pmm__os_write_file(path, text, len) : -ENOMEM;
out:
    free(text);
    free(old);
    if (dfd >= 0)
        pmm__os_close(dfd); /* the lock with it */
    return r < 0 ? r : K_OK;
}

/* hr_policy_write's change: the caller's policy, whatever was there. */
static int replace(hr_policy *p, int read, void *arg)
{
    (void)read;
    *p = *(const hr_policy *)arg;
    return 0;
}

int hr_policy_write(const char *site, const hr_policy *p)
{
    int r = hr_policy_check(p);
    return r < 0 ? r : hr_policy_update(site, replace, (void *)p);
}
