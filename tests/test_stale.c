/* SPDX-License-Identifier: MIT */
/*
 * test_stale.c - a mapping kept after its block was freed (issue 17, item
 * 9), and the file pages that keep it away from newer blocks (format 3):
 * the checker sees a shared or misplaced file page, repair mends it, and a
 * bank of the older format is refused with its reason.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "pmm/hash.h"
#include "pmm/layout.h"
#include "pmm/update.h"

/* NP pages hold PMM_DEAD_BATCH bytes: a block of NP pages is punched when
 * freed (smaller ones a batch at a time, tested below). */
enum { PG = 4096, NP = PMM_DEAD_BATCH / PG };

/* NP + 1 data pages: a block of NP and its guard page fill the bank, so
 * the next block of NP can only take the same addresses. */
static void setup(void) { site_new((NP + 1) * PG, 8); }
static void teardown(void) { site_drop(); }
TestSuite(stale, .init = setup, .fini = teardown);

static void sync_read(int fd)
{
    char c;
    cr_assert_eq(read(fd, &c, 1), 1);
}

static void sync_write(int fd)
{
    cr_assert_eq(write(fd, "x", 1), 1);
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 7 % 251 + 1); /* never 0 */
}

/* The stale holder: map "old", wait while it is freed and "new" made at its
 * addresses, then read and write through the stale mapping.  Exit codes
 * say what it saw. */
static void holder(int ready, int go)
{
    pmm_bank *b;
    void *p;
    if (pmm_bank_open(&b, NULL, "RAM", 0) != 0 ||
        pmm_alloc(b, "old", NP * PG, "K", 2, PMM_RETRIEVE, &p, NULL) != 0)
        _exit(1);
    unsigned char *c = p;
    if (c[0] != 'o')
        _exit(2);
    char t;
    if (write(ready, "x", 1) != 1 || read(go, &t, 1) != 1)
        _exit(3);
    int saw = 0;
    for (size_t i = 0; i < NP * PG && !saw; i++) {
        if (c[i] == pattern(i))
            saw = 4; /* it reads the newer block */
        else if (c[i] != 0)
            saw = 6; /* the freed block's pages read as zeros */
    }
    for (size_t i = 0; i < NP * PG / sizeof(int); i++)
        ((int *)p)[i] = 777;
    for (size_t i = 0; i < NP * PG / sizeof(int) && !saw; i++)
        if (((int *)p)[i] != 777)
            saw = 5;
    _exit(saw);
}

Test(stale, a_stale_mapping_never_reaches_a_newer_block_at_its_address)
{
    pmm_bank *b = bank_open();
    void *old, *fresh;
    pmm_block blk;
    cr_assert_eq(pmm_alloc(b, "old", NP * PG, "K", 2, PMM_NOMAP, NULL, &blk), 0);
    old = blk.addr;
    int up[2], down[2];
    cr_assert_eq(pipe(up), 0);
    cr_assert_eq(pipe(down), 0);
    {   /* its contents, written through a mapping dropped again */
        void *p;
        cr_assert_eq(pmm_alloc(b, "old", NP * PG, "K", 2, PMM_RETRIEVE, &p, NULL), 0);
        memset(p, 'o', NP * PG);
        pmm_bank_close(b);
        b = bank_open();
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        holder(up[1], down[0]);
    }
    close(up[1]);
    close(down[0]);
    sync_read(up[0]); /* the holder maps "old" */
    cr_assert_eq(pmm_free(b, "old"), 0);
    cr_assert_eq(pmm_alloc(b, "new", NP * PG, "K", 2, 0, &fresh, NULL), 0);
    cr_assert_eq(fresh, old, "the newer block has the freed one's address");
    unsigned char *c = fresh;
    for (size_t i = 0; i < NP * PG; i++)
        c[i] = pattern(i);
    sync_write(down[1]);
    int st = wait_status(pid);
    for (size_t i = 0; i < NP * PG; i++)
        cr_assert_eq(c[i], pattern(i), "byte %zu of the newer block changed "
                     "(to %d): the stale holder wrote it", i, c[i]);
    cr_assert_neq(st, 4, "the stale holder read the newer block");
    cr_assert_eq(st, 0, "the stale holder: status %d", st);
    cr_assert_eq(check_bank(), 0);
    pmm_bank_close(b);
}

