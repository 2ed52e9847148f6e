/* SPDX-License-Identifier: MIT */
/*
 * ready.c - actors' readiness and the time of each restart (see ready.h).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "hrd.h"
#include "log.h"
#include "os/os.h"
#include "os/ctl.h"
#include "ready.h"

const unsigned hrd_hist_ms[HRD_HIST - 1] = {1, 10, 100, 1000, 10000};

int hrd_ready_open(struct hrd *d)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/notify.sock", d->dir); /* bound there */
    int fd = pmm__os_dgram_bind(path);
    if (fd < 0)
        hrd_log(d, HRD_WARNING, "%s: %s: actors get no NOTIFY_SOCKET", path,
                pmm_strerror(fd));
    return fd;
}

/* Up: ready, or exec'd for one that says nothing. */
static int up(const struct hrd *d, int slot)
{
    return d->reg->actors[slot].pid > 0 && d->slot[slot].readiness != HRD_R_STARTING;
}

void hrd_ready_check(struct hrd *d, int group)
{
    if (!d->grp[group].restart_from)
        return;
    HRD_FOR_MEMBERS(d, group, i)
        if (d->reg->actors[i].direct && !up(d, i))
            return;
    uint64_t now = pmm__os_now_ns(), from = d->grp[group].restart_from;
    uint64_t ns = now > from ? now - from : 0;
    int b = 0;
    while (b < HRD_HIST - 1 && ns >= hrd_hist_ms[b] * 1000000ull)
        b++;
    d->grp[group].restart_hist[b]++;
    d->grp[group].restart_sum_ns += ns; /* for the histogram's _sum (metrics.c) */
    d->grp[group].restart_last_ns = ns;
    d->grp[group].restart_from = 0;
}

static void ready(struct hrd *d, int slot)
{
    if (d->slot[slot].readiness == HRD_R_READY)
        return;
    d->slot[slot].readiness = HRD_R_READY;
    d->slot[slot].says_ready = 1; /* its next runs are waited for too */
    hrd_ready_check(d, d->reg->actors[slot].group);
}

void hrd_ready_notified(struct hrd *d)
{
    char buf[4096];
    pid_t pid;
    while (pmm__os_recv_from_pid(d->notify_fd, buf, sizeof buf, &pid) >= 0) {
        int slot = hrd_find_pid(d, pid); /* the actor itself, not a child */
        int standby = slot < 0 ? hrd_standby_of(d, pid) : -1;
        if (slot < 0 && standby < 0)
            continue;
        for (char *line = buf; line && *line; line = strchr(line, '\n'),
                  line = line ? line + 1 : NULL)
            if (strncmp(line, "READY=1", 7) == 0 &&
                (line[7] == '\n' || line[7] == 0)) {
                if (slot >= 0)
                    ready(d, slot);
                else /* a standby has no say: standby.c ends it */
                    d->slot[standby].standby.said_ready = 1;
            }
    }
}

static void close_pipe(struct hrd *d, int slot)
{
    if (d->slot[slot].ready_pipe < 0)
        return;
    pmm__os_poller_del(d->ep_fd, d->slot[slot].ready_pipe);
    pmm__os_close(d->slot[slot].ready_pipe);
    d->slot[slot].ready_pipe = -1;
}

int hrd_ready_pipe_event(struct hrd *d, int fd)
{
    char buf[512];
    HRD_FOR_ACTORS(d, i) {
        if (d->slot[i].ready_pipe != fd)
            continue;
        int n = pmm__os_read(fd, buf, sizeof buf);
        if (n > 0 && memchr(buf, '\n', (size_t)n)) {
            ready(d, i);
            close_pipe(d, i); /* said once: s6 closes it too */
        } else if (n <= 0 && n != -EAGAIN) {
            close_pipe(d, i); /* closed without a word */
        }
        return 1;
    }
    return 0;
}

void hrd_ready_started(struct hrd *d, int slot, int rd)
{
    close_pipe(d, slot);
    d->slot[slot].readiness = rd >= 0 || d->slot[slot].says_ready ? HRD_R_STARTING
                                                        : HRD_R_SILENT;
    if (rd >= 0 && d->ep_fd >= 0 && pmm__os_poller_add(d->ep_fd, rd) < 0) {
        pmm__os_close(rd);
        rd = -1;
    }
    d->slot[slot].ready_pipe = rd;
}

void hrd_ready_gone(struct hrd *d, int slot)
{
    close_pipe(d, slot);
    d->slot[slot].readiness = HRD_R_SILENT;
}

void hrd_ready_restarting(struct hrd *d, int group)
{
    d->grp[group].restart_from = d->reg->groups[group].last_fail_ns;
}
