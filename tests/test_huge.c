/* SPDX-License-Identifier: MIT */
/*
 * test_huge.c - huge-page banks (issue 23): a site made on a private tmpfs
 * mounted huge=within_size, a 64 MiB block and a heap placed 2 MiB-aligned
 * and mapped with huge pages (seen in /proc/self/smaps), the block kept
 * across a SIGKILL and a site restart; --huge refused, with its reason,
 * where the file system gives no huge pages; populating on open.
 *
 * Each test runs in its own process (Criterion forks), which takes a mount
 * namespace of its own: the tmpfs is gone with it.  Where the kernel has no
 * shmem huge pages, or no private namespace is allowed, the test is
 * skipped with the reason.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hotrestart/heap.h>

#include "ctl_helpers.h"
#include "pmm/layout.h"

#define MIB (1ull << 20)
#define HUGE (2 * MIB)

static char dir[128];

/* A private tmpfs with opts at a fresh directory, the site inside it. */
static void tmpfs_site(const char *opts)
{
    const char *why = huge_unavailable();
    if (why && strstr(opts, "huge=within_size"))
        cr_skip_test("%s", why);
    mounted_site(dir, sizeof dir, "tmpfs", opts);
}

/* pmm_check() of the site's RAM bank: 0 when consistent. */
static int check_site_bank(void)
{
    char bank[256];
    snprintf(bank, sizeof bank, "%s/site/ram.bank", dir);
    return pmm_check(bank, 0, NULL, NULL);
}

/* A huge-page site of size bytes on a private huge tmpfs, its bank open. */
static pmm_bank *huge_site(uint64_t size)
{
    tmpfs_site("size=512m,mode=0700,huge=within_size");
    pmm_site_config c = {.rambank_size = size, .huge = PMM_HUGE_ON};
    cr_assert_eq(pmm_site_create(NULL, &c), 0, "%s", pmm_site_create_why());
    return bank_open();
}

static void teardown(void)
{
    if (dir[0]) {
        umount2(dir, MNT_DETACH);
        rmdir(dir);
    }
}
TestSuite(huge, .fini = teardown);

/* Sum of a /proc/self/smaps field over the mappings that overlap
 * [addr, addr + len), in KiB. */
static uint64_t smaps_kib(const void *addr, size_t len, const char *field)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    uint64_t lo = 0, hi = 0, sum = 0, a = (uintptr_t)addr;
    size_t fl = strlen(field);
    cr_assert_not_null(f);
    while (fgets(line, sizeof line, f)) {
        unsigned long long x, y;
        if (sscanf(line, "%llx-%llx ", &x, &y) == 2) { /* a mapping's head */
            lo = x;
            hi = y;
        } else if (strncmp(line, field, fl) == 0 && line[fl] == ':' &&
                   lo < a + len && a < hi) {
            sum += strtoull(line + fl + 1, NULL, 10);
        }
    }
    fclose(f);
    return sum;
}

static uint64_t pmd_kib(const void *addr, size_t len)
{
    return smaps_kib(addr, len, "ShmemPmdMapped") + smaps_kib(addr, len, "FilePmdMapped");
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i / 4096 * 131 + 7);
}

/* Allocate (or retrieve) "big", 64 MiB: its address is 2 MiB-aligned. */
static unsigned char *big_block(pmm_bank *b, unsigned flags)
{
    void *p;
    pmm_block blk;
    int r = pmm_alloc(b, "big", 64 * MIB, "K", 2, flags, &p, &blk);
    cr_assert_eq(r, 0, "%s", pmm_strerror(r));
    cr_assert_eq((uintptr_t)p % HUGE, 0, "block at %p: not 2 MiB-aligned", p);
    cr_assert_not(blk.flags & PMM_B_ELSEWHERE);
    return p;
}

