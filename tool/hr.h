/*
 * hr.h - shared pieces of the hr tool.
 *
 * Exit codes (documented in hr(1) and --help):
 *   0 success; 1 the operation failed; 2 bad usage; 3 the bank is
 *   inconsistent (hr pmm check).
 */
#ifndef HR_TOOL_H
#define HR_TOOL_H

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

/* The site's directory (--site, $HR_SITE or the default) into dir, or
 * exit saying why, with action as the message's first word. */
void hr_site_dir(const struct hr_opts *o, char *dir, size_t len, const char *action);

/* Does argv[i] ask for help? */
int hr_is_help(const char *a);
/* Parse a size with an optional K, M, G or T suffix (powers of 1024). */
int hr_parse_size(const char *s, uint64_t *out);

/* JSON and table output */
void hr_json_str(const char *s);
void hr_hex(const void *p, size_t n);
void hr_key_text(const uint8_t *key, size_t n);

int hr_cmd_site(int argc, char **argv, const struct hr_opts *o);
int hr_cmd_pmm(int argc, char **argv, const struct hr_opts *o);
int hr_cmd_heap(int argc, char **argv, const struct hr_opts *o); /* argv[0] "heap" */
int hr_cmd_arun(int argc, char **argv, const struct hr_opts *o);
int hr_cmd_akill(int argc, char **argv, const struct hr_opts *o);
int hr_cmd_ps(int argc, char **argv, const struct hr_opts *o);
int hr_cmd_log(int argc, char **argv, const struct hr_opts *o);
int hr_site_start(const struct hr_opts *o);
int hr_site_stop(const struct hr_opts *o);
int hr_site_restart_cmd(const struct hr_opts *o);
int hr_site_cold(const struct hr_opts *o);
int hr_show_status(const char *dir, const struct hr_opts *o);

#endif

/* Options of a subcommand: flags and valued options in any order, among
 * positionals.  --help prints usage and exits 0; no positional at all
 * prints it on stderr and exits 2.  `valued` lists the options that take a value ("--medium"),
 * `flags` those that do not; --json and --site are always understood. */
#define HR_MAX_POS 8
struct hr_args {
    const char *pos[HR_MAX_POS];
    int npos;
    const char *val[8];  /* by index in valued */
    int flag[8];         /* by index in flags */
    int help;
};
void hr_args_parse(int argc, char **argv, const char *const *valued,
                   const char *const *flags, struct hr_args *a,
                   struct hr_opts *o, const char *cmd, const char *usage);
