/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - the controller's counters in the Prometheus text exposition
 * format (version 0.0.4), for `hr metrics`.
 *
 * Restarts per group and for the site, and the registry's actors and groups
 * by state, come from the registry: they outlive the controller.  Deaths by
 * cause and the time of each restart from death to ready (ready.c) are
 * counted by this controller: they begin again at zero with each
 * controller (hr_controller_generation tells a scraper that it did).
 */
#ifndef HRD_METRICS_H
#define HRD_METRICS_H

#include <stddef.h>

struct hrd;

/* How an actor ended, for hr_actor_deaths_total{cause}. */
enum {
    HRD_DEATH_SIGNAL = 0, /* killed by a signal it did not expect */
    HRD_DEATH_EXIT,       /* exited without HR_EXIT_HDL(), any status */
    HRD_DEATH_BACKGROUND, /* exited 0 leaving its tree running */
    HRD_DEATH_CLEAN,      /* exited after HR_EXIT_HDL() */
    HRD_DEATH_STOPPED,    /* killed by the controller: its group restarted
                             or ended, or the site stopped */
};

/* Count a death in group, of cause HRD_DEATH_... */
void hrd_metrics_death(struct hrd *d, int group, int cause);
/* The cause of a failure from its wait status: HRD_DEATH_SIGNAL or _EXIT. */
int hrd_metrics_failure(int status);
/* The exposition text: its length, or -E2BIG when it does not fit in cap. */
int hrd_metrics_text(struct hrd *d, char *buf, size_t cap);

#endif
