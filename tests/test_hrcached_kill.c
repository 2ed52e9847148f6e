/* SPDX-License-Identifier: MIT */
/*
 * test_hrcached_kill.c - hrcached SIGKILLed at random instants under load.
 *
 * Client processes keep sets and gets going on their own connections, with
 * values that carry their key, a version and a checksum.  The test holds
 * the listening socket (as the controller does) and kills and restarts
 * hrcached HR_MC_KILLS times (default 1000).  Every client checks, on each
 * read and in a last pass over all its keys, that:
 *  - no value is torn (its checksum holds, it names its own key);
 *  - every value acknowledged with STORED is there: a read finds the last
 *    acknowledged version, or the one whose set was cut by a kill;
 *  - no connection attempt is refused.
 * At the end hrcached --check and hr heap check find the heap consistent.
 * Eviction is off (-M) and there are no deletes, so nothing may go missing;
 * but in the eviction case (-m 2, sixteen times the keys), where a key may
 * be missing, never with an older value than the last acknowledged.  Every
 * case runs hrcached -t 4.
 * The clients loop until told to stop and a server answers them: both die
 * with the test (mc_fork), not left spinning by a test killed mid-run.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "test_hrcached_util.h"

#define CLIENTS 4
#define KEYS_MAX 1024
#define VALUE_MAX 3000

static int nkeys = 64;      /* keys of each client */
static int may_miss;        /* eviction is on: a key may be gone */

struct tally {
    uint64_t stored, reads, cut, refused, torn, lost, errors;
    char last_error[200];
};

struct shared {
    volatile int stop;
    struct tally t[CLIENTS];
};

static struct shared *sh;
static int port;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static uint64_t sum(const char *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++)
        h = mix(h ^ (unsigned char)p[i]);
    return h;
}

/* "<16 hex checksum><key>/<version>/<filler>" */
static size_t make_value(char *out, const char *key, uint64_t ver,
                         size_t len)
{
    int h = snprintf(out + 16, VALUE_MAX - 16, "%s/%llu/", key,
                     (unsigned long long)ver);
    size_t n = len < (size_t)h + 16 ? (size_t)h + 16 : len;
    for (size_t i = 16 + (size_t)h; i < n; i++)
        out[i] = (char)('a' + mix(ver * 131 + i) % 26);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx",
             (unsigned long long)sum(out + 16, n - 16));
    memcpy(out, hex, 16);
    return n;
}

/* The version a value carries, or 0 if it is torn or not key's. */
static uint64_t read_value(const char *v, size_t n, const char *key)
{
    if (n < 16)
        return 0;
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx",
             (unsigned long long)sum(v + 16, n - 16));
    size_t kl = strlen(key);
    if (memcmp(hex, v, 16) != 0 || n < 16 + kl + 2 ||
        memcmp(v + 16, key, kl) != 0 || v[16 + kl] != '/')
        return 0;
    return strtoull(v + 17 + kl, NULL, 10);
}

struct client {
    int id, fd;
    struct tally *t;
    uint64_t acked[KEYS_MAX];    /* last version acknowledged (0: none) */
    uint64_t cut[KEYS_MAX];      /* version of a set cut by a kill (0: none) */
    uint64_t next_ver;
    char buf[VALUE_MAX + 512];
};

static void fail(struct client *c, uint64_t *what, const char *fmt, ...)
{
    (*what)++;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->t->last_error, sizeof c->t->last_error, fmt, ap);
    va_end(ap);
}

