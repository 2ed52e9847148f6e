/* SPDX-License-Identifier: MIT */
/*
 * upjob.c - upgrade requests (HR_REQ_UPGRADE) and what the loop sees of
 * upgrades (see upgrade.h): a job per request (one actor, or a group's
 * direct actors one after the other or all at once), begun, followed
 * through the tick, answered when every upgrade of it is over.
 *
 * Invariants: this is an entry point of the upgrade table, like the
 * loop's other entry points (a request, a death, the tick): it raises
 * events (hrd_up_event) and never runs inside an action; an action's
 * outcome comes back through u->done, collected here.  A group fails
 * here, through the group table's entry point, only when a rollback could
 * not start the old image again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gaction.h"
#include "group.h"
#include "hrd.h"
#include "imgver.h"
#include "log.h"
#include "os/ctl.h"
#include "os/os.h"
#include "proto.h"
#include "ready.h"
#include "standby.h"
#include "upgrade.h"
#include "upstate.h"

#define HRD_UPJOBS 8 /* upgrade requests served at once */

struct hrd_upjob {
    uint8_t used, cold, all;
    int conn;                 /* the request, answered at the end */
    int exe_fd;               /* the new program */
    struct hr_strings *argv;  /* its arguments (pointers into strings) */
    char *strings;
    uint32_t timeout_ms;
    int16_t slot[HR_REG_ACTORS]; /* the actors, in order */
    int n, next, running, failed;
    int result;               /* the first failure's code */
    char why[1024];           /* the rollbacks, in words */
};

static void job_free(struct hrd_upjob *j)
{
    if (j->exe_fd >= 0)
        pmm__os_close(j->exe_fd);
    free(j->argv);
    free(j->strings);
    memset(j, 0, sizeof *j);
}

/* 0 when the actor in slot may be upgraded now, else why not. */
static int can_upgrade(const struct hrd *d, int slot)
{
    const struct hr_reg_actor *a = &d->reg->actors[slot];
    if (!a->direct)
        return -EINVAL; /* an indirect actor comes back by hrfexec */
    if (a->state != HR_A_RUNNING || a->pid <= 0 ||
        d->reg->groups[a->group].state != HR_G_RUNNING ||
        d->slot[slot].up.state != HRD_UP_NONE || d->slot[slot].up.job >= 0)
        return -EBUSY;
    return 0;
}

/* Begin the upgrade of slot for job j (index ji). */
static void begin(struct hrd *d, struct hrd_upjob *j, int ji, int slot)
{
    struct hrd_upgrade *u = &d->slot[slot].up;
    int fd = can_upgrade(d, slot); /* still, for the later ones of a group */
    u->why[0] = 0;
    u->old_gone = u->restore_failed = u->done = 0;
    u->cold = j->cold;
    u->job = ji;
    u->deadline_ms = pmm__os_mono_ms() + j->timeout_ms;
    /* a group restart between two ticks is over before the next: the
     * count says it happened */
    u->restarts0 = d->reg->groups[d->reg->actors[slot].group].restarts;
    u->ends0 = d->grp[d->reg->actors[slot].group].ends;
    j->running++;
    if (fd == 0) {
        u->sb_want = d->slot[slot].standby.want;
        hrd_standby_drop(d, slot); /* the old image's standby ends */
        fd = hrd_ver_trial_store(d, slot, j->exe_fd, (char *const *)j->argv->argv);
    }
    if (fd < 0) {
        snprintf(u->why, sizeof u->why, "%s%s", fd == -EBUSY
                 ? "not running any more" : "the new program cannot be stored: ",
                 fd == -EBUSY ? "" : pmm_strerror(fd));
        if (fd != -EBUSY)
            d->slot[slot].standby.want = u->sb_want;
        u->result = fd;
        u->done = 1;
        return;
    }
    u->image_fd = fd;
    hrd_log(d, HRD_INFO, "actor %s of group %d: upgrade to %s begins%s",
            d->reg->actors[slot].name, d->reg->actors[slot].group,
            d->slot[slot].ver->trial.path, j->cold ? " (cold)" : "");
    struct up_ctx c = {.conn = -1};
    hrd_up_event(d, slot, j->cold ? UE_BEGIN_COLD : UE_BEGIN, &c);
}

