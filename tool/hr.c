/*
 * hr.c - the hotrestart command-line tool: global options and dispatch.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

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
    "  log [-f]                   the site's console log\n"
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

int main(int argc, char **argv)
{
    struct hr_opts o = {0};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (hr_is_help(argv[i])) {
            fputs(usage, stdout);
            return HR_EXIT_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            puts("hr (hotrestart) 0.1.0");
            return HR_EXIT_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            o.json = 1;
        } else if (strcmp(argv[i], "--site") == 0 && i + 1 < argc) {
            o.site = argv[++i];
        } else if (strncmp(argv[i], "--site=", 7) == 0) {
            o.site = argv[i] + 7;
        } else {
            hr_die(HR_EXIT_USAGE, "unknown option '%s' (see hr --help)", argv[i]);
        }
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return HR_EXIT_USAGE;
    }
    if (strcmp(argv[i], "site") == 0)
        return hr_cmd_site(argc - i - 1, argv + i + 1, &o);
    if (strcmp(argv[i], "heap") == 0)
        return hr_cmd_heap(argc - i, argv + i, &o);
    if (strcmp(argv[i], "pmm") == 0)
        return hr_cmd_pmm(argc - i - 1, argv + i + 1, &o);
    if (strcmp(argv[i], "restart") == 0 && argc - i == 1)
        return hr_site_restart_cmd(&o); /* the ChorusOS C_INIT spelling */
    if (strcmp(argv[i], "shutdown") == 0) {
        if (argc - i == 3 && strcmp(argv[i + 1], "-i") == 0 &&
            strcmp(argv[i + 2], "1") == 0)
            return hr_site_restart_cmd(&o);
        hr_die(HR_EXIT_USAGE, "shutdown: only 'shutdown -i 1' (site restart) "
                              "is supported");
    }
    if (strcmp(argv[i], "arun") == 0)
        return hr_cmd_arun(argc - i - 1, argv + i + 1, &o);
    if (strcmp(argv[i], "akill") == 0)
        return hr_cmd_akill(argc - i - 1, argv + i + 1, &o);
    if (strcmp(argv[i], "ps") == 0)
        return hr_cmd_ps(argc - i - 1, argv + i + 1, &o);
    if (strcmp(argv[i], "log") == 0)
        return hr_cmd_log(argc - i - 1, argv + i + 1, &o);
    hr_die(HR_EXIT_USAGE, "unknown command '%s' (see hr --help)", argv[i]);
}
