/* SPDX-License-Identifier: MIT */
/*
 * mcload.c - a load generator for memcached-protocol servers (hrcached,
 * memcached) and redis: N connections over T threads (one epoll loop
 * each), pipelined batches of random gets (multi-gets of K keys) and sets
 * at a ratio, for a bounded time; prints ops/s (a multi-get of K keys is K
 * ops), the hit ratio, latency percentiles, optionally a per-100 ms
 * series, and the time the server takes to come back to 90 % of its
 * throughput after a kill or restart that mcload itself fires mid-run.
 *
 * The positional form, mcload PORT NKEYS SECONDS [CONNS [KEYS [DEPTH]]]
 * (4 connections, 16 keys a get, 4 deep by default), prints only each
 * 100 ms window's start (CLOCK_MONOTONIC, ms) and the values received in
 * it, for a script that reads the series itself.
 *
 * Seeded: connection i draws from seed + i, so a run's command stream
 * replays.  Bounded: every run ends at its duration (a fill at 600 s).
 * Loopback only: the server is given by address and nothing is checked,
 * but bench/ points it at 127.0.0.1 or a Unix socket.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "mcload.h"
#include "mcload_report.h"

static struct mcl_opts opt = {
    .host = "127.0.0.1", .port = "11211", .threads = 2, .conns = 16,
    .depth = 8, .keys = 1, .set_ratio = 0.1, .duration = 5, .nkeys = 10000,
    .value_size = 100, .seed = 1};
static uint64_t start_ns, end_ns;
static uint64_t kill_ns; /* when the kill fired (atomic), or 0 */

struct worker {
    pthread_t tid;
    int first, n; /* connections first .. first+n-1 of the run */
    struct mcl_tally t;
    uint64_t fill_next[64], fill_end[64];
};

static void conn_close(struct mcl_conn *c, struct mcl_tally *t)
{
    close(c->fd);
    c->fd = -1;
    c->parked = 0;
    t->reconnects++;
}

/* Write what is pending; epoll is told to wake for writability only while
 * something is. */
static int flush_out(int ep, struct mcl_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0 && errno == EAGAIN)
            break;
        if (w <= 0)
            return -1;
        c->out_off += (size_t)w;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (c->out_off < c->out_len)
        ev.events |= EPOLLOUT;
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

#define PACE_CATCHUP_NS 2000000u /* schedule a paced connection may owe */

/* The next batch, or 0 when a fill connection has set its whole range.
 * Paced, it moves the connection's due time on by the batch's ops. */
static int next_batch(int ep, struct worker *w, struct mcl_conn *c, int i)
{
    int n = mcl_build(&opt, c, opt.fill ? &w->fill_next[i] : NULL,
                      w->fill_end[i]);
    if (n == 0)
        return 0;
    c->sent_ns = mcl_now();
    c->parked = 0;
    if (opt.rate > 0) {
        uint64_t ops = 0;
        for (int k = 0; k < c->ncmds; k++)
            ops += c->cmds[k].nkeys ? (uint64_t)c->cmds[k].nkeys : 1;
        if (c->due_ns + PACE_CATCHUP_NS < c->sent_ns)
            c->due_ns = c->sent_ns - PACE_CATCHUP_NS;
        c->due_ns += (uint64_t)((double)ops * 1e9 * opt.conns / opt.rate);
    }
    return flush_out(ep, c) < 0 ? -1 : 1;
}

/* A batch answered: the next one now, or parked until it is due. */
static int answered(int ep, struct worker *w, struct mcl_conn *c, int i,
                    uint64_t now)
{
    if (opt.rate > 0 && now < c->due_ns) {
        c->parked = 1;
        return 1;
    }
    return next_batch(ep, w, c, i);
}

/* Send c's next batch now; a fill connection with nothing left ends, one
 * that cannot send is closed (and dialled again). */
static void send_batch(int ep, struct worker *w, struct mcl_conn *c, int i,
                       int *live)
{
    int r = next_batch(ep, w, c, i);
    if (r == 0) {
        c->ncmds = -1, (*live)--;
        close(c->fd);
        c->fd = -1;
    } else if (r < 0) {
        conn_close(c, &w->t);
    }
}

/* The epoll timeout: 1 ms, or less when a parked connection is due sooner. */
static struct timespec wait_for(const struct mcl_conn *cs, int n,
                                uint64_t now)
{
    uint64_t soon = now + 1000000u;
    for (int i = 0; i < n; i++)
        if (cs[i].parked && cs[i].fd >= 0 && cs[i].due_ns < soon)
            soon = cs[i].due_ns > now ? cs[i].due_ns : now;
    return (struct timespec){.tv_sec = 0, .tv_nsec = (long)(soon - now)};
}

