/* SPDX-License-Identifier: MIT */
/*
 * render.h - what `hr ps` and `hr site info` show, made from the registry.
 * Each returns the length written into buf, or -E2BIG when it does not fit.
 */
#ifndef HRD_RENDER_H
#define HRD_RENDER_H

#include <stddef.h>

#include <hotrestart/hr.h>

struct hrd;

/* What hr ps and the metrics call group g's state: running, blocked,
 * ending, restarting, or backoff (restarting, waiting after failed
 * starts). */
const char *hrd_group_state(const struct hrd *d, int g);
/* Groups and their actors, as JSON. */
int hrd_ps_json(struct hrd *d, char *buf, size_t cap);
/* The same, as a table for people. */
int hrd_ps_text(struct hrd *d, char *buf, size_t cap);
/* The controller's state and counters, as JSON. */
int hrd_info_json(struct hrd *d, char *buf, size_t cap);
/* The same, as the structured reply of HR_REQ_STATUS. */
void hrd_status(struct hrd *d, hr_site_state *out);

#endif
