/* SPDX-License-Identifier: MIT */
/*
 * heap_cmd.c - hr heap check|stat: check a persistent heap, or show its
 * counters.
 *
 * The heap is opened as any user opens it (hr_heap_open), so what a dead
 * process left half done is rolled back first (unless its undo log is
 * damaged: HR_HEAP_INSPECT leaves it for the check to name); then the walk
 * runs under the heap's lock.  Exit codes as hr pmm check: 0 consistent, 3 not.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hotrestart/heap.h>
#include <hotrestart/pmm.h>

#include "hr.h"

struct heap_args {
    const char *sub, *name, *medium;
    int json;
};

enum { OPT_MEDIUM = HR_OPT_OWN };

static hr_heap *open_heap(const struct hr_opts *o, const struct heap_args *a)
{
    char what[128];
    snprintf(what, sizeof what, "heap %s", a->sub);
    pmm_bank *b;
    hr_site_as_owner(o, what);
    int r = pmm_bank_open(&b, o->site, a->medium, 0);
    if (r < 0) {
        char dir[4096];
        hr_site_dir(o, dir, sizeof dir, what);
        hr_die_bank_err(o, dir, what, a->medium, r);
    }
    pmm_block blk;
    if ((r = pmm_stat(b, a->name, &blk)) < 0)
        hr_die(HR_EXIT_FAIL, "%s: block '%s': %s", what, a->name,
               pmm_strerror(r));
    hr_heap *h;
    /* a damaged undo log is left as it is, for the check to name */
    r = hr_heap_open(&h, b, a->name, 0, blk.key, blk.keylen,
                     HR_HEAP_RETRIEVE | HR_HEAP_INSPECT);
    if (r == K_EHEAP)
        hr_die(HR_EXIT_BANK, "%s: '%s': %s", what, a->name, pmm_strerror(r));
    if (r < 0)
        hr_die(HR_EXIT_FAIL, "%s: '%s': %s", what, a->name, pmm_strerror(r));
    return h;
}

struct say_state {
    int json, n;
};

static void say(const char *msg, void *arg)
{
    struct say_state *s = arg;
    if (s->json) {
        printf("%s", s->n++ ? ", " : "");
        hr_json_str(msg);
    } else {
        printf("%s\n", msg);
    }
}

static int check_cmd(hr_heap *h, const struct heap_args *a)
{
    struct say_state s = {a->json, 0};
    if (a->json) {
        printf("{\"heap\": ");
        hr_json_str(a->name);
        printf(", \"messages\": [");
    }
    int r = hr_heap_check(h, say, &s);
    if (a->json)
        printf("], \"consistent\": %s}\n", r == 0 ? "true" : "false");
    else
        printf("%s: %s\n", a->name, r == 0 ? "consistent" : "NOT consistent");
    if (r == 0)
        return HR_EXIT_OK;
    if (r == K_EHEAP)
        return HR_EXIT_BANK;
    hr_die_err("heap check", r);
}

static const char *lane_state(int s)
{
    return s == HR_HEAP_LANE_FREE ? "free"
         : s == HR_HEAP_LANE_BUSY ? "busy" : "damaged";
}

/* Every lane: its state, the use of its undo log, its transactions. */
static void show_lanes(hr_heap *h, int json)
{
    hr_heap_lane l[16];
    int n = hr_heap_lanes(h, l, 16);
    if (json)
        printf(", \"lanes\": [");
    for (int i = 0; i < n && i < 16; i++) {
        if (json)
            printf("%s{\"lane\": %d, \"state\": \"%s\", \"log_used\": %llu, "
                   "\"log_size\": %llu, \"transactions\": %llu}",
                   i ? ", " : "", i, lane_state(l[i].state),
                   (unsigned long long)l[i].log_used,
                   (unsigned long long)l[i].log_size,
                   (unsigned long long)l[i].transactions);
        else
            printf("lane %-8d %-7s log %llu of %llu, %llu transactions\n", i,
                   lane_state(l[i].state), (unsigned long long)l[i].log_used,
                   (unsigned long long)l[i].log_size,
                   (unsigned long long)l[i].transactions);
    }
    if (json)
        printf("]");
}