Test(huge, a_huge_page_site_places_large_blocks_aligned_and_keeps_them)
{
    tmpfs_site("size=512m,mode=0700,huge=within_size");
    char out[8192];
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--huge",
                        "--rambank-size", "256M", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "info", "--json", NULL), 0);
    cr_assert(strstr(out, "\"huge_page_size\": 2097152, \"huge_pages_now\": true"),
              "%s", out);
    /* a small block first: the large one is still aligned after it */
    pmm_bank *b = bank_open();
    void *small;
    cr_assert_eq(pmm_alloc(b, "small", 4096, "K", 2, 0, &small, NULL), 0);
    pid_t pid = fork();
    if (pid == 0) { /* writes the block whole, then is killed */
        pmm_bank *cb;
        void *v;
        if (pmm_bank_open(&cb, NULL, "RAM", 0) != 0 ||
            pmm_alloc(cb, "big", 64 * MIB, "K", 2, 0, &v, NULL) != 0)
            _exit(1);
        unsigned char *p = v;
        if ((uintptr_t)p % HUGE)
            _exit(3); /* not aligned */
        for (size_t i = 0; i < 64 * MIB; i++)
            p[i] = pattern(i);
        if (pmd_kib(p, 64 * MIB) == 0)
            _exit(2);
        kill(getpid(), SIGKILL);
    }
    int st = wait_status(pid);
    cr_assert_eq(st, 128 + SIGKILL, "the writer: %s", st == 3 ? "not 2 MiB-aligned"
                 : st == 2 ? "no huge pages mapped" : "failed");
    pmm_bank_close(b);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "restart", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    b = bank_open();
    unsigned char *p = big_block(b, PMM_RETRIEVE);
    for (size_t i = 0; i < 64 * MIB; i += 4096)
        cr_assert_eq(p[i], pattern(i), "byte %zu after the kill and the site restart", i);
    cr_assert_gt(pmd_kib(p, 64 * MIB), 0, "the block is mapped with huge pages");
    pmm_bank_close(b);
    cr_assert_eq(check_site_bank(), 0);
}

Test(huge, a_heap_is_placed_aligned_and_mapped_with_huge_pages)
{
    pmm_bank *b = huge_site(128 * MIB);
    hr_heap *h;
    pmm_block blk;
    void *pad; /* so that the heap's place is not aligned by chance */
    cr_assert_eq(pmm_alloc(b, "pad", 4096, "K", 2, 0, &pad, NULL), 0);
    cr_assert_eq(hr_heap_open(&h, b, "heap", 16 * MIB, "K", 2, 0), 0);
    cr_assert_eq(pmm_stat(b, "heap", &blk), 0);
    cr_assert_eq((uintptr_t)blk.addr % HUGE, 0, "heap at %p", blk.addr);
    volatile const unsigned char *v = blk.addr;
    for (size_t i = 0; i < 16 * MIB; i += 4096)
        (void)v[i];
    cr_assert_gt(pmd_kib(blk.addr, 16 * MIB), 0, "the heap has huge pages");
    hr_heap_close(h);
    pmm_bank_close(b);
    cr_assert_eq(check_site_bank(), 0);
}

/* The live record and data offset of the site's bank, read from its file. */
static void bank_header(struct pmm_geom *g, struct pmm_live *l)
{
    char bank[256];
    snprintf(bank, sizeof bank, "%s/site/ram.bank", dir);
    int fd = open(bank, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, g, sizeof *g, 0), (ssize_t)sizeof *g);
    cr_assert_eq(pread(fd, l, sizeof *l, PMM_LIVE_OFF), (ssize_t)sizeof *l);
    close(fd);
}

/* Is [off, off + len) of the bank file a hole? */
static int hole(uint64_t off, uint64_t len)
{
    char bank[256];
    snprintf(bank, sizeof bank, "%s/site/ram.bank", dir);
    int fd = open(bank, O_RDONLY);
    off_t d = lseek(fd, (off_t)off, SEEK_DATA);
    close(fd);
    return d < 0 || (uint64_t)d >= off + len;
}

/* A large block passes over the file pages up to its 2 MiB boundary, which
 * a small block's allocation had reserved: they are punched by the
 * allocation's apply, so a process killed after the commit leaves them
 * to whoever recovers, who punches them too. */
