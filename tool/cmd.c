/* SPDX-License-Identifier: MIT */
/*
 * cmd.c - the tool's commands as data: from a command's table (struct
 * hr_cmd, hr.h: its subcommands, its options with their values, what each
 * needs, a line of help) come getopt's option lists, --help, the usage
 * errors of a subcommand, and what bash completion offers (hr --complete,
 * read by contrib/hr.bash-completion).
 *
 * Invariants: no command, subcommand or option is named anywhere but in
 * its table (a new one is a new row); an option outside its table is
 * refused by getopt, one of a table given with a subcommand it does not go
 * with is refused here, both with exit 2.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "hr.h"

/* --json, --site and --help: every command's, after its own. */
const struct hr_optdef hr_common_opts[] = {
    {"json", HR_OPT_JSON, HR_ARG_NONE, NULL, NULL, NULL},
    {"site", HR_OPT_SITE, HR_ARG_DIR, "DIR", NULL, NULL},
    {"help", HR_OPT_HELP, HR_ARG_NONE, NULL, NULL, NULL},
    {0},
};

static int is_short(const struct hr_optdef *d)
{
    return d->name[1] == 0;
}

void hr_build_opts(struct hr_cmdline *c)
{
    const struct hr_optdef *d = c->table->opts;
    size_t n = 0, s = 0;
    if (c->stop_at_operand)
        c->built_shorts[s++] = '+';
    for (; d && d->name && n < HR_MAX_OPTS; d++) {
        if (is_short(d)) {
            c->built_shorts[s++] = d->name[0];
            if (d->arg != HR_ARG_NONE)
                c->built_shorts[s++] = ':';
            continue;
        }
        c->built[n++] = (struct option){d->name, d->arg == HR_ARG_NONE ?
                                        no_argument : required_argument,
                                        NULL, d->val};
    }
    c->built_shorts[s] = 0;
    for (d = hr_common_opts; d->name; d++)
        c->built[n++] = (struct option){d->name, d->arg == HR_ARG_NONE ?
                                        no_argument : required_argument,
                                        NULL, d->val};
    c->built[n] = (struct option){0};
    c->shorts = c->built_shorts;
    c->longs = c->built;
}

/* Does the space-separated list have word? */
static int listed(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
            return 1;
    return 0;
}

static int goes_with(const struct hr_optdef *d, const struct hr_cmd *sub)
{
    return !d->subs || !sub || listed(d->subs, sub->name);
}

/* "--name WHAT" or "-g WHAT" into buf. */
static const char *spelled(const struct hr_optdef *d, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s%s", is_short(d) ? "-" : "--", d->name,
             d->what ? " " : "", d->what ? d->what : "");
    return buf;
}

/* text, its lines after the first indented to column col. */
static void indented(FILE *f, const char *text, int col)
{
    for (const char *p = text; *p; p++) {
        fputc(*p, f);
        if (*p == '\n' && p[1])
            fprintf(f, "%*s", col, "");
    }
    fputc('\n', f);
}

/* The synopsis line of "hr PATH": its options, then its operands,
 * wrapped at 79 columns under its first option. */
static void synopsis(FILE *f, const char *lead, const char *path,
                     const struct hr_cmd *c, const struct hr_cmd *sub)
{
    char buf[128];
    int col = fprintf(f, "%shr%s%s%s%s", lead, path[0] ? " " : "", path,
                      sub ? " " : "", sub ? sub->name : ""), start = col + 1;
    for (const struct hr_optdef *d = c->opts; d && d->name; d++) {
        if (!goes_with(d, sub))
            continue;
        snprintf(buf, sizeof buf, "[%s]", spelled(d, (char[64]){0}, 64));
        if (col + 1 + (int)strlen(buf) > 79)
            col = fprintf(f, "\n%*s", start - 1, "") - 1;
        col += fprintf(f, " %s", buf);
    }
    const char *ops = (sub ? sub : c)->synopsis;
    if (ops)
        fprintf(f, "%s%s", col + 1 + (int)strlen(ops) > 79 ?
                "\n" : "", ops[0] ? " " : "");
    fprintf(f, "%s\n", ops ? ops : "");
}

