/* SPDX-License-Identifier: MIT */
/*
 * fuzz_bank.c - a damaged copy of a bank: check, open, look up, retrieve,
 * allocate, free, iterate, repair.  Every call must return a code; none may
 * crash, hang or trip a sanitizer.
 *
 * The reference bank (made once: 5 blocks, one freed, so that the entry
 * table, chains, free list and bitmap all hold something) is copied and
 * damaged by the input: byte 0 is flags (bit 0: seal the geometry, entry
 * and live record checksums again after the damage, so that the damage
 * reaches the code behind the checksums; bit 1: also cut the file short),
 * then patches of [offset lo, offset hi, length, bytes...], the offset
 * scaled over the metadata.
 */
#define _GNU_SOURCE
#include <string.h>

#include <hotrestart/pmm.h>

#include "fuzz.h"
#include "pmm/bank.h"
#include "pmm/create.h"
#include "pmm/hash.h"
#include "pmm/layout.h"

static uint8_t *ref;
static size_t ref_len;
static char img[128];
static const char *names[] = {"a0", "a1", "a2", "a3", "a4", "new"};

static void make_reference(void)
{
    char path[128];
    pmm_bank *b;
    void *p;
    snprintf(path, sizeof path, "%s/ref.bank", fuzz_dir());
    snprintf(img, sizeof img, "%s/img.bank", fuzz_dir());
    unlink(path);
    if (pmm__bank_create_file(path, PMM_KIND_RAM, 24 * 4096, 8, PMM_HUGE_OFF, NULL) != 0 ||
        pmm__bank_open_path(&b, path, "RAM", 0) != 0)
        abort();
    for (int i = 0; i < 5; i++)
        if (pmm_alloc(b, names[i], 4096 * (size_t)(1 + i % 2), "K", 2, 0, &p,
                      NULL) != 0)
            abort();
    if (pmm_free(b, "a3") != 0)
        abort();
    pmm_bank_close(b);
    FILE *f = fopen(path, "rb");
    if (!f)
        abort();
    fseek(f, 0, SEEK_END);
    ref_len = (size_t)ftell(f);
    rewind(f);
    ref = malloc(ref_len);
    if (!ref || fread(ref, 1, ref_len, f) != ref_len)
        abort();
    fclose(f);
    unlink(path);
}

/* Checksums made right again over whatever the damage left. */
static void seal(uint8_t *m, size_t len)
{
    struct pmm_geom g;
    memcpy(&g, m, sizeof g);
    g.sum = pmm__geom_sum(&g);
    memcpy(m, &g, sizeof g);
    memcpy(m + PMM_GEOM_BACKUP_OFF, &g, sizeof g);
    struct pmm_live l;
    memcpy(&l, m + PMM_LIVE_OFF, sizeof l);
    l.sum = pmm__live_sum(&l);
    memcpy(m + PMM_LIVE_OFF, &l, sizeof l);
    const struct pmm_geom *r = (const struct pmm_geom *)ref; /* true offsets */
    for (uint64_t i = 0; i < r->max_blocks; i++) {
        uint64_t off = r->entries_off + i * sizeof(struct pmm_entry);
        struct pmm_entry e;
        if (off + sizeof e > len)
            break;
        memcpy(&e, m + off, sizeof e);
        e.sum = pmm__entry_sum(&e);
        memcpy(m + off, &e, sizeof e);
    }
}

static void use(void)
{
    pmm_bank *b;
    pmm_block blk;
    pmm_bank_info st;
    void *p;
    pmm_check(img, 0, NULL, NULL);
    if (pmm__bank_open_path(&b, img, "RAM", 0) == 0) {
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
            pmm_stat(b, names[i], &blk);
            pmm_alloc(b, names[i], 1, "K", 2, PMM_RETRIEVE, &p, &blk);
        }
        pmm_alloc(b, "new", 2 * 4096, "K", 2, 0, &p, NULL);
        pmm_free(b, "a1");
        pmm_free_key(b, "K", 2, NULL);
        pmm_bank_stat(b, &st);
        pmm_bank_close(b);
    }
    pmm_check(img, PMM_CHECK_REPAIR, NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ref)
        make_reference();
    if (size == 0)
        return 0;
    const struct pmm_geom *r = (const struct pmm_geom *)ref;
    size_t meta = (size_t)r->data_off, len = ref_len;
    uint8_t *m = malloc(ref_len);
    if (!m)
        abort();
    memcpy(m, ref, ref_len);
    unsigned flags = data[0];
    for (size_t i = 1; i + 3 <= size;) {
        size_t off = (size_t)(data[i] | data[i + 1] << 8) * meta / 65536;
        size_t n = data[i + 2];
        i += 3;
        for (size_t k = 0; k < n && i < size && off + k < meta; k++, i++)
            m[off + k] = data[i];
    }
    if (flags & 1)
        seal(m, meta);
    if (flags & 2)
        len -= (size_t)data[size - 1] * 4096 % len;
    fuzz_write(img, m, len);
    free(m);
    use();
    return 0;
}