Test(huge, pages_passed_over_for_alignment_are_punched_even_after_a_kill)
{
    pmm_bank *b = huge_site(64 * MIB);
    void *p;
    cr_assert_eq(pmm_alloc(b, "small", 4096, "K", 2, 0, &p, NULL), 0);
    memset(p, 1, 4096);
    struct pmm_geom g;
    struct pmm_live l;
    bank_header(&g, &l);
    uint64_t from = g.data_off + l.mark * 4096, to = g.data_off + HUGE;
    cr_assert_not(hole(from, to - from), "reserved ahead by the small block");
    pid_t pid = fork();
    if (pid == 0) {
        setenv("HR_CRASHPOINT", "alloc.linked", 1);
        pmm_bank *cb;
        if (pmm_bank_open(&cb, NULL, "RAM", 0) == 0)
            pmm_alloc(cb, "big", 4 * MIB, "K", 2, 0, &p, NULL);
        _exit(1);
    }
    cr_assert_eq(wait_status(pid), 128 + SIGKILL, "killed after the commit");
    pmm_block blk;
    cr_assert_eq(pmm_stat(b, "big", &blk), 0, "the redo made it");
    bank_header(&g, &l);
    cr_assert_eq(l.mark, (HUGE + 4 * MIB) / 4096, "its file pages start at 2 MiB");
    cr_assert(hole(from, to - from), "the pages passed over are punched");
    pmm_bank_close(b);
    cr_assert_eq(check_site_bank(), 0);
}

/* A tmpfs without huge pages: --huge is refused with the reason and
 * nothing made; without it the site gets a bank of small pages, and says
 * so. */
Test(huge, a_file_system_without_huge_pages_is_refused_for_huge)
{
    char out[8192];
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
    if (f && fgets(out, sizeof out, f) && strstr(out, "[force]"))
        cr_skip_test("shmem huge pages forced system-wide: no tmpfs lacks them");
    if (f)
        fclose(f);
    tmpfs_site("size=64m,mode=0700,huge=never");
    cr_assert_neq(run_hr(out, sizeof out, "site", "create", "--huge", NULL), 0);
    pmm_site_config c = {.huge = PMM_HUGE_ON};
    int r = pmm_site_create(NULL, &c);
    cr_assert_eq(r, -EOPNOTSUPP, "%s", pmm_strerror(r));
    cr_assert(strstr(pmm_site_create_why(), "huge=never"), "%s", pmm_site_create_why());
    char bank[256];
    snprintf(bank, sizeof bank, "%s/site/ram.bank", dir);
    cr_assert_neq(access(bank, F_OK), 0, "nothing made");
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "info", "--json", NULL), 0);
    cr_assert(strstr(out, "\"huge_page_size\": 0, \"huge_pages_now\": false"),
              "%s", out);
}

/* A 64 MiB bank of 4 KiB pages on a tmpfs of this test's own, opened. */
static pmm_bank *small_page_bank(void)
{
    tmpfs_site("size=512m,mode=0700,huge=never");
    pmm_site_config c = {.rambank_size = 64 * MIB, .huge = PMM_HUGE_OFF};
    cr_assert_eq(pmm_site_create(NULL, &c), 0);
    return bank_open();
}

/* KiB of memory the bank's file holds (its holes hold none). */
static uint64_t bank_kib(pmm_bank *b)
{
    pmm_bank_info bi;
    struct stat st;
    cr_assert_eq(pmm_bank_stat(b, &bi), 0);
    cr_assert_eq(stat(bi.path, &st), 0);
    return (uint64_t)st.st_blocks / 2;
}

/* PMM_POPULATE: a fresh mapping of a block has every page its file holds
 * in place when the call returns; without it, none until touched.
 * PMM_POPULATE_BG gets there in the background.  Neither fills a hole:
 * the last 2 MiB, never written, stay out of memory. */
