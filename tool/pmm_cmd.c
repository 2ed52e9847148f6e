/* SPDX-License-Identifier: MIT */
/*
 * pmm_cmd.c - hr pmm ls|show|free|freeall|check.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/pmm.h>

#include "hr.h"

/* What a pmm subcommand was given. */
struct pmm_args {
    const char *sub;    /* ls, show, free, freeall or check */
    const char *arg;    /* its operand: a block name or a key; NULL for none */
    const char *medium; /* --medium, RAM by default */
    const char *bank;   /* --bank PATH (check) */
    int repair;         /* --repair (check) */
    int hex;            /* --hex (freeall) */
};

enum { OPT_MEDIUM = HR_OPT_OWN, OPT_BANK, OPT_REPAIR, OPT_HEX };

/* The call's options and operand, as the subcommands read them. */
static const struct pmm_args *args_of(const struct hr_call *c)
{
    static struct pmm_args a;
    const char *medium = c->val[OPT_MEDIUM - HR_OPT_OWN];
    a = (struct pmm_args){
        .sub = c->sub->name,
        .arg = c->argc ? c->argv[0] : NULL,
        .medium = medium ? medium : "RAM",
        .bank = c->val[OPT_BANK - HR_OPT_OWN],
        .repair = c->val[OPT_REPAIR - HR_OPT_OWN] != NULL,
        .hex = c->val[OPT_HEX - HR_OPT_OWN] != NULL,
    };
    return &a;
}

static pmm_bank *open_bank(const struct hr_opts *o, const char *medium,
                           unsigned flags, const char *action)
{
    pmm_bank *b;
    char dir[4096];
    hr_site_as_owner(o, action);
    int r = pmm_bank_open(&b, o->site, medium, flags);
    if (r < 0) {
        hr_site_dir(o, dir, sizeof dir, action);
        hr_die_bank_err(o, dir, action, medium, r);
    }
    return b;
}

static void block_json(const pmm_block *blk)
{
    printf("{\"medium\": ");
    hr_json_str(blk->medium);
    printf(", \"name\": ");
    hr_json_str(blk->name);
    printf(", \"name_hex\": \"");
    hr_hex(blk->name, strlen(blk->name));
    printf("\", \"size\": %zu, \"key\": \"", blk->size);
    hr_hex(blk->key, blk->keylen);
    printf("\", \"group\": ");
    if (blk->group >= 0)
        printf("%d", blk->group);
    else
        printf("null");
    printf(", \"system\": %s, \"addr\": \"%p\", \"creator_pid\": %d, "
           "\"created_ns\": %llu}",
           (blk->flags & PMM_B_SYSTEM) ? "true" : "false", blk->addr,
           blk->creator_pid, (unsigned long long)blk->created_ns);
}

static void block_row(const pmm_block *blk)
{
    char when[32];
    time_t t = (time_t)(blk->created_ns / 1000000000ull);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
    printf("%-5s %-24s %10zu  %-18p %5s %-6s %s  ", blk->medium, blk->name,
           blk->size, blk->addr,
           blk->group >= 0 ? "" : "-", blk->flags & PMM_B_SYSTEM ? "system" : "user",
           when);
    if (blk->group >= 0)
        printf("group %d", blk->group);
    else
        hr_key_text(blk->key, blk->keylen);
    putchar('\n');
}

struct ls_state {
    const struct hr_opts *o;
    int n;
};

static int ls_one(const pmm_block *blk, void *arg)
{
    struct ls_state *s = arg;
    if (s->o->json) {
        printf("%s", s->n ? ",\n  " : "\n  ");
        block_json(blk);
    } else {
        block_row(blk);
    }
    s->n++;
    return 0;
}

static int pmm_ls(const struct hr_call *c)
{
    const struct pmm_args *a = args_of(c);
    const struct hr_opts *o = c->o;
    pmm_bank *b = open_bank(o, a->medium, PMM_OPEN_RDONLY, "pmm ls");
    struct ls_state s = {o, 0};
    if (o->json)
        printf("{\"blocks\": [");
    else
        printf("%-5s %-24s %10s  %-18s %5s %-6s %-19s  %s\n", "MEDIUM", "NAME",
               "SIZE", "ADDRESS", "", "OWNER", "CREATED", "KEY");
    int r = pmm_iter(b, ls_one, &s);
    pmm_bank_close(b);
    if (r < 0)
        hr_die_err("pmm ls", r);
    if (o->json)
        printf("%s]}\n", s.n ? "\n" : "");
    return HR_EXIT_OK;
}

