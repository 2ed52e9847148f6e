/* SPDX-License-Identifier: MIT */
/*
 * test_policy.c - a site's restart policy in its site.conf (hr_policy_* of
 * <hotrestart/hr.h>): written, read back, checked; other keys are kept,
 * and a bad figure is refused or, read from the file, replaced by its
 * default; a writer holds the site's lock, and writers and readers at
 * once see one policy whole, never a mix.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
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
    cr_assert_eq(hr_policy_set(&p, "pmm.maxBlocks", "8"), -EROFS);
    cr_assert_eq(hr_policy_set(&p, "pmm.nope", "8"), -ENOENT);
    cr_assert_eq(p.stop_ms, 1500, "a refused value changed the figure");
    /* written and read back */
    cr_assert_eq(hr_policy_write(NULL, &p), 0);
    hr_policy q;
    cr_assert_eq(hr_policy_read(NULL, &q), 0);
    cr_assert_eq(q.stop_ms, 1500);
    cr_assert_eq(q.fail_stop_ms, 0);
}

/* Is process pid waiting for a flock(2) (a "->" line of /proc/locks)? */
static int waits_for_flock(pid_t pid)
{
    char line[256], want[32];
    int found = 0;
    snprintf(want, sizeof want, " %d ", (int)pid);
    FILE *f = fopen("/proc/locks", "r");
    cr_assert_not_null(f, "/proc/locks: %m");
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, "-> FLOCK") && strstr(line, want);
    fclose(f);
    return found;
}

static pid_t writer;

static int writer_waits_or_ended(void *arg)
{
    int *ended = arg;
    if (waitpid(writer, ended, WNOHANG) == writer)
        return 1;
    *ended = -1;
    return waits_for_flock(writer);
}

/* hr_policy_write holds the site's lock, the one hr site set holds: with
 * it held elsewhere, the write waits for it and changes nothing until it
 * is given back.  Before, it wrote at once, under nobody's lock. */
