/* SPDX-License-Identifier: MIT */
/*
 * hr.h - shared pieces of the hr tool.
 *
 * Exit codes (documented in hr(1) and --help):
 *   0 success; 1 the operation failed; 2 bad usage; 3 the bank is
 *   inconsistent (hr pmm check).
 */
#ifndef HR_TOOL_H
#define HR_TOOL_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

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

/* The site's directory (--site, $HR_SITE or the default) into dir, or
 * exit saying why, with action as the message's first word. */
void hr_site_dir(const struct hr_opts *o, char *dir, size_t len, const char *action);
/* The same, for a site that must exist: exit 1 saying so when it does not. */
void hr_site_existing(const struct hr_opts *o, char *dir, size_t len,
                      const char *action);

/* Parse a size with an optional K, M, G or T suffix (powers of 1024). */
int hr_parse_size(const char *s, uint64_t *out);

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

struct hr_cmdline {
    const char *cmd;             /* "pmm": names it in messages; NULL for hr */
    const char *usage;           /* what --help prints */
    const char *shorts;          /* getopt's short options, "" for none */
    const struct option *longs;  /* ending with HR_OPTS_COMMON */
    struct hr_opts *o;           /* set by --json and --site */
    int started;                 /* zero before the first call */
};
int hr_getopt(int argc, char **argv, struct hr_cmdline *c);

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
int hr_site_start(const struct hr_opts *o);
/* akill -g on a site no controller runs (stopped, or failed): hrd
 * --end-group ends the group; an exit code, or dies saying why. */
int hr_end_group_offline(const char *dir, int group);
int hr_site_stop(const struct hr_opts *o);
/* Stop dir's controller if one runs, and wait until it has: 1, else 0. */
int hr_stop_running(const char *dir, const char *action);
int hr_site_restart_cmd(const struct hr_opts *o);
int hr_site_cold(const struct hr_opts *o);
int hr_show_status(const char *dir, const struct hr_opts *o);

#endif

