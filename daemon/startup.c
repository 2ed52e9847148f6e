/*
 * startup.c - the site's start-up file, sysadm.ini in the site root.
 *
 * One command a line; `#` at the start of a word begins a comment; words
 * are split as a shell splits them (single and double quotes, backslash),
 * with no expansion of any kind.  `arun -g G PROG ARGS` starts a restartable
 * actor, and only on the site's first start: on a site restart the actors
 * come back from the registry instead.  Any other line runs PROG ARGS (found
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
#include <unistd.h>

#include "hrd.h"
#include "proto.h"

#define MAX_WORDS 256

/* Split line in place; returns the word count, or -1 for an open quote. */
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

static int find_program(const char *prog, char *out, size_t cap)
{
    if (strchr(prog, '/')) {
        snprintf(out, cap, "%s", prog);
        return access(out, X_OK) == 0 ? 0 : -errno;
    }
    const char *path = getenv("PATH");
    char *dirs = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
    int r = -ENOENT;
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d && r;
         d = strtok_r(NULL, ":", &save)) {
        snprintf(out, cap, "%s/%s", d, prog);
        if (access(out, X_OK) == 0)
            r = 0;
    }
    free(dirs);
    return r;
}

extern char **environ;

static void run_arun(struct hrd *d, int lineno, char **w, int n)
{
    char path[4096], *end;
    long g = n >= 4 && strcmp(w[1], "-g") == 0 ? strtol(w[2], &end, 10) : -1;
    if (n < 4 || strcmp(w[1], "-g") || *end) {
        hrd_log(d, "sysadm.ini:%d: usage: arun -g GROUP PROGRAM [ARGS]", lineno);
        return;
    }
    if (g < 0 || g >= d->max_groups) {
        hrd_log(d, "sysadm.ini:%d: arun: group %s out of range (0 to %d: "
                   "hrCtrl.maxGroups)", lineno, w[2], d->max_groups - 1);
        return;
    }
    int r = find_program(w[3], path, sizeof path);
    if (r < 0) {
        hrd_log(d, "sysadm.ini:%d: %s: %s", lineno, w[3], strerror(-r));
        return;
    }
    r = hrd_arun(d, (int)g, path, w + 3, environ, d->site);
    if (r < 0)
        hrd_log(d, "sysadm.ini:%d: arun %s: %s", lineno, w[3], pmm_strerror(r));
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
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(d->console_fd, 1);
        dup2(d->console_fd, 2);
        if (chdir(d->site) < 0)
            _exit(127);
        execv(path, w);
        _exit(127);
    }
    if (pid < 0) {
        hrd_log(d, "sysadm.ini:%d: fork: %s", lineno, strerror(errno));
        return 0;
    }
    snprintf(d->ini_prog, sizeof d->ini_prog, "%s", w[0]);
    return pid;
}

/* Run lines until one starts a command (1: wait for it) or the file ends
 * (0: closed). */
static int run_lines(struct hrd *d)
{
    char line[8192], *w[MAX_WORDS + 1];
    while (fgets(line, sizeof line, d->ini)) {
        int lineno = ++d->ini_line;
        if (!strchr(line, '\n') && !feof(d->ini)) {
            hrd_log(d, "sysadm.ini:%d: line too long", lineno);
            int c;
            while ((c = fgetc(d->ini)) != EOF && c != '\n')
                ;
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
        if (strcmp(w[0], "arun") == 0) {
            if (d->ini_arun)
                run_arun(d, lineno, w, n);
        } else if ((d->ini_pid = run_command(d, lineno, w)) > 0) {
            return 1;
        }
    }
    fclose(d->ini);
    d->ini = NULL;
    return 0;
}

int hrd_startup_begin(struct hrd *d, int with_arun)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/sysadm.ini", d->site);
    d->ini = fopen(path, "re");
    if (!d->ini)
        return 0;
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
