/* SPDX-License-Identifier: MIT */
/*
 * frag_mix.h - the random allocation sizes of the fragmentation runs
 * (heap_bench's and heap_boost's heap_frag, test_heap_cache's heap_frag):
 * 70 % of 16-256 bytes, 25 % of 257 B-4 KiB, 5 % of 4-64 KiB, from one
 * xorshift generator with a fixed seed, so that every run, and every
 * allocator, is given the same operations.  C and C++.
 */
#ifndef HR_BENCH_FRAG_MIX_H
#define HR_BENCH_FRAG_MIX_H

#include <stddef.h>
#include <stdint.h>

static uint64_t frag_rng = 88172645463325252ull;

static inline uint64_t frag_rnd(void)
{
    frag_rng ^= frag_rng << 13;
    frag_rng ^= frag_rng >> 7;
    frag_rng ^= frag_rng << 17;
    return frag_rng;
}

static inline size_t frag_size(void)
{
    uint64_t x = frag_rnd(), k = x % 100;
    if (k < 70)
        return 16 + x / 100 % 241;
    if (k < 95)
        return 257 + x / 100 % 3840;
    return 4097 + x / 100 % 61440;
}

#endif
