/* SPDX-License-Identifier: MIT */
/*
 * render.c - ps and info output (see render.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hrd.h"
#include "imgver.h"
#include "os/ctl.h"
#include "os/os.h"
#include "ready.h"
#include "render.h"
#include "standby.h"

/* Text appended to a fixed buffer; what does not fit is counted, so that
 * the caller sees it overflowed. */
struct out {
    char *buf;
    size_t cap, at;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + (o->at < o->cap ? o->at : o->cap),
                      o->at < o->cap ? o->cap - o->at : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->at += (size_t)n;
}

static const char *actor_state(uint32_t s)
{
    return s == HR_A_RUNNING ? "running" : s == HR_A_CLEAN ? "exited"
                                     : s == HR_A_DYING ? "dying" : "stopped";
}

/* An actor's readiness while it runs: starting, ready, or NULL when it
 * says nothing (ready.c). */
static const char *readiness(const struct hrd *d, int slot)
{
    if (d->reg->actors[slot].state != HR_A_RUNNING)
        return NULL;
    return d->slot[slot].readiness == HRD_R_STARTING ? "starting"
         : d->slot[slot].readiness == HRD_R_READY ? "ready" : NULL;
}

/* The group's restart times: the last, and the histogram (ready.c). */
static void restart_times(struct out *o, const struct hrd *d, int g)
{
    put(o, ", \"restart_ms\": {\"last\": ");
    if (d->grp[g].restart_last_ns || d->grp[g].restart_hist[0])
        put(o, "%.3f", (double)d->grp[g].restart_last_ns / 1e6);
    else
        put(o, "null");
    put(o, ", \"histogram\": {");
    for (int b = 0; b < HRD_HIST; b++) {
        if (b < HRD_HIST - 1)
            put(o, "\"<%u\": %u, ", hrd_hist_ms[b], d->grp[g].restart_hist[b]);
        else
            put(o, "\">=%u\": %u", hrd_hist_ms[b - 1], d->grp[g].restart_hist[b]);
    }
    put(o, "}}");
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void put_json_str(struct out *o, const char *s)
{
    put(o, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            put(o, "\\%c", c);
        else if (c < 0x20)
            put(o, "\\u%04x", c);
        else
            put(o, "%c", c);
    }
    put(o, "\"");
}

static const char *const upgrade_states[] = {NULL, "trial", "stopping",
                                             "promoted", "undo"};

/* An actor's image version (imgver.c) and its upgrade in progress. */
static void image_json(struct out *o, const struct hrd *d, int slot)
{
    const struct hrd_image_ver *v = hrd_ver_of(d, slot);
    const char *up = upgrade_states[d->slot[slot].up.state];
    if (v) {
        put(o, ", \"image\": {\"path\": ");
        put_json_str(o, v->path);
        put(o, ", \"size\": %llu, \"hash\": \"fnv1a64:%016llx\", "
            "\"stored_ns\": %llu, \"upgrades\": %u}",
            (unsigned long long)v->size, (unsigned long long)v->hash,
            (unsigned long long)v->stored_ns, d->slot[slot].ver->upgrades);
    } else {
        put(o, ", \"image\": null");
    }
    put(o, ", \"upgrade\": %s%s%s", up ? "\"" : "", up ? up : "null",
        up ? "\"" : "");
}

/* The same in words, a line of its own under the actor's. */
static void image_text(struct out *o, const struct hrd *d, int slot)
{
    const struct hrd_image_ver *v = hrd_ver_of(d, slot);
    const char *up = upgrade_states[d->slot[slot].up.state];
    char when[32] = "?";
    if (v) {
        time_t t = (time_t)(v->stored_ns / 1000000000ull);
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        put(o, "        image %s, %llu bytes, fnv1a64 %016llx, stored %s",
            v->path[0] ? v->path : "?", (unsigned long long)v->size,
            (unsigned long long)v->hash, when);
    } else {
        put(o, "        image unknown");
    }
    if (up)
        put(o, ", upgrade: %s", up);
    put(o, "\n");
}

/* An actor's standby instance (standby.c), closing its object: null, or
 * its pid and state; "standby_off" when its program never waited. */
static void standby_json(struct out *o, const struct hrd *d, int slot)
{
    const char *st = hrd_standby_state(d, slot);
    if (st)
        put(o, ", \"standby\": {\"pid\": %d, \"state\": \"%s\"}",
            d->slot[slot].standby.pid, st);
    else
        put(o, ", \"standby\": null");
    put(o, ", \"standby_off\": %s}", d->slot[slot].standby.off ? "true" : "false");
}


/* A group's back-off after failed starts (group.c): ms until its next
 * start, or -1 when it does not back off. */
static long backoff_ms(const struct hrd *d, int g)
{
    const struct hrd_backoff *b = &d->grp[g].backoff;
    if (!b->until_ms || d->reg->groups[g].state != HR_G_RESTARTING)
        return -1;
    int64_t left = b->until_ms - pmm__os_mono_ms();
    return left > 0 ? (long)left : 0;
}

static void backoff_json(struct out *o, const struct hrd *d, int g)
{
    long ms = backoff_ms(d, g);
    if (ms < 0) {
        put(o, ", \"backoff\": null");
        return;
    }
    put(o, ", \"backoff\": {\"fails\": %u, \"delay_ms\": %u, "
        "\"next_start_in_ms\": %ld, \"why\": ", d->grp[g].backoff.fails,
        d->grp[g].backoff.delay_ms, ms);
    put_json_str(o, d->grp[g].backoff.why);
    put(o, "}");
}

const char *hrd_group_state(const struct hrd *d, int g)
{
    uint32_t s = d->reg->groups[g].state;
    if (backoff_ms(d, g) >= 0)
        return "backoff";
    return s == HR_G_BLOCKED ? "blocked" : s == HR_G_RESTARTING ? "restarting"
                                      : s == HR_G_ENDING ? "ending" : "running";
}

int hrd_ps_json(struct hrd *d, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
    uint64_t now = pmm__os_now_ns();
    put(&o, "{\"controller_pid\": %d, \"groups\": [", (int)pmm__os_pid());
    int first = 1;
    for (int g = 0; g < HR_REG_GROUPS; g++) {
        struct hr_reg_group *G = &d->reg->groups[g];
        if (!G->used)
            continue;
        put(&o, "%s{\"id\": %d, \"state\": \"%s\", \"restarts\": %u, "
            "\"last_failure\": ", first ? "" : ", ", g,
            hrd_group_state(d, g), G->restarts);
        if (G->last_fail_ns)
            put(&o, "{\"signal\": %d, \"status\": %d, \"when_ns\": %llu, "
                "\"background\": %s}", G->last_signal, G->last_status,
                (unsigned long long)G->last_fail_ns,
                G->background ? "true" : "false");
        else
            put(&o, "null");
        restart_times(&o, d, g);
        backoff_json(&o, d, g);
        put(&o, ", \"actors\": [");
        int fa = 1;
        HRD_FOR_MEMBERS(d, g, i) {
            struct hr_reg_actor *a = &d->reg->actors[i];
            const char *rd = readiness(d, i);
            put(&o, "%s{\"name\": \"%s\", \"pid\": %d, \"direct\": %s, "
                "\"state\": \"%s\", \"readiness\": %s%s%s, "
                "\"uptime_s\": %.3f, \"runs\": %u, \"stop_timeout_ms\": %u, "
                "\"aslr\": %s",
                fa ? "" : ", ", a->name, a->pid, a->direct ? "true" : "false",
                actor_state(a->state), rd ? "\"" : "", rd ? rd : "null",
                rd ? "\"" : "",
                a->state == HR_A_RUNNING ? (double)(now - a->started_ns) / 1e9 : 0.0,
                a->runs, a->stop_ms ? a->stop_ms : d->policy.stop_ms,
                d->slot[i].aslr ? "true" : "false");
            image_json(&o, d, i);
            standby_json(&o, d, i);
            fa = 0;
        }
        put(&o, "]}");
        first = 0;
    }
    put(&o, "]}");
    return o.at < cap ? (int)o.at : -E2BIG;
}

/* The same as hrd_ps_json, as a table for people. */
int hrd_ps_text(struct hrd *d, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
    uint64_t now = pmm__os_now_ns();
    put(&o, "%-6s %-10s %8s %12s  %s\n", "GROUP", "STATE", "RESTARTS",
        "LAST RESTART", "LAST FAILURE");
    for (int g = 0; g < HR_REG_GROUPS; g++) {
        struct hr_reg_group *G = &d->reg->groups[g];
        if (!G->used)
            continue;
        char fail[512] = "-"; /* the back-off reason is up to 400 */
        long wait_ms = backoff_ms(d, g);
        if (wait_ms >= 0) {
            snprintf(fail, sizeof fail, "backing off after %u failed start%s "
                     "(%s): next start in %ld ms", d->grp[g].backoff.fails,
                     d->grp[g].backoff.fails == 1 ? "" : "s", d->grp[g].backoff.why,
                     wait_ms);
        } else if (G->last_fail_ns) {
            double ago = (double)(now - G->last_fail_ns) / 1e9;
            if (G->background)
                snprintf(fail, sizeof fail, "went to the background: run it in "
                         "the foreground, e.g. memcached without -d");
            else if (G->last_signal)
                snprintf(fail, sizeof fail, "signal %d, %.1fs ago", G->last_signal, ago);
            else
                snprintf(fail, sizeof fail, "exit %d, %.1fs ago", G->last_status, ago);
        }
        char took[32] = "-";
        if (d->grp[g].restart_last_ns || d->grp[g].restart_hist[0])
            snprintf(took, sizeof took, "%.1f ms",
                     (double)d->grp[g].restart_last_ns / 1e6);
        put(&o, "%-6d %-10s %8u %12s  %s\n", g, hrd_group_state(d, g),
            G->restarts, took, fail);
        HRD_FOR_MEMBERS(d, g, i) {
            struct hr_reg_actor *a = &d->reg->actors[i];
            const char *rd = readiness(d, i);
            const char *sb = hrd_standby_state(d, i);
            char up[32] = "not up"; /* exited, stopped, dying: no uptime */
            if (a->state == HR_A_RUNNING)
                snprintf(up, sizeof up, "up %.1fs",
                         (double)(now - a->started_ns) / 1e9);
            put(&o, "    %-24s pid %-8d %-8s %-8s %-8s %s, %s", a->name,
                a->pid, a->direct ? "direct" : "indirect", actor_state(a->state),
                rd ? rd : "-", up, d->slot[i].aslr ? "randomised" : "same address");
            if (sb)
                put(&o, ", standby pid %d %s", d->slot[i].standby.pid, sb);
            put(&o, "\n");
            image_text(&o, d, i);
        }
    }
    return o.at < cap ? (int)o.at : -E2BIG;
}

void hrd_status(struct hrd *d, hr_site_state *out)
{
    memset(out, 0, sizeof *out);
    out->state = HR_SITE_RUNNING;
    out->controller_pid = (int32_t)pmm__os_pid();
    out->generation = d->reg->site.generation;
    out->group_restarts = d->reg->site.group_restarts;
    out->site_restarts = d->reg->site.site_restarts;
    for (int i = 0; i < HR_REG_GROUPS; i++)
        out->groups += d->reg->groups[i].used != 0;
    out->policy = d->policy;
}

int hrd_info_json(struct hrd *d, char *buf, size_t cap)
{
    hr_site_state st;
    hrd_status(d, &st);
    int n = snprintf(buf, cap,
                     "{\"state\": \"running\", \"controller_pid\": %d, "
                     "\"generation\": %u, \"group_restarts\": %u, "
                     "\"site_restarts\": %u, \"groups\": %u, "
                     "\"max_badness\": %u, \"interval\": %u, "
                     "\"max_actors\": %u, \"max_groups\": %u, "
                     "\"stop_timeout_ms\": %u, \"fail_stop_timeout_ms\": %u}",
                     st.controller_pid, st.generation, st.group_restarts,
                     st.site_restarts, st.groups, st.policy.max_badness,
                     st.policy.interval_s, st.policy.max_actors,
                     st.policy.max_groups, st.policy.stop_ms,
                     st.policy.fail_stop_ms);
    return n < 0 || (size_t)n >= cap ? -E2BIG : n;
}
