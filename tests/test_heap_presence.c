/* SPDX-License-Identifier: MIT */
/*
 * test_heap_presence.c - a thread that used a heap outlives the heap's
 * block: the heap is closed and its bank closed (or its block freed and
 * the space given to a new block, which is then written) while the thread
 * lives on; the thread then takes another robust, process-shared mutex and
 * ends inside a transaction of another heap.  Nothing the heap left with
 * the thread may point into the gone block: glibc links every robust
 * mutex a thread holds into a list it writes at each lock (a SIGSEGV if an
 * entry's memory is gone), and the kernel walks that list when the thread
 * ends (stopping at the gone entry: the mutexes after it never marked
 * dead, a hang for whoever waits on them; or, the range reused, setting
 * bits in another block's data).  So: no SIGSEGV, both mutexes the thread
 * held are found dead, the new block's bytes are as written, and a forked
 * process gets the lane and the lock word the ended thread left.  And the
 * first user of a new boot makes the presence slots again.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hotrestart/heap.h>

#include "common.h"

#define GONE_SIZE (1u << 20)

static pmm_bank *bank;
static hr_heap *H;
static uint64_t *obj;
static pthread_mutex_t *mu; /* two robust, process-shared mutexes */
static sem_t ready, go;

static char disk_path[128];

/* A site with a RAM bank (the heap H that lives on) and a DISK bank in
 * /dev/shm (closed whole in a test: its blocks unmapped). */
static void setup(void)
{
    site_new_disk(disk_path, sizeof disk_path, "/dev/shm/hrheappres",
                  16 << 20, 8 << 20);
    bank = bank_open();
    cr_assert_eq(hr_heap_open(&H, bank, "keep", 1 << 20, "k", 1, 0), 0);
    cr_assert_eq(hr_heap_begin(H), 0);
    cr_assert_eq(hr_heap_alloc(H, 64, HR_HEAP_ZERO, (void **)&obj), 0);
    cr_assert_eq(hr_heap_commit(H), 0);
    mu = mmap(NULL, 2 * sizeof *mu, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(mu, MAP_FAILED);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_mutex_init(&mu[i], &a), 0);
    pthread_mutexattr_destroy(&a);
    sem_init(&ready, 0, 0);
    sem_init(&go, 0, 0);
}
static void teardown(void)
{
    hr_heap_close(H);
    disk_bank_drop(disk_path);
    site_drop();
}
TestSuite(heap_presence, .init = setup, .fini = teardown, .timeout = 60);

static hr_heap *G; /* the heap "gone", which the main thread closes */

/* Take mu[0], use the heap "gone" of bank b, begin a transaction in H
 * that writes obj, let the main thread take "gone" away, take mu[1], and
 * end inside the transaction. */
static void *outlive(void *arg)
{
    pmm_bank *b = arg;
    hr_heap *g;
    uint64_t *o;
    cr_assert_eq(pthread_mutex_lock(&mu[0]), 0);
    cr_assert_eq(hr_heap_open(&g, b, "gone", GONE_SIZE, "k", 1, 0), 0);
    cr_assert_eq(hr_heap_begin(g), 0);
    cr_assert_eq(hr_heap_alloc(g, 64, HR_HEAP_ZERO, (void **)&o), 0);
    cr_assert_eq(hr_heap_set64(g, o, 7), 0);
    cr_assert_eq(hr_heap_commit(g), 0);
    G = g;
    cr_assert_eq(hr_heap_begin(H), 0);
    cr_assert_eq(hr_heap_set64(H, obj, 1000), 0);
    sem_post(&ready);
    sem_wait(&go);
    cr_assert_eq(pthread_mutex_lock(&mu[1]), 0); /* glibc links it */
    pthread_exit(NULL);                          /* the kernel walks */
}

