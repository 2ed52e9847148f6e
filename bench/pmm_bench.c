/* SPDX-License-Identifier: MIT */
/*
 * pmm_bench.c - PMM operations next to POSIX shm and PMDK, in one run.
 * Prints a table of median ns/op and the ratio of each peer to ours; the
 * allocate+free rows also in CPU time (pmm_alloc_free_cpu).
 * Usage: pmm_bench [BLOCKS [BOOST_FIGURES_FILE]]
 * Not a test: it asserts nothing about time.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/pmm.h>
#ifdef HAVE_PMDK
#include <libpmemobj.h>
#endif

#include "pmm/hash.h"
#include "pmm/map.h"
#include "report.h"

/* Wall time, or with --cpu rows this process's CPU time (user + system):
 * on a machine shared with other work, what the operations themselves
 * cost, without the time spent waiting for a core. */
static clockid_t clock_used = CLOCK_MONOTONIC;

static double now(void)
{
    struct timespec t;
    clock_gettime(clock_used, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define REPS 15
/* The slowest of the REPS runs of the last measure(): the p99 column of
 * these per-operation figures (15 runs give no finer tail). */
static double slowest;
typedef void (*op_fn)(void *arg, int n);
/* median over REPS runs of n ops, in ns per op */
static double measure(op_fn f, void *arg, int n)
{
    double r[REPS];
    for (int i = 0; i < REPS; i++) {
        double t = now();
        f(arg, n);
        r[i] = (now() - t) / n;
    }
    qsort(r, REPS, sizeof *r, cmp);
    slowest = r[REPS - 1];
    return r[REPS / 2];
}

/* The medians (and slowest runs) of k ops taken in turn, one run of each
 * per round: on a shared machine the load drifts within a run, and ops
 * measured side by side meet the same. */
static void measure_turns(const op_fn *f, int k, int n, double *med,
                          double *slow)
{
    double r[5][REPS];
    for (int i = 0; i < REPS; i++)
        for (int j = 0; j < k; j++) {
            double t = now();
            f[j](NULL, n);
            r[j][i] = (now() - t) / n;
        }
    for (int j = 0; j < k; j++) {
        qsort(r[j], REPS, sizeof r[j][0], cmp);
        med[j] = r[j][REPS / 2];
        slow[j] = r[j][REPS - 1];
    }
}

static pmm_bank *bank;

static void ours_alloc_free(void *arg, int n)
{
    (void)arg;
    void *p;
    for (int i = 0; i < n; i++) {
        pmm_alloc(bank, "bench.af", 4096, "B", 2, 0, &p, NULL);
        pmm_free(bank, "bench.af");
    }
}

static void ours_retrieve_mapped(void *arg, int n)
{
    (void)arg;
    void *p;
    for (int i = 0; i < n; i++)
        pmm_alloc(bank, "bench.r", 4096, "B", 2, 0, &p, NULL);
}

/* What a fresh process does: one lookup and one mmap.  Only the retrieve
 * is timed; the unmap that lets the next round start afresh is not. */
static double timed_ns;

static void ours_first_retrieve(void *arg, int n)
{
    (void)arg;
    void *p;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&bank->mu);
        struct pmm_map *m = pmm__map_find(bank, "bench.r", pmm__name_hash("bench.r"));
        if (m)
            pmm__map_drop(m);
        pthread_mutex_unlock(&bank->mu);
        double t = now();
        pmm_alloc(bank, "bench.r", 4096, "B", 2, 0, &p, NULL);
        sum += now() - t;
    }
    timed_ns = sum;
}

static void shm_alloc_free(void *arg, int n)
{
    (void)arg;
    for (int i = 0; i < n; i++) {
        int fd = shm_open("/hrbench.af", O_CREAT | O_RDWR, 0600);
        if (ftruncate(fd, 4096) != 0)
            abort();
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        munmap(p, 4096);
        shm_unlink("/hrbench.af");
    }
}

/* The same with the block's space reserved (posix_fallocate), as ours
 * reserves it: a store into the block cannot die by SIGBUS when the
 * tmpfs is full, which plain shm_open+ftruncate does not promise. */
static void shm_reserved_alloc_free(void *arg, int n)
{
    (void)arg;
    for (int i = 0; i < n; i++) {
        int fd = shm_open("/hrbench.af", O_CREAT | O_RDWR, 0600);
        if (ftruncate(fd, 4096) != 0 || posix_fallocate(fd, 0, 4096) != 0)
            abort();
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        munmap(p, 4096);
        shm_unlink("/hrbench.af");
    }
}

