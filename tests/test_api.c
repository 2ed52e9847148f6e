/* SPDX-License-Identifier: MIT */
/*
 * test_api.c - every call and every error code of SPEC 2.2, through the
 * ChorusOS names and the native interface.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <chPmm.h>
#include <hr/hr.h>
#include <hotrestart/hr.h>
#include <hotrestart/version.h>
#include <pmm/chPmm.h>

#include "common.h"
#include "pmm/alloc.h"
#include "pmm/free.h"

static void setup(void) { site_new(0, 0); unsetenv("HR_GROUP"); }
static void teardown(void) { site_drop(); }
TestSuite(api, .init = setup, .fini = teardown);

Test(api, allocate_is_zero_filled_and_retrieve_returns_same_block)
{
    PmmName n = ram_name("blk");
    VmAddr a = 0, b = 0;
    cr_assert_eq(pmmAllocate(&a, &n, 10000, "K", 2), K_OK);
    unsigned char *p = (unsigned char *)a;
    for (size_t i = 0; i < 12288; i++)
        cr_assert_eq(p[i], 0, "byte %zu not zero", i);
    memset(p, 0xab, 10000);
    cr_assert_eq(pmmAllocate(&b, &n, 10000, "K", 2), K_OK);
    cr_assert_eq(a, b);
    cr_assert_eq(((unsigned char *)b)[9999], 0xab);
    /* a retrieve with a smaller size is fine */
    cr_assert_eq(pmmAllocate(&b, &n, 1, "K", 2), K_OK);
    cr_assert_eq(a, b);
}

Test(api, sizes_are_rounded_to_pages)
{
    pmm_bank *b = bank_open();
    pmm_block blk;
    void *p;
    cr_assert_eq(pmm_alloc(b, "one", 1, NULL, 0, 0, &p, &blk), K_OK);
    cr_assert_eq(blk.size, (size_t)getpagesize());
    cr_assert(blk.flags & PMM_B_NEW);
    cr_assert_eq(pmm_stat(b, "one", &blk), K_OK);
    cr_assert_eq(blk.size, (size_t)getpagesize());
    /* the whole page is usable; a retrieve up to the page size succeeds */
    ((char *)p)[getpagesize() - 1] = 1;
    cr_assert_eq(pmm_alloc(b, "one", (size_t)getpagesize(), NULL, 0, 0, &p,
                           NULL), K_OK);
}

Test(api, efault)
{
    PmmName n = ram_name("x");
    VmAddr a;
    void *p;
    cr_assert_eq(pmmAllocate(NULL, &n, 8, NULL, 0), K_EFAULT);
    cr_assert_eq(pmmAllocate(&a, NULL, 8, NULL, 0), K_EFAULT);
    cr_assert_eq(pmmFree(NULL), K_EFAULT);
    cr_assert_eq(pmm_alloc(NULL, "x", 8, NULL, 0, 0, &p, NULL), K_EFAULT);
    pmm_bank *b = bank_open();
    cr_assert_eq(pmm_alloc(b, "x", 8, NULL, 0, 0, NULL, NULL), K_EFAULT);
    cr_assert_eq(pmm_alloc(b, NULL, 8, NULL, 0, 0, &p, NULL), K_EFAULT);
    cr_assert_eq(pmm_free(NULL, "x"), K_EFAULT);
    cr_assert_eq(pmm_stat(b, "x", NULL), K_EFAULT);
    cr_assert_eq(pmm_bank_open(NULL, NULL, "RAM", 0), K_EFAULT);
}

