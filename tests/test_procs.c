/* SPDX-License-Identifier: MIT */
/*
 * test_procs.c - real processes: retrieve from another process and after a
 * SIGKILL, same address everywhere, a write past a block's end, racing
 * allocators, and metadata out of reach of user writes.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pmm/chPmm.h>

#include "common.h"
#include "pmm/view.h"

static void setup(void) { site_new(0, 0); }
static void teardown(void) { site_drop(); }
TestSuite(procs, .init = setup, .fini = teardown);

Test(procs, retrieve_after_sigkill_same_contents_same_address)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        PmmName n = ram_name("state");
        VmAddr a;
        if (pmmAllocate(&a, &n, 3 * 4096, "S", 2) != K_OK)
            _exit(1);
        for (int i = 0; i < 3 * 4096; i++)
            ((unsigned char *)a)[i] = (unsigned char)(i * 7);
        if (write(p[1], &a, sizeof a) != sizeof a)
            _exit(1);
        pause();
        _exit(0);
    }
    VmAddr first;
    cr_assert_eq(read(p[0], &first, sizeof first), (ssize_t)sizeof first);
    kill(pid, SIGKILL);
    cr_assert_eq(wait_status(pid), 128 + SIGKILL);
    /* another process, and then this one */
    pid = fork();
    if (pid == 0) {
        PmmName n = ram_name("state");
        VmAddr a;
        if (pmmAllocate(&a, &n, 3 * 4096, "S", 2) != K_OK || a != first)
            _exit(1);
        for (int i = 0; i < 3 * 4096; i++)
            if (((unsigned char *)a)[i] != (unsigned char)(i * 7))
                _exit(2);
        _exit(0);
    }
    cr_assert_eq(wait_status(pid), 0);
    PmmName n = ram_name("state");
    VmAddr a;
    cr_assert_eq(pmmAllocate(&a, &n, 3 * 4096, "S", 2), K_OK);
    cr_assert_eq(a, first, "same address in every process");
    cr_assert_eq(((unsigned char *)a)[4097], (unsigned char)(4097 * 7));
    cr_assert_eq(check_bank(), 0);
}

Test(procs, write_past_end_kills_the_writer_only)
{
    PmmName a1 = ram_name("a"), a2 = ram_name("b");
    VmAddr x, y;
    cr_assert_eq(pmmAllocate(&x, &a1, 4096, NULL, 0), K_OK);
    cr_assert_eq(pmmAllocate(&y, &a2, 4096, NULL, 0), K_OK);
    memset((void *)x, 0x11, 4096);
    memset((void *)y, 0x22, 4096);
    pid_t pid = fork();
    if (pid == 0) {
        VmAddr z;
        if (pmmAllocate(&z, &a1, 4096, NULL, 0) != K_OK)
            _exit(1);
        signal(SIGSEGV, SIG_DFL); /* the sanitizers catch it otherwise */
        ((volatile char *)z)[4096] = 1; /* one byte past the page */
        _exit(0);
    }
    cr_assert_eq(wait_status(pid), 128 + SIGSEGV);
    /* a block retrieved alone in a fresh process has gaps on both sides */
    pid = fork();
    if (pid == 0) {
        VmAddr z;
        if (pmmAllocate(&z, &a2, 4096, NULL, 0) != K_OK)
            _exit(1);
        signal(SIGSEGV, SIG_DFL);
        ((volatile char *)z)[-1] = 1; /* one byte before */
        _exit(0);
    }
    cr_assert_eq(wait_status(pid), 128 + SIGSEGV);
    for (int i = 0; i < 4096; i++) {
        cr_assert_eq(((unsigned char *)x)[i], 0x11);
        cr_assert_eq(((unsigned char *)y)[i], 0x22);
    }
    cr_assert_eq(check_bank(), 0);
}

Test(procs, metadata_is_not_writable_through_memory)
{
    pmm_bank *b = bank_open();
    void *p;
    cr_assert_eq(pmm_alloc(b, "m", 10, NULL, 0, 0, &p, NULL), K_OK);
    pid_t pid = fork();
    if (pid == 0) { /* a wild write into the metadata mapping */
        signal(SIGSEGV, SIG_DFL);
        *(volatile char *)(b->meta + b->g.entries_off) = 'X';
        _exit(0);
    }
    cr_assert_eq(wait_status(pid), 128 + SIGSEGV);
    cr_assert_eq(check_bank(), 0);
}

/* The metadata view sits in the bank's own range after its block space:
 * the block holding the last pages still maps at its fixed address, and
 * an unmapped page separates it from the view (a read past it faults). */
