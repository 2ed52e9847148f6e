/* SPDX-License-Identifier: MIT */
/*
 * test_hrcached_stats.c - hrcached's stats, as a scrape or a health check
 * asks for them, against a real hrcached on a throwaway site:
 *  - stats answers every field it documents (memcached's names, then
 *    hrcached's); its heap figures are the heap's own, as a walk of the
 *    heap by the test finds them once the server is gone;
 *  - neither a restart before its first reply nor stats, stats items,
 *    stats slabs walk the heap: after a SIGKILL the new process serves
 *    with no page of the items mapped, and those commands map none (its
 *    resident set does not grow by the items' pages), where stats heap,
 *    the walk, maps them all;
 *  - stats heap answers the allocator's figures, and they agree with the
 *    heap: used grows and free shrinks with the sets, used is the store's
 *    own count (stats' heap_used), the objects are the items, the root
 *    and the table;
 *  - each command moves the counters memcached 1.6.18 moves for it;
 *  - under writers, every stats reply is whole (its heap_used is its
 *    bytes and the empty store's root and table, its bytes those of its
 *    items) and every stats heap's walk equals the store's count in its
 *    hold.
 * No figure here is a time: the walk is seen by the pages it maps.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotrestart/version.h>

#include "common.h"
#include "test_hrcached_util.h"

static int port, lfd;

#define ITEM_HDR 72     /* an item's header (hrcached/item.h) */
#define ROUNDING 64     /* the most the allocator adds to an object */

static void setup(void)
{
    lfd = mc_case_setup(&port);
}

TestSuite(hrcached_stats, .init = setup, .fini = mc_case_teardown,
          .timeout = 120);

/* Keys first..first+n-1 with values of size bytes, sent as noreply sets
 * in batches, each batch closed by a version that must answer. */
static void fill(int fd, int first, int n, int size)
{
    enum { BATCH = 32 };
    size_t cap = (size_t)BATCH * ((size_t)size + 64) + 16;
    char *cmd = malloc(cap), out[256];
    cr_assert_not_null(cmd);
    for (int i = first; i < first + n;) {
        size_t len = 0;
        for (int k = 0; k < BATCH && i < first + n; k++, i++) {
            len += (size_t)snprintf(cmd + len, 64,
                                    "set key%d 0 0 %d noreply\r\n", i, size);
            memset(cmd + len, 'a' + i % 26, (size_t)size);
            memcpy(cmd + len + (size_t)size, "\r\n", 2);
            len += (size_t)size + 2;
        }
        memcpy(cmd + len, "version\r\n", 9);
        cr_assert_gt(mc_ask(fd, cmd, len + 9, "\r\n", out, sizeof out), 0);
        cr_assert_eq(strncmp(out, "VERSION ", 8), 0, "after key%d: %s", i,
                     out);
    }
    free(cmd);
}

/* The figure name in a reply out (fails the test if there is none). */
static uint64_t field(const char *out, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "STAT %s ", name);
    const char *p = strstr(out, key);
    cr_assert_not_null(p, "no %s in:\n%s", name, out);
    return strtoull(p + strlen(key), NULL, 10);
}

/* Every field stats documents (hrcached(1), STATS), in its order. */
static const char *const fields[] = {
    "pid", "uptime", "time", "version", "pointer_size", "rusage_user",
    "rusage_system", "max_connections", "curr_connections",
    "total_connections", "cmd_get", "cmd_set", "cmd_flush", "cmd_touch",
    "get_hits", "get_misses", "get_expired", "get_flushed",
    "delete_misses", "delete_hits", "incr_misses", "incr_hits",
    "decr_misses", "decr_hits", "cas_misses", "cas_hits", "cas_badval",
    "touch_hits", "touch_misses", "store_too_large", "store_no_memory",
    "bytes_read", "bytes_written", "limit_maxbytes", "threads", "bytes",
    "curr_items", "total_items", "evictions", "reclaimed", "hash_buckets",
    "hash_is_expanding", "heap_size", "heap_used", "heap_free", "restarts",
    "items_recovered", "start_to_serve_us", "state_version"};

