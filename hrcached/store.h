/* SPDX-License-Identifier: MIT */
/*
 * store.h - hrcached's item store: every item, the hash table and the LRU
 * list in one persistent heap (<hotrestart/heap.h>).
 *
 * Each call below is one heap transaction (or, for eviction, a few): a
 * process killed at any instruction leaves the store as it was before the
 * call or after it, and a call that returned MC_STORED (or DELETED, TOUCHED,
 * a new incr value) is in the heap for the next process that opens it.
 * Threads of one process share a store through handles of their own
 * (mc_store_handle): its transactions run one at a time, and a get that
 * stores nothing runs beside other such gets with no transaction (table.c).
 * One process serves a store at a time.
 *
 * Times are unix seconds (CLOCK_REALTIME): an item's expiry must mean the
 * same after a restart.  Calls return an enum mc_res (>= 0) or a negative
 * heap error (pmm_strerror()).
 */
#ifndef HRCACHED_STORE_H
#define HRCACHED_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <hotrestart/heap.h>
#include <hotrestart/pmm.h>

#define MC_KEY_MAX 250u
/* memcached's limit on one item: key, value and this much of its own
 * header must fit in -I, 4 bytes more with flags other than 0 (the
 * store's real header is larger, and counts against -m). */
#define MC_ITEM_OVERHEAD 59u
#define MC_ITEM_OVERHEAD_FLAGS 4u

typedef struct mc_store mc_store;

enum mc_op { MC_SET, MC_ADD, MC_REPLACE, MC_APPEND, MC_PREPEND, MC_CAS };

enum mc_res {
    MC_STORED, MC_NOT_STORED, MC_EXISTS, MC_NOT_FOUND, MC_DELETED,
    MC_TOUCHED, MC_TOO_LARGE, MC_NO_MEMORY, MC_NON_NUMERIC, MC_VALUE
};

/* An item as a get sees it: valid only inside the emit callback. */
struct mc_view {
    const char *key;
    size_t nkey;
    uint32_t flags;
    uint64_t cas;
    const char *data;
    size_t nbytes;
};

struct mc_config {
    uint64_t mem_limit; /* bytes for items (-m), fixed when the heap is made */
    uint64_t item_max;  /* largest item (-I), key and value together */
    int no_evict;       /* -M: refuse a store instead of evicting */
    unsigned populate;  /* --populate: 0, HR_HEAP_POPULATE or
                           HR_HEAP_POPULATE_BG, for the heap's open */
};

/* Counters of this process (memcached's "stats"). */
struct mc_counters {
    uint64_t get_hits, get_misses, get_expired, get_flushed;
    uint64_t delete_hits, delete_misses, incr_hits, incr_misses;
    uint64_t decr_hits, decr_misses, cas_hits, cas_misses, cas_badval;
    uint64_t touch_hits, touch_misses, evictions, reclaimed;
    uint64_t store_too_large, store_no_memory, total_items;
};

/* What the store holds, for stats: copied from the root (and the heap's
 * chunk headers of the root and the table), never a walk (usage.c). */
struct mc_usage {
    uint64_t items, bytes, mem_limit, nbuckets;
    uint64_t starts;                      /* mc_store_count_start()s */
    uint64_t heap_size;                   /* bytes of the heap's block */
    uint64_t heap_used;                   /* bytes of the store's objects
                                           * in the heap: the items
                                           * (bytes), the table, the one
                                           * a growth empties, the root
                                           * (hr_heap_usable sizes) */
    int64_t oldest;                       /* unix time of the LRU tail's
                                           * last store or bump, 0 none */
    uint64_t growing;                     /* 1 while the table grows */
};

/* The format version of the state this program writes and reads, kept in
 * the store's root: a change of the layout (item.h) that an older program
 * would misread makes it one more.  A program refuses a store of a newer
 * version than its own, before it changes anything; an older one is
 * migrated in one transaction at open.  2: the table grows (grow.c); a
 * version 1 program would look for a key in the new table only, and miss
 * the keys a growth has not moved yet. */
#define MC_STATE_VERSION 2u

/* What an existing store was made with. */
struct mc_made {
    uint64_t mem_limit;     /* its -m, bytes */
    uint32_t version;       /* its format version */
    uint32_t existed;       /* 1: the heap was there (opened, populated as
                               asked), 0: made by this open */
};

