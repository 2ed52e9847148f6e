/*
 * test_tool.c - the hr tool: every subcommand, --json shapes, exit codes,
 * and clear errors for bad usage.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <pmm/chPmm.h>

#include "common.h"
#include "os.h"
#include "pmm/alloc.h"
#include "pmm/view.h"

static void setup(void) { site_new(0, 0); }
static void teardown(void) { site_drop(); }
TestSuite(tool, .init = setup, .fini = teardown);

static char out[65536];

Test(tool, site_create_info_destroy)
{
    site_drop();
    char dir[256];
    snprintf(dir, sizeof dir, "%s", site_new(0, 0));
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--rambank-size", "8M",
                        "--max-blocks", "100", NULL), 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 1,
                 "a second create is refused");
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0);
    cr_assert(strstr(out, "\"size\": 8388608"), "%s", out);
    cr_assert(strstr(out, "\"max_blocks\": 100"), "%s", out);
    cr_assert(strstr(out, "\"used\": 0"), "%s", out);
    cr_assert(strstr(out, "\"free\": 8388608"), "%s", out);
    cr_assert(strstr(out, "\"blocks\": 0"), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "destroy", NULL), 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "info", NULL), 1);
}

Test(tool, pmm_ls_show_free_freeall_json)
{
    PmmName a = {"RAM", "alpha"}, b = {"RAM", "beta"}, c = {"RAM", "gamma"};
    VmAddr x;
    cr_assert_eq(pmmAllocate(&x, &a, 100, "JOB", 4), K_OK);
    cr_assert_eq(pmmAllocate(&x, &b, 5000, "JOB", 4), K_OK);
    cr_assert_eq(pmmAllocate(&x, &c, 10, "\x01\x02", 2), K_OK);
    cr_assert_eq(pmm__alloc_sys(bank_open(), "__SYS.reg", 10, "__SYSREG", 8, 0, -1,
                                (void **)&x, NULL), 0);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "ls", "--json", NULL), 0);
    cr_assert(strstr(out, "\"name\": \"alpha\""), "%s", out);
    cr_assert(strstr(out, "\"key\": \"4a4f4200\""), "%s", out);
    cr_assert(strstr(out, "\"group\": null"), "%s", out);
    cr_assert(strstr(out, "\"system\": true"), "%s", out);
    cr_assert(strstr(out, "\"medium\": \"RAM\""), "%s", out);
    cr_assert(strstr(out, "\"size\": 8192"), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "ls", NULL), 0);
    cr_assert(strstr(out, "beta") && strstr(out, "JOB"), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "show", "gamma", "--json", NULL), 0);
    cr_assert(strstr(out, "\"key\": \"0102\""), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "show", "nope", NULL), 1);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "free", "__SYS.reg", NULL), 1,
                 "system blocks cannot be freed from the tool");
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "free", "gamma", NULL), 0);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "free", "gamma", NULL), 1);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "freeall", "JOB", "--json", NULL), 0);
    cr_assert(strstr(out, "\"freed\": 2"), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "freeall", "JOB", NULL), 1);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "freeall", "__SYSREG", "--hex", NULL), 2,
                 "bad hex");
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "freeall", "5f5f535953524547", "--hex",
                        NULL), 1, "system key refused");
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0);
    cr_assert(strstr(out, "\"blocks\": 1"), "%s", out);
}

Test(tool, check_exit_codes)
{
    PmmName a = {"RAM", "alpha"};
    VmAddr x;
    cr_assert_eq(pmmAllocate(&x, &a, 100, NULL, 0), K_OK);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "check", NULL), 0);
    cr_assert(strstr(out, "consistent"), "%s", out);
    /* damage the hash heads */
    pmm_bank *b = bank_open();
    uint32_t bogus = 0xfffffff0;
    for (uint64_t k = 0; k < b->g.nbuckets; k++)
        cr_assert_eq(pmm__os_pwrite(b->fd, &bogus, 4, b->g.buckets_off + k * 4), 0);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "check", "--json", NULL), 3);
    cr_assert(strstr(out, "\"consistent\": false"), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "check", "--repair", NULL), 0);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "check", NULL), 0);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "check", "--bank", "/nonexistent",
                        NULL), 1);
}

Test(tool, usage_errors_and_help)
{
    cr_assert_eq(run_hr(out, sizeof out, "--help", NULL), 0);
    cr_assert(strstr(out, "exit codes"), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "--help", NULL), 0);
    cr_assert(strstr(out, "freeall"), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "--help", NULL), 0);
    cr_assert(strstr(out, "--rambank-size"), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "bogus", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "--bogus", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "bogus", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "show", NULL), 2);
    char long_name[100];
    memset(long_name, 'n', 80);
    long_name[80] = 0;
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "show", long_name, NULL), 2,
                 "a name too long is a usage error");
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "free", "", NULL), 2, "so is an empty one");
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "ls", "extra", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "ls", "--medium", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "ls", "--medium", "TAPE", NULL), 1);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "ls", "--repair", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--rambank-size", "12Q",
                        NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--max-blocks", "0", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "site", "info", "--max-blocks", "3", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "freeall", "0123456789012345678901234567890123",
                        NULL), 2, "key too long");
}
