/* SPDX-License-Identifier: MIT */
/*
 * huge.c - huge pages behind os.h: whether the file system of a bank gives
 * them, asking for them on a mapping, and populating a mapping up front or
 * in the background.
 *
 * What gives a file 2 MiB pages is read from the kernel, never guessed: a
 * tmpfs whose mount says huge=always or huge=within_size, or any tmpfs
 * while the system-wide shmem_enabled says force; never while it says
 * deny.  huge=advise is not enough: it gives huge pages only to pages
 * first allocated through a mapping marked MADV_HUGEPAGE, and a bank
 * reserves (fallocates) a block's file pages before any mapping of them
 * exists, so they are allocated small.  hugetlbfs holds no bank at all:
 * it takes no write(2), and a bank's metadata is written with pwrite().
 */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <time.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif
#define TMPFS_MAGIC_ 0x01021994
#define HUGETLBFS_MAGIC_ 0x958458f6

#define THP "/sys/kernel/mm/transparent_hugepage/"

/* The word in brackets of a sysfs choice ("always [never] deny"), or "". */
static void chosen(const char *path, char *out, size_t cap)
{
    char buf[256];
    out[0] = 0;
    if (pmm__os_read_file(path, buf, sizeof buf) < 0)
        return;
    char *a = strchr(buf, '['), *z = a ? strchr(a, ']') : NULL;
    if (a && z && (size_t)(z - a) < cap)
        snprintf(out, cap, "%.*s", (int)(z - a - 1), a + 1);
}

/* The huge= option of the mount of device dev ("" when it has none). */
static int mount_huge(dev_t dev, char *out, size_t cap)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char *line = NULL, want[32];
    size_t len = 0;
    int found = 0;
    if (!f)
        return -errno;
    snprintf(want, sizeof want, " %u:%u ", major(dev), minor(dev));
    out[0] = 0;
    while (!found && getline(&line, &len, f) > 0) {
        char *at = strstr(line, want), *super = strstr(line, " - ");
        if (!at || !super || at > super)
            continue;
        found = 1;
        char *h = strstr(super, ",huge=");
        if (h)
            snprintf(out, cap, "%.*s", (int)strcspn(h + 6, ", \n"), h + 6);
    }
    free(line);
    fclose(f);
    return found ? 0 : -ENOENT;
}

int pmm__os_huge_fs(int fd, uint64_t huge, const char **why)
{
    struct statfs fs;
    struct stat st;
    char word[32], pmd[32];
    if (fstatfs(fd, &fs) < 0 || fstat(fd, &st) < 0)
        return -errno;
    if ((unsigned long)fs.f_type == HUGETLBFS_MAGIC_) {
        *why = "hugetlbfs takes no write(2), which a bank's metadata needs: "
               "use a tmpfs mounted with huge=within_size";
        return -EOPNOTSUPP;
    }
    if ((unsigned long)fs.f_type != TMPFS_MAGIC_) {
        *why = "not a tmpfs: huge pages for a bank need a tmpfs mounted with "
               "huge=within_size (or huge=always)";
        return 0;
    }
    chosen(THP "shmem_enabled", word, sizeof word);
    if (pmm__os_read_file(THP "hpage_pmd_size", pmd, sizeof pmd) < 0 || !word[0]) {
        *why = "the kernel has no transparent huge pages for tmpfs (no "
               THP "shmem_enabled)";
        return 0;
    }
    if (strtoull(pmd, NULL, 10) != huge) {
        *why = "the kernel's huge page size (hpage_pmd_size) is not 2 MiB";
        return 0;
    }
    if (strcmp(word, "deny") == 0) {
        *why = "tmpfs huge pages are denied system-wide (" THP
               "shmem_enabled says deny)";
        return 0;
    }
    if (strcmp(word, "force") == 0)
        return 1;
    int r = mount_huge(st.st_dev, word, sizeof word);
    if (r < 0)
        return r;
    if (strcmp(word, "always") == 0 || strcmp(word, "within_size") == 0)
        return 1;
    if (strcmp(word, "advise") == 0) {
        *why = "the tmpfs is mounted huge=advise, which is not enough: the "
               "bank reserves its pages ahead, before any mapping can ask "
               "for huge pages; mount it with huge=within_size or huge=always";
        return 0;
    }
    *why = "the tmpfs is mounted without huge pages (huge=never, the "
           "default): mount it with huge=within_size";
    return 0;
}