/* Free gives the block's memory back: the file holds fewer pages after. */
Test(stale, free_returns_the_memory_of_a_block_written_whole)
{
    pmm_bank *b = bank_open();
    void *p;
    struct stat before, after;
    cr_assert_eq(pmm_alloc(b, "big", NP * PG, "K", 2, 0, &p, NULL), 0);
    memset(p, 1, NP * PG);
    cr_assert_eq(stat(site_bank(), &before), 0);
    cr_assert_eq(pmm_free(b, "big"), 0);
    cr_assert_eq(stat(site_bank(), &after), 0);
    cr_assert_geq((before.st_blocks - after.st_blocks) * 512, NP * PG,
                  "%lld -> %lld blocks", (long long)before.st_blocks,
                  (long long)after.st_blocks);
    pmm_bank_close(b);
}

/* Is [off, off + len) of the bank file a hole (punched, or never
 * written)? */
static int hole(uint64_t off, uint64_t len)
{
    int fd = open(site_bank(), O_RDONLY);
    cr_assert_geq(fd, 0);
    off_t d = lseek(fd, (off_t)off, SEEK_DATA);
    close(fd);
    return d < 0 || (uint64_t)d >= off + len;
}

static void live(int write_it, struct pmm_live *l);

static uint64_t bank_data_off(void)
{
    struct pmm_geom g;
    int fd = open(site_bank(), O_RDONLY);
    cr_assert_eq(pread(fd, &g, sizeof g, 0), (ssize_t)sizeof g);
    close(fd);
    return g.data_off;
}

/* Blocks smaller than PMM_DEAD_BATCH are punched together: each freed one
 * joins the live record's dead run, and the run is punched whole when it
 * reaches the batch; until then its pages hold what was written there. */
Test(stale, small_blocks_are_punched_a_batch_at_a_time)
{
    pmm_bank *b = bank_open();
    struct pmm_live l;
    pmm_block blk;
    void *p;
    uint64_t first = 0;
    for (int i = 0; i < NP; i++) {
        cr_assert_eq(pmm_alloc(b, "s", PG, "K", 2, 0, &p, &blk), 0);
        memset(p, 's', PG);
        cr_assert_eq(pmm_free(b, "s"), 0);
        pmm__live_now(b, &l); /* the free's log may stay, done (update.c) */
        if (i == 0)
            first = l.dead;
        if (i < NP - 1) {
            cr_assert_eq(l.ndead, (uint64_t)i + 1, "free %d: the run holds it", i);
            cr_assert_not(hole(bank_data_off() + first * PG, l.ndead * PG),
                          "free %d: punched before the batch is whole", i);
        } else {
            cr_assert_eq(l.ndead, 0, "the batch is whole: the run is emptied");
            cr_assert(hole(bank_data_off() + first * PG, NP * PG),
                      "the whole batch is punched");
        }
    }
    pmm_bank_close(b);
    cr_assert_eq(check_bank(), 0);
}

/* A process killed in the free that completes a batch, after its commit
 * and before its punch: whoever takes the lock next redoes the free and
 * punches the whole run, as the dead one would have. */
Test(stale, a_batch_punch_cut_by_a_kill_is_redone_whole)
{
    pmm_bank *b = bank_open();
    struct pmm_live l;
    void *p;
    for (int i = 0; i < NP - 1; i++) {
        cr_assert_eq(pmm_alloc(b, "s", PG, "K", 2, 0, &p, NULL), 0);
        memset(p, 's', PG);
        cr_assert_eq(pmm_free(b, "s"), 0);
    }
    cr_assert_eq(pmm_alloc(b, "s", PG, "K", 2, 0, &p, NULL), 0);
    memset(p, 's', PG);
    pmm__live_now(b, &l);
    uint64_t first = l.dead;
    pmm_bank_close(b);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("HR_CRASHPOINT", "free.bitmap", 1);
        if (pmm_bank_open(&b, NULL, "RAM", 0) == 0)
            pmm_free(b, "s");
        _exit(1);
    }
    cr_assert_eq(wait_status(pid), 128 + SIGKILL, "killed at free.bitmap");
    cr_assert_not(hole(bank_data_off() + first * PG, NP * PG), "not punched yet");
    b = bank_open();
    cr_assert_eq(pmm_alloc(b, "t", PG, "K", 2, 0, &p, NULL), 0); /* redoes */
    pmm__live_now(b, &l);
    cr_assert_eq(l.ndead, 0);
    cr_assert(hole(bank_data_off() + first * PG, NP * PG), "the redo punched the run");
    pmm_bank_close(b);
    cr_assert_eq(check_bank(), 0);
}

