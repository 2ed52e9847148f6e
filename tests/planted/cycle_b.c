/* SPDX-License-Identifier: MIT */
/*
 * cycle_b.c - the other half of the call cycle of cycle_a.c.
 */
int hrtest_cycle_a(int n);

int hrtest_cycle_b(int n)
{
    return n > 0 ? hrtest_cycle_a(n - 1) : 0;
}
