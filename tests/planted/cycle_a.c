/* SPDX-License-Identifier: MIT */
/*
 * cycle_a.c - half of a call cycle (with cycle_b.c), for the test that the
 * layers check refuses one (tests/CMakeLists.txt).
 */
int hrtest_cycle_b(int n);

int hrtest_cycle_a(int n)
{
    return n > 0 ? hrtest_cycle_b(n - 1) : 0;
}
