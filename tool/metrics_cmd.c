/* SPDX-License-Identifier: MIT */
/*
 * metrics_cmd.c - hr metrics: the controller's counters in the Prometheus
 * text format, printed, or served over HTTP with --listen.
 *
 * The server is the smallest that Prometheus scrapes: any GET answered
 * with the text, no file and no other page, no state (each scrape asks the
 * controller).  One thread and poll(): every client is served at once.
 *
 * Invariants of the server:
 *  - no client waits on another: sockets are non-blocking, and a client
 *    that sends slowly or reads slowly holds only its own slot;
 *  - each client has a deadline: HEAD_MS from its accept for its request
 *    head, then SEND_MS for taking the answer; past it, it is dropped;
 *  - at most CLIENTS are held: a new one takes the slot of the one whose
 *    deadline comes first, so idle connections, however many, cannot keep
 *    a scrape out, and descriptors stay bounded;
 *  - accepts are taken a batch at a time between reads, so a scrape that
 *    sends its request just after connecting is read before a flood of
 *    connections behind it could push it out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "hr.h"

#define METRICS_CAP (256 * 1024)
#define TEXT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static const char metrics_usage[] =
    "The site's counters in the Prometheus text exposition format: restarts\n"
    "per group and of the site, deaths by cause, the time from death to\n"
    "ready as a histogram, bank bytes and blocks, actors and groups by state.\n"
    "Needs the site's controller running.\n"
    "--listen [HOST:]PORT  serve them over HTTP instead (any path), until\n"
    "                      killed; HOST defaults to 127.0.0.1 ([::] or\n"
    "                      0.0.0.0 for every address).\n";

/* A listening TCP socket on [HOST:]PORT, or exit 2 or 1 saying why. */
static int listen_tcp(const char *spec)
{
    char host[256] = "127.0.0.1";
    const char *port = spec, *colon = strrchr(spec, ':');
    if (colon) {
        size_t n = (size_t)(colon - spec);
        if (n >= sizeof host)
            hr_die(HR_EXIT_USAGE, "metrics: --listen '%s': host too long", spec);
        if (n > 0) {
            memcpy(host, spec, n);
            host[n] = 0;
        }
        port = colon + 1;
        if (host[0] == '[' && n > 1 && host[n - 1] == ']') { /* [v6]:port */
            memmove(host, host + 1, n - 2);
            host[n - 2] = 0;
        }
    }
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM}, *ai;
    size_t digits = strspn(port, "0123456789"); /* getaddrinfo wraps 70000 */
    if (!digits || digits > 5 || port[digits] || atoi(port) > 65535)
        hr_die(HR_EXIT_USAGE, "metrics: --listen '%s': the port must be 0 to "
               "65535, in decimal", spec);
    int r = getaddrinfo(host, port, &hints, &ai);
    if (r != 0)
        hr_die(HR_EXIT_USAGE, "metrics: --listen '%s': %s", spec, gai_strerror(r));
    int s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0),
        one = 1; /* non-blocking: take() accepts until none is waiting */
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(s, ai->ai_addr, ai->ai_addrlen) < 0 || listen(s, SOMAXCONN) < 0)
        hr_die(HR_EXIT_FAIL, "metrics: --listen '%s': %s", spec,
               pmm_strerror(-errno));
    freeaddrinfo(ai);
    return s;
}

#define CLIENTS 64     /* held at once */
#define ACCEPT_BATCH 8 /* accepts between two rounds of reads */
#define HEAD_MS 2000   /* from accept to the request's blank line */
#define SEND_MS 2000   /* from the request to the answer's last byte */

/* One connection: reading its request, then sending its answer. */
struct client {
    int fd;             /* -1: a free slot */
    uint64_t deadline;  /* CLOCK_MONOTONIC ms: dropped after it */
    size_t got;         /* bytes of req */
    char req[2048];
    char *out;          /* the answer (NULL while reading) */
    size_t len, sent;
};

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void drop(struct client *c)
{
    close(c->fd);
    free(c->out);
    c->fd = -1;
    c->out = NULL;
}

/* The answer to c's request (503 when the controller does not answer,
 * 405 for what is neither GET nor HEAD), or the client dropped without memory. */
