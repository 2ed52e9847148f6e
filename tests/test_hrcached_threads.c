/* SPDX-License-Identifier: MIT */
/*
 * test_hrcached_threads.c - hrcached's worker threads (-t) on one store,
 * and the format version of its persistent state.
 *
 *  - connections spread over the workers (each worker's epoll instance,
 *    as the kernel shows it, holds its share) and see one store; stats
 *    sums every worker's counters and says how many threads serve;
 *  - clients on different workers (seen so, all connected at once)
 *    hammering the same keys (incr, set, append, delete, get) get only
 *    answers the protocol allows, lose no increment and leave a consistent
 *    store; eviction from four workers at once keeps the store under -m,
 *    sound;
 *  - one process serves a heap at a time: a second waits for the first to
 *    end, --check refuses a heap in use;
 *  - a store of a newer format version than the program's is refused with
 *    both versions named, and left exactly as it was.
 *
 * Each case makes a throwaway site and holds the listening socket, as the
 * controller does.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotrestart/errors.h>
#include <hotrestart/heap.h>

#include "common.h"
#include "test_hrcached_util.h"

static int port, lfd;
static pid_t logged = -1;   /* a server started by start_logged */

static void setup(void)
{
    lfd = mc_case_setup(&port);
}

static void teardown(void)
{
    if (logged > 0 && kill(logged, SIGKILL) == 0)
        wait_status(logged);
    mc_case_teardown();
}

TestSuite(hrcached_threads, .init = setup, .fini = teardown, .timeout = 300);

/* Whether fd of process pid is what (the start of its /proc link). */
static int fd_is(pid_t pid, int fd, const char *what)
{
    char path[64], link[64];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n < 0)
        return 0;
    link[n] = 0;
    return strncmp(link, what, strlen(what)) == 0;
}

/* The sockets each worker of server pid watches, from the kernel: every
 * epoll instance of pid (/proc/PID/fdinfo lists what it watches, "tfd:")
 * that watches an eventfd is a worker's (the shared stop, worker.c; the
 * acceptor's watches the signalfd and the listening sockets).  Puts the
 * counts in counts (at most max) and returns the number of workers. */
static int conns_per_worker(pid_t pid, int *counts, int max)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s", path);
    int workers = 0, tfd;
    for (struct dirent *e; (e = readdir(d));) {
        int ep = atoi(e->d_name);
        if (e->d_name[0] == '.' || !fd_is(pid, ep, "anon_inode:[eventpoll]"))
            continue;
        snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)pid, ep);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f, "%s", path);
        int socks = 0, stop = 0;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "tfd: %d", &tfd) == 1) {
                socks += fd_is(pid, tfd, "socket:");
                stop |= fd_is(pid, tfd, "anon_inode:[eventfd]");
            }
        fclose(f);
        if (stop) {
            cr_assert_lt(workers, max);
            counts[workers++] = socks;
        }
    }
    closedir(d);
    return workers;
}

/* Server pid's n open connections are spread over its workers workers as
 * the acceptor deals them, in turn: each holds n / workers of them or one
 * more (n connections accepted one after another, none closed since). */
static void assert_spread(pid_t pid, int workers, int n)
{
    int c[16], total = 0;
    cr_assert_eq(conns_per_worker(pid, c, 16), workers, "workers' epolls");
    for (int i = 0; i < workers; i++) {
        cr_assert(c[i] == n / workers || c[i] == n / workers + 1,
                  "worker %d of %d holds %d of the %d connections", i,
                  workers, c[i], n);
        total += c[i];
    }
    cr_assert_eq(total, n, "the workers hold %d connections, not %d", total,
                 n);
}

/* The forked clients' meeting: each, connected and answered, says so and
 * waits (gate_arrive); the test waits for all (gate_wait), looks, and
 * lets them go on (gate_release). */
static int gate_ready[2], gate_go[2];

static void gate_open(void)
{
    cr_assert_eq(pipe2(gate_ready, O_CLOEXEC | O_NONBLOCK), 0);
    cr_assert_eq(pipe2(gate_go, O_CLOEXEC), 0);
}

