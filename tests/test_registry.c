/* SPDX-License-Identifier: MIT */
/*
 * test_registry.c - the registry format (src/hr/registry.h): a registry
 * whose header is damaged, of another version or of another layout is
 * refused whole, with a message saying which, both by the controller at
 * start and by the public read-only reader hr_site_status(); a sound one
 * reads back what the controller wrote.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "hr/registry.h"
#include "pmm/alloc.h"

static char out[65536];

static void setup(void)
{
    site_new(0, 0);
}

TestSuite(registry, .init = setup, .fini = site_stop_drop, .timeout = 120);

/* Start and stop the site's controller once, so that it makes the
 * registry; then map it here, read-write, to damage it. */
static struct hr_reg *made_registry(void)
{
    struct hr_reg *reg;
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    cr_assert_eq(pmm__alloc_sys(bank_open(), HR_REG_NAME, sizeof *reg, HR_REG_KEY,
                                sizeof HR_REG_KEY, PMM_RETRIEVE, -1,
                                (void **)&reg, NULL), 0);
    cr_assert_eq(reg->site.generation, 1, "one controller start");
    return reg;
}

/* Run the controller (hrd, next to hr) in the foreground on the current
 * site: its exit status, and its stderr in err. */
static int run_hrd(char *err, size_t cap)
{
    char hrd[4096];
    int pipe_fd[2];
    snprintf(hrd, sizeof hrd, "%s", HR_BIN);
    snprintf(strrchr(hrd, '/'), sizeof hrd - (size_t)(strrchr(hrd, '/') - hrd),
             "/hrd");
    cr_assert_eq(pipe(pipe_fd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipe_fd[1], 2);
        close(pipe_fd[0]);
        execl(hrd, "hrd", (char *)NULL);
        _exit(127);
    }
    close(pipe_fd[1]);
    size_t n = 0;
    ssize_t k;
    while (n < cap - 1 && (k = read(pipe_fd[0], err + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    err[n] = 0;
    close(pipe_fd[0]);
    return wait_status(pid);
}

/* Refused by the reader and by the controller, each naming `what`; the
 * registry is left as it was. */
static void expect_refused(struct hr_reg *reg, const char *what)
{
    hr_site_state st;
    char why[256] = "", err[4096];
    cr_assert_eq(hr_site_status(NULL, &st, why, sizeof why), K_EBANK);
    cr_assert(strstr(why, what), "reader: '%s' does not say '%s'", why, what);
    cr_assert_eq(run_hrd(err, sizeof err), 1, "the controller must not start: %s",
                 err);
    cr_assert(strstr(err, "registry of site") && strstr(err, "refused") &&
              strstr(err, what) && strstr(err, "hr site cold"),
              "controller: '%s' does not say '%s'", err, what);
    cr_assert_eq(reg->site.generation, 1, "the refused registry is not touched");
    cr_assert(hr_ping(NULL) < 0, "no controller runs");
}

Test(registry, a_sound_registry_reads_back)
{
    made_registry();
    hr_site_state st;
    char why[256] = "x";
    cr_assert_eq(hr_site_status(NULL, &st, why, sizeof why), 0, "%s", why);
    cr_assert_eq(st.state, HR_SITE_STOPPED);
    cr_assert_eq(st.generation, 1);
    cr_assert_eq(st.controller_pid, 0);
    cr_assert_eq(st.policy.max_groups, HR_GROUPS_LIMIT, "site.conf's default");
    cr_assert_str_empty(why);
    /* and a running controller says the same, as a structured reply */
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(hr_status(NULL, &st), 0);
    cr_assert_eq(st.state, HR_SITE_RUNNING);
    cr_assert_eq(st.generation, 2);
    cr_assert_eq(st.controller_pid, hr_ping(NULL));
    cr_assert_eq(st.policy.max_badness, HR_DEFAULT_MAX_BADNESS);
}

Test(registry, a_site_never_started_reads_as_stopped)
{
    hr_site_state st;
    cr_assert_eq(hr_site_status(NULL, &st, NULL, 0), 0);
    cr_assert_eq(st.state, HR_SITE_STOPPED);
    cr_assert_eq(st.generation, 0);
    cr_assert_eq(hr_status(NULL, &st), -ECONNREFUSED, "no controller runs");
}

Test(registry, another_version_is_refused)
{
    struct hr_reg *reg = made_registry();
    reg->h.version = HR_REG_VERSION + 1;
    snprintf(out, sizeof out, "a registry of version %u", HR_REG_VERSION + 1);
    expect_refused(reg, out);
}

Test(registry, another_layout_is_refused)
{
    struct hr_reg *reg = made_registry();
    reg->h.layout_sig ^= 0x100;
    expect_refused(reg, "a registry of another layout");
}

Test(registry, a_damaged_header_is_refused)
{
    struct hr_reg *reg = made_registry();
    reg->h.created_ns ^= 1; /* one bit of the checksummed identity */
    expect_refused(reg, "header is damaged (checksum)");
}

Test(registry, a_wrong_magic_is_refused)
{
    struct hr_reg *reg = made_registry();
    reg->h.magic ^= 0xff;
    expect_refused(reg, "not a registry");
}
