/* SPDX-License-Identifier: MIT */
/*
 * site_cmd.c - hr site create|info|set|destroy (set under a lock on the
 * site directory, so that sets at once lose nothing).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <hotrestart/hr.h>
#include <hotrestart/pmm.h>

#include "hr.h"

static const char site_usage[] =
    "usage: hr site create [--rambank-size N] [--max-blocks N] [--huge|--no-huge]\n"
    "                      [--diskbank PATH [--diskbank-size N]]\n"
    "                      [--max-badness N] [--interval SECONDS]\n"
    "                      [--max-actors N] [--max-groups N]\n"
    "       hr site info [--json]\n"
    "       hr site set KEY=VALUE...\n"
    "       hr site start [--config CONFDIR] | stop | restart | cold\n"
    "       hr site destroy [--force]\n"
    "\n"
    "create   make the site directory (owner-only) and its RAM bank with the\n"
    "         given tunables: pmm.rambankSize (default 64M) and pmm.maxBlocks\n"
    "         (default 4096).  The RAM bank is made for huge pages (blocks of\n"
    "         2 MiB and more aligned to 2 MiB) when the site's file system\n"
    "         gives them (a tmpfs mounted with huge=within_size, always or\n"
    "         advise); --huge requires it (refused, with the reason, where\n"
    "         the file system cannot), --no-huge refuses it.  --diskbank adds\n"
    "         a DISK medium at PATH (an\n"
    "         absolute path on a persistent file system).  Sizes take K, M, G.\n"
    "         The restart policy: more than --max-badness restarts (default 5)\n"
    "         within --interval seconds (default 60) escalates a group to a\n"
    "         site restart, and a site to failed (it stops).  The registry:\n"
    "         --max-actors actors registered at once (hrCtrl.maxActors) and\n"
    "         groups 0 to --max-groups - 1 (hrCtrl.maxGroups); 256 each by\n"
    "         default and at most\n"
    "info     per medium: size, used, free, blocks, max_blocks, page size,\n"
    "         fixed base address and bank path, and for a huge-page bank its\n"
    "         huge page size and whether its file system gives them now; the\n"
    "         controller's state\n"
    "         (running, stopped, failed), pid, generation, restart counts,\n"
    "         policy, limits and stop timeouts\n"
    "set      change the controller's tunables in site.conf: hrCtrl.maxBadness,\n"
    "         hrCtrl.interval (s), hrCtrl.maxActors, hrCtrl.maxGroups,\n"
    "         hrCtrl.stopTimeout (ms a stop waits after SIGTERM before SIGKILL,\n"
    "         default 3000), hrCtrl.failStopTimeout (the same for the other\n"
    "         members of a group restarted by a failure; default 0: SIGKILL at\n"
    "         once), hrCtrl.aslr, hrCtrl.logSize (bytes console.log holds\n"
    "         before it is rotated; default 1 MiB); digits only, and 0 is\n"
    "         the default for every key.  Sets at once take turns (a lock\n"
    "         on the site directory).  A running controller takes them at\n"
    "         once, a stopped site at its next start\n"
    "start    start the site's controller in the background; returns once it\n"
    "         accepts requests (it restarts the groups it finds registered);\n"
    "         --config CONFDIR (default $HR_CONFIG): hrd takes site.conf and\n"
    "         sysadm.ini from CONFDIR (see hrd(8))\n"
    "stop     stop every actor (SIGTERM, hrCtrl.stopTimeout, SIGKILL, each\n"
    "         actor's whole process tree) and the controller; returns once it\n"
    "         has stopped; persistent memory is kept\n"
    "restart  site restart: every actor stops, a fresh controller runs the\n"
    "         start-up file (sysadm.ini) without its arun lines and starts\n"
    "         every group again; persistent memory is kept\n"
    "cold     stop, then wipe the RAM bank and the registry (DISK is kept;\n"
    "         a RAM bank that does not open is replaced too);\n"
    "         the site stays stopped\n"
    "destroy  remove the site's banks (all blocks are lost), configuration\n"
    "         and the controller's files (log, lock, sockets), then the\n"
    "         directory unless other files are in it (a sysadm.ini is kept);\n"
    "         refused while the site runs, unless --force: then it is stopped\n"
    "         first\n";

/* site start --config: hrd takes it from $HR_CONFIG, made absolute here
 * (hrd need not run where the tool does); a missing one is said now. */
