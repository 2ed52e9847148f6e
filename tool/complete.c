/* SPDX-License-Identifier: MIT */
/*
 * complete.c - hr --complete WORD... CURRENT: what bash completion offers
 * for the last word of a command line, read from the commands' tables
 * (cmd.c, hr.h), so that completion knows every command and option the
 * tool does.  contrib/hr.bash-completion runs it and lists what only the
 * shell can: files, directories, programs, the site's blocks.
 *
 * Output: one word a line, or first a line that names what the shell
 * lists: ":dir", ":file", ":program", ":block MEDIUM" (the block names of
 * MEDIUM, from hr pmm ls), ":nospace" (the words that follow are offered
 * without a space after them: KEY= of hr site set).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "hr.h"


/* The option that word names in c's table or the common ones, or NULL. */
static const struct hr_optdef *option(const struct hr_cmd *c, const char *w)
{
    const char *name = w + 1 + (w[1] == '-');
    size_t n = strcspn(name, "=");
    for (const struct hr_optdef *d = c->opts; d && d->name; d++)
        if (strlen(d->name) == n && strncmp(d->name, name, n) == 0)
            return d;
    for (const struct hr_optdef *d = hr_common_opts; d->name; d++)
        if (strlen(d->name) == n && strncmp(d->name, name, n) == 0)
            return d;
    return NULL;
}

/* Where the words before the current one leave the line. */
struct place {
    const struct hr_cmd *cmd;       /* hr_top, or the command */
    const struct hr_cmd *sub;       /* its subcommand, or NULL */
    const struct hr_optdef *value;  /* the option whose value comes next */
    const char *medium;             /* --medium's, RAM by default */
    int operands;                   /* operands seen after cmd and sub */
};

static void walk(int n, char **w, struct place *p)
{
    *p = (struct place){.cmd = &hr_top, .medium = "RAM"};
    for (int i = 0; i < n; i++) {
        p->value = NULL;
        if (p->cmd->operand == HR_OPERAND_PROGRAM && p->operands) {
            p->operands++; /* the program's own arguments */
            continue;
        }
        if (w[i][0] == '-' && w[i][1]) {
            const struct hr_optdef *d = option(p->cmd, w[i]);
            if (d && d->arg != HR_ARG_NONE && !strchr(w[i], '=')) {
                if (i + 1 == n)
                    p->value = d;
                else if (d->arg == HR_ARG_MEDIUM)
                    p->medium = w[i + 1];
                i++;
            }
            continue;
        }
        const struct hr_cmd *s = NULL;
        for (const struct hr_cmd *t = p->sub ? NULL : p->cmd->subs;
             t && t->name; t++)
            if (strcmp(t->name, w[i]) == 0)
                s = t;
        if (s && s->main)
            p->cmd = s;
        else if (s)
            p->sub = s;
        else
            p->operands++;
    }
}

static void options(const struct hr_cmd *c, const struct hr_cmd *sub)
{
    for (const struct hr_optdef *d = c->opts; d && d->name; d++)
        if (!d->subs || !sub || strstr(d->subs, sub->name))
            printf("%s%s\n", d->name[1] ? "--" : "-", d->name);
    puts("--help");
    puts("--json");
    if (c == &hr_top)
        puts("--site");
}

int hr_complete(int argc, char **argv)
{
    struct place p;
    if (argc < 1)
        return HR_EXIT_USAGE;
    walk(argc - 1, argv, &p);
    const char *cur = argv[argc - 1];
    const struct hr_cmd *at = p.sub ? p.sub : p.cmd;
    if (p.value) {
        static const char *const what[] = {
            [HR_ARG_FILE] = ":file", [HR_ARG_DIR] = ":dir",
            [HR_ARG_MEDIUM] = "RAM\nDISK",
        };
        if (what[p.value->arg])
            puts(what[p.value->arg]);
        return HR_EXIT_OK;
    }
    if (at->operand == HR_OPERAND_PROGRAM && p.operands) {
        puts(":file");
        return HR_EXIT_OK;
    }
    if (cur[0] == '-') {
        options(p.cmd, p.sub);
        return HR_EXIT_OK;
    }
    if (p.cmd->subs && !p.sub && (p.cmd == &hr_top || p.cmd->subs->act)) {
        for (const struct hr_cmd *s = p.cmd->subs; s->name; s++)
            if (s->help)
                puts(s->name);
        if (p.cmd == &hr_top)
            options(p.cmd, NULL);
        else
            puts("--help");
        return HR_EXIT_OK;
    }
    switch (at->operand) {
    case HR_OPERAND_BLOCK:
        printf(":block %s\n", p.medium);
        break;
    case HR_OPERAND_PROGRAM:
        puts(":program");
        break;
    case HR_OPERAND_SETTING:
        puts(":nospace");
        for (size_t i = 0; hr_site_settings[i][0]; i++)
            printf("%s=\n", hr_site_settings[i][0]);
        break;
    case HR_OPERAND_NONE:
        break;
    }
    return HR_EXIT_OK;
}
