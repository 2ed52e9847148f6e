/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "common.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/heap.h>

static char site_dir[256];
static char bank_file[300];
static int site_mounted; /* site_dir is a private tmpfs (HR_TEST_HUGE) */

const char *huge_unavailable(void)
{
    char buf[256];
    int fd = open("/sys/kernel/mm/transparent_hugepage/shmem_enabled", O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return "the kernel has no shmem huge pages (no "
               "/sys/kernel/mm/transparent_hugepage/shmem_enabled)";
    buf[n] = 0;
    if (strstr(buf, "[deny]"))
        return "shmem huge pages are denied (shmem_enabled says deny)";
    return NULL;
}

int private_mount(const char *dir, const char *type, const char *opts)
{
    if (unshare(CLONE_NEWNS) != 0 ||
        mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("hrtest", dir, type, 0, opts) != 0)
        return -errno;
    return 0;
}

int private_tmpfs(const char *dir, const char *opts)
{
    return private_mount(dir, "tmpfs", opts);
}

void mounted_site(char *dir, size_t cap, const char *type, const char *opts)
{
    snprintf(dir, cap, "/tmp/hrhuge.%d", getpid());
    cr_assert_eq(mkdir(dir, 0700), 0, "%s: %s", dir, strerror(errno));
    int r = private_mount(dir, type, opts);
    if (r < 0) {
        rmdir(dir);
        dir[0] = 0;
        cr_skip_test("no private %s here (needs root, unshare(CLONE_NEWNS) "
                     "and the file system): %s", type, strerror(-r));
    }
    char site[200];
    snprintf(site, sizeof site, "%s/site", dir);
    setenv("HR_SITE", site, 1);
}

const char *site_new(uint64_t size, uint64_t max_blocks)
{
    const char *huge = getenv("HR_TEST_HUGE"), *why;
    snprintf(site_dir, sizeof site_dir, "/dev/shm/hrtest.XXXXXX");
    cr_assert_not_null(mkdtemp(site_dir), "mkdtemp: %s", strerror(errno));
    snprintf(bank_file, sizeof bank_file, "%s/ram.bank", site_dir);
    setenv("HR_SITE", site_dir, 1);
    site_mounted = 0;
    if (huge && strcmp(huge, "1") == 0) { /* the site on a huge-page tmpfs */
        if ((why = huge_unavailable())) {
            rmdir(site_dir);
            cr_skip_test("HR_TEST_HUGE: %s", why);
        }
        int r = private_tmpfs(site_dir, "size=2g,mode=0700,huge=within_size");
        if (r < 0) {
            rmdir(site_dir);
            cr_skip_test("HR_TEST_HUGE: no private huge tmpfs here (needs root "
                         "and unshare(CLONE_NEWNS)): %s", strerror(-r));
        }
        site_mounted = 1;
    }
    /* the test that made it, beside it: scripts/test.sh names the test
     * that leaves a controller running */
    char tag[300];
    snprintf(tag, sizeof tag, "%s.test", site_dir);
    FILE *f = fopen(tag, "w");
    if (f) {
        const struct criterion_test *t = criterion_current_test;
        fprintf(f, "%s::%s\n", t && t->category ? t->category : "?",
                t && t->name ? t->name : "?");
        fclose(f);
    }
    if (size || max_blocks) {
        pmm_site_config c = {.rambank_size = size, .max_blocks = max_blocks,
                             .huge = site_mounted ? PMM_HUGE_ON : PMM_HUGE_AUTO};
        int r = pmm_site_create(site_dir, &c);
        cr_assert_eq(r, 0, "site create: %s", pmm_strerror(r));
    }
    return site_dir;
}

void site_drop(void)
{
    if (!site_dir[0])
        return;
    char cmd[600];
    if (site_mounted && umount2(site_dir, MNT_DETACH) == 0)
        site_mounted = 0; /* its contents went with it */
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s.test'", site_dir, site_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", site_dir);
}

void skip_dropping_site(const char *why)
{
    site_drop();
    cr_skip_test("%s", why);
    abort(); /* cr_skip_test does not return */
}

const char *site_new_disk(char *path, size_t cap, const char *stem,
                          uint64_t ram_size, uint64_t disk_size)
{
    const char *site = site_new(0, 0);
    snprintf(path, cap, "%s.%d.bank", stem, getpid());
    unlink(path);
    pmm_site_config c = {.rambank_size = ram_size, .max_blocks = 64,
                         .diskbank_path = path, .diskbank_size = disk_size};
    int r = pmm_site_create(site, &c);
    cr_assert_eq(r, 0, "site create: %s", pmm_strerror(r));
    return site;
}

void disk_bank_drop(const char *path)
{
    char pres[300];
    unlink(path);
    snprintf(pres, sizeof pres, "%s.presence", path);
    unlink(pres);
}

void site_start(char *out, size_t len)
{
    cr_assert_eq(run_hr(out, len, "site", "start", NULL), 0, "%s", out);
}

const char *site_up(char *out, size_t len)
{
    const char *site = site_new(0, 0);
    site_start(out, len);
    return site;
}

void site_stop_drop(void)
{
    run_hr(NULL, 0, "site", "stop", NULL);
    site_drop();
}

const char *site_bank(void)
{
    return bank_file;
}

pmm_bank *bank_open(void)
{
    pmm_bank *b = NULL;
    int r = pmm_bank_open(&b, NULL, "RAM", PMM_OPEN_CREATE);
    cr_assert_eq(r, 0, "bank open: %s", pmm_strerror(r));
    return b;
}

int wait_status(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int run_prog(const char *path, const char *const argv[], const char *in,
             char *out, size_t len)
{
    int p[2], q[2];
    cr_assert_eq(pipe(p), 0);
    cr_assert_eq(pipe(q), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(q[0], 0);
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        close(q[0]);
        close(q[1]);
        execv(path, (char **)argv);
        _exit(127);
    }
    close(p[1]);
    close(q[0]);
    size_t inlen = in ? strlen(in) : 0;
    cr_assert(inlen <= 65536, "run_prog: its input must fit in a pipe");
    if (inlen)
        cr_assert_eq(write(q[1], in, inlen), (ssize_t)inlen);
    close(q[1]);
    size_t got = 0;
    char sink[4096];
    for (;;) {
        char *dst = out && got + 1 < len ? out + got : sink;
        size_t room = out && got + 1 < len ? len - 1 - got : sizeof sink;
        ssize_t k = read(p[0], dst, room);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        if (dst != sink)
            got += (size_t)k;
    }
    close(p[0]);
    if (out)
        out[got] = 0;
    return wait_status(pid);
}

int run_hr(char *out, size_t len, const char *arg0, ...)
{
    const char *argv[32];
    int n = 0;
    va_list ap;
    argv[n++] = HR_BIN;
    va_start(ap, arg0);
    for (const char *a = arg0; a && n < 31; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return run_prog(HR_BIN, argv, NULL, out, len);
}

int hr_all(char *out, size_t cap, const char *arg0, ...)
{
    char *argv[16] = {HR_BIN};
    int n = 1;
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a && n < 15; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    return run_all(out, cap, 0, 0, argv);
}

static void print_problem(const char *msg, void *arg)
{
    (void)arg;
    fprintf(stderr, "check: %s\n", msg);
}

int check_bank(void)
{
    return pmm_check(bank_file, 0, print_problem, NULL);
}

uint64_t bank_used(void)
{
    pmm_bank *b = bank_open();
    pmm_bank_info st;
    cr_assert_eq(pmm_bank_stat(b, &st), 0);
    pmm_bank_close(b);
    return st.used;
}

int heap_touch(const char *site, const char *medium)
{
    pmm_bank *b;
    hr_heap *h;
    int r = pmm_bank_open(&b, site, medium, 0);
    if (r < 0)
        return r;
    if ((r = hr_heap_open(&h, b, "h", 1 << 20, "k", 1, 0)) == 0)
        hr_heap_close(h);
    pmm_bank_close(b);
    return r;
}

PmmName ram_name(const char *name)
{
    PmmName n;
    memset(&n, 0, sizeof n);
    strcpy(n.medium, "RAM");
    snprintf(n.name, sizeof n.name, "%s", name);
    return n;
}

void fds_of(int pid, int *files, int *all)
{
    fds_list(pid, files, all, NULL, 0);
}

void fds_list(int pid, int *files, int *all, char *list, size_t cap)
{
    size_t used = 0;
    if (cap)
        list[0] = 0;
    char path[64], link[384], to[256];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s: %s", path, strerror(errno));
    struct dirent *e;
    *files = *all = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(link, sizeof link, "%s/%s", path, e->d_name);
        ssize_t k = readlink(link, to, sizeof to - 1);
        to[k > 0 ? k : 0] = 0;
        ++*all;
        if (strncmp(to, "socket:", 7) == 0)
            continue;
        ++*files;
        if (used < cap) {
            int w = snprintf(list + used, cap - used, " %s:%s", e->d_name, to);
            used += w > 0 ? (size_t)w : 0;
        }
    }
    closedir(d);
}

int fds_naming(int pid, const char *part)
{
    int files, all;
    static char list[16384];
    fds_list(pid, &files, &all, list, sizeof list);
    return strstr(list, part) != NULL;
}

/* /proc/PID/stat from its third field (the state) on, into buf; NULL
 * when pid is gone. */
static const char *stat_of(pid_t pid, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    const char *p = strrchr(buf, ')'); /* the name may hold any byte */
    return p && p[1] == ' ' ? p + 2 : NULL;
}

int proc_state(pid_t pid, char *state, pid_t *parent)
{
    char buf[1024];
    const char *p = stat_of(pid, buf, sizeof buf);
    int ppid = 0;
    if (!p || sscanf(p, "%c %d", state, &ppid) != 2)
        return 0;
    if (parent)
        *parent = ppid;
    return 1;
}

long long proc_stat_field(pid_t pid, int n)
{
    char buf[1024];
    const char *p = stat_of(pid, buf, sizeof buf);
    long long v;
    for (int i = 3; p && i < n; i++) { /* past the fields before n */
        p = strchr(p, ' ');
        p = p ? p + 1 : NULL;
    }
    return p && n > 3 && sscanf(p, "%lld", &v) == 1 ? v : -1;
}

unsigned long long proc_status_mask(pid_t pid, const char *key)
{
    char path[64], line[256];
    unsigned long long mask = ~0ull;
    size_t k = strlen(key);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, k) == 0 && line[k] == ':' &&
            sscanf(line + k + 1, "%llx", &mask) == 1)
            break;
    if (f)
        fclose(f);
    return mask;
}