/* Open the store in the heap `name` of bank, making it if it does not
 * exist.  Errors: MC_OTHER_LIMIT the heap exists but was made with another
 * -m (made->mem_limit says which); MC_NEWER_STATE the store's format
 * version is newer than MC_STATE_VERSION (made->version says which): it is
 * left untouched; MC_BAD_ROOT the heap is not an hrcached store; the errors
 * of hr_heap_open.  With cfg->mem_limit 0 the heap must exist and its own
 * limit is taken.  made may be NULL. */
int mc_store_open(mc_store **out, pmm_bank *bank, const char *name,
                  const struct mc_config *cfg, struct mc_made *made);
/* Close a handle; the one mc_store_open gave closes the heap too, after
 * every other handle is closed. */
void mc_store_close(mc_store *st);

/* Another handle on the same store, for another thread: its own counters
 * (mc_store_counters), the same heap.  Calls on different handles may run
 * at once in threads of one process; one handle is one thread's.  0 or
 * -ENOMEM. */
int mc_store_handle(mc_store *st, mc_store **out);

/* Size of the heap block a store with this limit takes. */
uint64_t mc_store_heap_size(uint64_t mem_limit);

/* Errors of mc_store_open beside the heap's. */
#define MC_BAD_ROOT (-2001)
#define MC_OTHER_LIMIT (-2002)
#define MC_NEWER_STATE (-2003)

/* An absolute expiry time from a protocol one: 0 never, negative already
 * past, up to 30 days relative to now, else unix time. */
int64_t mc_exptime(int64_t proto, int64_t now);

/* Store data under key.  cas is the client's value for MC_CAS.  Returns
 * MC_STORED (*cas_out: the new item's cas), MC_NOT_STORED, MC_EXISTS,
 * MC_NOT_FOUND, MC_TOO_LARGE, MC_NO_MEMORY, or a heap error. */
int mc_store_put(mc_store *st, enum mc_op op, const char *key, size_t nkey,
                 uint32_t flags, int64_t exptime, const char *data,
                 size_t nbytes, uint64_t cas);

/* A put as the meta command ms gives it (mc_store_put is the classic
 * one): has_cas compares append/prepend with cas too (0 never fails);
 * stale lets a cas lower than the item's store a stale value; the new
 * item's cas goes to *cas_out (may be NULL). */
struct mc_put {
    enum mc_op op;
    const char *key, *data;
    size_t nkey, nbytes;
    uint32_t flags;
    int64_t exptime;        /* as the protocol gives it (mc_exptime) */
    uint64_t cas;
    int has_cas, stale;
    int binary;             /* the key came in base64 (ms b) */
    uint64_t *cas_out;
};
int mc_store_mput(mc_store *st, const struct mc_put *p);

/* An item as a meta command sees it, valid inside the emit callback:
 * its bits (MC_META_*) and expiry as they were before the call. */
#define MC_META_FETCHED 1u  /* read before (mg's h) */
#define MC_META_STALE 2u    /* marked stale (X) */
#define MC_META_TOKEN 4u    /* a recache token was given already (Z) */
#define MC_META_BINKEY 8u   /* stored by ms with b (k answers in base64) */
struct mc_meta_view {
    struct mc_view v;
    int64_t exptime;        /* absolute, 0 never */
    int64_t age;            /* seconds since its last access */
    int64_t now;            /* the call's time */
    unsigned bits;
    int created;            /* made empty by this call (vivify) */
    int won;                /* this call got the recache token (W) */
};

/* mg: exptimes as the protocol gives them (mc_exptime). */
struct mc_mget {
    int no_bump;                    /* u: no LRU bump, not marked read */
    int touch; int64_t exptime;     /* T */
    int vivify; int64_t viv_exptime;/* N: make an empty item on a miss */
    int recache; int64_t recache_time; /* R */
    int refused;                    /* the answer will be an error, or
                                     * the command only looks (me): no
                                     * token is given (memcached's way) */
    int quiet;                      /* me: no counter counts it */
};
/* emit is called for the item found (or made): 0; MC_NOT_FOUND; error.
 * As memcached counts: a hit with T is a touch hit, else a get hit; a
 * miss is a get miss. */
int mc_store_mget(mc_store *st, const char *key, size_t nkey,
                  const struct mc_mget *q,
                  void (*emit)(void *, const struct mc_meta_view *),
                  void *arg);

/* md: MC_DELETED (also for a stale mark), MC_NOT_FOUND, MC_EXISTS (cas
 * differs), or an error. */
