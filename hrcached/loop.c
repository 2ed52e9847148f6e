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
 * Out of descriptors (EMFILE, ENFILE), a connection waiting in the
 * listening socket's queue would keep it readable, and the acceptor would
 * wake at once for ever.  It keeps one descriptor spare: given up, it
 * lets the waiting connection be accepted, told "ERROR Too many open
 * connections" and closed, as one over -c is; when even that fails, the
 * acceptor stops polling its listening sockets for PAUSE_MS and tries
 * again then.  A client is answered or closed, and no core spins.
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
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hotrestart/hr.h>
#include <hotrestart/pmm.h>

#include "listen.h"
#include "loop.h"
#include "worker.h"

#define PAUSE_MS 50           /* no descriptor left: accept again after */
#define EV_SIGNAL (-1)        /* epoll data of the signalfd */
#define EV_TIMER (-2)         /* ... and of the pause's timerfd */

struct pool {
    struct mc_server *srvs;
    struct mc_worker **w;
    int n;
    unsigned next;           /* the worker the next connection goes to */
    const int *lfds;         /* the listening sockets */
    int nl;
    int ep, timer;           /* the acceptor's epoll, the pause's timerfd */
    int spare;               /* held for a refusal when none is left, or -1 */
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

static void too_many(int fd)
{
    static const char msg[] = "ERROR Too many open connections\r\n";
    if (send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL) < 0) {
        /* nothing more to tell it */
    }
    close(fd);
}

/* Poll the listening sockets (on), or not for PAUSE_MS (off). */
static void listening(struct pool *p, int on)
{
    for (int i = 0; i < p->nl; i++) {
        struct epoll_event ev = {.events = on ? EPOLLIN : 0,
                                 .data.fd = p->lfds[i]};
        (void)epoll_ctl(p->ep, EPOLL_CTL_MOD, p->lfds[i], &ev);
    }
    struct itimerspec t = {.it_value.tv_nsec = on ? 0 : PAUSE_MS * 1000000L};
    (void)timerfd_settime(p->timer, 0, &t, NULL);
    if (on && p->spare < 0)
        p->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* No descriptor for the connection waiting on lfd: give up the spare
 * one, refuse the connection with it, take it back.  1 when the queue
 * may hold more, 0 when it is empty, -1 when it cannot be refused (no
 * spare): the caller pauses. */
static int refuse_waiting(struct pool *p, int lfd)
{
    if (p->spare < 0)
        return -1;
    close(p->spare);
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    int again = fd >= 0 ? 1 : errno == EMFILE || errno == ENFILE ? -1 : 0;
    if (fd >= 0)
        too_many(fd);
    p->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return again;
}

static void on_accept(struct pool *p, int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
            int r = refuse_waiting(p, lfd);
            if (r < 0)
                listening(p, 0);
            if (r <= 0)
                return;
            continue;
        }
        if (fd < 0)
            return;            /* EAGAIN, or a connection that went away */
        if (open_conns(p) >= p->srvs[0].max_conns) {
            too_many(fd);
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
    int lost = 0, unsettled = 0;
    for (int i = 0; i < started; i++)
        lost += mc_worker_join(p->w[i], &unsettled);
    const char *warn = getenv("HR_ACTOR") ? "<4>" : ""; /* sd-daemon */
    if (unsettled)
        fprintf(stderr, "%shrcached: %d connection%s did not reach a request "
                "boundary in %d s (a client reading no replies, or stopped "
                "inside a request): closed, not handed over\n", warn,
                unsettled, unsettled == 1 ? "" : "s", MC_SETTLE_S);
    if (lost)
        fprintf(stderr, "%shrcached: %d connection%s could not be handed "
                "over: closed\n", warn, lost, lost == 1 ? "" : "s");
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
            if (ev[i].data.fd == EV_TIMER) {    /* a pause has passed */
                uint64_t ticks;
                if (read(p->timer, &ticks, sizeof ticks) < 0) {
                    /* read by an earlier wake-up: nothing to take */
                }
                listening(p, 1);
                continue;
            }
            if (ev[i].data.fd == EV_SIGNAL) {   /* the signalfd: stop */
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
    struct pool p = {.srvs = srvs, .n = n, .lfds = lfds, .nl = nl,
                     .ep = -1, .timer = -1, .spare = -1};
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
        (stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
        (p.timer = timerfd_create(CLOCK_MONOTONIC,
                                  TFD_CLOEXEC | TFD_NONBLOCK)) < 0 ||
        (p.spare = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        r = -errno;
        goto out;
    }
    p.ep = ep;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = EV_SIGNAL};
    struct epoll_event tev = {.events = EPOLLIN, .data.fd = EV_TIMER};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, p.timer, &tev) < 0) {
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
    const int fds[] = {sfd, ep, stopfd, p.timer, p.spare};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return r;
}
