/* SPDX-License-Identifier: MIT */
/*
 * site_cmd.c - hr site create|info|set|destroy (set through
 * hr_policy_update, under the site's lock, so that sets at once lose
 * nothing).
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
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <hotrestart/hr.h>
#include <hotrestart/pmm.h>

#include "hr.h"

enum {
    OPT_RAMBANK_SIZE = HR_OPT_OWN, OPT_MAX_BLOCKS, OPT_DISKBANK,
    OPT_DISKBANK_SIZE, OPT_MAX_BADNESS, OPT_INTERVAL, OPT_MAX_ACTORS,
    OPT_MAX_GROUPS, OPT_FORCE, OPT_CONFIG, OPT_HUGE, OPT_NO_HUGE, OPT_COLD,
};

/* site start [--config CONFDIR]: hrd takes it from $HR_CONFIG, made
 * absolute here (hrd need not run where the tool does); a missing one is
 * said now. */
static int site_start(const struct hr_call *c)
{
    char abs[PATH_MAX];
    const char *config = c->val[OPT_CONFIG - HR_OPT_OWN];
    if (config && !realpath(config, abs))
        hr_die(HR_EXIT_FAIL, "site start: --config %s: %s", config,
               pmm_strerror(-errno));
    if (config && setenv("HR_CONFIG", abs, 1) < 0)
        hr_die(HR_EXIT_FAIL, "site start: %s", pmm_strerror(-errno));
    return hr_site_start(c->o);
}

/* A policy or registry tunable: 1 to limit (0, the default, when not
 * given), or exit 2 saying so. */