static void answer(struct client *c, const char *dir, char *buf)
{
    const char *status = "200 OK", *allow = "";
    int r = 0, head = strncmp(c->req, "HEAD ", 5) == 0;
    if (strncmp(c->req, "GET ", 4) != 0 && !head) {
        status = "405 Method Not Allowed";
        allow = "Allow: GET, HEAD\r\n"; /* a 405 must say (RFC 9110) */
        snprintf(buf, METRICS_CAP, "only GET and HEAD\n");
    } else if ((r = hr_metrics(dir, buf, METRICS_CAP)) < 0) {
        status = "503 Service Unavailable";
        snprintf(buf, METRICS_CAP, "hr metrics: %s\n", pmm_strerror(r));
    }
    size_t len = strlen(buf);
    c->out = malloc(len + 256);
    if (!c->out) {
        drop(c);
        return;
    }
    int n = snprintf(c->out, 256, "HTTP/1.0 %s\r\n%sContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, allow, TEXT_TYPE, len);
    if (!head)
        memcpy(c->out + n, buf, len);
    c->len = (size_t)n + (head ? 0 : len);
    c->sent = 0;
    c->deadline = now_ms() + SEND_MS;
}

/* What c can do now without waiting: read, answer, send; it is dropped
 * when done, gone or failing. */
static void step(struct client *c, const char *dir, char *buf)
{
    while (!c->out) {
        ssize_t k = recv(c->fd, c->req + c->got, sizeof c->req - 1 - c->got,
                         MSG_DONTWAIT);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (k <= 0) {
            drop(c);
            return;
        }
        c->got += (size_t)k;
        c->req[c->got] = 0;
        if (memmem(c->req, c->got, "\r\n\r\n", 4) ||
            c->got == sizeof c->req - 1) /* a head that long: answer it */
            answer(c, dir, buf);
        if (c->fd < 0)
            return;
    }
    while (c->sent < c->len) {
        ssize_t k = send(c->fd, c->out + c->sent, c->len - c->sent,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (k <= 0)
            break; /* the client went: its loss */
        c->sent += (size_t)k;
    }
    drop(c);
}

/* A slot for a new client: a free one, else the one due first, dropped. */
static struct client *slot(struct client *cl)
{
    struct client *due = &cl[0];
    for (int i = 0; i < CLIENTS; i++) {
        if (cl[i].fd < 0)
            return &cl[i];
        if (cl[i].deadline < due->deadline)
            due = &cl[i];
    }
    drop(due);
    return due;
}

/* Take up to ACCEPT_BATCH new clients and read what they sent; -1 when
 * out of descriptors (the caller waits before it accepts again). */
static int take(int s, struct client *cl, const char *dir, char *buf)
{
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int fd = accept4(s, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            int e = errno;
            if (e == EMFILE || e == ENFILE)
                return -1;
            if (e == EAGAIN || e == EWOULDBLOCK)
                return 0;
            if (e == EINTR || e == ECONNABORTED || e == EPROTO || e == ENOBUFS ||
                e == ENOMEM)
                continue;
            hr_die(HR_EXIT_FAIL, "metrics: accept: %s", pmm_strerror(-e));
        }
        struct client *c = slot(cl);
        *c = (struct client){.fd = fd, .deadline = now_ms() + HEAD_MS};
        step(c, dir, buf); /* its request may be there already */
    }
    return 0;
}

static int serve(const char *dir, const char *spec, char *buf)
{
    static struct client cl[CLIENTS];
    struct pollfd p[CLIENTS + 1];
    int s = listen_tcp(spec);
    uint64_t paused = 0; /* out of descriptors: no accept until then */
    for (int i = 0; i < CLIENTS; i++)
        cl[i].fd = -1;
    for (;;) {
        uint64_t now = now_ms(), next = now + 1000;
        if (paused && paused < next)
            next = paused;
        p[0] = (struct pollfd){.fd = now >= paused ? s : -1, .events = POLLIN};
        for (int i = 0; i < CLIENTS; i++) {
            if (cl[i].fd >= 0 && cl[i].deadline <= now)
                drop(&cl[i]); /* too slow: its slot goes to others */
            p[i + 1] = (struct pollfd){.fd = cl[i].fd,
                                       .events = cl[i].out ? POLLOUT : POLLIN};
            if (cl[i].fd >= 0 && cl[i].deadline < next)
                next = cl[i].deadline;
        }
        if (poll(p, CLIENTS + 1, (int)(next - now)) < 0 && errno != EINTR)
            hr_die(HR_EXIT_FAIL, "metrics: poll: %s", pmm_strerror(-errno));
        for (int i = 0; i < CLIENTS; i++)
            if (cl[i].fd >= 0 && p[i + 1].revents)
                step(&cl[i], dir, buf);
        if (p[0].revents && take(s, cl, dir, buf) < 0)
            paused = now_ms() + 100; /* a descriptor may come free */
    }
}

enum { OPT_LISTEN = HR_OPT_OWN };
const struct hr_optdef hr_metrics_options[] = {
    {"listen", OPT_LISTEN, HR_ARG_TEXT, "[HOST:]PORT", NULL, NULL},
    {0},
};

int hr_cmd_metrics(int argc, char **argv, const struct hr_opts *go)
{
    struct hr_opts o = *go;
    struct hr_cmdline cl = {.cmd = "metrics", .usage = metrics_usage,
                            .table = hr_command("metrics"), .o = &o};
    const char *listen_at = NULL;
    while (hr_getopt(argc, argv, &cl) == OPT_LISTEN)
        listen_at = optarg;
    if (optind < argc)
        hr_die(HR_EXIT_USAGE, "metrics: unexpected argument '%s'",
               argv[optind]);
    char dir[4096], *buf = malloc(METRICS_CAP);
    if (!buf)
        hr_die(HR_EXIT_FAIL, "metrics: out of memory");
    hr_site_existing(&o, dir, sizeof dir, "metrics");
    if (listen_at)
        return serve(dir, listen_at, buf);
    int r = hr_metrics(dir, buf, METRICS_CAP);
    if (r < 0)
        hr_die_ctl("metrics", r);
    fputs(buf, stdout);
    free(buf);
    return HR_EXIT_OK;
}