static void gate_arrive(void)
{
    char c = 'x';
    close(gate_go[1]);
    if (write(gate_ready[1], &c, 1) != 1 || read(gate_go[0], &c, 1) != 0)
        _exit(30);              /* the test closes go: read sees its end */
    close(gate_go[0]);
    close(gate_ready[0]);
    close(gate_ready[1]);
}

static int arrived;

static int all_arrived(void *n)
{
    char buf[16];
    ssize_t r = read(gate_ready[0], buf, sizeof buf);
    arrived += r > 0 ? (int)r : 0;
    return arrived >= *(int *)n;
}

static void gate_wait(int n)
{
    poll_until(all_arrived, &n, "every client connected");
}

static void gate_release(void)
{
    for (int i = 0; i < 2; i++) {
        close(gate_ready[i]);
        close(gate_go[i]);
    }
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (; (s = strstr(s, what)); s += strlen(what))
        n++;
    return n;
}

Test(hrcached_threads, workers_share_one_store_and_stats_sum_them)
{
    pid_t pid = mc_startl(lfd, "-t", "3", NULL);
    int fd[3];
    for (int i = 0; i < 3; i++)          /* one to each worker, in turn */
        fd[i] = mc_connect(port);
    for (int i = 0; i < 3; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "set k%d 0 0 1\r\n%d\r\n", i, i);
        cr_assert_str_eq(mc_line(fd[i], cmd), "STORED\r\n");
    }
    for (int i = 0; i < 3; i++) {        /* each sees the others' items */
        char cmd[64], want[64];
        int other = (i + 1) % 3;
        snprintf(cmd, sizeof cmd, "get k%d\r\n", other);
        snprintf(want, sizeof want, "VALUE k%d 0 1\r\n%d\r\nEND\r\n", other,
                 other);
        char out[256];
        cr_assert_gt(mc_ask(fd[i], cmd, strlen(cmd), "END\r\n", out,
                            sizeof out), 0);
        cr_assert_str_eq(out, want);
    }
    cr_assert_eq(mc_stat(fd[0], "stats\r\n", "threads"), 3);
    cr_assert_eq(mc_stat(fd[1], "stats\r\n", "cmd_set"), 3);
    cr_assert_eq(mc_stat(fd[2], "stats\r\n", "get_hits"), 3);
    cr_assert_eq(mc_stat(fd[0], "stats\r\n", "curr_items"), 3);
    cr_assert_eq(mc_stat(fd[0], "stats\r\n", "curr_connections"), 3);
    cr_assert_eq(mc_stat(fd[0], "stats settings\r\n", "num_threads"), 3);
    assert_spread(pid, 3, 3);
    char out[8192];
    cr_assert_gt(mc_ask(fd[1], "stats conns\r\n", 13, "END\r\n", out,
                        sizeof out), 0);
    cr_assert_eq(count(out, ":addr tcp:127.0.0.1:"), 3, "%s", out);
    cr_assert_str_eq(mc_line(fd[2], "stats reset\r\n"), "RESET\r\n");
    cr_assert_eq(mc_stat(fd[0], "stats\r\n", "cmd_set"), 0);
    for (int i = 0; i < 3; i++)
        close(fd[i]);
    cr_assert_eq(mc_stop(pid), 0);
}

#define HAMMER_CLIENTS 4
#define HAMMER_ROUNDS 1500

/* Whether out answers "get s<a> s<b>" as the hammer's store allows: each
 * key's item in turn or nothing, then END; each value a set's "v<id>" and
 * the ids appends added, as many bytes as its line says. */
static int hammer_get_ok(const char *out, int a, int b)
{
    const int keys[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        char head[32], *end;
        int h = snprintf(head, sizeof head, "VALUE s%d 0 ", keys[i]);
        if (strncmp(out, head, (size_t)h) != 0)
            continue;                   /* a miss */
        long n = strtol(out + h, &end, 10);
        if (n < 2 || strncmp(end, "\r\n", 2) != 0 || end[2] != 'v')
            return 0;
        for (const char *v = end + 3; v < end + 2 + n; v++)
            if (*v < '0' || *v >= '0' + HAMMER_CLIENTS)
                return 0;
        if (strncmp(end + 2 + n, "\r\n", 2) != 0)
            return 0;
        out = end + 4 + n;
    }
    return strcmp(out, "END\r\n") == 0;
}

