/* SPDX-License-Identifier: MIT */
/*
 * chorus.h - what the rest of the library asks of the ChorusOS names'
 * layer (chorus.c).
 */
#ifndef HR_PMM_CHORUS_H
#define HR_PMM_CHORUS_H

/* Open now the site's RAM bank that pmmAllocate() and its kin use, as
 * their first call would: 0 or a K_E... code.  A standby instance does it
 * before it waits (src/hr/standby.c), so that its first pmmAllocate()
 * after its promotion costs a lookup and an mmap, not a bank's opening. */
int pmm__chorus_open_ram(void);

#endif
