/* SPDX-License-Identifier: MIT */
/*
 * table.c - the frame of hrcached's store: the hash chains and the LRU
 * list (link, unlink, find, bump), the transactions every public call runs
 * in, eviction from the LRU tail, making and opening the root
 * (mc_store_verify is verify.c's).  store.c runs the items' operations on top of it and
 * table.c calls nothing of store.c.
 *
 * Invariants kept here (mc_store_verify checks them): every item is on
 * exactly one hash chain, the one of its hash, and on the LRU list exactly
 * once; root->items and root->bytes count the linked items and their heap
 * sizes; every store is logged before it is made (item.h's set64/setp), a
 * new item is fully written before mc_tab_link, an unlinked one is freed
 * in the same transaction.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hotrestart/errors.h>
#include <hotrestart/heap.h>

#include "grow.h"
#include "item.h"
#include "lock.h"
#include "table.h"

/* ---- links: every store below is logged first ---- */

static int lru_unlink(mc_store *st, struct mc_item *it)
{
    struct mc_root *r = st->root;
    MC_TRY(setp(st, it->prev ? &it->prev->next : &r->head, it->next));
    MC_TRY(setp(st, it->next ? &it->next->prev : &r->tail, it->prev));
    return 0;
}

static int lru_push(mc_store *st, struct mc_item *it)
{
    struct mc_root *r = st->root;
    MC_TRY(setp(st, &it->prev, NULL));
    MC_TRY(setp(st, &it->next, r->head));
    MC_TRY(setp(st, r->head ? &r->head->prev : &r->tail, it));
    return setp(st, &r->head, it);
}

/* The word that points to it on its chain, or NULL. */
static struct mc_item **chain_link(mc_store *st, struct mc_item *it)
{
    struct mc_item **link = bucket_of(st, it->hash);
    while (*link && *link != it)
        link = &(*link)->hnext;
    if (!*link && (link = bucket_rest(st, it->hash)))
        while (*link && *link != it)
            link = &(*link)->hnext;
    return link && *link ? link : NULL;
}

/* The item of key on its chains, or NULL. */
static struct mc_item *lookup(mc_store *st, uint64_t hv, const char *key,
                              size_t nkey)
{
    struct mc_item **b = bucket_of(st, hv), **rest = bucket_rest(st, hv);
    for (int pass = 0; pass < 2; pass++, b = rest)
        for (struct mc_item *it = b ? *b : NULL; it; it = it->hnext)
            if (it->hash == hv && it->nkey == nkey &&
                memcmp(it->data, key, nkey) == 0)
                return it;
    return NULL;
}

/* Take it off its chain and the LRU, and free it (at commit). */
int mc_tab_unlink(mc_store *st, struct mc_item *it)
{
    struct mc_item **link = chain_link(st, it);
    if (!link)
        return K_EHEAP;        /* not on its chain: the store is damaged */
    MC_TRY(setp(st, link, it->hnext));
    MC_TRY(lru_unlink(st, it));
    struct mc_root *r = st->root;
    MC_TRY(set64(st, &r->items, r->items - 1));
    MC_TRY(set64(st, &r->bytes, r->bytes - heap_bytes(st, it)));
    return hr_heap_free(st->heap, it);
}

/* Link a new (unlogged, fully written) item at its chain's head and the
 * LRU head. */
int mc_tab_link(mc_store *st, struct mc_item *it)
{
    struct mc_item **b = bucket_of(st, it->hash);
    it->hnext = *b;
    it->prev = NULL;
    it->next = st->root->head;
    MC_TRY(setp(st, st->root->head ? &st->root->head->prev : &st->root->tail,
             it));
    MC_TRY(setp(st, &st->root->head, it));
    MC_TRY(setp(st, b, it));
    struct mc_root *r = st->root;
    MC_TRY(set64(st, &r->items, r->items + 1));
    MC_TRY(set64(st, &r->bytes, r->bytes + heap_bytes(st, it)));
    st->n.total_items++;
    return mc_grow_after_link(st);
}

/* Put the new (unlogged, fully written) item it in old's place on its
 * chain, at the LRU head, and free old (at commit): mc_tab_unlink then
 * mc_tab_link, with fewer stores. */