Test(procs, last_block_of_the_bank_keeps_its_address_and_guard)
{
    pmm_bank *b = bank_open();
    pmm_bank_info st;
    pmm_block blk;
    void *p;
    cr_assert_eq(pmm_bank_stat(b, &st), K_OK);
    cr_assert_eq(st.blocks, 0);
    /* every block is followed by a guard page */
    cr_assert_eq(pmm_alloc(b, "all", st.free, NULL, 0, 0, &p, &blk), K_ENOMEM);
    cr_assert_eq(pmm_alloc(b, "all", st.free - st.page_size, NULL, 0, 0, &p, &blk), K_OK);
    cr_assert_not(blk.flags & PMM_B_ELSEWHERE);
    cr_assert_eq((uintptr_t)p, st.base);
    uintptr_t end = st.base + blk.size;
    cr_assert(end + st.page_size <= st.base + st.size);
    uintptr_t meta = (uintptr_t)b->meta;
    cr_assert(meta >= end + st.page_size || meta + b->meta_len <= st.base,
              "metadata view %#lx inside the block space", (unsigned long)meta);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        (void)((volatile char *)p)[blk.size]; /* a read one byte past the end */
        _exit(0);
    }
    cr_assert_eq(wait_status(pid), 128 + SIGSEGV);
    cr_assert_eq(pmm_free(b, "all"), K_OK);
    cr_assert_eq(check_bank(), 0);
}

Test(procs, racing_allocators_get_the_same_block)
{
    enum { N = 8, ROUNDS = 20 };
    for (int round = 0; round < ROUNDS; round++) {
        char name[32];
        snprintf(name, sizeof name, "race%d", round);
        int p[2];
        cr_assert_eq(pipe(p), 0);
        pid_t pids[N];
        for (int i = 0; i < N; i++) {
            pids[i] = fork();
            if (pids[i] == 0) {
                PmmName n = ram_name(name);
                VmAddr a;
                if (pmmAllocate(&a, &n, 4096, "R", 2) != K_OK)
                    _exit(1);
                __atomic_fetch_add((int *)a, 1, __ATOMIC_SEQ_CST);
                if (write(p[1], &a, sizeof a) != sizeof a)
                    _exit(1);
                _exit(0);
            }
        }
        close(p[1]);
        VmAddr got[N];
        for (int i = 0; i < N; i++) {
            cr_assert_eq(wait_status(pids[i]), 0);
            cr_assert_eq(read(p[0], &got[i], sizeof got[i]), (ssize_t)sizeof got[i]);
            cr_assert_eq(got[i], got[0], "all racers get one block");
        }
        close(p[0]);
        PmmName n = ram_name(name);
        VmAddr a;
        cr_assert_eq(pmmAllocate(&a, &n, 4096, "R", 2), K_OK);
        cr_assert_eq(*(int *)a, N, "every racer wrote into the same block");
    }
    pmm_bank_info st;
    cr_assert_eq(pmm_bank_stat(bank_open(), &st), 0);
    cr_assert_eq(st.blocks, ROUNDS);
    cr_assert_eq(check_bank(), 0);
}

Test(procs, freed_elsewhere_is_not_returned_stale)
{
    PmmName n = ram_name("f");
    VmAddr a, b2;
    cr_assert_eq(pmmAllocate(&a, &n, 4096, "K1", 3), K_OK);
    *(int *)a = 5;
    pid_t pid = fork();
    if (pid == 0)
        _exit(pmmFree(&n) == K_OK ? 0 : 1);
    cr_assert_eq(wait_status(pid), 0);
    /* our mapping is stale: a retrieve must see the block is gone */
    cr_assert_eq(pmm_alloc(bank_open(), "f", 4096, "K1", 3, PMM_RETRIEVE,
                           (void **)&b2, NULL), K_EUNKNOWN);
    cr_assert_eq(pmmAllocate(&b2, &n, 4096, "K2", 3), K_OK);
    cr_assert_eq(*(int *)b2, 0, "a new block is zero-filled");
}

Test(procs, range_taken_maps_elsewhere_and_says_so)
{
    pmm_bank *b = bank_open();
    pmm_block blk;
    void *p;
    cr_assert_eq(pmm_alloc(b, "e", 4096, NULL, 0, PMM_NOMAP, NULL, &blk), K_OK);
    uintptr_t fixed = (uintptr_t)blk.addr;
    pid_t pid = fork();
    if (pid == 0) {
        /* a fresh process whose range is taken before it opens the bank */
        pmm_bank_close(b);
        void *q = mmap((void *)fixed, 4096, PROT_READ,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (q == MAP_FAILED)
            _exit(3);
        pmm_bank *c;
        if (pmm_bank_open(&c, NULL, "RAM", 0) != K_OK)
            _exit(4);
        if (pmm_alloc(c, "e", 4096, NULL, 0, 0, &p, &blk) != K_OK)
            _exit(5);
        *(int *)p = 9;
        _exit((blk.flags & PMM_B_ELSEWHERE) && (uintptr_t)p != fixed ? 0 : 6);
    }
    cr_assert_eq(wait_status(pid), 0);
    cr_assert_eq(pmm_alloc(b, "e", 4096, NULL, 0, 0, &p, &blk), K_OK);
    cr_assert_eq((uintptr_t)p, fixed);
    cr_assert_eq(*(int *)p, 9, "the same block, wherever mapped");
}