Test(api, einval)
{
    PmmName n = ram_name("x"), empty = ram_name(""), unterminated = ram_name("x");
    VmAddr a;
    memset(unterminated.name, 'a', sizeof unterminated.name);
    cr_assert_eq(pmmAllocate(&a, &empty, 8, NULL, 0), K_EINVAL);
    cr_assert_eq(pmmAllocate(&a, &unterminated, 8, NULL, 0), K_EINVAL);
    cr_assert_eq(pmmAllocate(&a, &n, 0, NULL, 0), K_EINVAL);
    cr_assert_eq(pmmAllocate(&a, &n, 8, "0123456789abcdef0123456789abcdefX", 33),
                 K_EINVAL);
    cr_assert_eq(pmmAllocate(&a, &n, 8, NULL, 3), K_EINVAL);
    cr_assert_eq(pmmFree(&empty), K_EINVAL);
    cr_assert_eq(pmmFree(&unterminated), K_EINVAL);
    cr_assert_eq(pmmFreeAll(NULL, 0), K_EINVAL);
    cr_assert_eq(pmmFreeAll("K", 0), K_EINVAL);
    cr_assert_eq(pmmFreeAll("K", 33), K_EINVAL);
    /* HR_GROUP_KEY outside a restart group */
    cr_assert_eq(pmmAllocate(&a, &n, 8, HR_GROUP_KEY, HR_GROUP_KEYSIZE), K_EINVAL);
    setenv("HR_GROUP", "not-a-number", 1);
    cr_assert_eq(pmmAllocate(&a, &n, 8, HR_GROUP_KEY, HR_GROUP_KEY_SIZE), K_EINVAL);
    PmmName badmed = ram_name("x");
    memset(badmed.medium, 'R', sizeof badmed.medium);
    cr_assert_eq(pmmAllocate(&a, &badmed, 8, NULL, 0), K_EINVAL);
    pmm_bank *b = bank_open();
    void *p;
    cr_assert_eq(pmm_alloc(b, "x", 8, NULL, 0, 0x100, &p, NULL), K_EINVAL);
    cr_assert_eq(pmm_alloc(b, "x", 8, NULL, 0, PMM_RETRIEVE | PMM_EXCL, &p,
                           NULL), K_EINVAL);
    cr_assert_eq(pmm_free_key(b, NULL, 3, NULL), K_EINVAL);
    cr_assert_eq(pmm_bank_open(&b, NULL, "", 0), K_EINVAL);
    /* nothing was made by any of these */
    cr_assert_eq(pmm_stat(bank_open(), "x", &(pmm_block){0}), K_EUNKNOWN);
}

Test(api, eunknown)
{
    PmmName n = ram_name("x"), tape = ram_name("x");
    VmAddr a;
    strcpy(tape.medium, "TAPE");
    cr_assert_eq(pmmAllocate(&a, &tape, 8, NULL, 0), K_EUNKNOWN);
    cr_assert_eq(pmmFree(&tape), K_EUNKNOWN);
    cr_assert_eq(pmmFree(&n), K_EUNKNOWN);
    cr_assert_eq(pmmFreeAll("nokey", 6), K_EUNKNOWN);
    PmmName disk = ram_name("x");
    strcpy(disk.medium, "DISK"); /* this site has no DISK medium */
    cr_assert_eq(pmmAllocate(&a, &disk, 8, NULL, 0), K_EUNKNOWN);
    void *p;
    cr_assert_eq(pmm_alloc(bank_open(), "x", 8, NULL, 0, PMM_RETRIEVE, &p, NULL),
                 K_EUNKNOWN);
}

