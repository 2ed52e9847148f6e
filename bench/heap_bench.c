/* SPDX-License-Identifier: MIT */
/*
 * heap_bench.c - the persistent heap against its peers, in one table:
 *
 *   heap_tx64         a transaction that saves and changes 64 bytes and
 *                     commits, against PMDK (TX_BEGIN, pmemobj_tx_add_range,
 *                     commit) and a plain 64-byte store (the floor);
 *   heap_tx64_threads the same from 1-16 threads at once, each on its own
 *                     object: aggregate transactions a second against one
 *                     thread's, and PMDK's with its own lanes (same run);
 *   heap_alloc_free   allocate + free of 64 bytes inside one transaction,
 *                     against PMDK (pmemobj_tx_alloc/free in a transaction),
 *                     Boost.Interprocess allocate/deallocate (not
 *                     crash-safe; heap_boost.cpp in the same run) and malloc;
 *   heap_syscalls     system calls made by 1,000,000 of each of the above on
 *                     a RAM heap: a child runs them under a seccomp filter
 *                     that traps every system call, and counts the traps;
 *   heap_frag         used/live after 10 million random allocations and
 *                     frees of mixed sizes.
 *
 *   heap_bench [--quick] [BOOST_FIGURES]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/heap.h>

#ifdef HAVE_PMDK
#include <libpmemobj.h>
#endif

#include "frag_mix.h"
#include "report.h"
#include "syscall_trap.h"

#define REPS 15
static double slowest;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

typedef void (*op_fn)(int n);
static double measure(op_fn f, int n)
{
    double r[REPS];
    for (int i = 0; i < REPS; i++) {
        double t = now();
        f(n);
        r[i] = (now() - t) / n;
    }
    qsort(r, REPS, sizeof *r, bench_cmp);
    slowest = r[REPS - 1];
    return r[REPS / 2];
}

static hr_heap *heap;
static uint8_t *obj;                /* a 64-byte object of the heap */
static uint8_t src[64];

static void ours_tx64(int n)
{
    for (int i = 0; i < n; i++) {
        src[0] = (uint8_t)i;
        hr_heap_begin(heap);
        hr_heap_write(heap, obj, src, 64);
        hr_heap_commit(heap);
    }
}

static void ours_alloc_free(int n)
{
    void *p;
    for (int i = 0; i < n; i++) {
        hr_heap_begin(heap);
        hr_heap_alloc(heap, 64, 0, &p);
        hr_heap_free(heap, p);
        hr_heap_commit(heap);
    }
}

static void floor_store64(int n)
{
    static uint8_t dst[64];
    for (int i = 0; i < n; i++) {
        src[0] = (uint8_t)i;
        memcpy(dst, src, 64);
        __asm__ __volatile__("" ::: "memory");
    }
}

static void malloc_free64(int n)
{
    for (int i = 0; i < n; i++) {
        void *volatile p = malloc(64);
        free(p);
    }
}

#ifdef HAVE_PMDK
static PMEMobjpool *pop;
static PMEMoid pobj;

/* One transaction a call: TX_BEGIN is a setjmp, kept out of the loops. */
static __thread PMEMoid tobj; /* the calling thread's object */
static void pmdk_tx64_once(void)
{
    TX_BEGIN(pop) {
        pmemobj_tx_add_range(tobj, 0, 64);
        memcpy(pmemobj_direct(tobj), src, 64);
    } TX_END
}

static void pmdk_alloc_free_once(void)
{
    TX_BEGIN(pop) {
        PMEMoid o = pmemobj_tx_alloc(64, 0);
        pmemobj_tx_free(o);
    } TX_END
}

static void pmdk_tx64(int n)
{
    tobj = pobj;
    for (int i = 0; i < n; i++) {
        src[0] = (uint8_t)i;
        pmdk_tx64_once();
    }
}

static void pmdk_alloc_free(int n)
{
    for (int i = 0; i < n; i++)
        pmdk_alloc_free_once();
}
#endif

