/* SPDX-License-Identifier: MIT */
/*
 * mcload_report.h - what mcload prints once the run is over: the summary,
 * the per-100 ms series, the time back to 90 % after a kill, and the
 * figure as a bench/run row (bench/report.h).
 */
#ifndef HR_BENCH_MCLOAD_REPORT_H
#define HR_BENCH_MCLOAD_REPORT_H

#include "mcload.h"

struct mcl_report {
    int series;              /* print the 100 ms windows */
    int ms;                  /* --figures are times in ms, not ops/s */
    const char *row, *system, *note;
    double ours;             /* the same row's figure for hrcached, or 0 */
    double elapsed_s;        /* how long the run took */
    double kill_ms;          /* when the kill fired, ms into the run; -1 */
    double first_ms;         /* the new server's first reply, ms after it */
    uint64_t start_ns;       /* when the run started (CLOCK_MONOTONIC) */
};

/* Add one thread's tally to all's. */
void mcl_merge(struct mcl_tally *all, const struct mcl_tally *t);

/* Print it all; 0, or 1 when the server answered nothing (or a fill
 * missed keys). */
int mcl_report(const struct mcl_opts *o, const struct mcl_tally *all,
               const struct mcl_report *r);

/* The row r names, as not run for the reason why (unit ms): 0. */
int mcl_not_run(const struct mcl_report *r, const char *why);

/* The row r names from figures measured by several runs (ops/s, each
 * one run's): the median, and the lowest in the p99 column; a line
 * "figure <median>" first.  0, or 2 when figures holds no number. */
int mcl_rounds_row(const struct mcl_report *r, const char *figures);

/* Print the value of "STAT name" from a memcached-protocol server, trying
 * for 10 s while it comes up: 0, or 1 when it never answers. */
int mcl_print_stat(const struct mcl_opts *o, const char *name);

#endif