/* One client: incr the shared counter, and set, append, get and delete
 * shared keys, checking each answer is one the protocol allows.  Connected,
 * it waits at the gate for the test to see the clients spread. */
static void hammer(int id)
{
    int fd = mc_connect(port);
    char cmd[128], out[4096];
    if (strncmp(mc_line(fd, "version\r\n"), "VERSION ", 8) != 0)
        _exit(15);
    gate_arrive();
    for (int i = 0; i < HAMMER_ROUNDS; i++) {
        const char *r = mc_line(fd, "incr counter 1\r\n");
        if (atoi(r) <= 0)
            _exit(10);
        int k = (i * 7 + id) % 16;
        switch (i % 4) {
        case 0:
            snprintf(cmd, sizeof cmd, "set s%d 0 0 2\r\nv%d\r\n", k, id);
            if (strcmp(mc_line(fd, cmd), "STORED\r\n") != 0)
                _exit(11);
            break;
        case 1:
            snprintf(cmd, sizeof cmd, "append s%d 0 0 1\r\n%d\r\n", k, id);
            r = mc_line(fd, cmd);
            if (strcmp(r, "STORED\r\n") && strcmp(r, "NOT_STORED\r\n"))
                _exit(12);
            break;
        case 2:
            snprintf(cmd, sizeof cmd, "get s%d s%d\r\n", k, (k + 1) % 16);
            if (mc_ask(fd, cmd, strlen(cmd), "END\r\n", out, sizeof out) < 0 ||
                !hammer_get_ok(out, k, (k + 1) % 16)) {
                fprintf(stderr, "client %d, %s: %s\n", id, cmd, out);
                _exit(13);
            }
            break;
        default:
            snprintf(cmd, sizeof cmd, "delete s%d\r\n", k);
            r = mc_line(fd, cmd);
            if (strcmp(r, "DELETED\r\n") && strcmp(r, "NOT_FOUND\r\n"))
                _exit(14);
        }
    }
    close(fd);
    _exit(0);
}

Test(hrcached_threads, clients_on_four_workers_lose_no_increment)
{
    pid_t pid = mc_startl(lfd, "-t", "4", NULL);
    int fd = mc_connect(port);
    cr_assert_str_eq(mc_line(fd, "set counter 0 0 1\r\n0\r\n"), "STORED\r\n");
    pid_t kids[HAMMER_CLIENTS];
    gate_open();
    for (int i = 0; i < HAMMER_CLIENTS; i++)
        if ((kids[i] = mc_fork()) == 0)
            hammer(i);
    gate_wait(HAMMER_CLIENTS);
    assert_spread(pid, 4, HAMMER_CLIENTS + 1);  /* theirs and fd */
    gate_release();
    for (int i = 0; i < HAMMER_CLIENTS; i++)
        cr_assert_eq(wait_status(kids[i]), 0, "client %d saw a bad answer",
                     i);
    char want[64], out[256];
    snprintf(want, sizeof want, "VALUE counter 0 4\r\n%d\r\nEND\r\n",
             HAMMER_CLIENTS * HAMMER_ROUNDS);
    cr_assert_gt(mc_ask(fd, "get counter\r\n", 13, "END\r\n", out,
                        sizeof out), 0);
    cr_assert_str_eq(out, want, "increments lost");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
    char res[4096];
    const char *argv[] = {HRCACHED_BIN, "--check", NULL};
    cr_assert_eq(mc_run(res, sizeof res, argv), 0, "%s", res);
}

/* One client storing values of 2,000 bytes under its own keys, past -m,
 * and reading each back: whole, or missing.  Connected, it waits at the
 * gate for the test to see the clients spread. */
