/* SPDX-License-Identifier: MIT */
/*
 * loop.c - the acceptor: the main thread's epoll over the listening
 * sockets and a signalfd; each accepted connection goes to the next of
 * the N workers in turn (worker.c), which serves it for its life.
 *
 * One acceptor, as memcached's: the connections are spread evenly over
 * the workers whatever the kernel's wake-ups, and the listening sockets
 * (often held by the controller, LISTEN_FDS) are read by one thread only.
 * A SIGTERM or SIGINT makes the shared stop eventfd readable: each worker
 * ends after the event in hand, so no command is left half done by a
 * graceful stop; the acceptor waits for them all.
 *
 * Upgrades (hr upgrade, hr_handover(3)): on SIGTERM the acceptor asks the
 * controller whether an upgrade replaces it; if so the workers settle
 * their connections at a request boundary and give them, with the bytes
 * read and not run, to the controller (worker.c).  Before it says it is
 * ready, every instance takes the connections a previous one gave and
 * hands them to its workers in turn, those bytes first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hotrestart/hr.h>
#include <hotrestart/pmm.h>

#include "listen.h"
#include "loop.h"
#include "worker.h"

struct pool {
    struct mc_server *srvs;
    struct mc_worker **w;
    int n;
    unsigned next;           /* the worker the next connection goes to */
};

/* stats conns: every worker's connections. */
static void say_conns(void *ctx, struct mc_session *out)
{
    struct pool *p = ctx;
    for (int i = 0; i < p->n; i++)
        mc_worker_conns(p->w[i], out);
}

static uint64_t open_conns(const struct pool *p)
{
    uint64_t n = 0;
    for (int i = 0; i < p->n; i++)
        n += __atomic_load_n(&p->srvs[i].curr_conns, __ATOMIC_RELAXED);
    return n;
}

static void on_accept(struct pool *p, int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;            /* EAGAIN, or a connection that went away */
        if (open_conns(p) >= p->srvs[0].max_conns) {
            static const char msg[] = "ERROR Too many open connections\r\n";
            if (send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL) < 0) {
                /* nothing more to tell it */
            }
            close(fd);
            continue;
        }
        /* a failure closed fd: the client sees its connection end */
        (void)mc_worker_adopt(p->w[p->next++ % (unsigned)p->n], fd, NULL, 0);
    }
}

/* The connections a previous instance handed over, to the workers in
 * turn, each with its bytes; then say READY=1 (after: the controller
 * closes those not taken once the actor is ready). */
static void take_handed(struct pool *p)
{
    char *buf = malloc(HR_HANDOVER_MAX);
    size_t n = HR_HANDOVER_MAX;
    int fd, r = -ENOMEM, taken = 0;
    while (buf && (r = hr_handover_take(&fd, buf, &n)) == 1) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
            close(fd);
        else if (mc_worker_adopt(p->w[p->next++ % (unsigned)p->n], fd, buf,
                                 n) == 0)
            taken++;
        n = HR_HANDOVER_MAX;
    }
    free(buf);
    if (r < 0)
        fprintf(stderr, "hrcached: cannot take the connections handed "
                "over: %s\n", pmm_strerror(r));
    if (taken && p->srvs[0].verbosity)
        fprintf(stderr, "hrcached: took %d connection%s handed over\n",
                taken, taken == 1 ? "" : "s");
    if ((r = mc_notify_ready()) < 0)
        fprintf(stderr, "hrcached: cannot say READY=1 to $NOTIFY_SOCKET: "
                "%s\n", pmm_strerror(r));
}

static void stop_workers(struct pool *p, int stopfd, int started,
                         int handover)
{
    uint64_t one = 1;
    for (int i = 0; i < started; i++)
        mc_worker_stop(p->w[i], handover);
    if (write(stopfd, &one, sizeof one) < 0) {
        /* an eventfd write of 1 cannot fail here */
    }
    int lost = 0;
    for (int i = 0; i < started; i++)
        lost += mc_worker_join(p->w[i]);
    if (lost)
        fprintf(stderr, "hrcached: %d connection%s could not be handed "
                "over: closed\n", lost, lost == 1 ? "" : "s");
}

/* Accept until a signal: 1 SIGTERM, 0 SIGINT, or -errno. */
static int wait_loop(struct pool *p, int ep, int sfd)
{
    for (;;) {
        struct epoll_event ev[16];
        int n = epoll_wait(ep, ev, 16, -1);
        if (n < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; i < n; i++) {
            if (ev[i].data.fd < 0) {        /* the signalfd: stop */
                struct signalfd_siginfo si = {0};
                if (read(sfd, &si, sizeof si) < 0)
                    si.ssi_signo = SIGTERM; /* it said readable */
                return si.ssi_signo == SIGTERM;
            }
            on_accept(p, ev[i].data.fd);
        }
    }
}

int mc_loop_run(struct mc_server *srvs, int n, const int *lfds, int nl)
{
    struct pool p = {.srvs = srvs, .n = n};
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    int r = 0, sfd = -1, ep = -1, stopfd = -1, started = 0;
    /* blocked before the workers start: they inherit the mask */
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        (sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 ||
        (ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        r = -errno;
        goto out;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = -1};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0) {
        r = -errno;
        goto out;
    }
    for (int i = 0; i < nl; i++) {
        ev.data.fd = lfds[i];
        if (epoll_ctl(ep, EPOLL_CTL_ADD, lfds[i], &ev) < 0) {
            r = -errno;
            goto out;
        }
    }
    if (!(p.w = calloc((size_t)n, sizeof *p.w))) {
        r = -ENOMEM;
        goto out;
    }
    for (int i = 0; i < n; i++) {
        srvs[i].conns = say_conns;
        srvs[i].conns_ctx = &p;
    }
    for (; started < n; started++)
        if ((r = mc_worker_start(&p.w[started], &srvs[started], stopfd)) < 0)
            goto out;
    take_handed(&p);
    int handover = 0;
    if ((r = wait_loop(&p, ep, sfd)) == 1) {
        handover = hr_handover_requested() == 1;
        r = 0;
    }
out:
    if (started)
        stop_workers(&p, stopfd, started, handover);
    if (r < 0)
        fprintf(stderr, "hrcached: event loop: %s\n", pmm_strerror(r));
    free(p.w);
    const int fds[] = {sfd, ep, stopfd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return r;
}