static void shm_first_retrieve(void *arg, int n)
{
    (void)arg;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        double t = now();
        int fd = shm_open("/hrbench.r", O_RDWR, 0600);
        fstat(fd, &st);
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
                       MAP_SHARED, fd, 0);
        close(fd);
        sum += now() - t;
        munmap(p, (size_t)st.st_size);
    }
    timed_ns = sum;
}

/*
 * The floor: the system calls that any allocate+free must make once its
 * metadata is out of reach of user writes and a process maps only its own
 * blocks (SPEC 2.2): per update a kernel lock, one write of the metadata and
 * the unlock, plus one mmap and one munmap of the block.  It runs on a file
 * of its own, beside a touched read-only view as in a bank; no real
 * allocator can do less, whatever its design.
 */
static int floor_fd = -1;
static char *floor_at;

static void floor_update(void)
{
    static char rec[192];
    struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 1};
    if (fcntl(floor_fd, F_OFD_SETLKW, &l) != 0 ||
        pwrite(floor_fd, rec, sizeof rec, 4096) != (ssize_t)sizeof rec)
        abort();
    l.l_type = F_UNLCK;
    fcntl(floor_fd, F_OFD_SETLK, &l);
}

static void floor_open(void)
{
    floor_fd = open("/dev/shm/hrbench.floor", O_CREAT | O_RDWR | O_TRUNC, 0600);
    if (floor_fd < 0 || ftruncate(floor_fd, 64 << 20) != 0)
        abort();
    /* a touched view one page past the block, like a bank's metadata */
    floor_at = (char *)(uintptr_t)(bank->g.base_addr + bank->g.data_pages * 4096ull);
    floor_at -= 1ull << 30;
    volatile char *view = mmap(floor_at + 8192, 4096, PROT_READ, MAP_SHARED,
                               floor_fd, 0);
    if (view == MAP_FAILED)
        abort();
    (void)view[0];
}

static void floor_alloc_free(void *arg, int n)
{
    (void)arg;
    for (int i = 0; i < n; i++) {
        floor_update();
        void *p = mmap(floor_at, 4096, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_FIXED_NOREPLACE, floor_fd, 8192);
        if (p == MAP_FAILED)
            abort();
        floor_update();
        munmap(p, 4096);
    }
}

/*
 * The floor with the space of fresh file pages reserved, as a bank does
 * it (src/pmm/update.c): a block takes file pages no block had before,
 * reserved 2 MiB ahead with fallocate, and freed ones are punched 64 KiB
 * at a time.  What any allocator that keeps both promises (no SIGBUS on a
 * full tmpfs; no stale mapping reaches a newer block) pays before it keeps
 * an index of names at all.  The pages go round a 64 MiB stretch of the
 * floor's file, all of it punched before it is used again.
 */
#define FR_FROM 256u                /* first file page: past the floor's */
#define FR_PAGES (16384u - FR_FROM) /* 64 MiB of file pages */
#define FR_AHEAD 512u               /* 2 MiB reserved at a time */
#define FR_DEAD 16u                 /* 64 KiB punched at a time */
static unsigned fr_mark, fr_resv, fr_dead, fr_ndead;

static void fr_punch(void)
{
    if (fr_ndead &&
        fallocate(floor_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)(FR_FROM + fr_dead) * 4096, (off_t)fr_ndead * 4096) != 0)
        abort();
    fr_ndead = 0;
}

static void floor_reserved_alloc_free(void *arg, int n)
{
    (void)arg;
    for (int i = 0; i < n; i++) {
        if (fr_mark == FR_PAGES) { /* round again over punched pages */
            fr_punch();
            fr_mark = fr_resv = 0;
        }
        floor_update();
        if (fr_mark == fr_resv) {
            unsigned end = fr_mark + FR_AHEAD < FR_PAGES ? fr_mark + FR_AHEAD : FR_PAGES;
            if (fallocate(floor_fd, 0, (off_t)(FR_FROM + fr_mark) * 4096,
                          (off_t)(end - fr_mark) * 4096) != 0)
                abort();
            fr_resv = end;
        }
        unsigned page = fr_mark++;
        void *p = mmap(floor_at, 4096, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_FIXED_NOREPLACE, floor_fd,
                       (off_t)(FR_FROM + page) * 4096);
        if (p == MAP_FAILED)
            abort();
        floor_update();
        munmap(p, 4096);
        if (!fr_ndead)
            fr_dead = page;
        if (++fr_ndead == FR_DEAD)
            fr_punch();
    }
}

static void floor_first_retrieve(void *arg, int n)
{
    (void)arg;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double t = now();
        void *p = mmap(floor_at, 4096, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_FIXED_NOREPLACE, floor_fd, 8192);
        sum += now() - t;
        if (p == MAP_FAILED)
            abort();
        munmap(p, 4096);
    }
    timed_ns = sum;
}

