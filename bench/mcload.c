/* SPDX-License-Identifier: MIT */
/*
 * mcload.c - a memcached load generator that is not the bottleneck (issue
 * 23, item 4): CONNS connections, each with DEPTH pipelined multi-gets of
 * KEYS random keys of k0..k(NKEYS-1) in flight, for SECONDS; every 100 ms
 * it prints the window's start (CLOCK_MONOTONIC, ms) and the values it
 * received in it.  A connection that fails (the server was killed) is
 * made again at once, and again every millisecond until it succeeds, so
 * the windows show the server going and coming back.
 *
 *   mcload PORT NKEYS SECONDS [CONNS [KEYS [DEPTH]]]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 64
#define BUF (1 << 20)

struct conn {
    int fd;
    int inflight;       /* multi-gets sent, END not yet read */
    size_t have;        /* bytes in buf */
    size_t skip;        /* value bytes (and CRLF) still to pass over */
    char *buf;
};

static int port, nkeys, nk = 16, depth = 4;
static unsigned long long values; /* received in the current window */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int dial(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int send_get(struct conn *c)
{
    char req[4096];
    int n = snprintf(req, sizeof req, "get");
    for (int i = 0; i < nk; i++)
        n += snprintf(req + n, sizeof req - (size_t)n, " k%d", rand() % nkeys);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    for (int off = 0; off < n;) {
        ssize_t w = send(c->fd, req + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        off += (int)w;
    }
    c->inflight++;
    return 0;
}

static void drop(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->inflight = 0;
    c->have = c->skip = 0;
}

static int refill(struct conn *c)
{
    while (c->inflight < depth)
        if (send_get(c) < 0)
            return -1;
    return 0;
}

/* Read what is there and count the values; 0, or -1 when the connection
 * is gone. */
static int take(struct conn *c)
{
    ssize_t r = read(c->fd, c->buf + c->have, BUF - c->have);
    if (r <= 0)
        return -1;
    c->have += (size_t)r;
    size_t at = 0;
    for (;;) {
        if (c->skip) {
            size_t s = c->have - at < c->skip ? c->have - at : c->skip;
            at += s;
            c->skip -= s;
            if (c->skip)
                break;
        }
        char *nl = memchr(c->buf + at, '\n', c->have - at);
        if (!nl)
            break;
        size_t len = (size_t)(nl - (c->buf + at)) + 1;
        unsigned long long bytes;
        if (strncmp(c->buf + at, "VALUE ", 6) == 0 &&
            sscanf(c->buf + at, "VALUE %*s %*u %llu", &bytes) == 1) {
            values++;
            c->skip = bytes + 2;
        } else if (strncmp(c->buf + at, "END", 3) == 0) {
            c->inflight--;
        } else {
            return -1; /* an error line: start afresh */
        }
        at += len;
    }
    memmove(c->buf, c->buf + at, c->have - at);
    c->have -= at;
    return refill(c);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: mcload PORT NKEYS SECONDS [CONNS [KEYS [DEPTH]]]\n");
        return 2;
    }
    port = atoi(argv[1]);
    nkeys = atoi(argv[2]);
    double secs = atof(argv[3]);
    int nc = argc > 4 ? atoi(argv[4]) : 4;
    if (argc > 5)
        nk = atoi(argv[5]);
    if (argc > 6)
        depth = atoi(argv[6]);
    if (nkeys < 1 || nc < 1 || nc > MAXC || nk < 1 || nk > 200 || depth < 1)
        return 2;
    struct conn cs[MAXC];
    struct pollfd pf[MAXC];
    for (int i = 0; i < nc; i++) {
        cs[i] = (struct conn){.fd = -1, .buf = malloc(BUF)};
        if (!cs[i].buf)
            return 1;
    }
    srand((unsigned)getpid());
    double t0 = now_ms(), end = t0 + secs * 1e3, win = t0, last_dial = 0;
    while (now_ms() < end) {
        double t = now_ms();
        if (t - win >= 100) {
            printf("%.1f %llu\n", win, values);
            values = 0;
            win += 100;
        }
        int down = 0;
        for (int i = 0; i < nc; i++)
            down += cs[i].fd < 0;
        if (down && t - last_dial >= 1) { /* the server is back? */
            last_dial = t;
            for (int i = 0; i < nc; i++)
                if (cs[i].fd < 0 && (cs[i].fd = dial()) >= 0 && refill(&cs[i]) < 0)
                    drop(&cs[i]);
        }
        for (int i = 0; i < nc; i++)
            pf[i] = (struct pollfd){.fd = cs[i].fd, .events = POLLIN};
        if (poll(pf, (nfds_t)nc, 1) < 0 && errno != EINTR)
            return 1;
        for (int i = 0; i < nc; i++)
            if (cs[i].fd >= 0 && (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
                take(&cs[i]) < 0)
                drop(&cs[i]);
    }
    printf("%.1f %llu\n", win, values);
    return 0;
}
