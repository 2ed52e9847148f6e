/* SPDX-License-Identifier: MIT */
/*
 * hash.c - checksums of on-disk structures and the hash of block names.
 *
 * The checksum is a 64-bit multiply over 8-byte words in four lanes (bank
 * format 4; before, one serial multiply-xorshift chain): fast enough for
 * the update and lookup paths, and any damaged or torn word changes it.  It detects
 * accidents, not attacks: whoever can write the bank file owns the site.
 */
#define _GNU_SOURCE
#include <string.h>

#include "hash.h"

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Four lanes of 8-byte words, each lane a chain h = (h ^ w * M) * K with
 * odd M and K (a bijection of w, then of h): a change to any one word
 * changes its lane, and the lanes are folded through mix() at the end
 * (words past the last whole group of four go to the first lane).
 * The lanes run side by side, so a 296-byte live record, summed at every
 * update, costs a fraction of one serial chain through mix(). */
static uint64_t word(const unsigned char *c)
{
    uint64_t w;
    memcpy(&w, c, 8);
    return w;
}

uint64_t pmm__sum(const void *p, size_t len, uint64_t seed)
{
    const unsigned char *c = p;
    const uint64_t M = 0x9e3779b97f4a7c15ull, K = 0xff51afd7ed558ccdull;
    uint64_t h0 = seed ^ len * M, h1 = seed + 1, h2 = seed + 2, h3 = seed + 3;
    for (; len >= 32; c += 32, len -= 32) { /* lanes in registers */
        h0 = (h0 ^ word(c) * M) * K;
        h1 = (h1 ^ word(c + 8) * M) * K;
        h2 = (h2 ^ word(c + 16) * M) * K;
        h3 = (h3 ^ word(c + 24) * M) * K;
    }
    for (; len >= 8; c += 8, len -= 8)
        h0 = (h0 ^ word(c) * M) * K;
    uint64_t tail = 0;
    memcpy(&tail, c, len);
    uint64_t r = mix(tail ^ len);
    r = mix(r ^ h0) * M;
    r = mix(r ^ h1) * M;
    r = mix(r ^ h2) * M;
    r = mix(r ^ h3) * M;
    return mix(r);
}

uint64_t pmm__name_hash(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = (h ^ *c) * 0x100000001b3ull;
    h = mix(h);
    return h ? h : 1; /* 0 marks an empty slot in the map table */
}

uint64_t pmm__entry_sum(const struct pmm_entry *e)
{
    return pmm__sum(e, offsetof(struct pmm_entry, sum), 0x454e545259ull);
}

uint64_t pmm__live_sum(const struct pmm_live *l)
{
    return pmm__sum(l, offsetof(struct pmm_live, sum), 0x4c495645ull);
}

uint64_t pmm__geom_sum(const struct pmm_geom *g)
{
    return pmm__sum(g, offsetof(struct pmm_geom, sum), 0x47454f4dull);
}
