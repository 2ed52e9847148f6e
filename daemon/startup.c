/* SPDX-License-Identifier: MIT */
/*
 * startup.c - the site's start-up file, sysadm.ini in the site root.
 *
 * Its lines are read and split by ini.c.  `arun -g [G] PROG ARGS` starts a
 * restartable actor (group 0 without G), and only on the site's first
 * start: on a site restart the actors come back from the registry instead.
 * `arun PROG ARGS` starts an ordinary actor, as ChorusOS does: not waited
 * for, not watched, at every start.  Any other line runs PROG
 * ARGS (found on $PATH when it has no slash), with the console as output;
 * the next line waits for it to end.  A bad line is reported with its
 * number and the rest still runs.
 *
 * The controller serves requests while a command runs (its end arrives as
 * any child's, through the loop), so a command may itself call the
 * controller, `hr arun` or `hr ps`, and an actor started by an earlier line
 * is restarted if it fails meanwhile.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "arun.h"
#include "held.h"
#include "hrd.h"
#include "ini.h"
#include "log.h"
#include "os/os.h"
#include "os/ctl.h"
#include "proto.h"
#include "startup.h"

/* The program of a line: on $PATH, and runnable by us. */
static int find_program(const char *prog, char *out, size_t cap)
{
    int r = hr_find_program(prog, out, cap);
    return r < 0 ? r : pmm__os_access_x(out);
}

extern char **environ;

/* environ with HR_LISTEN=specs (none when empty) in place of any it has
 * (held.h), HR_STANDBY=1 for a standby (standby.h), and for a command or
 * an ordinary actor HR_STARTUP=<site> (startup; tree.c: what it and its
 * descendants leave running is not an actor's leftover). */
static char **env_with(const char *specs, int standby, const char *startup)
{
    size_t n = 0, k = 0, len = strlen(HRD_HELD_VAR);
    while (environ[n])
        n++;
    char **env = calloc(n + 4, sizeof *env);
    static char var[1100], mark[4200];
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], HRD_HELD_VAR "=", len + 1) != 0 &&
            strncmp(environ[i], "HR_STANDBY=", 11) != 0 &&
            strncmp(environ[i], HRD_STARTUP_VAR "=", 11) != 0)
            env[k++] = environ[i];
    snprintf(var, sizeof var, HRD_HELD_VAR "=%s", specs);
    if (specs[0])
        env[k++] = var;
    if (standby)
        env[k++] = (char *)"HR_STANDBY=1";
    snprintf(mark, sizeof mark, HRD_STARTUP_VAR "=%s", startup ? startup : "");
    if (startup)
        env[k++] = mark;
    return env;
}

/* The program's word of an arun line and what follows it, after the
 * options that lead them: --listen SPEC (into specs) and --standby (into
 * *standby) when specs is given (arun -g), and "--", which ends them.
 * NULL, said, for a bad --listen, an option sysadm.ini does not take (hr
 * arun's others, which were taken for the program) or no program. */
static char *const *arun_options(struct hrd *d, const struct hrd_ini_line *l,
                                 char *specs, size_t cap, int *standby)
{
    char *const *argv = l->argv;
    for (; argv[0] && argv[0][0] == '-'; argv++) {
        size_t len = specs ? strlen(specs) : 0;
        if (strcmp(argv[0], "--") == 0) {
            argv++;
            break;
        } else if (specs && strcmp(argv[0], "--standby") == 0) {
            *standby = 1;
        } else if (specs && strcmp(argv[0], "--listen") == 0) {
            if (!argv[1] || strchr(argv[1], ',') ||
                len + strlen(argv[1]) + 2 > cap) {
                hrd_log(d, HRD_ERR, "sysadm.ini:%d: arun: bad --listen '%s'",
                        l->lineno, argv[1] ? argv[1] : "");
                return NULL;
            }
            snprintf(specs + len, cap - len, "%s%s", len ? "," : "", *++argv);
        } else {
            hrd_log(d, HRD_ERR, "sysadm.ini:%d: arun option %.64s is not "
                    "supported here (supported: --listen SPEC and --standby, "
                    "after -g only, and -- before a program that begins "
                    "with -)", l->lineno, argv[0]);
            return NULL;
        }
    }
    if (!argv[0])
        hrd_log(d, HRD_ERR, "sysadm.ini:%d: arun: no program", l->lineno);
    return argv[0] ? argv : NULL;
}

