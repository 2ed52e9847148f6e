/* SPDX-License-Identifier: MIT */
/*
 * test_damage.c - bank files with damaged bytes, targeted (header, entries,
 * hash heads, intent log) and random: open and the checker refuse or repair
 * with a message, never follow damage blindly, never crash.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "os.h"
#include "pmm/hash.h"
#include "pmm/layout.h"

static void setup(void) { site_new(4 << 20, 64); }
static void teardown(void) { site_drop(); }
TestSuite(damage, .init = setup, .fini = teardown);

static struct pmm_geom geom;

/* In a child: the site's RAM bank, or exit 1. */
static pmm_bank *child_bank(void)
{
    pmm_bank *b;
    if (pmm_bank_open(&b, NULL, "RAM", 0) != 0)
        _exit(1);
    return b;
}

/* A bank with a few blocks, closed; its geometry remembered. */
static void populate(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        pmm_bank *b = child_bank();
        void *p;
        for (int i = 0; i < 10; i++) {
            char n[16];
            snprintf(n, sizeof n, "b%d", i);
            if (pmm_alloc(b, n, 4096 * (size_t)(1 + i % 3), "D", 2, 0, &p, NULL))
                _exit(2);
            strcpy(p, n);
        }
        if (pmm_free(b, "b3") || pmm_free(b, "b7"))
            _exit(3);
        _exit(0);
    }
    cr_assert_eq(wait_status(pid), 0);
    int fd = open(site_bank(), O_RDONLY);
    cr_assert_eq(pread(fd, &geom, sizeof geom, 0), (ssize_t)sizeof geom);
    close(fd);
    cr_assert_eq(check_bank(), 0);
}

static void poke(uint64_t off, const void *bytes, size_t n)
{
    int fd = open(site_bank(), O_RDWR);
    cr_assert_eq(pwrite(fd, bytes, n, (off_t)off), (ssize_t)n);
    close(fd);
}

static void flip(uint64_t off)
{
    unsigned char c;
    int fd = open(site_bank(), O_RDWR);
    cr_assert_eq(pread(fd, &c, 1, (off_t)off), 1);
    c ^= 0x5a;
    cr_assert_eq(pwrite(fd, &c, 1, (off_t)off), 1);
    close(fd);
}

/* What a call on a damaged bank may answer: done, refused, or not there. */
static int fair(int r)
{
    return r == 0 || r == K_EBANK || r == K_EUNKNOWN || r == K_ENOMEM;
}

/* In a fresh process: open and use the bank.  Exit 0 if every call returned
 * a fair code and what it did is true: a refused open is one the checker
 * refuses too, data read back is the block's own, a new block reads as
 * zeros and is found again, a freed block is gone. */
static int use_in_child(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        pmm_bank *b;
        int r = pmm_bank_open(&b, NULL, "RAM", 0);
        if (r == K_EBANK)
            _exit(pmm_check(site_bank(), 0, NULL, NULL) == K_EBANK ? 0 : 4);
        if (r)
            _exit(1);
        for (int i = 0; i < 10; i++) {
            char n[16];
            void *p;
            snprintf(n, sizeof n, "b%d", i);
            r = pmm_alloc(b, n, 1, "D", 2, PMM_RETRIEVE, &p, NULL);
            if (r == 0 && strcmp(p, n) != 0)
                _exit(2); /* followed damage to the wrong block */
            if (!fair(r))
                _exit(3);
        }
        void *p;
        pmm_block blk;
        r = pmm_alloc(b, "new", 4096, "D", 2, 0, &p, NULL);
        if (!fair(r) || r == K_EUNKNOWN)
            _exit(5);
        if (r == 0 && (memcmp(p, (char[4096]){0}, 4096) != 0 ||
                       pmm_stat(b, "new", &blk) != 0))
            _exit(6);
        r = pmm_free(b, "b1");
        if (!fair(r) || r == K_ENOMEM)
            _exit(7);
        if (r == 0 && pmm_stat(b, "b1", &blk) != K_EUNKNOWN)
            _exit(8);
        _exit(0);
    }
    return wait_status(pid);
}

