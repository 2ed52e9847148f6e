/* SPDX-License-Identifier: MIT */
/*
 * ini.h - the lines of the site's start-up file, sysadm.ini.
 *
 * One command a line; `#` at the start of a word begins a comment; words
 * are split as a shell splits them (single and double quotes, backslash),
 * with no expansion of any kind; a line does not continue on the next, and
 * one that ends in a backslash is a bad line.  `arun -g [G] PROG ARGS` names a
 * restartable actor (-g alone: group 0, as the ChorusOS guide has it),
 * `arun PROG ARGS` an ordinary actor; any other line is a command, PROG
 * ARGS.  Lines longer than 8 KiB,
 * an open quote or more than HRD_INI_MAX_WORDS words are bad lines, each
 * reported with its number (startup.c runs them).
 */
#ifndef HRD_INI_H
#define HRD_INI_H

#include <stddef.h>

#define HRD_INI_MAX_WORDS 256

enum hrd_ini_kind {
    HRD_INI_EMPTY,      /* blank, or a comment */
    HRD_INI_COMMAND,    /* argv: PROG ARGS */
    HRD_INI_ARUN,       /* group; argv: PROG ARGS */
    HRD_INI_ORDINARY,   /* arun without -g; argv: PROG ARGS */
    HRD_INI_ARUN_USAGE, /* an arun line without a program, or with a group
                           that is not a number */
    HRD_INI_BAD,        /* an open quote, or too many words */
    HRD_INI_BACKSLASH,  /* ends in a backslash: lines are not continued */
    HRD_INI_TOO_LONG,   /* longer than buf */
};

/* One line, split in place in buf; argv points into words. */
struct hrd_ini_line {
    int lineno;         /* set it to 0 before the first line */
    enum hrd_ini_kind kind;
    long group;         /* HRD_INI_ARUN: as written, not checked */
    int argc;
    char **argv;        /* NULL-terminated */
    char *words[HRD_INI_MAX_WORDS + 1];
    char buf[8192];
};

/* Read the next line of the NUL-terminated text from offset *at (moved on)
 * into l: 1, or 0 at the end of the text. */
int hrd_ini_next(const char *text, size_t *at, struct hrd_ini_line *l);

#endif
