/* SPDX-License-Identifier: MIT */
/*
 * verify.h - the bank checker, read-only.
 */
#ifndef HR_PMM_VERIFY_H
#define HR_PMM_VERIFY_H

#include "say.h"

/* Check the bank file at path without joining it (see verify.c).  0 when
 * it could be read (s->problems counts what is wrong), K_EBANK when its
 * header cannot be read, -errno when the file cannot be opened. */
int pmm__check_file(const char *path, struct pmm_say *s);

#endif