static double peer_figure(const char *file, const char *key)
{
    char k[64];
    double v;
    FILE *f = file ? fopen(file, "r") : NULL;
    if (!f)
        return 0;
    while (fscanf(f, "%63s %lf", k, &v) == 2)
        if (strcmp(k, key) == 0) {
            fclose(f);
            return v;
        }
    fclose(f);
    return 0;
}

static void peer_row(const char *name, const char *system, double v,
                     double p99, double ours, const char *note)
{
    if (v > 0)
        bench_row(name, system, "ns", v, p99 < 0 ? slowest : p99, v / ours,
                  note);
    else
        bench_row(name, system, "ns", 0, 0, 0, "not run: the peer was not built");
}

/* --- transactions of N threads at once, each on its own object --------- */

#define TMAX 16
struct tslot {
    void *obj;      /* ours: a 64-byte object, granules of its own */
#ifdef HAVE_PMDK
    PMEMoid pobj;   /* PMDK's */
#endif
    int pmdk;
    long n, retries; /* transactions to run, and run again (ours) */
    double start, end; /* its run, by its own clock reads */
} __attribute__((aligned(64))); /* threads share no cache line */
static pthread_barrier_t start_line;

static void *tx_thread(void *arg)
{
    struct tslot *s = arg;
    uint8_t buf[64] = {0};
    pthread_barrier_wait(&start_line);
    s->start = now();
    for (long i = 0; i < s->n; i++) {
        buf[0] = (uint8_t)i; /* (PMDK's writes the shared src) */
#ifdef HAVE_PMDK
        if (s->pmdk) {
            tobj = s->pobj;
            pmdk_tx64_once();
            continue;
        }
#endif
        int r;
        do { /* only committed transactions count */
            if ((r = hr_heap_begin(heap)) == 0)
                r = hr_heap_write(heap, s->obj, buf, 64) == 0
                        ? hr_heap_commit(heap) : hr_heap_abort(heap) - 1;
            s->retries += r != 0;
        } while (r != 0);
    }
    s->end = now();
    return NULL;
}

/* Aggregate transactions a second of `threads` threads, median of 5. */
static double tx_rate(struct tslot *slots, int threads, int pmdk, long n)
{
    double r[5];
    for (int rep = 0; rep < 5; rep++) {
        pthread_t id[TMAX];
        pthread_barrier_init(&start_line, NULL, (unsigned)threads + 1);
        for (int i = 0; i < threads; i++) {
            slots[i].pmdk = pmdk;
            slots[i].n = n;
            slots[i].retries = 0;
            pthread_create(&id[i], NULL, tx_thread, &slots[i]);
            /* spread now: a short run ends before the scheduler would */
            cpu_set_t cpu;
            CPU_ZERO(&cpu);
            CPU_SET(i % sysconf(_SC_NPROCESSORS_ONLN), &cpu);
            pthread_setaffinity_np(id[i], sizeof cpu, &cpu);
        }
        pthread_barrier_wait(&start_line);
        double first = 0, last = 0;
        for (int i = 0; i < threads; i++) {
            pthread_join(id[i], NULL);
            first = i == 0 || slots[i].start < first ? slots[i].start : first;
            last = slots[i].end > last ? slots[i].end : last;
        }
        r[rep] = threads * (double)n / (last - first) * 1e9;
        pthread_barrier_destroy(&start_line);
    }
    qsort(r, 5, sizeof *r, bench_cmp);
    slowest = r[0];
    return r[2];
}

