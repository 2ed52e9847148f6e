/* SPDX-License-Identifier: MIT */
/*
 * worker.c - one worker thread: its own level-triggered epoll over the
 * connections the acceptor gave it; read, hand the bytes to the protocol,
 * send its replies.  A connection belongs to one worker for its life, so
 * its buffers and session are touched by that thread only; the list of
 * them (stats conns) is guarded by the worker's mutex, taken by the
 * acceptor adding one, the worker removing one, and stats reading them.
 *
 * A connection reads while its pending output is small; once the output
 * passes HIGH_WATER it stops reading and waits to be writable, so a client
 * that pipelines without reading cannot make the server buffer without
 * bound.  A stop (the acceptor makes stopfd readable) is one more event,
 * handled between two commands: a command is never left half done by a
 * graceful stop (a SIGKILL is what the heap's transactions are for).
 *
 * A stop for an upgrade (mc_worker_stop(w, 1): the controller asked for
 * the connections, hr_handover(3)) brings each connection to a request
 * boundary first, in the worker's thread (settle): its replies sent, a
 * command it has begun (a set whose data is still coming) read whole and
 * run, so that what it has read and not run is only whole or partial
 * command lines, at most HR_HANDOVER_MAX bytes.  mc_worker_join then gives
 * each one to the controller with those bytes.  A connection that cannot
 * settle within SETTLE_MS (its client reads nothing, or stalls inside a
 * command) is closed, as at any stop.  A connection handed to a new
 * instance (mc_worker_adopt with bytes) runs them before it reads.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "worker.h"
#include "words.h"

#define HIGH_WATER (1u << 20)
#define SHRINK_OVER (4u << 20) /* output room kept for the next answers */
/* A read takes up to this much: 64 KiB holds a pipeline of 15 sets of
 * 4 KiB, which 16 KiB cut into four reads, each with its own replies'
 * send (50 % sets of 4 KiB at -t 2: 1.21-1.44x memcached's ops/s in two
 * runs against 0.84-1.20x with 16 KiB, load 12-13 on 2 cores) */
#define READ_CHUNK (64u << 10)
#define READS_PER_EVENT 8
#define SETTLE_MS (MC_SETTLE_S * 1000)

struct conn {
    int fd;
    char *rbuf;
    size_t rpos, rlen, rcap;
    size_t wpos;             /* bytes of session.out already sent */
    int writing;             /* waiting for EPOLLOUT, not reading */
    struct conn *prev, *next;    /* the worker's open connections */
    struct mc_session s;
};

struct mc_worker {
    int ep;
    int stopfd;
    pthread_t thread;
    struct mc_server *srv;
    pthread_mutex_t mu;      /* guards conns */
    struct conn *conns;      /* the open connections, newest first */
    int handover;            /* the stop hands the connections over */
    int unsettled;           /* ... and closed these, not settled in time */
};

static void say_addr(struct conn *c, struct mc_session *out)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getpeername(c->fd, (struct sockaddr *)&sa, &len) < 0)
        sa.ss_family = AF_UNSPEC;
    if (sa.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    } else if (sa.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    if (sa.ss_family == AF_UNIX)
        mc_sayf(out, "STAT %d:addr unix", c->fd);
    else
        mc_sayf(out, "STAT %d:addr tcp:%s:%d", c->fd, host, port);
}

void mc_worker_conns(struct mc_worker *w, struct mc_session *out)
{
    int64_t now = time(NULL);
    pthread_mutex_lock(&w->mu);
    for (struct conn *c = w->conns; c; c = c->next) {
        say_addr(c, out);
        /* another worker's connection: its state as last seen */
        int writing = __atomic_load_n(&c->writing, __ATOMIC_RELAXED);
        int64_t last = __atomic_load_n(&c->s.last_cmd, __ATOMIC_RELAXED);
        mc_sayf(out, "STAT %d:state %s", c->fd,
                writing ? "conn_mwrite" : "conn_parse_cmd");
        mc_sayf(out, "STAT %d:secs_since_last_cmd %lld", c->fd,
                (long long)(last ? now - last : 0));
    }
    pthread_mutex_unlock(&w->mu);
}

static void conn_free(struct conn *c)
{
    close(c->fd);
    free(c->rbuf);
    mc_session_free(&c->s);
    free(c);
}

static void conn_close(struct mc_worker *w, struct conn *c)
{
    pthread_mutex_lock(&w->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&w->mu);
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    conn_free(c);
    __atomic_sub_fetch(&w->srv->curr_conns, 1, __ATOMIC_RELAXED);
}