/* The file pages run out where the file system's largest file ends (ext4:
 * 16 TiB); a file-size limit stands in for it here.  Allocation answers
 * K_ENOMEM there, leaves nothing allocated and the bank consistent. */
Test(stale, at_the_largest_file_allocation_answers_enomem)
{
    pmm_bank *b = bank_open();
    pmm_bank_close(b);
    struct stat st;
    cr_assert_eq(stat(site_bank(), &st), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit lim = {(rlim_t)st.st_size + 8 * PG, (rlim_t)st.st_size + 8 * PG};
        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0 ||
            pmm_bank_open(&b, NULL, "RAM", 0) != 0)
            _exit(1);
        for (int i = 0; i < 100; i++) {
            void *p;
            int r = pmm_alloc(b, "x", PG, "K", 2, 0, &p, NULL);
            if (r == K_ENOMEM)
                _exit(i == 8 ? 0 : 2); /* eight pages: eight blocks */
            if (r != 0 || pmm_free(b, "x") != 0)
                _exit(3);
        }
        _exit(4);
    }
    cr_assert_eq(wait_status(pid), 0, "K_ENOMEM at the ninth block");
    cr_assert_eq(check_bank(), 0);
    b = bank_open();
    pmm_block blk;
    cr_assert_eq(pmm_stat(b, "x", &blk), K_EUNKNOWN, "nothing left allocated");
    pmm_bank_close(b);
}

/* ---- the checker and the repair ---- */

static struct pmm_geom geom;
static char said[4096];

static void hear(const char *msg, void *arg)
{
    (void)arg;
    size_t n = strlen(said);
    snprintf(said + n, sizeof said - n, "%s\n", msg);
}

static int check_saying(unsigned flags)
{
    said[0] = 0;
    return pmm_check(site_bank(), flags, hear, NULL);
}

/* Two blocks of one page, "a" (entry 0) and "b" (entry 1); the bank
 * closed, its geometry read. */
static void two_blocks(void)
{
    pmm_bank *b = bank_open();
    void *p;
    cr_assert_eq(pmm_alloc(b, "a", PG, "K", 2, 0, &p, NULL), 0);
    cr_assert_eq(pmm_alloc(b, "b", PG, "K", 2, 0, &p, NULL), 0);
    pmm_bank_close(b);
    int fd = open(site_bank(), O_RDONLY);
    cr_assert_eq(pread(fd, &geom, sizeof geom, 0), (ssize_t)sizeof geom);
    close(fd);
    cr_assert_eq(check_saying(0), 0, "%s", said);
}

static void rw(int write_it, void *buf, size_t n, uint64_t off)
{
    int fd = open(site_bank(), O_RDWR);
    cr_assert_geq(fd, 0);
    ssize_t r = write_it ? pwrite(fd, buf, n, (off_t)off) : pread(fd, buf, n, (off_t)off);
    cr_assert_eq(r, (ssize_t)n);
    close(fd);
}

static void entry(int write_it, uint32_t idx, struct pmm_entry *e)
{
    if (write_it)
        e->sum = pmm__entry_sum(e);
    rw(write_it, e, sizeof *e, geom.entries_off + idx * sizeof *e);
}

static void live(int write_it, struct pmm_live *l)
{
    if (write_it)
        l->sum = pmm__live_sum(l);
    rw(write_it, l, sizeof *l, PMM_LIVE_OFF);
}

/* A repair mends it, and the bank is clean. */
static void repair_clean(void)
{
    static char repair_said[sizeof said];
    cr_assert_eq(check_saying(PMM_CHECK_REPAIR), 0, "%s", said);
    memcpy(repair_said, said, sizeof said);
    cr_assert_eq(check_saying(0), 0, "%s", said);
    memcpy(said, repair_said, sizeof said); /* what the repair said */
}

