/* SPDX-License-Identifier: MIT */
/*
 * format.h - the persistent heap's format inside its block, the one place
 * it is defined.
 *
 * A heap block is, in order:
 *
 *   header   HH_HDR_SIZE bytes: identity (magic, version, layout signature,
 *            geometry), the boot stamp of the lanes' owner words, the
 *            allocator's lock word and the "hot words" transactions change
 *            (the root's format version, root, free-list heads and their
 *            bitmap)
 *   lanes    nlanes areas of lane_size bytes (whole pages): each a lane
 *            header (struct hh_lane: its owner word, sequence, log state,
 *            allocation cache and record of the chunks taken from it) and
 *            its undo log of struct hh_entry records
 *   locks    nlocks lock words (a power of two): the lock of the 64-byte
 *            granule g of the block is locks[hh_lock_index(g, nlocks)]
 *   arena    arena_size bytes of chunks, from arena_off to the sentinel
 *
 * A transaction runs in a lane it owns (its owner word names the thread's
 * presence, presence.c): its undo records go to
 * that lane's log alone, its commit is one store to that lane's state word.
 * A lock word is 0, or (lane + 1) << 56 | the lane's tx_seq when it was
 * taken (HH_SEQ_MASK bits): it is held while that lane's tx_seq still has
 * that value, so a commit or rollback, which moves tx_seq on, gives back
 * every lock of its transaction at once (lane.c).
 *
 * A chunk is a 16-byte header (struct hh_chunk) and its payload; the object
 * handed out is the payload.  Chunks tile the arena with no gap from
 * arena_off to the sentinel (a header of size 0 marked used, the last 16
 * bytes of the arena).  A free chunk holds in its payload the offsets of its
 * neighbours on its free list, and its size in the prev16 field of the next
 * chunk's header (the boundary tag used to merge with it).
 *
 * Invariants, checked by hh_check():
 *  - walking sizes from arena_off reaches the sentinel exactly; every header
 *    carries its check word;
 *  - HH_PREV_USED of a chunk equals HH_USED of the one before it; no two
 *    free chunks are neighbours (frees merge at once);
 *  - every free chunk is on exactly one list, the one of its size class,
 *    and bit b of binmap is set iff list b is not empty;
 *  - a used chunk of at most HH_CACHE_MAX bytes whose first payload word
 *    is hh_cache_tag(offset, lane) is no object: it sits in that lane's
 *    allocation cache (cache.c), and while the lane's cache_gen is right
 *    and no dead transaction's mark is in cache_busy it is on the lane's
 *    list of its size, once, and cache_bytes sums them;
 *  - root is 0 or the payload offset of a used chunk; root_version is the
 *    user's own word (any value);
 *  - a lane's log_state is hh_log_state_n(end, n) for some end and n: the
 *    records in the first end bytes of its log, and the first n words of
 *    its taken[] (chunks taken from its cache, each hh_taken_word() of its
 *    slot), are its running (or dead) transaction's, each of sequence
 *    tx_seq with its checksum right; a lane nobody holds has end 0 and n
 *    0.  On DISK it may be hh_log_state_redo(end): undo records
 *    then redo records (tx_seq | HH_REDO) of a committed transaction.  A
 *    record there that does not check out is damage, never
 *    the log's end: it is refused, not applied (log.c).
 *
 * Offsets from the block's start, never pointers, are stored: the block
 * keeps its address (base) but offsets make the checks cheap and exact.
 * Integers are native little-endian; a heap is not portable between
 * architectures (the layout signature refuses one from another).
 */
#ifndef HR_HEAP_FORMAT_H
#define HR_HEAP_FORMAT_H

#include <assert.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define HH_MAGIC      0x3150414548524845ull /* "EHRHEAP1" */
#define HH_CLAIM      0x474e4954414d524full /* "ORMATING": format under way */
#define HH_VERSION    6u  /* 2: the log's state word; 3: lanes, locks;
                           * 4: lane caches, no stored counters;
                           * 5: a lane's record of chunks taken;
                           * 6: a lane owned by one word (presence.c) */
