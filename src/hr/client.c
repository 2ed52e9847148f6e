/* SPDX-License-Identifier: MIT */
/*
 * client.c - the native controller calls: requests on the control socket.
 *
 * Programs are opened here, by the caller, and passed as descriptors: the
 * controller reads what the caller may read, wherever the caller's working
 * directory is.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hotrestart/hr.h>

#include "os/ctl.h"
#include "os/os.h"
#include "pmm/ident.h"
#include "pmm/names.h"
#include "proto.h"
#include "hr/registry.h"

extern char **environ;

int hr_ping(const char *site)
{
    return hr__call(site, HR_REQ_PING, 0, NULL, 0, NULL, 0, NULL, 0);
}

/* head (head_len bytes) goes first in the payload, before the strings. */
static int request_with_program(const char *site, uint16_t type, int32_t arg,
                                const void *head, uint32_t head_len,
                                const char *name, const char *path,
                                char *const argv[], char *const envp[],
                                int with_stdio, char *why, size_t why_cap)
{
    char cwd[PATH_MAX];
    int fds[4], r;
    if (!path || !argv || !argv[0])
        return -EINVAL;
    if ((r = pmm__os_getcwd(cwd, sizeof cwd)) < 0)
        return r;
    char *buf = malloc(HR_MSG_MAX);
    if (!buf)
        return -ENOMEM;
    if (head_len)
        memcpy(buf, head, head_len);
    int len = hr__strings_encode(buf + head_len,
                                 HR_MSG_MAX - sizeof(struct hr_msg_hdr) - head_len,
                                 name, cwd, argv, envp ? envp : environ);
    if (len < 0) {
        free(buf);
        return len;
    }
    len += (int)head_len;
    fds[0] = pmm__os_open_fd(path, O_RDONLY, 0);
    if (fds[0] < 0) {
        free(buf);
        return fds[0];
    }
    fds[1] = 0, fds[2] = 1, fds[3] = 2;
    r = hr__call(site, type, arg, buf, (uint32_t)len, fds, with_stdio ? 4 : 1,
                 why, why_cap);
    pmm__os_close(fds[0]);
    free(buf);
    return r;
}

int hr_arun(const char *site, int group, const char *path, char *const argv[],
            char *const envp[])
{
    if (group < 0)
        return -EINVAL;
    return request_with_program(site, HR_REQ_ARUN, group, NULL, 0, NULL, path,
                                argv, envp, 0, NULL, 0);
}

int hr_arun_with(const char *site, int group, const hr_arun_opts *o,
                 const char *path, char *const argv[], char *const envp[])
{
    static const uint64_t zero[sizeof o->reserved / sizeof o->reserved[0]];
    if (!o)
        return hr_arun(site, group, path, argv, envp);
    /* the size it had before why and why_cap (binaries built either side
     * of them pass the same struct) */
    _Static_assert(sizeof(hr_arun_opts) == (UINTPTR_MAX > 0xffffffffu ? 56
                   : _Alignof(uint64_t) == 8 ? 56 : 52), "hr_arun_opts size");
    if (o->why && o->why_cap)
        o->why[0] = 0; /* said only by the controller */
    if (memcmp(o->reserved, zero, sizeof zero) != 0)
        return -EINVAL; /* an option this library does not know yet */
    struct hr_arun_wire w = {.stop_ms = o->stop_ms, .ready_fd = o->ready_fd};
    if (!o->ready_fd && (o->notify || o->wait_ready))
        w.flags |= HR_ARUN_F_NOTIFY;
    if (group < 0 || o->stop_ms > HR_STOP_LIMIT_MS ||
        (o->ready_fd && (o->ready_fd < 3 || o->ready_fd > HR_READY_FD_MAX)) ||
        (o->name && (!*o->name || strlen(o->name) >= PMM_NAME_MAX)))
        return -EINVAL;
    /* an actor that says when it is ready is waited for at every start,
     * also after a site restart: stored as HR_NOTIFY=1 in its environment,
     * which the controller reads and takes out */
    char **env = (char **)(envp ? envp : environ);
    size_t n = 0;
    while (env[n])
        n++;
    char **with = (w.flags & HR_ARUN_F_NOTIFY) ? malloc((n + 2) * sizeof *with)
                                                : NULL;
    if (with) {
        memcpy(with, env, n * sizeof *with);
        with[n] = "HR_NOTIFY=1";
        with[n + 1] = NULL;
    } else if (w.flags & HR_ARUN_F_NOTIFY) {
        return -ENOMEM;
    }
    int pid = request_with_program(site, HR_REQ_ARUN_WITH, group, &w, sizeof w,
                                   o->name ? o->name : "", path, argv,
                                   with ? with : env, 0, o->why, o->why_cap);
    free(with);
    if (pid < 0 || !o->wait_ready)
        return pid;
    int r = hr__call(site, HR_REQ_WAIT_READY, pid, NULL, 0, NULL, 0, o->why,
                     o->why_cap);
    return r < 0 ? r : pid;
}

int hr_spawn(const char *name, const char *path, char *const argv[],
             char *const envp[])
{
    if (!name || !pmm__name_ok(name, PMM_NAME_MAX))
        return -EINVAL;
    if (pmm__ident_standby())
        return K_ESTANDBY; /* its group is not its own before promotion */
    return request_with_program(NULL, HR_REQ_SPAWN, 0, NULL, 0, name, path, argv,
                                envp, 1, NULL, 0);
}

int hr_kill_group(const char *site, int group)
{
    if (group < 0)
        return -EINVAL;
    return hr__call(site, HR_REQ_KILL_GROUP, group, NULL, 0, NULL, 0, NULL, 0);
}