int mc_tab_replace(mc_store *st, struct mc_item *old, struct mc_item *it)
{
    struct mc_item **link = chain_link(st, old);
    if (!link)
        return K_EHEAP;
    struct mc_root *r = st->root;
    it->hnext = old->hnext;
    MC_TRY(setp(st, link, it));
    MC_TRY(lru_unlink(st, old));
    it->prev = NULL;
    it->next = r->head;
    MC_TRY(setp(st, r->head ? &r->head->prev : &r->tail, it));
    MC_TRY(setp(st, &r->head, it));
    MC_TRY(set64(st, &r->bytes,
                 r->bytes - heap_bytes(st, old) + heap_bytes(st, it)));
    st->n.total_items++;
    MC_TRY(hr_heap_free(st->heap, old));
    return mc_grow_after_link(st);
}

/* The live item of key, or NULL; a dead one met on the way is removed.
 * *res is 0 or a heap error. */
struct mc_item *mc_tab_find(mc_store *st, const char *key, size_t nkey,
                            int count, int *res)
{
    *res = 0;
    struct mc_item *it = lookup(st, hash_key(key, nkey), key, nkey);
    if (!it)
        return NULL;
    int s = item_state(st, it);
    if (s == LIVE)
        return it;
    if (count)
        s == EXPIRED ? st->n.get_expired++ : st->n.get_flushed++;
    *res = mc_tab_unlink(st, it);
    return NULL;
}

int mc_tab_set_bits(mc_store *st, struct mc_item *it, uint32_t bits)
{
    return hr_heap_write(st->heap, &it->bits, &bits, sizeof bits);
}

int mc_tab_renew(mc_store *st, struct mc_item *it)
{
    if (st->now - it->time >= MC_BUMP_S)
        MC_TRY(set64(st, &it->time, (uint64_t)st->now));
    return 0;
}

/* A read marks the item active (one logged word the first time) and
 * renews its time once a minute; it does not move it: eviction spares an
 * active item once, see mc_tab_make_room. */
int mc_tab_bump(mc_store *st, struct mc_item *it)
{
    if (!(it->bits & MC_IT_ACTIVE))
        MC_TRY(mc_tab_set_bits(st, it, it->bits | MC_IT_ACTIVE));
    return mc_tab_renew(st, it);
}

/* ---- transactions ---- */

/* The store's lock is taken before the heap's transaction begins and
 * given back after it ends: the store's transactions run one at a time in
 * a process, so a reader holding the lock shared sees no store half made.
 * (Every set changes the root's counters, the LRU head and the
 * allocator's state, which the heap would serialise anyway; lock.h says
 * how a waiter waits.)  A kill
 * takes every thread at once: the lock dies with the process, and the
 * heap rolls back the transaction it held at the next open. */
int mc_tab_begin(mc_store *st)
{
    mc_lock_write(&st->share->lock);
    st->now = wall_now();
    st->root_logged = 0;
    int r = hr_heap_begin(st->heap);
    if (r < 0)
        pthread_rwlock_unlock(&st->share->lock);
    return r;
}

/* Commit if r is a result, roll back if it is an error. */
int mc_tab_end(mc_store *st, int r)
{
    if (r < 0) {
        hr_heap_abort(st->heap);
    } else {
        int c = hr_heap_commit(st->heap);
        r = c < 0 ? c : r;
    }
    mc_grow_publish(st);
    pthread_rwlock_unlock(&st->share->lock);
    return r;
}

void mc_tab_read_begin(mc_store *st)
{
    mc_lock_read(&st->share->lock);
    st->now = wall_now();
}

void mc_tab_read_end(mc_store *st)
{
    pthread_rwlock_unlock(&st->share->lock);
}

/* The item of key whatever its state, or NULL: stores nothing. */
struct mc_item *mc_tab_peek(mc_store *st, const char *key, size_t nkey)
{
    return lookup(st, hash_key(key, nkey), key, nkey);
}

/* Would a get of it store more than its active bit (remove it dead,
 * renew its time)? */
int mc_tab_get_writes(const mc_store *st, const struct mc_item *it)
{
    return item_state(st, it) != LIVE || st->now - it->time >= MC_BUMP_S;
}

/* The active bit is a hint for eviction, as memcached's: a reader sets it
 * with one atomic OR, not logged.  Readers hold the store's lock shared,
 * so no transaction runs meanwhile that could have the word in its log;
 * a crash keeps the bit or not, and either is a right answer. */
void mc_tab_mark_read(struct mc_item *it)
{
    if (!(__atomic_load_n(&it->bits, __ATOMIC_RELAXED) & MC_IT_ACTIVE))
        __atomic_fetch_or(&it->bits, MC_IT_ACTIVE, __ATOMIC_RELAXED);
}

