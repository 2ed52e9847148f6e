/* SPDX-License-Identifier: MIT */
/*
 * test_limits.c - a bank at the edges of what the system gives it: no
 * address space left for a mapping, no space left in the file system, a
 * bank file truncated under an open bank, a bank full to its last page with
 * the guard pages between blocks.
 * Each call either succeeds or fails cleanly with nothing left half done;
 * none kills the process.  A RAM bank larger than its tmpfs is tried too,
 * in a private mount namespace (skipped where that is not allowed).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static void teardown(void) { site_drop(); }
TestSuite(limits, .fini = teardown);

/* The process's address space in use now (VmSize), in bytes. */
static uint64_t vm_size(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long kb = 0;
    cr_assert_not_null(f);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
            break;
    fclose(f);
    cr_assert_gt(kb, 0);
    return kb * 1024;
}

/* A block whose mapping fails after its allocation committed (no address
 * space left: RLIMIT_AS) is freed again: the call reports K_ENOMEM and the
 * bank holds nothing. */
Test(limits, allocate_that_cannot_map_leaves_nothing_allocated)
{
    site_new(256 << 20, 64);
    pid_t pid = fork();
    if (pid == 0) {
        pmm_bank *b = bank_open();
        void *p;
        if (pmm_alloc(b, "small", 4096, NULL, 0, 0, &p, NULL) != 0)
            _exit(1);
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = vm_size() + (16 << 20);
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(2);
        int r = pmm_alloc(b, "big", 128 << 20, NULL, 0, 0, &p, NULL);
        _exit(r == K_ENOMEM ? 0 : r == 0 ? 3 : 4);
    }
    cr_assert_eq(wait_status(pid), 0, "allocate reports K_ENOMEM");
    pmm_bank *b = bank_open();
    pmm_block blk;
    cr_assert_eq(pmm_stat(b, "big", &blk), K_EUNKNOWN, "the failed block is gone");
    cr_assert_eq(pmm_stat(b, "small", &blk), 0);
    cr_assert_eq(bank_used(), 4096, "only the small block's page is used");
    cr_assert_eq(check_bank(), 0);
}

/* Someone truncates the bank file while a process has it open: the next
 * calls return K_EBANK instead of dying by SIGBUS on the metadata. */
Test(limits, bank_truncated_while_open_refused_not_sigbus)
{
    static const uint64_t sizes[] = {0, 4096, 8192};
    site_new(1 << 20, 64);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            pmm_bank *b = bank_open();
            void *p;
            pmm_block blk;
            pmm_bank_info st;
            if (pmm_alloc(b, "x", 4096, NULL, 0, 0, &p, NULL) != 0 ||
                pmm_alloc(b, "y", 4096, NULL, 0, 0, &p, NULL) != 0)
                _exit(1);
            if (truncate(site_bank(), (off_t)sizes[i]) != 0)
                _exit(2);
            if (pmm_stat(b, "x", &blk) != K_EBANK)
                _exit(3);
            if (pmm_alloc(b, "z", 4096, NULL, 0, 0, &p, NULL) != K_EBANK)
                _exit(4);
            if (pmm_free(b, "y") != K_EBANK)
                _exit(5);
            if (pmm_bank_stat(b, &st) != K_EBANK)
                _exit(6);
            _exit(0);
        }
        int st = wait_status(pid);
        cr_assert_eq(st, 0, "truncated to %llu bytes: status %d%s",
                     (unsigned long long)sizes[i], st,
                     st == 128 + SIGBUS ? " (SIGBUS)" : "");
        site_drop();
        site_new(1 << 20, 64);
    }
}

/* The guard that turns a lock-free lookup's SIGBUS into K_EBANK passes
 * every other SIGBUS on: a program's own read past the end of a truncated
 * file still kills it by SIGBUS, after lookups have run. */
Test(limits, other_sigbus_still_kills)
{
    site_new(1 << 20, 64);
    pid_t pid = fork();
    if (pid == 0) {
        pmm_bank *b = bank_open();
        pmm_block blk;
        if (pmm_stat(b, "none", &blk) != K_EUNKNOWN) /* a guarded lookup */
            _exit(1);
        char path[128];
        snprintf(path, sizeof path, "/dev/shm/hrbus.%d", getpid());
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        unlink(path);
        if (fd < 0 || ftruncate(fd, 4096) != 0)
            _exit(2);
        volatile char *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED || ftruncate(fd, 0) != 0)
            _exit(3);
        (void)p[0];
        _exit(4);
    }
    cr_assert_eq(wait_status(pid), 128 + SIGBUS);
}

