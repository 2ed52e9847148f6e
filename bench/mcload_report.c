/* SPDX-License-Identifier: MIT */
/*
 * mcload_report.c - mcload's figures from the merged tallies: ops/s, hit
 * ratio, latency percentiles (from a log-linear histogram, 1.6 % steps),
 * the per-100 ms series, and the time back to 90 % after a kill.
 *
 * Back to 90 %: the baseline is the mean number of ops per 100 ms over the
 * 2 s before the kill (from a quarter of the way in, for runs that kill
 * sooner); the figure is the start of the first 100 ms window, slid one
 * ms at a time, that holds at least 90 % of it and starts no sooner than
 * the new server's first reply (the first on a connection dialled after
 * the kill), counted from the kill.  So a server that answers again d ms
 * after the kill, at full speed at once, reads d; one that answers but
 * must first fault its memory back in reads more.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mcload_report.h"
#include "report.h"

void mcl_merge(struct mcl_tally *all, const struct mcl_tally *t)
{
    all->ops += t->ops;
    all->hits += t->hits;
    all->misses += t->misses;
    all->errors += t->errors;
    all->reconnects += t->reconnects;
    if (t->first_new_ns &&
        (!all->first_new_ns || t->first_new_ns < all->first_new_ns))
        all->first_new_ns = t->first_new_ns;
    for (int i = 0; i < HIST_BINS; i++)
        all->hist[i] += t->hist[i];
    for (uint64_t i = 0; i < all->ms_cap && i < t->ms_cap; i++)
        all->per_ms[i] += t->per_ms[i];
}

/* The latency (us) below which share q of the replies came. */
static double percentile(const struct mcl_tally *t, double q)
{
    uint64_t n = 0, seen = 0;
    for (int i = 0; i < HIST_BINS; i++)
        n += t->hist[i];
    for (int b = 0; b < HIST_BINS; b++) {
        seen += t->hist[b];
        if (n && (double)seen >= q * (double)n) {
            if (b < 64)
                return b / 1000.0;
            int e = b / 64 + 5;
            return (double)((64ull + (uint64_t)(b % 64)) << (e - 6)) / 1000.0;
        }
    }
    return 0;
}

static uint64_t window(const struct mcl_tally *t, uint64_t from, uint64_t len)
{
    uint64_t s = 0;
    for (uint64_t i = from; i < from + len && i < t->ms_cap; i++)
        s += t->per_ms[i];
    return s;
}

/* The ops/s of the slowest 1 % of the whole 100 ms windows. */
static double slow_windows(const struct mcl_tally *t, uint64_t run_ms)
{
    double v[36000];
    int n = 0;
    for (uint64_t w = 0; w + 100 <= run_ms && n < 36000; w += 100)
        v[n++] = (double)window(t, w, 100) * 10;
    double med, p99;
    for (int i = 0; i < n; i++)
        v[i] = -v[i]; /* bench_stats' p99 is the high end: flip */
    bench_stats(v, n, &med, &p99);
    return -p99;
}

/* ms from the kill to the first window back at 90 % that starts at or
 * after from (the first reply of the new server), or -1 if none. */
static double back_to_90(const struct mcl_tally *t, uint64_t kill,
                         uint64_t from, uint64_t run_ms, double *base_ops_s)
{
    uint64_t lo = kill > 2500 ? kill - 2000 : kill / 4;
    double base = (double)window(t, lo, kill - lo) * 100.0 /
                  (double)(kill - lo ? kill - lo : 1);
    *base_ops_s = base * 10;
    for (uint64_t s = from; s + 100 <= run_ms; s++)
        if ((double)window(t, s, 100) >= 0.9 * base && base > 0)
            return (double)(s - kill);
    return -1;
}

