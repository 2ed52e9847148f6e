/* SPDX-License-Identifier: MIT */
/*
 * layout.h - the bank file format, the one place it is defined.
 *
 * A bank file is, in order:
 *
 *   page 0    header: geometry (immutable, checksummed, with a backup copy
 *             at PMM_GEOM_BACKUP_OFF) and the live record (sequence number,
 *             counters and the intent log of the update in progress)
 *   entries   max_blocks fixed-size block descriptors
 *   buckets   nbuckets 32-bit heads of hash chains (entry index + 1; 0 none)
 *   bitmap    one bit per data page: 1 = held by a block or its guard page;
 *             each 64-bit word covers 32 pages in its low half and holds
 *             their complement in its high half, so that a damaged word
 *             is seen where it is read (PMM_BM_*)
 *   data      (in a huge-page bank, at a multiple of the huge page size:
 *             PMM_GF_HUGE)
 *             block contents: a block's pages of addresses are data pages
 *             [page, page + npages) at base_addr + page * page_size in every
 *             process, and its contents are file pages [fpage, fpage +
 *             npages) at data_off + fpage * page_size.  Addresses are reused
 *             (the bitmap); file pages never are: each block takes fresh
 *             ones at the live record's mark, which only grows, and a free
 *             punches them (a small block's with the next ones: the live
 *             record's dead run).  A process that still maps a freed block maps
 *             dead file pages that no block will ever be given again, so a
 *             stale access never reaches a newer block at the same address.
 *             The file grows past data_off as the mark does (update.c).
 *
 * Invariants, checked by the checker (verify.c):
 *  - every live entry is on exactly one hash chain, the one of its name;
 *    every entry ever used and not live is on the free list exactly once;
 *  - a live entry holds pages [page, page + npages) and the guard page after
 *    them; no two live entries share a page; the bitmap is exactly the union;
 *  - a live entry's file pages lie below the mark, and no two live entries
 *    share a file page; the file is at least data_off + mark * page_size
 *    long (it is extended, durably, before a commit moves the mark);
 *  - the dead run lies below the mark and no live entry holds a page of it;
 *  - the live record's counters agree with the entries.
 *
 * Processes map the metadata read-only and change it only with pwrite()
 * under the bank's kernel lock, so a wild write in a user process can never
 * reach it.  Offsets and indexes, never pointers, are stored.
 *
 * All integers are little-endian native; a bank is not portable between
 * architectures (the layout signature refuses one from another).
 */
#ifndef HR_LAYOUT_H
#define HR_LAYOUT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#define PMM_MAGIC      0x4b4e41424d4d5248ull /* "HRPMMBNK" */
#define PMM_VERSION    4u  /* 2: self-checking bitmap; 3: fresh file pages;
                              4: four-lane checksums, punches in batches
                              (the dead run), huge-page banks */
#define PMM_GEOM_BACKUP_OFF 2048u
#define PMM_NONE       0u                    /* empty link */
#define PMM_MAX_BLOCKS_LIMIT (1u << 30)
#define PMM_MAX_BANK_SIZE (1ull << 40)       /* 1 TiB of block space */
#define PMM_LOCK_BYTE  0                     /* byte locked by writers */
/* Block contents lie below data_off + PMM_MAX_FILE_DATA in the file: 4 EiB
 * of allocations over a bank's life (tmpfs allows 8; ext4 stops sooner, at
 * its 16 TiB file-size limit, and allocation then answers K_ENOMEM). */
#define PMM_MAX_FILE_DATA (1ull << 62)
/* Freed blocks' file pages are punched together once a run of them holds
 * this many bytes; a block of at least this size is punched when freed. */
#define PMM_DEAD_BATCH (64u << 10)

