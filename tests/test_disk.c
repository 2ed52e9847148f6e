/* SPDX-License-Identifier: MIT */
/*
 * test_disk.c - the DISK medium: same interface, durable metadata, blocks
 * that survive every process and the RAM bank's removal; a DISK bank that
 * site.conf names but whose file is missing (an unmounted volume) is told
 * apart from a site without a DISK medium, and never made anew.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pmm/chPmm.h>

#include "common.h"

static char disk_path[256];

static void setup(void)
{
    const char *site = site_new(0, 0);
    snprintf(disk_path, sizeof disk_path, "/tmp/hrdisk.%d.bank", getpid());
    unlink(disk_path);
    pmm_site_config c = {.rambank_size = 1 << 20, .max_blocks = 64,
                         .diskbank_path = disk_path, .diskbank_size = 1 << 20};
    cr_assert_eq(pmm_site_create(site, &c), 0);
}
static void teardown(void)
{
    char away[300];
    snprintf(away, sizeof away, "%s.away", disk_path); /* disk_away() */
    unlink(away);
    unlink(disk_path);
    site_stop_drop();
}
TestSuite(disk, .init = setup, .fini = teardown);

Test(disk, allocate_sync_and_retrieve_in_another_process)
{
    PmmName n = {"DISK", "durable"};
    VmAddr a;
    cr_assert_eq(pmmAllocate(&a, &n, 100, "D", 2), K_OK);
    strcpy((char *)a, "on disk");
    pmm_bank *b;
    cr_assert_eq(pmm_bank_open(&b, NULL, "DISK", 0), 0);
    cr_assert_eq(pmm_sync(b, "durable"), 0);
    pmm_bank_info st;
    cr_assert_eq(pmm_bank_stat(b, &st), 0);
    cr_assert_eq(st.durable, 1);
    pid_t pid = fork();
    if (pid == 0) {
        VmAddr x;
        _exit(pmmAllocate(&x, &n, 100, "D", 2) == K_OK && x == a &&
              strcmp((char *)x, "on disk") == 0 ? 0 : 1);
    }
    cr_assert_eq(wait_status(pid), 0);
    cr_assert_eq(pmm_check(disk_path, 0, NULL, NULL), 0);
    /* pmmFreeAll reaches DISK blocks too */
    cr_assert_eq(pmmFreeAll("D", 2), K_OK);
    cr_assert_eq(pmmFree(&n), K_EUNKNOWN);
}

Test(disk, crash_during_allocate_on_disk_recovers)
{
    pid_t pid = fork();
    if (pid == 0) {
        setenv("HR_CRASHPOINT", "alloc.bitmap", 1);
        PmmName n = {"DISK", "half"};
        VmAddr x;
        pmmAllocate(&x, &n, 100, "D", 2);
        _exit(0);
    }
    cr_assert_eq(wait_status(pid), 128 + 9);
    cr_assert_eq(pmm_check(disk_path, 0, NULL, NULL), 0);
    PmmName n = {"DISK", "half"};
    VmAddr x;
    cr_assert_eq(pmmAllocate(&x, &n, 100, "D", 2), K_OK);
    cr_assert_eq(pmmFree(&n), K_OK);
    cr_assert_eq(pmm_check(disk_path, 0, NULL, NULL), 0);
}

Test(disk, hr_tool_sees_disk_medium)
{
    static char out[8192];
    PmmName n = {"DISK", "seen"};
    VmAddr x;
    cr_assert_eq(pmmAllocate(&x, &n, 100, "D", 2), K_OK);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "ls", "--medium", "DISK", "--json",
                        NULL), 0);
    cr_assert(strstr(out, "\"medium\": \"DISK\""), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0);
    cr_assert(strstr(out, "\"DISK\""), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "check", "--medium", "DISK", NULL), 0);
}

/* The DISK bank moved away, as when its volume is not mounted: where it
 * went, in away (cap bytes). */
static void disk_away(char *away, size_t cap)
{
    snprintf(away, cap, "%s.away", disk_path);
    cr_assert_eq(rename(disk_path, away), 0, "%s", strerror(errno));
}

Test(disk, missing_bank_is_not_an_absent_medium)
{
    char away[300];
    pmm_bank *b;
    disk_away(away, sizeof away);
    cr_assert_eq(pmm_bank_open(&b, NULL, "DISK", 0), -ENOENT);
    cr_assert_eq(pmm_bank_open(&b, NULL, "DISK", PMM_OPEN_RDONLY), -ENOENT);
    cr_assert_eq(pmm_bank_open(&b, NULL, "DISK", PMM_OPEN_CREATE), -ENOENT);
    /* the ChorusOS names have only K_E... codes: not "no such medium" */
    PmmName n = {"DISK", "d"};
    VmAddr x;
    cr_assert_eq(pmmAllocate(&x, &n, 100, "D", 2), K_EBANK);
    cr_assert_eq(access(disk_path, F_OK), -1, "no bank made in its place");
    cr_assert_eq(rename(away, disk_path), 0);
    cr_assert_eq(pmm_bank_open(&b, NULL, "DISK", 0), 0, "back, it opens");
    pmm_bank_close(b);
    /* a site whose site.conf names no DISK bank has no DISK medium */
    char conf[300];
    snprintf(conf, sizeof conf, "%s/site.conf", getenv("HR_SITE"));
    cr_assert_eq(truncate(conf, 0), 0);
    cr_assert_eq(pmm_bank_open(&b, NULL, "DISK", 0), K_EUNKNOWN);
}

