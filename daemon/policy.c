/* SPDX-License-Identifier: MIT */
/*
 * policy.c - the restart policy (see policy.h).
 */
#define _GNU_SOURCE
#include <stdio.h>

#include "hrd.h"
#include "log.h"
#include "os/os.h"
#include "hr/policy.h"
#include "policy.h"

static void say(void *d, int line, const char *what)
{
    hrd_log(d, HRD_WARNING, "site.conf:%d: %s", line, what);
}

void hrd_policy_read(struct hrd *d)
{
    hr_policy p; /* the log, which says what is wrong, uses d's meanwhile */
    int r = hr__policy_read(d->dir, &p, say, d);
    if (r < 0)
        hrd_log(d, HRD_WARNING, "site.conf: %s: every key takes its default",
                hrd_text_file_error(r));
    d->policy = p;
}

/* Badness decays by max_badness units per interval: it drains fully in
 * one interval.  1 when, after adding one, it is over max_badness. */
static int charge(const hr_policy *p, uint64_t *milli, uint64_t *when)
{
    uint64_t now = pmm__os_now_ns();
    if (*when && now > *when) {
        double drained = (double)(now - *when) / 1e9 * 1000.0 *
                         p->max_badness / (p->interval_s ? p->interval_s : 1);
        *milli = drained >= (double)*milli ? 0 : *milli - (uint64_t)drained;
    }
    *when = now;
    *milli += 1000;
    return *milli > p->max_badness * 1000ull;
}

int hrd_policy_group_restart(struct hrd *d, int group, char *why, size_t cap)
{
    struct hr_reg_group *g = &d->reg->groups[group];
    if (!charge(&d->policy, &g->badness_milli, &g->badness_ns))
        return 0;
    snprintf(why, cap, "group %d failed more than %u times in %us", group,
             d->policy.max_badness, d->policy.interval_s);
    return 1;
}

int hrd_policy_site_restart(struct hrd *d, const char *why)
{
    struct hr_reg *reg = d->reg;
    if (charge(&d->policy, &reg->site.badness_milli, &reg->site.badness_ns)) {
        snprintf(reg->site.failure, sizeof reg->site.failure,
                 "more than %u site restarts in %us; last: %s",
                 d->policy.max_badness, d->policy.interval_s, why);
        return 1;
    }
    for (int i = 0; i < HR_REG_GROUPS; i++)
        reg->groups[i].badness_milli = 0;
    return 0;
}

void hrd_policy_forgive_site(struct hrd *d)
{
    /* a fresh try: the groups' too, or the first failure of the group
     * that failed the site escalates again at once */
    d->reg->site.badness_milli = 0;
    for (int i = 0; i < HR_REG_GROUPS; i++)
        d->reg->groups[i].badness_milli = 0;
}
