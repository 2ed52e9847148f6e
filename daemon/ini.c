/* SPDX-License-Identifier: MIT */
/*
 * ini.c - the lines of the start-up file, sysadm.ini, read and split (see
 * ini.h).  Text in, words out: no system call, nothing run, so that it can
 * be fuzzed on its own (tests/fuzz/fuzz_sysadm.c).
 */
#include <stdlib.h>
#include <string.h>

#include "ini.h"

/* 1 when only the line's end (carriage returns, its newline) follows. */
static int at_end(const char *r)
{
    r += strspn(r, "\r");
    return !*r || *r == '\n';
}

/* Split line in place, as a shell would without expansion; returns the
 * word count, -1 for an open quote or more than max words, or -2 for a
 * backslash at the end of the line (a shell's continuation: not ours, and
 * never the newline as a word). */
static int split(char *line, char **words, int max)
{
    int n = 0;
    char *r = line, *w = line;
    for (;;) {
        while (*r == ' ' || *r == '\t' || *r == '\r' || *r == '\n')
            r++;
        if (!*r || *r == '#')
            return n;
        if (n >= max)
            return -1;
        words[n++] = w;
        while (*r && *r != ' ' && *r != '\t' && *r != '\r' && *r != '\n') {
            if (*r == '\'') {
                char *end = strchr(r + 1, '\'');
                if (!end)
                    return -1;
                memmove(w, r + 1, (size_t)(end - r - 1));
                w += end - r - 1;
                r = end + 1;
            } else if (*r == '"') {
                r++;
                while (*r && *r != '"') {
                    if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
                        r++;
                    *w++ = *r++;
                }
                if (*r != '"')
                    return -1;
                r++;
            } else if (*r == '\\' && at_end(r + 1)) {
                return -2;
            } else if (*r == '\\') {
                *w++ = r[1];
                r += 2;
            } else {
                *w++ = *r++;
            }
        }
        int more = *r != 0;
        *w++ = 0;
        if (more)
            r++;
        if (w > r) /* cannot happen: output never outruns input */
            return -1;
        if (!more)
            return n;
    }
}

/* The next line from text + *at into l->buf, ending in a newline (the
 * last line's added), as fgets() would; 0 at the end. */
static int next_line(const char *text, size_t *at, struct hrd_ini_line *l)
{
    const char *p = text + *at;
    if (!*p)
        return 0;
    size_t n = strcspn(p, "\n");
    *at += n + (p[n] == '\n');
    if (n > sizeof l->buf - 2) { /* room for the newline too */
        l->kind = HRD_INI_TOO_LONG;
        return 1;
    }
    memcpy(l->buf, p, n);
    l->buf[n] = '\n';
    l->buf[n + 1] = 0;
    l->kind = HRD_INI_COMMAND;
    return 1;
}

int hrd_ini_next(const char *text, size_t *at, struct hrd_ini_line *l)
{
    char *end;
    if (!next_line(text, at, l))
        return 0;
    l->lineno++;
    l->argc = 0;
    l->argv = l->words;
    l->words[0] = NULL;
    if (l->kind == HRD_INI_TOO_LONG)
        return 1;
    int n = split(l->buf, l->words, HRD_INI_MAX_WORDS);
    if (n <= 0) {
        l->kind = n == -2 ? HRD_INI_BACKSLASH : n < 0 ? HRD_INI_BAD
                                                     : HRD_INI_EMPTY;
        return 1;
    }
    l->words[n] = NULL;
    l->argc = n;
    if (strcmp(l->words[0], "arun") != 0)
        return 1; /* HRD_INI_COMMAND */
    l->kind = HRD_INI_ARUN_USAGE;
    if (n < 2)
        return 1;
    if (strcmp(l->words[1], "-g") != 0) {
        l->kind = HRD_INI_ORDINARY; /* arun PROGRAM ARGS */
        l->argv = l->words + 1;
        l->argc = n - 1;
        return 1;
    }
    int prog = 3; /* the program's word */
    l->group = 0;
    if (n >= 3 && l->words[2][0] >= '0' && l->words[2][0] <= '9') {
        l->group = strtol(l->words[2], &end, 10);
        if (*end)
            return 1;
    } else {
        prog = 2; /* -g with no number: group 0 */
    }
    if (n < prog + 1)
        return 1;
    l->kind = HRD_INI_ARUN;
    l->argv = l->words + prog; /* PROGRAM ARGS */
    l->argc = n - prog;
    return 1;
}
