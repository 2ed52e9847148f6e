/* SPDX-License-Identifier: MIT */
/*
 * hr.c - the hotrestart command-line tool: global options and dispatch.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include <hotrestart/version.h>

#include "hr.h"

static const char usage[] =
    "usage: hr [--site DIR] [--json] COMMAND [ARGS]\n"
    "\n"
    "Sites, persistent memory blocks and restartable actors.\n"
    "\n"
    "commands:\n"
    "  site create|info|destroy   make, describe or remove a site\n"
    "  site start|stop            start or stop the site's controller (hrd)\n"
    "  site restart|cold          site restart (also: restart, shutdown -i 1);\n"
    "                             cold: wipe the RAM bank and registry\n"
    "  arun [-g G] PROG [ARGS]    start a direct restartable actor in group G\n"
    "  akill PID | akill -g G     restart PID's group | kill group G for good\n"
    "  ps                         groups and actors\n"
    "  log [-f] [--all]           the site's console log\n"
    "  metrics [--listen ADDR]    counters in the Prometheus text format\n"
    "  pmm ls|show|free|freeall|check\n"
    "                             list, show and free blocks; check a bank\n"
    "  heap check|stat NAME       check a persistent heap, or show its use\n"
    "\n"
    "options:\n"
    "  --site DIR   the site directory (default: $HR_SITE, else /run/hotrestart\n"
    "               for root, $XDG_RUNTIME_DIR/hotrestart or /tmp/hotrestart-UID)\n"
    "  --json       machine-readable output\n"
    "  --help       this text; 'hr COMMAND --help' for a command\n"
    "  --version    the version\n"
    "\n"
    "exit codes: 0 success, 1 the operation failed, 2 bad usage,\n"
    "            3 the bank or heap is inconsistent (hr pmm check, hr heap check)\n";

enum { OPT_VERSION = HR_OPT_OWN };

/* A command: its name and what runs it. */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv, const struct hr_opts *o);
} commands[] = {
    {"site", hr_cmd_site},
    {"pmm", hr_cmd_pmm},
    {"heap", hr_cmd_heap},
    {"arun", hr_cmd_arun},
    {"akill", hr_cmd_akill},
    {"ps", hr_cmd_ps},
    {"upgrade", hr_cmd_upgrade},
    {"log", hr_cmd_log},
    {"metrics", hr_cmd_metrics},
    {"restart", hr_cmd_restart},  /* the ChorusOS C_INIT spellings */
    {"shutdown", hr_cmd_restart}, /* of hr site restart */
};

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"version", no_argument, NULL, OPT_VERSION},
        HR_OPTS_COMMON,
    };
    struct hr_opts o = {0};
    struct hr_cmdline cl = {.cmd = NULL, .usage = usage, .shorts = "+",
                            .longs = longs, .o = &o};
    if (hr_getopt(argc, argv, &cl) == OPT_VERSION) {
        puts("hr (hotrestart) " HR_VERSION_STRING);
        return HR_EXIT_OK;
    }
    if (optind >= argc) {
        fputs(usage, stderr);
        return HR_EXIT_USAGE;
    }
    int i = optind;
    for (size_t k = 0; k < sizeof commands / sizeof *commands; k++)
        if (strcmp(argv[i], commands[k].name) == 0)
            return commands[k].run(argc - i, argv + i, &o);
    hr_die(HR_EXIT_USAGE, "unknown command '%s' (see hr --help)", argv[i]);
}