/* median of REPS runs, counting only the time the op itself recorded */
static double measure_timed(op_fn f, void *arg, int n)
{
    double r[REPS];
    for (int i = 0; i < REPS; i++) {
        f(arg, n);
        r[i] = timed_ns / n;
    }
    qsort(r, REPS, sizeof *r, cmp);
    slowest = r[REPS - 1];
    return r[REPS / 2];
}

static void ours_lookup(void *arg, int n)
{
    pmm_bank *b = arg;
    pmm_block blk;
    char name[32];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "k%d", (i * 7919) % 10);
        pmm_stat(b, name, &blk);
    }
}

#ifdef HAVE_PMDK
static PMEMobjpool *pop;
static void pmdk_alloc_free(void *arg, int n)
{
    (void)arg;
    for (int i = 0; i < n; i++) {
        PMEMoid oid;
        pmemobj_alloc(pop, &oid, 4096, 0, NULL, NULL);
        pmemobj_free(&oid);
    }
}
#endif

/* Figures of the Boost peer, measured by boost_bench in the same run. */
static double peer_figure(const char *file, const char *key)
{
    char k[64];
    double v;
    FILE *f = file ? fopen(file, "r") : NULL;
    if (!f)
        return 0;
    while (fscanf(f, "%63s %lf", k, &v) == 2) {
        if (strcmp(k, key) == 0) {
            fclose(f);
            return v;
        }
    }
    fclose(f);
    return 0;
}

static pmm_bank *make_bank(const char *site, uint64_t size, uint64_t max, int nblocks)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", site);
    if (system(cmd) != 0)
        abort();
    pmm_site_config c = {.rambank_size = size, .max_blocks = max};
    if (pmm_site_create(site, &c) != 0)
        abort();
    pmm_bank *b;
    if (pmm_bank_open(&b, site, "RAM", 0) != 0)
        abort();
    for (int i = 0; i < nblocks; i++) {
        char name[32];
        snprintf(name, sizeof name, "k%d", i);
        if (pmm_alloc(b, name, 1, NULL, 0, PMM_NOMAP, NULL, NULL) != 0)
            abort();
    }
    return b;
}

/* allocate + free of a new name, without mapping, in a bank of n blocks */
static void ours_alloc_nomap(void *arg, int n)
{
    pmm_bank *b = arg;
    for (int i = 0; i < n; i++) {
        pmm_alloc(b, "bench.scale", 1, NULL, 0, PMM_NOMAP, NULL, NULL);
        pmm_free(b, "bench.scale");
    }
}

static void ours_row(const char *name, double v, const char *note)
{
    bench_row(name, "hotrestart", "ns", v, slowest, 0, note);
}

/* A peer's figure; p99 < 0 takes the slowest run of the last measure(). */
static void peer_row(const char *name, const char *system, double v, double p99,
                     double ours, const char *note)
{
    if (v > 0)
        bench_row(name, system, "ns", v, p99 < 0 ? slowest : p99, v / ours, note);
    else
        bench_row(name, system, "ns", 0, 0, 0, "not run: the peer was not built");
}