Test(disk, tool_says_the_named_bank_is_missing)
{
    static char out[16384];
    char away[300];
    disk_away(away, sizeof away);
    cr_assert_eq(hr_all(out, sizeof out, "pmm", "ls", "--medium", "DISK",
                        NULL), 1, "%s", out);
    cr_assert(strstr(out, disk_path) && strstr(out, "is missing"), "%s", out);
    cr_assert(!strstr(out, "site create"), "no advice to make it anew: %s", out);
    cr_assert_eq(hr_all(out, sizeof out, "pmm", "check", "--medium", "DISK",
                        NULL), 1, "%s", out);
    cr_assert(strstr(out, "is missing") && !strstr(out, "site create"),
              "%s", out);
    cr_assert_eq(hr_all(out, sizeof out, "heap", "check", "h", "--medium",
                        "DISK", NULL), 1, "%s", out);
    cr_assert(strstr(out, "is missing"), "%s", out);
    /* site info shows the row, missing, in text and in JSON */
    cr_assert_eq(run_hr(out, sizeof out, "site", "info", NULL), 0, "%s", out);
    char row[400];
    snprintf(row, sizeof row, "DISK  missing: %s", disk_path);
    cr_assert(strstr(out, row), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0);
    snprintf(row, sizeof row, "\"DISK\": {\"path\": \"%s\", \"missing\": true}",
             disk_path);
    cr_assert(strstr(out, row), "%s", out);
    cr_assert_eq(access(disk_path, F_OK), -1, "no bank made in its place");
}

/* A log, and what a line of it should say of the DISK bank. */
struct log_want {
    char path[400];
    const char *what;
};

/* 1 when the log names the DISK bank and says what is wanted. */
static int log_says(void *arg)
{
    static char text[65536];
    const struct log_want *w = arg;
    FILE *f = fopen(w->path, "r");
    if (!f)
        return 0;
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    return strstr(text, disk_path) && strstr(text, w->what);
}

Test(disk, controller_starts_saying_the_bank_is_missing)
{
    static char out[16384];
    char away[300];
    struct log_want log = {.what = "is missing"};
    disk_away(away, sizeof away);
    cr_assert_eq(hr_all(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert(strstr(out, disk_path) && strstr(out, "is missing"), "%s", out);
    snprintf(log.path, sizeof log.path, "%s/console.log", getenv("HR_SITE"));
    poll_until(log_says, &log, "console.log naming the missing bank");
    /* and its metrics say it is down, not leave it out */
    cr_assert_eq(run_hr(out, sizeof out, "metrics", NULL), 0, "%s", out);
    cr_assert(strstr(out, "hr_bank_up{medium=\"DISK\"} 0\n") &&
              strstr(out, "hr_bank_up{medium=\"RAM\"} 1\n"), "%s", out);
    cr_assert_eq(run_hr(NULL, 0, "site", "stop", NULL), 0);
    cr_assert_eq(run_hr(NULL, 0, "site", "cold", NULL), 0);
    cr_assert_eq(access(disk_path, F_OK), -1, "no bank made in its place");
}

/* hrd --config makes a site that is not there (a reboot wiped its tmpfs)
 * with the DISK bank the configuration names: missing, it is made anew,
 * which is right for a first start, and the log says so. */
Test(disk, a_site_made_from_a_config_says_it_made_the_disk_bank)
{
    static char out[16384];
    char root[300], conf[350], dir[350];
    struct log_want log = {.what = "is made anew"};
    snprintf(root, sizeof root, "%s", getenv("HR_SITE"));
    snprintf(conf, sizeof conf, "%s/etc", root);
    snprintf(dir, sizeof dir, "%s/made", root);
    cr_assert_eq(mkdir(conf, 0755), 0);
    snprintf(out, sizeof out, "%s/site.conf", conf);
    FILE *f = fopen(out, "w");
    cr_assert(f);
    fprintf(f, "pmm.diskbank=%s\n", disk_path);
    fclose(f);
    cr_assert_eq(unlink(disk_path), 0);
    setenv("HR_SITE", dir, 1); /* the fini stops it if a check fails */
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", "--config", conf,
                        NULL), 0, "%s", out);
    snprintf(log.path, sizeof log.path, "%s/console.log", dir);
    poll_until(log_says, &log, "console.log naming the bank made anew");
    cr_assert_eq(access(disk_path, F_OK), 0);
    cr_assert_eq(run_hr(out, sizeof out, "metrics", NULL), 0, "%s", out);
    cr_assert(strstr(out, "hr_bank_up{medium=\"DISK\"} 1\n"), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    setenv("HR_SITE", root, 1);
}
