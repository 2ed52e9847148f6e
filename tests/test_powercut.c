/* SPDX-License-Identifier: MIT */
/*
 * test_powercut.c - power cuts on the DISK medium, replayed.
 *
 * A workload of allocations and frees runs on a DISK bank while the OS
 * layer's tap (src/os/os.h) records every write, punch, change of length
 * and flush that reaches the bank file.  Then every crash image that a power cut could
 * leave is rebuilt from the record: all that was written before a flush is
 * on the disk; of the writes since, cut into 512-byte sectors, any subset
 * in any order is (none, all, each one alone, all but each one, and random
 * subsets in random orders).  Every image must open, check clean before and
 * after the recovery that opening runs, and hold every block whose
 * allocation returned before the flush (and not hold those whose free
 * returned), unless a later call on the same name had begun.  The workload
 * writes no block contents, so an image is the metadata (what is written
 * below data_off) and the file's length (a change of length is one more
 * unit that a cut may keep or lose); the block space past the metadata is
 * a hole in every image, and punches in it change nothing.
 *
 * HR_POWERCUT_IMAGES sets how many images at least (default 50000); the
 * count is printed.  HR_TEST_SEED replays a run (the seed is printed).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "os.h"
#include "pmm/bank.h"
#include "pmm/create.h"
#include "pmm/view.h"

enum { NAMES = 12, OPS = 400, SECTOR = 512 };
enum { T_START = 10, T_DONE = 11 }; /* the workload's own marks */

struct rec {
    int what;       /* PMM_OS_T_* or T_* */
    uint64_t off;   /* WRITE, PUNCH: where */
    size_t len;
    uint8_t *data;  /* WRITE: a copy */
    int name;       /* T_*: which name; T_DONE: live after the call */
    int live;
};

static struct rec *log_;
static size_t nlog, caplog;
static int tapped_fd = -1;
static char dir[64], bank[128], img[128];

static struct rec *add(int what)
{
    if (nlog == caplog) {
        caplog = caplog ? caplog * 2 : 1024;
        log_ = realloc(log_, caplog * sizeof *log_);
        cr_assert_not_null(log_);
    }
    memset(&log_[nlog], 0, sizeof *log_);
    log_[nlog].what = what;
    return &log_[nlog++];
}

static void on_io(int what, int fd, const void *buf, size_t len, uint64_t off)
{
    if (fd != tapped_fd)
        return;
    struct rec *r = add(what);
    r->off = off;
    r->len = len;
    if (what == PMM_OS_T_WRITE) {
        r->data = malloc(len);
        cr_assert_not_null(r->data);
        memcpy(r->data, buf, len);
    }
}

static void mark(int what, int name, int live)
{
    struct rec *r = add(what);
    r->name = name;
    r->live = live;
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/dev/shm/hrpc.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(bank, sizeof bank, "%s/disk.bank", dir);
    snprintf(img, sizeof img, "%s/image.bank", dir);
}
static void teardown(void)
{
    pmm__os_tap = NULL;
    unlink(bank);
    unlink(img);
    rmdir(dir);
}
TestSuite(powercut, .init = setup, .fini = teardown);

/* Allocate or free names at random on the DISK bank, recording. */
static void workload(unsigned *seed)
{
    pmm_bank *b;
    cr_assert_eq(pmm__bank_open_path(&b, bank, "DISK", 0), 0);
    int live[NAMES] = {0};
    tapped_fd = b->fd;
    pmm__os_tap = on_io;
    for (int k = 0; k < OPS; k++) {
        int n = rand_r(seed) % NAMES, r;
        char name[16];
        snprintf(name, sizeof name, "n%d", n);
        mark(T_START, n, 0);
        if (live[n]) {
            r = pmm_free(b, name);
            cr_assert_eq(r, 0, "free %s: %s", name, pmm_strerror(r));
            live[n] = 0;
        } else {
            void *p;
            size_t size = 4096 * (1 + (size_t)(rand_r(seed) % 4));
            r = pmm_alloc(b, name, size, "P", 2, 0, &p, NULL);
            cr_assert(r == 0 || r == K_ENOMEM, "alloc %s: %s", name,
                      pmm_strerror(r));
            live[n] = r == 0;
        }
        mark(T_DONE, n, live[n]);
    }
    pmm__os_tap = NULL;
    pmm_bank_close(b);
}

/* A sector-sized piece of a recorded write of the metadata, a punch in
 * it, or a new length of the file (len 0, the length in off). */
struct unit { uint64_t off; size_t len; const uint8_t *data; };

static size_t meta; /* the metadata's length: data_off */

static size_t units_of(size_t from, size_t to, struct unit *u, size_t cap)
{
    size_t n = 0;
    for (size_t i = from; i < to; i++) {
        const struct rec *r = &log_[i];
        if (r->what == PMM_OS_T_SIZE) {
            cr_assert_lt(n, cap);
            u[n++] = (struct unit){r->off, 0, NULL};
        } else if (r->what == PMM_OS_T_PUNCH && r->off < meta) {
            cr_assert_lt(n, cap);
            u[n++] = (struct unit){r->off, r->len, NULL};
        } else if (r->what == PMM_OS_T_WRITE) {
            cr_assert_leq(r->off + r->len, meta, "the workload writes no block");
            for (uint64_t o = r->off; o < r->off + r->len;) {
                uint64_t end = (o / SECTOR + 1) * SECTOR;
                if (end > r->off + r->len)
                    end = r->off + r->len;
                cr_assert_lt(n, cap);
                u[n++] = (struct unit){o, end - o, r->data + (o - r->off)};
                o = end;
            }
        }
    }
    return n;
}

