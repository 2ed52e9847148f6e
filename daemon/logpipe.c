/* SPDX-License-Identifier: MIT */
/*
 * logpipe.c - actors' output, tagged into the controller's log (see
 * logpipe.h).
 *
 * Never blocks the loop: the read ends are non-blocking, and one event
 * reads at most HRD_PIPE_READS chunks, so a chatty actor cannot starve
 * deaths, requests and restarts (epoll is level-triggered: the rest is
 * read at the next turn).  If the controller is slow, an actor blocks on
 * its full pipe (64 KiB): its output is never dropped while the controller
 * lives.  When the controller dies what the pipes held is lost; the
 * actors outlive it (leftover.h), and one that writes to its output
 * before the next controller ends it gets SIGPIPE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hrd.h"
#include "log.h"
#include "logpipe.h"
#include "os/os.h"
#include "os/ctl.h"

#define HRD_PIPE_CHUNK 4096
#define HRD_PIPE_READS 16  /* per event: 64 KiB, one pipe's worth */

int hrd_logpipe_fd(struct hrd *d, int slot)
{
    struct hrd_outpipe *o = &d->slot[slot].out;
    int fd[2];
    if (o->open)
        return o->wr;
    if (pmm__os_pipe_nb(fd) < 0)
        return -1;
    if (pmm__os_poller_add(d->ep_fd, fd[0]) < 0) {
        pmm__os_close(fd[0]);
        pmm__os_close(fd[1]);
        return -1;
    }
    o->rd = fd[0];
    o->wr = fd[1];
    o->len = 0;
    o->open = 1;
    return o->wr;
}

/* The line in slot's buffer, logged; its priority prefix taken off. */
static void emit(struct hrd *d, int slot)
{
    struct hrd_outpipe *o = &d->slot[slot].out;
    const struct hr_reg_actor *a = &d->reg->actors[slot];
    char tag[PMM_NAME_MAX + 16];
    const char *p = o->buf;
    size_t n = o->len;
    int level = HRD_INFO;
    if (n >= 3 && p[0] == '<' && p[1] >= '0' && p[1] <= '7' && p[2] == '>') {
        level = p[1] - '0';
        p += 3;
        n -= 3;
    }
    if (n > 0 && p[n - 1] == '\r')
        n--;
    snprintf(tag, sizeof tag, "g%u/%s", (unsigned)a->group, a->name);
    hrd_log_line(d, level, tag, p, n);
    o->len = 0;
}

/* n bytes read from slot's pipe: whole lines logged, a partial one kept,
 * one that outgrows the buffer logged in pieces. */
static void take(struct hrd *d, int slot, const char *p, size_t n)
{
    struct hrd_outpipe *o = &d->slot[slot].out;
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) : n;
        size_t room = HRD_LINE_MAX - o->len;
        if (k > room || (!nl && k == room)) { /* a piece of a long line */
            memcpy(o->buf + o->len, p, room);
            o->len = HRD_LINE_MAX;
            emit(d, slot);
            p += room;
            n -= room;
            continue;
        }
        memcpy(o->buf + o->len, p, k);
        o->len = (uint16_t)(o->len + k);
        if (!nl)
            return;
        emit(d, slot);
        p += k + 1;
        n -= k + 1;
    }
}

/* Read slot's pipe, at most reads chunks: 1 while more may wait. */
static int pump(struct hrd *d, int slot, int reads)
{
    char buf[HRD_PIPE_CHUNK];
    while (reads-- > 0) {
        int n = pmm__os_read(d->slot[slot].out.rd, buf, sizeof buf);
        if (n <= 0)
            return 0; /* -EAGAIN: empty; 0 cannot come, we hold the
                         write end */
        take(d, slot, buf, (size_t)n);
    }
    return 1;
}

int hrd_logpipe_event(struct hrd *d, int fd)
{
    for (int i = 0; i < HR_REG_ACTORS; i++)
        if (d->slot[i].out.open && d->slot[i].out.rd == fd) {
            pump(d, i, HRD_PIPE_READS);
            return 1;
        }
    return 0;
}

void hrd_logpipe_read(struct hrd *d, int slot)
{
    if (d->slot[slot].out.open)
        pump(d, slot, HRD_PIPE_READS); /* a pipe's worth: descendants still
                                          writing are read by the loop */
}

void hrd_logpipe_drain(struct hrd *d, int slot)
{
    hrd_logpipe_read(d, slot);
    if (d->slot[slot].out.open && d->slot[slot].out.len > 0)
        emit(d, slot);
}

void hrd_logpipe_close(struct hrd *d, int slot)
{
    struct hrd_outpipe *o = &d->slot[slot].out;
    if (!o->open)
        return;
    hrd_logpipe_drain(d, slot);
    pmm__os_poller_del(d->ep_fd, o->rd);
    pmm__os_close(o->rd);
    pmm__os_close(o->wr);
    o->open = 0;
}
