/* SPDX-License-Identifier: MIT */
/*
 * hr.h - shared pieces of the hr tool.
 *
 * Exit codes (documented in hr(1) and --help):
 *   0 success; 1 the operation failed; 2 bad usage; 3 the bank or the
 *   heap is inconsistent (hr pmm check, hr heap check, hr heap stat).
 */
#ifndef HR_TOOL_H
#define HR_TOOL_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <hotrestart/hr.h>

#define HR_EXIT_OK 0
#define HR_EXIT_FAIL 1
#define HR_EXIT_USAGE 2
#define HR_EXIT_BANK 3

struct hr_opts {
    const char *site;   /* --site, or NULL for the default */
    int json;           /* --json */
};

/* Print "hr: ACTION: REASON" on stderr and exit with code. */
__attribute__((noreturn, format(printf, 2, 3))) void hr_die(int code,
                                                            const char *fmt, ...);
/* The same for a library error code. */
__attribute__((noreturn)) void hr_die_err(const char *action, int err);
/* The same for an error opening the site: a K_EPRIV that comes from the
 * site directory (another user's, or open to others, as an emptyDir's
 * root is) is told as such, with the fix. */
__attribute__((noreturn)) void hr_die_site_err(const struct hr_opts *o,
                                               const char *action, int err);
/* The same for pmm_bank_open()'s error err on medium of the site in dir:
 * a DISK bank that site.conf names but whose file is missing is told as
 * such (never as a site to make: that would make it anew, empty). */
__attribute__((noreturn)) void hr_die_bank_err(const struct hr_opts *o,
                                               const char *dir,
                                               const char *action,
                                               const char *medium, int err);
/* What hr says of a DISK bank that site.conf names and that is missing,
 * the bank's path in it: into buf (cap bytes). */
const char *hr_disk_missing(char *buf, size_t cap, const char *path);
/* Say so on stderr, action first, when the site in dir has such a bank. */
void hr_warn_disk_missing(const char *dir, const char *action);

/* The site's directory (--site, $HR_SITE or the default) into dir, or
 * exit saying why, with action as the message's first word. */
void hr_site_dir(const struct hr_opts *o, char *dir, size_t len, const char *action);
/* Die (exit 2) when dir is longer than a controller's site path may be
 * (HR_SITE_PATH_MAX). */
void hr_site_fits(const char *dir, const char *action);
/* Root acting on a site (or a bank file) of another user's becomes that
 * user, for good (owner.c); anyone else, or on root's own, goes on as is.
 * hr_site_dir() does it for the site it resolves. */
void hr_as_owner_of(const char *path, const char *action);
void hr_site_as_owner(const struct hr_opts *o, const char *action);
/* The same, for a site that must exist: exit 1 saying so when it does not. */
void hr_site_existing(const struct hr_opts *o, char *dir, size_t len,
                      const char *action);

/* Parse a size with an optional K, M, G or T suffix (powers of 1024). */
int hr_parse_size(const char *s, uint64_t *out);
/* A count: decimal digits only (no sign, suffix or base prefix): 0, or -1. */
int hr_parse_count(const char *s, uint64_t *out);

/* JSON and table output */
void hr_json_str(const char *s);
void hr_hex(const void *p, size_t n);
void hr_key_text(const uint8_t *key, size_t n);

/* Options, read with getopt_long(3).  A command lists its own options in a
 * getopt_long table that ends with HR_OPTS_COMMON (--json, --site DIR and
 * --help, understood by every command), its long-only options taking vals
 * from HR_OPT_OWN up, its short ones their letter.  hr_getopt() returns the
 * val of the next of the command's own options (optarg holds its value), or
 * -1 once the options end; the operands are then argv[optind..argc-1], in
 * order.  Options and operands mix in any order and `--` ends the options,
 * unless `shorts` begins with '+': then the first operand ends them (arun
 * stops at its PROGRAM).  hr_getopt() handles the common options itself
 * (--json and --site set *o; --help or -h prints usage on stdout and exits
 * 0) and bad usage: an unknown or ambiguous option, or one without its
 * value, exits 2 with a message naming the command.  argv[0] is the
 * command's name, as getopt wants it. */
enum {
    HR_OPT_JSON = 0x100,
    HR_OPT_SITE,
    HR_OPT_HELP,
    HR_OPT_OWN = 0x200, /* a command's own long options: HR_OPT_OWN, +1, ... */
};
#define HR_OPTS_COMMON                                  \
    {"json", no_argument, NULL, HR_OPT_JSON},           \
    {"site", required_argument, NULL, HR_OPT_SITE},     \
    {"help", no_argument, NULL, HR_OPT_HELP},           \
    {NULL, 0, NULL, 0}