static int repair(void)
{
    return pmm_check(site_bank(), PMM_CHECK_REPAIR, NULL, NULL);
}

Test(damage, header_magic_refused_then_restored_from_backup)
{
    populate();
    poke(0, "XXXXXXXX", 8);
    cr_assert_eq(check_bank(), K_EBANK, "a damaged header is reported");
    cr_assert_eq(repair(), 0);
    cr_assert_eq(use_in_child(), 0);
}

Test(damage, both_headers_damaged_is_refused)
{
    populate();
    poke(0, "XXXXXXXX", 8);
    poke(PMM_GEOM_BACKUP_OFF, "XXXXXXXX", 8);
    pmm_bank *b;
    cr_assert_eq(pmm_bank_open(&b, NULL, "RAM", 0), K_EBANK);
    cr_assert_eq(check_bank(), K_EBANK);
    cr_assert_eq(repair(), K_EBANK);
    cr_assert_eq(use_in_child(), 0);
}

Test(damage, header_geometry_lies_refused)
{
    populate();
    struct pmm_geom g = geom;
    g.max_blocks = 1u << 29; /* offsets no longer fit the file */
    g.sum = pmm__geom_sum(&g);
    poke(0, &g, sizeof g);
    poke(PMM_GEOM_BACKUP_OFF, &g, sizeof g);
    pmm_bank *b;
    cr_assert_eq(pmm_bank_open(&b, NULL, "RAM", 0), K_EBANK);
    cr_assert_eq(check_bank(), K_EBANK);
}

Test(damage, truncated_file_refused)
{
    populate();
    cr_assert_eq(truncate(site_bank(), (off_t)(geom.file_size - 4096)), 0);
    pmm_bank *b;
    cr_assert_eq(pmm_bank_open(&b, NULL, "RAM", 0), K_EBANK);
    cr_assert_eq(check_bank(), K_EBANK);
}

Test(damage, entry_damaged_detected_and_dropped_by_repair)
{
    populate();
    flip(geom.entries_off + 0 * sizeof(struct pmm_entry) + 70); /* b0's key */
    cr_assert_eq(check_bank(), K_EBANK);
    cr_assert_eq(use_in_child(), 0);
    cr_assert_eq(repair(), 0);
    pmm_block blk;
    pmm_bank *b = bank_open();
    cr_assert_eq(pmm_stat(b, "b0", &blk), K_EUNKNOWN, "damaged block dropped");
    cr_assert_eq(pmm_stat(b, "b2", &blk), 0, "others kept");
    cr_assert_eq(use_in_child(), 0);
}

Test(damage, hash_heads_damaged_repaired)
{
    populate();
    uint32_t bogus[16];
    memset(bogus, 0xff, sizeof bogus);
    poke(geom.buckets_off, bogus, sizeof bogus);
    cr_assert_eq(check_bank(), K_EBANK);
    cr_assert_eq(use_in_child(), 0);
    cr_assert_eq(repair(), 0);
    pmm_block blk;
    for (int i = 0; i < 10; i++) {
        char n[16];
        snprintf(n, sizeof n, "b%d", i);
        cr_assert_eq(pmm_stat(bank_open(), n, &blk), i == 3 || i == 7 ? K_EUNKNOWN : 0,
                     "%s after repair", n);
    }
}

Test(damage, bitmap_damaged_repaired)
{
    populate();
    uint64_t zero[4] = {0};
    poke(geom.bitmap_off, zero, sizeof zero);
    cr_assert_eq(check_bank(), K_EBANK);
    cr_assert_eq(repair(), 0);
    cr_assert_eq(use_in_child(), 0);
}

/* A damaged bitmap word is seen by the allocation that reads it, which
 * refuses rather than hand out pages a block may hold. */
