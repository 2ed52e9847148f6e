/* SPDX-License-Identifier: MIT */
/*
 * test_heap_disk.c - a heap on the DISK medium: the kill test of
 * test_heap_crash.c, and power cuts.
 *
 * A power cut is simulated from a record the heap writes under test
 * (HR_HEAP_FLUSHLOG, src/heap/sys.c): at every flush, each page of the
 * block that changed in memory since the last flush, then the range and
 * bytes of the flush; a marker after each commit returns.  The medium may
 * hold, of each page, its content at its last flush or any content memory
 * gave it since (the kernel writes dirty pages back when it likes), and a
 * page may be torn between them at sector (512 B) granularity.  At every
 * flush the power is cut three ways: only what was flushed; everything
 * memory held; and each sector from a random one of its page's versions.
 * Each image is written into the block, a new boot id is given (the lock
 * in the image belongs to the lost boot) and the heap is opened: it must
 * open clean, keep the invariants, and hold every transaction whose commit
 * had returned (the markers) and at most the one in flight.
 *
 * What it does not model: a write-back at an instant between two flushes
 * of a page's content that was changed again before the next flush (the
 * record sees memory only at flush instants).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/heap.h>

#include "common.h"
#include "heap/view.h"
#include "heap_work.h"
#include "os.h"

static char disk_path[256], rec_path[256];

/* The DISK bank's file lives in memory (/dev/shm): the medium, not the
 * file system, makes a heap durable (every commit flushed), so every DISK
 * code path runs; what a power cut leaves is rebuilt from the record, not
 * read back from a device; and the test's speed does not hang on the
 * disk's (the kills made 24 GB of msync writes on a slow virtual disk). */
static void setup(void)
{
    site_new_disk(disk_path, sizeof disk_path, "/dev/shm/hrheapdisk",
                  1 << 20, 8 << 20);
    snprintf(rec_path, sizeof rec_path, "/dev/shm/hrheapdisk.%d.rec",
             getpid());
}
static void teardown(void)
{
    disk_bank_drop(disk_path);
    unlink(rec_path);
    site_drop();
}
TestSuite(heap_disk, .init = setup, .fini = teardown);

Test(heap_disk, random_kills, .timeout = 600)
{
    long want = test_count("HR_HEAP_DISK_KILLS", 300);
    uint64_t rng = test_seed("heap_disk: random kills");
    pid_t w[3] = {0};
    hw_reopen_verify("DISK", "d", "start");
    hw_make_root("DISK", "d");
    for (long k = 0; k < want; k++) {
        int procs = 2 + (int)(k % 2);
        for (int i = 0; i < procs; i++)
            if (!w[i])
                w[i] = hw_spawn("DISK", "d", rng + (uint64_t)k * 31 + i, NULL, 0);
        test_rand(&rng);
        pace_us(rng % 20000); /* a kill's moment */
        int victim = (int)(rng % (uint64_t)procs);
        kill(w[victim], SIGKILL);
        cr_assert_eq(wait_status(w[victim]), 128 + SIGKILL);
        w[victim] = 0;
        hw_reopen_verify("DISK", "d", "kill");
    }
    for (int i = 0; i < 3; i++)
        if (w[i]) {
            kill(w[i], SIGKILL);
            wait_status(w[i]);
        }
    hr_heap *h;
    hr_heap_info st;
    cr_assert_eq(hw_open(&h, "DISK", "d", 1 << 20), 0);
    cr_assert_eq(hr_heap_stat(h, &st), 0);
    cr_assert_eq(st.durable, 1);
    fprintf(stderr, "heap_disk: %ld kills, %llu transactions\n", want,
            (unsigned long long)st.tx_count);
    cr_assert_gt(st.tx_count, 10u);
}

/* Flushes of a DISK heap, counted through the OS layer's tap (src/os). */
static long msyncs;
static void count_msync(int what, int fd, const void *buf, size_t len,
                        uint64_t off)
{
    (void)fd, (void)buf, (void)len, (void)off;
    msyncs += what == PMM_OS_T_MSYNC;
}