/* An option of a command, a row of its table (the tables are what hr's
 * dispatch, --help, usage errors and bash completion read).  hr_getopt()
 * returns val for it: its letter for a short option, else HR_OPT_OWN + n. */
enum hr_arg {
    HR_ARG_NONE,   /* a flag */
    HR_ARG_TEXT,   /* a value completion cannot guess: a number, a name */
    HR_ARG_FILE,   /* a path */
    HR_ARG_DIR,    /* a directory */
    HR_ARG_MEDIUM, /* RAM or DISK */
};
struct hr_optdef {
    const char *name;  /* "rambank-size", or "g" for a short option */
    int val;           /* what hr_getopt() returns for it */
    enum hr_arg arg;   /* what its value is; HR_ARG_NONE: it takes none */
    const char *what;  /* its value in the synopsis: "N", "PATH" */
    const char *subs;  /* the subcommands it goes with, "create start";
                        * NULL: every one (or a command without any) */
    const char *help;  /* its lines in --help (a command without
                        * subcommands); NULL: not listed there */
};

/* What a subcommand needs before it runs, checked by hr_sub_run() after
 * its usage (a new need is a bit here and its check there). */
enum {
    HR_NEEDS_SITE = 1, /* an existing site that is the caller's own (or
                        * root's): hr_site_existing() */
};
/* What a command's operands are, for completion. */
enum hr_operand {
    HR_OPERAND_NONE,
    HR_OPERAND_BLOCK,   /* a block name of the site */
    HR_OPERAND_SETTING, /* KEY=VALUE of site.conf */
    HR_OPERAND_PROGRAM, /* a program, then its arguments */
};

struct hr_call;
/* A command or subcommand: one row of its level's table.  A command
 * (hr.c's table) is run by main with its own arguments; a subcommand
 * (site's table) by act, once hr_sub_run() has checked its operands, its
 * options and its needs.  Adding a command is one row in hr.c's
 * hr_commands: {"upgrade", hr_cmd_upgrade, .help = "a line"}, with
 * .opts = its options' table (hr_getopt() then reads them, --help lists
 * them, completion offers them) and .synopsis = its operands. */
struct hr_cmd {
    const char *name;
    int (*main)(int argc, char **argv, const struct hr_opts *o);
    const char *help;              /* a line for --help; NULL: not listed
                                    * nor completed (an alias) */
    const struct hr_optdef *opts;  /* its own options, ending with {0} */
    const struct hr_cmd *subs;     /* its subcommands, ending with {0} */
    int (*act)(const struct hr_call *c);
    unsigned needs;                /* HR_NEEDS_... */
    int operands;                  /* exactly this many; -1: one or more */
    enum hr_operand operand;       /* what they are, for completion */
    const char *synopsis;          /* its operands, "NAME", for --help */
};

/* A subcommand's line, parsed: what its act gets. */
#define HR_MAX_OPTS 24
struct hr_call {
    const struct hr_cmd *table; /* the command's */
    const struct hr_cmd *sub;
    const struct hr_opts *o;
    const char *val[HR_MAX_OPTS]; /* by option (val - HR_OPT_OWN): its
                                   * value, "" for a flag; NULL: not given */
    int argc;                     /* the operands after the subcommand */
    char **argv;
    char dir[4096];               /* the site, with HR_NEEDS_SITE */
};

struct hr_cmdline {
    const char *cmd;             /* "pmm": names it in messages; NULL for hr */
    const char *usage;           /* what --help prints */
    const char *shorts;          /* getopt's short options, "" for none */
    const struct option *longs;  /* ending with HR_OPTS_COMMON */
    struct hr_opts *o;           /* set by --json and --site */
    int started;                 /* zero before the first call */
    /* in place of shorts and longs: the command's table (from which
     * hr_getopt() makes them) and whether the first operand ends the
     * options; with a table, --help prints hr_usage() with usage as
     * its prose */
    const struct hr_cmd *table;
    int stop_at_operand;
    struct option built[HR_MAX_OPTS + 4];
    char built_shorts[HR_MAX_OPTS * 2 + 2];
};
int hr_getopt(int argc, char **argv, struct hr_cmdline *c);
/* c's shorts and longs from its table (hr_getopt() calls it). */
void hr_build_opts(struct hr_cmdline *c);