static int watch(struct mc_worker *w, struct conn *c, int out)
{
    struct epoll_event ev = {.events = out ? EPOLLOUT : EPOLLIN, .data.ptr = c};
    __atomic_store_n(&c->writing, out, __ATOMIC_RELAXED);
    return epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Send what the session has.  1: all sent, 0: the socket is full, -1:
 * the connection is gone. */
static int flush_out(struct mc_worker *w, struct conn *c)
{
    struct mc_buf *o = &c->s.out;
    while (c->wpos < o->len) {
        ssize_t n = send(c->fd, o->p + c->wpos, o->len - c->wpos,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -1;
        }
        c->wpos += (size_t)n;
        w->srv->bytes_written += (uint64_t)n;
    }
    o->len = c->wpos = 0;
    if (o->cap > SHRINK_OVER) { /* a big answer's room goes back */
        free(o->p);
        *o = (struct mc_buf){0};
    }
    return 1;
}

/* Run the commands already received, sending the replies as they pile
 * up; the protocol stops at HIGH_WATER bytes of output, so once those are
 * sent it runs again until the input is used or the socket is full (the
 * client may have sent its last byte already: no read event would come).
 * -1: close the connection. */
static int process(struct mc_worker *w, struct conn *c)
{
    for (;;) {
        size_t had = c->s.out.len;
        size_t used = mc_proto_input(w->srv, &c->s, c->rbuf + c->rpos,
                                     c->rlen - c->rpos, HIGH_WATER);
        /* a get answered in parts answers without using input */
        int answered = c->s.out.len > had;
        c->rpos += used;
        if (c->rpos == c->rlen)
            c->rpos = c->rlen = 0;
        if (c->s.broken)
            return -1;
        int f = flush_out(w, c);
        if (f < 0 || (f == 1 && c->s.quit))
            return -1;
        if (f == 0)
            return !c->writing && watch(w, c, 1) < 0 ? -1 : 0;
        if ((used == 0 || c->rlen == 0) && !answered)
            return 0;
    }
}

/* Room for the next read: at least what the pending command needs whole. */
static int make_room(struct conn *c)
{
    if (c->rpos > 0 && c->rlen - c->rpos < c->rcap / 2) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    size_t need = c->rpos + (c->s.want > READ_CHUNK ? c->s.want : READ_CHUNK);
    if (c->rlen + READ_CHUNK / 4 <= c->rcap && need <= c->rcap)
        return 0;
    size_t cap = c->rcap ? c->rcap : READ_CHUNK;
    while (cap < need || cap < c->rlen + READ_CHUNK / 4)
        cap *= 2;
    char *p = realloc(c->rbuf, cap);
    if (!p)
        return -1;
    c->rbuf = p;
    c->rcap = cap;
    return 0;
}

static void on_readable(struct mc_worker *w, struct conn *c)
{
    for (int i = 0; i < READS_PER_EVENT && !c->writing; i++) {
        if (make_room(c) < 0)
            goto close;
        ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (n == 0)
            goto close;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return;
            goto close;
        }
        c->rlen += (size_t)n;
        w->srv->bytes_read += (uint64_t)n;
        if (process(w, c) < 0)
            goto close;
    }
    return;
close:
    conn_close(w, c);
}

static void on_writable(struct mc_worker *w, struct conn *c)
{
    int f = flush_out(w, c);
    if (f < 0 || (f == 1 && c->s.quit))
        goto close;
    if (f == 0)
        return;
    /* drained: run what was left unread, then read again */
    if (process(w, c) < 0)
        goto close;
    if (c->s.out.len == 0 && watch(w, c, 0) < 0)
        goto close;
    return;
close:
    conn_close(w, c);
}

int mc_worker_adopt(struct mc_worker *w, int fd, const void *pending,
                    size_t n)
{
    struct conn *c = calloc(1, sizeof *c);
    size_t cap = READ_CHUNK;
    while (cap < n + READ_CHUNK / 4)
        cap *= 2;
    if (!c || (n && !(c->rbuf = malloc(cap)))) {
        free(c);
        close(fd);
        return -ENOMEM;
    }
    c->fd = fd;
    if (n) {
        /* bytes its previous instance read and did not run: they run
         * first, in the worker's thread, at the first writable event */
        memcpy(c->rbuf, pending, n);
        c->rlen = n;
        c->rcap = cap;
        c->writing = 1;
    }
    /* replies go out as they are made: without this, a small reply
     * behind one not yet acknowledged waits for the client's delayed
     * ACK (40 ms), as pipelined sets did (memcached sets it too); a
     * unix socket refuses it, harmlessly */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* on the list before the worker can see an event of it */
    pthread_mutex_lock(&w->mu);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    pthread_mutex_unlock(&w->mu);
    __atomic_add_fetch(&w->srv->curr_conns, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&w->srv->total_conns, 1, __ATOMIC_RELAXED);
    struct epoll_event ev = {.events = n ? EPOLLOUT : EPOLLIN, .data.ptr = c};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int r = -errno;
        /* the worker never saw it: take it back as it would */
        conn_close(w, c);
        return r;
    }
    return 0;
}

