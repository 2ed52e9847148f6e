/* SPDX-License-Identifier: MIT */
/*
 * heap_disk_bench.c - durable commits: a heap on the DISK medium, its bank
 * file on a persistent file system, against PMDK with its pool there too
 * (no PMEM_IS_PMEM_FORCE: a file, so PMDK persists with msync as we do).
 *
 *   heap_disk_tx64         begin, save+write 64 B, commit: durable on return
 *   heap_disk_alloc_free   allocate + free 64 B in one transaction, durable
 *   heap_disk_flushes      msync calls a transaction of each kind makes,
 *                          counted through the OS layer's tap (src/os)
 *
 *   heap_disk_bench [--quick] [DIR]    (DIR: where the files go, default
 *                                       the current directory)
 *
 * Each figure is the median (and 99th percentile) of single transactions,
 * each timed alone: a flush's cost is the device's, and varies.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/heap.h>

#ifdef HAVE_PMDK
#include <libpmemobj.h>
#endif

#include "os.h"
#include "report.h"

static long msyncs;
static void count(int what, int fd, const void *buf, size_t len, uint64_t off)
{
    (void)fd, (void)buf, (void)len, (void)off;
    msyncs += what == PMM_OS_T_MSYNC;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static hr_heap *heap;
static uint64_t *obj;
static uint8_t src[64];
#ifdef HAVE_PMDK
static PMEMobjpool *pop;
static PMEMoid pobj;
#endif

static void ours_tx64(int i)
{
    src[0] = (uint8_t)i;
    hr_heap_begin(heap);
    hr_heap_write(heap, obj, src, 64);
    hr_heap_commit(heap);
}

static void ours_alloc_free(int i)
{
    void *p;
    (void)i;
    hr_heap_begin(heap);
    hr_heap_alloc(heap, 64, 0, &p);
    hr_heap_free(heap, p);
    hr_heap_commit(heap);
}

#ifdef HAVE_PMDK
static void pmdk_tx64(int i)
{
    src[0] = (uint8_t)i;
    TX_BEGIN(pop) {
        pmemobj_tx_add_range(pobj, 0, 64);
        memcpy(pmemobj_direct(pobj), src, 64);
    } TX_END
}

static void pmdk_alloc_free(int i)
{
    (void)i;
    TX_BEGIN(pop) {
        PMEMoid o = pmemobj_tx_alloc(64, 0);
        pmemobj_tx_free(o);
    } TX_END
}
#endif

/* n transactions, each timed: median and p99 in ns; msync calls per
 * transaction to *flushes. */
static double run(void (*fn)(int), int n, double *p99, double *flushes)
{
    double *v = malloc(sizeof *v * (size_t)n), med;
    long before = msyncs;
    for (int i = 0; i < n; i++) {
        double t0 = now_ns();
        fn(i);
        v[i] = now_ns() - t0;
    }
    *flushes = (double)(msyncs - before) / n;
    bench_stats(v, n, &med, p99);
    free(v);
    return med;
}

static void rows(const char *name, double ours, double ours99, double theirs,
                 double theirs99, const char *what)
{
    char note[160];
    snprintf(note, sizeof note, "%s; DISK bank on a persistent file system, "
             "durable on return", what);
    bench_row(name, "hotrestart", "ns", ours, ours99, 0, note);
    if (theirs > 0)
        bench_row(name, "PMDK, pool on the same file system", "ns", theirs,
                  theirs99, theirs / ours, "msync (not pmem), same run");
    else
        bench_row(name, "PMDK", "ns", 0, 0, 0, "not run: the peer was not built");
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    char *dir = realpath(argc > 1 + quick ? argv[1 + quick] : ".", NULL);
    if (!dir)
        return 1;
    int n = quick ? 300 : 3000;
    char site[64], bank[512], pool[512];
    snprintf(site, sizeof site, "/dev/shm/hrbench.disk.%d", getpid());
    snprintf(bank, sizeof bank, "%s/hrbench-disk.%d.bank", dir, getpid());
    snprintf(pool, sizeof pool, "%s/hrbench-disk.%d.pmdk", dir, getpid());
    pmm_site_config c = {.rambank_size = 1 << 20, .max_blocks = 64,
                         .diskbank_path = bank, .diskbank_size = 64 << 20};
    pmm_bank *b;
    if (pmm_site_create(site, &c) || pmm_bank_open(&b, site, "DISK", 0) ||
        hr_heap_open(&heap, b, "bench", 16 << 20, NULL, 0, 0) ||
        hr_heap_begin(heap) ||
        hr_heap_alloc(heap, 64, HR_HEAP_ZERO, (void **)&obj) ||
        hr_heap_commit(heap)) {
        fprintf(stderr, "heap_disk_bench: cannot make a DISK heap in %s\n",
                dir);
        return 1;
    }
    pmm__os_tap = count;
    double tx99, tx_fl, af99, af_fl, p_tx = 0, p_tx99 = 0, p_af = 0,
           p_af99 = 0, unused;
    double tx = run(ours_tx64, n, &tx99, &tx_fl);
    double af = run(ours_alloc_free, n, &af99, &af_fl);
    pmm__os_tap = NULL;
#ifdef HAVE_PMDK
    unlink(pool);
    if ((pop = pmemobj_create(pool, "bench", 64 << 20, 0600)) &&
        pmemobj_zalloc(pop, &pobj, 64, 0) == 0) {
        p_tx = run(pmdk_tx64, n, &p_tx99, &unused);
        p_af = run(pmdk_alloc_free, n, &p_af99, &unused);
    }
    if (pop)
        pmemobj_close(pop);
    unlink(pool);
#endif
    (void)unused;
    bench_header("persistent heap on DISK (median of single transactions)");
    rows("heap_disk_tx64", tx, tx99, p_tx, p_tx99, "begin, save+write 64 B, "
         "commit");
    rows("heap_disk_alloc_free", af, af99, p_af, p_af99,
         "64 B alloc + free in one transaction");
    bench_row("heap_disk_flushes", "hotrestart, 64 B transaction", "msync",
              tx_fl, tx_fl, 0, "counted by the OS layer's tap");
    bench_row("heap_disk_flushes", "hotrestart, alloc + free", "msync", af_fl,
              af_fl, 0, "counted by the OS layer's tap");
    hr_heap_close(heap);
    pmm_bank_close(b);
    pmm_site_destroy(site);
    unlink(bank);
    return 0;
}
