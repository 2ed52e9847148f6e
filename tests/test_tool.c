/* SPDX-License-Identifier: MIT */
/*
 * test_tool.c - the hr tool: every subcommand, --json shapes, exit codes,
 * and clear errors for bad usage.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hotrestart/hr.h>

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
    /* a failed info prints no half of its answer: a directory that is no
     * site, then a site whose RAM bank is damaged */
    cr_assert_eq(mkdir(dir, 0700), 0);
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 1);
    cr_assert_str_empty(out, "nothing on stdout");
    cr_assert_eq(run_hr(out, sizeof out, "site", "info", NULL), 1);
    cr_assert_str_empty(out, "nothing on stdout");
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0);
    char bank[300];
    snprintf(bank, sizeof bank, "%s/ram.bank", dir);
    static char ones[8192]; /* both copies of the header */
    memset(ones, 0xff, sizeof ones);
    int fd = open(bank, O_WRONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(pwrite(fd, ones, sizeof ones, 0), (ssize_t)sizeof ones);
    close(fd);
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 1);
    cr_assert_str_empty(out, "nothing on stdout");
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
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "ls", "--medium", "TAPE", NULL), 2,
                 "an unknown medium is bad usage");
    cr_assert_eq(run_hr(out, sizeof out, "heap", "check", "h", "--medium", "TAPE",
                        NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "ls", "--repair", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--rambank-size", "12Q",
                        NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--max-blocks", "0", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "site", "info", "--max-blocks", "3", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "freeall", "0123456789012345678901234567890123",
                        NULL), 2, "key too long");
}

/* Run python's json module, strictly, over text: it must be UTF-8 and one
 * JSON value whose blocks (a "blocks" list, or the value itself if it is
 * one) each have a name that is their name_hex bytes decoded with U+FFFD
 * for what is not UTF-8, and among which is a block for each hex name
 * given.  Returns python's exit status: 0 when all holds. */
static int python_json(const char *text, const char *hex0, ...)
{
    static const char script[] =
        "import json, sys\n"
        "d = json.loads(sys.stdin.buffer.read().decode('utf-8'))\n"
        "blocks = d['blocks'] if 'blocks' in d else [d] if 'name_hex' in d else []\n"
        "for b in blocks:\n"
        "    want = bytes.fromhex(b['name_hex']).decode('utf-8', 'replace')\n"
        "    assert b['name'] == want, (b['name'], want)\n"
        "have = {b['name_hex'] for b in blocks}\n"
        "for h in sys.argv[1:]:\n"
        "    assert h in have, (h, have)\n";
    const char *argv[16] = {"python3", "-c", script};
    int n = 3;
    va_list ap;
    va_start(ap, hex0);
    for (const char *h = hex0; h && n < 15; h = va_arg(ap, const char *))
        argv[n++] = h;
    va_end(ap);
    argv[n] = NULL;
    return run_prog("/usr/bin/python3", argv, text, NULL, 0);
}

Test(tool, json_is_valid_for_any_block_name)
{
    /* control bytes, a byte that is never UTF-8, a quote, a backslash, a
     * well-formed two-byte character, a truncated three-byte one, an
     * overlong slash and an encoded surrogate */
    static const char *const names[] = {"a\x01\xff\"\\z", "caf\xc3\xa9",
                                        "\xe2\x82", "\xc0\xaf\x7f\n", "\xed\xa0\x80"};
    static const char *const hex[] = {"6101ff225c7a", "636166c3a9", "e282",
                                      "c0af7f0a", "eda080"};
    VmAddr x;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        PmmName n = ram_name(names[i]);
        cr_assert_eq(pmmAllocate(&x, &n, 10, "\xfe\"", 2), K_OK);
    }
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "ls", "--json", NULL), 0);
    cr_assert_eq(python_json(out, hex[0], hex[1], hex[2], hex[3], hex[4], NULL), 0,
                 "%s", out);
    cr_assert(strstr(out, "\"name\": \"a\\u0001\\ufffd\\\"\\\\z\""), "%s", out);
    cr_assert(strstr(out, "\"name\": \"caf\xc3\xa9\""), "UTF-8 is kept: %s", out);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "show", names[0], "--json", NULL), 0);
    cr_assert_eq(python_json(out, hex[0], NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0);
    cr_assert_eq(python_json(out, NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "check", "--json", NULL), 0);
    cr_assert_eq(python_json(out, NULL), 0, "%s", out);
    cr_assert_eq(python_json("{\"blocks\": [{\"name\": \"\xff\", \"name_hex\": \"ff\"}]}",
                             NULL), 1, "the check itself refuses what is not UTF-8");
}