/* What a DISK transaction flushes: one msync per new undo record, before
 * the change it saves may reach the medium, and at commit one: the redo
 * records, the commit and every changed range and new object, in one
 * range however many.  (Frees are applied at commit: the undo records they
 * write are flushed one by one there too.) */
Test(heap_disk, flushes_of_a_commit_counted)
{
    hr_heap *h;
    cr_assert_eq(hw_open(&h, "DISK", "f", 1 << 20), 0);
    uint64_t *a, *b;
    cr_assert_eq(hr_heap_begin(h), 0);
    cr_assert_eq(hr_heap_alloc(h, 64, HR_HEAP_ZERO, (void **)&a), 0);
    cr_assert_eq(hr_heap_alloc(h, 64 << 10, HR_HEAP_ZERO, (void **)&b), 0);
    cr_assert_eq(hr_heap_alloc(h, 64, HR_HEAP_ZERO, (void **)&b), 0);
    cr_assert_eq(hr_heap_commit(h), 0);
    cr_assert_gt((uintptr_t)b - (uintptr_t)a, 64u << 10, "pages apart");
    pmm__os_tap = count_msync;
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(hr_heap_begin(h), 0);
        long before = msyncs;
        cr_assert_eq(hr_heap_set64(h, a, (uint64_t)i), 0);
        cr_assert_eq(hr_heap_set64(h, b, (uint64_t)i), 0);
        cr_assert_eq(hr_heap_set64(h, a, (uint64_t)i + 1), 0); /* saved */
        cr_assert_eq(msyncs - before, 2, "one flush per undo record");
        before = msyncs;
        cr_assert_eq(hr_heap_commit(h), 0);
        cr_assert_eq(msyncs - before, 1, "tx %d: %ld flushes at commit", i,
                     msyncs - before);
    }
    void *p[4];
    for (int i = 0; i < 40; i++) { /* new objects; half too big for redo */
        size_t step = i % 2 ? 3000 : 300;
        cr_assert_eq(hr_heap_begin(h), 0);
        for (int k = 0; k < 4; k++)
            cr_assert_eq(hr_heap_alloc(h, 100 + step * (size_t)k, 0, &p[k]),
                         0);
        long before = msyncs;
        cr_assert_eq(hr_heap_commit(h), 0);
        /* a redo too big for the lane's log (16 KiB in a 1 MiB heap): the
         * changed ranges flushed, then the commit */
        cr_assert_eq(msyncs - before, i % 2 ? 2 : 1,
                     "alloc tx %d: %ld flushes at commit", i, msyncs - before);
    }
    pmm__os_tap = NULL;
    cr_assert_eq(hr_heap_check(h, NULL, NULL), 0);
    hr_heap_close(h);
}

/* The lanes' sequences summed at each flush: a lane's sequence moves on
 * when its transaction ends, giving its locks back. */
static hr_heap *seq_heap;
static uint64_t seq_at_flush;
static uint64_t seq_sum(void)
{
    uint64_t s = 0;
    for (unsigned i = 0; i < seq_heap->nlanes; i++)
        s += __atomic_load_n(&hh_lane_at(seq_heap, i)->tx_seq,
                             __ATOMIC_ACQUIRE);
    return s;
}
static void note_seq(int what, int fd, const void *buf, size_t len,
                     uint64_t off)
{
    (void)fd, (void)buf, (void)len, (void)off;
    if (what == PMM_OS_T_MSYNC)
        seq_at_flush = seq_sum();
}

/* A DISK commit gives its locks back only once it is durable: its last
 * flush (the lane's header, the commit point) comes before its sequence
 * moves on.  Otherwise a transaction taking a lock at once could change
 * the committed bytes and flush its record of them while a power cut
 * could still roll the first back after it: half undone. */
