/* SPDX-License-Identifier: MIT */
/*
 * mcload_proto.c - the load generator's wire: dialling, building a batch
 * of memcached text (get/set) or redis RESP (GET/MGET/SET) commands, and
 * reading their replies element by element as they arrive.
 *
 * Invariants: a reply is counted only when it is whole; a VALUE or bulk is
 * consumed only when all its bytes are in (the input buffer holds at least
 * one value plus its header line); keys are "k<decimal>", the same keys
 * the fill writes, so a filled key space reads back as hits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mcload.h"

uint64_t mcl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: seeded per connection, so a run's key stream replays. */
uint64_t mcl_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ull;
}

int mcl_dial(const struct mcl_opts *o)
{
    int fd;
    if (o->unix_path) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (strlen(o->unix_path) >= sizeof a.sun_path)
            return -ENAMETOOLONG;
        strcpy(a.sun_path, o->unix_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
    } else {
        struct addrinfo hint = {.ai_family = AF_UNSPEC,
                                .ai_socktype = SOCK_STREAM}, *ai;
        int r = getaddrinfo(o->host, o->port, &hint, &ai);
        if (r != 0)
            return -EHOSTUNREACH;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            int e = -errno;
            if (fd >= 0)
                close(fd);
            freeaddrinfo(ai);
            return e;
        }
        freeaddrinfo(ai);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static const char *value_bytes(size_t n)
{
    static char *v;
    static size_t len;
    if (len < n) { /* first called before the threads start */
        uint64_t rng = 0x2545f4914f6cdd1dull;
        v = realloc(v, n);
        for (size_t i = 0; i < n; i++) /* letters that do not compress */
            v[i] = (char)('a' + mcl_rand(&rng) % 26);
        len = n;
    }
    return v;
}

static void put(struct mcl_conn *c, const void *p, size_t n)
{
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static void putf(struct mcl_conn *c, const char *fmt, unsigned long long a,
                 unsigned long long b)
{
    c->out_len += (size_t)snprintf(c->out + c->out_len,
                                   c->out_cap - c->out_len, fmt, a, b);
}

static void put_set(const struct mcl_opts *o, struct mcl_conn *c, uint64_t k)
{
    const char *v = value_bytes(o->value_size);
    char key[32];
    int kl = snprintf(key, sizeof key, "k%llu", (unsigned long long)k);
    if (o->proto == PROTO_MEMCACHE) {
        putf(c, "set k%llu 0 0 %llu\r\n", (unsigned long long)k,
             (unsigned long long)o->value_size);
    } else {
        putf(c, "*3\r\n$3\r\nSET\r\n$%llu\r\n", (unsigned long long)kl, 0);
        put(c, key, (size_t)kl);
        putf(c, "\r\n$%llu\r\n", (unsigned long long)o->value_size, 0);
    }
    put(c, v, o->value_size);
    put(c, "\r\n", 2);
}

static void put_get(const struct mcl_opts *o, struct mcl_conn *c,
                    struct mcl_cmd *cmd)
{
    int n = cmd->nkeys;
    if (o->proto == PROTO_MEMCACHE)
        put(c, "get", 3);
    else if (n == 1)
        put(c, "*2\r\n$3\r\nGET\r\n", 13);
    else
        putf(c, "*%llu\r\n$4\r\nMGET\r\n", (unsigned long long)n + 1, 0);
    for (int i = 0; i < n; i++) {
        uint64_t k = i ? mcl_rand(&c->rng) % o->nkeys : cmd->key0;
        char key[32];
        int kl = snprintf(key, sizeof key, "k%llu", (unsigned long long)k);
        if (o->proto == PROTO_MEMCACHE) {
            put(c, " ", 1);
            put(c, key, (size_t)kl);
        } else {
            putf(c, "$%llu\r\n", (unsigned long long)kl, 0);
            put(c, key, (size_t)kl);
            put(c, "\r\n", 2);
        }
    }
    if (o->proto == PROTO_MEMCACHE)
        put(c, "\r\n", 2);
}

int mcl_build(const struct mcl_opts *o, struct mcl_conn *c,
              uint64_t *fill_next, uint64_t fill_end)
{
    c->out_len = c->out_off = 0;
    c->ncmds = c->done = c->elem_left = c->hits = c->good = 0;
    for (int i = 0; i < o->depth; i++) {
        struct mcl_cmd *cmd = &c->cmds[c->ncmds];
        if (fill_next) {
            if (*fill_next >= fill_end)
                break;
            cmd->nkeys = 0;
            put_set(o, c, (*fill_next)++);
        } else if ((double)(mcl_rand(&c->rng) >> 11) / (1ull << 53) <
                   o->set_ratio) {
            cmd->nkeys = 0;
            put_set(o, c, mcl_rand(&c->rng) % o->nkeys);
        } else {
            cmd->nkeys = o->keys;
            cmd->key0 = mcl_rand(&c->rng) % o->nkeys;
            put_get(o, c, cmd);
        }
        c->ncmds++;
    }
    return c->ncmds;
}

void mcl_count(struct mcl_tally *t, uint64_t start_ns, uint64_t now,
               uint64_t lat_ns, uint64_t ops)
{
    int bin;
    if (lat_ns < 64) {
        bin = (int)lat_ns;
    } else {
        int e = 63 - __builtin_clzll(lat_ns);
        bin = (e - 5) * 64 + (int)((lat_ns >> (e - 6)) & 63);
    }
    t->hist[bin]++;
    t->ops += ops;
    uint64_t ms = (now - start_ns) / 1000000u;
    if (ms < t->ms_cap)
        t->per_ms[ms] += (uint32_t)ops;
}

/* One reply of the current command is whole: count it, go to the next. */
static void reply_done(const struct mcl_opts *o, struct mcl_conn *c,
                       struct mcl_tally *t, int ok, uint64_t start_ns,
                       uint64_t now)
{
    struct mcl_cmd *cmd = &c->cmds[c->done++];
    if (!ok) {
        t->errors++;
    } else {
        uint64_t n = cmd->nkeys ? (uint64_t)cmd->nkeys : 1;
        c->good++;
        if (cmd->nkeys) {
            t->hits += (uint64_t)c->hits;
            t->misses += (uint64_t)(cmd->nkeys - c->hits);
        }
        mcl_count(t, start_ns, now, now - c->sent_ns,
                  o->windows && cmd->nkeys ? (uint64_t)c->hits : n);
    }
    c->hits = 0;
    c->elem_left = 0;
}

/* A value of n bytes after a header line of hl bytes: 1 consumed, 0 not
 * all in yet. */
static int take_value(struct mcl_conn *c, size_t hl, unsigned long n)
{
    if (c->in_len - c->in_off < hl + n + 2)
        return 0;
    c->in_off += hl + n + 2;
    c->hits++;
    return 1;
}

int mcl_parse(const struct mcl_opts *o, struct mcl_conn *c,
              struct mcl_tally *t, uint64_t start_ns, uint64_t now)
{
    while (c->done < c->ncmds) {
        char *p = c->in + c->in_off;
        size_t left = c->in_len - c->in_off;
        char *nl = memmem(p, left, "\r\n", 2);
        if (!nl)
            return 0;
        size_t hl = (size_t)(nl - p) + 2;
        struct mcl_cmd *cmd = &c->cmds[c->done];
        if (o->proto == PROTO_MEMCACHE) {
            if (cmd->nkeys && hl > 6 && !memcmp(p, "VALUE ", 6)) {
                char *sp = memchr(p + 6, ' ', hl - 6); /* after the key */
                sp = sp ? memchr(sp + 1, ' ', (size_t)(nl - sp - 1)) : NULL;
                if (!sp)
                    return -1;
                if (!take_value(c, hl, strtoul(sp + 1, NULL, 10)))
                    return 0;
                continue;
            }
            c->in_off += hl;
            int ok = cmd->nkeys ? hl == 5 && !memcmp(p, "END", 3)
                                : hl == 8 && !memcmp(p, "STORED", 6);
            reply_done(o, c, t, ok, start_ns, now);
            continue;
        }
        /* RESP */
        if (*p == '$') {
            long n = strtol(p + 1, NULL, 10);
            if (n >= 0 && !take_value(c, hl, (unsigned long)n))
                return 0;
            if (n < 0)
                c->in_off += hl;
            if (c->elem_left > 1) {
                c->elem_left--;
                continue;
            }
            reply_done(o, c, t, 1, start_ns, now);
        } else if (*p == '*' && cmd->nkeys > 1) {
            c->in_off += hl;
            c->elem_left = (int)strtol(p + 1, NULL, 10);
            if (c->elem_left <= 0)
                reply_done(o, c, t, 0, start_ns, now);
        } else {
            c->in_off += hl; /* +OK for a set; -LOADING and other errors */
            reply_done(o, c, t, *p == '+' && !cmd->nkeys, start_ns, now);
        }
    }
    return 1;
}
