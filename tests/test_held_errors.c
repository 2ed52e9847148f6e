/* SPDX-License-Identifier: MIT */
/*
 * test_held_errors.c - what hr arun says when a --listen cannot be had:
 * the address and the reason, never another option's fault.  A controller
 * in a throwaway site; hr's output (stdout and stderr) and exit status.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "ctl_helpers.h"

static char out[65536];
static const char *site;

static void up(void) { site = site_new(0, 0); }

TestSuite(held_errors, .init = up, .fini = site_stop_drop, .timeout = 120);

/* A host that does not resolve, with --name given: before, the
 * controller's -EINVAL was taken for a bad --name (exit 2), and the
 * lookup's reason was lost. */
Test(held_errors, a_host_that_does_not_resolve_is_no_bad_name)
{
    site_start(out, sizeof out);
    int r = hr_all(out, sizeof out, "arun", "-g", "5", "--name", "okname",
                   "--listen", "tcp:nosuchhost.invalid:47702", "/bin/sleep",
                   "100", NULL);
    cr_assert_eq(r, 1, "exit %d: %s", r, out);
    cr_assert_null(strstr(out, "bad --name"), "%s", out);
    cr_assert(strstr(out, "--listen tcp:nosuchhost.invalid:47702: host "
                          "nosuchhost.invalid: "), "%s", out);
    cr_assert_null(strstr(out, "Invalid argument"), "%s", out);
}

/* More --listen than an actor may hold (HRD_HELD_MAX, 8): said so.
 * Before, a bare -EINVAL, taken for a bad --name. */
Test(held_errors, more_than_eight_listen_are_refused_saying_so)
{
    char spec[9][32];
    char *argv[32] = {HR_BIN, "arun", "-g", "5", "--name", "many"};
    int n = 6;
    site_start(out, sizeof out);
    for (int i = 0; i < 9; i++) { /* nine addresses, the kernel's ports */
        snprintf(spec[i], sizeof spec[i], "tcp:127.0.0.%d:0", i + 1);
        argv[n++] = "--listen";
        argv[n++] = spec[i];
    }
    argv[n++] = "/bin/sleep";
    argv[n++] = "100";
    int r = run_all(out, sizeof out, 0, 0, argv);
    cr_assert_eq(r, 1, "exit %d: %s", r, out);
    cr_assert(strstr(out, "at most 8 --listen per actor"), "%s", out);
    cr_assert_null(strstr(out, "bad --name"), "%s", out);
}

/* A unix: path that is a file or a directory is no address in use (as
 * it was called before): said so, exit 1, the file left alone. */
Test(held_errors, a_unix_path_that_is_no_socket_is_said_so)
{
    char file[200], spec[220];
    site_start(out, sizeof out);
    script_file(file, sizeof file, site, "plain", "not a socket\n");
    snprintf(spec, sizeof spec, "unix:%s", file);
    int r = hr_all(out, sizeof out, "arun", "-g", "5", "--listen", spec,
                   "/bin/sleep", "100", NULL);
    cr_assert_eq(r, 1, "exit %d: %s", r, out);
    cr_assert(strstr(out, "exists and is not a socket"), "%s", out);
    cr_assert_null(strstr(out, "in use"), "%s", out);
    snprintf(spec, sizeof spec, "unix:%s", site);
    r = hr_all(out, sizeof out, "arun", "-g", "5", "--listen", spec,
               "/bin/sleep", "100", NULL);
    cr_assert_eq(r, 1, "exit %d: %s", r, out);
    cr_assert(strstr(out, "exists and is not a socket (a directory)"), "%s",
              out);
    cr_assert_null(strstr(out, "in use"), "%s", out);
}

/* The same --listen twice: a usage error of the tool (exit 2), not an
 * address in use (the second bind's, as before). */
Test(held_errors, the_same_listen_twice_is_a_usage_error)
{
    char spec[64];
    site_start(out, sizeof out);
    snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", free_port());
    int r = hr_all(out, sizeof out, "arun", "-g", "5", "--listen", spec,
                   "--listen", spec, "/bin/sleep", "100", NULL);
    cr_assert_eq(r, 2, "exit %d: %s", r, out);
    cr_assert(strstr(out, "given twice"), "%s", out);
    cr_assert_null(strstr(out, "in use"), "%s", out);
    /* port 0 twice: two ports the kernel picks */
    r = hr_all(out, sizeof out, "arun", "-g", "5", "--listen",
               "tcp:127.0.0.1:0", "--listen", "tcp:127.0.0.1:0", "/bin/sleep",
               "100", NULL);
    cr_assert_eq(r, 0, "exit %d: %s", r, out);
}