static uint32_t tunable(const char *v, const char *opt, const char *unit,
                        uint32_t limit)
{
    if (!v)
        return 0; /* not given: the default */
    uint64_t n;
    if (hr_parse_count(v, &n) < 0 || n == 0 || n > limit)
        hr_die(HR_EXIT_USAGE, "site create: bad %s (%s1 to %u, digits only)",
               opt, unit, limit);
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

/* The value of option opt in call, or NULL when not given. */
#define VAL(opt) (call->val[(opt) - HR_OPT_OWN])

static int site_create(const struct hr_call *call)
{
    const struct hr_opts *o = call->o;
    pmm_site_config c = {0};
    hr_policy pol = {0}; /* the controller's figures: site.conf's hrCtrl.* */
    char dir[4096];
    const char *diskbank_size = VAL(OPT_DISKBANK_SIZE);
    /* 0 is no size: a bank's default is had by not giving one */
    if ((VAL(OPT_RAMBANK_SIZE) &&
         (hr_parse_size(VAL(OPT_RAMBANK_SIZE), &c.rambank_size) < 0 ||
          !c.rambank_size)) ||
        (diskbank_size && (hr_parse_size(diskbank_size, &c.diskbank_size) < 0 ||
                           !c.diskbank_size)))
        hr_die(HR_EXIT_USAGE, "site create: bad size (use a decimal number "
                              "with an optional K, M, G or T)");
    if (VAL(OPT_MAX_BLOCKS) && (hr_parse_count(VAL(OPT_MAX_BLOCKS),
                                               &c.max_blocks) < 0 ||
                                c.max_blocks == 0))
        hr_die(HR_EXIT_USAGE, "site create: bad --max-blocks (digits only)");
    if (diskbank_size && !VAL(OPT_DISKBANK))
        hr_die(HR_EXIT_USAGE, "site create: --diskbank-size needs --diskbank");
    c.diskbank_path = VAL(OPT_DISKBANK);
    pol.max_badness = tunable(VAL(OPT_MAX_BADNESS), "--max-badness", "",
                              HR_MAX_BADNESS_LIMIT);
    pol.interval_s = tunable(VAL(OPT_INTERVAL), "--interval", "seconds, ",
                             HR_INTERVAL_LIMIT_S);
    pol.max_actors = tunable(VAL(OPT_MAX_ACTORS), "--max-actors", "",
                             HR_ACTORS_LIMIT);
    pol.max_groups = tunable(VAL(OPT_MAX_GROUPS), "--max-groups", "",
                             HR_GROUPS_LIMIT);
    c.disk_max_blocks = c.max_blocks;
    if (VAL(OPT_HUGE) && VAL(OPT_NO_HUGE))
        hr_die(HR_EXIT_USAGE, "site create: --huge or --no-huge, not both");
    c.huge = VAL(OPT_HUGE) ? PMM_HUGE_ON : VAL(OPT_NO_HUGE) ? PMM_HUGE_OFF : 0;
    hr_site_dir(o, dir, sizeof dir, "site");
    hr_site_fits(dir, "site create");
    int r = pmm_site_create(dir, &c);
    if (r == -EOPNOTSUPP && pmm_site_create_why())
        hr_die(HR_EXIT_FAIL, "site create: %s%s: %s (see hr(1), "
               "docs/huge-pages.md)", c.huge == PMM_HUGE_ON ? "--huge: " : "",
               dir, pmm_site_create_why());
    if (r == K_EEXIST)
        hr_die(HR_EXIT_FAIL, "site create: %s already has a RAM bank", dir);
    if (r == -EEXIST)
        hr_die(HR_EXIT_FAIL, "site create: --diskbank %s: a file is there that "
               "is not a DISK bank of yours: remove it or name another path",
               c.diskbank_path);
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

/* What hr site set takes: each key, its range in words (hr_policy_set's
 * ranges, site.conf(5)); completion offers the keys. */
const char *const hr_site_settings[][2] = {
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
    {NULL, NULL},
};
_Static_assert(HR_MAX_BADNESS_LIMIT == 1000000 && HR_DEFAULT_MAX_BADNESS == 5 &&
               HR_INTERVAL_LIMIT_S == 31536000 && HR_DEFAULT_INTERVAL_S == 60 &&
               HR_ACTORS_LIMIT == 256 && HR_GROUPS_LIMIT == 256 &&
               HR_STOP_LIMIT_MS == 3600000 && HR_DEFAULT_STOP_MS == 3000 &&
               HR_LOG_SIZE_MIN == 16384 && HR_LOG_SIZE_LIMIT == 1073741824 &&
               HR_DEFAULT_LOG_SIZE == 1048576, "the ranges said above");

static const char *range_of(const char *key)
{
    for (size_t i = 0; hr_site_settings[i][0]; i++)
        if (strcmp(key, hr_site_settings[i][0]) == 0)
            return hr_site_settings[i][1];
    return "see hr site --help";
}

/* hr site set's change: the KEY=VALUE operands on the policy read (from
 * hr_policy_update, under the site's lock); a bad one ends the tool, the
 * lock with it, site.conf as it was. */
static int set_keys(hr_policy *p, int read, void *arg)
{
    const struct hr_call *c = arg;
    if (read == K_EINVAL)
        fprintf(stderr, "hr: site set: site.conf had a figure out of range: "
                        "its default is written\n");
    for (int i = 0; i < c->argc; i++) {
        char key[64], *kv = c->argv[i];
        const char *eq = strchr(kv, '=');
        if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key)
            hr_die(HR_EXIT_USAGE, "site set: '%s' is not KEY=VALUE", kv);
        snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
        int r = hr_policy_set(p, key, eq + 1);
        if (r == -ENOENT)
            hr_die(HR_EXIT_USAGE, "site set: unknown key '%s' (see hr site "
                                  "--help)", key);
        if (r == -EROFS)
            hr_die(HR_EXIT_USAGE, "site set: %s is the bank's, fixed when "
                   "the bank is made (hr site create's options, or the "
                   "site.conf of hrd --config for a site it makes)", key);
        if (r < 0)
            hr_die(HR_EXIT_USAGE, "site set: %s: '%s' is not a number in its "
                   "range (%s)", key, eq + 1, range_of(key));
    }
    return 0;
}

/* hr site set KEY=VALUE...: into site.conf, then to the controller. */
static int site_set(const struct hr_call *c)
{
    const struct hr_opts *o = c->o;
    const char *dir = c->dir;
    /* from the read to the write under the site's lock: two sets at once
     * each keep the other's change */
    int r = hr_policy_update(dir, set_keys, (void *)c);
    if (r < 0)
        hr_die_err("site set: site.conf", r);
    r = hr_reload(dir);
    if (r < 0 && r != -ECONNREFUSED)
        hr_die_err("site set: stored, but the controller did not take it", r);
    if (o->json)
        printf("{\"stored\": true, \"applied\": %s}\n", r == 0 ? "true" : "false");
    else
        printf("site %s: stored in site.conf; %s\n", dir, r == 0
               ? "the controller uses it from now on"
               : "the controller uses it from its next start");
    return HR_EXIT_OK;
}

/* What a controller leaves in a site it ran in: its log, its lock, its
 * sockets, and temporary files of writers killed mid-write (a RAM bank
 * made aside by a cold restart killed before its rename among them), and
 * hrcached's lock file of each heap it served (hrcached/owner.c); then the
 * directory, unless something else is in it (a sysadm.ini, the user's own
 * files).  After pmm_site_destroy(), which checked the directory. */
static int hrcached_lock(const char *name)
{
    size_t n = strlen(name);
    return strncmp(name, "hrcached.", 9) == 0 && n > 14 &&
           strcmp(name + n - 5, ".lock") == 0;
}

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
            strncmp(e->d_name, "sysadm.ini.tmp", 14) == 0 ||
            strncmp(e->d_name, "ram.bank.new.", 13) == 0 ||
            hrcached_lock(e->d_name))
            unlinkat(fd, e->d_name, 0);
    if (d)
        closedir(d);
    else
        close(fd);
    rmdir(dir);
}


