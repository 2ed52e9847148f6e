/* SPDX-License-Identifier: MIT */
// heap_boost.cpp - the Boost.Interprocess peer of heap_bench: allocate and
// deallocate 64 bytes in a managed_shared_memory segment (no transaction,
// not crash-safe), and the fragmentation workload of heap_bench (the same
// sequence of sizes and slots).  Prints "key value" lines that heap_bench
// reads.
//
//   heap_boost [--quick]
#include <boost/interprocess/managed_shared_memory.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <new>
#include <string>
#include <vector>

#include "frag_mix.h" // heap_bench's frag(): the same sizes and slots

namespace bip = boost::interprocess;

// The largest object the segment can give now (binary search).
static size_t largest(bip::managed_shared_memory &seg)
{
    size_t lo = 0, hi = seg.get_size();
    while (lo + 4096 < hi) {
        size_t mid = lo + (hi - lo) / 2;
        void *p = seg.allocate(mid, std::nothrow);
        if (p) {
            seg.deallocate(p);
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static void frag(long ops)
{
    const size_t seg_size = 512ull << 20;
    bip::shared_memory_object::remove("hrbench_heap_frag");
    {
        bip::managed_shared_memory seg(bip::create_only, "hrbench_heap_frag",
                                       seg_size);
        enum { SLOTS = 20000 };
        static void *slot[SLOTS];
        static size_t size[SLOTS];
        uint64_t live = 0;
        double peak = 0;
        for (long done = 0; done < ops;) {
            for (int k = 0; k < 20 && done < ops; k++, done++) {
                unsigned i = (unsigned)(frag_rnd() % SLOTS);
                if (slot[i]) {
                    seg.deallocate(slot[i]);
                    live -= size[i];
                    slot[i] = nullptr;
                } else {
                    size[i] = frag_size();
                    slot[i] = seg.allocate(size[i], std::nothrow);
                    if (slot[i])
                        live += size[i];
                }
            }
            if (done % 1000000 == 0 && live) {
                double r = double(seg.get_size() - largest(seg)) / live;
                peak = std::max(peak, r);
            }
        }
        double r = double(seg.get_size() - largest(seg)) / live;
        std::printf("boost_frag %.3f\nboost_frag_peak %.3f\n", r,
                    std::max(peak, r));
    }
    bip::shared_memory_object::remove("hrbench_heap_frag");
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && std::string(argv[1]) == "--quick";
    bip::shared_memory_object::remove("hrbench_heap_boost");
    {
        bip::managed_shared_memory seg(bip::create_only, "hrbench_heap_boost",
                                       64 << 20);
        std::vector<double> r;
        const int n = 200000;
        for (int rep = 0; rep < 15; rep++) {
            auto t = std::chrono::steady_clock::now();
            for (int i = 0; i < n; i++) {
                void *volatile p = seg.allocate(64);
                seg.deallocate(p);
            }
            auto e = std::chrono::steady_clock::now() - t;
            r.push_back(std::chrono::duration<double, std::nano>(e).count() / n);
        }
        std::sort(r.begin(), r.end());
        std::printf("boost_alloc64 %.1f\nboost_alloc64_p99 %.1f\n",
                    r[r.size() / 2], r.back());
    }
    bip::shared_memory_object::remove("hrbench_heap_boost");
    frag(quick ? 1000000 : 10000000);
    return 0;
}