Test(damage, bitmap_word_damaged_refused_by_allocate)
{
    populate();
    for (int how = 0; how < 2; how++) {
        if (how == 0) {
            uint64_t zero = 0; /* a zeroed word: "all free", check half lost */
            poke(geom.bitmap_off, &zero, sizeof zero);
        } else {
            flip(geom.bitmap_off); /* pages 0-7 said free, check half not */
        }
        pid_t pid = fork();
        if (pid == 0) {
            pmm_bank *b = child_bank();
            void *p;
            if (pmm_alloc(b, "b0", 1, "D", 2, PMM_RETRIEVE, &p, NULL) != 0 ||
                strcmp(p, "b0") != 0)
                _exit(2); /* retrieval does not need the bitmap */
            char name[16];
            snprintf(name, sizeof name, "fresh%d", how);
            _exit(pmm_alloc(b, name, 4096, "D", 2, 0, &p, NULL) == K_EBANK ? 0 : 3);
        }
        cr_assert_eq(wait_status(pid), 0, "damage %d: allocate refused", how);
        cr_assert_eq(pmm_check(site_bank(), 0, NULL, NULL), K_EBANK);
        cr_assert_eq(repair(), 0);
        cr_assert_eq(check_bank(), 0);
        cr_assert_eq(use_in_child(), 0);
        cr_assert_eq(check_bank(), 0, "what was allocated after repair overlaps nothing");
    }
}

Test(damage, intent_log_damaged_repaired)
{
    populate();
    struct pmm_live l;
    int fd = open(site_bank(), O_RDONLY);
    cr_assert_eq(pread(fd, &l, sizeof l, PMM_LIVE_OFF), (ssize_t)sizeof l);
    close(fd);
    l.op = PMM_OP_FREE; /* a log that points nowhere sensible */
    l.idx = 999999;
    l.seq |= 1;
    l.sum = pmm__live_sum(&l);
    poke(PMM_LIVE_OFF, &l, sizeof l);
    cr_assert_eq(check_bank(), K_EBANK, "a damaged log is reported");
    /* the next user repairs it by rebuilding, rather than redo it */
    cr_assert_eq(use_in_child(), 0);
    cr_assert_eq(check_bank(), 0);
    /* and a log with a bad checksum */
    flip(PMM_LIVE_OFF + 20);
    cr_assert_eq(check_bank(), K_EBANK);
    cr_assert_eq(use_in_child(), 0);
    cr_assert_eq(check_bank(), 0);
}

Test(damage, random_bytes_never_crash, .timeout = 300)
{
    populate();
    char saved[300];
    snprintf(saved, sizeof saved, "%s.orig", site_bank());
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", site_bank(), saved);
    cr_assert_eq(system(cmd), 0);
    unsigned seed = (unsigned)test_seed("damage: random flips");
    uint64_t meta = geom.data_off;
    for (int round = 0; round < 300; round++) {
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", saved, site_bank());
        cr_assert_eq(system(cmd), 0);
        int n = 1 + rand_r(&seed) % 8;
        for (int k = 0; k < n; k++) {
            /* mostly where the structures are, sometimes anywhere */
            uint64_t span = rand_r(&seed) % 4 ? geom.bitmap_off + 4096 : meta;
            flip((uint64_t)rand_r(&seed) % span);
        }
        cr_assert_eq(use_in_child(), 0, "round %d: a user crashed or was fooled",
                     round);
        int r = pmm_check(site_bank(), 0, NULL, NULL);
        cr_assert(r == 0 || r == K_EBANK, "round %d: check said %d", round, r);
        r = repair();
        cr_assert(r == 0 || r == K_EBANK, "round %d: repair said %d", round, r);
        if (r == 0)
            cr_assert_eq(use_in_child(), 0);
    }
}

/* Both copies of the geometry get g, sealed with a right checksum or not. */
static void poke_geom(struct pmm_geom *g, int seal)
{
    if (seal)
        g->sum = pmm__geom_sum(g);
    poke(0, g, sizeof *g);
    poke(PMM_GEOM_BACKUP_OFF, g, sizeof *g);
}