static int site_destroy(const struct hr_call *c)
{
    int pid = hr_ping(c->dir), force = c->val[OPT_FORCE - HR_OPT_OWN] != NULL;
    if (pid > 0 && !force)
        hr_die(HR_EXIT_FAIL, "site destroy: the site is running (controller "
                             "pid %d): hr site stop first, or --force to "
                             "stop it and destroy it", pid);
    /* a running controller is stopped; what a dead one left running is
     * ended (hrd --end-leftovers) while the bank still names it.  Not in
     * a directory with no RAM bank: that is no site, and pmm_site_destroy
     * says so. */
    char bank[4200];
    struct stat st;
    if (pid > 0 || (pmm_bank_path(bank, sizeof bank, c->dir, "RAM") == 0 &&
                    stat(bank, &st) == 0 && S_ISREG(st.st_mode)))
        hr_stop_running(c->dir, "site destroy");
    int r = pmm_site_destroy(c->dir);
    if (r == K_EUNKNOWN)
        hr_die(HR_EXIT_FAIL, "site destroy: %s is not a site (no RAM bank of "
               "its owner's there): nothing removed", c->dir);
    if (r < 0) /* (open to others, another's: said as every command says) */
        hr_die_site_err(c->o, "site destroy", r);
    remove_controller_files(c->dir);
    if (!c->o->json)
        printf("site %s destroyed\n", c->dir);
    else
        printf("{\"destroyed\": true}\n");
    return HR_EXIT_OK;
}

static int site_stop(const struct hr_call *c) { return hr_site_stop(c->o); }
static int site_restart(const struct hr_call *c)
{
    return hr_site_restart_cmd(c->o, c->val[OPT_COLD - HR_OPT_OWN] != NULL);
}
static int site_cold(const struct hr_call *c) { return hr_site_cold(c->o); }

/* hr site's options: each goes with the subcommands it names. */
const struct hr_optdef hr_site_options[] = {
    {"rambank-size", OPT_RAMBANK_SIZE, HR_ARG_TEXT, "N", "create", NULL},
    {"max-blocks", OPT_MAX_BLOCKS, HR_ARG_TEXT, "N", "create", NULL},
    {"huge", OPT_HUGE, HR_ARG_NONE, NULL, "create", NULL},
    {"no-huge", OPT_NO_HUGE, HR_ARG_NONE, NULL, "create", NULL},
    {"diskbank", OPT_DISKBANK, HR_ARG_FILE, "PATH", "create", NULL},
    {"diskbank-size", OPT_DISKBANK_SIZE, HR_ARG_TEXT, "N", "create", NULL},
    {"max-badness", OPT_MAX_BADNESS, HR_ARG_TEXT, "N", "create", NULL},
    {"interval", OPT_INTERVAL, HR_ARG_TEXT, "SECONDS", "create", NULL},
    {"max-actors", OPT_MAX_ACTORS, HR_ARG_TEXT, "N", "create", NULL},
    {"max-groups", OPT_MAX_GROUPS, HR_ARG_TEXT, "N", "create", NULL},
    {"config", OPT_CONFIG, HR_ARG_DIR, "CONFDIR", "start", NULL},
    {"force", OPT_FORCE, HR_ARG_NONE, NULL, "destroy", NULL},
    {"cold", OPT_COLD, HR_ARG_NONE, NULL, "restart", NULL},
    {0},
};