Test(api, enomem_bank_full_and_max_blocks)
{
    site_drop();
    site_new(16 * 4096, 3);
    PmmName n = ram_name("big");
    VmAddr a;
    cr_assert_eq(pmmAllocate(&a, &n, 17 * 4096, NULL, 0), K_ENOMEM);
    cr_assert_eq(pmmAllocate(&a, &n, 8 * 4096, NULL, 0), K_OK);
    PmmName m = ram_name("big2");
    /* 8 pages + guard used: 7 left, 8 asked */
    cr_assert_eq(pmmAllocate(&a, &m, 8 * 4096, NULL, 0), K_ENOMEM);
    cr_assert_eq(pmmAllocate(&a, &m, 1, NULL, 0), K_OK);
    PmmName o = ram_name("c");
    cr_assert_eq(pmmAllocate(&a, &o, 1, NULL, 0), K_OK);
    PmmName q = ram_name("d");
    cr_assert_eq(pmmAllocate(&a, &q, 1, NULL, 0), K_ENOMEM); /* maxBlocks 3 */
    cr_assert_eq(pmmFree(&o), K_OK);
    cr_assert_eq(pmmAllocate(&a, &q, 1, NULL, 0), K_OK);
    cr_assert_eq(check_bank(), 0);
}

Test(api, epriv_system_keys_and_blocks)
{
    PmmName n = ram_name("x");
    VmAddr a;
    cr_assert_eq(pmmAllocate(&a, &n, 8, "__SYSfoo", 9), K_EPRIV);
    cr_assert_eq(pmmFreeAll("__SYSfoo", 9), K_EPRIV);
    cr_assert_eq(pmmFreeAll(HR_GROUP_KEY, HR_GROUP_KEYSIZE), K_EPRIV);
    pmm_bank *b = bank_open();
    void *p;
    cr_assert_eq(pmm__alloc_sys(b, "__SYS.image.1", 100, "__SYS.img", 10, 0, -1,
                                &p, NULL), K_OK);
    PmmName s = ram_name("__SYS.image.1");
    cr_assert_eq(pmmFree(&s), K_EPRIV);
    cr_assert_eq(pmmAllocate(&a, &s, 8, NULL, 0), K_EPRIV);
    cr_assert_eq(pmm_free(b, "__SYS.image.1"), K_EPRIV);
    cr_assert_eq(pmm_free_key(b, "__SYS.img", 10, NULL), K_EPRIV);
    pmm_block blk;
    cr_assert_eq(pmm_stat(b, "__SYS.image.1", &blk), K_OK);
    cr_assert(blk.flags & PMM_B_SYSTEM);
    cr_assert_eq(pmm__free_sys(b, "__SYS.image.1"), K_OK);
    /* a system name is refused to a user whatever the key, before the
     * controller has taken it (before: the user's block kept the registry
     * from being made, hrd from starting and the site from being
     * destroyed) */
    cr_assert_eq(pmm_alloc(b, "__SYS.hr.registry", 4096, "mine", 4, 0, &p,
                           NULL), K_EPRIV);
    cr_assert_eq(pmm_alloc(b, "__SYSanything", 64, NULL, 0, 0, &p, NULL),
                 K_EPRIV);
    PmmName r = ram_name("__SYS.hr.image.0");
    cr_assert_eq(pmmAllocate(&a, &r, 8, "k", 2), K_EPRIV);
    cr_assert_eq(pmm_stat(b, "__SYS.hr.registry", &blk), K_EUNKNOWN);
}

Test(api, esize_and_eexist)
{
    PmmName n = ram_name("x");
    VmAddr a;
    cr_assert_eq(pmmAllocate(&a, &n, 100, "A", 2), K_OK);
    cr_assert_eq(pmmAllocate(&a, &n, 4097, "A", 2), K_ESIZE);
    cr_assert_eq(pmmAllocate(&a, &n, 100, "B", 2), K_EEXIST);
    cr_assert_eq(pmmAllocate(&a, &n, 100, NULL, 0), K_EEXIST);
    void *p;
    cr_assert_eq(pmm_alloc(bank_open(), "x", 100, "A", 2, PMM_EXCL, &p, NULL),
                 K_EEXIST);
    /* and from a fresh process, which has not mapped it */
    pid_t pid = fork();
    if (pid == 0) {
        VmAddr b;
        _exit(pmmAllocate(&b, &n, 9000, "A", 2) == K_ESIZE &&
              pmmAllocate(&b, &n, 10, "C", 2) == K_EEXIST &&
              pmmAllocate(&b, &n, 10, "A", 2) == K_OK && b == a ? 0 : 1);
    }
    cr_assert_eq(wait_status(pid), 0);
}

