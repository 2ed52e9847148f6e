/* SPDX-License-Identifier: MIT */
/*
 * conns.c - the connections accepted whose request has not come yet: a
 * place each in d->conns, per-peer and idle limits (conns.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "conns.h"
#include "hrd.h"
#include "log.h"
#include "os/os.h"
#include "os/ctl.h"

/* Forget place i, closing its connection when close_it. */
static void drop(struct hrd *d, int i, int close_it)
{
    int r = pmm__os_poller_del(d->ep_fd, d->conns[i].fd);
    if (r < 0) /* cannot fail: it was added and is still open */
        hrd_log(d, HRD_ERR, "epoll: %s", pmm_strerror(r));
    if (close_it)
        pmm__os_close(d->conns[i].fd);
    d->conns[i] = d->conns[--d->nconns]; /* order does not matter */
}

/* The oldest place of pid, and how many it holds. */
static int oldest_of(const struct hrd *d, pid_t pid, int *held)
{
    int at = -1;
    *held = 0;
    for (int i = 0; i < d->nconns; i++) {
        if (d->conns[i].pid != pid)
            continue;
        ++*held;
        if (at < 0 || d->conns[i].since_ms < d->conns[at].since_ms)
            at = i;
    }
    return at;
}

/* The oldest place of the peer that holds the most. */
static int evictee(const struct hrd *d)
{
    int best = -1, most = 0, held;
    for (int i = 0; i < d->nconns; i++) {
        int at = oldest_of(d, d->conns[i].pid, &held);
        if (held > most) {
            most = held;
            best = at;
        }
    }
    return best;
}

void hrd_conn_add(struct hrd *d, int fd)
{
    uid_t uid;
    pid_t pid;
    int held;
    if (pmm__os_peer(fd, &uid, &pid) < 0) {
        pmm__os_close(fd);
        return;
    }
    int old = oldest_of(d, pid, &held);
    if (held >= HRD_CONNS_PER_PEER)
        drop(d, old, 1);
    else if (d->nconns == HRD_MAX_CONNS)
        drop(d, evictee(d), 1);
    if (pmm__os_poller_add(d->ep_fd, fd) < 0) {
        pmm__os_close(fd);
        return;
    }
    d->conns[d->nconns].fd = fd;
    d->conns[d->nconns].pid = pid;
    d->conns[d->nconns].since_ms = pmm__os_mono_ms();
    d->nconns++;
}

int hrd_conn_take(struct hrd *d, int fd)
{
    for (int i = 0; i < d->nconns; i++) {
        if (d->conns[i].fd == fd) {
            drop(d, i, 0);
            return 1;
        }
    }
    return 0;
}

int hrd_conn_expire(struct hrd *d)
{
    int64_t now = pmm__os_mono_ms(), next = -1;
    for (int i = 0; i < d->nconns;) {
        int64_t left = d->conns[i].since_ms + HRD_IDLE_MS - now;
        if (left <= 0) {
            drop(d, i, 1); /* place i now holds another: look again */
            continue;
        }
        if (next < 0 || left < next)
            next = left;
        i++;
    }
    return (int)next;
}

void hrd_conn_reserve(struct hrd *d)
{
    d->spare_fd = pmm__os_open_fd("/dev/null", O_RDONLY, 0);
}

/* Hang up on the next newcomer with the descriptor kept in reserve; -1
 * when there is none to give up (or no newcomer after all). */
static int refuse_one(struct hrd *d)
{
    if (d->spare_fd < 0) {
        hrd_conn_reserve(d); /* a descriptor may have come free since */
        if (d->spare_fd < 0)
            return -1;
    }
    pmm__os_close(d->spare_fd);
    int c = pmm__os_accept(d->listen_fd);
    if (c >= 0) { /* said before the client sees it */
        hrd_log(d, HRD_WARNING, "out of file descriptors: a client was hung "
                "up on");
        pmm__os_close(c);
    }
    hrd_conn_reserve(d);
    return c < 0 ? -1 : 0;
}

void hrd_conn_accept_all(struct hrd *d)
{
    for (;;) {
        int c = pmm__os_accept(d->listen_fd);
        if (c >= 0)
            hrd_conn_add(d, c); /* served when its request comes */
        else if ((c != -EMFILE && c != -ENFILE) || refuse_one(d) < 0)
            return;
    }
}