static void threads_rows(long n, int with_pmdk)
{
    struct tslot slots[TMAX] = {0};
    hr_heap_begin(heap);
    for (int i = 0; i < TMAX; i++) { /* 256 B apart: no granule shared */
        hr_heap_alloc(heap, 256, HR_HEAP_ZERO, &slots[i].obj);
#ifdef HAVE_PMDK
        if (with_pmdk)
            pmemobj_zalloc(pop, &slots[i].pobj, 256, 0);
#endif
    }
    hr_heap_commit(heap);
    double ours[TMAX + 1], one = 0;
    for (int pmdk = 0; pmdk <= with_pmdk; pmdk++)
        for (int t = 1; t <= TMAX; t *= 2) {
            double v = tx_rate(slots, t, pmdk, pmdk ? n / 4 : n);
            long retries = 0;
            for (int i = 0; i < t; i++)
                retries += slots[i].retries;
            one = t == 1 ? v : one;
            ours[t] = pmdk ? ours[t] : v;
            char sys[64], note[128];
            snprintf(sys, sizeof sys, "%s, %d thread%s",
                     pmdk ? "PMDK" : "hotrestart", t, t > 1 ? "s" : "");
            snprintf(note, sizeof note, "aggregate, %.2fx one thread; %ld "
                     "cores; %ld retried%s", v / one,
                     sysconf(_SC_NPROCESSORS_ONLN), retries,
                     pmdk ? "; its own lanes, pool on tmpfs" : "");
            bench_row("heap_tx64_threads", sys, "tx/s", v, slowest,
                      pmdk ? v / ours[t] : 0, note);
        }
#ifndef HAVE_PMDK
    bench_row("heap_tx64_threads", "PMDK", "tx/s", 0, 0, 0,
              "not run: the peer was not built");
#endif
}

/* --- system calls on the update path ------------------------------------ */

static volatile long traps;
static volatile long last_nr;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    traps++;
    last_nr = si->si_syscall;
}

/* In a child: n of each update, then one deliberate system call that must
 * be counted (the proof that the trap works).  Exit code: the update
 * path's traps (capped), or 255 if the trap failed. */
static long count_syscalls(int n)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (trap_all_syscalls(on_sigsys) < 0)
            _exit(254);
        ours_tx64(n);
        ours_alloc_free(n);
        long during = traps;
        syscall(SYS_getppid);
        if (traps != during + 1)
            _exit(255);
        _exit(during > 250 ? 250 : (int)during);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* --- fragmentation -------------------------------------------------------- */

#define SLOTS 20000
static void frag(long ops, const char *boost)
{
    static void *slot[SLOTS];
    static size_t size[SLOTS];
    uint64_t live = 0, peak_ratio_x1000 = 0;
    hr_heap_info st;
    double t = now();
    for (long done = 0; done < ops;) {
        hr_heap_begin(heap);
        for (int k = 0; k < 20 && done < ops; k++, done++) {
            unsigned i = (unsigned)(frag_rnd() % SLOTS);
            if (slot[i]) {
                hr_heap_free(heap, slot[i]);
                live -= size[i];
                slot[i] = NULL;
            } else {
                size[i] = frag_size();
                if (hr_heap_alloc(heap, size[i], 0, &slot[i]) < 0) {
                    slot[i] = NULL;
                    continue;
                }
                live += size[i];
            }
        }
        hr_heap_commit(heap);
        if (done % 1000000 == 0 && live) {
            hr_heap_stat(heap, &st);
            uint64_t r = (st.arena - st.largest_free) * 1000 / live;
            if (r > peak_ratio_x1000)
                peak_ratio_x1000 = r;
        }
    }
    double secs = (now() - t) / 1e9;
    hr_heap_stat(heap, &st);
    char note[200];
    snprintf(note, sizeof note, "%ld random allocs/frees (16 B-64 KiB), %.1f MB "
             "live: footprint (arena - largest free) / live; peak %.2f; "
             "%.0f ns/op", ops, live / 1e6,
             peak_ratio_x1000 / 1000.0, secs * 1e9 / (double)ops);
    double ratio = (double)(st.arena - st.largest_free) / (double)live;
    bench_row("heap_frag", "hotrestart", "x", ratio, peak_ratio_x1000 / 1000.0,
              0, note);
    double b = peer_figure(boost, "boost_frag");
    if (b > 0)
        bench_row("heap_frag", "Boost.Interprocess (rbtree best fit)", "x", b,
                  peer_figure(boost, "boost_frag_peak"), b / ratio,
                  "the same operations; segment size - largest allocatable");
    else
        bench_row("heap_frag", "Boost.Interprocess", "x", 0, 0, 0,
                  "not run: the peer was not built");
    snprintf(note, sizeof note, "object bytes incl. rounding / requested "
             "bytes (%.1f%% internal)", ((double)st.used / live - 1) * 100);
    bench_row("heap_frag_used", "hotrestart", "x", (double)st.used / live,
              (double)st.used / live, 0, note);
}