/* An active item met at the tail goes back to the head with its bit
 * cleared: a second chance, memcached's active bit in its segmented LRU
 * (a key read between the stores survives them; one never read again
 * goes at the next pass). */
static int spare(mc_store *st, struct mc_item *it)
{
    MC_TRY(mc_tab_set_bits(st, it, it->bits & ~MC_IT_ACTIVE));
    MC_TRY(lru_unlink(st, it));
    return lru_push(st, it);
}

/* Is it the item a store works on (which its eviction must leave)? */
static int kept(const struct mc_room *room, const struct mc_item *it)
{
    return room->key && it->hash == room->hash && it->nkey == room->nkey &&
           memcmp(it->data, room->key, room->nkey) == 0;
}

/* Free items from the LRU tail, in one transaction, until `need` more bytes
 * fit under the limit and at least `least` items are gone (one at least:
 * a heap too cut up to give `need` in one piece needs more).  Dead items
 * go first whatever the mode; live ones only when eviction is on, an
 * active one spared once (at most MC_EVICT_MOVES of them, so that a cache
 * of active items still frees room); the item the store changes is passed
 * over (memcached skips an item in use).  At most evict_batch freed.
 * Returns the number freed, or an error. */
int mc_tab_make_room(mc_store *st, const struct mc_room *room)
{
    MC_TRY(mc_tab_begin(st));
    int freed = 0, moved = 0, r = 0;
    struct mc_root *root = st->root;
    struct mc_item *it = root->tail;
    int least = room->least ? (int)room->least : 1;
    while (it && freed < (int)st->share->evict_batch &&
           (freed < least || root->bytes + room->need > st->cfg.mem_limit)) {
        struct mc_item *prev = it->prev;
        int s = item_state(st, it);
        if (kept(room, it)) {
            it = prev;
            continue;
        }
        if (s == LIVE && st->cfg.no_evict)
            break;
        if (s == LIVE && (it->bits & MC_IT_ACTIVE) &&
            moved < (int)st->share->evict_moves) {
            if ((r = spare(st, it)) < 0)
                break;
            moved++;
        } else {
            if ((r = mc_tab_unlink(st, it)) < 0)
                break;
            s == LIVE ? st->n.evictions++ : st->n.reclaimed++;
            freed++;
        }
        it = prev;
    }
    r = mc_tab_end(st, r);
    return r < 0 ? r : freed;
}

/* ---- opening ---- */

uint64_t mc_store_heap_size(uint64_t mem_limit)
{
    /* items, an eighth more for the allocator's headers and the pieces
     * between them, the table at its largest and the smaller ones a
     * growth left (together less than twice it), the undo log (an eighth
     * of the block, at most 16 MiB) and the heap's header.
     * tests/check_k8s.py does the same sum for the manifests' banks */
    uint64_t arena = mem_limit + mem_limit / 8 +
                     mc_grow_max_buckets(mem_limit) * 8 * 2 + (1u << 20);
    uint64_t log = arena / 7 > (16u << 20) ? (16u << 20) : arena / 7;
    uint64_t size = arena + log + (64u << 10);
    return (size + 4095) & ~4095ull;
}

/* How much one eviction may do: its spares and frees must fit half a
 * lane's undo log (a full log fails the transaction with K_ENOMEM, and a
 * store that needs room would fail with it).  The log's size from
 * hr_heap_lanes, not hr_heap_stat, which walks the whole heap: at a
 * restart that walk faulted in every page before the first reply. */
static int evict_limits(mc_store *st)
{
    hr_heap_lane lane;
    int n = hr_heap_lanes(st->heap, &lane, 1);
    if (n < 0)
        return n;
    uint64_t log = n > 0 ? lane.log_size : 0;
    uint64_t moves = log / 4 / MC_LOG_PER_MOVE;
    uint64_t frees = log / 4 / MC_LOG_PER_FREE;
    st->share->evict_moves = moves < MC_EVICT_MOVES ? (unsigned)moves
                                                    : MC_EVICT_MOVES;
    st->share->evict_batch = frees < MC_EVICT_BATCH ? (unsigned)frees
                                                    : MC_EVICT_BATCH;
    if (st->share->evict_batch == 0)
        st->share->evict_batch = 1;
    return 0;
}