static void fill_past_limit(int id)
{
    int fd = mc_connect(port);
    char cmd[2200], out[4096];
    if (strncmp(mc_line(fd, "version\r\n"), "VERSION ", 8) != 0)
        _exit(22);
    gate_arrive();
    for (int i = 0; i < 800; i++) {
        int h = snprintf(cmd, 100, "set e%d:%d 0 0 2000\r\n", id, i);
        memset(cmd + h, 'a' + (id + i) % 26, 2000);
        memcpy(cmd + h + 2000, "\r\n", 2);
        if (mc_ask(fd, cmd, (size_t)h + 2002, "\r\n", out, sizeof out) < 0 ||
            strcmp(out, "STORED\r\n") != 0) {
            fprintf(stderr, "client %d, set %d: %s\n", id, i, out);
            _exit(20);
        }
        /* the others' stores may have evicted it already (it is the
         * newest, but they spare read items ahead of it): a miss is
         * right, a hit must be whole */
        snprintf(cmd, 100, "get e%d:%d\r\n", id, i);
        ssize_t n = mc_ask(fd, cmd, strlen(cmd), "END\r\n", out, sizeof out);
        char want[64];
        int hl = snprintf(want, sizeof want, "VALUE e%d:%d 0 2000\r\n", id, i);
        if (n < 0 || (strcmp(out, "END\r\n") != 0 &&
                      (n != hl + 2007 || memcmp(out, want, (size_t)hl) != 0 ||
                       out[hl] != 'a' + (id + i) % 26 ||
                       out[hl + 1999] != 'a' + (id + i) % 26)))
            _exit(21);
    }
    close(fd);
    _exit(0);
}

/* Eviction runs from every worker at once: four clients store 6 MB into
 * -m 1; the store stays under its limit and consistent. */
Test(hrcached_threads, eviction_from_four_workers_keeps_the_store_sound)
{
    pid_t pid = mc_startl(lfd, "-t", "4", "-m", "1", NULL);
    pid_t kids[4];
    gate_open();
    for (int i = 0; i < 4; i++)
        if ((kids[i] = mc_fork()) == 0)
            fill_past_limit(i);
    gate_wait(4);
    assert_spread(pid, 4, 4);
    gate_release();
    for (int i = 0; i < 4; i++) {
        int st = wait_status(kids[i]);
        cr_assert_eq(st, 0, "client %d saw a bad answer (%d)", i, st);
    }
    int fd = mc_connect(port);
    cr_assert_gt(mc_stat(fd, "stats\r\n", "evictions"), 0);
    cr_assert_leq(mc_stat(fd, "stats\r\n", "bytes"), 1u << 20);
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
    char res[4096];
    const char *argv[] = {HRCACHED_BIN, "--check", NULL};
    cr_assert_eq(mc_run(res, sizeof res, argv), 0, "%s", res);
}

/* The store's root as the heap holds it: a server that starts counts
 * itself there (starts), and every store changes its counters.  The format
 * version is the 32-bit word after the 8-byte magic (hrcached/item.h's
 * struct mc_root).  (The heap's own tx_count is no witness: opening and
 * closing a heap moves it.) */
struct root_copy {
    unsigned char bytes[512];
    size_t size;
};

static void snapshot(hr_heap *h, struct root_copy *c)
{
    void *root;
    cr_assert_eq(hr_heap_root(h, &root), 0);
    cr_assert_eq(hr_heap_usable(h, root, &c->size), 0);
    cr_assert_leq(c->size, sizeof c->bytes);
    memcpy(c->bytes, root, c->size);
}

static void set_version(uint32_t v)
{
    pmm_bank *bank;
    void *root;
    hr_heap *h = mc_heap_open(&bank, &root);
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_write(h, (char *)root + 8, &v, sizeof v), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    mc_heap_close(h, bank);
}

static void root_now(struct root_copy *c)
{
    pmm_bank *bank;
    void *root;
    hr_heap *h = mc_heap_open(&bank, &root);
    snapshot(h, c);
    mc_heap_close(h, bank);
}