/* Milliseconds from now to end (CLOCK_MONOTONIC), at least 0. */
static int ms_left(const struct timespec *end)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ms = (end->tv_sec - now.tv_sec) * 1000 +
                 (end->tv_nsec - now.tv_nsec) / 1000000;
    return ms < 0 ? 0 : ms > SETTLE_MS ? SETTLE_MS : (int)ms;
}

/* Bring c to a request boundary (the file's head): 0, or -1 when it
 * cannot be by end (gone, or its client does not go on): close it. */
static int settle(struct mc_worker *w, struct conn *c,
                  const struct timespec *end)
{
    for (;;) {
        int f = flush_out(w, c);
        if (f < 0 || c->s.broken || (f == 1 && c->s.quit))
            return -1;
        struct pollfd p = {.fd = c->fd, .events = POLLOUT};
        if (f == 1) {
            if (c->s.state == MC_S_LINE &&
                c->rlen - c->rpos <= HR_HANDOVER_MAX)
                return 0;
            size_t had = c->s.out.len;
            size_t used = mc_proto_input(w->srv, &c->s, c->rbuf + c->rpos,
                                         c->rlen - c->rpos, HIGH_WATER);
            c->rpos += used;
            if (c->rpos == c->rlen)
                c->rpos = c->rlen = 0;
            if (used > 0 || c->s.out.len > had)
                continue;
            /* the command in hand needs more of its bytes */
            if (make_room(c) < 0)
                return -1;
            ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
                return -1;
            if (n > 0) {
                c->rlen += (size_t)n;
                w->srv->bytes_read += (uint64_t)n;
            }
            if (n != -1 || errno != EAGAIN)
                continue;
            p.events = POLLIN;
        }
        int left = ms_left(end);
        if (left == 0 || (poll(&p, 1, left) < 0 && errno != EINTR))
            return -1;
    }
}

/* The stop of an upgrade: every connection settled or closed. */
static void settle_all(struct mc_worker *w)
{
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += SETTLE_MS / 1000;
    for (struct conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (settle(w, c, &end) < 0) {
            conn_close(w, c);
            w->unsettled++;
        }
    }
}

static void *run(void *arg)
{
    struct mc_worker *w = arg;
    for (;;) {
        struct epoll_event ev[64];
        int n = epoll_wait(w->ep, ev, 64, -1);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "hrcached: worker: epoll_wait: %s\n",
                    pmm_strerror(-errno));
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            if (ev[i].data.ptr == w) {  /* stopfd: stop */
                if (__atomic_load_n(&w->handover, __ATOMIC_ACQUIRE))
                    settle_all(w);
                return NULL;
            }
            struct conn *c = ev[i].data.ptr;
            if (c->writing)
                on_writable(w, c);
            else
                on_readable(w, c);
        }
    }
}

int mc_worker_start(struct mc_worker **out, struct mc_server *srv,
                    int stopfd)
{
    struct mc_worker *w = calloc(1, sizeof *w);
    int r = -ENOMEM;
    if (!w)
        return r;
    w->srv = srv;
    w->stopfd = stopfd;
    pthread_mutex_init(&w->mu, NULL);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
    if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        epoll_ctl(w->ep, EPOLL_CTL_ADD, stopfd, &ev) < 0) {
        r = -errno;
        goto fail;
    }
    if ((r = -pthread_create(&w->thread, NULL, run, w)) < 0)
        goto fail;
    *out = w;
    return 0;
fail:
    if (w->ep >= 0)
        close(w->ep);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return r;
}

void mc_worker_stop(struct mc_worker *w, int handover)
{
    __atomic_store_n(&w->handover, handover, __ATOMIC_RELEASE);
}

int mc_worker_join(struct mc_worker *w, int *unsettled)
{
    int lost = 0;
    pthread_join(w->thread, NULL);
    *unsettled += w->unsettled;
    while (w->conns) {
        struct conn *c = w->conns;
        size_t n = c->rlen - c->rpos;
        if (w->handover &&
            hr_handover_give(c->fd, n ? c->rbuf + c->rpos : NULL, n) < 0)
            lost++;
        conn_close(w, c);
    }
    close(w->ep);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return lost;
}