/* A block name as the library takes it, or a usage error that says why. */
static const char *block_name(const struct pmm_args *a, const char *what)
{
    const char *n = a->arg;
    if (!*n || strlen(n) >= PMM_NAME_MAX)
        hr_die(HR_EXIT_USAGE, "%s: a block name has 1 to %d bytes", what,
               PMM_NAME_MAX - 1);
    return n;
}

static int pmm_show(const struct hr_call *c)
{
    const struct pmm_args *a = args_of(c);
    const struct hr_opts *o = c->o;
    pmm_block blk;
    block_name(a, "pmm show");
    pmm_bank *b = open_bank(o, a->medium, PMM_OPEN_RDONLY, "pmm show");
    int r = pmm_stat(b, a->arg, &blk);
    pmm_bank_close(b);
    if (r == K_EUNKNOWN)
        hr_die(HR_EXIT_FAIL, "pmm show: no block '%s' in %s", a->arg,
               a->medium);
    if (r < 0)
        hr_die_err("pmm show", r);
    if (o->json) {
        block_json(&blk);
        putchar('\n');
        return HR_EXIT_OK;
    }
    printf("medium   %s\nname     %s\nsize     %zu\naddress  %p\nowner    %s\n"
           "key      ", blk.medium, blk.name, blk.size, blk.addr,
           blk.flags & PMM_B_SYSTEM ? "system" : "user");
    hr_key_text(blk.key, blk.keylen);
    printf("\ngroup    ");
    if (blk.group >= 0)
        printf("%d\n", blk.group);
    else
        printf("-\n");
    printf("creator  pid %d\n", blk.creator_pid);
    return HR_EXIT_OK;
}

static int pmm_free_cmd(const struct hr_call *c)
{
    const struct pmm_args *a = args_of(c);
    const struct hr_opts *o = c->o;
    block_name(a, "pmm free");
    pmm_bank *b = open_bank(o, a->medium, 0, "pmm free");
    int r = pmm_free(b, a->arg);
    pmm_bank_close(b);
    if (r == K_EUNKNOWN)
        hr_die(HR_EXIT_FAIL, "pmm free: no block '%s' in %s", a->arg,
               a->medium);
    if (r == K_EPRIV)
        hr_die(HR_EXIT_FAIL, "pmm free: '%s' is a system block", a->arg);
    if (r < 0)
        hr_die_err("pmm free", r);
    if (o->json)
        printf("{\"freed\": 1}\n");
    return HR_EXIT_OK;
}

static int parse_key(const char *s, int hex, unsigned char *key, size_t *len)
{
    size_t n = strlen(s);
    if (!hex) {
        if (n + 1 > PMM_KEY_MAX)
            return -1;
        memcpy(key, s, n + 1);
        *len = n + 1;
        return 0;
    }
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2, n -= 2;
    if (n == 0 || n % 2 || n / 2 > PMM_KEY_MAX)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (!isxdigit((unsigned char)s[2 * i]) ||
            !isxdigit((unsigned char)s[2 * i + 1]) ||
            sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        key[i] = (unsigned char)v;
    }
    *len = n / 2;
    return 0;
}

static int pmm_freeall(const struct hr_call *c)
{
    const struct pmm_args *a = args_of(c);
    const struct hr_opts *o = c->o;
    unsigned char key[PMM_KEY_MAX];
    size_t len, n = 0;
    if (parse_key(a->arg, a->hex, key, &len) < 0)
        hr_die(HR_EXIT_USAGE, "pmm freeall: bad key (at most %d bytes%s)",
               PMM_KEY_MAX, a->hex ? ", an even number of hex digits" :
                                         " with its NUL");
    pmm_bank *b = open_bank(o, a->medium, 0, "pmm freeall");
    int r = pmm_free_key(b, key, len, &n);
    pmm_bank_close(b);
    if (r == K_EUNKNOWN)
        hr_die(HR_EXIT_FAIL, "pmm freeall: no block carries that key");
    if (r == K_EPRIV)
        hr_die(HR_EXIT_FAIL, "pmm freeall: that key belongs to the system or to "
                             "restart groups");
    if (r < 0)
        hr_die_err("pmm freeall", r);
    if (o->json)
        printf("{\"freed\": %zu}\n", n);
    else
        printf("%zu block%s freed\n", n, n == 1 ? "" : "s");
    return HR_EXIT_OK;
}

struct check_state {
    const struct hr_opts *o;
    int n;
};

static void check_say(const char *msg, void *arg)
{
    struct check_state *s = arg;
    if (s->o->json) {
        printf("%s", s->n++ ? ", " : "");
        hr_json_str(msg);
    } else {
        printf("%s\n", msg);
    }
}

