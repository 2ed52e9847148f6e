/* SPDX-License-Identifier: MIT */
/*
 * report.h - how every benchmark reports: a table row on stdout and, when
 * $HR_BENCH_JSON names a file, the same figures as one JSON object a line,
 * which bench/run gathers into {"benchmarks": [...]}.
 */
#ifndef HR_BENCH_REPORT_H
#define HR_BENCH_REPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sort v and give its median and 99th percentile. */
static inline void bench_stats(double *v, int n, double *median, double *p99)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp);
    *median = n ? v[n / 2] : 0;
    *p99 = n ? v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] : 0;
}

/* One figure: ratio_to_ours is theirs / ours (0 when this row is ours or
 * no ratio applies); note says how it was measured (may be NULL). */
static inline void bench_row(const char *name, const char *system,
                             const char *unit, double median, double p99,
                             double ratio, const char *note)
{
    printf("%-28s %-34s %12.1f %12.1f %-3s", name, system, median, p99, unit);
    if (ratio > 0)
        printf(" %8.2fx", ratio);
    else
        printf(" %9s", "");
    if (note && *note)
        printf("  %s", note);
    printf("\n");
    fflush(stdout);
    const char *path = getenv("HR_BENCH_JSON");
    FILE *f = path && *path ? fopen(path, "a") : NULL;
    if (!f)
        return;
    fprintf(f, "{\"name\": \"%s\", \"system\": \"%s\", \"unit\": \"%s\", "
               "\"median\": %.3f, \"p99\": %.3f, \"ratio_to_ours\": ",
            name, system, unit, median, p99);
    if (ratio > 0)
        fprintf(f, "%.4f", ratio);
    else
        fprintf(f, "null");
    fprintf(f, ", \"note\": \"");
    for (const char *c = note ? note : ""; *c; c++)
        fprintf(f, *c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
    fprintf(f, "\"}\n");
    fclose(f);
}

static inline void bench_header(const char *title)
{
    printf("\n== %s\n%-28s %-34s %12s %12s %-3s %9s\n", title, "benchmark",
           "system", "median", "p99", "", "them/us");
}

#endif
