// heap_boost.cpp - the Boost.Interprocess peer of heap_bench: allocate and
// deallocate 64 bytes in a managed_shared_memory segment (no transaction,
// not crash-safe).  Prints "key ns-per-op" lines that heap_bench reads.
#include <boost/interprocess/managed_shared_memory.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace bip = boost::interprocess;

int main()
{
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
    return 0;
}
