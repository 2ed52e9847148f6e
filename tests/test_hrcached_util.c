/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "test_hrcached_util.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

pid_t mc_fork(void)
{
    pid_t parent = getpid(), pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
                     getppid() != parent))
        _exit(126);              /* the test died before the child knew */
    return pid;
}

int mc_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(fd, 1024), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static pid_t started[64];
static int nstarted;

void mc_cleanup(void)
{
    for (int i = 0; i < nstarted; i++)
        if (started[i] > 0 && kill(started[i], SIGKILL) == 0)
            wait_status(started[i]);
    nstarted = 0;
    char out[256], sock[300];
    const char *site = getenv("HR_SITE");
    snprintf(sock, sizeof sock, "%s/control.sock", site ? site : "");
    if (site && access(sock, F_OK) == 0)
        run_hr(out, sizeof out, "site", "stop", NULL);
}

pid_t mc_start(int lfd, const char *const *args)
{
    pid_t pid = mc_fork();
    if (pid > 0) {                     /* remember it, for mc_cleanup */
        int i = 0;
        while (i < nstarted && started[i] > 0 && kill(started[i], 0) == 0)
            i++;
        if (i == nstarted && nstarted < 64)
            nstarted++;
        if (i < 64)
            started[i] = pid;
    }
    if (pid == 0) {
        const char *argv[32] = {HRCACHED_BIN};
        for (int i = 0; args && args[i] && i < 30; i++)
            argv[i + 1] = args[i];
        if (dup2(lfd, 3) < 0)
            _exit(126);
        char spid[32];
        snprintf(spid, sizeof spid, "%d", (int)getpid());
        setenv("LISTEN_FDS", "1", 1);
        setenv("LISTEN_PID", spid, 1);
        execv(HRCACHED_BIN, (char **)argv);
        _exit(127);
    }
    return pid;
}

int mc_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    return wait_status(pid);
}

int mc_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    cr_assert_eq(r, 0, "connect: %s", strerror(errno));
    struct timeval tv = {.tv_sec = 20};   /* a test that hangs fails */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

ssize_t mc_ask(int fd, const char *cmd, size_t cmdlen, const char *end,
               char *out, size_t cap)
{
    size_t done = 0, elen = strlen(end);
    while (done < cmdlen) {
        ssize_t n = send(fd, cmd + done, cmdlen - done, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    size_t len = 0;
    for (;;) {
        if (len >= elen && memcmp(out + len - elen, end, elen) == 0)
            break;
        if (len + 1 >= cap)
            return -1;
        ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
    }
    out[len] = 0;
    return (ssize_t)len;
}

const char *mc_line(int fd, const char *cmd)
{
    static char buf[65536];
    if (mc_ask(fd, cmd, strlen(cmd), "\r\n", buf, sizeof buf) < 0)
        return "<closed>";
    return buf;
}

const char *mc_ask_s(int fd, const char *cmd, size_t len, const char *end)
{
    static char out[2 << 20];
    cr_assert_gt(mc_ask(fd, cmd, len, end, out, sizeof out), 0,
                 "no reply to %.60s", cmd);
    return out;
}

const char *mc_store_n(int fd, const char *verb, const char *key, size_t n,
                       char c, const char *tail, const char *after)
{
    size_t cap = n + 512;
    char *cmd = malloc(cap);
    cr_assert_not_null(cmd);
    int h = snprintf(cmd, cap, "%s %s 0 0 %zu%s\r\n", verb, key, n, tail);
    memset(cmd + h, c, n);
    int t = snprintf(cmd + h + n, 256, "\r\n%s", after);
    const char *r = mc_ask_s(fd, cmd, (size_t)h + n + (size_t)t, "\r\n");
    free(cmd);
    return r;
}

uint64_t mc_stat(int fd, const char *cmd, const char *name)
{
    static char out[16384];
    char key[64];
    cr_assert_gt(mc_ask(fd, cmd, strlen(cmd), "END\r\n", out, sizeof out), 0);
    snprintf(key, sizeof key, "STAT %s ", name);
    const char *p = strstr(out, key);
    cr_assert_not_null(p, "no %s in:\n%s", name, out);
    return strtoull(p + strlen(key), NULL, 10);
}

hr_heap *mc_heap_open(pmm_bank **bank, void **root)
{
    hr_heap *h;
    *bank = bank_open();
    cr_assert_eq(hr_heap_open(&h, *bank, "hrcached", 0, "hrcached", 8,
                              HR_HEAP_RETRIEVE), 0);
    cr_assert_eq(hr_heap_root(h, root), 0);
    return h;
}

void mc_heap_close(hr_heap *h, pmm_bank *bank)
{
    hr_heap_close(h);
    pmm_bank_close(bank);
}

int mc_run(char *out, size_t cap, const char *const *argv)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execvp(argv[0], (char **)argv);
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(p[0], out + len, cap - 1 - len)) > 0 && len + 1 < cap)
        len += (size_t)n;
    out[len] = 0;
    char sink[4096];
    while (read(p[0], sink, sizeof sink) > 0)
        ;
    close(p[0]);
    return wait_status(pid);
}

pid_t mc_startl(int lfd, const char *a0, ...)
{
    const char *args[16];
    int n = 0;
    va_list ap;
    va_start(ap, a0);
    for (const char *a = a0; a && n < 15; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    return mc_start(lfd, args);
}

void mc_poll(int (*cond)(void *), void *arg, const char *what)
{
    poll_until(cond, arg, what); /* the tests' one poll helper (common.h) */
}

int mc_case_setup(int *port)
{
    site_new(512ull << 20, 0);
    return mc_listener(port);
}

void mc_case_teardown(void)
{
    mc_cleanup();
    site_drop();
}