Test(policy, a_write_waits_for_the_site_lock)
{
    hr_policy p = {.max_badness = 9, .interval_s = 99}, q;
    int dir = open(site, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ended = -1;
    cr_assert_geq(dir, 0, "%s: %m", site);
    cr_assert_eq(flock(dir, LOCK_EX), 0);
    writer = fork();
    cr_assert_geq(writer, 0);
    if (writer == 0) {
        close(dir); /* the lock is its open file's: not the writer's */
        _exit(hr_policy_write(site, &p) == 0 ? 0 : 1);
    }
    poll_until(writer_waits_or_ended, &ended, "the writer to wait or end");
    cr_assert_eq(ended, -1, "it wrote (status %d) while the site's lock was "
                 "held", ended);
    cr_assert_eq(hr_policy_read(site, &q), 0);
    cr_assert_eq(q.max_badness, HR_DEFAULT_MAX_BADNESS, "written meanwhile");
    close(dir); /* the lock given back */
    cr_assert_eq(wait_status(writer), 0);
    cr_assert_eq(hr_policy_read(site, &q), 0);
    cr_assert_eq(q.max_badness, 9);
    cr_assert_eq(q.interval_s, 99);
}

/* Two policies, every figure different between them and from the
 * defaults but aslr (1 and its default 0). */
static const hr_policy pol[2] = {
    {11, 111, 33, 55, 1111, 3333, 1, 20000, {0, 0}},
    {22, 222, 44, 66, 2222, 4444, 0, 30000, {0, 0}},
};

/* 0 or 1 when p is that policy whole, else -1. */
static int which_whole(const hr_policy *p)
{
    for (int i = 0; i < 2; i++)
        if (memcmp(p, &pol[i], sizeof *p) == 0)
            return i;
    return -1;
}

/* Two processes write a policy each, 2000 times at once, while this one
 * reads: every read is one of the two whole (a reader took each key from
 * the file afresh, so that keys of two writers could meet in one read),
 * and so is what is left, with the line that is no policy's kept. */
Test(policy, writers_at_once_leave_one_whole_and_readers_see_one_whole)
{
    pid_t w[2];
    hr_policy q;
    unsigned long reads = 0, torn = 0;
    char conf[4096];
    write_conf("x.mine=kept\n");
    cr_assert_eq(hr_policy_write(site, &pol[0]), 0);
    for (int i = 0; i < 2; i++) {
        cr_assert_geq(w[i] = fork(), 0);
        if (w[i] == 0) {
            for (int k = 0; k < 2000; k++)
                if (hr_policy_write(site, &pol[i]) != 0)
                    _exit(1);
            _exit(0);
        }
    }
    int alive = 2, st[2] = {-1, -1};
    while (alive > 0) {
        cr_assert_eq(hr_policy_read(site, &q), 0);
        reads++;
        if (which_whole(&q) < 0 && torn++ == 0)
            fprintf(stderr, "torn: maxBadness %u interval %u logSize %u\n",
                    q.max_badness, q.interval_s, q.log_size);
        for (int i = 0; i < 2; i++)
            if (st[i] < 0 && waitpid(w[i], &st[i], WNOHANG) == w[i])
                alive--;
    }
    for (int i = 0; i < 2; i++)
        cr_assert(WIFEXITED(st[i]) && WEXITSTATUS(st[i]) == 0,
                  "writer %d failed", i);
    cr_assert_eq(torn, 0, "%lu of %lu reads saw a mix of two policies", torn,
                 reads);
    cr_assert_eq(hr_policy_read(site, &q), 0);
    cr_assert_geq(which_whole(&q), 0, "what is left is no policy whole");
    read_conf(conf, sizeof conf);
    cr_assert(strstr(conf, "x.mine=kept\n"), "the other line lost:\n%s", conf);
}

static int keep_it(hr_policy *p, int read, void *arg)
{
    (void)p, (void)read, (void)arg;
    return 0;
}

/* What site.conf cannot say is not taken for what it does not say: a
 * value longer than 63 characters, a NUL byte (the text after it unseen)
 * and a file over 64 KiB give K_EINVAL with the defaults filled in, as a
 * figure out of range does (before: K_OK, as if those keys were absent);
 * and an update does not rewrite a file it could not read whole. */
Test(policy, what_site_conf_cannot_say_is_refused_not_ignored)
{
    hr_policy q;
    char conf[256];
    snprintf(conf, sizeof conf, "hrCtrl.maxBadness=3\nhrCtrl.interval=%070d\n", 5);
    write_conf(conf);
    cr_assert_eq(hr_policy_read(site, &q), K_EINVAL, "a value of 70 characters");
    cr_assert_eq(q.max_badness, 3, "the sound key is kept");
    cr_assert_eq(q.interval_s, HR_DEFAULT_INTERVAL_S);

    char path[512];
    snprintf(path, sizeof path, "%s/site.conf", site);
    static const char nul[] = "hrCtrl.maxBadness=3\n\0hrCtrl.interval=9\n";
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(nul, 1, sizeof nul - 1, f), sizeof nul - 1);
    fclose(f);
    cr_assert_eq(hr_policy_read(site, &q), K_EINVAL, "a NUL byte");
    cr_assert_eq(q.max_badness, HR_DEFAULT_MAX_BADNESS, "every key its default");
    cr_assert_lt(hr_policy_update(site, keep_it, NULL), 0,
                 "not rewritten from what was lost");
    char back[128];
    f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert_eq(fread(back, 1, sizeof back, f), sizeof nul - 1);
    fclose(f);
    cr_assert_eq(memcmp(back, nul, sizeof nul - 1), 0, "the file as it was");

    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("hrCtrl.maxBadness=3\n", f);
    for (int i = 0; i < 1100; i++) /* 64 bytes a line: over 64 KiB */
        fputs("# a comment line of sixty-four bytes, to make the file long..\n", f);
    fclose(f);
    cr_assert_eq(hr_policy_read(site, &q), K_EINVAL, "over 64 KiB");
    cr_assert_eq(q.max_badness, HR_DEFAULT_MAX_BADNESS);
}