Test(huge, populate_faults_the_block_in_before_or_after_returning)
{
    pmm_bank *b = small_page_bank();
    void *p;
    cr_assert_eq(pmm_alloc(b, "blk", 8 * MIB, "K", 2, 0, &p, NULL), 0);
    memset(p, 1, 6 * MIB);
    uint64_t held = bank_kib(b);
    pmm_bank_close(b); /* unmapped: the next retrieve maps it afresh */
    b = bank_open();
    cr_assert_eq(pmm_alloc(b, "blk", 8 * MIB, "K", 2, PMM_RETRIEVE, &p, NULL), 0);
    cr_assert_eq(smaps_kib(p, 8 * MIB, "Rss"), 0, "nothing in place untouched");
    pmm_bank_close(b);
    b = bank_open();
    cr_assert_eq(pmm_alloc(b, "blk", 8 * MIB, "K", 2,
                           PMM_RETRIEVE | PMM_POPULATE, &p, NULL), 0);
    cr_assert_eq(smaps_kib(p, 8 * MIB, "Rss"), 6 * 1024, "what it holds in place");
    cr_assert_eq(bank_kib(b), held, "no hole filled");
    pmm_bank_close(b);
    b = bank_open();
    cr_assert_eq(pmm_alloc(b, "blk", 8 * MIB, "K", 2,
                           PMM_RETRIEVE | PMM_POPULATE_BG, &p, NULL), 0);
    WAIT_FOR(smaps_kib(p, 8 * MIB, "Rss") == 6 * 1024, "the background populate");
    cr_assert_eq(bank_kib(b), held, "no hole filled");
    cr_assert_eq(pmm_alloc(b, "blk", 8 * MIB, "K", 2,
                           PMM_POPULATE | PMM_NOMAP, NULL, NULL), K_EINVAL);
    pmm_bank_close(b);
}

/* HR_HEAP_POPULATE and HR_HEAP_POPULATE_BG: a heap opened again (a restart)
 * has every page its file holds in place when hr_heap_open returns, or
 * soon after, and its holes (space never used) stay holes; without them,
 * only what the open itself reads. */
Test(huge, heap_populate_faults_the_heap_in)
{
    pmm_bank *b = small_page_bank();
    hr_heap *h;
    pmm_block blk;
    cr_assert_eq(hr_heap_open(&h, b, "heap", 32 * MIB, "K", 2, 0), 0);
    for (int i = 0; i < 4; i++) { /* 4 MiB of objects written */
        void *o;
        cr_assert_eq(hr_heap_begin(h), 0);
        cr_assert_eq(hr_heap_alloc(h, MIB - 4096, HR_HEAP_ZERO, &o), 0);
        memset(o, 7, MIB - 4096);
        cr_assert_eq(hr_heap_commit(h), 0);
    }
    uint64_t held = bank_kib(b);
    hr_heap_close(h);
    pmm_bank_close(b); /* unmapped: the next open maps it afresh */
    unsigned flags[] = {0, HR_HEAP_POPULATE, HR_HEAP_POPULATE_BG};
    for (int i = 0; i < 3; i++) {
        b = bank_open();
        int r = hr_heap_open(&h, b, "heap", 0, "K", 2,
                             HR_HEAP_RETRIEVE | flags[i]);
        cr_assert_eq(r, 0, "%s", pmm_strerror(r));
        cr_assert_eq(pmm_stat(b, "heap", &blk), 0);
        uint64_t kib = smaps_kib(blk.addr, blk.size, "Rss");
        if (i == 0)
            cr_assert_lt(kib, 2 * 1024, "not populated: %llu KiB",
                         (unsigned long long)kib);
        else if (i == 1) /* in place as it returned */
            cr_assert_geq(kib, 4 * 1024, "%llu KiB", (unsigned long long)kib);
        else
            WAIT_FOR(smaps_kib(blk.addr, blk.size, "Rss") >= 4 * 1024,
                     "the background populate");
        cr_assert_eq(bank_kib(b), held, "no hole filled");
        hr_heap_close(h);
        pmm_bank_close(b);
    }
    b = bank_open();
    cr_assert_eq(hr_heap_open(&h, b, "heap", 0, "K", 2, HR_HEAP_RETRIEVE |
                              HR_HEAP_POPULATE | HR_HEAP_POPULATE_BG),
                 K_EINVAL);
    pmm_bank_close(b);
}
