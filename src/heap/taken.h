/* SPDX-License-Identifier: MIT */
/*
 * taken.h - a lane's record of the chunks its transaction took from its
 * cache (format.h, taken[]): checked and undone by the rollback (log.c);
 * written by hh_log_take (log.h).  taken.c says why it is enough.
 */
#ifndef HR_HEAP_TAKEN_H
#define HR_HEAP_TAKEN_H

#include "view.h"

/* The first of the n slots of t's lane that does not check out (its check,
 * its sequence, an offset inside the arena), or -1 if all do. */
int hh_taken_bad(const struct hh_tx *t, unsigned n);
/* After the rollback has put back every logged byte: each chunk the n slots
 * of t's lane name is cached by the lane again (its tag written). */
void hh_taken_restore(struct hh_tx *t, unsigned n);

#endif