static int read_in(struct mcl_conn *c)
{
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
    } else if (c->in_cap - c->in_len < 65536) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (r < 0 && errno == EAGAIN)
        return 0;
    if (r <= 0)
        return -1;
    c->in_len += (size_t)r;
    return 1;
}

static void *run_worker(void *arg)
{
    struct worker *w = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC), live = w->n;
    struct mcl_conn *cs = calloc((size_t)w->n, sizeof *cs);
    size_t per_cmd = (size_t)opt.keys * 48 + opt.value_size + 96;
    for (int i = 0; i < w->n; i++) {
        struct mcl_conn *c = &cs[i];
        c->fd = -1;
        c->rng = opt.seed + (uint64_t)(w->first + i) * 0x9e3779b97f4a7c15ull;
        c->rng |= 1;
        c->out_cap = per_cmd * (size_t)opt.depth;
        c->in_cap = opt.value_size + (256 << 10);
        c->out = malloc(c->out_cap);
        c->in = malloc(c->in_cap);
        c->cmds = calloc((size_t)opt.depth, sizeof *c->cmds);
    }
    uint64_t last_dial = 0;
    struct epoll_event evs[64];
    while (live > 0 && mcl_now() < end_ns) {
        uint64_t now = mcl_now();
        if (now - last_dial > 1000000) { /* dial the closed ones each ms */
            last_dial = now;
            for (int i = 0; i < w->n; i++) {
                struct mcl_conn *c = &cs[i];
                if (c->fd >= 0 || c->ncmds < 0)
                    continue;
                if ((c->fd = mcl_dial(&opt)) < 0) {
                    c->fd = -1;
                    continue;
                }
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
                c->dialed_ns = mcl_now();
                c->in_len = c->in_off = 0;
                if (opt.fill) /* a cut fill batch is sent again */
                    w->fill_next[i] -= (uint64_t)(c->ncmds - c->done);
                send_batch(ep, w, c, i, &live);
            }
        }
        struct timespec ts = wait_for(cs, w->n, now);
        int n = epoll_pwait2(ep, evs, 64, &ts, NULL);
        now = mcl_now();
        for (int i = 0; i < w->n; i++) { /* paced batches now due */
            struct mcl_conn *c = &cs[i];
            if (!c->parked || c->fd < 0 || now < c->due_ns)
                continue;
            send_batch(ep, w, c, i, &live);
        }
        for (int e = 0; e < n; e++) {
            struct mcl_conn *c = evs[e].data.ptr;
            int i = (int)(c - cs), r = 0;
            if (evs[e].events & EPOLLOUT)
                r = flush_out(ep, c);
            if (r == 0 && (evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
                while ((r = read_in(c)) > 0 &&
                       (r = mcl_parse(&opt, c, &w->t, start_ns, now)) == 0)
                    ;
                uint64_t k = __atomic_load_n(&kill_ns, __ATOMIC_RELAXED);
                if (c->good && k && c->dialed_ns > k && !w->t.first_new_ns)
                    w->t.first_new_ns = now;
                if (r == 1) {
                    r = answered(ep, w, c, i, now);
                    if (r == 0) {
                        c->ncmds = -1, live--;
                        close(c->fd);
                        c->fd = -1;
                        continue;
                    }
                }
            }
            if (r < 0)
                conn_close(c, &w->t);
        }
    }
    for (int i = 0; i < w->n; i++) {
        if (cs[i].fd >= 0)
            close(cs[i].fd);
        free(cs[i].out);
        free(cs[i].in);
        free(cs[i].cmds);
    }
    free(cs);
    close(ep);
    return NULL;
}

/* At kill_at seconds into the run: SIGKILL kill_pid, or run kill_cmd with
 * /bin/sh; the time of that moment is the kill's (kill_ns). */
static void fire(double kill_at, pid_t kill_pid, const char *kill_cmd)
{
    uint64_t at = start_ns + (uint64_t)(kill_at * 1e9);
    while (mcl_now() < at)
        usleep(200);
    uint64_t t = mcl_now();
    __atomic_store_n(&kill_ns, t, __ATOMIC_RELAXED);
    if (kill_pid > 0) {
        kill(kill_pid, SIGKILL);
    } else {
        extern char **environ;
        pid_t pid;
        char *argv[] = {"sh", "-c", (char *)kill_cmd, NULL};
        if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) != 0)
            fprintf(stderr, "mcload: cannot run /bin/sh\n");
    }
}