int main(int argc, char **argv)
{
    int big = argc > 1 ? atoi(argv[1]) : 1000000;
    const char *boost = argc > 2 ? argv[2] : NULL;
    const char *s1 = "/dev/shm/hrbench.site", *s2 = "/dev/shm/hrbench.big";
    bank = make_bank(s1, 64 << 20, 4096, 10);
    void *p;
    pmm_alloc(bank, "bench.r", 4096, "B", 2, 0, &p, NULL);
    int fd = shm_open("/hrbench.r", O_CREAT | O_RDWR, 0600);
    if (fd < 0 || ftruncate(fd, 4096) != 0)
        abort();
    close(fd);

    bench_header("persistent memory operations (median of 15 runs, per operation)");
    /* ours, the floor and shm (plain, and with its space reserved) in
     * turn (measure_turns) */
    static const op_fn af_ops[5] = {ours_alloc_free, floor_alloc_free,
                                    shm_alloc_free, shm_reserved_alloc_free,
                                    floor_reserved_alloc_free};
    double m[5], sl[5];
    floor_open();
    measure_turns(af_ops, 5, 2000, m, sl);
    double af = m[0];
    bench_row("pmm_alloc_free", "hotrestart", "ns", af, sl[0], 0,
              "named 4 KiB block, mapped, crash-safe; runs alternate with "
              "the floor's and shm's");
    peer_row("pmm_alloc_free", "isolation floor (system calls only)", m[1], sl[1],
             af, "2x(lock+pwrite+unlock) + mmap + munmap");
    peer_row("pmm_alloc_free", "isolation floor + space reserved", m[4], sl[4], af,
             "the floor + fresh file pages reserved 2 MiB ahead, punched 64 KiB "
             "at a time, as ours: no index yet");
    peer_row("pmm_alloc_free", "POSIX shm_open+ftruncate+mmap", m[2], sl[2], af,
             "and munmap+shm_unlink");
    peer_row("pmm_alloc_free", "POSIX shm, space reserved", m[3], sl[3], af,
             "the same + posix_fallocate, as ours reserves (no SIGBUS on a full tmpfs)");
#ifdef HAVE_PMDK
    unlink("/dev/shm/hrbench.pmdk");
    pop = pmemobj_create("/dev/shm/hrbench.pmdk", "bench", 64 << 20, 0600);
    peer_row("pmm_alloc_free", "PMDK pmemobj_alloc+free",
             pop ? measure(pmdk_alloc_free, NULL, 2000) : 0, -1, af, "pool on tmpfs");
    if (pop)
        pmemobj_close(pop);
    unlink("/dev/shm/hrbench.pmdk");
#else
    peer_row("pmm_alloc_free", "PMDK", 0, 0, af, "not run: no libpmemobj");
#endif
    /* the same three in CPU time, for a loaded machine */
    clock_used = CLOCK_PROCESS_CPUTIME_ID;
    measure_turns(af_ops, 5, 2000, m, sl);
    double afc = m[0];
    bench_row("pmm_alloc_free_cpu", "hotrestart", "ns", afc, sl[0], 0,
              "the same, CPU time of the process (user + system)");
    peer_row("pmm_alloc_free_cpu", "isolation floor (system calls only)", m[1],
             sl[1], afc, "CPU time");
    peer_row("pmm_alloc_free_cpu", "isolation floor + space reserved", m[4],
             sl[4], afc, "CPU time");
    peer_row("pmm_alloc_free_cpu", "POSIX shm_open+ftruncate+mmap", m[2], sl[2],
             afc, "CPU time");
    peer_row("pmm_alloc_free_cpu", "POSIX shm, space reserved", m[3], sl[3], afc,
             "CPU time");
    clock_used = CLOCK_MONOTONIC;
    peer_row("pmm_alloc_free", "Boost.Interprocess construct+destroy",
             peer_figure(boost, "boost_alloc_free"), peer_figure(boost, "boost_alloc_free_p99"),
             af, "managed_shared_memory; not crash-safe");
    double rm = measure(ours_retrieve_mapped, NULL, 200000);
    ours_row("pmm_retrieve_mapped", rm, "block already mapped: no system call");
    peer_row("pmm_retrieve_mapped", "Boost.Interprocess find",
             peer_figure(boost, "boost_find"), peer_figure(boost, "boost_find_p99"), rm,
             "existing name");
    double fr = measure_timed(ours_first_retrieve, NULL, 5000);
    ours_row("pmm_first_retrieve", fr, "fresh process: lookup + one mmap");
    peer_row("pmm_first_retrieve", "isolation floor (system calls only)",
             measure_timed(floor_first_retrieve, NULL, 5000), -1, fr,
             "one mmap at a fixed address");
    peer_row("pmm_first_retrieve", "POSIX shm_open+fstat+mmap+close",
             measure_timed(shm_first_retrieve, NULL, 5000), -1, fr, NULL);
    shm_unlink("/hrbench.r");

    bench_header("scale: lookup and allocate in a bank of N blocks");
    double l10 = 0;
    for (int n = 10; n <= big; n *= 100) {
        pmm_bank *b = n == 10 ? bank
                              : make_bank(s2, (uint64_t)n * 2 * 4096 + (1 << 20),
                                          (uint64_t)n + 16, n);
        char name[64], note[64];
        double l = measure(ours_lookup, b, 100000);
        if (n == 10)
            l10 = l;
        snprintf(name, sizeof name, "scale_lookup_%d", n);
        snprintf(note, sizeof note, "%.2fx the 10-block lookup", l / l10);
        ours_row(name, l, note);
        snprintf(name, sizeof name, "scale_alloc_%d", n);
        ours_row(name, measure(ours_alloc_nomap, b, 2000), "allocate+free, unmapped");
        if (n != 10)
            pmm_bank_close(b);
        if (n >= big / 100 && n < big && n * 100 > big)
            n = big / 100; /* end on `big` itself */
    }
    close(floor_fd);
    unlink("/dev/shm/hrbench.floor");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", s1, s2);
    return system(cmd) == 0 ? 0 : 1;
}
