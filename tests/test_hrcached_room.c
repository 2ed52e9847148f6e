/* SPDX-License-Identifier: MIT */
/*
 * test_hrcached_room.c - a store that needs room gets it as memcached's
 * does, from a cache full of other items: a 1 MB set after many small
 * ones (free memory scattered in small pieces), a change to the item at
 * the eviction list's tail (which eviction must not take), an `mg N` on a
 * full cache.  Each case failed on the code before its fix.
 *
 * Each case makes a throwaway site, holds a listening socket and starts
 * hrcached on it by LISTEN_FDS, as the controller does.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "test_hrcached_util.h"

static int port, lfd;

static void setup(void)
{
    lfd = mc_case_setup(&port);
}

TestSuite(room, .init = setup, .fini = mc_case_teardown, .timeout = 120);

/* count sets of prefix0.. in one pipeline, noreply, each of a size drawn
 * from lo..hi (seed *s) or lo, then an mn to know they ran. */
static void fill(int fd, const char *prefix, long count, size_t lo, size_t hi,
                 uint64_t *s)
{
    size_t cap = (size_t)count * (hi + 48) + 8, len = 0;
    char *cmd = malloc(cap);
    cr_assert_not_null(cmd);
    for (long i = 0; i < count; i++) {
        size_t n = lo + (hi > lo ? test_rand(s) % (hi - lo + 1) : 0);
        len += (size_t)snprintf(cmd + len, cap - len,
                                "set %s%ld 0 0 %zu noreply\r\n", prefix, i, n);
        memset(cmd + len, 'v', n);
        memcpy(cmd + len + n, "\r\n", 2);
        len += n + 2;
    }
    memcpy(cmd + len, "mn\r\n", 4);
    cr_assert_str_eq(mc_ask_s(fd, cmd, len + 4, "MN\r\n"), "MN\r\n");
    free(cmd);
}

/* A 1 MB set after 150,000 small ones at -m 8: memcached stores it.
 * Before, eviction freed one small item per pass once the byte count was
 * under the limit, the free memory stayed in pieces, and after 64 passes
 * the set failed with SERVER_ERROR out of memory. */
Test(room, big_sets_after_many_small_ones_are_stored)
{
    uint64_t s = test_seed("big_sets_after_many_small_ones_are_stored");
    pid_t pid = mc_startl(lfd, "-m", "8", "-t", "2", NULL);
    int fd = mc_connect(port);
    fill(fd, "s", 150000, 20, 300, &s);
    char key[32];
    for (int i = 0; i < 19; i++) {
        snprintf(key, sizeof key, "big%d", i);
        cr_assert_str_eq(mc_store_n(fd, "set", key, 999900, 'b', "", ""),
                         "STORED\r\n", "%s, after %d big sets", key, i);
    }
    const char *r = MC_ASK(fd, "mg big18 s v\r\n", "\r\n");
    cr_assert(strncmp(r, "VA 999900 s999900\r\n", 19) == 0, "%.40s", r);
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* The oldest key still there (the LRU tail, nothing read): t<N> for the
 * smallest N that me finds, its cas in cas. */
static int oldest(int fd, int from, char cas[32])
{
    char cmd[64];
    for (int i = from; i < 3000; i++) {
        snprintf(cmd, sizeof cmd, "me t%d\r\n", i);
        const char *r = mc_line(fd, cmd);
        if (strcmp(r, "EN\r\n") == 0)
            continue;
        const char *c = strstr(r, " cas=");
        cr_assert_not_null(c, "%s", r);
        snprintf(cas, 32, "%.*s", (int)strcspn(c + 5, " "), c + 5);
        return i;
    }
    cr_assert_fail("no t key left");
    return -1;
}

/* append, prepend, replace and cas of the key at the LRU tail, each
 * needing room: stored, as memcached stores them.  Before, the eviction
 * the change asked for took the very item it changed: NOT_STORED (or
 * NOT_FOUND), and the key gone. */
Test(room, a_change_to_the_lru_tail_keeps_its_item)
{
    static const char *const verbs[] = {"append", "prepend", "replace",
                                        "cas"};
    pid_t pid = mc_startl(lfd, "-m", "2", "-t", "1", NULL);
    int fd = mc_connect(port);
    fill(fd, "t", 3000, 1000, 1000, NULL);
    char key[32], cas[32], tail[40], get[64];
    int from = 0;
    for (size_t v = 0; v < sizeof verbs / sizeof verbs[0]; v++) {
        from = oldest(fd, from, cas);
        snprintf(key, sizeof key, "t%d", from);
        int is_cas = strcmp(verbs[v], "cas") == 0;
        snprintf(tail, sizeof tail, "%s%s", is_cas ? " " : "", is_cas ? cas : "");
        cr_assert_str_eq(mc_store_n(fd, verbs[v], key, 50000, 'n', tail, ""),
                         "STORED\r\n", "%s %s", verbs[v], key);
        snprintf(get, sizeof get, "mg %s s\r\n", key);
        size_t want = strcmp(verbs[v], "append") == 0 ||
                      strcmp(verbs[v], "prepend") == 0 ? 51000 : 50000;
        char hd[64];
        snprintf(hd, sizeof hd, "HD s%zu\r\n", want);
        cr_assert_str_eq(mc_line(fd, get), hd, "%s %s", verbs[v], key);
        from++;
    }
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}

/* mg N on a full cache evicts to make its empty item and wins the
 * recache, as memcached: HD W.  Before, only the first was made, the
 * others answered EN and made nothing. */
Test(room, mg_vivify_on_a_full_cache_makes_room)
{
    pid_t pid = mc_startl(lfd, "-m", "8", NULL);
    int fd = mc_connect(port);
    fill(fd, "f", 120000, 100, 100, NULL);
    char cmd[64];
    for (int i = 0; i < 20; i++) {
        snprintf(cmd, sizeof cmd, "mg viv%d N30 s\r\n", i);
        cr_assert_str_eq(mc_line(fd, cmd), "HD s0 W\r\n", "viv%d", i);
    }
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
}
