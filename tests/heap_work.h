/* SPDX-License-Identifier: MIT */
/*
 * heap_work.h - the invariant-keeping workload of the heap tests: transfers
 * between accounts whose sum is fixed, and a linked list of objects of mixed
 * sizes whose length is kept in a counter, all under the root; and for each
 * worker (a thread, HW_WORKERS at most) a counter of its commits and two
 * accounts of its own, changed by its private transactions, which run
 * beside the others.  A worker acknowledges each commit that returned in
 * hw_acked[worker] (memory shared with the test, if set), so that a test
 * can tell a lost commit (counter below the acknowledgement) from an
 * invented one (more than one above it).
 */
#ifndef HR_TEST_HEAP_WORK_H
#define HR_TEST_HEAP_WORK_H

#include <stddef.h>
#include <stdint.h>

#include <hotrestart/heap.h>

/* Built with AddressSanitizer (gcc or clang)? */
#if defined(__SANITIZE_ADDRESS__)
#define HW_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HW_ASAN 1
#endif
#endif

#define HW_ACCOUNTS 16
#define HW_START    1000u  /* each account's first balance */
#define HW_MAXLIST  100u
#define HW_WORKERS  16

/* A worker's own words: 64 bytes, a lock granule's worth. */
struct hw_mine {
    uint64_t n;              /* its committed transactions */
    uint64_t a, b;           /* a + b is 0 (not begun) or 2 * HW_START */
    uint64_t pad[5];
};

struct hw_root {
    uint64_t total;          /* HW_ACCOUNTS * HW_START, never changes */
    uint64_t list_len;       /* nodes on the list */
    uint64_t head;           /* first node (a plain pointer), 0 none */
    uint64_t commits;        /* +1 in every shared transaction */
    uint64_t acc[HW_ACCOUNTS];
    struct hw_mine mine[HW_WORKERS];
};

struct hw_node {
    uint64_t next;           /* plain pointer to the next node, 0 none */
    uint64_t seed;           /* data[i] == (uint8_t)(seed + i) */
    uint64_t len;            /* bytes of data */
    uint8_t data[];
};

/* Size of the heaps hw_run and hw_reopen_verify make (default 1 MiB). */
extern size_t hw_heap_size;
/* Commits acknowledged, per worker (NULL: none kept); shared memory the
 * test maps before it forks its workers. */
extern uint64_t *hw_acked;
/* The worker the calling thread is (default 0). */
extern __thread int hw_worker;
/* Open (or make) the heap `name` of a medium in the current site. */
int hw_open(hr_heap **h, const char *medium, const char *name, size_t size);
/* One transaction of 1-3 random operations, committed (or, one time in
 * twenty, aborted).  Returns 0, or the failed call's code. */
int hw_step(hr_heap *h, uint64_t *rng);
/* Run steps for ever (or n of them, n > 0) in `threads` threads, workers
 * first..first+threads-1; _exit(0) at the end, and _exit(10 + k) when a
 * call fails. */
void hw_run(const char *medium, const char *name, uint64_t seed, long n,
            int first, int threads);
/* Check every invariant under the heap's lock, and the checker, and that
 * the heap's used bytes equal the live objects'.  0, or -1 with why. */
int hw_verify(hr_heap *h, char *why, size_t len);

/* In a test: open the heap as a restarted process would and check it all
 * (the checker from outside a transaction too); `after` names the event. */
void hw_reopen_verify(const char *medium, const char *name, const char *after);
/* Make the root before workers run at once: the root's transaction reads
 * it unlocked, so two workers starting together would each make one. */
void hw_make_root(const char *medium, const char *name);
/* Fork a worker running hw_run (steps 0: for ever) in one thread, worker
 * 0, with HR_CRASHPOINT set to crash if not NULL. */
int hw_spawn(const char *medium, const char *name, uint64_t seed,
             const char *crash, long steps);
/* The same with `threads` threads, workers first... */
int hw_spawn_threads(const char *medium, const char *name, uint64_t seed,
                     const char *crash, long steps, int first, int threads);
/* After workers first..first+n-1 died: each one's counter holds every
 * commit it acknowledged and at most one more.  0, or -1 with why. */
int hw_check_acks(hr_heap *h, int first, int n, char *why, size_t len);

#endif
