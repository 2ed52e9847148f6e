/* SPDX-License-Identifier: MIT */
/*
 * test_huge_fs.c - which file systems hold a huge-page bank, a bank at
 * all, and what a huge-page bank costs (docs/huge-pages.md):
 *  - a tmpfs mounted huge=advise gives no huge pages to a bank (its pages
 *    are reserved before any mapping can ask): --huge refuses it with the
 *    reason, the default makes a bank of 4 KiB pages;
 *  - a refused `hr site create` leaves nothing it made: not the site
 *    directory, nor a parent it made (a directory that was there stays);
 *  - hugetlbfs is refused in every mode, with the reason, nothing made;
 *  - a cold restart makes the bank again with the old bank's pages: a
 *    site made --no-huge on a huge tmpfs stays on 4 KiB pages;
 *  - the figures the docs give: a 16 MiB huge bank holds four 2 MiB
 *    blocks, a new huge bank holds 2 MiB of memory, a block's file pages
 *    are reserved whole, written or not.
 *
 * Each test runs in its own process (Criterion forks) in a mount namespace
 * of its own; skipped, saying why, where no private mount can be made or
 * the kernel has no shmem huge pages.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "common.h"

#define MIB (1ull << 20)

static char dir[128], ext[128];

static void teardown(void)
{
    if (dir[0]) {
        umount2(dir, MNT_DETACH);
        rmdir(dir);
    }
    if (ext[0]) {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", ext);
        if (system(cmd) != 0)
            fprintf(stderr, "left %s\n", ext);
    }
}
TestSuite(huge_fs, .fini = teardown);

/* `hr ARGS` in the current site, its stdout and stderr into out. */
static int hr_sh(char *out, size_t cap, const char *args)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", HR_BIN, args);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    return run_prog("/bin/sh", argv, NULL, out, cap);
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Skip where shmem_enabled says force: every tmpfs has huge pages then. */
static void skip_if_forced(void)
{
    char buf[256] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
    if (f && fgets(buf, sizeof buf, f) && strstr(buf, "[force]"))
        cr_skip_test("shmem huge pages forced system-wide");
    if (f)
        fclose(f);
}

/* huge_page_size of the site's RAM bank, as hr site info --json says. */
static unsigned long long huge_size_now(void)
{
    char out[8192];
    cr_assert_eq(run_hr(out, sizeof out, "site", "info", "--json", NULL), 0,
                 "%s", out);
    const char *at = strstr(out, "\"huge_page_size\": ");
    cr_assert_not_null(at, "%s", out);
    return strtoull(at + 18, NULL, 10);
}

/* Before, huge=advise was taken as giving huge pages: the bank was made
 * for them, but reserve_ahead's fallocate allocated its blocks' pages
 * small before MADV_HUGEPAGE on the mapping could ask. */
Test(huge_fs, huge_advise_is_refused_for_huge_and_gives_small_pages)
{
    char out[8192];
    if (huge_unavailable())
        cr_skip_test("%s", huge_unavailable());
    skip_if_forced();
    mounted_site(dir, sizeof dir, "tmpfs", "size=64m,mode=0700,huge=advise");
    cr_assert_eq(hr_sh(out, sizeof out, "site create --huge"), 1, "%s", out);
    cr_assert(strstr(out, "huge=advise") && strstr(out, "reserves its pages ahead")
              && strstr(out, "huge=within_size"), "%s", out);
    pmm_site_config c = {.huge = PMM_HUGE_ON};
    cr_assert_eq(pmm_site_create(NULL, &c), -EOPNOTSUPP);
    cr_assert(strstr(pmm_site_create_why(), "huge=advise"), "%s",
              pmm_site_create_why());
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    cr_assert_eq(huge_size_now(), 0, "a bank of 4 KiB pages by default");
}

/* Before, the site directory (and a parent it had made) stayed after
 * "nothing made": it was made before the file system was refused. */
Test(huge_fs, a_refused_create_leaves_no_directory_it_made)
{
    char out[8192], site[256], mine[256];
    skip_if_forced();
    mounted_site(dir, sizeof dir, "tmpfs", "size=64m,mode=0700,huge=never");
    snprintf(site, sizeof site, "%s/a/b/site", dir);
    setenv("HR_SITE", site, 1);
    cr_assert_eq(hr_sh(out, sizeof out, "site create --huge"), 1, "%s", out);
    cr_assert(strstr(out, "huge=never"), "%s", out);
    snprintf(site, sizeof site, "%s/a", dir);
    cr_assert_not(exists(site), "%s left by a refused create", site);
    /* a directory that was there is not this call's to remove */
    snprintf(mine, sizeof mine, "%s/mine", dir);
    cr_assert_eq(mkdir(mine, 0700), 0);
    setenv("HR_SITE", mine, 1);
    cr_assert_eq(hr_sh(out, sizeof out, "site create --huge"), 1, "%s", out);
    cr_assert(exists(mine), "the directory the caller made is kept");
    /* not a tmpfs at all (the test's /tmp, where it is not one) */
    struct statfs fs;
    if (statfs("/tmp", &fs) < 0 || fs.f_type == 0x01021994)
        return (void)fprintf(stderr, "/tmp is a tmpfs: no disk case here\n");
    snprintf(ext, sizeof ext, "/tmp/hrhuge-ext.%d", getpid());
    snprintf(site, sizeof site, "%s/parent/site", ext);
    setenv("HR_SITE", site, 1);
    cr_assert_eq(hr_sh(out, sizeof out, "site create --huge"), 1, "%s", out);
    cr_assert(strstr(out, "not a tmpfs"), "%s", out);
    cr_assert_not(exists(ext), "%s left by a refused create", ext);
}

