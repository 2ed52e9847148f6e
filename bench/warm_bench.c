/* SPDX-License-Identifier: MIT */
/*
 * warm_bench.c - warm state after a crash: a server holding N GiB of state
 * is killed with SIGKILL; time until a new instance serves with its state.
 *  - hotrestart: the state is a persistent block; the controller restarts
 *    the server, which retrieves it;
 *  - cold start: the same server reloads its state from a file (the page
 *    cache is warm: the best case for it);
 *  - memcached's restartable mode (-e): after a graceful stop (SIGUSR1), and
 *    after SIGKILL, where the state is lost.
 *
 *   warm_bench HR_BIN WARM_SERVER [--quick]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

static char site[64], fifo[128], hr[1024], server[1024];
static int rd;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int ready(int timeout_ms)
{
    struct pollfd p = {.fd = rd, .events = POLLIN};
    int pid;
    if (poll(&p, 1, timeout_ms) <= 0 || read(rd, &pid, sizeof pid) != sizeof pid)
        return 0;
    return pid;
}

static int sh(const char *cmd)
{
    return system(cmd);
}

static double ours;

static void warm_hotrestart(uint64_t size, const char *label, int rounds)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s site create --rambank-size %llu --max-blocks 64 --max-badness "
             "1000000 --interval 1 >/dev/null && %s site start >/dev/null && "
             "%s arun -g 0 %s pmm %llu %s >/dev/null",
             hr, (unsigned long long)(size + (64 << 20)), hr, hr, server,
             (unsigned long long)size, fifo);
    if (sh(cmd) != 0) {
        bench_row(label, "hotrestart", "ms", 0, 0, 0, "not run: site failed");
        return;
    }
    int pid = ready(600000); /* the first run builds the state */
    double v[16];
    int n = 0;
    for (int i = 0; i < rounds && pid; i++) {
        double t0 = now_ms();
        kill(pid, SIGKILL);
        pid = ready(600000);
        if (pid)
            v[n++] = now_ms() - t0;
    }
    snprintf(cmd, sizeof cmd, "%s site stop >/dev/null; %s site destroy >/dev/null",
             hr, hr);
    sh(cmd);
    double med, p99;
    bench_stats(v, n, &med, &p99);
    ours = med;
    bench_row(label, "hotrestart", "ms", med, p99, 0,
              "retrieve the block, check 1024 pages");
}