struct mc_mdelete {
    int has_cas; uint64_t cas;      /* C */
    int stale;                      /* I: mark stale, do not delete */
    int touch; int64_t exptime;     /* T, with I */
};
int mc_store_mdelete(mc_store *st, const char *key, size_t nkey,
                     const struct mc_mdelete *q);

/* ma: MC_VALUE (out filled), MC_NOT_FOUND, MC_EXISTS (cas differs; 0 never
 * does), MC_NON_NUMERIC, MC_NO_MEMORY, or an error. */
struct mc_marith {
    int decr;
    uint64_t delta, cas, initial;   /* D, C, J */
    int vivify; int64_t viv_exptime;/* N */
    int touch; int64_t exptime;     /* T */
};
struct mc_marith_out {
    uint64_t value, cas;
    int64_t exptime;                /* before T and N */
    int64_t now;
    int created;
};
int mc_store_marith(mc_store *st, const char *key, size_t nkey,
                    const struct mc_marith *q, struct mc_marith_out *out);

/* Warm the cache for a call on key to come, in MC_PREFETCH_STEPS steps
 * (no lock: it changes nothing): step 0 the key's bucket; step 1 reads
 * the bucket and warms the chain's first item; step 2 walks the chain to
 * the key's item and warms its LRU neighbours.  A step finds what the
 * one before warmed in the cache once it has come: a caller warming
 * several keys runs each step over all of them before the next; hv is
 * the key's mc_store_hash, worked out once for all the steps. */
#define MC_PREFETCH_STEPS 3
uint64_t mc_store_hash(const char *key, size_t nkey);
void mc_store_prefetch(mc_store *st, uint64_t hv, int step);

/* Would an item of this key and value length be over -I, as memcached
 * counts it (MC_ITEM_OVERHEAD)?  (counted as store_too_large if so) */
int mc_store_too_large(mc_store *st, size_t nkey, uint32_t flags,
                       size_t nbytes);

/* Get every key of keys[0..n) in one transaction; emit is called for each
 * live item found.  With touch set, each found item's expiry becomes
 * exptime first (gat).  Returns 0 or a heap error. */
int mc_store_get(mc_store *st, const char *const *keys, const size_t *nkeys,
                 size_t n, int touch, int64_t exptime,
                 void (*emit)(void *arg, const struct mc_view *), void *arg);

/* MC_DELETED or MC_NOT_FOUND. */
int mc_store_delete(mc_store *st, const char *key, size_t nkey);
/* The same, counted nowhere: a refused set's old value (memcached's
 * item_unlink there touches no counter). */
int mc_store_drop(mc_store *st, const char *key, size_t nkey);

/* MC_TOUCHED or MC_NOT_FOUND. */
int mc_store_touch(mc_store *st, const char *key, size_t nkey,
                   int64_t exptime);

/* incr (decr 0) or decr (decr 1) by delta: MC_VALUE with *value set,
 * MC_NOT_FOUND, MC_NON_NUMERIC, MC_NO_MEMORY. */
int mc_store_arith(mc_store *st, const char *key, size_t nkey, int decr,
                   uint64_t delta, uint64_t *value);

/* flush_all: invalidate every item now (delay 0 or less), at now + delay
 * (up to 30 days) or at the unix time delay; a unix time up to since
 * (the server's start as memcached counts it) flushes nothing and
 * cancels a pending flush, as memcached's. */
int mc_store_flush(mc_store *st, int64_t delay, int64_t since);

/* One more server serves this store (kept in the heap: a restart sees
 * it).  0 or a heap error. */
int mc_store_count_start(mc_store *st);

const struct mc_counters *mc_store_counters(const mc_store *st);
void mc_store_reset_counters(mc_store *st);
/* The store's figures, under its lock held shared for the copy only (as
 * long as a get's lookup): no walk, no writer held off for longer.  0. */
int mc_store_usage(mc_store *st, struct mc_usage *u);

/* The allocator's own figures (hr_heap_stat(3)) and, beside them, the
 * store's bytes in the heap (mc_usage's heap_used) taken in the same
 * hold: a walk of every chunk of the heap, during which every writer of
 * the store waits (*held_us: how long).  0 or hr_heap_stat's error. */
int mc_store_heap_stat(mc_store *st, hr_heap_info *hi, uint64_t *used,
                       uint64_t *held_us);

/* hr_heap_check() on the store's heap and a walk of the table and the LRU
 * list that must agree with each other and with the counters.  0 when
 * consistent; problems go to fn. */
int mc_store_verify(mc_store *st, void (*fn)(const char *, void *),
                    void *arg);

#endif