/* A fixed address so high that base_addr + size wraps past zero and lands
 * far below the top of user space: the checksum is right, the range is
 * not. */
Test(damage, header_range_wrapping_past_zero_refused)
{
    populate();
    struct pmm_geom g = geom;
    uint64_t span = g.data_pages * g.page_size;
    g.base_addr = 0ull - span / 2; /* page-aligned: span is 4 MiB */
    cr_assert_lt(g.base_addr + span, g.base_addr, "the sum wraps");
    poke_geom(&g, 1);
    pmm_bank *b;
    int r = pmm_bank_open(&b, NULL, "RAM", 0);
    cr_assert_eq(r, K_EBANK, "open: %s", pmm_strerror(r));
    cr_assert_eq(check_bank(), K_EBANK);
}

/* Every byte of the geometry is covered by its checksum: a changed byte in
 * a field that no other check reads (the address, the creation time, the
 * identity, the reserved bytes), in both copies, with the old sum. */
Test(damage, header_field_with_stale_checksum_refused)
{
    static const size_t offs[] = {
        offsetof(struct pmm_geom, base_addr) + 4,
        offsetof(struct pmm_geom, created_ns),
        offsetof(struct pmm_geom, uuid) + 7,
        offsetof(struct pmm_geom, reserved) + 63,
    };
    populate();
    for (size_t i = 0; i < sizeof offs / sizeof *offs; i++) {
        struct pmm_geom g = geom;
        ((unsigned char *)&g)[offs[i]] ^= 0x01;
        poke_geom(&g, 0);
        pmm_bank *b;
        cr_assert_eq(pmm_bank_open(&b, NULL, "RAM", 0), K_EBANK,
                     "byte %zu changed: open refuses", offs[i]);
        cr_assert_eq(check_bank(), K_EBANK, "byte %zu: check refuses", offs[i]);
        /* only the primary damaged: the backup is taken and restores it */
        poke(PMM_GEOM_BACKUP_OFF, &geom, sizeof geom);
        cr_assert_eq(check_bank(), K_EBANK, "byte %zu: damage reported", offs[i]);
        cr_assert_eq(use_in_child(), 0);
        cr_assert_eq(check_bank(), 0, "byte %zu: restored", offs[i]);
    }
}

/* Bitmap words whose check half is right but whose pages disagree with the
 * entries: a held page said free (a block could be handed out over it) and
 * a free page said held (leaked).  Only the checker's comparison sees it. */
Test(damage, sealed_bitmap_word_disagreeing_with_entries)
{
    populate();
    uint64_t w;
    int fd = open(site_bank(), O_RDONLY);
    cr_assert_eq(pread(fd, &w, 8, (off_t)geom.bitmap_off), 8);
    close(fd);
    uint32_t bits = (uint32_t)w;
    cr_assert(bits & 1, "page 0 belongs to b0");
    cr_assert_eq(bits >> 31, 0, "page 31 is free");
    uint32_t wrong[2] = {bits & ~1u, bits | 1u << 31};
    for (int i = 0; i < 2; i++) {
        uint64_t v = pmm_bm_make(wrong[i]);
        poke(geom.bitmap_off, &v, 8);
        cr_assert_eq(check_bank(), K_EBANK, "case %d: disagreement reported", i);
        cr_assert_eq(repair(), 0);
        cr_assert_eq(check_bank(), 0);
        fd = open(site_bank(), O_RDONLY);
        cr_assert_eq(pread(fd, &v, 8, (off_t)geom.bitmap_off), 8);
        close(fd);
        cr_assert_eq(v, w, "case %d: repair rebuilt the word", i);
    }
}

/* Found by fuzz_bank: an entry whose page count is the largest integer,
 * sealed with a right checksum, made "npages + 1" wrap to 0 and pass the
 * bounds check; freeing it then asked for a bitmap buffer of 2^62 words.
 * Such an entry is damage: reported, refused, never freed. */
