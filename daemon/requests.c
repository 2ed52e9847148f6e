/* SPDX-License-Identifier: MIT */
/*
 * requests.c - one request from the control socket, checked and answered.
 *
 * Only root and the site's owner are served (SO_PEERCRED).  Every field of
 * a request is checked before use; a bad request gets an error reply and
 * the controller goes on serving.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arun.h"
#include "actor.h"
#include "conns.h"
#include "group.h"
#include "handover.h"
#include "members.h"
#include "hrd.h"
#include "log.h"
#include "logpipe.h"
#include "metrics.h"
#include "os/os.h"
#include "os/ctl.h"
#include "policy.h"
#include "proto.h"
#include "ready.h"
#include "render.h"
#include "requests.h"
#include "spawn.h"
#include "standby.h"
#include "tree.h"
#include "upgrade.h"


static void reply(int conn, int32_t result, const char *text)
{
    hr__msg_send(conn, HR_REPLY, result, text, text ? (uint32_t)strlen(text) : 0,
                 NULL, 0);
}

static int do_arun(struct hrd *d, const struct hr_msg_hdr *h, const char *p,
                   const int *fds, int nfds, const struct hrd_arun_opts *o)
{
    if (hrd_group_check(d, h->arg, HRD_GROUP_NEW) < 0)
        return -ERANGE; /* hrCtrl.maxGroups */
    if (nfds != 1)
        return -EBADMSG;
    return hrd_arun_payload(d, h->arg, fds[0], p, h->len, o);
}

/* An hrfexec whose program never ran (its exec, directory or files
 * failed: the caller gets the error): the actor is as before the call,
 * unregistered if the call made it, else stopped, and the child that
 * reported the failure dies as no member, so that its exit (127) is not
 * a failure of the group: the caller may handle the error, and a group
 * restarted for it would call again and fail again at once, a site
 * restart every few milliseconds. */
static void never_ran(struct hrd *d, int slot, int fresh)
{
    pid_t pid = d->reg->actors[slot].pid;
    if (pid > 0)
        hrd_tree_reaped(d, slot, pid);
    if (fresh)
        hrd_unregister(d, slot);
    else if (d->reg->actors[slot].state == HR_A_RUNNING)
        hrd_actor_event(d, slot, AE_HALTED, 0);
}

/* arun with options: the wire options, then the name and the strings;
 * stored as arun's are, without the name. */
static int do_arun_with(struct hrd *d, const struct hr_msg_hdr *h,
                        const char *p, const int *fds, int nfds)
{
    struct hr_arun_wire w;
    char name[PMM_NAME_MAX];
    if (h->len < sizeof w)
        return -EBADMSG;
    memcpy(&w, p, sizeof w);
    if (w.stop_ms > HR_STOP_LIMIT_MS || (w.flags & ~HR_ARUN_F_NOTIFY) ||
        w.reserved ||
        (w.ready_fd && (w.ready_fd < 3 || w.ready_fd > HR_READY_FD_MAX)))
        return -EINVAL;
    struct hr_msg_hdr inner = *h;
    inner.len -= (uint32_t)sizeof w;
    char *args = NULL;
    uint32_t len;
    int r = hrd_strings_unname(p + sizeof w, inner.len, name, &args, &len);
    if (r < 0)
        return r;
    if (*name && !hrd_name_ok(name))
        r = -EINVAL;
    inner.len = len;
    struct hrd_arun_opts o = {name, w.stop_ms, w.ready_fd,
                              !!(w.flags & HR_ARUN_F_NOTIFY)};
    if (r == 0)
        r = do_arun(d, &inner, args, fds, nfds, &o);
    free(args);
    return r;
}