static int site_start_config(const char *config, const struct hr_opts *o)
{
    char abs[PATH_MAX];
    if (!realpath(config, abs))
        hr_die(HR_EXIT_FAIL, "site start: --config %s: %s", config,
               strerror(errno));
    if (setenv("HR_CONFIG", abs, 1) < 0)
        hr_die(HR_EXIT_FAIL, "site start: %s", strerror(errno));
    return hr_site_start(o);
}

/* What site create was given, as text until checked. */
struct create_args {
    const char *rambank_size, *max_blocks, *diskbank, *diskbank_size;
    const char *max_badness, *interval, *max_actors, *max_groups;
    unsigned huge; /* PMM_HUGE_... */
    int any; /* was any of them given? */
};

/* A policy or registry tunable: 1 to limit, or exit 2 saying so. */
static uint32_t tunable(const char *v, const char *opt, const char *unit,
                        uint32_t limit)
{
    uint64_t n;
    if (hr_parse_size(v, &n) < 0 || n == 0 || n > limit)
        hr_die(HR_EXIT_USAGE, "site create: bad %s (%s1 to %u)", opt, unit, limit);
    return (uint32_t)n;
}

/* A RAM bank is a file on memory (tmpfs): on a disk it is written back
 * to the disk and survives a reboot, which RAM does not.  Said, not
 * refused: a test or a machine without tmpfs may want it. */
static void warn_disk(const char *dir)
{
    struct statfs fs;
    if (statfs(dir, &fs) < 0 || fs.f_type == TMPFS_MAGIC ||
        fs.f_type == RAMFS_MAGIC || fs.f_type == HUGETLBFS_MAGIC)
        return;
    fprintf(stderr, "hr: site create: warning: %s is not on a memory file "
                    "system (tmpfs): its RAM bank is written back to the disk "
                    "and survives a reboot, unlike RAM; a site under /dev/shm "
                    "or $XDG_RUNTIME_DIR keeps it in memory\n", dir);
}

static int site_create(const struct create_args *a, const struct hr_opts *o)
{
    pmm_site_config c = {0};
    hr_policy pol = {0}; /* the controller's figures: site.conf's hrCtrl.* */
    char dir[4096];
    if ((a->rambank_size && hr_parse_size(a->rambank_size, &c.rambank_size) < 0) ||
        (a->diskbank_size && hr_parse_size(a->diskbank_size, &c.diskbank_size) < 0))
        hr_die(HR_EXIT_USAGE, "site create: bad size (use a number with an "
                              "optional K, M, G or T)");
    if (a->max_blocks && (hr_parse_size(a->max_blocks, &c.max_blocks) < 0 ||
                          c.max_blocks == 0))
        hr_die(HR_EXIT_USAGE, "site create: bad --max-blocks");
    if (a->diskbank_size && !a->diskbank)
        hr_die(HR_EXIT_USAGE, "site create: --diskbank-size needs --diskbank");
    c.diskbank_path = a->diskbank;
    if (a->max_badness)
        pol.max_badness = tunable(a->max_badness, "--max-badness", "",
                                  HR_MAX_BADNESS_LIMIT);
    if (a->interval)
        pol.interval_s = tunable(a->interval, "--interval", "seconds, ",
                                 HR_INTERVAL_LIMIT_S);
    if (a->max_actors)
        pol.max_actors = tunable(a->max_actors, "--max-actors", "", HR_ACTORS_LIMIT);
    if (a->max_groups)
        pol.max_groups = tunable(a->max_groups, "--max-groups", "", HR_GROUPS_LIMIT);
    c.disk_max_blocks = c.max_blocks;
    c.huge = a->huge;
    hr_site_dir(o, dir, sizeof dir, "site");
    int r = pmm_site_create(dir, &c);
    if (r == -EOPNOTSUPP && pmm_site_create_why())
        hr_die(HR_EXIT_FAIL, "site create: --huge: %s: %s (see hr(1), "
               "docs/huge-pages.md)", dir, pmm_site_create_why());
    if (r == K_EEXIST)
        hr_die(HR_EXIT_FAIL, "site create: %s already has a RAM bank", dir);
    if (r == K_EINVAL)
        hr_die(HR_EXIT_FAIL, "site create: tunables out of range (bank size "
                             "from 2 pages to 1T, max blocks from 1 to 2^30; "
                             "the disk bank path must be absolute)");
    if (r < 0)
        hr_die_site_err(o, "site create", r);
    if ((r = hr_policy_write(dir, &pol)) < 0)
        hr_die_err("site create: site.conf", r);
    warn_disk(dir);
    if (o->json) {
        printf("{\"site\": ");
        hr_json_str(dir);
        printf(", \"created\": true}\n");
    } else {
        printf("site %s created\n", dir);
    }
    return HR_EXIT_OK;
}