#define HH_HDR_SIZE   4096u
#define HH_ALIGN      16u                   /* chunk and object alignment */
#define HH_MIN_CHUNK  32u                   /* header + two list links */
#define HH_MAX_LANES  16u                   /* transactions at once */
#define HH_LANE_HDR   512u                  /* struct hh_lane */
#define HH_GRANULE    64u                   /* bytes under one lock word */
#define HH_SEQ_MASK   ((1ull << 56) - 1)    /* tx_seq bits of a lock word */
#define HH_CACHE_CLASSES 16u                /* cached chunk sizes 32..272 */
#define HH_CACHE_MAX  (HH_MIN_CHUNK + (HH_CACHE_CLASSES - 1) * HH_ALIGN)
#define HH_TAKEN      32u                   /* takes a lane records */

/* Size classes: chunk sizes 32..1040 have one exact list each (bins 0..63);
 * larger chunks go to one list per power of two (bins 64..95). */
#define HH_NSMALL     64u
#define HH_SMALL_MAX  (HH_MIN_CHUNK + (HH_NSMALL - 1) * HH_ALIGN) /* 1040 */
#define HH_NBINS      96u

/* hh_chunk.size low bits (sizes are multiples of 16). */
#define HH_USED       0x1ull /* this chunk is an object */
#define HH_PREV_USED  0x2ull /* the chunk before it is an object */
#define HH_FLAGS      0xfull

struct hh_chunk {
    uint64_t size;   /* bytes of the chunk, header included | HH_USED... */
    uint32_t prev16; /* size/16 of the chunk before, valid if it is free */
    uint32_t check;  /* hh_check_word(offset): this is a chunk header */
};
static_assert(sizeof(struct hh_chunk) == HH_ALIGN, "chunk header");

/* Payload of a free chunk: its links on its free list (0: none). */
struct hh_links {
    uint64_t next;   /* offset of the next free chunk of the list */
    uint64_t prev;   /* offset of the previous one, 0 for the head */
};

static inline uint32_t hh_check_word(uint64_t off)
{
    return (uint32_t)((off * 0x9e3779b97f4a7c15ull) >> 32) ^ 0x5eedc4ecu;
}

/* First payload word of a chunk of offset off cached by lane `lane`: a
 * hash of the offset (low 4 bits clear) plus the lane. */
static inline uint64_t hh_cache_tag(uint64_t off, unsigned lane)
{
    uint64_t m = (off ^ 0x43414348454c4e45ull) * 0xd6e8feb86659fd93ull;
    return ((m ^ (m >> 32)) & ~0xfull) | lane;
}

/* The lane whose cache holds the used chunk of size bytes at off in the
 * block at base (of nlanes lanes), or -1 if that chunk is an object. */
static inline int hh_cached_by(const uint8_t *base, uint64_t off,
                               uint64_t size, unsigned nlanes)
{
    if (size > HH_CACHE_MAX)
        return -1;
    uint64_t tag = __atomic_load_n((const uint64_t *)(base + off + 16),
                                   __ATOMIC_RELAXED);
    unsigned lane = (unsigned)(tag & 0xf);
    return lane < nlanes && tag == hh_cache_tag(off, lane) ? (int)lane : -1;
}

/* One undo entry in a lane's log: the bytes [off, off+len) held before the
 * transaction changed them.  The entries that count are those inside the
 * end that the lane's log_state names; each must carry the lane's tx_seq
 * and a sum that matches, or the log is damaged. */
struct hh_entry {
    uint64_t off;    /* offset in the block of the saved range */
    uint32_t len;    /* bytes saved (followed by them, padded to 8) */
    uint32_t back;   /* bytes from the previous entry's start (0: first) */
    uint64_t seq;    /* the transaction's sequence number (| HH_REDO) */
    uint64_t sum;    /* hh_entry_sum() over the fields above and the bytes */
};
static_assert(sizeof(struct hh_entry) == 32, "entry size");

/* A DISK commit appends, after the undo entries, one redo entry (seq |
 * HH_REDO) of each range's bytes as the transaction leaves them and of
 * each new object, then stores hh_log_state_redo(end): the log then says
 * "committed, roll forward" (log.c). */
#define HH_REDO (1ull << 63)