static int do_spawn(struct hrd *d, const struct hr_msg_hdr *h, const char *p,
                    const int *fds, int nfds, pid_t caller)
{
    int cs = hrd_find_pid(d, caller);
    if (cs < 0)
        return -EPERM; /* only restartable actors may hrfexec */
    if (nfds != 4)
        return -EBADMSG;
    struct hr_strings *s = malloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    int r = hr__strings_decode(p, h->len, 1, s);
    if (r == 0 && !hrd_name_ok(s->name))
        r = -EINVAL;
    char name[PMM_NAME_MAX];
    if (r == 0)
        snprintf(name, sizeof name, "%s", s->name);
    free(s);
    if (r < 0)
        return r;
    int group = d->reg->actors[cs].group;
    if (d->reg->groups[group].state == HR_G_RESTARTING ||
        d->reg->groups[group].state == HR_G_ENDING)
        return -EBUSY; /* the caller is being killed with its group */
    int slot = hrd_find_name(d, -1, name);
    if (slot >= 0 && d->reg->actors[slot].group != group)
        return -EEXIST; /* the name belongs to another group */
    if (slot >= 0 && (d->reg->actors[slot].state == HR_A_RUNNING ||
                      d->reg->actors[slot].state == HR_A_DYING))
        return -EBUSY;
    int fresh = slot < 0;
    if (fresh) {
        /* arguments are stored without the name, like arun's */
        char *copy;
        uint32_t len;
        if ((r = hrd_strings_unname(p, h->len, name, &copy, &len)) < 0)
            return r;
        r = hrd_register(d, group, 0, name, fds[0], copy, len, &slot);
        free(copy);
        if (r < 0)
            return r;
    }
    d->first_start = 1;
    r = hrd_start_actor(d, slot, fds + 1);
    d->first_start = 0;
    if (r < 0) {
        hrd_log(d, HRD_ERR, "actor %s not started by %s: %s", name,
                d->reg->actors[cs].name, hrd_start_why(d, r));
        never_ran(d, slot, fresh);
    }
    if (r >= 0) {
        hrd_group_event(d, group, GE_SPAWNED, NULL);
        hrd_log(d, HRD_INFO, "actor %s started in group %d by %s, pid %d", name,
                group, d->reg->actors[cs].name, r);
    }
    return r;
}

/* What becomes of a request's connection once dispatch() is done. */
enum disposal {
    REPLY,    /* reply with the result (and its message when negative) */
    REPLIED,  /* dispatch() has replied already */
    KEPT,     /* kept open: replied to when its group has ended */
};

/* A kill-group request is answered when the group has ended (its members
 * may take a while to die); meanwhile the connection stays open here. */
static enum disposal wait_for_end(struct hrd *d, int conn, int group)
{
    for (int i = 0; i < HRD_MAX_WAITING; i++) {
        if (d->waiting[i].conn < 0) {
            d->waiting[i].conn = conn;
            d->waiting[i].group = group;
            d->waiting[i].ends = d->grp[group].ends;
            return KEPT;
        }
    }
    return REPLY; /* too many waiting: this one is told at once */
}

void hrd_answer_ended(struct hrd *d)
{
    for (int i = 0; i < HRD_MAX_WAITING; i++) {
        int conn = d->waiting[i].conn;
        if (conn >= 0 && d->grp[d->waiting[i].group].ends != d->waiting[i].ends) {
            reply(conn, 0, NULL);
            pmm__os_close(conn);
            d->waiting[i].conn = -1;
        }
    }
}

/* An arun --wait-ready request is answered when its actor is ready.
 * Meanwhile its connection is watched: a client that gives up (its 30 s)
 * hangs up, and its place is freed then (hrd_ready_waiter_event), not
 * when the actor is at last ready.  A full table answers -EUSERS, which
 * the tool words as too many waiting (-EAGAIN is its own timeout). */
static int wait_ready(struct hrd *d, int conn, pid_t pid, enum disposal *then)
{
    int slot = hrd_find_pid(d, pid);
    if (slot < 0)
        return -ESRCH;
    if (d->slot[slot].readiness != HRD_R_STARTING)
        return 0; /* ready, or says nothing: running is all we know */
    for (int i = 0; i < HRD_MAX_WAITING; i++) {
        if (d->ready_wait[i].conn < 0) {
            int r = pmm__os_poller_add(d->ep_fd, conn);
            if (r < 0)
                return r; /* unwatched, a hang-up would keep its place */
            d->ready_wait[i].conn = conn;
            d->ready_wait[i].pid = pid;
            *then = KEPT;
            return 0;
        }
    }
    return -EUSERS; /* too many waiting */
}

/* A waiter is done with: its connection unwatched and closed. */
static void ready_waiter_end(struct hrd *d, int i)
{
    pmm__os_poller_del(d->ep_fd, d->ready_wait[i].conn);
    pmm__os_close(d->ready_wait[i].conn);
    d->ready_wait[i].conn = -1;
}