Test(api, free_releases_name_and_pages)
{
    uint64_t before = bank_used();
    PmmName n = ram_name("x");
    VmAddr a;
    cr_assert_eq(pmmAllocate(&a, &n, 3 * 4096, NULL, 0), K_OK);
    memset((void *)a, 7, 3 * 4096);
    cr_assert_eq(bank_used(), before + 3 * 4096);
    cr_assert_eq(pmmFree(&n), K_OK);
    cr_assert_eq(pmmFree(&n), K_EUNKNOWN);
    cr_assert_eq(bank_used(), before);
    cr_assert_eq(pmmAllocate(&a, &n, 3 * 4096, "other", 6), K_OK);
    for (int i = 0; i < 3 * 4096; i++)
        cr_assert_eq(((char *)a)[i], 0);
}

Test(api, freeall_frees_every_block_of_the_key_from_any_process)
{
    VmAddr a;
    for (int i = 0; i < 3; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            char name[16];
            snprintf(name, sizeof name, "k%d", i);
            PmmName n = ram_name(name);
            _exit(pmmAllocate(&a, &n, 64, "JOB", 4) == K_OK ? 0 : 1);
        }
        cr_assert_eq(wait_status(pid), 0);
    }
    PmmName keep = ram_name("keep");
    cr_assert_eq(pmmAllocate(&a, &keep, 64, "OTHER", 6), K_OK);
    size_t n = 0;
    cr_assert_eq(pmm_free_key(bank_open(), "JOB", 4, &n), K_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(pmmFreeAll("JOB", 4), K_EUNKNOWN);
    pmm_block blk;
    cr_assert_eq(pmm_stat(bank_open(), "keep", &blk), K_OK);
    cr_assert_eq(check_bank(), 0);
}

Test(api, group_key_blocks_belong_to_the_group)
{
    VmAddr a, b2;
    PmmName n = ram_name("g"), other = ram_name("other"), mine = ram_name("mine");
    setenv("HR_GROUP", "3", 1);
    cr_assert_eq(pmmAllocate(&a, &n, 64, HR_GROUP_KEY, HR_GROUP_KEYSIZE), K_OK);
    cr_assert_eq(pmmAllocate(&b2, &mine, 64, "MINE", 5), K_OK);
    pmm_block blk;
    pmm_bank *b = bank_open();
    cr_assert_eq(pmm_stat(b, "g", &blk), K_OK);
    cr_assert_eq(blk.group, 3);
    cr_assert(blk.flags & PMM_B_GROUP);
    /* another group cannot take the name */
    setenv("HR_GROUP", "4", 1);
    cr_assert_eq(pmmAllocate(&a, &n, 64, HR_GROUP_KEY, HR_GROUP_KEYSIZE), K_EEXIST);
    cr_assert_eq(pmmAllocate(&a, &other, 64, HR_GROUP_KEY, HR_GROUP_KEYSIZE), K_OK);
    size_t freed = 0;
    cr_assert_eq(pmm__free_group(b, 3, &freed), K_OK);
    cr_assert_eq(freed, 1);
    cr_assert_eq(pmm_stat(b, "g", &blk), K_EUNKNOWN);
    cr_assert_eq(pmm_stat(b, "other", &blk), K_OK);
    cr_assert_eq(pmm_stat(b, "mine", &blk), K_OK);
    /* pmmFree accepts group blocks too */
    cr_assert_eq(pmmFree(&other), K_OK);
}

static int count_cb(const pmm_block *blk, void *arg)
{
    (void)blk;
    ++*(int *)arg;
    return 0;
}

