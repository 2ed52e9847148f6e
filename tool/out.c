/*
 * out.c - the tool's messages, exits and output helpers.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void hr_site_dir(const struct hr_opts *o, char *dir, size_t len, const char *action)
{
    int r = pmm_site_path(dir, len, o->site);
    if (r < 0)
        hr_die(HR_EXIT_FAIL, "%s: site path: %s", action, pmm_strerror(r));
}

int hr_is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

int hr_parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
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

void hr_json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if (*c < 0x20)
            printf("\\u%04x", *c);
        else
            putchar(*c);
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
    size_t len = n && key[n - 1] == 0 ? n - 1 : n;
    int text = len > 0;
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

static int index_of(const char *const *list, const char *s, size_t n)
{
    for (int i = 0; list && list[i]; i++)
        if (strlen(list[i]) == n && strncmp(list[i], s, n) == 0)
            return i;
    return -1;
}

void hr_args_parse(int argc, char **argv, const char *const *valued,
                   const char *const *flags, struct hr_args *a,
                   struct hr_opts *o, const char *cmd, const char *usage)
{
    memset(a, 0, sizeof *a);
    int dashdash = 0;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (dashdash || s[0] != '-' || s[1] == 0) {
            if (a->npos >= HR_MAX_POS)
                hr_die(HR_EXIT_USAGE, "%s: too many arguments", cmd);
            a->pos[a->npos++] = s;
            continue;
        }
        if (strcmp(s, "--") == 0) {
            dashdash = 1;
            continue;
        }
        if (hr_is_help(s)) {
            a->help = 1;
            continue;
        }
        if (strcmp(s, "--json") == 0) {
            o->json = 1;
            continue;
        }
        const char *eq = strchr(s, '=');
        size_t n = eq ? (size_t)(eq - s) : strlen(s);
        const char *v = eq ? eq + 1 : NULL;
        int k;
        if (n == 6 && strncmp(s, "--site", 6) == 0) {
            if (!v && i + 1 >= argc)
                hr_die(HR_EXIT_USAGE, "%s: --site needs a directory", cmd);
            o->site = v ? v : argv[++i];
        } else if ((k = index_of(valued, s, n)) >= 0) {
            if (!v && i + 1 >= argc)
                hr_die(HR_EXIT_USAGE, "%s: %.*s needs a value", cmd, (int)n, s);
            a->val[k] = v ? v : argv[++i];
        } else if (!eq && (k = index_of(flags, s, n)) >= 0) {
            a->flag[k] = 1;
        } else {
            hr_die(HR_EXIT_USAGE, "%s: unknown option '%s' (see --help)", cmd, s);
        }
    }
    if (a->help || a->npos == 0) {
        fputs(usage, a->help ? stdout : stderr);
        exit(a->help ? HR_EXIT_OK : HR_EXIT_USAGE);
    }
}