static hr_heap *make_heap(const char *site, uint64_t heap_size)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", site);
    if (system(cmd) != 0)
        abort();
    pmm_site_config c = {.rambank_size = heap_size + (64 << 20),
                         .max_blocks = 64};
    pmm_bank *b;
    hr_heap *h;
    if (pmm_site_create(site, &c) || pmm_bank_open(&b, site, "RAM", 0) ||
        hr_heap_open(&h, b, "bench", heap_size, NULL, 0, 0))
        abort();
    return h;
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    const char *boost = argc > 1 + quick ? argv[1 + quick] : NULL;
    const char *site = "/dev/shm/hrbench.heap";
    int n = quick ? 20000 : 200000;
    heap = make_heap(site, 512ull << 20);
    hr_heap_begin(heap);
    hr_heap_alloc(heap, 64, HR_HEAP_ZERO, (void **)&obj);
    hr_heap_commit(heap);

    bench_header("persistent heap (median of 15 runs, per transaction)");
    double tx = measure(ours_tx64, n);
    bench_row("heap_tx64", "hotrestart", "ns", tx, slowest, 0,
              "begin, save+write 64 B, commit; RAM, crash-safe");
    peer_row("heap_tx64", "floor: plain 64-byte store", measure(floor_store64, n),
             -1, tx, "no transaction, not crash-safe");
#ifdef HAVE_PMDK
    unlink("/dev/shm/hrbench.pmdk-heap");
    pop = pmemobj_create("/dev/shm/hrbench.pmdk-heap", "bench", 64 << 20, 0600);
    if (pop)
        pmemobj_zalloc(pop, &pobj, 64, 0);
    peer_row("heap_tx64", "PMDK TX_BEGIN/add_range/commit",
             pop ? measure(pmdk_tx64, n) : 0, -1, tx,
             getenv("PMEM_IS_PMEM_FORCE") ? "pool on tmpfs, PMEM_IS_PMEM_FORCE=1"
                                          : "pool on tmpfs");
    threads_rows(n, pop != NULL);
#else
    peer_row("heap_tx64", "PMDK", 0, 0, tx, NULL);
    threads_rows(n, 0);
#endif

    double af = measure(ours_alloc_free, n);
    bench_row("heap_alloc_free", "hotrestart", "ns", af, slowest, 0,
              "64 B alloc + free in one transaction, committed");
#ifdef HAVE_PMDK
    peer_row("heap_alloc_free", "PMDK pmemobj_tx_alloc+tx_free",
             pop ? measure(pmdk_alloc_free, n) : 0, -1, af, "in one transaction");
    if (pop)
        pmemobj_close(pop);
    unlink("/dev/shm/hrbench.pmdk-heap");
#else
    peer_row("heap_alloc_free", "PMDK", 0, 0, af, NULL);
#endif
    peer_row("heap_alloc_free", "Boost.Interprocess allocate+deallocate",
             peer_figure(boost, "boost_alloc64"),
             peer_figure(boost, "boost_alloc64_p99"), af,
             "managed_shared_memory; no transaction, not crash-safe");
    peer_row("heap_alloc_free", "malloc+free", measure(malloc_free64, n), -1, af,
             "process-private, the floor");

    long sc = count_syscalls(quick ? 100000 : 1000000);
    char note[160];
    snprintf(note, sizeof note, "%s tx64 + alloc/free transactions under a "
             "seccomp trap on every system call%s",
             quick ? "100,000" : "1,000,000",
             sc < 0 || sc >= 254 ? " (the trap could not be set)" : "");
    bench_row("heap_syscalls", "hotrestart", "n", sc, sc, 0, note);

    frag(quick ? 1000000 : 10000000, boost);
    hr_heap_close(heap);
    snprintf(note, sizeof note, "rm -rf %s", site);
    return system(note) == 0 ? 0 : 1;
}
