/* SPDX-License-Identifier: MIT */
/*
 * test_hrcached_grow.c - hrcached's hash table grows with its items
 * (format version 2), and a store of version 1 is migrated:
 *
 *  - a store grows past its first table; killed by SIGKILL while a growth
 *    has moved some chains and not others, it comes back with every key,
 *    the growth goes on where it was, and the store checks consistent;
 *  - sets pipelined while the server is SIGKILLed at random moments (the
 *    seed printed, HR_TEST_SEED replays it) through three growths: every
 *    acknowledged key is there after;
 *  - a store written in version 1's layout (frozen below, as hrcached 1
 *    wrote it: the whole table at once) is served with every key and its
 *    cas, its version word becomes 2, and --check alone changes nothing.
 *
 * (A version newer than the program's is refused untouched:
 * test_hrcached_threads.c.)  Each case makes a throwaway site and holds
 * the listening socket, as the controller does.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/errors.h>
#include <hotrestart/heap.h>

#include "common.h"
#include "test_hrcached_util.h"

#define BATCH 300       /* sets sent at once before a kill */

static int port, lfd;

static void setup(void)
{
    lfd = mc_case_setup(&port);
}

static void teardown(void)
{
    mc_case_teardown();
}

TestSuite(hrcached_grow, .init = setup, .fini = teardown, .timeout = 300);

static void set_keys(int fd, int from, int to)
{
    for (int i = from; i < to; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "set g%d 0 0 %d\r\n%d\r\n", i,
                 snprintf(NULL, 0, "%d", i), i);
        cr_assert_str_eq(mc_line(fd, cmd), "STORED\r\n", "g%d", i);
    }
}

/* Every key g0..g<n-1> holds its number, with cas i + 1 when cas_base. */
static void all_there(int fd, int n, int cas_base)
{
    for (int i = 0; i < n; i++) {
        char cmd[64], want[96], out[256];
        int len = snprintf(NULL, 0, "%d", i);
        snprintf(cmd, sizeof cmd, "%s g%d\r\n", cas_base ? "gets" : "get", i);
        if (cas_base)
            snprintf(want, sizeof want, "VALUE g%d 0 %d %d\r\n%d\r\nEND\r\n",
                     i, len, i + 1, i);
        else
            snprintf(want, sizeof want, "VALUE g%d 0 %d\r\n%d\r\nEND\r\n", i,
                     len, i);
        cr_assert_gt(mc_ask(fd, cmd, strlen(cmd), "END\r\n", out, sizeof out),
                     0);
        cr_assert_str_eq(out, want, "key g%d", i);
    }
}

static void check_consistent(void)
{
    char out[4096];
    const char *check[] = {HRCACHED_BIN, "--check", NULL};
    cr_assert_eq(mc_run(out, sizeof out, check), 0, "%s", out);
    cr_assert_not_null(strstr(out, ": consistent"), "%s", out);
}

Test(hrcached_grow, a_growth_cut_by_sigkill_keeps_every_key)
{
    pid_t pid = mc_startl(lfd, "-t", "2", NULL);
    int fd = mc_connect(port);
    cr_assert_eq(mc_stat(fd, "stats\r\n", "hash_buckets"), 1024);
    /* 1.5 items a bucket: 1024 -> 2048 at 1537, -> 4096 at 3073, whose
     * 2048 old chains take 512 sets to move */
    set_keys(fd, 0, 3200);
    cr_assert_eq(mc_stat(fd, "stats\r\n", "hash_buckets"), 4096);
    cr_assert_eq(mc_stat(fd, "stats\r\n", "hash_is_expanding"), 1);
    all_there(fd, 3200, 0);
    close(fd);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    cr_assert_eq(mc_stop(pid), 128 + SIGKILL);

    pid = mc_startl(lfd, "-t", "2", NULL);
    fd = mc_connect(port);
    cr_assert_eq(mc_stat(fd, "stats\r\n", "hash_is_expanding"), 1);
    all_there(fd, 3200, 0);
    set_keys(fd, 3200, 3800);                 /* the growth ends */
    cr_assert_eq(mc_stat(fd, "stats\r\n", "hash_is_expanding"), 0);
    cr_assert_eq(mc_stat(fd, "stats\r\n", "curr_items"), 3800);
    all_there(fd, 3800, 0);
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
    check_consistent();
}

/* Sets of keys from..from+n-1 in one send; the server killed at a random
 * moment; then the number of them acknowledged (the replies come in
 * order; one lost to the connection's reset is only not counted). */