static void reconnect(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    for (;;) {
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            return;
        int e = errno;
        close(c->fd);
        if (e == ECONNREFUSED)
            c->t->refused++;
        pace_us(1000); /* a client's retry rhythm, counted, not awaited */
    }
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read until the buffer ends with end; the length, or -1 on a cut. */
static ssize_t recv_until(struct client *c, const char *end)
{
    size_t len = 0, el = strlen(end);
    while (len < el || memcmp(c->buf + len - el, end, el) != 0) {
        if (len + 1 >= sizeof c->buf)
            return -1;
        ssize_t n = recv(c->fd, c->buf + len, sizeof c->buf - 1 - len, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
    }
    c->buf[len] = 0;
    return (ssize_t)len;
}

static void key_name(char *k, int id, int i)
{
    snprintf(k, 32, "c%d:k%d", id, i);
}

/* 1: done, 0: the connection was cut (the caller reconnects). */
static int do_set(struct client *c, int k)
{
    char key[32], cmd[VALUE_MAX + 100];
    key_name(key, c->id, k);
    uint64_t ver = ++c->next_ver;
    size_t len = 40 + mix(ver) % (VALUE_MAX - 40);
    int h = snprintf(cmd, 100, "set %s 0 0 %zu\r\n", key, len);
    make_value(cmd + h, key, ver, len);
    memcpy(cmd + h + len, "\r\n", 2);
    c->cut[k] = ver;             /* until it is acknowledged */
    if (send_all(c->fd, cmd, (size_t)h + len + 2) < 0 ||
        recv_until(c, "\r\n") < 0) {
        c->t->cut++;
        return 0;
    }
    if (strcmp(c->buf, "STORED\r\n") != 0) {
        fail(c, &c->t->errors, "set %s: %s", key, c->buf);
        return 1;
    }
    c->acked[k] = ver;
    c->cut[k] = 0;
    c->t->stored++;
    return 1;
}

static int do_get(struct client *c, int k)
{
    char key[32], cmd[64];
    key_name(key, c->id, k);
    int n = snprintf(cmd, sizeof cmd, "get %s\r\n", key);
    ssize_t len;
    if (send_all(c->fd, cmd, (size_t)n) < 0 ||
        (len = recv_until(c, "END\r\n")) < 0)
        return 0;
    c->t->reads++;
    uint64_t ver = 0;
    if (may_miss && strcmp(c->buf, "END\r\n") == 0) {
        c->acked[k] = c->cut[k] = 0;    /* evicted: nothing from now on */
        return 1;
    }
    if (strcmp(c->buf, "END\r\n") != 0) {
        size_t vlen;
        int off;
        if (sscanf(c->buf, "VALUE %*s %*u %zu\r\n%n", &vlen, &off) != 1 ||
            (size_t)off + vlen + 7 != (size_t)len) {
            fail(c, &c->t->errors, "get %s: bad reply", key);
            return 1;
        }
        ver = read_value(c->buf + off, vlen, key);
        if (ver == 0) {
            fail(c, &c->t->torn, "get %s: torn value", key);
            return 1;
        }
    }
    if (ver != c->acked[k] && (c->cut[k] == 0 || ver != c->cut[k])) {
        fail(c, &c->t->lost, "get %s: version %llu, acknowledged %llu "
             "(cut %llu)", key, (unsigned long long)ver,
             (unsigned long long)c->acked[k], (unsigned long long)c->cut[k]);
        return 1;
    }
    c->acked[k] = ver;           /* what the cache holds from now on */
    c->cut[k] = 0;
    return 1;
}

/* The run's seed (test_seed), for the clients and the kills. */
static uint64_t run_seed;

static void client(int id)
{
    struct client *c = calloc(1, sizeof *c);
    c->id = id;
    c->fd = -1;
    c->t = &sh->t[id];
    unsigned seed = (unsigned)run_seed + (unsigned)id;
    reconnect(c);
    while (!sh->stop) {
        int k = rand_r(&seed) % nkeys;
        int done = c->cut[k] || rand_r(&seed) % 10 < 4 ? do_get(c, k)
                                                       : do_set(c, k);
        if (!done)
            reconnect(c);
    }
    for (int k = 0; k < nkeys; k++)     /* the last pass: every key */
        while (!do_get(c, k))
            reconnect(c);
    close(c->fd);
    _exit(0);
}

static unsigned kills(void)
{
    return (unsigned)test_count("HR_MC_KILLS", 1000);
}

static pid_t clients[CLIENTS];
static pid_t orphans[CLIENTS + 1];  /* of a killed test, come to this one */

static void start_clients(void)
{
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(sh, MAP_FAILED);
    run_seed = test_seed("hrcached_kill: clients and kills");
    srand((unsigned)run_seed);
    for (int i = 0; i < CLIENTS; i++)
        if ((clients[i] = mc_fork()) == 0)
            client(i);
}

/* A failed case leaves no client, server or controller behind. */
static void teardown(void)
{
    for (int i = 0; sh && i < CLIENTS; i++)
        if (clients[i] > 0 && kill(clients[i], SIGKILL) == 0)
            wait_status(clients[i]);
    for (int i = 0; i <= CLIENTS; i++)
        if (orphans[i] > 0 && kill(orphans[i], SIGKILL) == 0)
            wait_status(orphans[i]);
    mc_cleanup();
    site_drop();
}

TestSuite(hrcached_kill, .fini = teardown, .timeout = 600);

/* Let the clients make their last pass (a server must be up), then add
 * up and check what they saw. */
static void finish_clients(unsigned n, const char *how)
{
    sh->stop = 1;
    for (int i = 0; i < CLIENTS; i++)
        cr_assert_eq(wait_status(clients[i]), 0);
    struct tally all = {0};
    for (int i = 0; i < CLIENTS; i++) {
        struct tally *t = &sh->t[i];
        all.stored += t->stored, all.reads += t->reads, all.cut += t->cut;
        all.refused += t->refused, all.torn += t->torn;
        all.lost += t->lost, all.errors += t->errors;
        if (t->torn || t->lost || t->errors)
            fprintf(stderr, "client %d: %s\n", i, t->last_error);
    }
    fprintf(stderr, "hrcached kill test (%s): %u kills, %llu stores "
            "acknowledged, %llu reads checked, %llu requests cut by a kill, "
            "%llu connections refused\n", how, n,
            (unsigned long long)all.stored, (unsigned long long)all.reads,
            (unsigned long long)all.cut, (unsigned long long)all.refused);
    cr_assert_eq(all.torn, 0, "torn values");
    cr_assert_eq(all.lost, 0, "acknowledged values lost");
    cr_assert_eq(all.errors, 0, "unexpected replies");
    cr_assert_eq(all.refused, 0, "connections refused");
    cr_assert_gt(all.stored, n / 2, "the load did not run");
    cr_assert_gt(all.cut, 0, "no request was ever cut by a kill");
}

static void heap_checks(void)
{
    char out[4096];
    const char *check[] = {HRCACHED_BIN, "--check", NULL};
    cr_assert_eq(mc_run(out, sizeof out, check), 0, "%s", out);
    const char *hr[] = {HR_BIN, "heap", "check", "hrcached", NULL};
    cr_assert_eq(mc_run(out, sizeof out, hr), 0, "hr heap check: %s", out);
}

/* Start hrcached on lfd and SIGKILL it n times, at random moments (every
 * other time once it serves: slow under ASan). */
static void kill_loop(int lfd, const char *const *args, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        pid_t srv = mc_start(lfd, args);
        if (i % 2) {
            int fd = mc_connect(port);
            char out[256];
            mc_ask(fd, "version\r\n", 9, "\r\n", out, sizeof out);
            close(fd);
        }
        pace_us((unsigned long)(rand() % 8000)); /* a kill's moment */
        kill(srv, SIGKILL);
        int st = wait_status(srv);
        cr_assert_eq(st, 128 + SIGKILL, "hrcached ended by itself (%d) "
                     "after %u kills", st, i);
    }
}

/* The test holds the socket and restarts hrcached itself (LISTEN_FDS). */
Test(hrcached_kill, acknowledged_items_survive_random_sigkills)
{
    site_new(512ull << 20, 0);
    int lfd = mc_listener(&port);
    const char *args[] = {"-M", "-m", "64", "-t", "4", NULL};
    start_clients();
    unsigned n = kills();
    kill_loop(lfd, args, n);
    pid_t srv = mc_start(lfd, args);
    finish_clients(n, "socket held by the test"); /* on failure: mc_cleanup */
    cr_assert_eq(mc_stop(srv), 0);
    heap_checks();
}

/* Eviction on, in a heap too small for the keys: items leave at every
 * store, eviction transactions (the largest hrcached makes) are cut by
 * kills; a read finds the last acknowledged value, the cut one, or
 * nothing, never an older one, never a torn one.  A third of the kills. */
Test(hrcached_kill, evictions_cut_by_sigkills_bring_back_no_old_value)
{
    site_new(512ull << 20, 0);
    nkeys = KEYS_MAX;
    may_miss = 1;
    int lfd = mc_listener(&port);
    const char *args[] = {"-m", "2", "-t", "4", NULL};
    start_clients();
    unsigned n = kills() / 3;
    kill_loop(lfd, args, n);
    pid_t srv = mc_start(lfd, args);
    int fd = mc_connect(port);
    char out[8192];
    cr_assert_gt(mc_ask(fd, "stats\r\n", 7, "END\r\n", out, sizeof out), 0);
    close(fd);
    finish_clients(n, "eviction on, -m 2");
    fd = mc_connect(port);
    cr_assert_gt(mc_ask(fd, "stats\r\n", 7, "END\r\n", out, sizeof out), 0);
    close(fd);
    const char *ev = strstr(out, "STAT curr_items ");
    cr_assert_not_null(ev);
    cr_assert_lt(atoi(ev + 16), CLIENTS * KEYS_MAX, "nothing was evicted");
    cr_assert_eq(mc_stop(srv), 0);
    heap_checks();
}

/* The pid of the hrcached serving port, from its stats, once it is not
 * not_pid.  Just after a kill the connection may still be taken by the
 * dying server (a thread of it inside accept, or not yet interrupted on
 * another CPU) and cut, or answered by it: asked again, as a client
 * whose request a kill cut would. */
static pid_t server_pid(pid_t not_pid)
{
    char out[8192];
    static char seen[100];
    seen[0] = 0;
    for (struct poll_wait w = poll_begin("a stats answer from a server not "
                                         "yet killed");;
         poll_pause(&w, seen)) {
        int fd = mc_connect(port);
        ssize_t k = mc_ask(fd, "stats\r\n", 7, "END\r\n", out, sizeof out);
        close(fd);
        const char *p = k > 0 ? strstr(out, "STAT pid ") : NULL;
        if (k > 0)
            cr_assert_not_null(p, "stats without a pid: %s", out);
        pid_t pid = p ? (pid_t)atoi(p + 9) : 0;
        if (pid > 0 && pid != not_pid)
            return pid;
        snprintf(seen, sizeof seen, "%s", k > 0 ? "the killed server's answer"
                                                : "the request cut");
    }
}

/* The controller holds the socket (hr arun --listen) and restarts the
 * group after each kill; site restarts on the way keep the socket too. */
Test(hrcached_kill, under_the_controller_with_held_sockets)
{
    site_new(0, 0);
    char out[4096], spec[64];
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--rambank-size",
                        "512M", "--max-badness", "1000000", "--interval", "1",
                        NULL), 0, "%s", out);
    port = free_port(); /* for the controller; no client's to take */
    snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", port);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--listen", spec,
                        HRCACHED_BIN, "-M", "-m", "64", "-t", "4", NULL), 0,
                        "%s", out);
    start_clients();
    unsigned n = kills();
    pid_t last = 0;
    for (unsigned i = 0; i < n; i++) {
        if (i % 250 == 125) {
            cr_assert_eq(run_hr(out, sizeof out, "site", "restart", NULL), 0,
                         "%s", out);
            continue;
        }
        pid_t pid = server_pid(last);   /* waits in the backlog if need be;
                                           times out if never restarted */
        pace_us((unsigned long)(rand() % 8000)); /* a kill's moment */
        cr_assert_eq(kill(pid, SIGKILL), 0);
        last = pid;
    }
    server_pid(last);
    finish_clients(n, "socket held by the controller");
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    heap_checks();
}

