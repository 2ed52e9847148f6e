/* SPDX-License-Identifier: MIT */
/*
 * test_heap_pguard.c - what must never hang or crash around the
 * presence of threads (src/heap/presence.c, lane.c), each a clear error
 * or a working heap instead:
 *
 * - one thread, two handles of one heap: a second transaction begun
 *   through the other handle is refused (K_ETX), not left to wait on
 *   the first's lock words for ever;
 * - a presence file cut short while no process uses it: made whole and
 *   initialised again (robust slots), so that a process killed inside
 *   a transaction is still found dead; cut short while a process maps
 *   it: a clear error (K_EHEAP), never a hang;
 * - a thread cancelled while hr_heap_open waits for the presence file's
 *   lock: the open ends there, and later opens and fork() go on;
 * - the presence file's file system full: hr_heap_open fails with
 *   -ENOSPC instead of dying by SIGBUS.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotrestart/heap.h>

#include "common.h"

static char pres[4300]; /* the RAM bank's presence file */

static void setup(void)
{
    site_new(16 << 20, 16);
    snprintf(pres, sizeof pres, "%s.presence", site_bank());
}
static void teardown(void)
{
    site_drop();
}
TestSuite(heap_pguard, .init = setup, .fini = teardown, .timeout = 60);

static hr_heap *open_heap(pmm_bank **b, const char *name)
{
    hr_heap *h;
    cr_assert_eq(pmm_bank_open(b, NULL, "RAM", 0), 0);
    cr_assert_eq(hr_heap_open(&h, *b, name, 1 << 20, "k", 1, 0), 0);
    return h;
}

/* Seen failing before the fix: the second begin succeeded and the
 * set64 waited for ever on the first transaction (the suite's timeout). */
Test(heap_pguard, one_thread_two_handles_of_a_heap)
{
    pmm_bank *b;
    hr_heap *h1 = open_heap(&b, "h"), *h2;
    cr_assert_eq(hr_heap_open(&h2, b, "h", 1 << 20, "k", 1, 0), 0);
    cr_assert_neq(h1, h2);
    uint64_t *o;
    cr_assert_eq(hr_heap_begin(h1), 0);
    cr_assert_eq(hr_heap_alloc(h1, 64, HR_HEAP_ZERO, (void **)&o), 0);
    cr_assert_eq(hr_heap_commit(h1), 0);
    cr_assert_eq(hr_heap_begin(h1), 0);
    cr_assert_eq(hr_heap_set64(h1, o, 1), 0);
    cr_assert_eq(hr_heap_begin(h2), K_ETX, "a second transaction in a heap");
    cr_assert_eq(hr_heap_set64(h2, o, 2), K_ETX, "no transaction on h2");
    cr_assert_eq(hr_heap_commit(h1), 0);
    cr_assert_eq(*o, 1);
    /* the first ended: the other handle may begin */
    cr_assert_eq(hr_heap_begin(h2), 0);
    cr_assert_eq(hr_heap_set64(h2, o, 2), 0);
    cr_assert_eq(hr_heap_commit(h2), 0);
    cr_assert_eq(*o, 2);
    hr_heap_close(h2);
    hr_heap_close(h1);
    pmm_bank_close(b);
}
