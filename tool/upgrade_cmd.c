/* SPDX-License-Identifier: MIT */
/*
 * upgrade_cmd.c - hr upgrade: a new program in a running actor's place
 * (hr_upgrade(3), docs/upgrades.md).  Through public doors only:
 * <hotrestart/hr.h> (tests/tool_doors.sh).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "hr.h"

/* The prose of hr upgrade --help; the synopsis and the options come from
 * the table below (cmd.c). */
static const char upgrade_about[] =
    "Put PROGRAM (with ARGS; the actor's working directory, environment and\n"
    "held sockets stay) in the place of the running direct actor ACTOR (its\n"
    "name, or its pid), keeping its persistent memory: the new version\n"
    "starts as a standby and waits in hr_standby_wait(), the old one is\n"
    "stopped (SIGTERM; it may hand its connections over), the new one is\n"
    "promoted and, once ready (one that never says: once it has run 1 s),\n"
    "its image is the actor's for every later restart.  A new version\n"
    "that dies or is not ready in time is rolled back: the old image\n"
    "serves again, and the reason is printed.  With -g G (and no ACTOR),\n"
    "every direct actor of group G, one after the other; a PROGRAM without\n"
    "a slash that is the name of an actor of the site is refused as an\n"
    "ACTOR given with -g (give such a program's path).  If the controller\n"
    "goes away meanwhile, the next start of the site runs the old image,\n"
    "unless the new version had been ready (the upgrade had committed).\n"
    "exit codes: 0 upgraded; 1 rolled back, refused, or the controller\n"
    "went away; 2 bad usage\n";

enum { OPT_TIMEOUT = HR_OPT_OWN, OPT_COLD, OPT_ALL };

const struct hr_optdef hr_upgrade_options[] = {
    {"g", 'g', HR_ARG_TEXT, "G", NULL,
     "every direct actor of group G, one after the other"},
    {"all-at-once", OPT_ALL, HR_ARG_NONE, NULL, NULL,
     "with -g: all of them together"},
    {"timeout", OPT_TIMEOUT, HR_ARG_TEXT, "S", NULL,
     "seconds the new version has to be ready (default 30)"},
    {"cold", OPT_COLD, HR_ARG_NONE, NULL, NULL,
     "no standby phase: stop the old one, then start the new\n"
     "one from main (a program that does not call\n"
     "hr_standby_wait)"},
    {0},
};

/* A number from lo to hi for option opt, or exit 2. */
static long number(const char *opt, const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!(*s >= '0' && *s <= '9') || *end || v < lo || v > hi)
        hr_die(HR_EXIT_USAGE, "upgrade: bad %s '%s' (%ld to %ld)", opt, s, lo, hi);
    return v;
}

/* Why the upgrade failed, in words: what the controller said of its own
 * (a rollback's reason, a stop's, a step that failed), else the tool's
 * words for the code, the same on stderr and in --json's "error" (the
 * controller's reply carries pmm_strerror(r) alone for a mere refusal). */
static const char *failure(int r, int group, const char *why)
{
    if (hr_ctl_said(why, r))
        return why;
    if (r == -ESRCH)
        return group ? "no such group" : "no such actor";
    if (r == -EINVAL)
        return "only a direct actor (started by hr arun -g) can be upgraded";
    if (r == -EBUSY)
        return "not running now: stopped, being upgraded, or its group is "
               "restarting";
    if (r == -EAGAIN)
        return "too many upgrades at once: try again when one is over";
    /* the controller ended without an answer (killed, crashed): what the
     * site's record holds is what its next controller runs
     * (docs/upgrades.md), and it changed only if the new version was ready */
    if (r == -ECONNRESET || r == -EPIPE)
        return "the controller went away before the upgrade ended: the next "
               "start of the site runs the old image, unless the new version "
               "had been ready (then the upgrade had committed; hr ps shows "
               "which)";
    return hr_ctl_err(r);
}

/* With -g, PROGRAM may be the name of an actor of the site: `hr upgrade
 * -g 1 srv ./v2` meant srv, and is refused as such rather than run as a
 * program srv.  A program named like an actor is given by its path. */
