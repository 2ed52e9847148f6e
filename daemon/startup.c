/*
 * startup.c - the site's start-up file, sysadm.ini in the site root.
 *
 * One command a line; `#` at the start of a word begins a comment; words
 * are split as a shell splits them (single and double quotes, backslash),
 * with no expansion of any kind.  `arun -g [G] PROG ARGS` starts a
 * restartable actor (in group 0 without G), and only on the site's first
 * start: on a site restart the actors come back from the registry instead.
 * `arun PROG ARGS`, without -g, starts an ordinary actor, as ChorusOS does:
 * not waited for, not watched, at every start.  Any other line runs PROG ARGS (found
 * on $PATH when it has no slash), with the console as output; the next line
 * waits for it to end.  A bad line is reported with its number and the rest
 * still runs.
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
#include "hrd.h"
#include "log.h"
#include "os/os.h"
#include "os/ctl.h"
#include "proto.h"
#include "startup.h"

#define MAX_WORDS 256

int hrd_split(char *line, char **words, int max)
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
            } else if (*r == '\\' && r[1]) {
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

/* The program of a line: on $PATH, and runnable by us. */
static int find_program(const char *prog, char *out, size_t cap)
{
    int r = hr_find_program(prog, out, cap);
    return r < 0 ? r : hr__os_access_x(out);
}

extern char **environ;

static void run_arun(struct hrd *d, int lineno, char **w, int n)
{
    char path[4096], *end = NULL;
    int at = 3; /* the program's word */
    long g = 0;
    if (n >= 3 && w[2][0] >= '0' && w[2][0] <= '9')
        g = strtol(w[2], &end, 10);
    else
        at = 2; /* -g with no number: group 0 */
    if (n < at + 1 || (end && *end)) {
        hrd_log(d, "sysadm.ini:%d: usage: arun [-g [GROUP]] PROGRAM [ARGS]",
                lineno);
        return;
    }
    if (hrd_group_check(d, g, HRD_GROUP_NEW) < 0) {
        hrd_log(d, "sysadm.ini:%d: arun: group %s out of range (0 to %u: "
                   "hrCtrl.maxGroups)", lineno, w[2], d->policy.max_groups - 1);
        return;
    }
    int r = find_program(w[at], path, sizeof path);
    if (r < 0) {
        hrd_log(d, "sysadm.ini:%d: %s: %s", lineno, w[at], strerror(-r));
        return;
    }
    r = hrd_arun(d, (int)g, path, w + at, environ, d->site);
    if (r < 0)
        hrd_log(d, "sysadm.ini:%d: arun %s: %s", lineno, w[at], pmm_strerror(r));
}

/* Start the command of a line; its end comes to hrd_startup_child(). */
static pid_t run_command(struct hrd *d, int lineno, char **w)
{
    char path[4096];
    int r = find_program(w[0], path, sizeof path);
    if (r < 0) {
        hrd_log(d, "sysadm.ini:%d: %s: %s", lineno, w[0], strerror(-r));
        return 0;
    }
    int null = hr__os_open("/dev/null", O_RDONLY, 0);
    int stdio[3] = {null, d->console_fd, d->console_fd};
    struct hr__os_child child = {.stdio = stdio, .cwd = d->site,
                                 .exe_fd = -1, .path = path, .argv = w,
                                 .errpipe = -1};
    int pid = hr__os_fork();
    if (pid == 0)
        hr__os_exec_child(&child);
    if (null >= 0)
        pmm__os_close(null);
    if (pid < 0) {
        hrd_log(d, "sysadm.ini:%d: fork: %s", lineno, strerror(-pid));
        return 0;
    }
    snprintf(d->ini_prog, sizeof d->ini_prog, "%s", w[0]);
    return pid;
}

/* The next line of the file, ending in a newline (the last line's added),
 * into line (cap bytes): 1, or 0 at its end.  *too_long: it did not fit
 * (and is skipped). */
static int next_line(struct hrd *d, char *line, size_t cap, int *too_long)
{
    const char *p = d->ini + d->ini_at;
    if (!*p)
        return 0;
    size_t n = strcspn(p, "\n");
    d->ini_at += n + (p[n] == '\n');
    *too_long = n > cap - 2; /* as fgets(): room for the newline too */
    if (!*too_long) {
        memcpy(line, p, n);
        line[n] = '\n';
        line[n + 1] = 0;
    }
    return 1;
}

/* Run lines until one starts a command (1: wait for it) or the file ends
 * (0: closed). */
static int run_lines(struct hrd *d)
{
    char line[8192], *w[MAX_WORDS + 1];
    int too_long;
    while (next_line(d, line, sizeof line, &too_long)) {
        int lineno = ++d->ini_line;
        if (too_long) {
            hrd_log(d, "sysadm.ini:%d: line too long", lineno);
            continue;
        }
        int n = hrd_split(line, w, MAX_WORDS);
        if (n < 0) {
            hrd_log(d, "sysadm.ini:%d: unterminated quote or too many words",
                    lineno);
            continue;
        }
        if (n == 0)
            continue;
        w[n] = NULL;
        if (strcmp(w[0], "arun") == 0 && n >= 2 && strcmp(w[1], "-g") != 0) {
            if (run_command(d, lineno, w + 1) > 0) /* an ordinary actor */
                hrd_log(d, "sysadm.ini:%d: %s started, not restartable",
                        lineno, w[1]);
        } else if (strcmp(w[0], "arun") == 0) {
            if (d->ini_arun)
                run_arun(d, lineno, w, n);
        } else if ((d->ini_pid = run_command(d, lineno, w)) > 0) {
            return 1;
        }
    }
    free(d->ini);
    d->ini = NULL;
    return 0;
}

int hrd_startup_begin(struct hrd *d, int with_arun)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/sysadm.ini", d->site);
    if (!(d->ini = malloc(HRD_INI_MAX)))
        return 0;
    int r = pmm__os_read_file(path, d->ini, HRD_INI_MAX);
    if (r < 0) {
        if (r != -ENOENT)
            hrd_log(d, "%s: %s", path, r == -EFBIG ? "larger than 1 MiB, not run"
                                                   : strerror(-r));
        free(d->ini);
        d->ini = NULL;
        return 0;
    }
    d->ini_at = 0;
    d->ini_line = 0;
    d->ini_arun = with_arun;
    hrd_log(d, "running %s%s", path, with_arun ? "" : " (arun lines skipped)");
    return run_lines(d);
}

int hrd_startup_child(struct hrd *d, pid_t pid, int st)
{
    if (!d->ini || pid != d->ini_pid)
        return -1;
    d->ini_pid = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        hrd_log(d, "sysadm.ini:%d: %s %s %d", d->ini_line, d->ini_prog,
                WIFEXITED(st) ? "exited with status" : "killed by signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    return run_lines(d);
}
