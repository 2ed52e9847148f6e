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
#include <sys/socket.h>
#include <unistd.h>

#include "hrd.h"
#include "proto.h"


static void reply(int conn, int32_t result, const char *text)
{
    hr__msg_send(conn, HR_REPLY, result, text, text ? (uint32_t)strlen(text) : 0,
                 NULL, 0);
}

/* Names end up in logs and JSON: keep them to a plain alphabet. */
int hrd_name_ok(const char *s)
{
    if (!*s || strlen(s) >= PMM_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') ||
              ('0' <= *s && *s <= '9') || strchr("._-:+@/", *s)))
            return 0;
    return 1;
}

static int do_arun(struct hrd *d, const struct hr_msg_hdr *h, const char *p,
                   const int *fds, int nfds)
{
    if (h->arg < 0 || h->arg >= d->max_groups)
        return -ERANGE; /* hrCtrl.maxGroups */
    if (d->reg->groups[h->arg].used && d->reg->groups[h->arg].state == G_ENDING)
        return -EBUSY; /* it ends when its members are gone */
    if (nfds != 1)
        return -EBADMSG;
    return hrd_arun_payload(d, h->arg, fds[0], p, h->len);
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
    if (d->reg->groups[group].state == G_RESTARTING ||
        d->reg->groups[group].state == G_ENDING)
        return -EBUSY; /* the caller is being killed with its group */
    int slot = hrd_find_name(d, -1, name);
    if (slot >= 0 && d->reg->actors[slot].group != group)
        return -EEXIST; /* the name belongs to another group */
    if (slot >= 0 && (d->reg->actors[slot].state == A_RUNNING ||
                      d->reg->actors[slot].state == A_DYING))
        return -EBUSY;
    if (slot < 0) {
        /* arguments are stored without the name, like arun's */
        const char *args = p + 8 + strlen(name) + 1;
        uint32_t len = h->len - (uint32_t)(strlen(name) + 1);
        char *copy = malloc(len);
        if (!copy)
            return -ENOMEM;
        memcpy(copy, p, 8);
        memcpy(copy + 8, args, len - 8);
        r = hrd_register(d, group, 0, name, fds[0], copy, len, &slot);
        free(copy);
        if (r < 0)
            return r;
    }
    r = hrd_start_indirect(d, slot, fds + 1);
    if (r >= 0) {
        d->reg->groups[group].state = G_RUNNING;
        hrd_log(d, "actor %s started in group %d by %s, pid %d", name, group,
                d->reg->actors[cs].name, r);
    }
    return r;
}

/* A kill-group request is answered when the group has ended (its members
 * may take a while to die); meanwhile the connection stays open here. */
#define KEPT (INT32_MIN + 1)

static int wait_for_end(struct hrd *d, int conn, int group)
{
    for (int i = 0; i < HRD_MAX_WAITING; i++) {
        if (d->waiting[i].conn < 0) {
            d->waiting[i].conn = conn;
            d->waiting[i].group = group;
            return KEPT;
        }
    }
    return 0; /* too many waiting: this one is told at once */
}

void hrd_answer_waiting(struct hrd *d, int group)
{
    for (int i = 0; i < HRD_MAX_WAITING; i++) {
        if (d->waiting[i].conn >= 0 && d->waiting[i].group == group) {
            reply(d->waiting[i].conn, 0, NULL);
            close(d->waiting[i].conn);
            d->waiting[i].conn = -1;
        }
    }
}

static int dispatch(struct hrd *d, int conn, const struct hr_msg_hdr *h,
                    const char *p, int *fds, int nfds, pid_t caller)
{
    int slot;
    switch (h->type) {
    case HR_REQ_PING:
        return getpid();
    case HR_REQ_ARUN:
        return do_arun(d, h, p, fds, nfds);
    case HR_REQ_SPAWN:
        return do_spawn(d, h, p, fds, nfds, caller);
    case HR_REQ_EXIT_HDL:
        if ((slot = hrd_find_pid(d, caller)) < 0)
            return -EPERM;
        d->reg->actors[slot].clean_mark = 1;
        return 0;
    case HR_REQ_KILL_GROUP:
        if (h->arg < 0 || h->arg >= HRD_MAX_GROUPS)
            return -ERANGE;
        if (hrd_kill_group(d, h->arg))
            return 0; /* ended, or no such group: not an error */
        return wait_for_end(d, conn, h->arg);
    case HR_REQ_GET_GROUP:
        if ((slot = hrd_find_pid(d, h->arg)) < 0)
            return -ESRCH;
        return d->reg->actors[slot].group;
    case HR_REQ_AKILL:
        if ((slot = hrd_find_pid(d, h->arg)) < 0)
            return -ESRCH;
        kill(h->arg, SIGKILL); /* seen as a failure: the group restarts */
        return 0;
    case HR_REQ_PS: {
        char *buf = malloc(HR_MSG_MAX - 64);
        if (!buf)
            return -ENOMEM;
        int r = h->arg == 1 ? hrd_ps_text(d, buf, HR_MSG_MAX - 64)
                            : hrd_ps_json(d, buf, HR_MSG_MAX - 64);
        if (r >= 0)
            reply(conn, 0, buf);
        free(buf);
        return r < 0 ? r : INT32_MIN; /* replied already */
    }
    case HR_REQ_STOP:
        d->stopping = 1;
        return 0;
    case HR_REQ_SITE_RESTART:
        d->restart_pending = 1; /* after the reply: the controller is replaced */
        return 0;
    case HR_REQ_INFO: {
        char buf[1024];
        int r = hrd_info_json(d, buf, sizeof buf);
        if (r >= 0)
            reply(conn, 0, buf);
        return r < 0 ? r : INT32_MIN;
    }
    default:
        return -EOPNOTSUPP;
    }
}

void hrd_serve(struct hrd *d, int conn)
{
    struct ucred cred;
    socklen_t cl = sizeof cred;
    int fds[HR_MSG_MAXFDS], nfds = 0;
    struct hr_msg_hdr h;
    const char *p;
    char *buf = malloc(HR_MSG_MAX);
    if (!buf || getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
        free(buf);
        close(conn);
        return;
    }
    /* the request is read even from a stranger, so that the refusal, not a
     * reset connection, is what it gets */
    int r = hr__msg_recv(conn, buf, &h, &p, fds, &nfds);
    if (r == -ECONNRESET || r == -EAGAIN) { /* hung up, or sent nothing */
        free(buf);
        close(conn);
        return;
    }
    if (cred.uid != 0 && cred.uid != geteuid()) {
        reply(conn, -EPERM, "only root and the site's owner may control it");
        r = INT32_MIN;
    } else if (r == 0) {
        r = dispatch(d, conn, &h, p, fds, nfds, cred.pid);
    }
    if (r != INT32_MIN && r != KEPT)
        reply(conn, r, r < 0 ? pmm_strerror(r) : NULL);
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    free(buf);
    if (r != KEPT)
        close(conn);
}