static void no_actor_with_group(const char *dir, const char *prog)
{
    char needle[64 + PMM_NAME_MAX];
    if (strchr(prog, '/') || strlen(prog) >= PMM_NAME_MAX)
        return;
    snprintf(needle, sizeof needle, "{\"name\": \"%s\", ", prog);
    if (hr_ps_has(dir, "upgrade", needle) == 1)
        hr_die(HR_EXIT_USAGE, "upgrade: ACTOR and -g G exclude each other: "
               "%s is an actor of this site (a program of that name: give "
               "its path, ./%s)", prog, prog);
}

int hr_cmd_upgrade(int argc, char **argv, const struct hr_opts *go)
{
    struct hr_opts ov = *go, *o = &ov;
    struct hr_cmdline cl = {.cmd = "upgrade", .usage = upgrade_about,
                            .table = hr_command("upgrade"),
                            .stop_at_operand = 1, .o = o};
    char why[1024] = "", path[PATH_MAX], dir[4096], group_name[24];
    hr_upgrade_opts uo = {.why = why, .why_cap = sizeof why};
    int group = -1, k;
    const char *actor = NULL;
    /* options before ACTOR and between it and PROGRAM (as hr(1) says of
     * every command's options); they end at PROGRAM, whose own follow */
    for (;;) {
        while ((k = hr_getopt(argc, argv, &cl)) != -1) {
            switch (k) {
            case 'g':
                group = (int)number("group", optarg, 0, (long)HR_GROUPS_LIMIT - 1);
                break;
            case OPT_TIMEOUT:
                uo.timeout_ms = (uint32_t)number("--timeout", optarg, 1,
                                                 HR_UPGRADE_TIMEOUT_LIMIT_MS / 1000) * 1000;
                break;
            case OPT_COLD: uo.flags |= HR_UPGRADE_COLD; break;
            case OPT_ALL: uo.flags |= HR_UPGRADE_ALL_AT_ONCE; break;
            }
        }
        if (actor || group >= 0 || optind >= argc)
            break;
        actor = argv[optind++];
    }
    int i = optind;
    if (actor && group >= 0)
        hr_die(HR_EXIT_USAGE, "upgrade: ACTOR and -g G exclude each other");
    if (actor && !*actor)
        hr_die(HR_EXIT_USAGE, "upgrade: ACTOR is empty: give an actor's name "
                              "or pid");
    if (i >= argc || (uo.flags & HR_UPGRADE_ALL_AT_ONCE && group < 0)) {
        hr_usage(stderr, "upgrade", cl.table, upgrade_about);
        return HR_EXIT_USAGE;
    }
    hr_site_existing(o, dir, sizeof dir, "upgrade");
    if (group >= 0)
        no_actor_with_group(dir, argv[i]);
    struct stat st;
    if (hr_find_program(argv[i], path, sizeof path) < 0)
        hr_die(HR_EXIT_FAIL, "upgrade: %s: not found on $PATH", argv[i]);
    /* said here: the call's own -ENOENT would read as "no controller" */
    if (stat(path, &st) < 0)
        hr_die(HR_EXIT_FAIL, "upgrade: %s: %s", path, pmm_strerror(-errno));
    if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0)
        hr_die(HR_EXIT_FAIL, "upgrade: %s: not an executable file", path);
    int r = group >= 0 ? hr_upgrade_group(dir, group, path, argv + i, &uo)
                       : hr_upgrade(dir, actor, path, argv + i, &uo);
    /* the operand whole, not a copy cut short: a name has up to 63 bytes */
    snprintf(group_name, sizeof group_name, "group %d", group);
    const char *target = group >= 0 ? group_name : actor;
    const char *text = r < 0 ? failure(r, group >= 0, why) : NULL;
    if (o->json) {
        printf("{\"upgraded\": %s, \"error\": ", r == 0 ? "true" : "false");
        if (r == 0)
            printf("null");
        else
            hr_json_str(text);
        printf("}\n");
    }
    if (r == 0 && !o->json)
        printf("%s upgraded to %s\n", target, path);
    if (r < 0)
        hr_die(HR_EXIT_FAIL, "upgrade %s: %s", target, text);
    return HR_EXIT_OK;
}