/* The pages of [addr, addr + len) that the file holds (mincore: in the page
 * cache), as runs; each run goes to fn(run, run_len).  A hole of the
 * file is left alone: faulting it in would allocate a page of zeros for
 * nothing (on a huge=always tmpfs a whole 2 MiB page, and compaction to
 * find one: a populate of a half-empty 1 GiB heap took 0.1-2.2 s so).
 *
 * The range is walked STEP bytes at a time, a mincore and the step's runs
 * each: both calls hold the process's mmap lock for reading, and a thread
 * that maps memory meanwhile (a thread's stack, a malloc arena) waits for
 * it, and every fault of every thread behind that one.  One madvise of a
 * whole 1 GiB heap held it 10 ms; a new hrcached's workers, created beside
 * a background populate, then served 15-600 ms after a kill instead of 5.
 *
 * Short steps are not enough on their own: while a writer waits for the
 * lock, the kernel still lets readers take it, until the writer has
 * waited ~4 ms (rwsem's hand-off), so a loop of steps with no gap kept a
 * new hrcached's main thread off it for 4 ms while it made its workers'
 * stacks.  The background thread (pause) therefore sleeps PAUSE_NS after
 * each step, long enough for a woken writer to run (~30 us here) and take
 * the lock: 512 steps for 1 GiB, ~100 ms more (the sleeps' timer slack
 * included) for a sweep nobody waits for.
 * 0, the first negative fn returns, or -errno of mincore (-ENOMEM: the
 * range was unmapped). */
#define STEP (2u << 20)
#define PAUSE_NS 100000
static int resident_runs(void *addr, size_t len, int (*fn)(char *, size_t),
                         int pause)
{
    size_t pg = pmm__os_page_size(), n = len / pg, per = STEP / pg;
    unsigned char vec[STEP / 4096];
    if (per == 0 || per > sizeof vec)
        per = sizeof vec;
    for (size_t i = 0; i < n; i += per) {
        size_t k = n - i < per ? n - i : per;
        char *at = (char *)addr + i * pg, *run = NULL;
        if (mincore(at, k * pg, vec) < 0)
            return -errno;
        for (size_t j = 0; j <= k; j++) {
            int in = j < k && (vec[j] & 1), r;
            if (in && !run)
                run = at + j * pg;
            else if (!in && run &&
                     (r = fn(run, (size_t)(at + j * pg - run))) < 0)
                return r;
            if (!in)
                run = NULL;
        }
        struct timespec gap = {0, PAUSE_NS};
        if (pause && i + per < n)
            nanosleep(&gap, NULL); /* EINTR: a shorter gap, no harm */
    }
    return 0;
}

static int advise_run(char *p, size_t len)
{
    return madvise(p, len, MADV_POPULATE_READ) < 0 ? -errno : 0;
}

static int touch_run(char *p, size_t len)
{
    size_t pg = pmm__os_page_size();
    for (size_t off = 0; off < len; off += pg)
        (void)*(volatile const char *)(p + off);
    return 0;
}

static int touch_pages(void *arg)
{
    const size_t *range = arg;
    return resident_runs((void *)range[0], range[1], touch_run, 0);
}

int pmm__os_populate(void *addr, size_t len)
{
    int r = resident_runs(addr, len, advise_run, 0);
    if (r != -EINVAL)
        return r;
    /* before Linux 5.14: a read of each page, faults one by one */
    size_t range[2] = {(size_t)addr, len};
    return pmm__os_guarded(addr, len, touch_pages, range);
}

struct populate_job {
    void *addr;
    size_t len;
};

static void *populate_thread(void *arg)
{
    struct populate_job job = *(struct populate_job *)arg;
    free(arg);
    /* madvise only: the range may be unmapped meanwhile, and then mincore
     * and madvise answer ENOMEM where a read would fault */
    resident_runs(job.addr, job.len, advise_run, 1);
    return NULL;
}

int pmm__os_populate_bg(void *addr, size_t len)
{
    pthread_attr_t at;
    pthread_t t;
    struct populate_job *job = malloc(sizeof *job);
    if (!job)
        return -ENOMEM;
    job->addr = addr;
    job->len = len;
    int r = pthread_attr_init(&at);
    if (r == 0) {
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        r = pthread_create(&t, &at, populate_thread, job);
        pthread_attr_destroy(&at);
    }
    if (r != 0)
        free(job);
    return -r;
}