int mcl_report(const struct mcl_opts *o, const struct mcl_tally *all,
               const struct mcl_report *r)
{
    uint64_t run_ms = (uint64_t)(r->elapsed_s * 1000);
    double ops_s = (double)all->ops / r->elapsed_s;
    double lookups = (double)(all->hits + all->misses);
    double hit = lookups > 0 ? (double)all->hits / lookups : 0;
    double p50 = percentile(all, 0.5), p99 = percentile(all, 0.99);
    if (o->windows) {
        for (uint64_t w = 0; w + 100 <= run_ms; w += 100)
            printf("%.1f %llu\n", (double)r->start_ns / 1e6 + (double)w,
                   (unsigned long long)window(all, w, 100));
        return 0;
    }
    printf("mcload: %s %s%s%s, %d threads, %d conns, depth %d, %d keys/get, "
           "sets %.2f, %llu B values, %llu keys, seed %llu, %.1f s%s\n",
           o->proto == PROTO_REDIS ? "redis" : "memcache",
           o->unix_path ? o->unix_path : o->host, o->unix_path ? "" : ":",
           o->unix_path ? "" : o->port, o->threads, o->conns, o->depth,
           o->keys, o->fill ? 1.0 : o->set_ratio,
           (unsigned long long)o->value_size, (unsigned long long)o->nkeys,
           (unsigned long long)o->seed, r->elapsed_s,
           o->rate > 0 ? ", paced" : "");
    if (o->rate > 0)
        printf("paced at %.0f ops/s\n", o->rate);
    printf("ops/s %.0f  hit ratio %.4f  p50 %.1f us  p99 %.1f us  "
           "errors %llu  reconnects %llu\n", ops_s, hit, p50, p99,
           (unsigned long long)all->errors,
           (unsigned long long)all->reconnects);
    if (r->series)
        for (uint64_t w = 0; w + 100 <= run_ms; w += 100)
            printf("series %llu %.0f\n", (unsigned long long)w,
                   (double)window(all, w, 100) * 10);
    if (o->fill)
        return all->ops < o->nkeys || all->errors ? 1 : 0;
    double figure = ops_s, low = slow_windows(all, run_ms);
    const char *unit = "ops/s";
    char note[768], la[64] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(la, sizeof la, f))
            strcpy(la, "?");
        la[strcspn(la, " ")] = 0;
        fclose(f);
    }
    int n = snprintf(note, sizeof note, "mcload %d conns x %d deep, %d "
                     "threads, %d keys/get; p50 %.0f us, p99 %.0f us; hits "
                     "%.1f%%; load %s", o->conns, o->depth, o->threads,
                     o->keys, p50, p99, hit * 100, la);
    if (o->rate > 0)
        n += snprintf(note + n, sizeof note - (size_t)n, "; paced at %.0f "
                      "ops/s", o->rate);
    if (r->kill_ms >= 0) {
        double base, first = r->first_ms;
        figure = back_to_90(all, (uint64_t)r->kill_ms,
                            (uint64_t)(r->kill_ms + (first > 0 ? first : 0)),
                            run_ms, &base);
        if (figure >= 0 && figure < first) /* whole ms against a fraction */
            figure = first;
        low = figure;
        unit = "ms";
        printf("back to 90%%: %.0f ms after the kill (baseline %.0f ops/s); "
               "first reply after %.0f ms\n", figure, base, first);
        double after = run_ms > 2000 ? (double)window(all, run_ms - 2000,
                                                      2000) / 2 : 0;
        snprintf(note + n, sizeof note - (size_t)n,
                 "; %.0f ops/s before the kill, %.0f in the last 2 s; first "
                 "reply %.0f ms after it", base, after, first);
    }
    if (r->note)
        snprintf(note + strlen(note), sizeof note - strlen(note), "; %s",
                 r->note);
    printf("figure %.1f\n", figure);
    if (r->row && figure < 0) {
        char why[900];
        snprintf(why, sizeof why, "not back to 90%% within %.0f s of the "
                 "kill; %s", (double)run_ms / 1000 - r->kill_ms / 1000, note);
        bench_row(r->row, r->system, unit, 0, 0, 0, why);
    } else if (r->row) {
        bench_row(r->row, r->system, unit, figure, low,
                  r->ours > 0 ? figure / r->ours : 0, note);
    }
    if (!all->ops)
        fprintf(stderr, "mcload: the server answered nothing (%llu errors, "
                "%llu reconnects)\n", (unsigned long long)all->errors,
                (unsigned long long)all->reconnects);
    return all->ops ? 0 : 1;
}

int mcl_rounds_row(const struct mcl_report *r, const char *figures)
{
    double v[64];
    int n = 0, lost = 0;
    char *end;
    for (const char *p = figures; n < 64; p = end) {
        v[n] = strtod(p, &end);
        if (end == p)
            break;
        if (r->ms && v[n] < 0) { /* a run that never got back to 90 % */
            lost++;
            continue;
        }
        n++;
    }
    if (n == 0 && lost == 0)
        return 2;
    char note[900];
    if (lost >= n) { /* the median would be a run never back to 90 % */
        snprintf(note, sizeof note, "%d of %d runs not back to 90 %%%s%s",
                 lost, n + lost, r->note ? "; " : "", r->note ? r->note : "");
        return mcl_not_run(r, note);
    }
    double median, p99;
    bench_stats(v, n, &median, &p99); /* sorts v */
    /* a run never back counts as longer than any: it sits past v[n - 1] */
    median = v[(n + lost) / 2];
    double worst = r->ms ? v[n - 1] : v[0]; /* the longest, the lowest */
    snprintf(note, sizeof note, "median of %d runs, %s %.0f%s%s%s", n + lost,
             r->ms ? "highest" : "lowest", worst,
             lost ? " (and runs not back to 90 %)" : "", r->note ? "; " : "",
             r->note ? r->note : "");
    printf("figure %.1f\n", median);
    bench_row(r->row, r->system, r->ms ? "ms" : "ops/s", median, worst,
              r->ours > 0 ? median / r->ours : 0, note);
    return 0;
}

int mcl_not_run(const struct mcl_report *r, const char *why)
{
    char note[1024];
    snprintf(note, sizeof note, "not run: %s", why);
    bench_row(r->row, r->system, "ms", 0, 0, 0, note);
    return 0;
}

int mcl_print_stat(const struct mcl_opts *o, const char *name)
{
    char buf[65536], want[128];
    snprintf(want, sizeof want, "STAT %s ", name);
    for (uint64_t end = mcl_now() + 10000000000ull; mcl_now() < end;
         usleep(10000)) {
        int fd = mcl_dial(o);
        if (fd < 0)
            continue;
        size_t len = 0;
        int ok = write(fd, "stats\r\n", 7) == 7;
        while (ok && len < sizeof buf - 1 && !memmem(buf, len, "END\r\n", 5)) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            ssize_t r = poll(&p, 1, 1000) == 1
                            ? read(fd, buf + len, sizeof buf - 1 - len) : -1;
            ok = r > 0;
            len += ok ? (size_t)r : 0;
        }
        close(fd);
        buf[len] = 0;
        char *s = ok ? strstr(buf, want) : NULL;
        if (s) {
            s += strlen(want);
            printf("%.*s\n", (int)strcspn(s, "\r\n"), s);
            return 0;
        }
    }
    fprintf(stderr, "mcload: no 'STAT %s' from the server\n", name);
    return 1;
}