/* Every orphan of the killed test ended (reaped here, its subreaper). */
static int orphans_ended(void *arg)
{
    pid_t *o = arg;
    int left = 0, st;
    for (int i = 0; i <= CLIENTS; i++) {
        if (o[i] > 0 && waitpid(o[i], &st, WNOHANG) > 0) {
            cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
                      "orphan %d ended by itself (%d)", o[i], st);
            o[i] = 0;
        }
        left += o[i] > 0;
    }
    return left == 0;
}

/* A test killed mid-run (ctest stopped, a timeout) takes its clients and
 * server with it.  The "test" is a child under load, SIGKILLed; this
 * process, its subreaper, inherits what it leaves and sees it end. */
Test(hrcached_kill, a_killed_test_leaves_no_client_or_server_running)
{
    site_new(512ull << 20, 0);
    int lfd = mc_listener(&port), p[2];
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    cr_assert_eq(pipe(p), 0);
    pid_t test = fork();
    if (test == 0) {
        const char *args[] = {"-M", "-m", "64", NULL};
        start_clients();
        memcpy(orphans, clients, sizeof clients);
        orphans[CLIENTS] = mc_start(lfd, args);
        mc_line(mc_connect(port), "version\r\n"); /* the load runs */
        if (write(p[1], orphans, sizeof orphans) != sizeof orphans)
            _exit(1);
        pause();
    }
    close(p[1]);
    cr_assert_eq(read(p[0], orphans, sizeof orphans), sizeof orphans);
    cr_assert_eq(kill(test, SIGKILL), 0);
    cr_assert_eq(wait_status(test), 128 + SIGKILL);
    mc_poll(orphans_ended, orphans, "the killed test's clients and server "
            "to end");
}