/* Before, a default create on hugetlbfs failed with a bare "Invalid
 * argument" (a small-page bank's write refused) and left the directory. */
Test(huge_fs, hugetlbfs_is_refused_in_every_mode_with_the_reason)
{
    char out[8192], site[256];
    mounted_site(dir, sizeof dir, "hugetlbfs", "mode=0700");
    snprintf(site, sizeof site, "%s/site", dir);
    const char *modes[] = {"site create", "site create --no-huge",
                           "site create --huge"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(hr_sh(out, sizeof out, modes[i]), 1, "%s: %s", modes[i], out);
        cr_assert(strstr(out, "hugetlbfs takes no write(2)"), "%s: %s",
                  modes[i], out);
        cr_assert_not(exists(site), "%s: the site directory left", modes[i]);
    }
    pmm_site_config c = {.huge = PMM_HUGE_AUTO};
    cr_assert_eq(pmm_site_create(NULL, &c), -EOPNOTSUPP);
    cr_assert(strstr(pmm_site_create_why(), "hugetlbfs"), "%s",
              pmm_site_create_why());
}

/* Before, hr site cold remade a --no-huge bank with huge pages. */
Test(huge_fs, cold_makes_the_bank_again_with_its_old_pages)
{
    char out[8192];
    if (huge_unavailable())
        cr_skip_test("%s", huge_unavailable());
    mounted_site(dir, sizeof dir, "tmpfs", "size=256m,mode=0700,huge=within_size");
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--no-huge", NULL),
                 0, "%s", out);
    cr_assert_eq(huge_size_now(), 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "cold", NULL), 0, "%s", out);
    cr_assert_eq(huge_size_now(), 0, "--no-huge kept by the cold restart");
    cr_assert_eq(run_hr(out, sizeof out, "site", "destroy", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    cr_assert_eq(huge_size_now(), 2 * MIB);
    cr_assert_eq(run_hr(out, sizeof out, "site", "cold", NULL), 0, "%s", out);
    cr_assert_eq(huge_size_now(), 2 * MIB, "a huge-page bank stays one");
}

/* KiB of memory the file at path holds. */
static unsigned long long file_kib(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    return (unsigned long long)st.st_blocks / 2;
}

/* The figures of docs/huge-pages.md and pmm_alloc(3): a 2 MiB block in a
 * huge bank takes 4 MiB of its address space (its guard page starts the
 * next 2 MiB slot), so a 16 MiB bank holds four though it says almost 8 MiB free;
 * a new huge bank holds 2 MiB; a 64 MiB block half written holds 64. */
Test(huge_fs, what_a_huge_bank_costs_as_documented)
{
    char bank[256];
    if (huge_unavailable())
        cr_skip_test("%s", huge_unavailable());
    mounted_site(dir, sizeof dir, "tmpfs", "size=256m,mode=0700,huge=within_size");
    pmm_site_config c = {.rambank_size = 16 * MIB, .huge = PMM_HUGE_ON};
    cr_assert_eq(pmm_site_create(NULL, &c), 0, "%s", pmm_site_create_why());
    snprintf(bank, sizeof bank, "%s/site/ram.bank", dir);
    cr_assert_eq(file_kib(bank), 2048, "a new huge bank holds its 2 MiB head");
    pmm_bank *b = bank_open();
    int n = 0, r;
    char name[16];
    do {
        snprintf(name, sizeof name, "b%d", n);
        void *p;
        r = pmm_alloc(b, name, 2 * MIB, "K", 2, 0, &p, NULL);
    } while (r == 0 && ++n < 16);
    cr_assert_eq(r, K_ENOMEM, "%s", pmm_strerror(r));
    cr_assert_eq(n, 4, "2 MiB blocks in a 16 MiB huge bank: %d", n);
    pmm_bank_info st;
    cr_assert_eq(pmm_bank_stat(b, &st), 0);
    cr_assert_geq(st.free, 8 * MIB - 64 * 1024, "free says %llu",
                  (unsigned long long)st.free);
    pmm_bank_close(b);
    cr_assert_eq(run_hr(NULL, 0, "site", "destroy", NULL), 0);
    c = (pmm_site_config){.rambank_size = 128 * MIB, .huge = PMM_HUGE_OFF};
    cr_assert_eq(pmm_site_create(NULL, &c), 0);
    b = bank_open();
    unsigned long long before = file_kib(bank);
    void *p;
    cr_assert_eq(pmm_alloc(b, "half", 64 * MIB, "K", 2, 0, &p, NULL), 0);
    memset(p, 1, 32 * MIB);
    cr_assert_geq(file_kib(bank) - before, 64 * 1024,
                  "a block's pages are reserved whole, written or not");
    pmm_bank_close(b);
}