int hr_actor_group(const char *site, pid_t pid)
{
    if (pid <= 0)
        return -EINVAL;
    return hr__call(site, HR_REQ_GET_GROUP, pid, NULL, 0, NULL, 0, NULL, 0);
}

int hr_akill(const char *site, pid_t pid)
{
    if (pid <= 0)
        return -EINVAL;
    return hr__call(site, HR_REQ_AKILL, pid, NULL, 0, NULL, 0, NULL, 0);
}

int hr_ps(const char *site, int text, char *buf, size_t cap)
{
    if (!buf || !cap)
        return -EFAULT;
    int r = hr__call(site, HR_REQ_PS, !!text, NULL, 0, NULL, 0, buf, cap);
    return r < 0 ? r : (int)strlen(buf);
}

/* How long a stop tries to reach a controller that holds the site's lock
 * but does not answer yet (a site restart's fresh controller starting). */
#define HR_STOP_REACH_MS 30000

/* A pidfd of the controller behind connection s, or -1: its pid as this
 * process's pid namespace sees it, which the kernel gives (SO_PEERCRED:
 * the listener's), not the pid it says of itself, which is its own
 * namespace's (1 for the PID 1 of a container: a wait on this
 * namespace's init would never end).  -1 when it runs in a namespace
 * this one does not see. */
static int controller_pidfd(int s)
{
    uid_t uid;
    pid_t pid = 0;
    return pmm__os_peer(s, &uid, &pid) == 0 && pid > 0
               ? pmm__os_pidfd_open(pid) : -1;
}

/* Wait up to ms for the site's controller lock to be free: 0, -ETIMEDOUT,
 * or -errno. */
static int lock_freed(const char *site, int64_t ms)
{
    int64_t until = pmm__os_mono_ms() + ms;
    int held;
    while ((held = hr__controller_holds(site)) > 0) {
        if (pmm__os_mono_ms() > until)
            return -ETIMEDOUT;
        pmm__os_sleep_ms(10);
    }
    return held;
}

/* Asks the controller to stop, then waits on a pidfd of it (readable once
 * it has exited, reaped or not), or, for a controller in a pid namespace
 * this process does not see, for its lock to be free, as long as its stop
 * may take: the longest stop timeout, then the 5 s it gives a SIGKILL, and
 * a margin.  A site restart keeps the pid and the lock, and drops the
 * socket for a moment: a stop that meets that moment (no socket, or its
 * connection reset) tries again while the lock is held, so it stops the
 * fresh controller rather than say the site was not running. */
int hr_stop(const char *site)
{
    int64_t until = pmm__os_mono_ms() + HR_STOP_REACH_MS;
    const int64_t stop_ms = (int64_t)HR_STOP_LIMIT_MS + 15000;
    for (;;) {
        int s, pfd = -1, r = hr__connect(site, &s);
        if (r == 0) {
            pfd = controller_pidfd(s);
            r = hr__call_on(s, HR_REQ_STOP, 0, NULL, 0, NULL, 0, NULL, 0);
        }
        if (r >= 0 && pfd >= 0 &&
            pmm__os_wait_readable(pfd, (int)stop_ms) <= 0)
            r = -ETIMEDOUT;
        if (r >= 0 && pfd < 0 && (r = lock_freed(site, stop_ms)) == 0)
            pfd = -2; /* waited for: judged below as a pidfd's end is */
        if (pfd >= 0)
            pmm__os_close(pfd);
        /* gone, but killed before the end of its stop: not stopped */
        if (r >= 0 && pfd != -1 && hr__controller_ended_it(site) == 0)
            r = -ECONNABORTED;
        if (r != -ECONNREFUSED && r != -ENOENT && r != -ECONNRESET &&
            r != -EPIPE)
            return r;
        int held = hr__controller_holds(site);
        if (held <= 0) /* no controller: not running */
            return held < 0 ? held : r == -ENOENT ? r : -ECONNREFUSED;
        if (pmm__os_mono_ms() > until)
            return -ETIMEDOUT;
        pmm__os_sleep_ms(10);
    }
}

int hr_reload(const char *site)
{
    return hr__call(site, HR_REQ_RELOAD, 0, NULL, 0, NULL, 0, NULL, 0);
}

int hr_site_restart(const char *site)
{
    return hr__call(site, HR_REQ_SITE_RESTART, 0, NULL, 0, NULL, 0, NULL, 0);
}

int hr_site_cold_restart(const char *site)
{
    return hr__call(site, HR_REQ_SITE_RESTART, HR_RESTART_COLD, NULL, 0, NULL,
                    0, NULL, 0);
}

/* The reply is the struct itself (fixed-width fields, same machine): its
 * length, checked, guards against a controller of another build. */
int hr_status(const char *site, hr_site_state *out)
{
    char buf[sizeof *out + 1];
    if (!out)
        return -EFAULT;
    int r = hr__call(site, HR_REQ_STATUS, 0, NULL, 0, NULL, 0, buf, sizeof buf);
    if (r < 0)
        return r;
    if (r != (int)sizeof *out)
        return -EBADMSG;
    memcpy(out, buf, sizeof *out);
    out->failure[sizeof out->failure - 1] = 0;
    return 0;
}

int hr_metrics(const char *site, char *buf, size_t cap)
{
    if (!buf || !cap)
        return -EFAULT;
    int r = hr__call(site, HR_REQ_METRICS, 0, NULL, 0, NULL, 0, buf, cap);
    return r < 0 ? r : (int)strlen(buf);
}

int hr_info(const char *site, char *buf, size_t cap)
{
    if (!buf || !cap)
        return -EFAULT;
    int r = hr__call(site, HR_REQ_INFO, 0, NULL, 0, NULL, 0, buf, cap);
    return r < 0 ? r : (int)strlen(buf);
}
