/* SPDX-License-Identifier: MIT */
/*
 * stats.c - memcached's stats command: "stats" (the server's and the
 * store's counters, in memcached's names and order where it has them),
 * "stats settings", "stats conns" (the event loop's lines), "stats items"
 * and "stats slabs" (one class: every
 * item is in one heap and one LRU) and "stats reset"; beside memcached's
 * fields, hrcached's
 * own (heap_*, restarts, items_recovered, start_to_serve_us), and "stats
 * heap", the allocator's own figures.  Reads the store through store.h
 * only; resets the counters it shows and nothing else.
 *
 * Invariant: what a scrape or a health check asks for (stats, stats
 * items, stats slabs, stats settings, stats conns) costs a copy of
 * counters, never a walk of the heap, and holds no writer off for longer
 * than the copy (mc_store_usage).  Only "stats heap" walks, and says for
 * how long it held the writers off (held_us).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "stats.h"
#include "words.h"

static void stat_u64(struct mc_session *s, const char *name, uint64_t v)
{
    mc_sayf(s, "STAT %s %" PRIu64, name, v);
}

/* Every worker's figures, summed.  Each word is read whole (relaxed
 * atomic loads) while its worker may be counting on. */
struct sums {
    struct mc_counters c;
    uint64_t cmd_get, cmd_set, cmd_flush, cmd_touch;
    uint64_t curr_conns, total_conns, bytes_read, bytes_written;
};

static void add_words(uint64_t *to, const uint64_t *from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        to[i] += __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}

static void sum_all(const struct mc_server *srv, struct sums *t)
{
    _Static_assert(sizeof(struct mc_counters) % 8 == 0, "counters: words");
    *t = (struct sums){0};
    for (int i = 0; i < srv->nthreads; i++) {
        const struct mc_server *w = &srv->all[i];
        add_words((uint64_t *)&t->c, (const uint64_t *)mc_store_counters(w->store),
                  sizeof t->c / 8);
        const uint64_t *f[] = {&w->cmd_get, &w->cmd_set, &w->cmd_flush,
                               &w->cmd_touch, &w->curr_conns, &w->total_conns,
                               &w->bytes_read, &w->bytes_written};
        uint64_t *to[] = {&t->cmd_get, &t->cmd_set, &t->cmd_flush,
                          &t->cmd_touch, &t->curr_conns, &t->total_conns,
                          &t->bytes_read, &t->bytes_written};
        for (size_t k = 0; k < sizeof f / sizeof f[0]; k++)
            add_words(to[k], f[k], 1);
    }
}