Test(hrcached_stats, stats_answers_every_field_in_order)
{
    pid_t pid = mc_startl(lfd, NULL);
    int fd = mc_connect(port);
    fill(fd, 0, 100, 1000);
    char out[16384], key[64];
    cr_assert_gt(mc_ask(fd, "stats\r\n", 7, "END\r\n", out, sizeof out), 0);
    const char *at = out;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        snprintf(key, sizeof key, "STAT %s ", fields[i]);
        const char *p = strstr(out, key);
        cr_assert_not_null(p, "no %s in:\n%s", fields[i], out);
        cr_assert_geq(p, at, "%s out of order in:\n%s", fields[i], out);
        at = p;
    }
    uint64_t size = field(out, "heap_size"), used = field(out, "heap_used");
    uint64_t free_ = field(out, "heap_free"), bytes = field(out, "bytes");
    cr_assert_eq(field(out, "curr_items"), 100);
    /* the items' heap sizes: each a header, a key of 4 or 5 bytes and
     * 1,000 bytes, within the allocator's rounding */
    cr_assert_geq(bytes, 100 * (ITEM_HDR + 4 + 1000));
    cr_assert_leq(bytes, 100 * (ITEM_HDR + 5 + 1000 + ROUNDING), "bytes %lu",
                  (unsigned long)bytes);
    uint64_t malloced = mc_stat(fd, "stats slabs\r\n", "total_malloced");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
    /* the heap figures against the allocator's own walk of the heap the
     * server left, made by this process (nothing changed it since) */
    pmm_bank *bank;
    void *root;
    hr_heap_info hi;
    hr_heap *h = mc_heap_open(&bank, &root);
    cr_assert_eq(hr_heap_stat(h, &hi), 0);
    mc_heap_close(h, bank);
    cr_assert_eq(hi.objects, 100 + 2, "the items, the root and the table");
    cr_assert_eq(size, hi.size);
    cr_assert_eq(used, hi.used, "heap_used %lu, the heap's walk %lu",
                 (unsigned long)used, (unsigned long)hi.used);
    cr_assert_eq(free_, hi.size - hi.used, "heap_free %lu, the heap's size "
                 "less its used %lu", (unsigned long)free_,
                 (unsigned long)(hi.size - hi.used));
    cr_assert_eq(malloced, hi.used, "stats slabs' total_malloced %lu",
                 (unsigned long)malloced);
}

/* Resident KiB of shared memory pid maps (RssShmem: the pages of the bank,
 * on tmpfs, its heap's included; not the process's own memory, which an
 * AddressSanitizer build makes several times larger). */
static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "RssShmem: %ld kB", &kib) == 1)
            break;
    fclose(f);
    cr_assert_geq(kib, 0, "no RssShmem in %s", path);
    return kib;
}

static void ask(int fd, const char *cmd)
{
    char out[16384];
    cr_assert_gt(mc_ask(fd, cmd, strlen(cmd), "END\r\n", out, sizeof out), 0,
                 "no reply to %s", cmd);
    cr_assert_null(strstr(out, "ERROR"), "%s: %s", cmd, out);
}

#define ITEMS 12000         /* of 4,000 bytes: 48 MB, a page each */