Test(api, native_stat_iter_nomap_strerror)
{
    pmm_bank *b = bank_open();
    pmm_block blk;
    cr_assert_eq(pmm_alloc(b, "nomap", 5000, "k", 1, PMM_NOMAP, NULL, &blk), K_OK);
    cr_assert_not(blk.flags & PMM_B_MAPPED);
    void *p;
    cr_assert_eq(pmm_alloc(b, "m", 10, NULL, 0, 0, &p, &blk), K_OK);
    cr_assert(blk.flags & PMM_B_MAPPED);
    cr_assert_eq(blk.addr, p);
    cr_assert_not(blk.flags & PMM_B_ELSEWHERE);
    int n = 0;
    cr_assert_eq(pmm_iter(b, count_cb, &n), K_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(pmm_sync(b, "m"), K_OK);
    cr_assert_eq(pmm_sync(b, "nope"), K_EUNKNOWN);
    int codes[] = {K_OK, K_EINVAL, K_EFAULT, K_EUNKNOWN, K_ENOMEM, K_EPRIV,
                   K_ESIZE, K_EEXIST, K_EBANK};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        cr_assert_neq(strcmp(pmm_strerror(codes[i]), "unknown error code"), 0);
    cr_assert_str_eq(pmm_strerror(-2), "No such file or directory");
    pmm_bank_info st;
    cr_assert_eq(pmm_bank_stat(b, &st), K_OK);
    cr_assert_eq(st.blocks, 2);
    cr_assert_eq(st.max_blocks, PMM_DEFAULT_MAX_BLOCKS);
    cr_assert_eq(st.size, PMM_DEFAULT_BANK_SIZE);
}

static void *thread_work(void *arg)
{
    pmm_bank *b = arg;
    char name[32];
    snprintf(name, sizeof name, "t%lx", (unsigned long)pthread_self());
    for (int i = 0; i < 300; i++) {
        void *p;
        if (pmm_alloc(b, name, 100, NULL, 0, 0, &p, NULL) != K_OK)
            return (void *)1;
        *(volatile int *)p = i;
        if (pmm_free(b, name) != K_OK)
            return (void *)1;
    }
    return NULL;
}

Test(api, threads_share_a_bank)
{
    pmm_bank *b = bank_open();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, thread_work, b);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        cr_assert_null(r);
    }
    cr_assert_eq(check_bank(), 0);
    cr_assert_eq(bank_used(), 0);
}

Test(api, banks_and_sites_are_owner_only)
{
    const char *site = getenv("HR_SITE");
    pmm_bank *b = bank_open();
    struct stat st;
    cr_assert_eq(stat(site_bank(), &st), 0);
    cr_assert_eq(st.st_mode & 077, 0);
    cr_assert_eq(stat(site, &st), 0);
    cr_assert_eq(st.st_mode & 077, 0);
    pmm_bank_close(b);
    chmod(site_bank(), 0644);
    pid_t pid = fork();
    if (pid == 0) { /* fresh process: a bank open to others is refused */
        pmm_bank *x;
        _exit(pmm_bank_open(&x, NULL, "RAM", 0) == K_EPRIV ? 0 : 1);
    }
    cr_assert_eq(wait_status(pid), 0);
    chmod(site_bank(), 0600);
    chmod(site, 0755);
    pid = fork();
    if (pid == 0) {
        pmm_bank *x;
        _exit(pmm_bank_open(&x, NULL, "RAM", 0) == K_EPRIV ? 0 : 1);
    }
    cr_assert_eq(wait_status(pid), 0);
    chmod(site, 0700);
}

/* The library in use says its version, the one the headers were built
 * from (one place sets both). */
Test(api, hr_version_is_the_headers_version)
{
    const char *v = hr_version();
    cr_assert_not_null(v);
    cr_assert_str_eq(v, HR_VERSION_STRING);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", HR_VERSION_MAJOR,
             HR_VERSION_MINOR, HR_VERSION_PATCH);
    cr_assert_str_eq(v, want);
}
