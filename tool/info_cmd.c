/* SPDX-License-Identifier: MIT */
/*
 * info_cmd.c - hr site info: each medium's bank (a DISK bank that
 * site.conf names but that is missing shown as such, never left out) and
 * the site's state.  Everything is had before anything is printed: a
 * failure prints no half of the answer (with --json, no broken JSON).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <hotrestart/hr.h>
#include <hotrestart/pmm.h>

#include "hr.h"

/* From the running controller, else from the registry it left. */
static void status_get(const char *dir, hr_site_state *st)
{
    char why[256];
    int r = hr_status(dir, st);
    if (r < 0 && r != -ECONNREFUSED && r != -ENOENT)
        hr_die_ctl("site info", r); /* a controller runs but does not say */
    if (r < 0) {
        r = hr_site_status(dir, st, why, sizeof why);
        if (r == K_EBANK)
            fprintf(stderr, "hr: site info: registry refused: %s (hr site "
                            "cold wipes it)\n", why);
        else if (r < 0)
            hr_die_err("site info: registry", r);
    }
}

static void status_show(const hr_site_state *s, const struct hr_opts *o)
{
    static const char *const names[] = {"stopped", "running", "failed"};
    const hr_site_state st = *s;
    const char *state = names[st.state >= 0 && st.state <= 2 ? st.state : 0];
    unsigned log_size = st.policy.log_size ? st.policy.log_size
                                           : HR_DEFAULT_LOG_SIZE;
    if (o->json) { /* its fields, at the top level of site info */
        printf("\"state\": \"%s\", \"controller_pid\": ", state);
        if (st.controller_pid)
            printf("%d", st.controller_pid);
        else
            printf("null");
        printf(", \"generation\": %u, \"group_restarts\": %u, "
               "\"site_restarts\": %u, \"groups\": %u, \"max_badness\": %u, "
               "\"interval\": %u, \"max_actors\": %u, \"max_groups\": %u, "
               "\"stop_timeout_ms\": %u, \"fail_stop_timeout_ms\": %u, "
               "\"aslr\": %s, \"log_size\": %u, \"failure\": ", st.generation,
               st.group_restarts, st.site_restarts, st.groups,
               st.policy.max_badness, st.policy.interval_s,
               st.policy.max_actors, st.policy.max_groups, st.policy.stop_ms,
               st.policy.fail_stop_ms, st.policy.aslr ? "true" : "false",
               log_size);
        if (st.state == HR_SITE_FAILED)
            hr_json_str(st.failure);
        else
            printf("null");
        return;
    }
    if (st.state == HR_SITE_RUNNING)
        printf("state running, controller pid %d, generation %u\n", st.controller_pid,
               st.generation);
    else
        printf("state %s%s%s, generation %u\n", state,
               st.state == HR_SITE_FAILED ? ": " : "", st.failure, st.generation);
    printf("restarts: %u group, %u site; policy: more than %u restarts in %us "
           "escalates\nlimits: %u actors, groups 0 to %u\n"
           "stop: SIGTERM, SIGKILL after %u ms; a failure's group restart: ",
           st.group_restarts, st.site_restarts, st.policy.max_badness,
           st.policy.interval_s, st.policy.max_actors, st.policy.max_groups - 1,
           st.policy.stop_ms);
    if (st.policy.fail_stop_ms)
        printf("SIGTERM, SIGKILL after %u ms\n", st.policy.fail_stop_ms);
    else
        printf("SIGKILL at once\n");
    printf("actors start %s\n",
           st.policy.aslr ? "with address-space randomisation (hrCtrl.aslr=1)"
                          : "at the same address every time (hrCtrl.aslr=0)");
    printf("log: console.log rotated at %u bytes (hrCtrl.logSize)\n", log_size);
}

/* One medium's row of site info, had before anything is printed, so that
 * a failure prints no half of the answer.  A DISK bank that does not open
 * is a row too (with an exit of 1 after the whole answer): the RAM bank
 * and the site's state are still worth showing. */
struct info_row {
    const char *medium;
    enum { ROW_NONE, ROW_OPEN, ROW_MISSING, ROW_ERROR } state;
                       /* NONE: no DISK medium */
    pmm_bank_info st;  /* ROW_OPEN */
    char path[4096];   /* else: where site.conf says it is */
    int err;           /* ROW_ERROR: why it does not open */
};