/* Upgrades of job ji that are over: counted, their reasons kept. */
static void collect(struct hrd *d, struct hrd_upjob *j, int ji)
{
    for (int k = 0; k < j->n; k++) {
        struct hrd_upgrade *u = &d->slot[j->slot[k]].up;
        if (u->job != ji || !u->done)
            continue;
        u->done = 0;
        u->job = -1;
        j->running--;
        if (u->result == 0)
            continue;
        size_t at = strlen(j->why);
        if (j->failed++ == 0)
            j->result = u->result;
        snprintf(j->why + at, sizeof j->why - at, "%s%s%s%s%s",
                 at ? "; " : "", j->n > 1 ? "actor " : "",
                 j->n > 1 ? d->reg->actors[j->slot[k]].name : "",
                 j->n > 1 ? ": " : "",
                 u->result == -ECANCELED ? "rolled back: " : "");
        at = strlen(j->why);
        snprintf(j->why + at, sizeof j->why - at, "%s", u->why);
        j->next = j->n; /* no more begin */
    }
}

/* Begin what is due, answer what is done. */
static void progress(struct hrd *d, int ji)
{
    struct hrd_upjob *j = &d->upjobs[ji];
    for (;;) {
        collect(d, j, ji);
        if (j->running > 0)
            return;
        if (j->failed || j->next >= j->n)
            break;
        do
            begin(d, j, ji, j->slot[j->next++]);
        while (j->all && j->next < j->n);
    }
    int r = j->failed ? j->result : 0;
    if (j->conn >= 0) {
        hr__msg_send(j->conn, HR_REPLY, r, j->why, (uint32_t)strlen(j->why),
                     NULL, 0);
        pmm__os_close(j->conn);
    }
    job_free(j);
}

void hrd_upjobs_cut(struct hrd *d, const char *why)
{
    char text[400];
    snprintf(text, sizeof text, "%s before the upgrade ended: its trial is "
             "stopped, and the next start runs the version its record says "
             "(hr ps shows which)", why);
    for (int ji = 0; d->upjobs && ji < HRD_UPJOBS; ji++) {
        struct hrd_upjob *j = &d->upjobs[ji];
        if (!j->used || j->conn < 0)
            continue;
        hr__msg_send(j->conn, HR_REPLY, -EINTR, text, (uint32_t)strlen(text),
                     NULL, 0);
        pmm__os_close(j->conn);
        j->conn = -1; /* (the job itself ends with the controller) */
    }
}

/* The actors the request names into j: a group's direct ones, or one. */
static int targets(struct hrd *d, struct hrd_upjob *j, int group,
                   const char *actor)
{
    if (group >= 0) {
        if (hrd_group_check(d, group, HRD_GROUP_SLOT) < 0 ||
            !d->reg->groups[group].used)
            return -ESRCH;
        HRD_FOR_MEMBERS(d, group, i)
            if (d->reg->actors[i].direct)
                j->slot[j->n++] = (int16_t)i;
    } else {
        char *end;
        int slot = hrd_find_name(d, -1, actor);
        long pid = strtol(actor, &end, 10);
        if (slot < 0 && *actor && !*end && pid > 0)
            slot = hrd_find_pid(d, (pid_t)pid);
        if (slot >= 0)
            j->slot[j->n++] = (int16_t)slot;
    }
    if (!j->n)
        return -ESRCH;
    for (int k = 0; k < j->n; k++) {
        int r = can_upgrade(d, j->slot[k]);
        if (r < 0)
            return r;
    }
    return 0;
}