static pid_t spawn_server(const char *mode, uint64_t size, const char *path)
{
    char sz[32];
    snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
    pid_t pid = fork();
    if (pid == 0) {
        execl(server, server, mode, sz, fifo, path, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void warm_cold(uint64_t size, const char *label, int rounds)
{
    char path[128];
    snprintf(path, sizeof path, "/tmp/hrbench-state.%d", getpid());
    unlink(path);
    pid_t pid = spawn_server("file", size, path);
    ready(600000);
    double v[16];
    int n = 0;
    for (int i = 0; i < rounds; i++) {
        double t0 = now_ms();
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        pid = spawn_server("file", size, path);
        if (!ready(600000))
            break;
        v[n++] = now_ms() - t0;
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlink(path);
    double med, p99;
    bench_stats(v, n, &med, &p99);
    bench_row(label, "cold start: reload from a file", "ms", med, p99,
              ours > 0 ? med / ours : 0, "same server; file in the page cache");
}

/* ---- memcached ------------------------------------------------------- */

static int mc_connect(int port, int timeout_ms)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    double t0 = now_ms();
    while (now_ms() - t0 < timeout_ms) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0)
            return s;
        close(s);
        usleep(500);
    }
    return -1;
}

static int mc_io(int s, const char *req, size_t len, char *rep, size_t cap)
{
    for (size_t at = 0; at < len;) {
        ssize_t n = write(s, req + at, len - at);
        if (n <= 0)
            return -1;
        at += (size_t)n;
    }
    ssize_t n = read(s, rep, cap - 1);
    if (n <= 0)
        return -1;
    rep[n] = 0;
    return (int)n;
}

static pid_t mc_start(const char *file, uint64_t mb, int port)
{
    char m[32], p[32];
    snprintf(m, sizeof m, "%llu", (unsigned long long)mb);
    snprintf(p, sizeof p, "%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        dup2(null, 2);
        execlp("memcached", "memcached", "-e", file, "-m", m, "-p", p, "-U", "0",
               "-l", "127.0.0.1", "-I", "1m", "-t", "2", "-u", "root",
               (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Is the last key stored there (the state survived)?  -1 if it does not
 * answer. */
static uint64_t last_key;

static int mc_hit(int port, int timeout_ms)
{
    char rep[1024], req[64];
    int s = mc_connect(port, timeout_ms);
    if (s < 0)
        return -1;
    int len = snprintf(req, sizeof req, "get k%llu\r\n", (unsigned long long)last_key);
    int n = mc_io(s, req, (size_t)len, rep, sizeof rep);
    close(s);
    return n < 0 ? -1 : strncmp(rep, "VALUE", 5) == 0;
}

static void warm_memcached(uint64_t size, const char *label, int port)
{
    if (access("/usr/bin/memcached", X_OK) != 0) {
        bench_row(label, "memcached -e", "ms", 0, 0, 0,
                  "not run: not installed (bench/run installs it)");
        return;
    }
    char file[128];
    snprintf(file, sizeof file, "%s/memcached.mem", site);
    uint64_t mb = size / (1 << 20) + 64;
    pid_t pid = mc_start(file, mb, port);
    int s = mc_connect(port, 10000);
    if (s < 0) {
        bench_row(label, "memcached -e", "ms", 0, 0, 0, "not run: did not start");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return;
    }
    size_t vlen = 512 * 1024;
    char *req = malloc(vlen + 128), rep[256];
    uint64_t items = size / vlen, stored = 0;
    for (uint64_t i = 0; i < items; i++) {
        int h = snprintf(req, 128, "set k%llu 0 0 %zu\r\n", (unsigned long long)i, vlen);
        memset(req + h, 'a' + (int)(i % 26), vlen);
        memcpy(req + h + vlen, "\r\n", 2);
        if (mc_io(s, req, (size_t)h + vlen + 2, rep, sizeof rep) < 0 ||
            strncmp(rep, "STORED", 6) != 0)
            break;
        last_key = i;
        stored++;
    }
    if (getenv("HR_BENCH_DEBUG"))
        fprintf(stderr, "memcached: %llu of %llu items stored\n",
                (unsigned long long)stored, (unsigned long long)items);
    close(s);
    free(req);
    /* graceful: SIGUSR1 saves and exits; a new one restores */
    double t0 = now_ms();
    kill(pid, SIGUSR1);
    waitpid(pid, NULL, 0);
    /* memcached refuses its saved state in the second it was stopped
     * ("restart incompatible ... [stop_time]"): start in the next one */
    time_t stopped = time(NULL);
    while (time(NULL) == stopped)
        usleep(1000);
    pid = mc_start(file, mb, port);
    int hit = mc_hit(port, 600000);
    double graceful = now_ms() - t0;
    char note[160];
    snprintf(note, sizeof note, "SIGUSR1, exit, restart in the next second "
             "(it refuses the same one); state %s", hit == 1 ? "kept" : "LOST");
    bench_row(label, "memcached -e, graceful", "ms", graceful, graceful,
              ours > 0 ? graceful / ours : 0, note);
    /* SIGKILL: the memory file is not valid, the cache starts empty */
    t0 = now_ms();
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    pid = mc_start(file, mb, port);
    hit = mc_hit(port, 600000);
    double killed = now_ms() - t0;
    snprintf(note, sizeof note, "after SIGKILL: serving again, state %s",
             hit == 1 ? "kept" : "LOST (starts empty)");
    bench_row(label, "memcached -e, SIGKILL", "ms", killed, killed, 0, note);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlink(file);
}

static uint64_t mem_available(void)
{
    char line[256];
    unsigned long long kb = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return (uint64_t)kb * 1024;
}

int main(int argc, char **argv)
{
    char path[PATH_MAX];
    if (argc < 3 || !realpath(argv[1], path) ||
        snprintf(hr, sizeof hr, "%s", path) >= (int)sizeof hr ||
        !realpath(argv[2], path) ||
        snprintf(server, sizeof server, "%s", path) >= (int)sizeof server) {
        fprintf(stderr, "usage: warm_bench HR_BIN WARM_SERVER [--quick]\n");
        return 2;
    }
    int quick = argc > 3 && strcmp(argv[3], "--quick") == 0;
    static const double full[] = {0.1, 1, 4}, fast[] = {0.1};
    const double *gib = quick ? fast : full;
    int nsizes = quick ? 1 : 3;
    bench_header("warm state: SIGKILL of a server with N GiB, until it serves with it");
    for (int k = 0; k < nsizes; k++) {
        uint64_t size = (uint64_t)(gib[k] * (double)(1ull << 30)) / 4096 * 4096;
        char label[64];
        snprintf(label, sizeof label, "warm_state_%.1fGiB", gib[k]);
        if (size * 3 > mem_available()) {
            bench_row(label, "hotrestart", "ms", 0, 0, 0,
                      "not run: not enough memory for three copies");
            continue;
        }
        snprintf(site, sizeof site, "/dev/shm/hrwarm.XXXXXX");
        if (!mkdtemp(site))
            return 1;
        setenv("HR_SITE", site, 1);
        snprintf(fifo, sizeof fifo, "%s/ready", site);
        mkfifo(fifo, 0600);
        rd = open(fifo, O_RDWR);
        ours = 0;
        warm_hotrestart(size, label, quick ? 3 : 5);
        warm_cold(size, label, quick ? 3 : 5);
        warm_memcached(size, label, 11311 + k);
        close(rd);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", site);
        sh(cmd);
    }
    return 0;
}