/* The commands, a table ending with {0} (hr.c), and hr itself (its
 * options, the commands as its subcommands). */
extern const struct hr_cmd hr_commands[];
extern const struct hr_cmd hr_top;
/* Every command's options, after its own: --json, --site DIR, --help. */
extern const struct hr_optdef hr_common_opts[];
/* The row of command name in hr_commands. */
const struct hr_cmd *hr_command(const char *name);
/* The levels' tables: the subcommands of site, pmm and heap; the options
 * of the commands that have some. */
extern const struct hr_cmd hr_site_subs[], hr_pmm_subs[], hr_heap_subs[];
extern const struct hr_optdef hr_site_options[], hr_pmm_options[], hr_heap_options[],
    hr_arun_options[], hr_akill_options[], hr_log_options[], hr_metrics_options[],
    hr_upgrade_options[],
    hr_shutdown_options[];
/* site.conf's keys hr site set takes, with their ranges in words; ends
 * with {NULL}. */
extern const char *const hr_site_settings[][2];
/* --help of command c (its name path, "site", in cmd), from its table:
 * the synopsis, then its subcommands' or options' help; about is the
 * prose that goes between them (NULL for none). */
void hr_usage(FILE *f, const char *cmd, const struct hr_cmd *c,
              const char *about);
/* Parse a command with subcommands (hr site): the options of c's table
 * into the call, then the subcommand, checked against the table (a known
 * name, its operands' count, options that go with it, what it needs);
 * then run its act.  Exits 2 on bad usage, saying what. */
int hr_sub_run(int argc, char **argv, const struct hr_opts *o,
               const struct hr_cmd *c, const char *about);
/* hr --complete WORD... CURRENT: what bash completion offers (one a line),
 * or a line ":dir", ":file", ":program", ":block MEDIUM", ":nospace"
 * first for what only the shell can list (contrib/hr.bash-completion). */
int hr_complete(int argc, char **argv);

/* Each command gets its arguments with its name first (argv[0]). */
int hr_cmd_site(int argc, char **argv, const struct hr_opts *o);
int hr_cmd_pmm(int argc, char **argv, const struct hr_opts *o);
int hr_cmd_heap(int argc, char **argv, const struct hr_opts *o); /* argv[0] "heap" */
int hr_cmd_arun(int argc, char **argv, const struct hr_opts *o);
int hr_cmd_akill(int argc, char **argv, const struct hr_opts *o);
int hr_cmd_ps(int argc, char **argv, const struct hr_opts *o);
int hr_cmd_upgrade(int argc, char **argv, const struct hr_opts *o);
int hr_cmd_log(int argc, char **argv, const struct hr_opts *o);
int hr_cmd_metrics(int argc, char **argv, const struct hr_opts *o);
int hr_cmd_restart(int argc, char **argv, const struct hr_opts *o);
/* Die (HR_EXIT_FAIL) saying action failed, in words for the controller's
 * refusal r (-errno): none runs, permission, range, full... */
__attribute__((noreturn)) void hr_die_ctl(const char *action, int r);
/* Those words, for a caller that says them itself (--json's "error"). */
const char *hr_ctl_err(int r);
/* why, when the controller said there something of its own about its
 * refusal r (a rollback's reason, a step that failed); NULL when it said
 * nothing, or only pmm_strerror(r), which the caller's words say better. */
const char *hr_ctl_said(const char *why, int r);
/* Does the running controller's ps (its JSON) hold needle?  -1 when no
 * controller runs; on another error, dies with action first. */
int hr_ps_has(const char *dir, const char *action, const char *needle);
int hr_site_start(const struct hr_opts *o);
/* akill -g on a site no controller runs (stopped, or failed): hrd
 * --end-group ends the group; an exit code, or dies saying why. */
int hr_end_group_offline(const char *dir, int group);
int hr_site_stop(const struct hr_opts *o);
/* Stop dir's controller if one runs, and wait until it has: 1, else 0. */
int hr_stop_running(const char *dir, const char *action);
int hr_site_restart_cmd(const struct hr_opts *o, int cold);
int hr_site_cold(const struct hr_opts *o);
/* hr arun --listen SPEC (listen_arg.c): spec checked (dies, exit 2, when
 * bad) and appended to specs (cap bytes), comma-separated. */
void hr_add_listen(char *specs, size_t cap, const char *spec);
/* environ with HR_LISTEN=specs in place of any HR_LISTEN it has. */
char **hr_with_listen(const char *specs);
/* hr site info (info_cmd.c). */
int hr_site_info(const struct hr_call *c);

#endif

