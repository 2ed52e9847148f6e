/* SPDX-License-Identifier: MIT */
/*
 * loop.c - the event loop: accept, read, hand bytes to the protocol, send
 * its replies; and the list of open connections that stats conns shows.
 *
 * Level-triggered epoll.  A connection reads while its pending output is
 * small; once the output passes HIGH_WATER it stops reading and waits to be
 * writable, so a client that pipelines without reading cannot make the
 * server buffer without bound.  Signals arrive through a signalfd, so a
 * stop request is one more event, handled between two commands: a command
 * is never left half done by a graceful stop (a SIGKILL is what the heap's
 * transactions are for).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "words.h"

#define HIGH_WATER (1u << 20)
#define READ_CHUNK (16u << 10)
#define READS_PER_EVENT 8

enum kind { K_LISTEN, K_CONN, K_SIGNAL };

struct conn {
    enum kind kind;          /* first: every epoll cookie starts with it */
    int fd;
    char *rbuf;
    size_t rpos, rlen, rcap;
    size_t wpos;             /* bytes of session.out already sent */
    int writing;             /* waiting for EPOLLOUT, not reading */
    struct conn *prev, *next;    /* every open connection (stats conns) */
    struct mc_session s;
};

struct endpoint {
    enum kind kind;
    int fd;
};

struct loop {
    int ep;
    struct mc_server *srv;
    struct conn *conns;      /* the open connections, newest first */
};

/* stats conns: memcached's lines for each client connection. */
static void say_conns(void *ctx, struct mc_session *out)
{
    struct loop *l = ctx;
    int64_t now = time(NULL);
    for (struct conn *c = l->conns; c; c = c->next) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof sa;
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (getpeername(c->fd, (struct sockaddr *)&sa, &len) == 0) {
            if (sa.ss_family == AF_INET) {
                struct sockaddr_in *in = (struct sockaddr_in *)&sa;
                inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
                port = ntohs(in->sin_port);
            } else if (sa.ss_family == AF_INET6) {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
                inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
                port = ntohs(in6->sin6_port);
            }
        }
        if (sa.ss_family == AF_UNIX)
            mc_sayf(out, "STAT %d:addr unix", c->fd);
        else
            mc_sayf(out, "STAT %d:addr tcp:%s:%d", c->fd, host, port);
        mc_sayf(out, "STAT %d:state %s", c->fd,
                c->writing ? "conn_mwrite" : "conn_parse_cmd");
        mc_sayf(out, "STAT %d:secs_since_last_cmd %lld", c->fd,
                (long long)(c->s.last_cmd ? now - c->s.last_cmd : 0));
    }
}

static void conn_close(struct loop *l, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->rbuf);
    mc_session_free(&c->s);
    free(c);
    l->srv->curr_conns--;
}

static int watch(struct loop *l, struct conn *c, int out)
{
    struct epoll_event ev = {.events = out ? EPOLLOUT : EPOLLIN, .data.ptr = c};
    c->writing = out;
    return epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Send what the session has.  1: all sent, 0: the socket is full, -1:
 * the connection is gone. */
static int flush_out(struct loop *l, struct conn *c)
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
        l->srv->bytes_written += (uint64_t)n;
    }
    o->len = c->wpos = 0;
    return 1;
}

/* Run the commands already received, sending the replies as they pile
 * up; the protocol stops at HIGH_WATER bytes of output, so once those are
 * sent it runs again until the input is used or the socket is full (the
 * client may have sent its last byte already: no read event would come).
 * -1: close the connection. */
static int process(struct loop *l, struct conn *c)
{
    for (;;) {
        size_t used = mc_proto_input(l->srv, &c->s, c->rbuf + c->rpos,
                                     c->rlen - c->rpos, HIGH_WATER);
        c->rpos += used;
        if (c->rpos == c->rlen)
            c->rpos = c->rlen = 0;
        if (c->s.broken)
            return -1;
        int f = flush_out(l, c);
        if (f < 0 || (f == 1 && c->s.quit))
            return -1;
        if (f == 0)
            return !c->writing && watch(l, c, 1) < 0 ? -1 : 0;
        if (used == 0 || c->rlen == 0)
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

static void on_readable(struct loop *l, struct conn *c)
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
        l->srv->bytes_read += (uint64_t)n;
        if (process(l, c) < 0)
            goto close;
    }
    return;
close:
    conn_close(l, c);
}

static void on_writable(struct loop *l, struct conn *c)
{
    int f = flush_out(l, c);
    if (f < 0 || (f == 1 && c->s.quit))
        goto close;
    if (f == 0)
        return;
    /* drained: run what was left unread, then read again */
    if (process(l, c) < 0)
        goto close;
    if (c->s.out.len == 0 && watch(l, c, 0) < 0)
        goto close;
    return;
close:
    conn_close(l, c);
}

static void on_accept(struct loop *l, int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;            /* EAGAIN, or a connection that went away */
        if (l->srv->curr_conns >= l->srv->max_conns) {
            static const char msg[] = "ERROR Too many open connections\r\n";
            if (send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL) < 0) {
                /* nothing more to tell it */
            }
            close(fd);
            continue;
        }
        struct conn *c = calloc(1, sizeof *c);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (!c || epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            free(c);
            close(fd);
            continue;
        }
        c->kind = K_CONN;
        c->fd = fd;
        /* replies go out as they are made: without this, a small reply
         * behind one not yet acknowledged waits for the client's delayed
         * ACK (40 ms), as pipelined sets did (memcached sets it too); a
         * unix socket refuses it, harmlessly */
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->next = l->conns;
        if (l->conns)
            l->conns->prev = c;
        l->conns = c;
        l->srv->curr_conns++;
        l->srv->total_conns++;
    }
}

static int add(struct loop *l, int fd, void *cookie)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = cookie};
    return epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev);
}

int mc_loop_run(struct mc_server *srv, const int *lfds, int nl)
{
    struct loop l = {.srv = srv};
    srv->conns = say_conns;
    srv->conns_ctx = &l;
    struct endpoint *eps = calloc((size_t)nl + 1, sizeof *eps);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    int r = -ENOMEM;
    if (!eps)
        goto fail;
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        (eps[nl].fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 ||
        (l.ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        r = -errno;
        goto fail;
    }
    eps[nl].kind = K_SIGNAL;
    for (int i = 0; i <= nl; i++) {
        if (i < nl)
            eps[i] = (struct endpoint){K_LISTEN, lfds[i]};
        if (add(&l, eps[i].fd, &eps[i]) < 0) {
            r = -errno;
            goto fail;
        }
    }
    for (;;) {
        struct epoll_event ev[64];
        int n = epoll_wait(l.ep, ev, 64, -1);
        if (n < 0 && errno != EINTR) {
            r = -errno;
            goto fail;
        }
        for (int i = 0; i < n; i++) {
            enum kind k = *(enum kind *)ev[i].data.ptr;
            if (k == K_SIGNAL) {
                r = 0;
                goto out;
            }
            if (k == K_LISTEN) {
                on_accept(&l, ((struct endpoint *)ev[i].data.ptr)->fd);
                continue;
            }
            struct conn *c = ev[i].data.ptr;
            if (c->writing)
                on_writable(&l, c);
            else
                on_readable(&l, c);
        }
    }
fail:
    fprintf(stderr, "hrcached: event loop: %s\n", pmm_strerror(r));
out:
    srv->conns = NULL;
    free(eps);
    return r;
}