static int stat_cmd(hr_heap *h, const struct heap_args *a)
{
    hr_heap_info st;
    uint64_t version;
    int r = hr_heap_stat(h, &st);
    if (r < 0 && r != K_EHEAP)
        hr_die_err("heap stat", r);
    hr_heap_root_version(h, &version);
    if (a->json) {
        printf("{\"heap\": ");
        hr_json_str(a->name);
        printf(", \"medium\": ");
        hr_json_str(a->medium);
        printf(", \"size\": %llu, \"arena\": %llu, \"used\": %llu, "
               "\"objects\": %llu, \"free\": %llu, \"free_chunks\": %llu, "
               "\"largest_free\": %llu, \"cached\": %llu, "
               "\"cached_chunks\": %llu, \"log_size\": %llu, "
               "\"transactions\": %llu, \"durable\": %s, \"consistent\": %s, "
               "\"lanes_busy\": %u, \"root_version\": %llu",
               (unsigned long long)st.size, (unsigned long long)st.arena,
               (unsigned long long)st.used, (unsigned long long)st.objects,
               (unsigned long long)st.free, (unsigned long long)st.free_chunks,
               (unsigned long long)st.largest_free,
               (unsigned long long)st.cached,
               (unsigned long long)st.cached_chunks,
               (unsigned long long)st.log_size,
               (unsigned long long)st.tx_count, st.durable ? "true" : "false",
               r == 0 ? "true" : "false", st.lanes_busy,
               (unsigned long long)version);
        show_lanes(h, 1);
        printf("}\n");
    } else {
        printf("heap          %s (%s)\n", a->name, a->medium);
        printf("size          %llu (arena %llu, undo log %llu)\n",
               (unsigned long long)st.size, (unsigned long long)st.arena,
               (unsigned long long)st.log_size);
        printf("used          %llu in %llu objects\n",
               (unsigned long long)st.used, (unsigned long long)st.objects);
        printf("free          %llu in %llu chunks\n",
               (unsigned long long)st.free,
               (unsigned long long)st.free_chunks);
        printf("largest free  %llu\n", (unsigned long long)st.largest_free);
        printf("cached        %llu in %llu chunks (lanes' caches)\n",
               (unsigned long long)st.cached,
               (unsigned long long)st.cached_chunks);
        printf("transactions  %llu\n", (unsigned long long)st.tx_count);
        printf("root version  %llu (the state's format, 0 if unset)\n",
               (unsigned long long)version);
        printf("lanes         %u (%u busy)\n", st.lanes, st.lanes_busy);
        show_lanes(h, 0);
        if (r < 0)
            printf("NOT consistent (hr heap check says why)\n");
    }
    return r == 0 ? HR_EXIT_OK : HR_EXIT_BANK;
}

/* check or stat: the heap opened, then the subcommand's walk. */
static int heap_act(const struct hr_call *c)
{
    const char *medium = c->val[OPT_MEDIUM - HR_OPT_OWN];
    struct heap_args a = {.sub = c->sub->name, .name = c->argv[0],
                          .medium = medium ? medium : "RAM",
                          .json = c->o->json};
    hr_heap *h = open_heap(c->o, &a);
    int r = strcmp(a.sub, "check") == 0 ? check_cmd(h, &a) : stat_cmd(h, &a);
    hr_heap_close(h);
    return r;
}

const struct hr_optdef hr_heap_options[] = {
    {"medium", OPT_MEDIUM, HR_ARG_MEDIUM, "M", NULL, NULL},
    {0},
};

const struct hr_cmd hr_heap_subs[] = {
    {"check", .act = heap_act, .operands = 1, .operand = HR_OPERAND_BLOCK,
     .synopsis = "NAME", .help =
     "walk the persistent heap NAME (a block of medium M, default RAM)\n"
     "and report every inconsistency: overlapping or lost chunks, bad\n"
     "free lists, wrong counters, a lane whose undo log is damaged\n"
     "(named with the record's offset).  A dead process's or thread's\n"
     "transaction is rolled back first, as any opener does.\n"
     "Exit 0 only for a consistent heap, 3 otherwise"},
    {"stat", .act = heap_act, .operands = 1, .operand = HR_OPERAND_BLOCK,
     .synopsis = "NAME", .help =
     "used and free bytes, objects, largest free chunk, lane caches, the\n"
     "root's format version, and every lane: free or busy (a transaction\n"
     "runs in it), its undo log's use"},
    {0},
};

/* Options and operands mix in any order. */
int hr_cmd_heap(int argc, char **argv, const struct hr_opts *o)
{
    return hr_sub_run(argc, argv, o, hr_command("heap"), NULL);
}