/* A lane: one transaction at a time runs in it, its owner's. */
struct hh_lane {
    uint64_t owner;       /* 0 free, or the owner word (presence.h) of the
                           * thread whose transaction runs in it */
    uint8_t  reserved_o[56];
    uint64_t tx_seq;      /* the running or next transaction's sequence;
                           * +1 after every commit point and rollback */
    uint64_t log_state;   /* hh_log_state(bytes of the log that count):
                           * its store to hh_log_state(0) is the commit */
    uint64_t age;         /* the running transaction's age (lane.c) */
    uint64_t commit_no;   /* DISK: the heap's commit count when the log
                           * last said committed (the order of roll
                           * forwards after a power cut) */
    /* the lane's allocation cache (cache.c): rebuilt from the arena, never
     * logged; right only while cache_gen equals the header's lock_inits */
    uint64_t cache_gen;   /* 0: to be rebuilt before it is used */
    uint64_t cache_busy;  /* tx_seq of the transaction changing the lists
                           * below, 0 none: another's means half changed */
    uint64_t cache_bytes; /* bytes of the chunks on the lists below */
    uint64_t cache[HH_CACHE_CLASSES]; /* first cached chunk of class k */
    uint64_t reserved;    /* zero */
    /* chunks the running transaction took from the cache, as many as
     * log_state counts (hh_taken_word): a rollback tags them again, the
     * commit point forgets them (cache.c) */
    uint64_t taken[HH_TAKEN];
};
static_assert(offsetof(struct hh_lane, tx_seq) == 64, "lane seq offset");
static_assert(sizeof(struct hh_lane) == HH_LANE_HDR, "lane header size");
static_assert(offsetof(struct hh_lane, cache) == 120, "lane cache offset");
static_assert(offsetof(struct hh_lane, taken) == 256, "lane taken offset");

struct hh_hdr {
    /* identity: written once at format, magic last */
    uint64_t magic;       /* HH_MAGIC once formatted; HH_CLAIM while it is */
    uint32_t version;     /* HH_VERSION */
    uint32_t layout_sig;  /* hh_layout_sig(): sizes and offsets of this file */
    uint64_t size;        /* bytes of the block */
    uint64_t base;        /* address of the block: pointers inside are plain */
    uint64_t lanes_off;   /* offset of the first lane (HH_HDR_SIZE) */
    uint64_t lane_size;   /* bytes of a lane, header and log, whole pages */
    uint64_t nlanes;      /* lanes: 1..HH_MAX_LANES */
    uint64_t locks_off;   /* offset of the lock words */
    uint64_t nlocks;      /* lock words, a power of two */
    uint64_t arena_off;   /* offset of the first chunk */
    uint64_t arena_size;  /* bytes from arena_off to the sentinel's end */
    uint8_t  reserved0[40];

    /* the lanes' owner words are valid only under the boot they were
     * written in */
    uint8_t  boot[16];    /* boot id the lanes were last made free under */
    uint64_t lock_inits;  /* times the lanes were made free: format, new
                           * boot */
    uint64_t damaged;     /* lane + 1 whose log was found damaged, or 0:
                           * then transactions are refused (K_EHEAP) */
    uint64_t ages;        /* read as a transaction's age at begin; moved
                           * on by one that loses to K_EBUSY (lane.c) */
    uint64_t commits;     /* DISK commits with redo so far (commit_no) */
    uint64_t presence_id; /* id of the presence file (presence.c) the
                           * lanes' owner words were written under */
    uint8_t  reserved1[8];
    uint64_t alloc_lock;  /* lock word of the allocator (its own line) */
    uint8_t  reserved2[56];
    /* a line read at every lane given back, written only by waiters */
    uint32_t lane_wait;   /* 1: a thread may sleep on lane_wakes (lane.c) */
    uint32_t lane_wakes;  /* moved on by a giver that found lane_wait */
    uint8_t  reserved2b[48];