static int cut_batch(int from, int n, unsigned *seed)
{
    static char buf[BATCH * 48];
    size_t len = 0;
    for (int i = from; i < from + n; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len,
                                "set g%d 0 0 %d\r\n%d\r\n", i,
                                snprintf(NULL, 0, "%d", i), i);
    pid_t pid = mc_startl(lfd, "-t", "2", NULL);
    int fd = mc_connect(port);
    /* accepted: the kill closes it (one left in the test's backlog would
     * go to the next server) */
    cr_assert_eq(strncmp(mc_line(fd, "version\r\n"), "VERSION ", 8), 0);
    cr_assert_eq(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
    pace_us((unsigned long)(rand_r(seed) % 4000)); /* the kill's moment */
    cr_assert_eq(kill(pid, SIGKILL), 0);
    cr_assert_eq(mc_stop(pid), 128 + SIGKILL);
    len = 0;
    for (ssize_t r; (r = recv(fd, buf + len, sizeof buf - 1 - len, 0)) > 0;)
        len += (size_t)r;
    buf[len] = 0;
    close(fd);
    int stored = 0;
    for (const char *p = buf; strncmp(p, "STORED\r\n", 8) == 0; p += 8)
        stored++;
    return stored;
}

Test(hrcached_grow, growths_cut_by_sigkills_keep_every_acknowledged_key)
{
    unsigned seed = (unsigned)test_seed("hrcached_grow: kill moments");
    int acked = 0, kills = 0;
    /* 1024 -> 2048 -> 4096 -> 8192 buckets, the last growth (at 6145
     * items, 1024 sets to move) under way at the end */
    while (acked < 6400) {
        acked += cut_batch(acked, BATCH, &seed);
        cr_assert_lt(++kills, 1000, "no progress: %d acknowledged", acked);
    }
    pid_t pid = mc_startl(lfd, "-t", "2", NULL);
    int fd = mc_connect(port);
    cr_assert_geq(mc_stat(fd, "stats\r\n", "hash_buckets"), 8192);
    all_there(fd, acked, 0);
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
    check_consistent();
}

/* ---- version 1, as hrcached 1 wrote it (item.h of that version) ---- */

struct v1_item {
    struct v1_item *hnext, *prev, *next;
    uint64_t cas;
    int64_t exptime, time;
    uint64_t hash;
    uint32_t flags, nbytes, nkey, bits;
    char data[];
};
_Static_assert(sizeof(struct v1_item) == 72, "version 1 item");

struct v1_root {
    uint64_t magic;
    uint32_t version, item_hdr;
    uint64_t mem_limit, nbuckets;
    struct v1_item **buckets, *head, *tail;
    uint64_t cas_next, items, bytes;
    int64_t oldest_live;
    uint64_t oldest_cas, starts, reserved[5];
};
_Static_assert(sizeof(struct v1_root) == 144, "version 1 root");

static uint64_t v1_hash(const char *k, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

/* A version 1 store of -m mib with keys g0..g<n-1>, cas i + 1: its heap
 * sized, and its table as large, as version 1 made them. */
static void write_v1(uint64_t mib, int n)
{
    uint64_t limit = mib << 20, nb = 1024;
    while (nb < limit / 256)
        nb <<= 1;
    uint64_t arena = limit + limit / 8 + nb * 8 + (1u << 20);
    uint64_t log = arena / 7 > (16u << 20) ? (16u << 20) : arena / 7;
    uint64_t size = (arena + log + (64u << 10) + 4095) & ~4095ull;
    pmm_bank *bank = bank_open();
    hr_heap *h;
    cr_assert_eq(hr_heap_open(&h, bank, "hrcached", size, "hrcached", 8, 0),
                 0);
    cr_assert_eq(hr_heap_begin(h), 0);
    struct v1_root *r;
    cr_assert_eq(hr_heap_alloc(h, sizeof *r, HR_HEAP_ZERO, (void **)&r), 0);
    *r = (struct v1_root){.version = 1, .item_hdr = sizeof(struct v1_item),
                          .mem_limit = limit, .nbuckets = nb,
                          .cas_next = 1};
    cr_assert_eq(hr_heap_alloc(h, nb * sizeof *r->buckets, HR_HEAP_ZERO,
                               (void **)&r->buckets), 0);
    for (int i = 0; i < n; i++) {
        char key[16], val[16];
        size_t nkey = (size_t)snprintf(key, sizeof key, "g%d", i);
        size_t nval = (size_t)snprintf(val, sizeof val, "%d", i);
        struct v1_item *it;
        cr_assert_eq(hr_heap_alloc(h, sizeof *it + nkey + nval, 0,
                                   (void **)&it), 0);
        uint64_t hv = v1_hash(key, nkey);
        struct v1_item **b = &r->buckets[hv & (nb - 1)];
        *it = (struct v1_item){.hnext = *b, .next = r->head,
                               .cas = r->cas_next++, .time = time(NULL),
                               .hash = hv, .nbytes = (uint32_t)nval,
                               .nkey = (uint32_t)nkey};
        memcpy(it->data, key, nkey);
        memcpy(it->data + nkey, val, nval);
        *(r->head ? &r->head->prev : &r->tail) = it;
        r->head = *b = it;
        size_t usable;
        cr_assert_eq(hr_heap_usable(h, it, &usable), 0);
        r->items++;
        r->bytes += usable;
    }
    r->magic = 0x3144454843414352ull;
    cr_assert_eq(hr_heap_set_root(h, r), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    hr_heap_close(h);
    pmm_bank_close(bank);
}

static uint32_t version_word(void)
{
    pmm_bank *bank;
    void *root;
    hr_heap *h = mc_heap_open(&bank, &root);
    uint32_t v = ((struct v1_root *)root)->version;
    mc_heap_close(h, bank);
    return v;
}

Test(hrcached_grow, a_version_1_store_is_migrated_and_serves_every_key)
{
    write_v1(64, 2000);
    check_consistent();                 /* a check migrates nothing */
    cr_assert_eq(version_word(), 1);

    pid_t pid = mc_startl(lfd, "-m", "64", NULL);
    int fd = mc_connect(port);
    cr_assert_eq(mc_stat(fd, "stats\r\n", "state_version"), 2);
    cr_assert_eq(mc_stat(fd, "stats\r\n", "items_recovered"), 2000);
    all_there(fd, 2000, 1);
    /* its whole table was made at once: it never grows */
    cr_assert_eq(mc_stat(fd, "stats\r\n", "hash_buckets"), 262144);
    set_keys(fd, 2000, 2100);
    cr_assert_eq(mc_stat(fd, "stats\r\n", "hash_is_expanding"), 0);
    all_there(fd, 2100, 0);
    close(fd);
    cr_assert_eq(mc_stop(pid), 0);
    cr_assert_eq(version_word(), 2);
    check_consistent();
}