Test(hrcached_stats, stats_items_slabs_map_no_page_of_the_items)
{
    pid_t pid = mc_startl(lfd, "-m", "64", "-t", "1", NULL);
    int fd = mc_connect(port);
    fill(fd, 0, ITEMS, 4000);
    close(fd);
    kill(pid, SIGKILL);
    cr_assert_eq(wait_status(pid), 128 + SIGKILL);
    /* a fresh process: the heap's pages are in the bank, none mapped */
    pid = mc_startl(lfd, "-m", "64", "-t", "1", NULL);
    fd = mc_connect(port);
    cr_assert_eq(strncmp(mc_line(fd, "version\r\n"), "VERSION ", 8), 0);
    long items_kib = ITEMS * 4000L / 1024, before = rss_kib(pid);
    cr_assert_lt(before, items_kib / 8, "serving with %ld KiB resident: the "
                 "start mapped the items (%ld KiB)", before, items_kib);
    for (int i = 0; i < 3; i++) {
        ask(fd, "stats\r\n");
        ask(fd, "stats items\r\n");
        ask(fd, "stats slabs\r\n");
        ask(fd, "stats settings\r\n");
    }
    long after = rss_kib(pid);
    cr_assert_eq(mc_stat(fd, "stats\r\n", "items_recovered"), ITEMS);
    cr_assert_lt(after - before, items_kib / 8, "stats mapped %ld KiB of "
                 "the items' %ld: a walk of the heap", after - before,
                 items_kib);
    /* the measure sees a walk: stats heap maps every item's page */
    ask(fd, "stats heap\r\n");
    long walked = rss_kib(pid);
    cr_assert_gt(walked - after, items_kib / 2, "stats heap mapped only %ld "
                 "KiB of the items' %ld (were they mapped at start?)",
                 walked - after, items_kib);
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* The walked figures, from one reply. */
struct walked {
    uint64_t size, used, objects, free, cached, largest_free, lanes;
    uint64_t store_used;
};

static struct walked stats_heap(int fd)
{
    char out[4096];
    cr_assert_gt(mc_ask(fd, "stats heap\r\n", 12, "END\r\n", out,
                        sizeof out), 0);
    return (struct walked){
        field(out, "size"), field(out, "used"), field(out, "objects"),
        field(out, "free"), field(out, "cached"), field(out, "largest_free"),
        field(out, "lanes"), field(out, "store_used")};
}

Test(hrcached_stats, stats_heap_walks_and_agrees_with_the_store)
{
    pid_t pid = mc_startl(lfd, "-m", "16", NULL);
    int fd = mc_connect(port);
    struct walked a = stats_heap(fd);
    cr_assert_eq(a.size, mc_stat(fd, "stats\r\n", "heap_size"));
    cr_assert_eq(a.objects, 2, "an empty store: its root and its table");
    cr_assert_gt(a.used, 0);
    cr_assert_eq(a.used, a.store_used);
    cr_assert_eq(a.used, mc_stat(fd, "stats\r\n", "heap_used"));
    cr_assert_gt(a.lanes, 0);
    cr_assert_gt(a.free, 0);
    cr_assert_leq(a.largest_free, a.free);
    fill(fd, 0, 1000, 1000);            /* 1 MB: no eviction, no growth */
    struct walked b = stats_heap(fd);
    cr_assert_eq(b.objects, 1000 + 2);
    cr_assert_geq(b.used - a.used, 1000 * 1000, "used %lu then %lu",
                  (unsigned long)a.used, (unsigned long)b.used);
    cr_assert_lt(b.free + b.cached, a.free + a.cached, "free %lu+%lu then "
                 "%lu+%lu", (unsigned long)a.free, (unsigned long)a.cached,
                 (unsigned long)b.free, (unsigned long)b.cached);
    cr_assert_eq(b.used, b.store_used, "the heap's used and the store's "
                 "count differ");
    cr_assert_eq(b.used, mc_stat(fd, "stats\r\n", "heap_used"));
    cr_assert_eq(b.used - mc_stat(fd, "stats\r\n", "bytes"),
                 a.used, "the root and the table did not change");
    char out[256];
    cr_assert_gt(mc_ask(fd, "delete key0\r\n", 13, "\r\n", out, sizeof out),
                 0);
    cr_assert_str_eq(out, "DELETED\r\n");
    struct walked c = stats_heap(fd);
    cr_assert_eq(c.objects, 1000 + 1);
    cr_assert_lt(c.used, b.used);
    cr_assert_eq(c.used, c.store_used);
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* A writer's life: sets and deletes of 200 keys until killed. */
static void writer(void)
{
    int fd = mc_connect(port);
    char cmd[2200], out[256];
    for (unsigned i = 0;; i++) {
        int k = (int)(i * 7919 % 200), len;
        if (i % 3 == 2)
            len = snprintf(cmd, sizeof cmd, "delete key%d\r\n", k);
        else {
            int size = 100 + (int)(i % 1900);
            len = snprintf(cmd, sizeof cmd, "set key%d 0 0 %d\r\n", k, size);
            memset(cmd + len, 'w', (size_t)size);
            memcpy(cmd + len + size, "\r\n", 2);
            len += size + 2;
        }
        if (mc_ask(fd, cmd, (size_t)len, "\r\n", out, sizeof out) < 0)
            _exit(1);
    }
}

/* Under two writers, every stats is whole: one copy of the root's figures,
 * its heap_used the items' bytes and the root and table the empty store's
 * walk found, its bytes those of its curr_items items of writer(); and
 * every stats heap's walk agrees with the store's count taken in the same
 * hold. */
Test(hrcached_stats, stats_whole_while_writers_run)
{
    pid_t pid = mc_startl(lfd, "-m", "16", "-t", "3", NULL);
    int fd = mc_connect(port);
    struct walked empty = stats_heap(fd);
    cr_assert_eq(empty.objects, 2, "an empty store: its root and its table");
    uint64_t buckets = mc_stat(fd, "stats\r\n", "hash_buckets");
    pid_t w[2];
    for (int i = 0; i < 2; i++) {
        if ((w[i] = mc_fork()) == 0)
            writer();
    }
    for (int i = 0; i < 300; i++) {
        char out[16384];
        cr_assert_gt(mc_ask(fd, "stats\r\n", 7, "END\r\n", out, sizeof out),
                     0);
        uint64_t used = field(out, "heap_used"), bytes = field(out, "bytes");
        uint64_t items = field(out, "curr_items");
        /* 200 keys do not grow the table: the root and it are constant */
        cr_assert_eq(field(out, "hash_buckets"), buckets, "round %d", i);
        cr_assert_eq(used - bytes, empty.used, "round %d: heap_used less "
                     "bytes is not the root and the table:\n%s", i, out);
        cr_assert_leq(items, 200, "round %d:\n%s", i, out);
        cr_assert_geq(bytes, items * (ITEM_HDR + 4 + 100), "round %d:\n%s",
                      i, out);
        cr_assert_leq(bytes, items * (ITEM_HDR + 6 + 1999 + ROUNDING),
                      "round %d:\n%s", i, out);
        if (i % 30 == 0) {
            struct walked h = stats_heap(fd);
            cr_assert_eq(h.used, h.store_used, "round %d", i);
        }
    }
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(waitpid(w[i], NULL, WNOHANG), 0, "writer %d died", i);
        kill(w[i], SIGKILL);
        waitpid(w[i], NULL, 0);
    }
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* The counters a command moves, as "name=delta ..." in counted's order. */
static const char *const counted[] = {
    "cmd_get", "get_hits", "get_misses", "cmd_touch", "touch_hits",
    "touch_misses", "cmd_set", "delete_hits", "delete_misses", "incr_hits",
    "incr_misses", "total_items",
};
#define NCOUNTED (sizeof counted / sizeof counted[0])

static void counters(int fd, uint64_t *v)
{
    static char out[16384];
    cr_assert_gt(mc_ask(fd, "stats\r\n", 7, "END\r\n", out, sizeof out), 0);
    for (size_t i = 0; i < NCOUNTED; i++)
        v[i] = field(out, counted[i]);
}

/* Each command moves the counters memcached 1.6.18 moves for it (seen
 * with the same commands on it): gat and gats only the touch ones, an mg
 * hit with T a touch, me none, a set refused as too large none (the old
 * value's delete uncounted), a counter made by ma N an item, not an incr
 * hit.  Before, each of these also moved get or set counters, or
 * delete_*, or incr_hits. */
Test(hrcached_stats, commands_count_as_memcached_s)
{
    static char too_large[2][2200];
    char data[2001];
    memset(data, 'x', 2000);
    data[2000] = 0;
    snprintf(too_large[0], sizeof too_large[0], "set k 0 0 2000\r\n%s\r\n",
             data);
    snprintf(too_large[1], sizeof too_large[1], "ms k 2000 T0\r\n%s\r\n",
             data);
    const char *const rows[][3] = {
        {"set k 0 0 1\r\nx\r\n", "\r\n", "cmd_set=1 total_items=1"},
        {"gat 100 k\r\n", "END\r\n", "cmd_touch=1 touch_hits=1"},
        {"gats 100 nokey\r\n", "END\r\n", "cmd_touch=1 touch_misses=1"},
        {"mg k T30 v\r\n", "x\r\n", "cmd_touch=1 touch_hits=1"},
        {"mg nokey T30 v\r\n", "\r\n", "cmd_get=1 get_misses=1"},
        {"mg k v\r\n", "x\r\n", "cmd_get=1 get_hits=1"},
        {"me k\r\n", "\r\n", ""},
        {"me nokey\r\n", "\r\n", ""},
        {"ma cnt N30 J5\r\n", "\r\n", "total_items=1"},
        {"ma cnt\r\n", "\r\n", "incr_hits=1"},
        {too_large[0], "\r\n", ""},
        {"set k 0 0 1\r\nx\r\n", "\r\n", "cmd_set=1 total_items=1"},
        {too_large[1], "\r\n", ""},
        {"mg k v\r\n", "\r\n", "cmd_get=1 get_misses=1"},
    };
    pid_t pid = mc_startl(lfd, "-I", "1k", NULL);
    int fd = mc_connect(port);
    uint64_t before[NCOUNTED], after[NCOUNTED];
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        char out[4096], moved[512] = "";
        size_t len = 0;
        counters(fd, before);
        cr_assert_gt(mc_ask(fd, rows[r][0], strlen(rows[r][0]), rows[r][1],
                            out, sizeof out), 0, "%.30s", rows[r][0]);
        counters(fd, after);
        for (size_t i = 0; i < NCOUNTED; i++)
            if (after[i] != before[i])
                len += (size_t)snprintf(moved + len, sizeof moved - len,
                                        "%s%s=%llu", len ? " " : "",
                                        counted[i],
                                        (unsigned long long)(after[i] -
                                                             before[i]));
        cr_expect_str_eq(moved, rows[r][2], "%.30s: moved \"%s\"",
                         rows[r][0], moved);
    }
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* The text of the file at path (up to cap - 1 bytes), "" when absent. */
static const char *slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    buf[0] = 0;
    if (f) {
        buf[fread(buf, 1, cap - 1, f)] = 0;
        fclose(f);
    }
    return buf;
}

static int says_serving(void *log)
{
    char buf[4096];
    return strstr(slurp(log, buf, sizeof buf), "serving on") != NULL;
}

/* -v on a restart says how the heap's pages come into memory, whether or
 * not it holds items.  Before, an empty heap's restart said nothing. */
Test(hrcached_stats, v_says_how_the_pages_come_in_after_an_empty_restart)
{
    pid_t pid = mc_startl(lfd, NULL); /* makes the heap, sets nothing */
    int fd = mc_connect(port);
    cr_assert_str_eq(mc_line(fd, "version\r\n"),
                     "VERSION 1.6.0-hrcached-" HR_VERSION_STRING "\r\n");
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
    char log[300], buf[4096];
    snprintf(log, sizeof log, "%s/v.log", getenv("HR_SITE"));
    int saved = dup(2), f = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(saved >= 0 && f >= 0 && dup2(f, 2) == 2);
    pid = mc_startl(lfd, "-v", NULL); /* its stderr the log */
    dup2(saved, 2);
    close(saved);
    close(f);
    mc_poll(says_serving, log, "hrcached -v to say it serves");
    cr_assert_eq(mc_stop(pid), 0);
    slurp(log, buf, sizeof buf);
    cr_assert(strstr(buf, ": 0 items"), "%s", buf);
    cr_assert(strstr(buf, "into memory"), "no populate line: %s", buf);
}