    /* hot words: changed only inside transactions, through the undo log */
    uint64_t root_version;/* the user's format version of the state under
                           * root, 0 until set (hr_heap_set_root_version) */
    uint64_t root;        /* offset of the root object, 0 none */
    uint64_t unused[2];   /* zero (format 3's counters: the checker
                           * counts objects by walking the arena) */
    uint64_t binmap[2];   /* bit b: bins[b] not empty */
    uint64_t bins[HH_NBINS]; /* offset of the first free chunk, 0 none */
    uint8_t  reserved3[HH_HDR_SIZE - 320 - (5 + HH_NBINS) * 8];
};

static_assert(offsetof(struct hh_hdr, boot) == 128, "boot offset");
static_assert(offsetof(struct hh_hdr, alloc_lock) == 192, "lock offset");
static_assert(offsetof(struct hh_hdr, lane_wait) == 256, "waiters' line");
static_assert(offsetof(struct hh_hdr, root_version) == 312, "hot words offset");
static_assert(offsetof(struct hh_hdr, root) == 320, "root offset");
static_assert(offsetof(struct hh_hdr, bins) == 360, "bins offset");
static_assert(sizeof(struct hh_hdr) == HH_HDR_SIZE, "header size");
static_assert(HH_HDR_SIZE % 4096 == 0, "header is whole pages");

/* The lock word of granule g: hashed, so that neighbouring granules (the
 * objects of different threads) seldom share a word or its cache line. */
static inline uint64_t hh_lock_index(uint64_t g, uint64_t nlocks)
{
    return ((g + 1) * 0x9e3779b97f4a7c15ull) >> 32 & (nlocks - 1);
}

/* The log's state word: what of the lane's record counts (high half: the
 * bytes of the log, low 24 bits, and the slots of taken[], high 8) and a
 * check of it (low half) in one 8-byte word, stored whole; a word whose
 * check fails is damage.  The check of 0 is not 0, so a zeroed word fails.
 * Its store of 0 bytes and 0 slots is the commit point: both stop counting
 * at once. */
#define HH_END_BITS 24u
static inline uint64_t hh_log_state_n(uint64_t end, unsigned taken)
{
    uint32_t e = (uint32_t)end | (uint32_t)taken << HH_END_BITS;
    uint64_t m = ((uint64_t)e + 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull;
    return (uint64_t)e << 32 | (uint32_t)((m >> 29) ^ 0x4c4f4753u);
}

static inline uint64_t hh_log_state(uint64_t end)
{
    return hh_log_state_n(end, 0);
}

/* The bytes of the log and the slots of taken[] a state word counts. */
static inline uint64_t hh_state_end(uint64_t state)
{
    return state >> 32 & ((1u << HH_END_BITS) - 1);
}

static inline unsigned hh_state_taken(uint64_t state)
{
    return (unsigned)(state >> (32 + HH_END_BITS));
}

/* Slot i of lane `lane`'s taken[] in its transaction of sequence seq,
 * naming the chunk at off (below 2^36, the largest heap): the offset in
 * the low 36 bits, a check of it, the sequence, the lane and the slot in
 * the high 28, so that a stray write or a stale slot does not pass. */
#define HH_OFF_BITS 36u
static inline uint64_t hh_taken_word(uint64_t off, uint64_t seq,
                                     unsigned lane, unsigned i)
{
    uint64_t m = (off ^ seq * 0x9e3779b97f4a7c15ull ^
                  (uint64_t)(lane << 8 | i) << 40) * 0xd6e8feb86659fd93ull;
    return off | m >> HH_OFF_BITS << HH_OFF_BITS;
}

/* The state word of a log that holds a committed DISK transaction's redo
 * entries: the same end, another check (so neither passes for the other). */
static inline uint64_t hh_log_state_redo(uint64_t end)
{
    return hh_log_state(end) ^ 0x5245444fu;
}

static inline uint32_t hh_layout_sig(void)
{
    return (uint32_t)(sizeof(struct hh_hdr) * 31u + sizeof(struct hh_entry) *
                      7u + sizeof(struct hh_chunk) * 3u + HH_NBINS * 131u +
                      offsetof(struct hh_hdr, bins) * 17u +
                      sizeof(struct hh_lane) * 5u + HH_GRANULE * 11u +
                      offsetof(struct hh_lane, reserved_o) * 23u);
}

#endif