int proc_runs(pid_t pid)
{
    char state;
    return proc_state(pid, &state, NULL) && state != 'Z' && state != 'X';
}

const char *script_file(char *path, size_t cap, const char *dir,
                        const char *name, const char *fmt, ...)
{
    va_list ap;
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    cr_assert_eq(fclose(f), 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(chmod(path, 0700), 0, "%s: %s", path, strerror(errno));
    return path;
}

void actor_command(const char *name, const char *cmd)
{
    char tmp[4200], path[4200];
    const char *site = getenv("HR_SITE");
    cr_assert_not_null(site);
    snprintf(tmp, sizeof tmp, "%s/.cmd.%s", site, name);
    snprintf(path, sizeof path, "%s/cmd.%s", site, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert(fd >= 0, "%s: %s", tmp, strerror(errno));
    cr_assert_eq(write(fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
    close(fd);
    cr_assert_eq(rename(tmp, path), 0, "%s: %s", path, strerror(errno));
}

int run_all(char *buf, size_t cap, uid_t uid, gid_t gid, char *const argv[])
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        if (uid && (setgid(gid) || setuid(uid)))
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    size_t got = 0;
    ssize_t k;
    while (got + 1 < cap && (k = read(p[0], buf + got, cap - 1 - got)) > 0)
        got += (size_t)k;
    buf[got] = 0;
    close(p[0]);
    return wait_status(pid);
}

/* A port below the kernel's ephemeral range (ip_local_port_range): the
 * kernel never gives one of those to a connect() or a bind to port 0, so
 * between this probe and the bind that uses it, only a process choosing
 * ports the same way can take it (a test's clients make thousands of
 * connections a second, each on an ephemeral port: a port probed in that
 * range could be taken by one of them, and the bind then fails).  Drawn
 * at random from [low / 2, low) and bound once to see that it is free;
 * the kernel's pick when no such port is free. */
int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    char range[64] = "";
    int low = 0, fd = open("/proc/sys/net/ipv4/ip_local_port_range", O_RDONLY);
    if (fd >= 0) {
        ssize_t k = read(fd, range, sizeof range - 1);
        range[k > 0 ? k : 0] = 0;
        close(fd);
        low = atoi(range);
    }
    static uint64_t seed;
    if (!seed)
        seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL);
    for (int tries = 0; low >= 2048 && tries < 200; tries++) {
        int port = low / 2 + (int)(test_rand(&seed) % (uint64_t)(low - low / 2));
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert(s >= 0);
        a.sin_port = htons((uint16_t)port);
        int r = bind(s, (struct sockaddr *)&a, sizeof a);
        close(s);
        if (r == 0)
            return port;
    }
    a.sin_port = 0;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(s >= 0);
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

/* The one bounded poll helper (common.h): every wait of the tests. */
static double mono_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

unsigned poll_bound_s(void)
{
    const char *v = getenv("HR_TEST_WAIT_S");
    long s = v ? strtol(v, NULL, 10) : 0;
    return s > 0 ? (unsigned)s : 120;
}

/* When this test's process began: Criterion (BoxFort) starts each test
 * in a process of its own, exec'd anew, so its constructors run per test.
 * A child that a test forks keeps its parent's figure, as the Criterion
 * timer that ends the test keeps its own. */
static double test_began;
__attribute__((constructor)) static void note_began(void)
{
    test_began = mono_now();
}

/* The timeout of extra data d, copied out: in a test's process Criterion
 * hands over the data unaligned (UBSan: a member access at an odd
 * address), so it is read as bytes. */
static double timeout_of(const struct criterion_test_extra_data *d)
{
    double v = 0;
    if (d)
        memcpy(&v, (const char *)d +
                   offsetof(struct criterion_test_extra_data, timeout),
               sizeof v);
    return v;
}

/* The Criterion timeout of the running test (its own, else its suite's),
 * in seconds, or 0 for none. */
static double test_timeout_s(void)
{
    const struct criterion_test *t = criterion_current_test;
    const struct criterion_suite *u = criterion_current_suite;
    struct criterion_test_extra_data *td = NULL, *ud = NULL;
    if (t) /* the same care for the pointers to it */
        memcpy(&td, (const char *)t + offsetof(struct criterion_test, data),
               sizeof td);
    if (u)
        memcpy(&ud, (const char *)u + offsetof(struct criterion_suite, data),
               sizeof ud);
    double own = timeout_of(td), suite = timeout_of(ud);
    return own > 0 ? own : suite > 0 ? suite : 0;
}

/* w's deadline from now: its bound, or 5 s before the test's Criterion
 * timeout if that comes first (but at least 1 s from now), so that a wait
 * that hangs fails naming what it waited for, not as Criterion's bare
 * "Timed out". */
static void set_deadline(struct poll_wait *w)
{
    double now = mono_now(), until = now + poll_bound_s();
    double timeout = test_timeout_s(), cut = test_began + timeout - 5;
    w->start = now;
    w->by_timeout = timeout > 0 && cut < until;
    if (w->by_timeout)
        until = cut > now + 1 ? cut : now + 1;
    w->until = until;
}

struct poll_wait poll_begin(const char *what)
{
    struct poll_wait w = {.what = what, .pause_us = 1000};
    set_deadline(&w);
    return w;
}

void pace_us(unsigned long us)
{
    struct timespec t = {.tv_sec = (time_t)(us / 1000000),
                         .tv_nsec = (long)(us % 1000000) * 1000};
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

void poll_give_up(const struct poll_wait *w, const char *why)
{
    cr_assert_fail("gave up waiting for %s after %.1f s and %lu tries: %s", w->what,
            mono_now() - w->start, w->tries, why);
    abort(); /* cr_assert_fail does not return */
}

void poll_pause(struct poll_wait *w, const char *detail)
{
    w->tries++;
    if (mono_now() > w->until)
        cr_assert_fail("timed out after %.1f s (%s) and %lu tries waiting "
                "for %s%s%s", mono_now() - w->start, w->by_timeout
                ? "the test's Criterion timeout comes 5 s later"
                : "the bound, HR_TEST_WAIT_S: 120 s by default", w->tries,
                w->what, detail ? "; last seen:\n" : "", detail ? detail : "");
    pace_us(w->pause_us);
    if (w->pause_us < 64000)
        w->pause_us *= 2;
}

void poll_progress(struct poll_wait *w)
{
    set_deadline(w);
    w->pause_us = 1000;
}

void poll_until(int (*cond)(void *arg), void *arg, const char *what)
{
    POLL_UNTIL(cond(arg), what);
}

static int user_exists(void *name) { return getpwnam(name) != NULL; }

struct passwd *second_user(void)
{
    struct passwd *pw = getpwnam("hrtest2");
    if (!pw) {
        /* tests run in parallel may make it at once: the loser's useradd
         * fails on the other's lock, and waits for the user to be there */
        if (system("useradd -M -N -s /usr/sbin/nologin hrtest2 2>/dev/null"))
            poll_until(user_exists, "hrtest2", "user hrtest2, made by "
                       "another test (useradd failed here)");
        pw = getpwnam("hrtest2");
    }
    cr_assert_not_null(pw, "no user hrtest2");
    return pw;
}

uint64_t test_seed(const char *name)
{
    const char *v = getenv("HR_TEST_SEED");
    uint64_t seed;
    if (v && *v) {
        seed = strtoull(v, NULL, 0);
    } else {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        seed = ((uint64_t)t.tv_sec * 1000000007u) ^ (uint64_t)t.tv_nsec ^
               ((uint64_t)getpid() << 32);
    }
    seed = seed ? seed : 1;
    fprintf(stderr, "%s: HR_TEST_SEED=%llu replays this run\n", name,
            (unsigned long long)seed);
    return seed;
}

long test_count(const char *name, long dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    cr_assert(errno == 0 && *end == 0 && end != v && n > 0,
              "%s=%s: not a whole number above 0 (the test would do "
              "nothing)", name, v);
    return n;
}

uint64_t test_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15u;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

long rss_kb(int pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static int drop_one(const char *p, const struct stat *st, int flag,
                    struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    remove(p);
    return 0;
}

void tree_drop(const char *path)
{
    nftw(path, drop_one, 16, FTW_DEPTH | FTW_PHYS);
}