static int info_medium(const char *dir, const char *medium,
                       const struct hr_opts *o, int first)
{
    pmm_bank *b;
    pmm_bank_info st;
    int r = pmm_bank_open(&b, dir, medium, PMM_OPEN_RDONLY);
    if (r == K_EUNKNOWN && strcmp(medium, "DISK") == 0)
        return 0;
    if (r < 0) {
        char what[64];
        snprintf(what, sizeof what, "site info: %s bank", medium);
        hr_die_site_err(o, what, r);
    }
    r = pmm_bank_stat(b, &st);
    pmm_bank_close(b);
    if (r < 0)
        hr_die_err("site info", r);
    if (o->json) {
        printf("%s\"%s\": {\"path\": ", first ? "" : ", ", medium);
        hr_json_str(st.path);
        printf(", \"size\": %llu, \"used\": %llu, \"free\": %llu, "
               "\"blocks\": %llu, \"max_blocks\": %llu, \"page_size\": %llu, "
               "\"base\": \"0x%llx\", \"durable\": %s, "
               "\"huge_page_size\": %llu, \"huge_pages_now\": %s}",
               (unsigned long long)st.size, (unsigned long long)st.used,
               (unsigned long long)st.free, (unsigned long long)st.blocks,
               (unsigned long long)st.max_blocks,
               (unsigned long long)st.page_size, (unsigned long long)st.base,
               st.durable ? "true" : "false",
               (unsigned long long)st.huge_size, st.huge_now ? "true" : "false");
    } else {
        printf("%-5s %12llu %12llu %12llu %8llu %10llu  0x%llx  %s\n", medium,
               (unsigned long long)st.size, (unsigned long long)st.used,
               (unsigned long long)st.free, (unsigned long long)st.blocks,
               (unsigned long long)st.max_blocks, (unsigned long long)st.base,
               st.path);
        if (st.huge_size)
            printf("%-5s huge pages of %llu KiB: %s\n", medium,
                   (unsigned long long)st.huge_size >> 10, st.huge_now
                   ? "blocks of that size and more are mapped with them"
                   : "NOT given by its file system now: blocks fault 4 KiB "
                     "at a time (see docs/huge-pages.md)");
    }
    return 1;
}

static int site_info(const struct hr_opts *o)
{
    char dir[4096];
    hr_site_existing(o, dir, sizeof dir, "site info");
    if (o->json) {
        printf("{\"site\": ");
        hr_json_str(dir);
        printf(", \"media\": {");
    } else {
        printf("site %s\n%-5s %12s %12s %12s %8s %10s  %-14s  %s\n", dir,
               "MEDIUM", "SIZE", "USED", "FREE", "BLOCKS", "MAX_BLOCKS",
               "BASE", "BANK");
    }
    int n = info_medium(dir, "RAM", o, 1);
    info_medium(dir, "DISK", o, n == 0);
    if (o->json)
        printf("}, ");
    hr_show_status(dir, o);
    if (o->json)
        printf("}\n");
    return HR_EXIT_OK;
}

/* What hr site set takes for key (hr_policy_set's ranges, site.conf(5)). */
static const char *range_of(const char *key)
{
    static const char *const ranges[][2] = {
        {"hrCtrl.maxBadness", "1 to 1000000, or 0: the default, 5"},
        {"hrCtrl.interval", "seconds, 1 to 31536000, or 0: the default, 60"},
        {"hrCtrl.maxActors", "1 to 256, or 0: the default, 256"},
        {"hrCtrl.maxGroups", "1 to 256, or 0: the default, 256"},
        {"hrCtrl.stopTimeout", "ms, 1 to 3600000, or 0: the default, 3000"},
        {"hrCtrl.failStopTimeout", "ms, 0 (the default: SIGKILL at once) to "
                                   "3600000"},
        {"hrCtrl.aslr", "0 (the default) or 1"},
        {"hrCtrl.logSize", "bytes, 16384 to 1073741824, or 0: the default, "
                           "1048576"},
    };
    _Static_assert(HR_MAX_BADNESS_LIMIT == 1000000 && HR_DEFAULT_MAX_BADNESS == 5 &&
                   HR_INTERVAL_LIMIT_S == 31536000 && HR_DEFAULT_INTERVAL_S == 60 &&
                   HR_ACTORS_LIMIT == 256 && HR_GROUPS_LIMIT == 256 &&
                   HR_STOP_LIMIT_MS == 3600000 && HR_DEFAULT_STOP_MS == 3000 &&
                   HR_LOG_SIZE_MIN == 16384 && HR_LOG_SIZE_LIMIT == 1073741824 &&
                   HR_DEFAULT_LOG_SIZE == 1048576, "the ranges said above");
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (strcmp(key, ranges[i][0]) == 0)
            return ranges[i][1];
    return "see hr site --help";
}