/* One unit on an image: the metadata, and the file's length in *len. */
static void put(uint8_t *image, uint64_t *len, const struct unit *u)
{
    if (u->len == 0)
        *len = u->off > *len ? u->off : *len; /* it only grows */
    else if (u->data)
        memcpy(image + u->off, u->data, u->len);
    else
        memset(image + u->off, 0, u->len);
}

/* The checker's last message, for the failure's text. */
static char said[256];
static void say(const char *msg, void *arg)
{
    (void)arg;
    snprintf(said, sizeof said, "%s", msg);
}

/* Write the image, check it, open it (which recovers), look for the names
 * whose state is known (-1: unknown), check it again. */
static void try_image(const uint8_t *image, uint64_t len, const int *want,
                      const char *what)
{
    int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pwrite(fd, image, meta, 0), (ssize_t)meta);
    cr_assert_eq(ftruncate(fd, (off_t)len), 0);
    close(fd);
    cr_assert_eq(pmm_check(img, 0, say, NULL), 0, "%s: check: %s", what, said);
    pmm_bank *b;
    int r = pmm__bank_open_path(&b, img, "DISK", 0);
    cr_assert_eq(r, 0, "%s: open: %s", what, pmm_strerror(r));
    for (int n = 0; n < NAMES; n++) {
        if (want[n] < 0)
            continue;
        char name[16];
        pmm_block blk;
        snprintf(name, sizeof name, "n%d", n);
        r = pmm_stat(b, name, &blk);
        cr_assert_eq(r, want[n] ? 0 : K_EUNKNOWN, "%s: %s is %s, found %s",
                     what, name, want[n] ? "live" : "freed", pmm_strerror(r));
    }
    pmm_bank_close(b);
    cr_assert_eq(pmm_check(img, 0, say, NULL), 0, "%s: recovered: %s", what,
                 said);
}

/* What each name must be in a crash after the flush at log_[sync] and
 * before the next flush at log_[next]: the result of its last call that
 * returned before the flush, if no call on it was under way since. */
static void known(size_t sync, size_t next, int *want)
{
    for (int n = 0; n < NAMES; n++)
        want[n] = 0;
    for (size_t i = 0; i < next; i++) {
        const struct rec *r = &log_[i];
        if (r->what == T_START)
            want[r->name] = -1;
        else if (r->what == T_DONE && i < sync)
            want[r->name] = r->live;
    }
}

static void shuffle(struct unit *u, size_t n, unsigned *seed)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rand_r(seed) % i;
        struct unit t = u[i - 1];
        u[i - 1] = u[j];
        u[j] = t;
    }
}

Test(powercut, every_crash_image_of_a_disk_workload_recovers, .timeout = 600)
{
    long target = test_count("HR_POWERCUT_IMAGES", 50000);
    unsigned seed = (unsigned)test_seed("powercut");
    cr_assert_eq(pmm__bank_create_file(bank, PMM_KIND_DISK, 48 * 4096, 16, PMM_HUGE_OFF, NULL), 0);
    uint64_t durable_len, len;
    uint8_t *durable = NULL, *image;
    {
        FILE *f = fopen(bank, "rb");
        cr_assert_not_null(f);
        fseek(f, 0, SEEK_END);
        durable_len = meta = (size_t)ftell(f); /* a new bank: metadata only */
        rewind(f);
        durable = malloc(meta);
        image = malloc(meta);
        cr_assert(durable && image);
        cr_assert_eq(fread(durable, 1, meta, f), meta);
        fclose(f);
    }
    workload(&seed);
    size_t syncs = 0;
    for (size_t i = 0; i < nlog; i++)
        syncs += log_[i].what == PMM_OS_T_SYNC;
    cr_assert_gt(syncs, 0, "the workload flushed");
    long per_window = target / (long)(syncs + 1) + 1, images = 0;
    enum { CAP = 4096 };
    static struct unit u[CAP], pick[CAP];
    int want[NAMES];
    char what[128];
    /* window w: after flush w (w = 0: the bank as made) */
    for (size_t w = 0, from = 0; from <= nlog; w++) {
        size_t to = from;
        while (to < nlog && log_[to].what != PMM_OS_T_SYNC)
            to++;
        size_t nu = units_of(from, to, u, CAP);
        known(from, to, want);
        for (long k = 0; k < per_window || k < 2 + 2 * (long)nu; k++) {
            size_t np = 0;
            if (k == 1)          /* all, in order */
                for (size_t i = 0; i < nu; i++)
                    pick[np++] = u[i];
            else if (k >= 2 && k < 2 + (long)nu) /* one alone */
                pick[np++] = u[k - 2];
            else if (k >= 2 + (long)nu && k < 2 + 2 * (long)nu) /* all but one */
                for (size_t i = 0; i < nu; i++)
                    if (i != (size_t)(k - 2 - (long)nu))
                        pick[np++] = u[i];
            if (k >= 2 + 2 * (long)nu) { /* a random subset, shuffled */
                for (size_t i = 0; i < nu; i++)
                    if (rand_r(&seed) & 1)
                        pick[np++] = u[i];
                shuffle(pick, np, &seed);
            }
            memcpy(image, durable, meta);
            len = durable_len;
            for (size_t i = 0; i < np; i++)
                put(image, &len, &pick[i]);
            snprintf(what, sizeof what, "flush %zu, image %ld (%zu of %zu sectors)",
                     w, k, np, nu);
            try_image(image, len, want, what);
            images++;
        }
        for (size_t i = 0; i < nu; i++) /* the next flush makes all durable */
            put(durable, &durable_len, &u[i]);
        from = to + 1;
    }
    fprintf(stderr, "power-cut replay: %ld crash images from %zu flushes of %d "
            "calls, all clean\n", images, syncs, OPS);
    free(durable);
    free(image);
    cr_assert_geq(images, target);
}
