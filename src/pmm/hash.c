/* SPDX-License-Identifier: MIT */
/*
 * hash.c - checksums of on-disk structures and the hash of block names.
 *
 * The checksum is a 64-bit multiply-xorshift over 8-byte words: fast enough
 * for the lookup path, and any damaged or torn word changes it.  It detects
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

uint64_t pmm__sum(const void *p, size_t len, uint64_t seed)
{
    const unsigned char *c = p;
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ull);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, c, 8);
        h = (h ^ mix(w)) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
        c += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, c, len);
    h = (h ^ mix(tail ^ len)) * 0x9e3779b97f4a7c15ull;
    return mix(h);
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