Test(heap_disk, locks_given_back_once_the_commit_is_durable)
{
    uint64_t *a;
    cr_assert_eq(hw_open(&seq_heap, "DISK", "s", 1 << 20), 0);
    cr_assert_eq(hr_heap_begin(seq_heap), 0);
    cr_assert_eq(hr_heap_alloc(seq_heap, 64, HR_HEAP_ZERO, (void **)&a), 0);
    cr_assert_eq(hr_heap_commit(seq_heap), 0);
    pmm__os_tap = note_seq;
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(hr_heap_begin(seq_heap), 0);
        cr_assert_eq(hr_heap_set64(seq_heap, a, (uint64_t)i), 0);
        uint64_t before = seq_sum();
        int abort = i % 2;
        cr_assert_eq(abort ? hr_heap_abort(seq_heap)
                           : hr_heap_commit(seq_heap), 0);
        cr_assert_eq(seq_sum(), before + 1);
        cr_assert_eq(seq_at_flush, before, "%s %d: the locks were given "
                     "back before its last flush", abort ? "abort" : "commit",
                     i);
    }
    pmm__os_tap = NULL;
    hr_heap_close(seq_heap);
}

/* The block as memory held it after the last flush of a commit. */
static hr_heap *snap_heap;
static uint8_t *snap;
static void snapshot(int what, int fd, const void *buf, size_t len,
                     uint64_t off)
{
    (void)fd, (void)buf, (void)len, (void)off;
    if (what == PMM_OS_T_MSYNC)
        memcpy(snap, snap_heap->base, snap_heap->size);
}

/* Two logs left saying committed by a power cut, the later commit in the
 * lower lane: the commit A (lane a, x = 1) whose log stayed committed, and
 * the commit B (lane b < a, x = 2) whose flush was cut after B's lane's
 * page but before a's emptied header.  Rolled forward in lane order x
 * would be 1; in the order of the commits it is 2. */
static uint64_t *x_word;
static void *commit_a(void *arg) /* A thread: its own lane, above main's */
{
    hr_heap *h = arg;
    if (hr_heap_begin(h) || hr_heap_set64(h, x_word, 1) || hr_heap_commit(h))
        return h;
    return NULL;
}

Test(heap_disk, committed_logs_rolled_forward_in_commit_order)
{
    hr_heap *h1;
    uint64_t *x;
    cr_assert_eq(hw_open(&h1, "DISK", "o", 1 << 20), 0);
    cr_assert_eq(hr_heap_begin(h1), 0); /* this thread's token first */
    cr_assert_eq(hr_heap_alloc(h1, 64, HR_HEAP_ZERO, (void **)&x), 0);
    cr_assert_eq(hr_heap_commit(h1), 0);
    size_t size = h1->size;
    uint8_t *a_img = malloc(size), *b_img = malloc(size);
    snap_heap = h1;
    x_word = x;
    snap = a_img;
    pmm__os_tap = snapshot;
    pthread_t th;
    void *failed;
    cr_assert_eq(pthread_create(&th, NULL, commit_a, h1), 0);
    cr_assert_eq(pthread_join(th, &failed), 0);
    cr_assert_null(failed, "commit A");
    snap = b_img;
    cr_assert_eq(hr_heap_begin(h1), 0);
    cr_assert_eq(hr_heap_set64(h1, x, 2), 0);
    cr_assert_eq(hr_heap_commit(h1), 0);
    pmm__os_tap = NULL;
    unsigned a = UINT32_MAX, b = UINT32_MAX;
    for (unsigned i = 0; i < h1->nlanes; i++) {
        const struct hh_lane *la = (const struct hh_lane *)
            (a_img + h1->hdr->lanes_off + i * h1->hdr->lane_size);
        const struct hh_lane *lb = (const struct hh_lane *)
            (b_img + h1->hdr->lanes_off + i * h1->hdr->lane_size);
        if (la->log_state != hh_log_state(0))
            a = i;
        if (lb->log_state != hh_log_state(0))
            b = i;
    }
    cr_assert(b < a && a < h1->nlanes, "lanes: B %u, A %u", b, a);
    /* B's image, with A's lane as A's flush left it */
    uint64_t at = h1->hdr->lanes_off + a * h1->hdr->lane_size;
    memcpy(b_img + at, a_img + at, h1->hdr->lane_size);
    uint8_t *base = h1->base;
    hr_heap_close(h1);
    memcpy(base, b_img, size);
    setenv("HR_HEAP_BOOT_ID", "after-the-cut", 1);
    cr_assert_eq(hw_open(&h1, "DISK", "o", 1 << 20), 0);
    cr_assert_eq(*x, 2, "the later commit lost: x is %llu",
                 (unsigned long long)*x);
    cr_assert_eq(hr_heap_check(h1, NULL, NULL), 0);
    hr_heap_close(h1);
    free(a_img);
    free(b_img);
}