Test(hrcached_threads, state_of_a_newer_format_is_refused_and_untouched)
{
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    uint64_t ours = mc_stat(fd, "stats\r\n", "state_version");
    cr_assert_geq(ours, 1);
    for (int i = 0; i < 20; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "set v%d 0 0 2\r\n%02d\r\n", i, i);
        cr_assert_str_eq(mc_line(fd, cmd), "STORED\r\n");
    }
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);

    set_version((uint32_t)ours + 1);    /* as a later hrcached would */
    struct root_copy before, after;
    root_now(&before);
    char out[4096], sock[300], want[128];
    snprintf(sock, sizeof sock, "%s/mc.sock", getenv("HR_SITE"));
    const char *argv[] = {HRCACHED_BIN, "-p", "0", "-s", sock, NULL};
    cr_assert_eq(mc_run(out, sizeof out, argv), 1, "%s", out);
    snprintf(want, sizeof want, "format version %llu, newer than this "
             "hrcached's %llu", (unsigned long long)ours + 1,
             (unsigned long long)ours);
    cr_assert_not_null(strstr(out, want), "%s", out);
    const char *check[] = {HRCACHED_BIN, "--check", NULL};
    cr_assert_eq(mc_run(out, sizeof out, check), 1, "%s", out);
    cr_assert_not_null(strstr(out, want), "%s", out);
    root_now(&after);
    cr_assert_eq(after.size, before.size);
    cr_assert_eq(memcmp(after.bytes, before.bytes, after.size), 0,
                 "the store's root changed");

    set_version((uint32_t)ours);        /* back: every item is there */
    pid = mc_startl(lfd, NULL);
    fd = mc_connect(port);
    for (int i = 0; i < 20; i++) {
        char cmd[64], w[64];
        snprintf(cmd, sizeof cmd, "get v%d\r\n", i);
        snprintf(w, sizeof w, "VALUE v%d 0 2\r\n%02d\r\nEND\r\n", i, i);
        cr_assert_gt(mc_ask(fd, cmd, strlen(cmd), "END\r\n", out,
                            sizeof out), 0);
        cr_assert_str_eq(out, w);
    }
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* hrcached on lfd (LISTEN_FDS) with its stderr in the file log. */
static pid_t start_logged(const char *log)
{
    pid_t pid = mc_fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        char spid[32];
        snprintf(spid, sizeof spid, "%d", (int)getpid());
        setenv("LISTEN_FDS", "1", 1);
        setenv("LISTEN_PID", spid, 1);
        if (fd < 0 || dup2(fd, 2) < 0 || dup2(lfd, 3) < 0)
            _exit(126);
        execl(HRCACHED_BIN, HRCACHED_BIN, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int says_waiting(void *log)
{
    char buf[4096] = "";
    FILE *f = fopen(log, "r");
    if (f) {
        buf[fread(buf, 1, sizeof buf - 1, f)] = 0;
        fclose(f);
    }
    return strstr(buf, "served by another hrcached of this site: waiting") !=
           NULL;
}

Test(hrcached_threads, one_server_per_heap_the_next_waits_for_the_first)
{
    pid_t first = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    cr_assert_str_eq(mc_line(fd, "set k 0 0 1\r\nx\r\n"), "STORED\r\n");
    close(fd);
    char out[4096], log[300];
    const char *check[] = {HRCACHED_BIN, "--check", NULL};
    cr_assert_eq(mc_run(out, sizeof out, check), 1, "%s", out);
    cr_assert_not_null(strstr(out, "served by a running hrcached"), "%s", out);

    snprintf(log, sizeof log, "%s/second.log", getenv("HR_SITE"));
    logged = start_logged(log);
    mc_poll(says_waiting, log, "the second server to say it waits");
    kill(first, SIGKILL);
    cr_assert_eq(wait_status(first), 128 + SIGKILL);
    /* the second serves now: the first one's item, one restart seen */
    fd = mc_connect(port);
    cr_assert_gt(mc_ask(fd, "get k\r\n", 7, "END\r\n", out, sizeof out), 0);
    cr_assert_str_eq(out, "VALUE k 0 1\r\nx\r\nEND\r\n");
    cr_assert_eq(mc_stat(fd, "stats\r\n", "restarts"), 1);
    close(fd);
    cr_assert_eq(mc_stop(logged), 0);
    logged = -1;
}