Test(damage, entry_with_wrapping_page_count_refused)
{
    populate();
    struct pmm_entry e;
    int fd = open(site_bank(), O_RDONLY);
    cr_assert_eq(pread(fd, &e, sizeof e, (off_t)geom.entries_off), (ssize_t)sizeof e);
    close(fd);
    cr_assert_str_eq(e.name, "b0");
    e.npages = UINT64_MAX;
    e.sum = pmm__entry_sum(&e);
    poke(geom.entries_off, &e, sizeof e);
    cr_assert_eq(check_bank(), K_EBANK);
    pid_t pid = fork();
    if (pid == 0) {
        pmm_bank *b = child_bank();
        pmm_block blk;
        int r = pmm_stat(b, "b0", &blk);
        if (r != K_EBANK)
            _exit(1);
        r = pmm_free(b, "b0");
        _exit(r == K_EBANK ? 0 : 2);
    }
    cr_assert_eq(wait_status(pid), 0, "the entry is refused");
    cr_assert_eq(repair(), 0);
    cr_assert_eq(check_bank(), 0);
    cr_assert_eq(use_in_child(), 0);
}

/* pmm_bank_remake on the site's RAM bank: succeeds, says where the tunables
 * came from, and leaves an empty, consistent bank of those tunables. */
static void remake_gives(int from, uint64_t size, uint64_t max_blocks)
{
    pmm_remake_info info;
    cr_assert_eq(pmm_bank_remake(NULL, "RAM", &info), 0);
    cr_assert_eq(info.from, from);
    cr_assert_eq(info.size, size);
    cr_assert_eq(info.max_blocks, max_blocks);
    cr_assert_eq(check_bank(), 0);
    pmm_bank *b;
    pmm_bank_info st;
    cr_assert_eq(pmm_bank_open(&b, NULL, "RAM", PMM_OPEN_RDONLY), 0);
    cr_assert_eq(pmm_bank_stat(b, &st), 0);
    pmm_bank_close(b);
    cr_assert_eq(st.blocks, 0);
    cr_assert_eq(st.size, size);
    cr_assert_eq(st.max_blocks, max_blocks);
}

Test(damage, remake_keeps_the_tunables_of_a_bank_sound_or_not)
{
    populate();
    remake_gives(PMM_REMAKE_KEPT, 4 << 20, 64);
    populate();
    uint64_t bad = ~geom.sum; /* both headers: the bank does not open */
    poke(offsetof(struct pmm_geom, sum), &bad, sizeof bad);
    poke(PMM_GEOM_BACKUP_OFF + offsetof(struct pmm_geom, sum), &bad, sizeof bad);
    pmm_bank *b;
    cr_assert_eq(pmm_bank_open(&b, NULL, "RAM", 0), K_EBANK);
    remake_gives(PMM_REMAKE_HEADER, 4 << 20, 64);
    poke(0, "XXXXXXXX", 8);
    poke(PMM_GEOM_BACKUP_OFF, "XXXXXXXX", 8);
    remake_gives(PMM_REMAKE_DEFAULTS, PMM_DEFAULT_BANK_SIZE, PMM_DEFAULT_MAX_BLOCKS);
    cr_assert_eq(pmm_bank_remake(NULL, "DISK", NULL), K_EUNKNOWN, "no such medium");
    cr_assert_eq(pmm_bank_remake(NULL, NULL, NULL), K_EFAULT);
    cr_assert_eq(unlink(site_bank()), 0);
    cr_assert_eq(pmm_bank_remake(NULL, "RAM", NULL), K_EUNKNOWN, "no bank file");
}

/* A free whose redo meets a damaged bitmap word fails, and so would every
 * next redo of it: the next user rebuilds the bank from its entries
 * instead.  Before, every opener (the repairing checker too) got K_EBANK
 * for good. */