Test(tool, options_mix_with_operands)
{
    PmmName n = ram_name("-x");
    VmAddr x;
    cr_assert_eq(pmmAllocate(&x, &n, 10, "JOB", 4), K_OK);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "--json", "show", "--medium=RAM",
                        "--", "-x", NULL), 0, "-- ends the options");
    cr_assert(strstr(out, "\"name\": \"-x\""), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "show", "-x", NULL), 2,
                 "without --, -x is an option");
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "freeall", "--hex", "4a4f4200",
                        "--json", NULL), 0);
    cr_assert(strstr(out, "\"freed\": 1"), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "ls", "--site", "/nonexistent/site",
                        NULL), 1, "--site after the subcommand");
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "ls", "--bogus", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "ls", "--json=yes", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--max", "5", NULL), 2,
                 "an ambiguous abbreviation");
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "ls", "--med", "RAM", "--json", NULL), 0,
                 "an unambiguous one");
    cr_assert_eq(run_hr(out, sizeof out, "ps", "--help", NULL), 0);
    cr_assert(strstr(out, "usage: hr ps"), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "log", "--help", NULL), 0);
    cr_assert(strstr(out, "-f follows"), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "shutdown", "-i", "2", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "restart", "now", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "log", "now", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "1", "2", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "akill", "--", "-5", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "--version", NULL), 0);
    cr_assert(strstr(out, "hotrestart"), "%s", out);
}

/* Each option of hr site goes with the subcommands its table row names:
 * with another it is refused (exit 2, naming the one it goes with), never
 * dropped.  Before the tables, `site info --force` and `site stop --force`
 * ran as if --force were not there. */
Test(tool, option_with_another_subcommand_is_refused)
{
    static const char *const wrong[][3] = {
        {"info", "--force", NULL},     {"stop", "--force", NULL},
        {"info", "--config", "/tmp"},  {"set", "--force", NULL},
        {"destroy", "--huge", NULL},   {"start", "--max-groups", "3"},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        cr_assert_eq(run_hr(out, sizeof out, "site", wrong[i][0], wrong[i][1],
                            wrong[i][2], NULL), 2, "site %s %s: %s",
                     wrong[i][0], wrong[i][1], out);
    }
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "ls", "--hex", NULL), 2);
    /* what a subcommand's row needs, checked after its usage: a site */
    cr_assert_eq(run_hr(out, sizeof out, "--site", "/nonexistent/site", "site",
                        "info", NULL), 1, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "--site", "/nonexistent/site", "site",
                        "info", "--force", NULL), 2, "usage first: %s", out);
}

/* A controller's sockets are SITE/control.sock and SITE/notify.sock, whose
 * paths must fit a socket address: a site path over HR_SITE_PATH_MAX
 * bytes is refused by create, start and hrd itself (before: made and
 * started, then never reached by ps, stop or destroy: "File name too
 * long" with a controller left running). */
Test(tool, a_site_path_too_long_for_its_socket_is_refused)
{
    char at[HR_SITE_PATH_MAX + 2], buf[4096];
    const char *base = getenv("HR_SITE");
    int n = snprintf(at, sizeof at, "%s/", base);
    cr_assert_lt(n, (int)HR_SITE_PATH_MAX - 8);
    memset(at + n, 'e', HR_SITE_PATH_MAX + 1 - (size_t)n);
    at[HR_SITE_PATH_MAX + 1] = 0; /* one byte over */
    char *const create[] = {HR_BIN, "--site", at, "site", "create", NULL};
    cr_assert_eq(run_all(buf, sizeof buf, 0, 0, create), 2, "%s", buf);
    cr_assert(strstr(buf, "over the 94 a site may have"), "%s", buf);
    cr_assert_eq(access(at, F_OK), -1, "nothing made");
    char *const start[] = {HR_BIN, "--site", at, "site", "start", NULL};
    cr_assert_eq(run_all(buf, sizeof buf, 0, 0, start), 2, "%s", buf);
    cr_assert(strstr(buf, "over the 94 a site may have"), "%s", buf);
    cr_assert_eq(mkdir(at, 0700), 0);
    char *const hrd[] = {HRD_BIN, "--site", at, NULL};
    cr_assert_eq(run_all(buf, sizeof buf, 0, 0, hrd), 1, "%s", buf);
    cr_assert(strstr(buf, "95 bytes, over the 94"), "%s", buf);
    rmdir(at);
    at[HR_SITE_PATH_MAX] = 0; /* the longest a site may have */
    cr_assert_eq(run_all(buf, sizeof buf, 0, 0, create), 0, "%s", buf);
    char *const destroy[] = {HR_BIN, "--site", at, "site", "destroy", NULL};
    cr_assert_eq(run_all(buf, sizeof buf, 0, 0, destroy), 0, "%s", buf);
}