static const struct hr_cmd *find(const struct hr_cmd *t, const char *name)
{
    for (; t && t->name; t++)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

/* "  NAME SYNOPSIS   help" of the commands' list; SYNOPSIS is its
 * subcommands, sub|sub, when it has some. */
static void command_line(FILE *f, const struct hr_cmd *c)
{
    char head[128];
    int n = snprintf(head, sizeof head, "%s", c->name);
    for (const struct hr_cmd *s = c->subs; s && s->name; s++)
        if (s->help)
            n += snprintf(head + n, sizeof head - (size_t)n, "%c%s",
                          s == c->subs ? ' ' : '|', s->name);
    if (!c->subs && c->synopsis && c->synopsis[0])
        snprintf(head + n, sizeof head - (size_t)n, " %s", c->synopsis);
    if (strlen(head) > 26)
        fprintf(f, "  %s\n%29s", head, "");
    else
        fprintf(f, "  %-26s ", head);
    indented(f, c->help, 29);
}

const struct hr_cmd *hr_command(const char *name)
{
    return find(hr_commands, name);
}

void hr_usage(FILE *f, const char *cmd, const struct hr_cmd *c,
              const char *about)
{
    const struct hr_cmd *s;
    int w = 0;
    if (!c->subs || !c->subs->act) { /* a command: its one synopsis */
        synopsis(f, "usage: ", cmd, c, NULL);
    } else { /* one per subcommand */
        for (s = c->subs; s->name; s++)
            if (s->help)
                synopsis(f, s == c->subs ? "usage: " : "       ", cmd, c, s);
    }
    if (about)
        fputs(about, f);
    if (c->subs && !c->subs->act) { /* the commands, each with its own */
        for (s = c->subs; s->name; s++)
            if (s->help)
                command_line(f, s);
        return;
    }
    if (c->subs) {
        for (s = c->subs; s->name; s++)
            w = s->help && (int)strlen(s->name) > w ? (int)strlen(s->name) : w;
        fputc('\n', f);
        for (s = c->subs; s->name; s++)
            if (s->help) {
                fprintf(f, "%-*s", w + 2, s->name);
                indented(f, s->help, w + 2);
            }
        return;
    }
    char buf[64];
    for (const struct hr_optdef *d = c->opts; d && d->name; d++)
        if (d->help && (int)strlen(spelled(d, buf, sizeof buf)) > w)
            w = (int)strlen(buf);
    for (const struct hr_optdef *d = c->opts; d && d->name; d++)
        if (d->help) {
            fprintf(f, "  %-*s", w + 3, spelled(d, buf, sizeof buf));
            indented(f, d->help, w + 5);
        }
}


static const struct hr_optdef *opt_of(const struct hr_cmd *c, int val)
{
    for (const struct hr_optdef *d = c->opts; d && d->name; d++)
        if (d->val == val)
            return d;
    return NULL;
}

/* Refuse what the subcommand's row says no to: an option that goes with
 * another, the wrong number of operands. */
static void check_call(const struct hr_call *call, const char *cmd)
{
    const struct hr_cmd *s = call->sub;
    char buf[64];
    for (int i = 0; i < HR_MAX_OPTS; i++) {
        const struct hr_optdef *d = opt_of(call->table, HR_OPT_OWN + i);
        if (call->val[i] && d && !goes_with(d, s))
            hr_die(HR_EXIT_USAGE, "%s %s: %s goes with '%s %.*s'", cmd,
                   s->name, spelled(d, buf, sizeof buf), cmd,
                   (int)strcspn(d->subs, " "), d->subs);
    }
    if (s->operands >= 0 && call->argc > s->operands)
        hr_die(HR_EXIT_USAGE, "%s %s: unexpected argument '%s'", cmd, s->name,
               call->argv[s->operands]);
    if (call->argc < (s->operands < 0 ? 1 : s->operands))
        hr_die(HR_EXIT_USAGE, "%s %s: missing argument (see hr %s --help)",
               cmd, s->name, cmd);
}

int hr_sub_run(int argc, char **argv, const struct hr_opts *go,
               const struct hr_cmd *c, const char *about)
{
    static struct hr_call call;
    struct hr_opts o = *go;
    struct hr_cmdline cl = {.cmd = c->name, .usage = about, .table = c,
                            .o = &o};
    int k;
    call.table = c;
    while ((k = hr_getopt(argc, argv, &cl)) != -1) {
        const struct hr_optdef *d = opt_of(c, k);
        if (d && d->arg == HR_ARG_MEDIUM && strcmp(optarg, "RAM") != 0 &&
            strcmp(optarg, "DISK") != 0)
            hr_die(HR_EXIT_USAGE, "%s: --%s: unknown medium '%s' (RAM or "
                   "DISK)", c->name, d->name, optarg);
        if (k >= HR_OPT_OWN && k < HR_OPT_OWN + HR_MAX_OPTS)
            call.val[k - HR_OPT_OWN] = optarg ? optarg : "";
    }
    if (optind >= argc) {
        hr_usage(stderr, c->name, c, about);
        return HR_EXIT_USAGE;
    }
    call.sub = find(c->subs, argv[optind]);
    if (!call.sub)
        hr_die(HR_EXIT_USAGE, "%s: unknown subcommand '%s' (see hr %s --help)",
               c->name, argv[optind], c->name);
    call.o = &o;
    call.argc = argc - optind - 1;
    call.argv = argv + optind + 1;
    check_call(&call, c->name);
    char action[64];
    snprintf(action, sizeof action, "%s %s", c->name, call.sub->name);
    if (call.sub->needs & HR_NEEDS_SITE)
        hr_site_existing(&o, call.dir, sizeof call.dir, action);
    return call.sub->act(&call);
}
