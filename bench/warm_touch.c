/* SPDX-License-Identifier: MIT */
/*
 * warm_touch.c - back at full speed, not just back (issue 23): a process
 * that wrote a 1 GiB block is killed with SIGKILL; a fresh process opens
 * the bank, retrieves the block and reads one byte of every 4 KiB.  The
 * time from before the open to the last read, on a huge-page bank and on
 * a bank of 4 KiB pages, each on its own tmpfs (huge=within_size and
 * huge=never) in this process's own mount namespace.  The _write rows do
 * the same with a store to one byte of every 4 KiB instead of a read: the
 * kernel's fault-around (16 pages mapped per read fault of a cached file)
 * does not apply to a write fault of a shared mapping, so there a 4 KiB
 * bank takes one fault per page, as a restarted server that updates its
 * state does.
 *
 *   warm_touch [--quick]
 *
 * Needs root (a private mount namespace); otherwise each row says "not
 * run" and why.  Not a test: it asserts nothing about time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/pmm.h>

#include "report.h"

#define GIB (1ull << 30)
#define HUGE_FS "size=1200m,mode=0700,huge=within_size"
#define SMALL_FS "size=1200m,mode=0700,huge=never"
#define PAGE 4096u

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int status_of(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The writer: the block made and written whole, then killed. */
static void writer(const char *site)
{
    pmm_bank *b;
    void *p;
    if (pmm_bank_open(&b, site, "RAM", 0) != 0 ||
        pmm_alloc(b, "warm", GIB, "W", 1, 0, &p, NULL) != 0)
        _exit(1);
    for (uint64_t off = 0; off < GIB; off += PAGE)
        ((volatile unsigned char *)p)[off] = (unsigned char)(off >> 12);
    kill(getpid(), SIGKILL);
    _exit(2);
}

/* The fresh process: open, retrieve, one byte of every 4 KiB read (or
 * written, wr); writes the milliseconds it took to fd, then those of the
 * same accesses again, every page now mapped (the floor: what they cost
 * without a fault). */
static void toucher(const char *site, unsigned flags, int wr, int fd)
{
    pmm_bank *b;
    void *p;
    double t = now_ms();
    if (pmm_bank_open(&b, site, "RAM", 0) != 0 ||
        pmm_alloc(b, "warm", GIB, "W", 1, PMM_RETRIEVE | flags, &p, NULL) != 0)
        _exit(1);
    unsigned sum = 0;
    double ms[2];
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t off = 0; off < GIB && wr; off += PAGE)
            ((volatile unsigned char *)p)[off] = (unsigned char)pass;
        for (uint64_t off = 0; off < GIB && !wr; off += PAGE)
            sum += ((volatile unsigned char *)p)[off];
        ms[pass] = now_ms() - t;
        t = now_ms();
    }
    if (sum == 0xffffffffu || write(fd, ms, sizeof ms) != sizeof ms)
        _exit(3);
    _exit(0);
}

/* Median and slowest of rounds fresh processes over one killed writer's
 * block, on a tmpfs mounted with opts; 0 with *why when not run. */
static double floor_med, floor_p99; /* the second reads of the last run */

