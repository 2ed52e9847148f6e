/* SPDX-License-Identifier: MIT */
/*
 * heap_suite.h - what the heap test suites share around their tests: the
 * site they run in, opening a heap that must open, asserting a heap keeps
 * every invariant, and the problems the checker names, collected.  The
 * helpers whose name says open or assert fail the test (Criterion) where
 * their call fails, saying why; hs_open_plain returns the error instead
 * (for a forked child, which reports by its exit status).
 */
#ifndef HR_TEST_HEAP_SUITE_H
#define HR_TEST_HEAP_SUITE_H

#include <stddef.h>

#include <hotrestart/heap.h>

/* A fresh site (site_new) with a RAM bank of 16 MiB and 64 blocks, and
 * that bank opened: the bank. */
pmm_bank *hs_site(void);
/* Open (or make) heap `name` of `size` bytes in bank b, of type "k"
 * version 1: the heap.  Fails the test with "open: " and the error. */
hr_heap *hs_open(pmm_bank *b, const char *name, size_t size);
/* The same in a handle of the RAM bank of its own, put in *b. */
hr_heap *hs_open_own(pmm_bank **b, const char *name, size_t size);
/* The same without failing the test, for a child that reports by its
 * exit status (the bank handle lives as long as the process): 0, or the
 * code of the call that failed. */
int hs_open_plain(hr_heap **h, const char *name, size_t size);
/* Fail the test unless h keeps every invariant (hw_verify), naming the
 * first it breaks. */
void hs_assert_clean(hr_heap *h);

/* The problems hs_collect was given, one a line, since the test last
 * emptied it (hs_seen[0] = 0); a problem past its room is cut. */
extern char hs_seen[4096];
/* A checker's callback (hr_heap_check): print the problem on stderr and
 * add it to hs_seen; arg is unused. */
void hs_collect(const char *problem, void *arg);

#endif
