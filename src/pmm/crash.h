/* SPDX-License-Identifier: MIT */
/*
 * crash.h - named crash points for the crash tests.
 */
#ifndef HR_PMM_CRASH_H
#define HR_PMM_CRASH_H

/* Die by SIGKILL if HR_CRASHPOINT=name[:n] names this point and this is
 * its n-th pass (default: the first); with HR_CRASHPOINT_STOP=1 stop
 * there instead (SIGSTOP), for a test to act at that instant and let it
 * go on (SIGCONT).  Unarmed: one predictable branch. */
void pmm__crash(const char *point);
/* In a forked child: read HR_CRASHPOINT again at the next point. */
void pmm__crash_reset(void);

#endif
