/* SPDX-License-Identifier: MIT */
/*
 * say.h - the findings of the checker and the repair.
 */
#ifndef HR_PMM_SAY_H
#define HR_PMM_SAY_H

/* Where findings go. */
struct pmm_say {
    void (*fn)(const char *, void *); /* NULL: count only */
    void *arg;
    int problems;
};
/* Tell one finding: a problem (counted) or a note ("note: ..."). */
__attribute__((format(printf, 3, 4))) void
pmm__say(struct pmm_say *s, int problem, const char *fmt, ...);
/* After the last finding: say how many problems were not told. */
void pmm__say_end(struct pmm_say *s);

#endif