static void usage(int code)
{
    fputs(
        "usage: mcload [OPTION]...\n"
        "       mcload PORT NKEYS SECONDS [CONNS [KEYS [DEPTH]]]  (windows only)\n"
        "  -s HOST:PORT   server (default 127.0.0.1:11211); -u PATH: Unix socket\n"
        "  --redis        speak RESP (GET/MGET/SET) instead of memcached text\n"
        "  -T N           client threads (2)        -c N  connections (16)\n"
        "  -d N           commands in flight per connection (8)\n"
        "  -k N           keys per get (1)          -r F  share of sets (0.1)\n"
        "  -n N           key space k0..k<N-1> (10000)\n"
        "  -V BYTES       value size (100)          -t S  duration (5)\n"
        "  --seed N       first seed (1)\n"
        "  --fill         set every key of the key space once, then exit\n"
        "  --rate OPS     pace the run at OPS ops/s over all connections\n"
        "                 (default: each batch as soon as the last is answered)\n"
        "  --series       print ops/s in each 100 ms window\n"
        "  --kill-at S    at S seconds: SIGKILL --kill-pid PID, or run\n"
        "                 --kill-cmd CMD with sh; then report the time until a\n"
        "                 100 ms window reaches 90 % of the 2 s before it\n"
        "  --stat NAME    print the server's stat NAME (memcached) and exit\n"
        "  --row NAME --system SYS [--ours X] [--note TEXT]\n"
        "                 also report the main figure as a bench/run row\n"
        "  --not-run WHY  only print that row (unit ms) as not run, and why\n"
        "  --figures LIST only print that row (ops/s) from the figures of\n"
        "                 several runs: their median, the lowest beside it\n"
        "  --ms           with --figures: the figures are times (ms); the\n"
        "                 highest goes beside the median\n",
        code ? stderr : stdout);
    exit(code);
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"redis", no_argument, 0, 'R'},  {"seed", required_argument, 0, 'S'},
        {"fill", no_argument, 0, 'F'},   {"series", no_argument, 0, 'A'},
        {"rate", required_argument, 0, 'L'},
        {"kill-at", required_argument, 0, 'K'},
        {"kill-pid", required_argument, 0, 'P'},
        {"kill-cmd", required_argument, 0, 'C'},
        {"stat", required_argument, 0, 'G'},
        {"row", required_argument, 0, 'N'},
        {"system", required_argument, 0, 'Y'},
        {"ours", required_argument, 0, 'O'},
        {"note", required_argument, 0, 'X'},
        {"not-run", required_argument, 0, 'Z'},
        {"figures", required_argument, 0, 'W'},
        {"ms", no_argument, 0, 'M'},
        {"help", no_argument, 0, 'h'},   {0, 0, 0, 0}};
    struct mcl_report rep = {0};
    double kill_at = 0;
    pid_t kill_pid = 0;
    const char *kill_cmd = NULL, *stat = NULL, *not_run = NULL;
    const char *figures = NULL;
    static char hostbuf[256];
    int c;
    while ((c = getopt_long(argc, argv, "s:u:T:c:d:k:r:n:V:t:h", longs,
                            NULL)) != -1) {
        switch (c) {
        case 's': {
            char *colon = strrchr(optarg, ':');
            if (!colon || strlen(optarg) >= sizeof hostbuf)
                usage(2);
            memcpy(hostbuf, optarg, (size_t)(colon - optarg));
            opt.host = hostbuf;
            opt.port = colon + 1;
            break;
        }
        case 'u': opt.unix_path = optarg; break;
        case 'R': opt.proto = PROTO_REDIS; break;
        case 'T': opt.threads = atoi(optarg); break;
        case 'c': opt.conns = atoi(optarg); break;
        case 'd': opt.depth = atoi(optarg); break;
        case 'k': opt.keys = atoi(optarg); break;
        case 'r': opt.set_ratio = atof(optarg); break;
        case 'n': opt.nkeys = strtoull(optarg, NULL, 10); break;
        case 'V': opt.value_size = strtoull(optarg, NULL, 10); break;
        case 't': opt.duration = atof(optarg); break;
        case 'S': opt.seed = strtoull(optarg, NULL, 10); break;
        case 'F': opt.fill = 1; break;
        case 'A': rep.series = 1; break;
        case 'L': opt.rate = atof(optarg); break;
        case 'K': kill_at = atof(optarg); break;
        case 'P': kill_pid = atoi(optarg); break;
        case 'C': kill_cmd = optarg; break;
        case 'G': stat = optarg; break;
        case 'N': rep.row = optarg; break;
        case 'Y': rep.system = optarg; break;
        case 'O': rep.ours = atof(optarg); break;
        case 'X': rep.note = optarg; break;
        case 'Z': not_run = optarg; break;
        case 'W': figures = optarg; break;
        case 'M': rep.ms = 1; break;
        case 'h': usage(0); break;
        default: usage(2);
        }
    }
    if (optind == 1 && argc >= 4 && argc <= 7 && strspn(argv[1], "0123456789")
        == strlen(argv[1])) { /* PORT NKEYS SECONDS [CONNS [KEYS [DEPTH]]] */
        opt.windows = 1;
        opt.port = argv[1];
        opt.nkeys = strtoull(argv[2], NULL, 10);
        opt.duration = atof(argv[3]);
        opt.conns = argc > 4 ? atoi(argv[4]) : 4;
        opt.keys = argc > 5 ? atoi(argv[5]) : 16;
        opt.depth = argc > 6 ? atoi(argv[6]) : 4;
        opt.threads = opt.conns > 1 ? 2 : 1;
        opt.set_ratio = 0;
        optind = argc;
    }
    if (optind < argc || opt.threads < 1 || opt.conns < opt.threads ||
        opt.conns > opt.threads * 64 || opt.depth < 1 || opt.depth > 4096 ||
        opt.keys < 1 || opt.keys > 1024 || opt.nkeys < 1 ||
        opt.value_size < 1 || opt.value_size > (64u << 20) ||
        opt.duration <= 0 || opt.duration > 3600 || opt.set_ratio < 0 ||
        opt.set_ratio > 1 || opt.rate < 0 || opt.rate > 1e9 || (kill_at > 0 && !kill_pid && !kill_cmd) ||
        (rep.row && !rep.system)) {
        fprintf(stderr, "mcload: bad or missing option (see mcload --help)\n");
        return 2;
    }
    if (stat)
        return mcl_print_stat(&opt, stat);
    if (not_run && rep.row)
        return mcl_not_run(&rep, not_run);
    if (figures && rep.row)
        return mcl_rounds_row(&rep, figures);
    if (opt.fill)
        opt.duration = 600;
    struct worker *ws = calloc((size_t)opt.threads, sizeof *ws);
    uint64_t ms_cap = (uint64_t)(opt.duration * 1000) + 1000;
    start_ns = mcl_now();
    end_ns = start_ns + (uint64_t)(opt.duration * 1e9);
    for (int i = 0, first = 0; i < opt.threads; i++) {
        struct worker *w = &ws[i];
        w->first = first;
        w->n = opt.conns / opt.threads + (i < opt.conns % opt.threads);
        first += w->n;
        for (int j = 0; j < w->n; j++) {
            uint64_t k = (uint64_t)(w->first + j);
            w->fill_next[j] = opt.nkeys * k / (uint64_t)opt.conns;
            w->fill_end[j] = opt.nkeys * (k + 1) / (uint64_t)opt.conns;
        }
        w->t.ms_cap = ms_cap;
        w->t.per_ms = calloc(ms_cap, sizeof *w->t.per_ms);
        pthread_create(&w->tid, NULL, run_worker, w);
    }
    if (kill_at > 0)
        fire(kill_at, kill_pid, kill_cmd);
    struct mcl_tally all = {.ms_cap = ms_cap};
    all.per_ms = calloc(ms_cap, sizeof *all.per_ms);
    for (int i = 0; i < opt.threads; i++) {
        pthread_join(ws[i].tid, NULL);
        mcl_merge(&all, &ws[i].t);
        free(ws[i].t.per_ms);
    }
    free(ws);
    rep.elapsed_s = opt.fill ? (double)(mcl_now() - start_ns) / 1e9
                             : opt.duration;
    rep.start_ns = start_ns;
    rep.kill_ms = kill_ns ? (double)(kill_ns - start_ns) / 1e6 : -1;
    rep.first_ms = all.first_new_ns ? (double)(all.first_new_ns - kill_ns) /
                                          1e6 : -1;
    int r = mcl_report(&opt, &all, &rep);
    free(all.per_ms);
    return r;
}
