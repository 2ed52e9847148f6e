/* SPDX-License-Identifier: MIT */
/*
 * hr.c - the hotrestart command-line tool: global options and dispatch.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include <hotrestart/version.h>

#include "hr.h"

static const char about[] =
    "\n"
    "Sites, persistent memory blocks and restartable actors.\n"
    "\n"
    "options:\n"
    "  --site DIR   the site directory (default: $HR_SITE, else /run/hotrestart\n"
    "               for root, $XDG_RUNTIME_DIR/hotrestart or /tmp/hotrestart-UID)\n"
    "  --json       machine-readable output\n"
    "  --help       this text; 'hr COMMAND --help' for a command\n"
    "  --version    the version\n"
    "\n"
    "exit codes: 0 success, 1 the operation failed, 2 bad usage,\n"
    "            3 the bank or heap is inconsistent (hr pmm check, hr heap check,\n"
    "            hr heap stat)\n"
    "\n"
    "commands:\n";

enum { OPT_VERSION = HR_OPT_OWN };

/* The commands: a row each (hr.h, struct hr_cmd).  A command with
 * subcommands lists them (hr site's table, in site_cmd.c); one without
 * lists its options, which its main reads with hr_getopt(). */
const struct hr_cmd hr_commands[] = {
    {"site", hr_cmd_site, "make, describe, tune, start, stop, restart or\n"
     "remove a site; cold: wipe its RAM bank and registry",
     .opts = hr_site_options, .subs = hr_site_subs},
    {"arun", hr_cmd_arun, "start PROGRAM as a restartable actor of a group\n"
     "(-g GROUP), or an ordinary one", .opts = hr_arun_options,
     .operand = HR_OPERAND_PROGRAM, .synopsis = "[--] PROGRAM [ARGS...]"},
    {"akill", hr_cmd_akill, "kill PID: its group restarts; -g GROUP: kill\n"
     "the group for good", .opts = hr_akill_options, .synopsis = "[PID]"},
    {"ps", hr_cmd_ps, .help = "groups and actors"},
    {"upgrade", hr_cmd_upgrade, "put a new program in a running actor's\n"
     "place, with its state; rolled back if it fails",
     .opts = hr_upgrade_options, .operand = HR_OPERAND_PROGRAM,
     .synopsis = "[ACTOR] PROGRAM [ARGS...]"},
    {"log", hr_cmd_log, "the site's console log; -f follows it",
     .opts = hr_log_options},
    {"metrics", hr_cmd_metrics, "counters in the Prometheus text format, or\n"
     "served over HTTP (--listen)", .opts = hr_metrics_options},
    {"pmm", hr_cmd_pmm, "list, show and free blocks; check a bank",
     .subs = hr_pmm_subs, .opts = hr_pmm_options},
    {"heap", hr_cmd_heap, "check a persistent heap, or show its use",
     .subs = hr_heap_subs, .opts = hr_heap_options},
    {"restart", hr_cmd_restart, .help = "site restart (the ChorusOS C_INIT\n"
     "spellings: restart, shutdown -i 1)"},
    {"shutdown", hr_cmd_restart, .opts = hr_shutdown_options}, /* -i 1 */
    {0},
};

static const struct hr_optdef top_opts[] = {
    {"version", OPT_VERSION, HR_ARG_NONE, NULL, NULL, NULL},
    {0},
};
const struct hr_cmd hr_top = {"", NULL, NULL, top_opts, hr_commands,
                              .synopsis = "[--site DIR] [--json] COMMAND [ARGS]"};

int main(int argc, char **argv)
{
    struct hr_opts o = {0};
    if (argc > 1 && strcmp(argv[1], "--complete") == 0)
        return hr_complete(argc - 2, argv + 2);
    struct hr_cmdline cl = {.cmd = NULL, .usage = about, .table = &hr_top,
                            .stop_at_operand = 1, .o = &o};
    if (hr_getopt(argc, argv, &cl) == OPT_VERSION) {
        puts("hr (hotrestart) " HR_VERSION_STRING);
        return HR_EXIT_OK;
    }
    if (optind >= argc) {
        hr_usage(stderr, "", &hr_top, about);
        return HR_EXIT_USAGE;
    }
    int i = optind;
    for (const struct hr_cmd *c = hr_commands; c->name; c++)
        if (strcmp(argv[i], c->name) == 0)
            return c->main(argc - i, argv + i, &o);
    hr_die(HR_EXIT_USAGE, "unknown command '%s' (see hr --help)", argv[i]);
}