/* Bitmap words: pages 32w..32w+31 in the low half, its complement above. */
#define PMM_BM_PAGES   32u
#define PMM_BM_SHIFT   5u
static inline uint64_t pmm_bm_make(uint32_t bits)
{
    return (uint64_t)(uint32_t)~bits << 32 | bits;
}
static inline int pmm_bm_ok(uint64_t w)
{
    return (uint32_t)(w >> 32) == (uint32_t)~(uint32_t)w;
}
static inline uint64_t pmm_bm_words(uint64_t data_pages)
{
    return (data_pages + PMM_BM_PAGES - 1) / PMM_BM_PAGES;
}

/* Bank kinds (pmm_geom.kind). */
enum { PMM_KIND_RAM = 1, PMM_KIND_DISK = 2 };

/* Geometry flags (pmm_geom.flags).  PMM_GF_HUGE: a bank for huge pages.
 * Its data_off is a multiple of the huge page size, as its base_addr is
 * (every base is), and a block of at least one huge page starts at a data
 * page and a file page that are multiples of it: the kernel can map such a
 * block with huge pages, in address and file offset alike.  Smaller blocks
 * pack as in any bank. */
#define PMM_GF_HUGE 1u
#define PMM_GF_ALL PMM_GF_HUGE
#define PMM_HUGE_SHIFT 21u /* 2 MiB: a PMD on x86-64 and arm64 (4 KiB pages) */

/* Entry states. */
enum { PMM_E_FREE = 0, PMM_E_LIVE = 1 };

/* Entry flags. */
enum { PMM_EF_SYSTEM = 1, PMM_EF_GROUP = 2 };

/* Intent-log operations. */
enum { PMM_OP_NONE = 0, PMM_OP_ALLOC = 1, PMM_OP_FREE = 2, PMM_OP_REPAIR = 3 };

/* Immutable geometry, written once when the bank is made. */
struct pmm_geom {
    uint64_t magic;        /* PMM_MAGIC */
    uint32_t version;      /* PMM_VERSION */
    uint32_t layout_sig;   /* PMM_LAYOUT_SIG: sizes of the structures */
    uint32_t page_size;    /* must equal the running system's */
    uint32_t kind;         /* PMM_KIND_RAM or PMM_KIND_DISK */
    uint64_t max_blocks;   /* entries in the table (pmm.maxBlocks) */
    uint64_t nbuckets;     /* hash heads, a power of two >= max_blocks */
    uint64_t data_pages;   /* pages of block space (pmm.rambankSize) */
    uint64_t entries_off;  /* file offset of the entry table */
    uint64_t buckets_off;  /* file offset of the hash heads */
    uint64_t bitmap_off;   /* file offset of the page bitmap */
    uint64_t data_off;     /* file offset of block space */
    uint64_t file_size;    /* length of the file when made (= data_off); it
                              only grows, as blocks take file pages */
    uint64_t base_addr;    /* fixed address of data page 0 in every process */
    uint64_t created_ns;   /* CLOCK_REALTIME when made */
    uint8_t uuid[16];      /* random identity of this bank */
    uint32_t flags;        /* PMM_GF_... */
    uint32_t huge_shift;   /* PMM_GF_HUGE: log2 of the huge page size (21:
                              2 MiB); else zero */
    uint8_t reserved[56];  /* zero */
    uint64_t sum;          /* pmm__sum() of everything above */
};
static_assert(sizeof(struct pmm_geom) == 192, "geometry size");
static_assert(offsetof(struct pmm_geom, sum) == 184, "geometry sum offset");

