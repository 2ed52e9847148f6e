/* SPDX-License-Identifier: MIT */
/*
 * out.c - the tool's messages, exits and output helpers.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hotrestart/hr.h>
#include <hotrestart/pmm.h>

#include "hr.h"

void hr_die(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("hr: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

void hr_die_err(const char *action, int err)
{
    hr_die(HR_EXIT_FAIL, "%s: %s", action, pmm_strerror(err));
}

void hr_die_site_err(const struct hr_opts *o, const char *action, int err)
{
    char dir[4096];
    struct stat st;
    if (err == K_EPRIV && pmm_site_path(dir, sizeof dir, o->site) == 0 &&
        lstat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (st.st_uid != geteuid() && geteuid() != 0)
            hr_die(HR_EXIT_FAIL, "%s: site %s belongs to uid %u, not to you "
                   "(uid %u): run hr as its owner", action, dir,
                   (unsigned)st.st_uid, (unsigned)geteuid());
        if (st.st_mode & 077)
            hr_die(HR_EXIT_FAIL, "%s: site %s is open to others (mode %04o) "
                   "and a site must be its owner's alone: chmod 700 it, or "
                   "make the site in a directory of it (hr --site %s/site "
                   "site create)", action, dir, (unsigned)(st.st_mode & 07777),
                   dir);
        char bank[4200];
        struct stat b;
        if (pmm_bank_path(bank, sizeof bank, dir, "RAM") == 0 &&
            stat(bank, &b) == 0 && b.st_uid != st.st_uid)
            hr_die(HR_EXIT_FAIL, "%s: site %s belongs to uid %u but its RAM "
                   "bank %s to uid %u: a site's files must all be its "
                   "owner's (chown -R the directory to one user)", action, dir,
                   (unsigned)st.st_uid, bank, (unsigned)b.st_uid);
    }
    hr_die_err(action, err);
}

const char *hr_disk_missing(char *buf, size_t cap, const char *path)
{
    snprintf(buf, cap, "the DISK bank %s that site.conf names is missing "
             "(an unmounted volume?); it is not made anew", path);
    return buf;
}

void hr_warn_disk_missing(const char *dir, const char *action)
{
    char path[4096], why[4300];
    pmm_bank *b;
    if (pmm_bank_path(path, sizeof path, dir, "DISK") < 0)
        return; /* no DISK medium */
    int r = pmm_bank_open(&b, dir, "DISK", PMM_OPEN_RDONLY);
    if (r == 0)
        pmm_bank_close(b);
    if (r == -ENOENT)
        fprintf(stderr, "hr: %s: %s\n", action,
                hr_disk_missing(why, sizeof why, path));
}

void hr_die_bank_err(const struct hr_opts *o, const char *dir,
                     const char *action, const char *medium, int err)
{
    char path[4096], why[4300];
    if (err == K_EUNKNOWN)
        hr_die(HR_EXIT_FAIL, "%s: no %s bank in site %s%s", action, medium,
               dir, strcmp(medium, "RAM") == 0 ? " (hr site create)" : "");
    if (err == -ENOENT && strcmp(medium, "DISK") == 0 &&
        pmm_bank_path(path, sizeof path, dir, medium) == 0)
        hr_die(HR_EXIT_FAIL, "%s: %s", action,
               hr_disk_missing(why, sizeof why, path));
    snprintf(why, sizeof why, "%s: %s bank", action, medium);
    hr_die_site_err(o, why, err);
}

void hr_site_dir(const struct hr_opts *o, char *dir, size_t len, const char *action)
{
    int r = pmm_site_path(dir, len, o->site);
    if (r < 0)
        hr_die(HR_EXIT_FAIL, "%s: site path: %s", action, pmm_strerror(r));
    /* the controller and the actors run in other directories than ours */
    if (dir[0] != '/')
        hr_die(HR_EXIT_USAGE, "%s: the site path '%s' (%s) is relative: give "
               "an absolute one", action, dir,
               o->site ? "--site" : "$HR_SITE");
    hr_as_owner_of(dir, action);
}

void hr_site_fits(const char *dir, const char *action)
{
    if (strlen(dir) > HR_SITE_PATH_MAX)
        hr_die(HR_EXIT_USAGE, "%s: the site path %s is %zu bytes, over the %u "
               "a site may have: its controller's socket (SITE/control.sock) "
               "would not fit a socket address; choose a shorter one", action,
               dir, strlen(dir), HR_SITE_PATH_MAX);
}

void hr_site_existing(const struct hr_opts *o, char *dir, size_t len,
                      const char *action)
{
    struct stat st;
    hr_site_dir(o, dir, len, action);
    if (stat(dir, &st) < 0 && errno == ENOENT)
        hr_die(HR_EXIT_FAIL, "%s: no site at %s (hr site create makes one)",
               action, dir);
}

int hr_parse_count(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int hr_parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10); /* decimal: 010 is ten */
    if (errno)
        return -1;
    int shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: break;
    }
    if (*end == 'i' && shift)
        end++;
    if ((*end == 'B' || *end == 'b') && end[1] == 0)
        end++;
    if (*end || (shift && v > (~0ull >> shift)))
        return -1;
    *out = v << shift;
    return 0;
}