/* The site directory, opened and locked (flock, exclusive): what every
 * hr site set holds while it changes site.conf; or exit 1. */
static int site_lock(const char *dir, const char *action)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        hr_die(HR_EXIT_FAIL, "%s: %s: %s", action, dir, strerror(errno));
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR)
            hr_die(HR_EXIT_FAIL, "%s: lock %s: %s", action, dir,
                   strerror(errno));
    return fd;
}

/* hr site set KEY=VALUE...: into site.conf, then to the controller. */
static int site_set(int n, char **kv, const struct hr_opts *o)
{
    char dir[4096];
    hr_policy p;
    if (n == 0)
        hr_die(HR_EXIT_USAGE, "site set: KEY=VALUE expected (see hr site --help)");
    hr_site_existing(o, dir, sizeof dir, "site set");
    /* from the read to the write: two sets at once each keep the other's
     * change (released when the tool exits) */
    int lock = site_lock(dir, "site set");
    if (hr_policy_read(dir, &p) == K_EINVAL)
        fprintf(stderr, "hr: site set: site.conf had a figure out of range: "
                        "its default is written\n");
    for (int i = 0; i < n; i++) {
        char key[64];
        const char *eq = strchr(kv[i], '=');
        if (!eq || eq == kv[i] || (size_t)(eq - kv[i]) >= sizeof key)
            hr_die(HR_EXIT_USAGE, "site set: '%s' is not KEY=VALUE", kv[i]);
        snprintf(key, sizeof key, "%.*s", (int)(eq - kv[i]), kv[i]);
        int r = hr_policy_set(&p, key, eq + 1);
        if (r == -ENOENT)
            hr_die(HR_EXIT_USAGE, "site set: unknown key '%s' (see hr site "
                                  "--help)", key);
        if (r < 0)
            hr_die(HR_EXIT_USAGE, "site set: %s: '%s' is not a number in its "
                   "range (%s)", key, eq + 1, range_of(key));
    }
    int r = hr_policy_write(dir, &p);
    if (r < 0)
        hr_die_err("site set: site.conf", r);
    r = hr_reload(dir);
    if (r < 0 && r != -ECONNREFUSED)
        hr_die_err("site set: stored, but the controller did not take it", r);
    close(lock);
    if (o->json)
        printf("{\"stored\": true, \"applied\": %s}\n", r == 0 ? "true" : "false");
    else
        printf("site %s: stored in site.conf; %s\n", dir, r == 0
               ? "the controller uses it from now on"
               : "the controller uses it from its next start");
    return HR_EXIT_OK;
}

/* What a controller leaves in a site it ran in: its log, its lock, its
 * sockets, and temporary files of writers killed mid-write; then the
 * directory, unless something else is in it (a sysadm.ini, the user's own
 * files).  After pmm_site_destroy(), which checked the directory. */
static void remove_controller_files(const char *dir)
{
    static const char *const names[] = {"console.log", "console.log.1",
                                        "controller.lock", "control.sock",
                                        "notify.sock"};
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return; /* removed whole already */
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlinkat(fd, names[i], 0);
    DIR *d = fdopendir(fd);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strncmp(e->d_name, "site.conf.tmp", 13) == 0 ||
            strncmp(e->d_name, "sysadm.ini.tmp", 14) == 0)
            unlinkat(fd, e->d_name, 0);
    if (d)
        closedir(d);
    else
        close(fd);
    rmdir(dir);
}

enum {
    OPT_RAMBANK_SIZE = HR_OPT_OWN, OPT_MAX_BLOCKS, OPT_DISKBANK,
    OPT_DISKBANK_SIZE, OPT_MAX_BADNESS, OPT_INTERVAL, OPT_MAX_ACTORS,
    OPT_MAX_GROUPS, OPT_FORCE, OPT_CONFIG, OPT_HUGE, OPT_NO_HUGE,
};