static int pmm_check_cmd(const struct hr_call *c)
{
    const struct pmm_args *a = args_of(c);
    const struct hr_opts *o = c->o;
    char path[4096];
    struct check_state s = {o, 0};
    if (a->bank && c->val[OPT_MEDIUM - HR_OPT_OWN]) /* the man page: one or the other */
        hr_die(HR_EXIT_USAGE, "pmm check: --bank and --medium name the bank two "
               "ways: give one");
    if (a->bank) {
        snprintf(path, sizeof path, "%s", a->bank);
        struct stat st;
        if (stat(path, &st) < 0) /* not "NOT consistent": no bank at all */
            hr_die(HR_EXIT_FAIL, "pmm check: --bank %s: %s", path,
                   strerror(errno));
        if (S_ISDIR(st.st_mode)) /* a site's directory, most likely */
            hr_die(HR_EXIT_FAIL, "pmm check: --bank %s: is a directory (give "
                   "the bank file in it, e.g. %s/ram.bank, or --medium M with "
                   "--site)", path, path);
        hr_as_owner_of(path, "pmm check");
    } else {
        hr_site_as_owner(o, "pmm check");
        int r = pmm_bank_path(path, sizeof path, o->site, a->medium);
        if (r == K_EUNKNOWN)
            hr_die(HR_EXIT_FAIL, "pmm check: the site has no %s medium",
                   a->medium);
        if (r < 0)
            hr_die_err("pmm check", r);
        char why[4300];
        if (access(path, F_OK) < 0 && strcmp(a->medium, "DISK") == 0)
            hr_die(HR_EXIT_FAIL, "pmm check: %s",
                   hr_disk_missing(why, sizeof why, path));
        if (access(path, F_OK) < 0)
            hr_die(HR_EXIT_FAIL, "pmm check: no %s bank at %s (hr site create "
                                 "makes one)", a->medium, path);
    }
    if (o->json) {
        printf("{\"bank\": ");
        hr_json_str(path);
        printf(", \"messages\": [");
    }
    int r = pmm_check(path, a->repair ? PMM_CHECK_REPAIR : 0, check_say, &s);
    if (o->json)
        printf("], \"consistent\": %s}\n", r == K_OK ? "true" : "false");
    else if (r == K_OK || r == K_EBANK)
        printf("%s: %s\n", path, r == K_OK ? "consistent" : "NOT consistent");
    else /* not a verdict on the bank: it could not be read */
        printf("%s: not checked: %s\n", path, pmm_strerror(r));
    if (r == K_OK)
        return HR_EXIT_OK;
    return r == K_EBANK ? HR_EXIT_BANK : HR_EXIT_FAIL;
}

const struct hr_optdef hr_pmm_options[] = {
    {"medium", OPT_MEDIUM, HR_ARG_MEDIUM, "M", NULL, NULL},
    {"bank", OPT_BANK, HR_ARG_FILE, "PATH", "check", NULL},
    {"repair", OPT_REPAIR, HR_ARG_NONE, NULL, "check", NULL},
    {"hex", OPT_HEX, HR_ARG_NONE, NULL, "freeall", NULL},
    {0},
};

const struct hr_cmd hr_pmm_subs[] = {
    {"ls", .act = pmm_ls, .help = "every block of the medium (default RAM), "
     "system blocks included"},
    {"show", .act = pmm_show, .operands = 1, .operand = HR_OPERAND_BLOCK,
     .synopsis = "NAME", .help = "one block"},
    {"free", .act = pmm_free_cmd, .operands = 1, .operand = HR_OPERAND_BLOCK,
     .synopsis = "NAME", .help =
     "free one block at once and for good (not a system block)"},
    {"freeall", .act = pmm_freeall, .operands = 1, .synopsis = "KEY", .help =
     "free every block allocated with deletion key KEY.  KEY is text\n"
     "taken with its terminating NUL, as sizeof(\"KEY\") counts it in C;\n"
     "with --hex it is the exact bytes, in hex"},
    {"check", .act = pmm_check_cmd, .help =
     "check a bank file without joining it; --repair rebuilds what can\n"
     "be rebuilt.  Exit 0 for a consistent bank, 3 for one that is not,\n"
     "1 when none could be checked (no such file, a directory, unreadable)"},
    {0},
};

int hr_cmd_pmm(int argc, char **argv, const struct hr_opts *o)
{
    return hr_sub_run(argc, argv, o, hr_command("pmm"), NULL);
}