/* hr site's subcommands: what each runs, takes and needs, and its help. */
const struct hr_cmd hr_site_subs[] = {
    {"create", .act = site_create, .help =
     "make the site directory (owner-only) and its RAM bank with the\n"
     "given tunables: pmm.rambankSize (default 64M) and pmm.maxBlocks\n"
     "(default 4096).  The RAM bank is made for huge pages (blocks of\n"
     "2 MiB and more aligned to 2 MiB) when the site's file system\n"
     "gives them (a tmpfs mounted with huge=within_size or always;\n"
     "huge=advise is not enough: the bank reserves its pages ahead);\n"
     "--huge requires it (refused, with the reason, where the file\n"
     "system cannot), --no-huge refuses it.  A site is never made on\n"
     "hugetlbfs, which takes no write(2).  --diskbank adds\n"
     "a DISK medium at PATH (an absolute path on a persistent file\n"
     "system).  Sizes take K, M, G or T.  The restart policy: more than\n"
     "--max-badness restarts (default 5) within --interval seconds\n"
     "(default 60) escalates a group to a site restart, and a site to\n"
     "failed (it stops).  The registry: --max-actors actors registered\n"
     "at once (hrCtrl.maxActors) and groups 0 to --max-groups - 1\n"
     "(hrCtrl.maxGroups); 256 each by default and at most"},
    {"info", .act = hr_site_info, .needs = HR_NEEDS_SITE, .help =
     "per medium: size, used, free, blocks, max_blocks, page size,\n"
     "fixed base address and bank path, and for a huge-page bank its\n"
     "huge page size and whether its file system gives them now; the\n"
     "controller's state (running, stopped, failed), pid, generation,\n"
     "restart counts, policy, limits and stop timeouts"},
    {"set", .act = site_set, .needs = HR_NEEDS_SITE, .operands = -1,
     .operand = HR_OPERAND_SETTING, .synopsis = "KEY=VALUE...", .help =
     "change the controller's tunables in site.conf: hrCtrl.maxBadness,\n"
     "hrCtrl.interval (s), hrCtrl.maxActors, hrCtrl.maxGroups,\n"
     "hrCtrl.stopTimeout (ms a stop waits after SIGTERM before SIGKILL,\n"
     "default 3000), hrCtrl.failStopTimeout (the same for the other\n"
     "members of a group restarted by a failure; default 0: SIGKILL at\n"
     "once), hrCtrl.aslr, hrCtrl.logSize (bytes console.log holds\n"
     "before it is rotated; default 1 MiB); digits only, and 0 is\n"
     "the default for every key.  Sets at once take turns (a lock\n"
     "on the site directory).  A running controller takes them at\n"
     "once, a stopped site at its next start"},
    {"start", .act = site_start, .help =
     "start the site's controller in the background; returns once it\n"
     "accepts requests (it restarts the groups it finds registered);\n"
     "--config CONFDIR (default $HR_CONFIG): hrd takes site.conf and\n"
     "sysadm.ini from CONFDIR (see hrd(8))"},
    {"stop", .act = site_stop, .help =
     "stop every actor (SIGTERM, hrCtrl.stopTimeout, SIGKILL, each\n"
     "actor's whole process tree) and the controller; returns once it\n"
     "has stopped; persistent memory is kept"},
    {"restart", .act = site_restart, .help =
     "site restart: every actor stops, a fresh controller runs the\n"
     "start-up file (sysadm.ini) without its arun lines and starts\n"
     "every group again; persistent memory is kept.  --cold: a cold\n"
     "restart: the RAM bank and the registry are made anew (DISK\n"
     "kept), the fresh controller runs the whole start-up file, and\n"
     "the listening sockets it held are kept for the actors that ask\n"
     "for the same addresses"},
    {"cold", .act = site_cold, .help =
     "stop, then wipe the RAM bank and the registry (DISK is kept;\n"
     "a RAM bank that does not open is replaced too);\n"
     "the site stays stopped"},
    {"destroy", .act = site_destroy, .needs = HR_NEEDS_SITE, .help =
     "remove the site's banks (all blocks are lost), configuration\n"
     "and the controller's files (log, lock, sockets), then the\n"
     "directory unless other files are in it (a sysadm.ini is kept);\n"
     "refused while the site runs, unless --force: then it is stopped\n"
     "first"},
    {0},
};

int hr_cmd_site(int argc, char **argv, const struct hr_opts *o)
{
    return hr_sub_run(argc, argv, o, hr_command("site"), NULL);
}