/* arun -g G [OPTIONS] PROG ARGS. */
static void run_arun(struct hrd *d, const struct hrd_ini_line *l)
{
    char path[4096], specs[1024] = "";
    int standby = 0;
    char *const *argv = arun_options(d, l, specs, sizeof specs, &standby);
    if (!argv)
        return;
    if (hrd_group_check(d, l->group, HRD_GROUP_NEW) < 0) {
        hrd_log(d, HRD_ERR,
                "sysadm.ini:%d: arun: group %s out of range (0 to %u: "
                "hrCtrl.maxGroups)",
                l->lineno, l->words[2], d->policy.max_groups - 1);
        return;
    }
    int r = find_program(argv[0], path, sizeof path);
    if (r < 0) {
        hrd_log(d, HRD_ERR, "sysadm.ini:%d: %s: %s", l->lineno, argv[0],
                pmm_strerror(r));
        return;
    }
    char **env = specs[0] || standby ? env_with(specs, standby, NULL) : environ;
    r = env ? hrd_arun(d, (int)l->group, path, argv, env, d->site) : -ENOMEM;
    if (env != environ)
        free(env);
    if (r < 0)
        hrd_log(d, HRD_ERR, "sysadm.ini:%d: arun %s: %s", l->lineno, argv[0],
                pmm_strerror(r));
}

/* Start the command of a line (an ordinary actor's: own, in a session of
 * its own, as a direct actor's start is); a command's end comes to
 * hrd_startup_child().  Either starts with every signal at its default
 * (the controller ignores SIGPIPE: a pipeline of a start-up script must
 * die of it as in a shell). */
static pid_t run_command(struct hrd *d, int lineno, char *const *w, int own)
{
    char path[4096];
    int r = find_program(w[0], path, sizeof path);
    if (r < 0) {
        hrd_log(d, HRD_ERR, "sysadm.ini:%d: %s: %s", lineno, w[0],
                pmm_strerror(r));
        return 0;
    }
    char **env = env_with("", 0, d->site);
    if (!env) {
        hrd_log(d, HRD_ERR, "sysadm.ini:%d: %s", lineno, pmm_strerror(-ENOMEM));
        return 0;
    }
    int null = pmm__os_open_fd("/dev/null", O_RDONLY, 0);
    int stdio[3] = {null, d->console_fd, d->console_fd};
    struct pmm__os_child child = {.stdio = stdio, .cwd = d->dir,
                                 .exe_fd = -1, .path = path, .argv = w,
                                 .envp = env, .errpipe = -1,
                                 .default_signals = 1, .own_session = own};
    int pid = pmm__os_fork();
    if (pid == 0)
        pmm__os_exec_child(&child);
    free(env);
    if (null >= 0)
        pmm__os_close(null);
    if (pid < 0) {
        hrd_log(d, HRD_ERR, "sysadm.ini:%d: fork: %s", lineno, pmm_strerror(pid));
        return 0;
    }
    snprintf(d->ini_prog, sizeof d->ini_prog, "%s", w[0]);
    return pid;
}

/* Line lineno of a first start's file is done: a site restart or a
 * controller's crash before the file's end resumes after it, and does not
 * register its arun lines' actors a second time (they come back from the
 * registry).  A crash between an actor's registration and this store runs
 * that line again. */
static void line_done(struct hrd *d, int lineno)
{
    if (!d->reg->site.booted)
        d->reg->site.startup_line = (uint32_t)lineno;
}

/* Run lines until one starts a command (1: wait for it) or the file ends
 * (0: closed). */
