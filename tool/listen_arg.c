/* SPDX-License-Identifier: MIT */
/*
 * listen_arg.c - hr arun's --listen: each SPEC checked as far as the tool
 * can (its form, a unix: path made absolute and not a symbolic link),
 * collected, and given to the actor as HR_LISTEN.  The controller listens
 * (daemon/held.c) and says what it could not.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hr.h"

extern char **environ;

/* environ with HR_LISTEN=specs in place of any HR_LISTEN it has. */
char **hr_with_listen(const char *specs)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    if (!env)
        hr_die(HR_EXIT_FAIL, "arun: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "HR_LISTEN=", 10) != 0)
            env[k++] = environ[i];
    static char var[1100];
    snprintf(var, sizeof var, "HR_LISTEN=%s", specs);
    env[k++] = var;
    env[k] = NULL;
    return env;
}

/* 1 when spec is one of the comma-separated specs. */
static int listed(const char *specs, const char *spec)
{
    size_t k = strlen(spec);
    for (const char *p = specs; *p;) {
        size_t n = strcspn(p, ",");
        if (n == k && strncmp(p, spec, k) == 0)
            return 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

void hr_add_listen(char *specs, size_t cap, const char *spec)
{
    char abs[PATH_MAX + 8], cwd[PATH_MAX];
    /* the controller binds in its own directory: a relative path is ours */
    if (strncmp(spec, "unix:", 5) == 0 && spec[5] && spec[5] != '/') {
        if (!getcwd(cwd, sizeof cwd) ||
            snprintf(abs, sizeof abs, "unix:%s/%s", cwd, spec + 5) >=
                (int)sizeof abs)
            hr_die(HR_EXIT_USAGE, "arun: --listen '%s': this directory's "
                   "path cannot be read: give an absolute path", spec);
        spec = abs;
    }
    if (strncmp(spec, "unix:", 5) == 0 && strlen(spec + 5) > 107)
        hr_die(HR_EXIT_USAGE, "arun: --listen '%.70s...': a unix: path has "
               "107 bytes at most (a socket address)", spec);
    if ((strncmp(spec, "tcp:", 4) != 0 || !strchr(spec + 4, ':')) &&
        (strncmp(spec, "unix:", 5) != 0 || !spec[5]))
        hr_die(HR_EXIT_USAGE, "arun: bad --listen '%s' (tcp:HOST:PORT or "
               "unix:PATH)", spec);
    if (strchr(spec, ','))
        hr_die(HR_EXIT_USAGE, "arun: bad --listen '%s': no commas", spec);
    const char *port = strrchr(spec, ':') + 1;
    size_t digits = strspn(port, "0123456789"); /* getaddrinfo wraps 99999 */
    if (spec[0] == 't' && (!digits || digits > 5 || port[digits] ||
                           atoi(port) > 65535)) /* 0: the kernel's pick */
        hr_die(HR_EXIT_USAGE, "arun: bad --listen '%s': the port must be 0 to "
               "65535, in decimal", spec);
    struct stat st;
    if (strncmp(spec, "unix:", 5) == 0 && lstat(spec + 5, &st) == 0 &&
        S_ISLNK(st.st_mode)) /* bind() would say "Address already in use" */
        hr_die(HR_EXIT_USAGE, "arun: --listen '%s': %s is a symbolic link%s; "
               "give the socket's own path", spec, spec + 5,
               stat(spec + 5, &st) < 0 ? " to nothing" : "");
    /* else the second bind says "in use"; port 0 is a new port each time */
    if (!(spec[0] == 't' && atoi(port) == 0) && listed(specs, spec))
        hr_die(HR_EXIT_USAGE, "arun: --listen '%s' given twice: one socket "
               "serves an address", spec);
    size_t len = strlen(specs);
    if (len + strlen(spec) + 2 > cap)
        hr_die(HR_EXIT_USAGE, "arun: --listen '%.60s...': the sockets' specs "
               "come to more than %zu bytes (too many, or a path too long)",
               spec, cap - 2);
    snprintf(specs + len, cap - len, "%s%s", len ? "," : "", spec);
}