static void info_get(const char *dir, const struct hr_opts *o,
                     struct info_row *row)
{
    pmm_bank *b;
    int disk = strcmp(row->medium, "DISK") == 0;
    int r = pmm_bank_open(&b, dir, row->medium, PMM_OPEN_RDONLY);
    if (r == K_EUNKNOWN && disk)
        return;
    if (r < 0 && disk &&
        pmm_bank_path(row->path, sizeof row->path, dir, "DISK") == 0) {
        row->state = r == -ENOENT ? ROW_MISSING : ROW_ERROR; /* shown, never
                                                   left out nor made anew */
        row->err = r;
        return;
    }
    if (r < 0)
        hr_die_bank_err(o, dir, "site info", row->medium, r);
    r = pmm_bank_stat(b, &row->st);
    pmm_bank_close(b);
    if (r < 0)
        hr_die_err("site info", r);
    row->state = ROW_OPEN;
}

static void info_json(const struct info_row *row, int first)
{
    const pmm_bank_info *st = &row->st;
    printf("%s\"%s\": {\"path\": ", first ? "" : ", ", row->medium);
    if (row->state == ROW_MISSING || row->state == ROW_ERROR) {
        hr_json_str(row->path);
        printf(", \"missing\": %s", row->state == ROW_MISSING ? "true"
                                                               : "false");
        if (row->state == ROW_ERROR) {
            printf(", \"error\": ");
            hr_json_str(pmm_strerror(row->err));
        }
        printf("}");
        return;
    }
    hr_json_str(st->path);
    printf(", \"size\": %llu, \"used\": %llu, \"free\": %llu, "
           "\"blocks\": %llu, \"max_blocks\": %llu, \"page_size\": %llu, "
           "\"base\": \"0x%llx\", \"durable\": %s, "
           "\"huge_page_size\": %llu, \"huge_pages_now\": %s, "
           "\"missing\": false}",
           (unsigned long long)st->size, (unsigned long long)st->used,
           (unsigned long long)st->free, (unsigned long long)st->blocks,
           (unsigned long long)st->max_blocks,
           (unsigned long long)st->page_size, (unsigned long long)st->base,
           st->durable ? "true" : "false",
           (unsigned long long)st->huge_size, st->huge_now ? "true" : "false");
}

static void info_text(const struct info_row *row)
{
    const pmm_bank_info *st = &row->st;
    if (row->state == ROW_MISSING) {
        printf("%-5s missing: %s (site.conf names it; an unmounted volume?); "
               "not made anew\n", row->medium, row->path);
        return;
    }
    if (row->state == ROW_ERROR) {
        printf("%-5s not opened: %s: %s\n", row->medium, row->path,
               pmm_strerror(row->err));
        return;
    }
    printf("%-5s %12llu %12llu %12llu %8llu %10llu  0x%llx  %s\n", row->medium,
           (unsigned long long)st->size, (unsigned long long)st->used,
           (unsigned long long)st->free, (unsigned long long)st->blocks,
           (unsigned long long)st->max_blocks, (unsigned long long)st->base,
           st->path);
    if (st->huge_size)
        printf("%-5s huge pages of %llu KiB: %s\n", row->medium,
               (unsigned long long)st->huge_size >> 10, st->huge_now
               ? "blocks of that size and more are mapped with them"
               : "NOT given by its file system now: blocks fault 4 KiB "
                 "at a time (see docs/huge-pages.md)");
}

int hr_site_info(const struct hr_call *c)
{
    const struct hr_opts *o = c->o;
    const char *dir = c->dir;
    static struct info_row rows[] = {{.medium = "RAM"}, {.medium = "DISK"}};
    hr_site_state st;
    for (size_t i = 0; i < 2; i++)
        info_get(dir, o, &rows[i]);
    status_get(dir, &st);
    if (o->json) {
        printf("{\"site\": ");
        hr_json_str(dir);
        printf(", \"media\": {");
    } else {
        printf("site %s\n%-5s %12s %12s %12s %8s %10s  %-14s  %s\n", dir,
               "MEDIUM", "SIZE", "USED", "FREE", "BLOCKS", "MAX_BLOCKS",
               "BASE", "BANK");
    }
    for (size_t i = 0, n = 0; i < 2; i++) {
        if (rows[i].state != ROW_NONE && o->json)
            info_json(&rows[i], n++ == 0);
        else if (rows[i].state != ROW_NONE)
            info_text(&rows[i]);
    }
    if (o->json)
        printf("}, ");
    status_show(&st, o);
    if (o->json)
        printf("}\n");
    if (rows[1].state == ROW_ERROR) {
        fprintf(stderr, "hr: site info: DISK bank %s: %s\n", rows[1].path,
                pmm_strerror(rows[1].err));
        return HR_EXIT_FAIL;
    }
    return HR_EXIT_OK;
}
