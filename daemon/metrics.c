/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - the controller's counters as Prometheus text (see
 * metrics.h).
 *
 * Names follow the Prometheus conventions that `promtool check metrics`
 * checks: the hr_ prefix, base units in the name (_seconds, _bytes),
 * _total on counters, a HELP and a TYPE line before each family.  Only
 * groups in use have series; every state of the actors and groups has
 * one, at 0 when none is in it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "hrd.h"
#include "metrics.h"
#include "ready.h"
#include "render.h"

static const char *const death_cause[HRD_DEATHS] = {
    [HRD_DEATH_SIGNAL] = "signal", [HRD_DEATH_EXIT] = "exit",
    [HRD_DEATH_BACKGROUND] = "background", [HRD_DEATH_CLEAN] = "clean",
    [HRD_DEATH_STOPPED] = "stopped"};

void hrd_metrics_death(struct hrd *d, int group, int cause)
{
    if (group >= 0 && group < HR_REG_GROUPS && cause >= 0 && cause < HRD_DEATHS)
        d->grp[group].deaths[cause]++;
}

int hrd_metrics_failure(int status)
{
    return WIFSIGNALED(status) ? HRD_DEATH_SIGNAL : HRD_DEATH_EXIT;
}

static void family(FILE *f, const char *name, const char *type,
                   const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

#define FOR_GROUPS(d, g)                                                      \
    for (int g = 0; g < HR_REG_GROUPS; g++)                                   \
        if ((d)->reg->groups[g].used)

static void site(FILE *f, const struct hrd *d)
{
    family(f, "hr_controller_generation", "gauge",
           "Controllers started on this site so far; counters that are not "
           "kept in the registry begin again with each.");
    fprintf(f, "hr_controller_generation %u\n", d->reg->site.generation);
    family(f, "hr_site_restarts_total", "counter",
           "Site restarts so far: escalations, requests, controller crashes.");
    fprintf(f, "hr_site_restarts_total %u\n", d->reg->site.site_restarts);
    family(f, "hr_site_group_restarts_total", "counter",
           "Group restarts so far, all groups, ended ones included.");
    fprintf(f, "hr_site_group_restarts_total %u\n",
            d->reg->site.group_restarts);
    family(f, "hr_group_restarts_total", "counter",
           "Restarts of each group in use so far.");
    FOR_GROUPS(d, g)
        fprintf(f, "hr_group_restarts_total{group=\"%d\"} %u\n", g,
                d->reg->groups[g].restarts);
    family(f, "hr_actor_deaths_total", "counter",
           "Deaths of actors seen by this controller, by group and cause.");
    FOR_GROUPS(d, g)
        for (int c = 0; c < HRD_DEATHS; c++)
            fprintf(f, "hr_actor_deaths_total{group=\"%d\",cause=\"%s\"} %u\n",
                    g, death_cause[c], d->grp[g].deaths[c]);
}

/* Death to ready (ready.c): cumulative buckets, as Prometheus wants. */
static void restart_times(FILE *f, const struct hrd *d)
{
    family(f, "hr_restart_duration_seconds", "histogram",
           "Time of each group restart seen by this controller, from the "
           "failure to every direct actor ready (or started, for those "
           "that do not say).");
    FOR_GROUPS(d, g) {
        uint64_t n = 0;
        for (int b = 0; b < HRD_HIST; b++) {
            n += d->grp[g].restart_hist[b];
            if (b < HRD_HIST - 1)
                fprintf(f, "hr_restart_duration_seconds_bucket{group=\"%d\","
                           "le=\"%g\"} %llu\n", g, hrd_hist_ms[b] / 1e3,
                        (unsigned long long)n);
        }
        fprintf(f, "hr_restart_duration_seconds_bucket{group=\"%d\","
                   "le=\"+Inf\"} %llu\n", g, (unsigned long long)n);
        fprintf(f, "hr_restart_duration_seconds_sum{group=\"%d\"} %.9f\n", g,
                (double)d->grp[g].restart_sum_ns / 1e9);
        fprintf(f, "hr_restart_duration_seconds_count{group=\"%d\"} %llu\n", g,
                (unsigned long long)n);
    }
}

static void bank_lines(FILE *f, const pmm_bank_info *b, int n)
{
    static const char *const names[] = {
        "hr_bank_size_bytes", "hr_bank_used_bytes", "hr_bank_free_bytes",
        "hr_bank_used_blocks", "hr_bank_free_blocks"};
    static const char *const helps[] = {
        "Block space of the bank (pmm.rambankSize for RAM).",
        "Bytes held by blocks.",
        "Bytes of block space free (a new block also needs a guard page).",
        "Blocks allocated.",
        "Blocks that can still be allocated (pmm.maxBlocks less those used)."};
    for (int k = 0; k < 5; k++) {
        family(f, names[k], "gauge", helps[k]);
        for (int i = 0; i < n; i++) {
            uint64_t v[5] = {b[i].size, b[i].used, b[i].free, b[i].blocks,
                             b[i].max_blocks > b[i].blocks
                                 ? b[i].max_blocks - b[i].blocks : 0};
            fprintf(f, "%s{medium=\"%s\"} %llu\n", names[k], b[i].medium,
                    (unsigned long long)v[k]);
        }
    }
}

/* Each medium of the site: RAM, held open; DISK, opened for the moment.
 * A DISK bank that site.conf names but that does not open (missing: an
 * unmounted volume?) is a series at 0, never left out: an alert can see
 * it gone. */
static void banks(FILE *f, const struct hrd *d)
{
    pmm_bank_info b[2];
    pmm_bank *disk;
    int n = 0, disk_up = -1; /* -1: the site has no DISK medium */
    if (pmm_bank_stat(d->bank, &b[n]) == 0)
        n++;
    int r = pmm_bank_open(&disk, d->dir, "DISK", 0);
    if (r == 0) {
        if (pmm_bank_stat(disk, &b[n]) == 0)
            n++;
        pmm_bank_close(disk);
    }
    if (r != K_EUNKNOWN)
        disk_up = r == 0;
    family(f, "hr_bank_up", "gauge",
           "1 if the medium's bank opens; 0 if site.conf names it and it "
           "does not (a missing DISK bank).");
    fprintf(f, "hr_bank_up{medium=\"RAM\"} 1\n");
    if (disk_up >= 0)
        fprintf(f, "hr_bank_up{medium=\"DISK\"} %d\n", disk_up);
    bank_lines(f, b, n);
}

static void states(FILE *f, const struct hrd *d)
{
    static const char *const astate[] = {
        [HR_A_RUNNING] = "running", [HR_A_CLEAN] = "exited",
        [HR_A_STOPPED] = "stopped", [HR_A_DYING] = "dying"};
    /* hr ps's names: a group backing off after failed starts is not one
     * restarting in a millisecond */
    static const char *const gstate[] = {"running", "blocked", "ending",
                                         "restarting", "backoff"};
    enum { NG = sizeof gstate / sizeof gstate[0] };
    unsigned na[5] = {0}, ng[NG] = {0};
    HRD_FOR_ACTORS(d, i)
        if (d->reg->actors[i].state < 5)
            na[d->reg->actors[i].state]++;
    FOR_GROUPS(d, g)
        for (int s = 0; s < NG; s++)
            if (strcmp(hrd_group_state(d, g), gstate[s]) == 0)
                ng[s]++;
    family(f, "hr_actors", "gauge", "Actors registered, by state.");
    for (int s = HR_A_RUNNING; s <= HR_A_DYING; s++)
        fprintf(f, "hr_actors{state=\"%s\"} %u\n", astate[s], na[s]);
    family(f, "hr_groups", "gauge", "Groups in use, by state.");
    for (int s = 0; s < NG; s++)
        fprintf(f, "hr_groups{state=\"%s\"} %u\n", gstate[s], ng[s]);
}

int hrd_metrics_text(struct hrd *d, char *buf, size_t cap)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len); /* a buffer, not a file */
    if (!f)
        return -ENOMEM;
    site(f, d);
    restart_times(f, d);
    banks(f, d);
    states(f, d);
    int r = fclose(f) == 0 ? 0 : -ENOMEM;
    if (r == 0 && len + 1 > cap)
        r = -E2BIG;
    if (r == 0) {
        memcpy(buf, text, len + 1);
        r = (int)len;
    }
    free(text);
    return r;
}
