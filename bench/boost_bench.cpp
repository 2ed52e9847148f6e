/* SPDX-License-Identifier: MIT */
// boost_bench.cpp - the Boost.Interprocess peer of pmm_bench: named objects
// in a managed_shared_memory segment.  Prints "key ns-per-op" lines that
// pmm_bench reads, so both land in one table from one run.
#include <boost/interprocess/managed_shared_memory.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace bip = boost::interprocess;

struct Block {
    char d[4096];
};

static double slowest; // of the 15 runs of the last measure()

template <class F> static double measure(F f, int n)
{
    std::vector<double> r;
    for (int rep = 0; rep < 15; rep++) {
        auto t = std::chrono::steady_clock::now();
        f(n);
        auto e = std::chrono::steady_clock::now() - t;
        r.push_back(std::chrono::duration<double, std::nano>(e).count() / n);
    }
    std::sort(r.begin(), r.end());
    slowest = r.back();
    return r[r.size() / 2];
}

int main()
{
    bip::shared_memory_object::remove("hrbench_boost");
    {
        bip::managed_shared_memory seg(bip::create_only, "hrbench_boost", 64 << 20);
        double af = measure([&](int n) {
            for (int i = 0; i < n; i++) {
                seg.construct<Block>("bench.af")();
                seg.destroy<Block>("bench.af");
            }
        }, 2000);
        double af_p99 = slowest;
        seg.find_or_construct<Block>("bench.r")();
        for (int i = 0; i < 9; i++) {
            char name[16];
            std::snprintf(name, sizeof name, "k%d", i);
            seg.construct<Block>(name)();
        }
        volatile Block *sink = nullptr;
        double find = measure([&](int n) {
            for (int i = 0; i < n; i++)
                sink = seg.find<Block>("bench.r").first;
        }, 200000);
        (void)sink;
        std::printf("boost_alloc_free %.1f\nboost_alloc_free_p99 %.1f\n"
                    "boost_find %.1f\nboost_find_p99 %.1f\n", af, af_p99, find,
                    slowest);
    }
    bip::shared_memory_object::remove("hrbench_boost");
    return 0;
}