Test(damage, a_redo_that_meets_damage_is_repaired_not_retried)
{
    populate();
    uint64_t zero = 0; /* pages 0-31, b1's among them: "all free" */
    poke(geom.bitmap_off, &zero, sizeof zero);
    pid_t pid = fork();
    if (pid == 0) /* committed, then refused at the bitmap */
        _exit(pmm_free(child_bank(), "b1") == K_EBANK ? 0 : 2);
    cr_assert_eq(wait_status(pid), 0, "the free is refused");
    pid = fork();
    if (pid == 0) {
        pmm_bank *b;
        void *p;
        if (pmm_bank_open(&b, NULL, "RAM", 0) != 0)
            _exit(1); /* the old answer: K_EBANK, at every open */
        if (pmm_alloc(b, "b0", 1, "D", 2, PMM_RETRIEVE, &p, NULL) != 0 ||
            strcmp(p, "b0") != 0)
            _exit(2);
        _exit(pmm_alloc(b, "fresh", 4096, "D", 2, 0, &p, NULL) == 0 ? 0 : 3);
    }
    cr_assert_eq(wait_status(pid), 0, "the next user repairs and carries on");
    cr_assert_eq(check_bank(), 0);
    cr_assert_eq(use_in_child(), 0);
}

/* A writer killed inside the pwrite() of a free's last store, its entry,
 * leaves the bytes before a page boundary written and the rest not (the
 * kernel cuts a write short there for a fatal signal).  Slot 42's entry
 * straddles a page (entries are 192 bytes from a page boundary): the cut
 * keeps state, next and gen, not the checksum.  The next user must see the
 * free as not applied and write the entry whole; before, it took the torn
 * entry for done, and every allocation after it failed with K_EBANK. */
Test(damage, a_free_entry_cut_at_a_page_boundary_is_written_again)
{
    pid_t pid = fork();
    if (pid == 0) {
        setenv("HR_CRASHPOINT", "free.punched", 1);
        pmm_bank *b = child_bank();
        for (int i = 0; i < 50; i++) {
            char n[16];
            snprintf(n, sizeof n, "b%d", i);
            if (pmm_alloc(b, n, 4096, "D", 2, PMM_NOMAP, NULL, NULL))
                _exit(2);
        }
        pmm_free(b, "b42");
        _exit(3);
    }
    cr_assert_eq(wait_status(pid), 128 + SIGKILL, "killed before the entry");
    struct pmm_live l;
    int fd = open(site_bank(), O_RDONLY);
    cr_assert_eq(pread(fd, &geom, sizeof geom, 0), (ssize_t)sizeof geom);
    cr_assert_eq(pread(fd, &l, sizeof l, PMM_LIVE_OFF), (ssize_t)sizeof l);
    close(fd);
    cr_assert_eq(l.op, PMM_OP_FREE);
    uint64_t off = geom.entries_off + (uint64_t)l.idx * sizeof(struct pmm_entry);
    uint64_t first = geom.page_size - off % geom.page_size;
    cr_assert(first > offsetof(struct pmm_entry, gen) + 4 &&
                  first < offsetof(struct pmm_entry, sum),
              "entry %u straddles a page after its gen (%llu bytes before)",
              l.idx, (unsigned long long)first);
    struct pmm_entry e; /* what the free's last store writes (update.c) */
    memset(&e, 0, sizeof e);
    e.state = PMM_E_FREE;
    e.group = -1;
    e.gen = l.image.gen;
    e.next = l.free_head;
    poke(off, &e, first);
    pid = fork();
    if (pid == 0) {
        pmm_bank *b = child_bank();
        pmm_block blk;
        if (pmm_stat(b, "b42", &blk) != K_EUNKNOWN || pmm_stat(b, "b41", &blk))
            _exit(2);
        for (int i = 0; i < 3; i++) {
            char n[16];
            snprintf(n, sizeof n, "new%d", i);
            if (pmm_alloc(b, n, 4096, "D", 2, PMM_NOMAP, NULL, NULL) != 0)
                _exit(3 + i);
        }
        _exit(0);
    }
    cr_assert_eq(wait_status(pid), 0, "the free is redone; allocations go on");
    cr_assert_eq(check_bank(), 0);
}
