/* SPDX-License-Identifier: MIT */
/*
 * chorus_hr.c - the ChorusOS hr* names over the native controller calls:
 * -1 and errno on failure, as the guide's afexec-like calls do; and
 * sysShutdown(), whose site restart is the one part of it with a meaning
 * here (it returns a negative code, as the kernel call does).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hotrestart/hr.h>
#include <hr/hr.h>

extern char **environ;

static int ret(int r)
{
    if (r >= 0)
        return r;
    errno = r <= -1000 ? (r == K_ENOMEM ? ENOMEM : r == K_EPRIV ? EPERM : EINVAL)
                       : -r;
    return -1;
}

static int spawn(PmmName *base, const char *path, KnCap *cap, int use_path,
                 char *const argv[], char *const envp[])
{
    char found[4096];
    if (!base || !path)
        return ret(-EFAULT);
    if (!memchr(base->medium, 0, sizeof base->medium) ||
        strcmp(base->medium, "RAM") != 0 ||
        !memchr(base->name, 0, sizeof base->name) || !base->name[0])
        return ret(-EINVAL);
    if (use_path) {
        int r = hr_find_program(path, found, sizeof found);
        if (r < 0)
            return ret(r);
        path = found;
    }
    int r = hr_spawn(base->name, path, argv, envp);
    if (r >= 0 && cap) {
        memset(cap, 0, sizeof *cap);
        cap->ui.tail = (unsigned long)r;
    }
    return ret(r);
}

/* Collect the NULL-terminated list that starts with arg0. */
#define HR_MAX_LARGS 1024
static int collect(const char *arg0, va_list ap, char **argv)
{
    int n = 0;
    argv[n++] = (char *)arg0;
    while (arg0 && n < HR_MAX_LARGS) {
        char *a = va_arg(ap, char *);
        argv[n++] = a;
        if (!a)
            return n;
    }
    if (!arg0)
        return 1;
    return -1;
}

/* The l forms: a NULL-terminated list from arg0, then (le) an envp. */
static int spawn_list(PmmName *base, const char *path, KnCap *cap, int use_path,
                      const char *arg0, va_list ap, int with_env)
{
    char *argv[HR_MAX_LARGS + 1];
    int n = collect(arg0, ap, argv);
    if (n < 0)
        return ret(-E2BIG);
    char *const *envp = with_env ? va_arg(ap, char *const *) : environ;
    return spawn(base, path, cap, use_path, argv, envp);
}

int hrfexecl(PmmName *base, const char *path, KnCap *cap, const AcParam *param,
             const char *arg0, ...)
{
    va_list ap;
    (void)param;
    va_start(ap, arg0);
    int r = spawn_list(base, path, cap, 0, arg0, ap, 0);
    va_end(ap);
    return r;
}

/* hrfexec mirrors afexec: the argument list follows param. */
int hrfexec(PmmName *base, const char *path, KnCap *cap, const AcParam *param,
            ...)
{
    va_list ap;
    va_start(ap, param);
    const char *arg0 = va_arg(ap, const char *);
    int r = spawn_list(base, path, cap, 0, arg0, ap, 0);
    va_end(ap);
    return r;
}

int hrfexecle(PmmName *base, const char *path, KnCap *cap, const AcParam *param,
              const char *arg0, ...)
{
    va_list ap;
    (void)param;
    va_start(ap, arg0);
    int r = spawn_list(base, path, cap, 0, arg0, ap, 1);
    va_end(ap);
    return r;
}

int hrfexeclp(PmmName *base, const char *file, KnCap *cap, const AcParam *param,
              const char *arg0, ...)
{
    va_list ap;
    (void)param;
    va_start(ap, arg0);
    int r = spawn_list(base, file, cap, 1, arg0, ap, 0);
    va_end(ap);
    return r;
}

int hrfexecv(PmmName *base, const char *path, KnCap *cap, const AcParam *param,
             char *const argv[])
{
    (void)param;
    return spawn(base, path, cap, 0, argv, environ);
}

int hrfexecve(PmmName *base, const char *path, KnCap *cap, const AcParam *param,
              char *const argv[], char *const envp[])
{
    (void)param;
    return spawn(base, path, cap, 0, argv, envp);
}

int hrfexecvp(PmmName *base, const char *file, KnCap *cap, const AcParam *param,
              char *const argv[])
{
    (void)param;
    return spawn(base, file, cap, 1, argv, environ);
}

int hr_exit_hdl_chorus(void)
{
    return ret(hr_exit_hdl());
}

int hrKillGroup(int groupId)
{
    return ret(hr_kill_group(NULL, groupId));
}

int hrGetActorGroup(int aid)
{
    return ret(hr_actor_group(NULL, aid));
}

/* shutdown(1M)'s arguments, with or without the command's name in front:
 * "-i", "1" or "-i1".  Only the site restart has a meaning on Linux (the
 * machine is not ours to reboot). */
int sysShutdown(int argc, char **argv)
{
    int i = argc > 0 && argv && argv[0] && argv[0][0] != '-';
    if (argc < 0 || (argc > 0 && !argv))
        return K_EINVAL;
    int left = argc - i;
    if (!((left == 2 && argv[i] && strcmp(argv[i], "-i") == 0 && argv[i + 1] &&
           strcmp(argv[i + 1], "1") == 0) ||
          (left == 1 && argv[i] && strcmp(argv[i], "-i1") == 0)))
        return K_EINVAL;
    int r = hr_site_restart(NULL);
    return r < 0 ? r : 0;
}