static void stats_general(struct mc_server *srv, struct mc_session *s,
                          const struct mc_usage *up)
{
    struct sums sum;
    sum_all(srv, &sum);
    const struct mc_counters *c = &sum.c;
    const struct mc_usage u = *up;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    int64_t now = time(NULL);
    stat_u64(s, "pid", (uint64_t)getpid());
    stat_u64(s, "uptime", (uint64_t)(now - srv->started));
    stat_u64(s, "time", (uint64_t)now);
    mc_sayf(s, "STAT version %s", MC_VERSION_STRING);
    stat_u64(s, "pointer_size", sizeof(void *) * 8);
    mc_sayf(s, "STAT rusage_user %ld.%06ld", (long)ru.ru_utime.tv_sec,
         (long)ru.ru_utime.tv_usec);
    mc_sayf(s, "STAT rusage_system %ld.%06ld", (long)ru.ru_stime.tv_sec,
         (long)ru.ru_stime.tv_usec);
    stat_u64(s, "max_connections", srv->max_conns);
    stat_u64(s, "curr_connections", sum.curr_conns);
    stat_u64(s, "total_connections", sum.total_conns);
    stat_u64(s, "cmd_get", sum.cmd_get);
    stat_u64(s, "cmd_set", sum.cmd_set);
    stat_u64(s, "cmd_flush", sum.cmd_flush);
    stat_u64(s, "cmd_touch", sum.cmd_touch);
    const struct { const char *name; uint64_t v; } rows[] = {
        {"get_hits", c->get_hits}, {"get_misses", c->get_misses},
        {"get_expired", c->get_expired}, {"get_flushed", c->get_flushed},
        {"delete_misses", c->delete_misses}, {"delete_hits", c->delete_hits},
        {"incr_misses", c->incr_misses}, {"incr_hits", c->incr_hits},
        {"decr_misses", c->decr_misses}, {"decr_hits", c->decr_hits},
        {"cas_misses", c->cas_misses}, {"cas_hits", c->cas_hits},
        {"cas_badval", c->cas_badval}, {"touch_hits", c->touch_hits},
        {"touch_misses", c->touch_misses},
        {"store_too_large", c->store_too_large},
        {"store_no_memory", c->store_no_memory},
        {"bytes_read", sum.bytes_read}, {"bytes_written", sum.bytes_written},
        {"limit_maxbytes", u.mem_limit}, {"threads", (uint64_t)srv->nthreads},
        {"bytes", u.bytes}, {"curr_items", u.items},
        {"total_items", c->total_items}, {"evictions", c->evictions},
        {"reclaimed", c->reclaimed}, {"hash_buckets", u.nbuckets},
        {"hash_is_expanding", u.growing},
        /* hrcached's own: the heap, and what restarts found */
        {"heap_size", u.heap_size}, {"heap_used", u.heap_used},
        {"heap_free", u.heap_size - u.heap_used},
        {"restarts", u.starts > 0 ? u.starts - 1 : 0},
        {"items_recovered", srv->items_at_start},
        {"start_to_serve_us", srv->start_to_serve_us},
        {"state_version", srv->state_version},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        stat_u64(s, rows[i].name, rows[i].v);
    mc_say(s, "END");
}

static void stats_settings(struct mc_server *srv, struct mc_session *s)
{
    stat_u64(s, "maxbytes", srv->cfg.mem_limit);
    stat_u64(s, "maxconns", srv->max_conns);
    stat_u64(s, "verbosity", (uint64_t)srv->verbosity);
    mc_sayf(s, "STAT evictions %s", srv->cfg.no_evict ? "off" : "on");
    stat_u64(s, "item_size_max", srv->cfg.item_max);
    stat_u64(s, "udpport", 0);
    stat_u64(s, "num_threads", (uint64_t)srv->nthreads);
    mc_say(s, "STAT cas_enabled yes");
    mc_say(s, "STAT binding_protocol ascii");
    mc_say(s, "STAT flush_enabled yes");
    mc_say(s, "STAT shutdown_command no");
    mc_say(s, "STAT lru_segmented no");
    mc_sayf(s, "STAT heap %s", srv->heap_name);
    mc_say(s, "END");
}

/* memcached's per-slab-class figures, for the one class hrcached has:
 * every item is in one heap and one LRU list (class 1). */
static void stats_items(struct mc_server *srv, struct mc_session *s,
                        const struct mc_usage *up, int slabs)
{
    struct sums sum;
    sum_all(srv, &sum);
    const struct mc_counters *c = &sum.c;
    const struct mc_usage u = *up;
    if (!slabs) {
        if (u.items) {
            int64_t age = u.oldest ? (int64_t)time(NULL) - u.oldest : 0;
            stat_u64(s, "items:1:number", u.items);
            stat_u64(s, "items:1:age", (uint64_t)(age > 0 ? age : 0));
            stat_u64(s, "items:1:evicted", c->evictions);
            stat_u64(s, "items:1:outofmemory", c->store_no_memory);
            stat_u64(s, "items:1:reclaimed", c->reclaimed);
        }
        mc_say(s, "END");
        return;
    }
    if (u.items) {
        stat_u64(s, "1:used_chunks", u.items);
        stat_u64(s, "1:mem_requested", u.bytes);
        stat_u64(s, "1:get_hits", c->get_hits);
        stat_u64(s, "1:delete_hits", c->delete_hits);
        stat_u64(s, "1:touch_hits", c->touch_hits);
    }
    stat_u64(s, "active_slabs", u.items ? 1 : 0);
    stat_u64(s, "total_malloced", u.heap_used);
    mc_say(s, "END");
}

/* The allocator's own figures: a walk of the whole heap, every writer
 * held off meanwhile (man hrcached(1), STATS). */
static void stats_heap(struct mc_server *srv, struct mc_session *s)
{
    hr_heap_info hi = {0};
    uint64_t used = 0, held_us = 0;
    int r = mc_store_heap_stat(srv->store, &hi, &used, &held_us);
    if (r < 0) {
        mc_say_result(s, r);
        return;
    }
    const struct { const char *name; uint64_t v; } rows[] = {
        {"size", hi.size}, {"arena", hi.arena}, {"used", hi.used},
        {"objects", hi.objects}, {"free", hi.free},
        {"free_chunks", hi.free_chunks}, {"largest_free", hi.largest_free},
        {"cached", hi.cached}, {"cached_chunks", hi.cached_chunks},
        {"log_size", hi.log_size}, {"lanes", hi.lanes},
        {"lanes_busy", hi.lanes_busy}, {"transactions", hi.tx_count},
        {"durable", (uint64_t)hi.durable}, {"store_used", used},
        {"held_us", held_us},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        stat_u64(s, rows[i].name, rows[i].v);
    mc_say(s, "END");
}

void mc_cmd_stats(struct mc_server *srv, struct mc_session *s,
                  const struct mc_tok *t, size_t n)
{
    struct mc_usage u = {0};
    int items = n == 2 && (mc_is(&t[1], "items") || mc_is(&t[1], "slabs"));
    if (n == 1 || items)        /* the root's figures: a copy, no walk */
        mc_store_usage(srv->store, &u);
    if (n == 1)
        stats_general(srv, s, &u);
    else if (n == 2 && mc_is(&t[1], "reset")) {
        for (int i = 0; i < srv->nthreads; i++) {  /* counts lost beside
                                                     * the reset: harmless */
            struct mc_server *w = &srv->all[i];
            mc_store_reset_counters(w->store);
            w->cmd_get = w->cmd_set = w->cmd_flush = w->cmd_touch = 0;
            w->total_conns = w->bytes_read = w->bytes_written = 0;
        }
        mc_say(s, "RESET");
    } else if (n == 2 && mc_is(&t[1], "settings")) {
        stats_settings(srv, s);
    } else if (n == 2 && mc_is(&t[1], "conns") && srv->conns) {
        srv->conns(srv->conns_ctx, s);
        mc_say(s, "END");
    } else if (n == 2 && mc_is(&t[1], "heap")) {
        stats_heap(srv, s);
    } else if (items) {
        stats_items(srv, s, &u, t[1].p[0] == 's');
    } else {
        mc_say(s, "ERROR");
    }
}
