/* SPDX-License-Identifier: MIT */
/*
 * crash.h - the heap's named crash points: pmm's (pmm/crash.h), behind a
 * flag so that an unarmed point costs one branch and no call.
 */
#ifndef HR_HEAP_CRASH_H
#define HR_HEAP_CRASH_H

#include "pmm/crash.h"

/* 1 if HR_CRASHPOINT was set when a heap was last opened (crash.c).
 * Hidden, so that the shared library reads it directly, not through its
 * global offset table: every crash point tests it. */
__attribute__((visibility("hidden"))) extern int hh_crash_armed;

/* Read HR_CRASHPOINT into hh_crash_armed (hr_heap_open). */
void hh_crash_arm(void);

/* SIGKILL at the named point if HR_CRASHPOINT names it (pmm__crash). */
static inline void hh_crash(const char *point)
{
    if (__builtin_expect(__atomic_load_n(&hh_crash_armed, __ATOMIC_RELAXED),
                         0))
        pmm__crash(point);
}

#endif
