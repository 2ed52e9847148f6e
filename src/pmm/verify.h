/*
 * verify.h - the bank checker (read-only), and the pieces of it that the
 * repair shares: problem reports and a page bitmap built from the entries.
 */
#ifndef HR_PMM_VERIFY_H
#define HR_PMM_VERIFY_H

#include <stdint.h>

#include "view.h"

/* Where the checker's and the repair's findings go. */
struct pmm_say {
    void (*fn)(const char *, void *); /* NULL: count only */
    void *arg;
    int problems;
};
/* Tell one finding: a problem (counted) or a note ("note: ..."). */
__attribute__((format(printf, 3, 4))) void
pmm__say(struct pmm_say *s, int problem, const char *fmt, ...);

/* Check the bank file at path without joining it (see verify.c).  0 when
 * it could be read (s->problems counts what is wrong), K_EBANK when its
 * header cannot be read, -errno when the file cannot be opened. */
int pmm__check_file(const char *path, struct pmm_say *s);

/* 1 if e is all zeros (an entry never used). */
int pmm__entry_zero(const struct pmm_entry *e);
/* A page bitmap being built: plain bits in each word's low half until
 * pmm__bm_seal() adds the check halves.  NULL when out of memory. */
uint64_t *pmm__bm_new(const struct pmm_bank *b);
/* Mark page p held; 1 if it already was. */
int pmm__bm_take(uint64_t *bm, uint64_t p);
void pmm__bm_seal(const struct pmm_bank *b, uint64_t *bm);

#endif