int hr_cmd_site(int argc, char **argv, const struct hr_opts *go)
{
    static const struct option longs[] = {
        {"rambank-size", required_argument, NULL, OPT_RAMBANK_SIZE},
        {"max-blocks", required_argument, NULL, OPT_MAX_BLOCKS},
        {"diskbank", required_argument, NULL, OPT_DISKBANK},
        {"diskbank-size", required_argument, NULL, OPT_DISKBANK_SIZE},
        {"max-badness", required_argument, NULL, OPT_MAX_BADNESS},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"max-actors", required_argument, NULL, OPT_MAX_ACTORS},
        {"max-groups", required_argument, NULL, OPT_MAX_GROUPS},
        {"force", no_argument, NULL, OPT_FORCE},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"huge", no_argument, NULL, OPT_HUGE},
        {"no-huge", no_argument, NULL, OPT_NO_HUGE},
        HR_OPTS_COMMON,
    };
    struct hr_opts o = *go;
    struct hr_cmdline cl = {.cmd = "site", .usage = site_usage, .shorts = "",
                            .longs = longs, .o = &o};
    struct create_args a = {0};
    int k, force = 0;
    const char *config = NULL;
    while ((k = hr_getopt(argc, argv, &cl)) != -1) {
        if (k == OPT_FORCE) {
            force = 1;
            continue;
        }
        if (k == OPT_CONFIG) {
            config = optarg;
            continue;
        }
        a.any = 1;
        switch (k) {
        case OPT_RAMBANK_SIZE: a.rambank_size = optarg; break;
        case OPT_MAX_BLOCKS: a.max_blocks = optarg; break;
        case OPT_DISKBANK: a.diskbank = optarg; break;
        case OPT_DISKBANK_SIZE: a.diskbank_size = optarg; break;
        case OPT_MAX_BADNESS: a.max_badness = optarg; break;
        case OPT_INTERVAL: a.interval = optarg; break;
        case OPT_MAX_ACTORS: a.max_actors = optarg; break;
        case OPT_MAX_GROUPS: a.max_groups = optarg; break;
        case OPT_HUGE: a.huge = PMM_HUGE_ON; break;
        case OPT_NO_HUGE: a.huge = PMM_HUGE_OFF; break;
        }
    }
    if (optind >= argc) {
        fputs(site_usage, stderr);
        return HR_EXIT_USAGE;
    }
    const char *sub = argv[optind];
    if (strcmp(sub, "set") == 0 && !a.any && !force)
        return site_set(argc - optind - 1, argv + optind + 1, &o);
    if (argc - optind > 1)
        hr_die(HR_EXIT_USAGE, "site %s: unexpected argument '%s'", sub,
               argv[optind + 1]);
    int create = strcmp(sub, "create") == 0;
    if (!create && a.any)
        hr_die(HR_EXIT_USAGE, "site %s: tunables go with 'site create'", sub);
    if (create)
        return site_create(&a, &o);
    if (strcmp(sub, "info") == 0)
        return site_info(&o);
    if (config && strcmp(sub, "start") != 0)
        hr_die(HR_EXIT_USAGE, "site %s: --config goes with 'site start'", sub);
    if (strcmp(sub, "start") == 0)
        return config ? site_start_config(config, &o) : hr_site_start(&o);
    if (strcmp(sub, "restart") == 0)
        return hr_site_restart_cmd(&o);
    if (strcmp(sub, "cold") == 0)
        return hr_site_cold(&o);
    if (strcmp(sub, "stop") == 0)
        return hr_site_stop(&o);
    if (force && strcmp(sub, "destroy") != 0)
        hr_die(HR_EXIT_USAGE, "site %s: --force goes with 'site destroy'", sub);
    if (strcmp(sub, "destroy") == 0) {
        char dir[4096];
        hr_site_existing(&o, dir, sizeof dir, "site destroy");
        int pid = hr_ping(dir);
        if (pid > 0 && !force)
            hr_die(HR_EXIT_FAIL, "site destroy: the site is running (controller "
                                 "pid %d): hr site stop first, or --force to "
                                 "stop it and destroy it", pid);
        if (pid > 0)
            hr_stop_running(dir, "site destroy");
        int r = pmm_site_destroy(dir);
        if (r < 0)
            hr_die_err("site destroy", r);
        remove_controller_files(dir);
        if (!o.json)
            printf("site %s destroyed\n", dir);
        else
            printf("{\"destroyed\": true}\n");
        return HR_EXIT_OK;
    }
    hr_die(HR_EXIT_USAGE, "site: unknown subcommand '%s' (see hr site --help)",
           sub);
}