/* One block descriptor. */
struct pmm_entry {
    char name[64];         /* NUL-terminated block name */
    uint8_t key[32];       /* deletion key bytes */
    uint8_t keylen;        /* bytes of key used, <= 32 */
    uint8_t state;         /* PMM_E_FREE or PMM_E_LIVE */
    uint16_t flags;        /* PMM_EF_... */
    int32_t group;         /* restart group for PMM_EF_GROUP, else -1 */
    uint32_t next;         /* live: next on hash chain; free: next free */
    uint32_t gen;          /* bumped at every allocation of this slot */
    uint64_t page;         /* first data page */
    uint64_t npages;       /* pages of contents (the guard page follows) */
    uint64_t created_ns;   /* CLOCK_REALTIME at allocation */
    int32_t creator_pid;   /* allocating process */
    uint32_t reserved0;    /* zero */
    uint64_t fpage;        /* first file page of its contents (fresh) */
    uint8_t reserved[32];  /* zero */
    uint64_t sum;          /* pmm__sum() of everything above */
};
static_assert(sizeof(struct pmm_entry) == 192, "entry size");
static_assert(offsetof(struct pmm_entry, page) == 112, "entry page offset");
static_assert(offsetof(struct pmm_entry, fpage) == 144, "entry fpage offset");
static_assert(offsetof(struct pmm_entry, sum) == 184, "entry sum offset");

/* The live record: what changes at every update, written whole by one
 * pwrite().  seq is odd while an update is in progress; op != NONE means the
 * update described by the log fields has committed and must be redone by
 * whoever next takes the lock if its writer died.  A RAM bank does not
 * close the record after an update: its log stays, with its odd seq, and
 * the update is complete once its last store is there (the chain head of
 * an ALLOC, the freed entry of a FREE: index.c's pmm__log_applied); the
 * record then reads as the end of that update leaves it (update.c's
 * pmm__live_now).  A DISK bank closes it: op NONE, seq even. */
struct pmm_live {
    uint64_t seq;          /* even: stable; odd: an update is in progress */
    uint64_t nblocks;      /* live entries */
    uint64_t used_pages;   /* pages of contents of live entries */
    uint64_t hint;         /* data page where the next search starts */
    uint32_t free_head;    /* first free entry (index + 1), or PMM_NONE */
    uint32_t high;         /* entries ever used: [0, high) */
    /* intent log: valid when op != PMM_OP_NONE */
    uint32_t op;           /* PMM_OP_... */
    uint32_t idx;          /* entry concerned */
    uint32_t bucket;       /* its hash chain */
    uint32_t pred;         /* FREE: predecessor on the chain (index + 1), or
                              PMM_NONE when the entry heads the chain */
    uint32_t succ;         /* FREE: its successor (index + 1) or PMM_NONE */
    uint32_t free_after;   /* free_head once the update is done */
    uint32_t high_after;   /* high once the update is done */
    uint32_t skip;         /* ALLOC: file pages passed over before the
                              block's first (huge-page alignment), which
                              the apply punches: [fpage - skip, fpage) */
    struct pmm_entry image;/* ALLOC: the entry to write; FREE: as it was */
    uint64_t mark;         /* first file page never given to a block; an
                              ALLOC log already holds the mark after it */
    uint64_t dead;         /* [dead, dead + ndead): file pages of freed   */
    uint64_t ndead;        /* blocks not yet punched: fewer than
                              PMM_DEAD_BATCH bytes, below the mark, held by
                              no live block; a FREE log holds the run as it
                              was before that free (update.c) */
    uint64_t sum;          /* pmm__sum() of everything above */
};
static_assert(sizeof(struct pmm_live) == 296, "live record size");
static_assert(offsetof(struct pmm_live, image) == 72, "live image offset");
static_assert(offsetof(struct pmm_live, mark) == 264, "live mark offset");

/* In its own 512-byte sector, so that a power cut cannot tear it. */
#define PMM_LIVE_OFF 512u
static_assert(PMM_LIVE_OFF >= sizeof(struct pmm_geom), "live after geometry");
static_assert(PMM_LIVE_OFF + sizeof(struct pmm_live) <= 1024,
              "live before backup");

#define PMM_LAYOUT_SIG                                                        \
    ((uint32_t)(sizeof(struct pmm_geom) << 20 ^                               \
                sizeof(struct pmm_entry) << 10 ^ sizeof(struct pmm_live)))

#endif
