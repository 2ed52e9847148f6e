/* SPDX-License-Identifier: MIT */
/*
 * metrics_cmd.c - hr metrics: the controller's counters in the Prometheus
 * text format, printed, or served over HTTP with --listen.
 *
 * The server is the smallest that Prometheus scrapes: one connection at a
 * time, any GET answered with the text, a client that says nothing for
 * two seconds dropped.  It serves no file and no other page, and holds no
 * state: each scrape asks the controller.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "hr.h"

#define METRICS_CAP (256 * 1024)
#define TEXT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static const char metrics_usage[] =
    "usage: hr metrics [--listen [HOST:]PORT]\n"
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
    int r = getaddrinfo(host, port, &hints, &ai);
    if (r != 0 || !*port)
        hr_die(HR_EXIT_USAGE, "metrics: --listen '%s': %s", spec,
               r ? gai_strerror(r) : "no port");
    int s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(s, ai->ai_addr, ai->ai_addrlen) < 0 || listen(s, 16) < 0)
        hr_die(HR_EXIT_FAIL, "metrics: --listen '%s': %s", spec,
               strerror(errno));
    freeaddrinfo(ai);
    return s;
}

static void send_all(int c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(c, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return; /* the client went: its loss */
        p += k;
        n -= (size_t)k;
    }
}

/* One scrape: read the request's head, answer with the text (503 when
 * the controller does not answer, 405 for what is not a GET). */
static void serve_one(int c, const char *dir, char *buf)
{
    char req[2048], head[256];
    size_t got = 0;
    /* one client at a time: each gets 2 s in all to send its head (a byte
     * now and then does not keep the others out) and 2 s a send */
    struct timeval tv = {.tv_sec = 2};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    time_t until = time(NULL) + 2;
    while (got < sizeof req - 1 && !memmem(req, got, "\r\n\r\n", 4)) {
        ssize_t k = recv(c, req + got, sizeof req - 1 - got, 0);
        if (k <= 0 || time(NULL) > until)
            return;
        got += (size_t)k;
    }
    const char *status = "200 OK";
    int r = 0;
    if (strncmp(req, "GET ", 4) != 0 && strncmp(req, "HEAD ", 5) != 0) {
        status = "405 Method Not Allowed";
        snprintf(buf, METRICS_CAP, "only GET\n");
    } else if ((r = hr_metrics(dir, buf, METRICS_CAP)) < 0) {
        status = "503 Service Unavailable";
        snprintf(buf, METRICS_CAP, "hr metrics: %s\n", strerror(-r));
    }
    size_t len = strlen(buf);
    int n = snprintf(head, sizeof head, "HTTP/1.0 %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, TEXT_TYPE, len);
    send_all(c, head, (size_t)n);
    if (strncmp(req, "HEAD ", 5) != 0)
        send_all(c, buf, len);
}

static int serve(const char *dir, const char *spec, char *buf)
{
    int s = listen_tcp(spec);
    for (;;) {
        int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            int e = errno;
            if (e == EMFILE || e == ENFILE)
                sleep(1); /* not a spin: a descriptor may come free */
            if (e == EINTR || e == ECONNABORTED || e == EMFILE || e == ENFILE)
                continue;
            hr_die(HR_EXIT_FAIL, "metrics: accept: %s", strerror(errno));
        }
        serve_one(c, dir, buf);
        close(c);
    }
}

int hr_cmd_metrics(int argc, char **argv, const struct hr_opts *go)
{
    enum { OPT_LISTEN = HR_OPT_OWN };
    static const struct option longs[] = {
        {"listen", required_argument, NULL, OPT_LISTEN}, HR_OPTS_COMMON};
    struct hr_opts o = *go;
    struct hr_cmdline cl = {.cmd = "metrics", .usage = metrics_usage,
                            .shorts = "", .longs = longs, .o = &o};
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
