/* SPDX-License-Identifier: MIT */
/*
 * ident.h - the calling process's identity as an actor, captured once
 * before main (ident.c says why).
 */
#ifndef HR_PMM_IDENT_H
#define HR_PMM_IDENT_H

/* The site the controller gave this actor, or NULL for a process the
 * controller did not start (its calls then read $HR_SITE each time). */
const char *pmm__ident_site(void);
/* This actor's group into *group: 1, or 0 when the process is not an
 * actor (its calls then read $HR_GROUP each time). */
int pmm__ident_group(int *group);
/* 1 while this actor is a standby instance that has not been promoted:
 * then the calls that touch persistent blocks return K_ESTANDBY. */
int pmm__ident_standby(void);
/* It was promoted (hr_standby_wait): the mark goes, for good. */
void pmm__ident_promoted(void);

#endif