/* Run outlive; take_away(b) takes its heap's block away meanwhile. */
static void run(void (*take_away)(pmm_bank *b), pmm_bank *b)
{
    pthread_t t;
    pthread_create(&t, NULL, outlive, b);
    sem_wait(&ready);
    hr_heap_close(G); /* while the thread that used it lives on */
    take_away(b);
    sem_post(&go);
    pthread_join(t, NULL);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_mutex_lock(&mu[i]), EOWNERDEAD,
                     "mutex %d the ended thread held is not marked dead", i);
    /* another process gets the ended thread's lane and lock word */
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int ok = hr_heap_begin(H) == 0 && hr_heap_lock(H, obj) == 0 &&
                 obj[0] == 0 && hr_heap_set64(H, obj, 5) == 0 &&
                 hr_heap_commit(H) == 0;
        _exit(ok ? 0 : 1);
    }
    cr_assert_eq(wait_status(pid), 0, "the child could not take obj");
    cr_assert_eq(obj[0], 5);
    cr_assert_eq(hr_heap_check(H, NULL, NULL), 0);
}

static void close_bank(pmm_bank *b)
{
    pmm_bank_close(b);
}

Test(heap_presence, a_thread_outlives_its_heaps_closed_bank)
{
    pmm_bank *b;
    cr_assert_eq(pmm_bank_open(&b, NULL, "DISK", 0), 0);
    run(close_bank, b); /* the only handle: its blocks are unmapped */
}

static uint8_t *fresh;

/* Free "gone" and give its space to a new block, all written. */
static void free_and_reuse(pmm_bank *b)
{
    cr_assert_eq(pmm_free(b, "gone"), 0);
    cr_assert_eq(pmm_alloc(b, "fresh", GONE_SIZE, "k", 1, 0, (void **)&fresh,
                           NULL),
                 0);
    memset(fresh, 0xa5, GONE_SIZE);
}

Test(heap_presence, a_thread_outlives_its_heaps_freed_block)
{
    run(free_and_reuse, bank);
    for (size_t i = 0; i < GONE_SIZE; i++)
        cr_assert_eq(fresh[i], 0xa5, "byte %zu of the new block changed", i);
}

/* A new boot: the presence file's mutexes name threads of the old boot,
 * which the kernel never marked dead.  Its first user of the new boot
 * makes them again (else a thread looking for a slot would wait for
 * ever).  This suite's process has not mapped the file before. */
static void site_only(void)
{
    site_new(16 << 20, 64);
}
static void site_gone(void)
{
    site_drop();
}
TestSuite(heap_boot, .init = site_only, .fini = site_gone, .timeout = 60);

/* Open heap "b" and run one transaction on it: 0, or where it failed. */
static int use_heap(void)
{
    pmm_bank *b = bank_open();
    hr_heap *h;
    uint64_t *o;
    if (hr_heap_open(&h, b, "b", 1 << 20, "k", 1, 0) != 0)
        return 1;
    int r = hr_heap_begin(h) || hr_heap_alloc(h, 64, 0, (void **)&o) ||
            hr_heap_set64(h, o, 9) || hr_heap_commit(h);
    hr_heap_close(h);
    pmm_bank_close(b);
    return r ? 2 : 0;
}

Test(heap_boot, a_new_boot_makes_the_presence_slots_again)
{
    setenv("HR_HEAP_BOOT_ID", "boot-a", 1);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0)
        _exit(use_heap());
    cr_assert_eq(wait_status(pid), 0);
    char path[4200];
    snprintf(path, sizeof path, "%s.presence", site_bank());
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    /* every slot held, as a reboot leaves them: each mutex's lock word
     * names a thread (pid 1's, alive) without the owner-died bit (the
     * file's layout: a page, then slots of 64 bytes, the mutex first) */
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    uint8_t *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
                      MAP_SHARED, fd, 0);
    cr_assert_neq(m, MAP_FAILED);
    close(fd);
    size_t slots = ((size_t)st.st_size - 4096) / 64;
    cr_assert_gt(slots, 0);
    for (size_t i = 0; i < slots; i++)
        ((pthread_mutex_t *)(m + 4096 + 64 * i))->__data.__lock = 1;
    setenv("HR_HEAP_BOOT_ID", "boot-b", 1);
    cr_assert_eq(use_heap(), 0);
    munmap(m, (size_t)st.st_size);
}
