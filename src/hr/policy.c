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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* The keys other readers take: pmm.diskbank the library, the sizes a
 * configuration directory's (daemon/config.c), which judge their values;
 * known here, so that they are not said to be unknown.  All are the
 * banks', fixed when a bank is made. */
static const char *const other_keys[] = {
    "pmm.diskbank", "pmm.rambankSize", "pmm.maxBlocks", "pmm.diskbankSize",
    "pmm.diskMaxBlocks",
};
#define NALL (NKEYS + sizeof other_keys / sizeof other_keys[0])

int hr_policy_set(hr_policy *p, const char *key, const char *value)
{
    if (!p || !key || !value)
        return K_EFAULT;
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(key, keys[i].name) == 0)
            return parse(&keys[i], value, field(p, &keys[i]));
    for (size_t i = 0; i < NALL - NKEYS; i++)
        if (strcmp(key, other_keys[i]) == 0)
            return -EROFS; /* a bank's: no policy figure */
    return -ENOENT;
}

static const char *name_of(size_t i)
{
    return i < NKEYS ? keys[i].name : other_keys[i - NKEYS];
}

/* site.conf's text read line by line: the policy, and what is wrong. */
struct reading {
    hr_policy *p;
    hr__conf_say *say;
    void *arg;
    int bad;          /* hrCtrl.* figures that took their default */
    int first[NALL];  /* the line each key is on first, or 0 */
};

__attribute__((format(printf, 3, 4)))
static void tell(struct reading *rd, int line, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    if (!rd->say)
        return;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    rd->say(rd->arg, line, what);
}

/* The known key written key (kl bytes): its index, or NALL with *near the
 * one it differs from in case only, or NULL. */
static size_t known(const char *key, size_t kl, const char **near)
{
    *near = NULL;
    for (size_t i = 0; i < NALL; i++) {
        const char *name = name_of(i);
        if (strlen(name) != kl)
            continue;
        if (strncmp(key, name, kl) == 0)
            return i;
        if (strncasecmp(key, name, kl) == 0)
            *near = name;
    }
    return NALL;
}

/* The figure of k in the value v (n bytes) on line, or its default. */
static void figure(struct reading *rd, const struct key *k, const char *v,
                   size_t n, int line)
{
    char text[64]; /* longer is no figure of ours */
    if (n < sizeof text) {
        memcpy(text, v, n);
        text[n] = 0;
        if (parse(k, text, field(rd->p, k)) == 0)
            return;
        tell(rd, line, "%s=%s: not a number from %u to %u%s: its default, "
             "%u, is used", k->name, text, k->min, k->max,
             k->min ? " (or 0)" : "", k->dflt);
    } else {
        tell(rd, line, "%s: a value of %zu characters (at most %zu): its "
             "default, %u, is used", k->name, n, sizeof text - 1, k->dflt);
    }
    rd->bad++;
}

/* One line of n bytes: blank, a comment (#) or KEY=VALUE; the first line
 * of a key is the one used (as pmm__conf_value() reads it). */
static void line_of(struct reading *rd, const char *s, size_t n, int line)
{
    const char *eq = memchr(s, '=', n), *near;
    if (n == 0 || s[0] == '#')
        return;
    if (!eq || eq == s) {
        tell(rd, line, "not KEY=VALUE: ignored");
        return;
    }
    size_t kl = (size_t)(eq - s), i = known(s, kl, &near);
    if (i == NALL)
        tell(rd, line, "unknown key %.*s%s%s%s: ignored", (int)(kl > 64 ? 64 : kl),
             s, near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
    else if (rd->first[i])
        tell(rd, line, "%s again: ignored, line %d's is used", name_of(i),
             rd->first[i]);
    else if ((rd->first[i] = line) && i < NKEYS)
        figure(rd, &keys[i], eq + 1, n - kl - 1, line);
}

/* p from the text of site.conf, as hr__policy_read says. */
static int policy_of(const char *text, hr_policy *p, hr__conf_say *say,
                     void *arg)
{
    struct reading rd = {.p = p, .say = say, .arg = arg};
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < NKEYS; i++)
        *field(p, &keys[i]) = keys[i].dflt;
    int line = 1;
    for (const char *s = text, *end; *s; s = end + !!*end, line++) {
        end = s + strcspn(s, "\n");
        line_of(&rd, s, (size_t)(end - s), line);
    }
    return rd.bad;
}

int hr__policy_read(const char *dir, hr_policy *p, hr__conf_say *say,
                    void *arg)
{
    char path[4200], *text = malloc(CONF_MAX);
    snprintf(path, sizeof path, "%s/" SITE_CONF, dir);
    /* read once: the keys of one writer's file (an unreadable one gives
     * the defaults, as each key absent did, and says why) */
    int r = text ? pmm__os_read_text(path, text, CONF_MAX) : -ENOMEM;
    if (r < 0 && text)
        text[0] = 0;
    int bad = policy_of(text ? text : "", p, say, arg);
    free(text);
    return r == -ENOENT ? bad : r < 0 ? r : bad;
}

int hr_policy_read(const char *site, hr_policy *p)
{
    char dir[4096];
    if (!p)
        return K_EFAULT;
    int r = pmm_site_path(dir, sizeof dir, site);
    if (r < 0)
        return r;
    r = hr__policy_read(dir, p, NULL, NULL);
    if (r == -EFBIG || r == -EILSEQ) /* not site.conf's text: defaults */
        return K_EINVAL;
    return r < 0 ? r : r > 0 ? K_EINVAL : K_OK;
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
    int bad = policy_of(old, &p, NULL, NULL);
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