int hrd_ready_waiter_event(struct hrd *d, int fd)
{
    for (int i = 0; i < HRD_MAX_WAITING; i++) {
        if (d->ready_wait[i].conn == fd) { /* it sends nothing more: gone */
            ready_waiter_end(d, i);
            return 1;
        }
    }
    return 0;
}

void hrd_answer_ready(struct hrd *d)
{
    for (int i = 0; i < HRD_MAX_WAITING; i++) {
        int conn = d->ready_wait[i].conn;
        if (conn < 0)
            continue;
        int slot = hrd_find_pid(d, d->ready_wait[i].pid);
        if (slot >= 0 && d->slot[slot].readiness == HRD_R_STARTING)
            continue;
        reply(conn, slot < 0 ? -ESRCH : 0,
              slot < 0 ? "it stopped before it was ready" : NULL);
        ready_waiter_end(d, i);
    }
}

/* Reply with a text made by render, at most HR_MSG_MAX - 64 bytes. */
static int reply_rendered(struct hrd *d, int conn,
                          int (*render)(struct hrd *, char *, size_t),
                          enum disposal *then)
{
    char *buf = malloc(HR_MSG_MAX - 64);
    if (!buf)
        return -ENOMEM;
    int r = render(d, buf, HR_MSG_MAX - 64);
    if (r >= 0) {
        size_t n = strlen(buf);
        int s = hr__msg_send(conn, HR_REPLY, 0, buf, (uint32_t)n, NULL, 0);
        if (s < 0 && s != -EPIPE && s != -ECONNRESET) {
            /* not sent (a send buffer the system keeps small): say why,
             * rather than leave the client a reset connection */
            hrd_log(d, HRD_ERR, "an answer of %zu bytes was not sent: %s", n,
                    strerror(-s));
            snprintf(buf, 200, "the answer (%zu bytes) could not be sent on the "
                     "control socket: %s (see net.core.wmem_max)", n, strerror(-s));
            reply(conn, s, buf);
        }
        *then = REPLIED;
    }
    free(buf);
    return r < 0 ? r : 0;
}

/* Act on one request: its result (>= 0, or a negative code); *then says
 * whether the caller replies with it. */
/* What is served while every actor stops: what only reads, an actor's
 * HR_EXIT_HDL (its next exit is clean: a SIGTERM handler's last call) and
 * a stop (it wins over a site restart under way). */
static int served_while_stopping(uint32_t type)
{
    return type == HR_REQ_PING || type == HR_REQ_EXIT_HDL ||
           type == HR_REQ_GET_GROUP || type == HR_REQ_PS ||
           type == HR_REQ_STOP || type == HR_REQ_INFO ||
           type == HR_REQ_STATUS || type == HR_REQ_METRICS;
}

