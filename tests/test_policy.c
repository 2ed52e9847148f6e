/* SPDX-License-Identifier: MIT */
/*
 * test_policy.c - a site's restart policy in its site.conf (hr_policy_* of
 * <hotrestart/hr.h>): written, read back, checked; other keys are kept,
 * and a bad figure is refused or, read from the file, replaced by its
 * default.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <hotrestart/hr.h>
#include <hotrestart/pmm.h>

#include "common.h"

static const char *site;

static void setup(void)
{
    site = site_new(0, 0);
    cr_assert_eq(pmm_site_create(site, NULL), 0);
}

TestSuite(policy, .init = setup, .fini = site_drop, .timeout = 30);

static void read_conf(char *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/site.conf", site);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

static void write_conf(const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/site.conf", site);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(policy, written_then_read_back_with_defaults_for_zero)
{
    hr_policy p = {.max_badness = 7, .max_groups = 3}, q;
    cr_assert_eq(hr_policy_write(site, &p), 0);
    cr_assert_eq(hr_policy_read(site, &q), 0);
    cr_assert_eq(q.max_badness, 7);
    cr_assert_eq(q.interval_s, HR_DEFAULT_INTERVAL_S);
    cr_assert_eq(q.max_actors, HR_ACTORS_LIMIT);
    cr_assert_eq(q.max_groups, 3);
}

Test(policy, a_second_write_replaces_the_keys_and_keeps_the_others)
{
    char conf[4096];
    write_conf("pmm.diskbank=/nowhere/disk.bank\nhrCtrl.interval=9\n");
    hr_policy p = {.interval_s = 30}, q;
    cr_assert_eq(hr_policy_write(site, &p), 0);
    cr_assert_eq(hr_policy_write(site, &p), 0);
    read_conf(conf, sizeof conf);
    cr_assert(strstr(conf, "pmm.diskbank=/nowhere/disk.bank\n"), "%s", conf);
    cr_assert_null(strstr(conf, "hrCtrl.interval=9"), "%s", conf);
    char *first = strstr(conf, "hrCtrl.interval=30\n");
    cr_assert(first && !strstr(first + 1, "hrCtrl.interval="), "once: %s", conf);
    cr_assert_eq(hr_policy_read(site, &q), 0);
    cr_assert_eq(q.interval_s, 30);
}

Test(policy, a_figure_out_of_range_is_refused_and_nothing_written)
{
    char conf[4096];
    hr_policy p = {.max_groups = HR_GROUPS_LIMIT + 1};
    cr_assert_eq(hr_policy_check(&p), -EINVAL);
    cr_assert_eq(hr_policy_write(site, &p), -EINVAL);
    read_conf(conf, sizeof conf);
    cr_assert_null(strstr(conf, "hrCtrl."), "%s", conf);
    p = (hr_policy){.max_badness = HR_MAX_BADNESS_LIMIT,
                    .interval_s = HR_INTERVAL_LIMIT_S};
    cr_assert_eq(hr_policy_check(&p), 0, "the limits themselves are allowed");
}

Test(policy, a_bad_figure_in_the_file_reads_as_its_default)
{
    hr_policy q;
    write_conf("hrCtrl.maxBadness=0\nhrCtrl.maxActors=-3\nhrCtrl.maxGroups=12x\n"
               "hrCtrl.interval=5\n");
    cr_assert_eq(hr_policy_read(site, &q), K_EINVAL);
    cr_assert_eq(q.max_badness, HR_DEFAULT_MAX_BADNESS);
    cr_assert_eq(q.max_actors, HR_ACTORS_LIMIT);
    cr_assert_eq(q.max_groups, HR_GROUPS_LIMIT);
    cr_assert_eq(q.interval_s, 5, "the sound key is kept");
}

/* The structs a caller fills end in reserved space (the ABI's room for
 * fields to come): non-zero there is refused, not ignored, and what the
 * library fills reads zero there. */
Test(policy, reserved_space_must_be_zero_and_reads_zero)
{
    hr_policy p = {.max_badness = 3}, q;
    p.reserved[1] = 1; /* the last word */
    cr_assert_eq(hr_policy_check(&p), -EINVAL);
    cr_assert_eq(hr_policy_write(site, &p), -EINVAL);
    memset(&q, 0xff, sizeof q);
    cr_assert_eq(hr_policy_read(site, &q), 0);
    for (size_t i = 0; i < sizeof q.reserved / sizeof q.reserved[0]; i++)
        cr_assert_eq(q.reserved[i], 0, "reserved[%zu]", i);

    char other[512];
    snprintf(other, sizeof other, "%s/other", site);
    pmm_site_config c = {0};
    c.reserved[6] = 1;
    cr_assert_eq(pmm_site_create(other, &c), K_EINVAL);
    cr_assert_neq(access(other, F_OK), 0, "nothing made");
    c.reserved[6] = 0;
    cr_assert_eq(pmm_site_create(other, &c), 0);
    cr_assert_eq(pmm_site_destroy(other), 0);

    hr_arun_opts o = {0};
    char *argv[] = {"true", NULL};
    o.reserved[0] = 1;
    cr_assert_eq(hr_arun_with(site, 0, &o, "/bin/true", argv, NULL), -EINVAL);
}

Test(policy, set_by_key_name_in_range_only)
{
    hr_policy p = {0};
    cr_assert_eq(hr_policy_set(&p, "hrCtrl.stopTimeout", "1500"), 0);
    cr_assert_eq(p.stop_ms, 1500);
    cr_assert_eq(hr_policy_set(&p, "hrCtrl.failStopTimeout", "0"), 0);
    cr_assert_eq(p.fail_stop_ms, 0);
    cr_assert_eq(hr_policy_set(&p, "hrCtrl.maxBadness", "0"), 0); /* default */
    cr_assert_eq(p.max_badness, HR_DEFAULT_MAX_BADNESS);
    cr_assert_eq(hr_policy_set(&p, "hrCtrl.maxBadness", "+5"), -EINVAL);
    cr_assert_eq(hr_policy_set(&p, "hrCtrl.maxBadness", " 5"), -EINVAL);
    cr_assert_eq(hr_policy_set(&p, "hrCtrl.stopTimeout", "3600001"), -EINVAL);
    cr_assert_eq(hr_policy_set(&p, "hrCtrl.stopTimeout", "-1"), -EINVAL);
    cr_assert_eq(hr_policy_set(&p, "hrCtrl.stopTimeout", "12ms"), -EINVAL);
    cr_assert_eq(hr_policy_set(&p, "hrCtrl.nope", "1"), -ENOENT);
    cr_assert_eq(p.stop_ms, 1500, "a refused value changed the figure");
    /* written and read back */
    cr_assert_eq(hr_policy_write(NULL, &p), 0);
    hr_policy q;
    cr_assert_eq(hr_policy_read(NULL, &q), 0);
    cr_assert_eq(q.stop_ms, 1500);
    cr_assert_eq(q.fail_stop_ms, 0);
}
