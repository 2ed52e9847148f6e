/* SPDX-License-Identifier: MIT */
/*
 * crash.c - arming the heap's crash points (crash.h).
 *
 * hh_crash_armed is set at every hr_heap_open from HR_CRASHPOINT, so that a
 * test's child that sets the variable before it opens a heap arms them.  It
 * is read by every thread at every crash point: relaxed atomics, since it
 * only tells whether pmm__crash (which reads the point's name itself,
 * src/pmm/crash.c) is worth a call.
 */
#include <stdlib.h>

#include "crash.h"

int hh_crash_armed;

void hh_crash_arm(void)
{
    const char *v = getenv("HR_CRASHPOINT");
    __atomic_store_n(&hh_crash_armed, v && *v, __ATOMIC_RELAXED);
}