static int run_lines(struct hrd *d)
{
    struct hrd_ini_line *l = d->ini_l;
    char *const *argv;
    while (hrd_ini_next(d->ini, &d->ini_at, l)) {
        d->ini_line = l->lineno;
        if (!d->reg->site.booted &&
            (uint32_t)l->lineno <= d->reg->site.startup_line)
            continue; /* done before a site restart */
        if (l->kind == HRD_INI_TOO_LONG)
            hrd_log(d, HRD_ERR, "sysadm.ini:%d: line too long", l->lineno);
        else if (l->kind == HRD_INI_BAD)
            hrd_log(d, HRD_ERR,
                    "sysadm.ini:%d: unterminated quote or too many words",
                    l->lineno);
        else if (l->kind == HRD_INI_ARUN_USAGE && d->ini_arun)
            hrd_log(d, HRD_ERR,
                    "sysadm.ini:%d: usage: arun [-g [GROUP]] PROGRAM [ARGS]",
                    l->lineno);
        else if (l->kind == HRD_INI_BACKSLASH)
            hrd_log(d, HRD_ERR, "sysadm.ini:%d: a line cannot end in a "
                    "backslash: lines are not continued", l->lineno);
        else if (l->kind == HRD_INI_ORDINARY &&
                 (argv = arun_options(d, l, NULL, 0, NULL)) &&
                 run_command(d, l->lineno, argv, 1) > 0) /* not waited for */
            hrd_log(d, HRD_INFO, "sysadm.ini:%d: %s started, not restartable",
                    l->lineno, argv[0]);
        else if (l->kind == HRD_INI_ARUN && d->ini_arun)
            run_arun(d, l);
        else if (l->kind == HRD_INI_COMMAND &&
                 (d->ini_pid = run_command(d, l->lineno, l->argv, 0)) > 0)
            return 1; /* done when it ends (hrd_startup_child) */
        line_done(d, l->lineno);
    }
    free(d->ini);
    free(d->ini_l);
    d->ini = NULL;
    d->ini_l = NULL;
    return 0;
}

int hrd_startup_begin(struct hrd *d, int with_arun)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/sysadm.ini", d->dir);
    d->ini = malloc(HRD_INI_MAX);
    d->ini_l = calloc(1, sizeof *d->ini_l);
    struct pmm__os_owned o;
    uid_t link_uid, me = pmm__os_euid();
    mode_t link_mode;
    int r = !d->ini || !d->ini_l ? -ENOMEM
                                 : pmm__os_read_owned(path, d->ini, HRD_INI_MAX, &o);
    /* its commands run as this controller's user: the file, and a link in
     * its place, must be that user's (not another user's, left in a site
     * directory since chowned); the directory, owner-only, keeps others
     * from writing it */
    if (r == 0 && (o.uid != me ||
                   pmm__os_lstat(path, &link_uid, &link_mode) < 0 ||
                   link_uid != me)) {
        hrd_log(d, HRD_ERR, "%s/sysadm.ini: belongs to uid %u, not to this "
                "controller's user (uid %u): not run", d->site,
                (unsigned)(o.uid != me ? o.uid : link_uid), (unsigned)me);
        r = -EPERM;
    } else if (r < 0 && r != -ENOENT) {
        hrd_log(d, HRD_ERR, "%s/sysadm.ini: %s, not run", d->site,
                r == -EFBIG ? "larger than 1 MiB" : hrd_text_file_error(r));
    }
    if (r < 0) {
        free(d->ini);
        free(d->ini_l);
        d->ini = NULL;
        d->ini_l = NULL;
        return 0;
    }
    d->ini_at = 0;
    d->ini_line = 0;
    d->ini_arun = with_arun;
    if (with_arun && d->reg->site.startup_line)
        hrd_log(d, HRD_INFO, "running %s/sysadm.ini from line %u: the lines "
                "before ran before a site restart, and their actors come back "
                "from the registry", d->site, d->reg->site.startup_line + 1);
    else
        hrd_log(d, HRD_INFO, "running %s/sysadm.ini%s", d->site,
                with_arun ? "" : " (arun lines skipped)");
    return run_lines(d);
}

int hrd_startup_child(struct hrd *d, pid_t pid, int st)
{
    if (!d->ini || pid != d->ini_pid)
        return -1;
    d->ini_pid = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        hrd_log(d, HRD_WARNING, "sysadm.ini:%d: %s %s %d", d->ini_line,
                d->ini_prog,
                WIFEXITED(st) ? "exited with status" : "killed by signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    if (d->ending) /* ended by the site's end (hrd_end_begin's SIGTERM):
                    * not done, and no line more; a restart runs it again */
        return 1;
    line_done(d, d->ini_line);
    return run_lines(d);
}