/* ... and usable after. */
static void repaired(void)
{
    repair_clean();
    pmm_bank *b = bank_open();
    void *p;
    int r = pmm_free(b, "a"); /* room for one more: the bank is full */
    cr_assert(r == 0 || r == K_EUNKNOWN, "%s", pmm_strerror(r));
    cr_assert_eq(pmm_alloc(b, "c", PG, "K", 2, 0, &p, NULL), 0);
    pmm_bank_close(b);
    cr_assert_eq(check_saying(0), 0, "%s", said);
}

Test(stale, two_blocks_sharing_a_file_page_are_caught_and_one_dropped)
{
    two_blocks();
    struct pmm_entry a, b;
    entry(0, 0, &a);
    entry(0, 1, &b);
    cr_assert_str_eq(a.name, "a");
    cr_assert_neq(a.fpage, b.fpage, "fresh file pages for each block");
    b.fpage = a.fpage; /* sealed with a right checksum: only the checker sees */
    entry(1, 1, &b);
    cr_assert_eq(check_saying(0), K_EBANK);
    cr_assert(strstr(said, "shares file page"), "%s", said);
    repair_clean();
    pmm_bank *bk = bank_open();
    pmm_block blk;
    int ra = pmm_stat(bk, "a", &blk), rb = pmm_stat(bk, "b", &blk);
    cr_assert((ra == 0) != (rb == 0), "one of the two is dropped (%d, %d)", ra, rb);
    pmm_bank_close(bk);
    repaired();
}

Test(stale, a_block_past_the_mark_is_caught_and_the_mark_mended)
{
    two_blocks();
    struct pmm_live l;
    pmm_bank *b = bank_open(); /* the record as it stands: a RAM bank's */
    pmm__live_now(b, &l);      /* may hold its last log, done (update.c) */
    pmm_bank_close(b);
    cr_assert_eq(l.mark, 2, "two one-page blocks took file pages 0 and 1");
    l.mark = 1; /* "b" now lies past it: the next block would share it */
    live(1, &l);
    cr_assert_eq(check_saying(0), K_EBANK);
    cr_assert(strstr(said, "past the mark"), "%s", said);
    repaired();
    live(0, &l);
    cr_assert_geq(l.mark, 3, "past both blocks and the new one");
}

/* Block space cut off the file: the blocks there lost their contents, and
 * a repair drops them and takes the mark back to the file's end. */
Test(stale, a_file_cut_short_of_the_mark_is_caught_and_its_blocks_dropped)
{
    two_blocks();
    cr_assert_eq(truncate(site_bank(), (off_t)(geom.data_off + PG)), 0);
    cr_assert_eq(check_saying(0), K_EBANK);
    cr_assert(strstr(said, "before the file page mark"), "%s", said);
    repair_clean();
    cr_assert(strstr(said, "dropping block \"b\": its file pages lie past"),
              "%s", said);
    pmm_bank *b = bank_open();
    pmm_block blk;
    cr_assert_eq(pmm_stat(b, "a", &blk), 0, "the block still in the file is kept");
    cr_assert_eq(pmm_stat(b, "b", &blk), K_EUNKNOWN);
    pmm_bank_close(b);
    repaired();
    struct stat st;
    struct pmm_live l;
    live(0, &l);
    cr_assert_eq(stat(site_bank(), &st), 0);
    cr_assert_geq((uint64_t)st.st_size, geom.data_off + l.mark * PG);
}

/* A bank of format 2 (file pages reused) is refused, with the reason and
 * the way out; `hr site cold` replacing it is test_site's. */
Test(stale, a_bank_of_the_older_format_is_refused_with_its_reason)
{
    two_blocks();
    struct pmm_geom g = geom;
    g.version = 2;
    g.sum = pmm__geom_sum(&g);
    rw(1, &g, sizeof g, 0);
    rw(1, &g, sizeof g, PMM_GEOM_BACKUP_OFF);
    pmm_bank *b;
    cr_assert_eq(pmm_bank_open(&b, NULL, "RAM", 0), K_EBANK);
    cr_assert_eq(check_saying(0), K_EBANK);
    cr_assert(strstr(said, "older version of the format"), "%s", said);
    cr_assert(strstr(said, "hr site cold"), "%s", said);
}