/* The UTF-8 sequence at c: its length (1 to 4) when it is well-formed (no
 * overlong form, no surrogate, nothing above U+10FFFF: RFC 3629), else minus
 * the length of its maximal ill-formed subpart, the bytes that one U+FFFD
 * stands for (Unicode 15.0, section 3.9, as Python and browsers decode). */
static int utf8_seq(const unsigned char *c)
{
    int n = c[0] < 0x80 ? 1 : c[0] < 0xc2 ? 0 : c[0] < 0xe0 ? 2 :
            c[0] < 0xf0 ? 3 : c[0] < 0xf5 ? 4 : 0;
    unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range */
    if (c[0] == 0xe0)
        lo = 0xa0;
    else if (c[0] == 0xed)
        hi = 0x9f;
    else if (c[0] == 0xf0)
        lo = 0x90;
    else if (c[0] == 0xf4)
        hi = 0x8f;
    if (n == 0)
        return -1;
    for (int i = 1; i < n; i++) /* a NUL stops it too: it is out of range */
        if (c[i] < (i == 1 ? lo : 0x80) || c[i] > (i == 1 ? hi : 0xbf))
            return -i;
    return n;
}

/* A JSON string is UTF-8 text (RFC 8259): control characters, the quote and
 * the backslash go escaped, and each ill-formed UTF-8 sequence becomes
 * U+FFFD, so that any C string gives valid JSON.  Where the exact bytes
 * matter (a block's name), the caller prints them in hex too. */
void hr_json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)s; *c;) {
        int n = utf8_seq(c);
        if (n < 0)
            fputs("\\ufffd", stdout);
        else if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if (*c < 0x20 || *c == 0x7f)
            printf("\\u%04x", *c);
        else
            fwrite(c, 1, (size_t)n, stdout);
        c += n < 0 ? -n : n;
    }
    putchar('"');
}

void hr_hex(const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", ((const unsigned char *)p)[i]);
}

/* A key as text when it is printable (a trailing NUL shown as nothing),
 * else as 0x-hex. */
void hr_key_text(const uint8_t *key, size_t n)
{
    /* as text only the form pmm freeall takes as text: printable, then its
     * NUL; a key of the same letters without the NUL is another key, and
     * is shown in hex (what freeall --hex takes) */
    size_t len = n && key[n - 1] == 0 ? n - 1 : n;
    int text = len > 0 && len < n;
    for (size_t i = 0; i < len; i++)
        text &= isprint(key[i]) && key[i] != ' ';
    if (text)
        printf("%.*s", (int)len, (const char *)key);
    else if (n == 0)
        printf("-");
    else {
        printf("0x");
        hr_hex(key, n);
    }
}

/* How many long options begin with what "--name" or "--name=value" names. */
static int long_matches(const struct option *longs, const char *arg)
{
    size_t n = strcspn(arg + 2, "=");
    int matches = 0;
    for (const struct option *l = longs; l->name; l++)
        matches += strncmp(l->name, arg + 2, n) == 0;
    return matches;
}

/* The message for an option getopt refused: unknown, ambiguous (a prefix
 * of several long options) or without its value. */
__attribute__((noreturn)) static void bad_option(int k, char **argv,
                                                 const struct hr_cmdline *c)
{
    char shortopt[3] = {'-', (char)optopt, 0};
    const char *arg = argv[optind - 1];
    int islong = optopt == 0 || optopt >= HR_OPT_JSON;
    const char *opt = islong ? arg : shortopt;
    char msg[256];
    if (k == ':')
        snprintf(msg, sizeof msg, "option '%s' needs a value", opt);
    else
        snprintf(msg, sizeof msg, "%s option '%s'",
                 islong && optopt == 0 && long_matches(c->longs, arg) > 1 ?
                     "ambiguous" : "unknown", opt);
    if (c->cmd)
        hr_die(HR_EXIT_USAGE, "%s: %s (see hr %s --help)", c->cmd, msg, c->cmd);
    hr_die(HR_EXIT_USAGE, "%s (see hr --help)", msg);
}

int hr_getopt(int argc, char **argv, struct hr_cmdline *c)
{
    char shorts[64];
    if (c->table && !c->started)
        hr_build_opts(c);
    if (!c->started) {
        optind = 0; /* glibc: start afresh, on this argv */
        opterr = 0; /* the messages are ours */
        c->started = 1;
    }
    int stop = c->shorts[0] == '+';
    /* ':' first: a missing value returns ':', told apart from '?' */
    snprintf(shorts, sizeof shorts, "%s:%sh", stop ? "+" : "", c->shorts + stop);
    for (;;) {
        int k = getopt_long(argc, argv, shorts, c->longs, NULL);
        switch (k) {
        case HR_OPT_JSON:
            c->o->json = 1;
            break;
        case HR_OPT_SITE:
            if (!*optarg) /* not "the default site": a variable left empty */
                hr_die(HR_EXIT_USAGE, "--site: an empty path (give the site's "
                       "directory, or no --site for $HR_SITE's)");
            c->o->site = optarg;
            break;
        case HR_OPT_HELP:
        case 'h':
            if (c->table)
                hr_usage(stdout, c->cmd ? c->cmd : "", c->table, c->usage);
            else
                fputs(c->usage, stdout);
            exit(HR_EXIT_OK);
        case ':':
        case '?':
            bad_option(k, argv, c);
        default:
            return k;
        }
    }
}