static int dispatch(struct hrd *d, int conn, const struct hr_msg_hdr *h,
                    const char *p, int *fds, int nfds, pid_t caller,
                    enum disposal *then)
{
    int slot;
    *then = REPLY;
    if (d->killing_all && !served_while_stopping(h->type)) {
        reply(conn, -EBUSY, "the controller is stopping every actor (a stop "
              "or a site restart): ask again once it is done");
        *then = REPLIED;
        return -EBUSY;
    }
    switch (h->type) {
    case HR_REQ_PING:
        return pmm__os_pid();
    case HR_REQ_ARUN:
    case HR_REQ_ARUN_WITH: {
        d->start_why[0] = 0;
        int r = h->type == HR_REQ_ARUN ? do_arun(d, h, p, fds, nfds, NULL)
                                       : do_arun_with(d, h, p, fds, nfds);
        /* a step before the exec failed: which (an exec's own errno is
         * the program's, which the caller knows how to say) */
        if (r < 0 && d->start_why[0] && d->start_step != PMM_OS_STEP_EXEC) {
            reply(conn, r, d->start_why);
            *then = REPLIED;
        }
        return r;
    }
    case HR_REQ_SPAWN:
        return do_spawn(d, h, p, fds, nfds, caller);
    case HR_REQ_EXIT_HDL:
        if ((slot = hrd_find_pid(d, caller)) < 0)
            return -EPERM;
        hrd_actor_exit_hdl(d, slot);
        return 0;
    case HR_REQ_KILL_GROUP:
        if (hrd_group_check(d, h->arg, HRD_GROUP_SLOT) < 0)
            return -ERANGE;
        if (hrd_kill_group(d, h->arg))
            return 0; /* ended, or no such group: not an error */
        *then = wait_for_end(d, conn, h->arg);
        return 0;
    case HR_REQ_GET_GROUP:
        if ((slot = hrd_find_pid(d, h->arg)) < 0)
            return -ESRCH;
        return d->reg->actors[slot].group;
    case HR_REQ_AKILL:
        if ((slot = hrd_find_pid(d, h->arg)) < 0)
            return -ESRCH;
        pmm__os_kill(h->arg, SIGKILL); /* seen as a failure: the group restarts */
        return 0;
    case HR_REQ_PS:
        return reply_rendered(d, conn, h->arg == 1 ? hrd_ps_text : hrd_ps_json,
                              then);
    case HR_REQ_STOP:
        d->stopping = 1;
        return 0;
    case HR_REQ_SITE_RESTART: /* after the reply: the controller is replaced */
        if (h->arg != 0 && h->arg != HR_RESTART_COLD)
            return -EINVAL;
        d->restart_pending = 1;
        d->cold_pending = h->arg == HR_RESTART_COLD;
        return 0;
    case HR_REQ_INFO:
        return reply_rendered(d, conn, hrd_info_json, then);
    case HR_REQ_METRICS:
        return reply_rendered(d, conn, hrd_metrics_text, then);
    case HR_REQ_RELOAD:
        hrd_policy_read(d);
        hrd_log(d, HRD_INFO, "site.conf read again (hr site set)");
        return 0;
    case HR_REQ_WAIT_READY:
        return wait_ready(d, conn, h->arg, then);
    case HR_REQ_STANDBY: { /* answered at its promotion (standby.c), an
                              upgrade's trial at its own (upgrade.c) */
        int kept, r = hrd_trial_of(d, caller) >= 0
                          ? hrd_upgrade_waiting(d, conn, caller, &kept)
                          : hrd_standby_request(d, conn, caller, &kept);
        if (kept)
            *then = KEPT;
        return r;
    }
    case HR_REQ_UPGRADE: { /* answered when it is over (upjob.c) */
        int kept, r = hrd_upgrade_request(d, conn, h, p, fds, nfds, &kept);
        if (kept)
            *then = KEPT;
        return r;
    }
    case HR_REQ_HANDOVER: { /* a connection given or taken (handover.c) */
        int replied, r = hrd_handover_request(d, conn, caller, h, p, fds, nfds,
                                              &replied);
        if (replied)
            *then = REPLIED;
        return r;
    }
    case HR_REQ_STATUS: {
        hr_site_state st;
        hrd_status(d, &st);
        hr__msg_send(conn, HR_REPLY, (int32_t)sizeof st, &st, sizeof st, NULL,
                     0);
        *then = REPLIED;
        return 0;
    }
    default:
        return -EOPNOTSUPP;
    }
}

void hrd_serve(struct hrd *d, int conn)
{
    uid_t uid;
    pid_t caller;
    int fds[HR_MSG_MAXFDS], nfds = 0;
    struct hr_msg_hdr h;
    const char *p;
    enum disposal then = REPLY;
    char *buf = malloc(HR_MSG_MAX);
    if (!buf || pmm__os_peer(conn, &uid, &caller) < 0) {
        free(buf);
        pmm__os_close(conn);
        return;
    }
    /* the request is read even from a stranger, so that the refusal, not a
     * reset connection, is what it gets */
    int r = hr__msg_recv(conn, buf, &h, &p, fds, &nfds);
    if (r == -ECONNRESET || r == -EAGAIN) { /* hung up, or sent nothing */
        free(buf);
        pmm__os_close(conn);
        return;
    }
    if (uid != 0 && uid != pmm__os_euid()) {
        reply(conn, -EPERM, "only root and the site's owner may control it");
        then = REPLIED;
    } else if (r == 0) {
        r = dispatch(d, conn, &h, p, fds, nfds, caller, &then);
    }
    if (then == REPLY)
        reply(conn, r, r < 0 ? pmm_strerror(r) : NULL);
    for (int i = 0; i < nfds; i++)
        pmm__os_close(fds[i]);
    free(buf);
    if (then != KEPT)
        pmm__os_close(conn);
}

void hrd_signals_take(struct hrd *d)
{
    int sig;
    while ((sig = pmm__os_signal_next(d->sig_fd)) > 0)
        if (sig != SIGCHLD)
            d->stopping = 1;
}