/* A program that is not there is named as such: an upgrade's used to be
 * worded "no controller runs in this site" (the call's -ENOENT), and an
 * empty name was found as the first directory of $PATH. */
Test(tool, a_program_not_there_is_named)
{
    char buf[4096];
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    char *const up[] = {HR_BIN, "upgrade", "x", "/nonexistent/prog", NULL};
    cr_assert_eq(run_all(buf, sizeof buf, 0, 0, up), 1, "%s", buf);
    cr_assert(strstr(buf, "upgrade: /nonexistent/prog: No such file or "
                          "directory"), "%s", buf);
    char *const updir[] = {HR_BIN, "upgrade", "x", "/tmp", NULL};
    cr_assert_eq(run_all(buf, sizeof buf, 0, 0, updir), 1, "%s", buf);
    cr_assert(strstr(buf, "upgrade: /tmp: not an executable file"), "%s", buf);
    char *const empty[] = {HR_BIN, "arun", "-g", "1", "", NULL};
    cr_assert_eq(run_all(buf, sizeof buf, 0, 0, empty), 1, "%s", buf);
    cr_assert(strstr(buf, "arun: : not found on $PATH"), "%s", buf);
    char *const upempty[] = {HR_BIN, "upgrade", "x", "", NULL};
    cr_assert_eq(run_all(buf, sizeof buf, 0, 0, upempty), 1, "%s", buf);
    cr_assert(strstr(buf, "upgrade: : not found on $PATH"), "%s", buf);
}

/* Options the synopses give as alternatives are refused together, an
 * empty --config is no directory, and a site destroy refused for a
 * directory open to others says so (before: each accepted, or "system key
 * or block"). */
Test(tool, alternatives_and_empty_names_are_refused)
{
    char buf[4096], open_dir[] = "/tmp/hrtest.open.XXXXXX";
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    char *const both[] = {HR_BIN, "arun", "-g", "1", "--ready-fd", "5",
                          "--notify", "/bin/true", NULL};
    cr_assert_eq(run_all(buf, sizeof buf, 0, 0, both), 2, "%s", buf);
    cr_assert(strstr(buf, "--ready-fd N or --notify, not both"), "%s", buf);
    const char *site = getenv("HR_SITE");
    char *const empty[] = {HRD_BIN, "--site", (char *)site, "--config", "", NULL};
    cr_assert_eq(run_all(buf, sizeof buf, 0, 0, empty), 2, "%s", buf);
    cr_assert(strstr(buf, "--config needs a directory"), "%s", buf);
    char *const ends[] = {HRD_BIN, "--site", (char *)site, "--end-group", "1",
                          "--end-leftovers", NULL};
    cr_assert_eq(run_all(buf, sizeof buf, 0, 0, ends), 2, "%s", buf);
    cr_assert(strstr(buf, "--end-group G or --end-leftovers"), "%s", buf);
    cr_assert_not_null(mkdtemp(open_dir));
    cr_assert_eq(chmod(open_dir, 0755), 0);
    char *const destroy[] = {HR_BIN, "--site", open_dir, "site", "destroy", NULL};
    int r = run_all(buf, sizeof buf, 0, 0, destroy);
    rmdir(open_dir);
    cr_assert_eq(r, 1, "%s", buf);
    cr_assert(strstr(buf, "is open to others (mode 0755)"), "%s", buf);
}