/* The medium as the flushes left it: at each msync, the flushed range as
 * memory holds it (a page the kernel never wrote back keeps its last
 * flushed bytes). */
static uint8_t *medium;
static long medium_msyncs;
static void to_medium(int what, int fd, const void *buf, size_t len,
                      uint64_t off)
{
    (void)fd, (void)off;
    if (what != PMM_OS_T_MSYNC)
        return;
    medium_msyncs++;
    memcpy(medium + ((const uint8_t *)buf - snap_heap->base), buf, len);
}

/* A one-flush commit A (its own lane) leaves its log saying committed on
 * the medium, emptied in memory only; then B, in another lane, changes the
 * same bytes in a transaction whose redo does not fit its log: the
 * two-flush commit.  B returned, so B is durable: after a power cut that
 * keeps only what was flushed, A's log must not be rolled forward over
 * B's bytes.  Before, B's flushes wrote the changed ranges and B's own
 * header, never A's, and the cut gave x = 1 under B's other bytes. */
static uint8_t *big_obj;

Test(heap_disk, a_two_flush_commit_is_not_undone_by_an_older_commits_log)
{
    hr_heap *h1;
    static uint8_t big[10000];
    cr_assert_eq(hw_open(&h1, "DISK", "t", 1 << 20), 0);
    cr_assert_eq(hr_heap_begin(h1), 0); /* this thread's token first */
    cr_assert_eq(hr_heap_alloc(h1, sizeof big, HR_HEAP_ZERO, (void **)&big_obj), 0);
    cr_assert_eq(hr_heap_commit(h1), 0);
    size_t size = h1->size;
    cr_assert_eq(msync(h1->base, size, MS_SYNC), 0); /* the medium: all of it */
    medium = malloc(size);
    cr_assert_not_null(medium);
    memcpy(medium, h1->base, size);
    snap_heap = h1;
    pmm__os_tap = to_medium;
    x_word = (uint64_t *)big_obj; /* A: its first word, x = 1 */
    pthread_t th;
    void *failed;
    cr_assert_eq(pthread_create(&th, NULL, commit_a, h1), 0);
    cr_assert_eq(pthread_join(th, &failed), 0);
    cr_assert_null(failed, "commit A");
    unsigned a = UINT32_MAX;
    for (unsigned i = 0; i < h1->nlanes; i++) {
        const struct hh_lane *l = (const struct hh_lane *)
            (medium + h1->hdr->lanes_off + i * h1->hdr->lane_size);
        if (l->log_state != hh_log_state(0))
            a = i;
    }
    cr_assert(a < h1->nlanes, "A's log says committed on the medium");
    memset(big, 0x22, sizeof big);
    memcpy(big, &(uint64_t){2}, 8);
    cr_assert_eq(hr_heap_begin(h1), 0);
    const struct hh_lane *la = (const struct hh_lane *)
        (h1->base + h1->hdr->lanes_off + a * h1->hdr->lane_size);
    cr_assert_eq(la->owner, 0, "B runs in another lane than A");
    cr_assert_eq(hr_heap_write(h1, big_obj, big, sizeof big), 0);
    medium_msyncs = 0;
    cr_assert_eq(hr_heap_commit(h1), 0);
    pmm__os_tap = NULL;
    cr_assert_eq(medium_msyncs, 2, "B took the two-flush way (%ld flushes)",
                 medium_msyncs);
    uint8_t *base = h1->base, *obj = big_obj;
    hr_heap_close(h1);
    memcpy(base, medium, size); /* the power cut */
    setenv("HR_HEAP_BOOT_ID", "after-the-two-flush-cut", 1);
    cr_assert_eq(hw_open(&h1, "DISK", "t", 1 << 20), 0);
    uint64_t x;
    memcpy(&x, obj, 8);
    cr_assert_eq(x, 2, "B's committed write undone: x is %llu",
                 (unsigned long long)x);
    cr_assert_eq(memcmp(obj, big, sizeof big), 0, "B's bytes whole");
    cr_assert_eq(hr_heap_check(h1, NULL, NULL), 0);
    hr_heap_close(h1);
    free(medium);
}