static double measure(const char *opts, unsigned huge, unsigned flags,
                      int wr, int rounds, double *p99, const char **why)
{
    char dir[64], site[96];
    double v[16], f[16], med = 0;
    int fds[2], n = 0;
    snprintf(dir, sizeof dir, "/tmp/hrwarm.%d", getpid());
    snprintf(site, sizeof site, "%s/site", dir);
    if (mkdir(dir, 0700) != 0 || mount("hrwarm", dir, "tmpfs", 0, opts) != 0) {
        *why = "not run: no private tmpfs (needs root)";
        rmdir(dir);
        return 0;
    }
    pmm_site_config c = {.rambank_size = GIB + (64ull << 20), .huge = huge};
    int r = pmm_site_create(site, &c);
    pid_t pid = r == 0 ? fork() : -1;
    if (pid == 0)
        writer(site);
    if (r != 0 || status_of(pid) != 128 + SIGKILL || pipe(fds) != 0) {
        *why = r == -EOPNOTSUPP ? "not run: no huge pages for tmpfs here"
                                : "not run: the writer failed";
        goto out;
    }
    for (int i = 0; i < rounds; i++) {
        if ((pid = fork()) == 0)
            toucher(site, flags, wr, fds[1]);
        double ms[2];
        if (status_of(pid) != 0 || read(fds[0], ms, sizeof ms) != sizeof ms)
            break;
        v[n] = ms[0];
        f[n++] = ms[1];
    }
    close(fds[0]);
    close(fds[1]);
    if (n < rounds)
        *why = "not run: a fresh process failed";
    else {
        bench_stats(v, n, &med, p99);
        bench_stats(f, n, &floor_med, &floor_p99);
    }
out:
    umount2(dir, MNT_DETACH);
    rmdir(dir);
    return n == rounds ? med : 0;
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int rounds = quick ? 3 : 7;
    const char *ns = NULL, *why_h = NULL, *why_s = NULL, *why_p = NULL;
    const char *why_hw = NULL, *why_sw = NULL;
    double hp99 = 0, sp99 = 0, pp99 = 0, huge = 0, small = 0, pop = 0;
    double hwp99 = 0, swp99 = 0, hugew = 0, smallw = 0;
    double flo = 0, fp99 = 0, flow = 0, fwp99 = 0;
    bench_header("warm touch: a fresh process reads 1 GiB left by a SIGKILLed one");
    if (unshare(CLONE_NEWNS) != 0 ||
        mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        ns = why_h = why_s = why_p = why_hw = why_sw =
            "not run: no private mount namespace (needs root)";
    if (!ns) {
        huge = measure(HUGE_FS, PMM_HUGE_ON, 0, 0, rounds, &hp99, &why_h);
        flo = floor_med;
        fp99 = floor_p99;
        small = measure(SMALL_FS, PMM_HUGE_OFF, 0, 0, rounds, &sp99, &why_s);
        pop = measure(HUGE_FS, PMM_HUGE_ON, PMM_POPULATE, 0, rounds, &pp99,
                      &why_p);
        hugew = measure(HUGE_FS, PMM_HUGE_ON, 0, 1, rounds, &hwp99, &why_hw);
        flow = floor_med;
        fwp99 = floor_p99;
        smallw = measure(SMALL_FS, PMM_HUGE_OFF, 0, 1, rounds, &swp99, &why_sw);
    }
    bench_row("warm_touch_1GiB", "hotrestart, huge pages", "ms", huge, hp99, 0,
              huge > 0 ? "open + retrieve + a read per 4 KiB; 2 MiB pages" : why_h);
    bench_row("warm_touch_1GiB", "hotrestart, 4 KiB pages", "ms", small, sp99,
              huge > 0 && small > 0 ? small / huge : 0,
              small > 0 ? "the same on a tmpfs mounted huge=never" : why_s);
    bench_row("warm_touch_1GiB", "hotrestart, huge pages, PMM_POPULATE", "ms",
              pop, pp99, huge > 0 && pop > 0 ? pop / huge : 0,
              pop > 0 ? "the retrieve populates the block before the reads" : why_p);
    bench_row("warm_touch_1GiB", "the reads alone (already mapped)", "ms",
              flo, fp99, huge > 0 && flo > 0 ? flo / huge : 0,
              flo > 0 ? "the same reads again in that process: no fault, "
                        "what memory and the TLB cost" : why_h);
    bench_row("warm_touch_1GiB_write", "hotrestart, huge pages", "ms", hugew,
              hwp99, 0,
              hugew > 0 ? "open + retrieve + a store per 4 KiB; 2 MiB pages"
                        : why_hw);
    bench_row("warm_touch_1GiB_write", "hotrestart, 4 KiB pages", "ms", smallw,
              swp99, hugew > 0 && smallw > 0 ? smallw / hugew : 0,
              smallw > 0 ? "the same on huge=never: a write fault maps one "
                           "page (no fault-around)" : why_sw);
    bench_row("warm_touch_1GiB_write", "the stores alone (already mapped)",
              "ms", flow, fwp99, hugew > 0 && flow > 0 ? flow / hugew : 0,
              flow > 0 ? "the same stores again: no fault" : why_hw);
    return 0;
}