/* Blocks are packed first-fit with exactly one guard page after each: a
 * bank of 64 pages holds exactly 16 blocks of 3 pages, a 4-page hole takes
 * a 3-page block and not a 4-page one, and the guard page is not mapped. */
Test(limits, adjacent_blocks_are_separated_by_one_guard_page)
{
    site_new(64 * 4096, 64);
    cr_assert_eq(sysconf(_SC_PAGESIZE), 4096);
    pmm_bank *b = bank_open();
    char *at[17];
    int n = 0;
    for (int r = 0; n < 17; n++) {
        char name[16];
        snprintf(name, sizeof name, "b%d", n);
        r = pmm_alloc(b, name, 3 * 4096, NULL, 0, 0, (void **)&at[n], NULL);
        if (r != 0) {
            cr_assert_eq(r, K_ENOMEM, "%s: %s", name, pmm_strerror(r));
            break;
        }
        memset(at[n], n + 1, 3 * 4096);
    }
    cr_assert_eq(n, 16, "%d blocks of 3 pages in 64 pages, not 16", n);
    for (int i = 1; i < n; i++)
        cr_assert_eq(at[i] - at[i - 1], 4 * 4096, "block %d follows %d's guard", i,
                     i - 1);
    for (int i = 0; i < n; i++)
        cr_assert_eq(at[i][3 * 4096 - 1], i + 1, "block %d intact", i);
    pid_t pid = fork();
    if (pid == 0) {
        at[0][3 * 4096] = 1; /* the guard page after block 0 */
        _exit(0);
    }
    cr_assert_eq(wait_status(pid), 128 + SIGSEGV, "the guard page is not mapped");
    cr_assert_eq(pmm_free(b, "b5"), 0);
    void *p;
    cr_assert_eq(pmm_alloc(b, "four", 4 * 4096, NULL, 0, 0, &p, NULL), K_ENOMEM,
                 "4 pages and a guard do not fit a 4-page hole");
    cr_assert_eq(pmm_alloc(b, "three", 3 * 4096, NULL, 0, 0, &p, NULL), 0);
    cr_assert_eq((char *)p, at[5], "3 pages and a guard fill the hole exactly");
    cr_assert_eq(check_bank(), 0);
}

/* In a child with a private mount namespace: a 1 MiB tmpfs at dir, or exit
 * 77 where this system does not allow it. */
static void small_tmpfs(const char *dir)
{
    if (unshare(CLONE_NEWNS) != 0 ||
        mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mkdir(dir, 0700) != 0 ||
        mount("hrtest", dir, "tmpfs", 0, "size=1m,mode=0700") != 0)
        _exit(77);
}

/* A 4 MiB RAM bank on a 1 MiB tmpfs: the allocations that the file system
 * cannot hold fail with K_ENOMEM, and every one that succeeded can be
 * written whole (no SIGBUS). */
Test(limits, ram_bank_larger_than_its_tmpfs)
{
    char dir[64];
    site_new(0, 0);
    snprintf(dir, sizeof dir, "/tmp/hrsmall.%d", getpid());
    pid_t pid = fork();
    if (pid == 0) {
        small_tmpfs(dir);
        pmm_site_config c = {.rambank_size = 4 << 20, .max_blocks = 64};
        pmm_bank *b;
        if (pmm_site_create(dir, &c) != 0 ||
            pmm_bank_open(&b, dir, "RAM", 0) != 0)
            _exit(1);
        int ok = 0, r = 0;
        for (int i = 0; i < 16 && r == 0; i++) {
            char name[16];
            void *p;
            snprintf(name, sizeof name, "b%d", i);
            r = pmm_alloc(b, name, 256 << 10, NULL, 0, 0, &p, NULL);
            if (r == 0) {
                memset(p, 0xa5, 256 << 10);
                ok++;
            }
        }
        if (r != K_ENOMEM)
            _exit(2);
        if (ok < 1 || ok > 3)
            _exit(3);
        char bank[128];
        snprintf(bank, sizeof bank, "%s/ram.bank", dir);
        _exit(pmm_check(bank, 0, NULL, NULL) == 0 ? 0 : 4);
    }
    int st = wait_status(pid);
    rmdir(dir); /* the tmpfs went with the child's namespace */
    if (st == 77)
        cr_skip_test("no private mount namespace with a tmpfs here (needs root "
                     "and unshare(CLONE_NEWNS))");
    cr_assert_eq(st, 0, "status %d%s", st, st == 128 + SIGBUS ? " (SIGBUS)" : "");
}