/* A record of HR_HEAP_FLUSHLOG (src/heap/sys.c). */
#define REC_COMMIT UINT64_MAX
#define REC_PAGE (1ull << 63)
#define PAGE 4096u
#define SECTOR 512u

struct rec {
    uint64_t off, len;
    const uint8_t *bytes;  /* NULL for a commit marker */
};

static struct rec *read_records(size_t *n, uint8_t **buf)
{
    FILE *f = fopen(rec_path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc((size_t)size);
    cr_assert_eq(fread(*buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    struct rec *r = NULL;
    size_t cap = 0;
    *n = 0;
    for (long pos = 0; pos < size;) {
        if (*n == cap)
            r = realloc(r, (cap = cap ? cap * 2 : 256) * sizeof *r);
        uint64_t head[2];
        memcpy(head, *buf + pos, sizeof head);
        pos += (long)sizeof head;
        r[*n] = (struct rec){head[0], head[1], NULL};
        if (head[0] != REC_COMMIT) {
            r[*n].bytes = *buf + pos;
            pos += (long)head[1];
        }
        (*n)++;
    }
    return r;
}

/* Open the block's current image after a "reboot" and check it holds the
 * invariants and every transaction whose commit returned (markers), and at
 * most the one in flight. */
static void open_image(int image, uint64_t markers)
{
    char boot[32], after[64];
    snprintf(boot, sizeof boot, "power-cut-%d", image);
    setenv("HR_HEAP_BOOT_ID", boot, 1);
    snprintf(after, sizeof after, "power cut image %d", image);
    hw_reopen_verify("DISK", "p", after);
    hr_heap *h;
    cr_assert_eq(hw_open(&h, "DISK", "p", hw_heap_size), 0);
    struct hw_root *root;
    hr_heap_root(h, (void **)&root);
    if (markers == 0) {
        cr_assert(!root || root->mine[0].n + root->mine[1].n == 0,
                  "%s: a tx appeared", after);
    } else {
        cr_assert_not_null(root, "%s: the committed root is lost", after);
        /* workers 0 and 1 count every commit after the root's own; each
         * may have one in flight, durable before its commit returned */
        uint64_t n = root->mine[0].n + root->mine[1].n;
        cr_assert(n + 1 >= markers && n <= markers + 1,
                  "%s: %llu commits returned, heap holds %llu", after,
                  (unsigned long long)markers,
                  (unsigned long long)n + 1);
    }
    hr_heap_close(h);
}

/* What the medium may hold of each page: its content at its last flush
 * (version 0), then every content memory gave it since, any of which the
 * kernel may have written back on its own. */
struct page_versions {
    const uint8_t **v;
    size_t n, cap;
};

static void add_version(struct page_versions *p, const uint8_t *bytes, int reset)
{
    if (reset)
        p->n = 0;
    if (p->n == p->cap)
        p->v = realloc(p->v, (p->cap = p->cap ? p->cap * 2 : 8) * sizeof *p->v);
    p->v[p->n++] = bytes;
}

enum pick { OLDEST, NEWEST, ANY_SECTOR };

static void build(uint8_t *img, struct page_versions *pv, size_t npages,
                  enum pick how, uint64_t *rng)
{
    for (size_t p = 0; p < npages; p++)
        for (unsigned s = 0; s < PAGE; s += SECTOR) {
            size_t k = how == OLDEST ? 0 : how == NEWEST ? pv[p].n - 1 : 0;
            if (how == ANY_SECTOR) {
                *rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
                k = *rng % pv[p].n;
            }
            memcpy(img + p * PAGE + s, pv[p].v[k] + s, SECTOR);
        }
}

Test(heap_disk, power_cut_at_every_flush, .timeout = 600)
{
    /* HR_HEAP_POWERCUT_IMAGES: at least that many images (a transaction
     * of the two committers gives some 45); HR_HEAP_POWERCUT_TX: so many
     * transactions */
    long want = test_count("HR_HEAP_POWERCUT_IMAGES", 0);
    long ntx = test_count("HR_HEAP_POWERCUT_TX", want ? want / 30 + 1 : 25);
    hw_heap_size = 128 << 10;
    unlink(rec_path);
    setenv("HR_HEAP_FLUSHLOG", rec_path, 1);
    pid_t pid = hw_spawn_threads("DISK", "p", 4242, NULL, ntx, 0, 2);
    cr_assert_eq(wait_status(pid), 0);
    unsetenv("HR_HEAP_FLUSHLOG");

    size_t n;
    uint8_t *buf;
    struct rec *r = read_records(&n, &buf);
    void *addr;
    pmm_bank *bank;
    pmm_block blk;
    cr_assert_eq(pmm_bank_open(&bank, NULL, "DISK", 0), 0);
    cr_assert_eq(pmm_alloc(bank, "p", 1, "hw", 2, PMM_RETRIEVE, &addr, &blk),
                 0);
    size_t npages = blk.size / PAGE;
    static const uint8_t zero[PAGE];
    struct page_versions *pv = calloc(npages, sizeof *pv);
    for (size_t p = 0; p < npages; p++)
        add_version(&pv[p], zero, 1); /* a new block reads as zeros */
    uint64_t markers = 0, rng = 99;
    int images = 0, flushes = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && r[i].off == REC_COMMIT) {
            markers++;
            continue;
        }
        if (i < n && (r[i].off & REC_PAGE)) { /* memory's page now */
            uint64_t off = r[i].off & ~REC_PAGE;
            cr_assert(off % PAGE == 0 && off < blk.size && r[i].len == PAGE);
            add_version(&pv[off / PAGE], r[i].bytes, 0);
            continue;
        }
        /* a flush begins (or the run is over): cut the power now */
        for (int how = OLDEST; how <= ANY_SECTOR; how++) {
            build(addr, pv, npages, (enum pick)how, &rng);
            open_image(images++, markers);
        }
        if (i == n)
            break;
        flushes++;
        cr_assert(r[i].off % PAGE == 0 && r[i].off + r[i].len <= blk.size);
        for (uint64_t off = 0; off < r[i].len; off += PAGE)
            add_version(&pv[(r[i].off + off) / PAGE], r[i].bytes + off, 1);
    }
    fprintf(stderr, "heap_disk: %d flushes, %llu commits, %d images opened\n",
            flushes, (unsigned long long)markers, images);
    cr_assert_gt(markers, (uint64_t)ntx / 2);
    cr_assert_geq(images, want, "fewer images than HR_HEAP_POWERCUT_IMAGES");
    for (size_t p = 0; p < npages; p++)
        free(pv[p].v);
    free(pv);
    free(r);
    free(buf);
}

/* The named crash points on a DISK heap too, and hr heap on it. */
Test(heap_disk, crash_points_and_the_tool, .timeout = 300)
{
    static const char *const points[] = {
        "heap.log-entry:3", "heap.log-entry:40", "heap.commit-frees:2",
        "heap.commit-redo:3", "heap.commit-flushed:5", "heap.log-closed:4",
        "heap.committed:6",
        "heap.rollback:1", "heap.rollback-done:1",
    };
    for (size_t i = 0; i < sizeof points / sizeof *points; i++) {
        pid_t pid = hw_spawn("DISK", "c", 300 + i, points[i], 20000);
        int st = wait_status(pid);
        cr_assert_eq(st, 128 + SIGKILL, "%s not reached (%d)", points[i], st);
        hw_reopen_verify("DISK", "c", points[i]);
    }
    char out[2048];
    cr_assert_eq(run_hr(out, sizeof out, "heap", "check", "c", "--medium",
                        "DISK", NULL), 0);
    cr_assert_eq(run_hr(out, sizeof out, "heap", "stat", "--medium=DISK", "c",
                        "--json", NULL), 0);
    cr_assert(strstr(out, "\"durable\": true"), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "heap", "stat", "c", NULL), 1,
                 "no heap c on RAM");
}