int hrd_upgrade_request(struct hrd *d, int conn, const struct hr_msg_hdr *h,
                        const char *p, int *fds, int nfds, int *kept)
{
    struct hr_upgrade_wire w;
    *kept = 0;
    if (nfds != 1 || h->len < sizeof w)
        return -EBADMSG;
    memcpy(&w, p, sizeof w);
    if ((w.flags & ~(HR_UPGRADE_COLD | HR_UPGRADE_ALL_AT_ONCE)) ||
        w.reserved[0] || w.reserved[1] || !w.timeout_ms ||
        w.timeout_ms > HR_UPGRADE_TIMEOUT_LIMIT_MS)
        return -EINVAL;
    if (!d->upjobs && !(d->upjobs = calloc(HRD_UPJOBS, sizeof *d->upjobs)))
        return -ENOMEM;
    int ji = 0;
    while (ji < HRD_UPJOBS && d->upjobs[ji].used)
        ji++;
    if (ji == HRD_UPJOBS)
        return -EAGAIN;
    struct hrd_upjob *j = &d->upjobs[ji];
    uint32_t len = h->len - (uint32_t)sizeof w;
    j->exe_fd = -1;
    j->strings = malloc(len ? len : 1);
    j->argv = malloc(sizeof *j->argv);
    int r = !j->strings || !j->argv ? -ENOMEM : 0;
    if (r == 0) {
        memcpy(j->strings, p + sizeof w, len);
        r = hr__strings_decode(j->strings, len, 1, j->argv) < 0 ? -EBADMSG : 0;
    }
    if (r == 0)
        r = targets(d, j, h->arg >= 0 ? h->arg : -1, j->argv->name);
    if (r < 0) {
        job_free(j);
        return r;
    }
    j->used = 1;
    j->conn = conn;
    j->exe_fd = fds[0];
    fds[0] = -1; /* the job's now */
    j->timeout_ms = w.timeout_ms;
    j->cold = (w.flags & HR_UPGRADE_COLD) != 0;
    j->all = (w.flags & HR_UPGRADE_ALL_AT_ONCE) != 0;
    *kept = 1;
    progress(d, ji);
    return 0;
}

/* What the loop sees of slot's upgrade, raised as its event. */
static void see(struct hrd *d, int slot, int64_t now, int64_t *next)
{
    struct hrd_upgrade *u = &d->slot[slot].up;
    struct hr_reg_actor *a = &d->reg->actors[slot];
    struct up_ctx c = {.conn = -1};
    if (hrd_upgrade_moot(d, slot)) {
        hrd_up_event(d, slot, UE_ABORT, &c);
    } else if (u->state == HRD_UP_PROMOTED && a->pid == u->new_pid &&
               (d->slot[slot].readiness == HRD_R_READY ||
                (d->slot[slot].readiness == HRD_R_SILENT &&
                 now >= u->settle_ms))) {
        hrd_up_event(d, slot, UE_READY, &c);
    } else if (u->state == HRD_UP_UNDO && !u->trial_pid && !u->new_pid &&
               !u->old_pid) {
        hrd_up_event(d, slot, UE_SETTLED, &c);
    } else if (u->state != HRD_UP_UNDO && now >= u->deadline_ms) {
        c.timeout_ms = d->upjobs && u->job >= 0 ? d->upjobs[u->job].timeout_ms : 0;
        hrd_up_event(d, slot, UE_TIMEOUT, &c);
    } else if (u->state != HRD_UP_UNDO) {
        int64_t in = u->deadline_ms - now; /* and a silent one's settling */
        if (u->state == HRD_UP_PROMOTED &&
            d->slot[slot].readiness == HRD_R_SILENT && u->settle_ms > now &&
            u->settle_ms - now < in)
            in = u->settle_ms - now;
        *next = *next < 0 || in < *next ? in : *next;
    }
}

int hrd_upgrade_tick(struct hrd *d)
{
    int64_t now = pmm__os_mono_ms(), next = -1;
    if (d->stopping || d->ending || d->exec_pending)
        return -1;
    for (int i = 0; i < HR_REG_ACTORS; i++) {
        struct hrd_upgrade *u = &d->slot[i].up;
        if (u->state != HRD_UP_NONE)
            see(d, i, now, &next);
        if (u->restore_failed) { /* no start of its own image: it fails */
            int group = d->reg->actors[i].group;
            u->restore_failed = 0;
            hrd_group_start_failed(d, group, "its old image would not start "
                                   "again after an upgrade's rollback");
            hrd_group_event(d, group, GE_FAILED, NULL);
        }
    }
    for (int ji = 0; d->upjobs && ji < HRD_UPJOBS; ji++)
        if (d->upjobs[ji].used)
            progress(d, ji);
    return (int)next;
}