static int make_root(mc_store *st)
{
    struct mc_root *r;
    MC_TRY(mc_tab_begin(st));
    int res = hr_heap_alloc(st->heap, sizeof *r, HR_HEAP_ZERO, (void **)&r);
    if (res == 0) {
        r->version = MC_STATE_VERSION;
        r->item_hdr = sizeof(struct mc_item);
        r->mem_limit = st->cfg.mem_limit;
        r->nbuckets = mc_grow_first_buckets(st->cfg.mem_limit);
        r->cas_next = 1;
        res = hr_heap_alloc(st->heap, r->nbuckets * sizeof *r->buckets,
                            HR_HEAP_ZERO, (void **)&r->buckets);
    }
    if (res == 0) {
        r->magic = MC_MAGIC;       /* new objects: no log needed */
        res = hr_heap_set_root(st->heap, r);
    }
    return mc_tab_end(st, res);
}

int mc_store_open(mc_store **out, pmm_bank *bank, const char *name,
                  const struct mc_config *cfg, struct mc_made *made)
{
    struct mc_made made_here;
    if (!made)
        made = &made_here;
    mc_store *st = calloc(1, sizeof *st);
    struct mc_share *sh = aligned_alloc(_Alignof(struct mc_share),
                                        sizeof *sh);
    pthread_rwlockattr_t attr;
    int r = -ENOMEM;
    if (!st || !sh)
        goto fail_alloc;
    memset(sh, 0, sizeof *sh);
    /* writers first: gets must not keep a set waiting for good */
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    r = -pthread_rwlock_init(&sh->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (r < 0)
        goto fail_alloc;
    st->share = sh;
    st->owner = 1;
    st->cfg = *cfg;
    /* an existing heap is opened whatever its size: its limit is checked
     * below, to say what it was made with */
    r = hr_heap_open(&st->heap, bank, name, 0, "hrcached", 8,
                     HR_HEAP_RETRIEVE | cfg->populate);
    uint32_t existed = r == 0;
    if (r == K_EUNKNOWN && cfg->mem_limit)
        r = hr_heap_open(&st->heap, bank, name,
                         mc_store_heap_size(cfg->mem_limit), "hrcached", 8,
                         0);
    if (r < 0)
        goto fail_open;
    pmm_block blk;          /* its size for stats: a lookup, no walk */
    if ((r = pmm_stat(bank, name, &blk)) < 0)
        goto fail_root;
    sh->heap_size = blk.size;
    sh->heap_lo = (uintptr_t)blk.addr;
    void *root;
    hr_heap_root(st->heap, &root);
    if (!root && !cfg->mem_limit) {
        r = MC_BAD_ROOT;
        goto fail_root;
    }
    if (!root) {
        /* COMMIT POINT (make_root): the root is set in the transaction
         * that makes it: a kill before leaves an empty heap, made again */
        if ((r = make_root(st)) < 0)
            goto fail_root;
        hr_heap_root(st->heap, &root);
    }
    st->root = root;
    if ((r = evict_limits(st)) < 0)
        goto fail_root;
    /* read only until the version is known to be ours: a store of a newer
     * format is left exactly as it is, for the program that wrote it */
    *made = (struct mc_made){st->root->mem_limit, st->root->version, existed};
    if (st->root->magic != MC_MAGIC) {
        r = MC_BAD_ROOT;
        goto fail_root;
    }
    if (st->root->version > MC_STATE_VERSION) {
        r = MC_NEWER_STATE;
        goto fail_root;
    }
    if (st->root->version < 1 ||
        (st->root->version == 1 && st->root->old_buckets) ||
        st->root->item_hdr != sizeof(struct mc_item)) {
        r = MC_BAD_ROOT;
        goto fail_root;
    }
    if (!cfg->mem_limit)
        st->cfg.mem_limit = st->root->mem_limit;
    else if (st->root->mem_limit != cfg->mem_limit) {
        r = MC_OTHER_LIMIT;
        goto fail_root;
    }
    /* older state migrated when served (a --check changes nothing), and
     * the table's copy for prefetches (grow.c) */
    if ((r = mc_grow_open(st, cfg->mem_limit != 0)) < 0)
        goto fail_root;
    *out = st;
    return 0;
fail_root:
    hr_heap_close(st->heap);
fail_open:
    pthread_rwlock_destroy(&sh->lock);
fail_alloc:
    free(sh);
    free(st);
    return r;
}

int mc_store_handle(mc_store *st, mc_store **out)
{
    mc_store *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    *h = (mc_store){.heap = st->heap, .root = st->root, .share = st->share,
                    .cfg = st->cfg};
    *out = h;
    return 0;
}

void mc_store_close(mc_store *st)
{
    if (!st)
        return;
    if (st->owner) {
        hr_heap_close(st->heap);
        pthread_rwlock_destroy(&st->share->lock);
        free(st->share);
    }
    free(st);
}
