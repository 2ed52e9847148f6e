/*
 * store.c - the item store of hrcached in one persistent heap.
 *
 * Layout in the heap (plain pointers: the heap's block keeps its address):
 *
 *   root ──> struct mc_root: limits, counters, LRU ends, flush marks
 *            buckets ──> array of nbuckets chain heads (one heap object)
 *   item:    struct mc_item header, then the key, then the value
 *
 * Invariants (mc_store_verify checks them):
 *  - every item is on exactly one hash chain, the one of its hash, and on
 *    the LRU list exactly once; the list runs head (most recent) to tail
 *    through next, back through prev;
 *  - root->items is the number of items, root->bytes the sum of their
 *    heap sizes (hr_heap_usable), and never over mem_limit when evicting;
 *  - every cas is below root->cas_next.
 *
 * Each public call is one transaction: every word of the root, the buckets
 * and an existing item is added to the undo log before it is stored (the
 * set/setp helpers), a new item is written before it is linked, a dead or
 * replaced item is freed in the transaction that unlinks it.  A kill at any
 * instruction is rolled back by the next hr_heap_open or hr_heap_begin;
 * the caller replies to its client only after the commit.
 *
 * Eviction runs in transactions of its own, before the store that needs
 * the room, because the heap gives back freed memory only at commit.
 * Expired and flushed items are removed when met (a lookup, the LRU tail).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hotrestart/errors.h>
#include <hotrestart/heap.h>

#include "store.h"

#define MC_MAGIC 0x3144454843414352ull /* "RCACHED1" */
#define MC_VERSION 1u
#define MC_BUMP_S 60        /* an item read again moves up the LRU once a minute */
#define MC_REALTIME_MAX (60 * 60 * 24 * 30)
#define MC_EVICT_BATCH 64   /* items freed by one eviction transaction */
#define MC_PUT_TRIES 64

struct mc_item {
    struct mc_item *hnext;  /* next on the hash chain */
    struct mc_item *prev;   /* LRU: the more recent neighbour, NULL at head */
    struct mc_item *next;   /* LRU: the older neighbour, NULL at tail */
    uint64_t cas;
    int64_t exptime;        /* absolute unix seconds, 0 never */
    int64_t time;           /* last store or LRU bump, unix seconds */
    uint64_t hash;
    uint32_t flags;         /* the client's opaque flags */
    uint32_t nbytes;        /* value bytes */
    uint32_t nkey;          /* key bytes (1..MC_KEY_MAX) */
    uint32_t reserved;
    char data[];            /* key, then value */
};
_Static_assert(sizeof(struct mc_item) == 72, "item header");

struct mc_root {
    uint64_t magic;         /* MC_MAGIC, written last at creation */
    uint32_t version;       /* MC_VERSION */
    uint32_t item_hdr;      /* sizeof(struct mc_item) */
    uint64_t mem_limit;     /* -m at creation, bytes */
    uint64_t nbuckets;      /* power of two */
    struct mc_item **buckets;
    struct mc_item *head, *tail;
    uint64_t cas_next;      /* next cas to give */
    uint64_t items;         /* items linked */
    uint64_t bytes;         /* their heap sizes */
    int64_t oldest_live;    /* flush with delay: items older are dead from then */
    uint64_t oldest_cas;    /* flush now: items with cas up to this are dead */
    uint64_t reserved[6];
};

struct mc_store {
    hr_heap *heap;
    struct mc_root *root;
    struct mc_config cfg;
    struct mc_counters n;
    int64_t now;            /* time of the running call */
};

#define TRY(x)                                                                 \
    do {                                                                       \
        int r_ = (x);                                                          \
        if (r_ < 0)                                                            \
            return r_;                                                         \
    } while (0)

static int set64(mc_store *st, void *p, uint64_t v)
{
    return hr_heap_set64(st->heap, (uint64_t *)p, v);
}

static int setp(mc_store *st, void *slot, const void *v)
{
    return set64(st, slot, (uint64_t)(uintptr_t)v);
}

static uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static inline char *item_value(struct mc_item *it)
{
    return it->data + it->nkey;
}

static size_t item_size(size_t nkey, size_t nbytes)
{
    return sizeof(struct mc_item) + nkey + nbytes;
}

static uint64_t heap_bytes(mc_store *st, const struct mc_item *it)
{
    size_t n = 0;
    hr_heap_usable(st->heap, it, &n);
    return n;
}

int64_t mc_exptime(int64_t proto, int64_t now)
{
    if (proto == 0)
        return 0;
    if (proto < 0)
        return 1;              /* in the past: expired at once */
    if (proto <= MC_REALTIME_MAX)
        return now + proto;
    return proto;
}

static int64_t wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

enum { LIVE, EXPIRED, FLUSHED };

static int item_state(const mc_store *st, const struct mc_item *it)
{
    const struct mc_root *r = st->root;
    if (it->exptime && it->exptime <= st->now)
        return EXPIRED;
    if (it->cas <= r->oldest_cas)
        return FLUSHED;
    if (r->oldest_live && r->oldest_live <= st->now &&
        it->time <= r->oldest_live)
        return FLUSHED;
    return LIVE;
}

/* ---- links: every store below is logged first ---- */

static struct mc_item **bucket_of(mc_store *st, uint64_t hv)
{
    return &st->root->buckets[hv & (st->root->nbuckets - 1)];
}

static int lru_unlink(mc_store *st, struct mc_item *it)
{
    struct mc_root *r = st->root;
    TRY(setp(st, it->prev ? &it->prev->next : &r->head, it->next));
    TRY(setp(st, it->next ? &it->next->prev : &r->tail, it->prev));
    return 0;
}

static int lru_push(mc_store *st, struct mc_item *it)
{
    struct mc_root *r = st->root;
    TRY(setp(st, &it->prev, NULL));
    TRY(setp(st, &it->next, r->head));
    TRY(setp(st, r->head ? &r->head->prev : &r->tail, it));
    return setp(st, &r->head, it);
}

/* Take it off its chain and the LRU, and free it (at commit). */
static int unlink_item(mc_store *st, struct mc_item *it)
{
    struct mc_item **link = bucket_of(st, it->hash);
    while (*link && *link != it)
        link = &(*link)->hnext;
    if (!*link)
        return K_EHEAP;        /* not on its chain: the store is damaged */
    TRY(setp(st, link, it->hnext));
    TRY(lru_unlink(st, it));
    struct mc_root *r = st->root;
    TRY(set64(st, &r->items, r->items - 1));
    TRY(set64(st, &r->bytes, r->bytes - heap_bytes(st, it)));
    return hr_heap_free(st->heap, it);
}

/* Link a new (unlogged, fully written) item at its chain's head and the
 * LRU head. */
static int link_item(mc_store *st, struct mc_item *it)
{
    struct mc_item **b = bucket_of(st, it->hash);
    it->hnext = *b;
    it->prev = NULL;
    it->next = st->root->head;
    TRY(setp(st, st->root->head ? &st->root->head->prev : &st->root->tail,
             it));
    TRY(setp(st, &st->root->head, it));
    TRY(setp(st, b, it));
    struct mc_root *r = st->root;
    TRY(set64(st, &r->items, r->items + 1));
    TRY(set64(st, &r->bytes, r->bytes + heap_bytes(st, it)));
    st->n.total_items++;
    return 0;
}

/* The live item of key, or NULL; a dead one met on the way is removed.
 * *res is 0 or a heap error. */
static struct mc_item *find(mc_store *st, const char *key, size_t nkey,
                            int count, int *res)
{
    uint64_t hv = hash_key(key, nkey);
    *res = 0;
    for (struct mc_item *it = *bucket_of(st, hv); it; it = it->hnext) {
        if (it->hash != hv || it->nkey != nkey ||
            memcmp(it->data, key, nkey) != 0)
            continue;
        int s = item_state(st, it);
        if (s == LIVE)
            return it;
        if (count)
            s == EXPIRED ? st->n.get_expired++ : st->n.get_flushed++;
        *res = unlink_item(st, it);
        return NULL;
    }
    return NULL;
}

static int bump(mc_store *st, struct mc_item *it)
{
    if (st->now - it->time < MC_BUMP_S)
        return 0;
    TRY(set64(st, &it->time, (uint64_t)st->now));
    if (st->root->head == it)
        return 0;
    TRY(lru_unlink(st, it));
    return lru_push(st, it);
}

/* ---- transactions ---- */

static int begin(mc_store *st)
{
    st->now = wall_now();
    return hr_heap_begin(st->heap);
}

/* Commit if r is a result, roll back if it is an error. */
static int end(mc_store *st, int r)
{
    if (r < 0) {
        hr_heap_abort(st->heap);
        return r;
    }
    int c = hr_heap_commit(st->heap);
    return c < 0 ? c : r;
}

/* Free items from the LRU tail, in one transaction, until `need` more bytes
 * fit under the limit (or at least one item, for a heap too cut up to give
 * `need` in one piece).  Dead items go first whatever the mode; live ones
 * only when eviction is on.  Returns the number freed, or an error. */
static int make_room(mc_store *st, uint64_t need)
{
    TRY(begin(st));
    int freed = 0, r = 0;
    struct mc_root *root = st->root;
    struct mc_item *it = root->tail;
    while (it && freed < MC_EVICT_BATCH &&
           (freed == 0 || root->bytes + need > st->cfg.mem_limit)) {
        struct mc_item *prev = it->prev;
        int s = item_state(st, it);
        if (s == LIVE && st->cfg.no_evict)
            break;
        if ((r = unlink_item(st, it)) < 0)
            break;
        s == LIVE ? st->n.evictions++ : st->n.reclaimed++;
        freed++;
        it = prev;
    }
    r = end(st, r);
    return r < 0 ? r : freed;
}

/* Make the new item for a put, inside the transaction.  *it NULL with 0:
 * no room (the caller frees some outside the transaction). */
static int new_item(mc_store *st, size_t nkey, size_t nbytes, uint64_t freeing,
                    struct mc_item **it)
{
    *it = NULL;
    size_t size = item_size(nkey, nbytes);
    if (st->root->bytes - freeing + size > st->cfg.mem_limit)
        return 0;
    int r = hr_heap_alloc(st->heap, size, 0, (void **)it);
    if (r == K_ENOMEM) {
        *it = NULL;
        return 0;
    }
    return r;
}

static void fill(mc_store *st, struct mc_item *it, const char *key,
                 size_t nkey, uint64_t hv, uint32_t flags, int64_t exptime,
                 size_t nbytes)
{
    memset(it, 0, sizeof *it);
    it->hash = hv;
    it->nkey = (uint32_t)nkey;
    it->nbytes = (uint32_t)nbytes;
    it->flags = flags;
    it->exptime = exptime;
    it->time = st->now;
    memcpy(it->data, key, nkey);
}

/* One try of a put; PUT_NEED_ROOM asks for room of *need bytes. */
#define PUT_NEED_ROOM (-2000)

static int put_once(mc_store *st, enum mc_op op, const char *key, size_t nkey,
                    uint32_t flags, int64_t exptime, const char *data,
                    size_t nbytes, uint64_t cas, uint64_t *need)
{
    int r;
    struct mc_item *old = find(st, key, nkey, 0, &r);
    TRY(r);
    switch (op) {
    case MC_ADD:
        if (old) {
            TRY(bump(st, old));
            return MC_NOT_STORED;
        }
        break;
    case MC_REPLACE: case MC_APPEND: case MC_PREPEND:
        if (!old)
            return MC_NOT_STORED;
        break;
    case MC_CAS:
        if (!old)
            return st->n.cas_misses++, MC_NOT_FOUND;
        if (old->cas != cas)
            return st->n.cas_badval++, MC_EXISTS;
        break;
    case MC_SET:
        break;
    }
    size_t total = nbytes;
    if (op == MC_APPEND || op == MC_PREPEND) {
        total += old->nbytes;
        flags = old->flags;
        exptime = old->exptime;
        if (item_size(nkey, total) > st->cfg.item_max)
            return MC_TOO_LARGE;
    }
    struct mc_item *it;
    TRY(new_item(st, nkey, total, old ? heap_bytes(st, old) : 0, &it));
    if (!it) {
        *need = item_size(nkey, total);
        return PUT_NEED_ROOM;
    }
    fill(st, it, key, nkey, hash_key(key, nkey), flags, exptime, total);
    char *v = item_value(it);
    if (op == MC_APPEND) {
        memcpy(v, item_value(old), old->nbytes);
        memcpy(v + old->nbytes, data, nbytes);
    } else if (op == MC_PREPEND) {
        memcpy(v, data, nbytes);
        memcpy(v + nbytes, item_value(old), old->nbytes);
    } else {
        memcpy(v, data, nbytes);
    }
    it->cas = st->root->cas_next;
    TRY(set64(st, &st->root->cas_next, st->root->cas_next + 1));
    if (old)
        TRY(unlink_item(st, old));
    TRY(link_item(st, it));
    if (op == MC_CAS)
        st->n.cas_hits++;
    return MC_STORED;
}

/* Run a put, making room between tries when it needs some. */
static int with_room(mc_store *st, int (*once)(mc_store *, const void *,
                                                uint64_t *), const void *arg)
{
    for (int tries = 0; tries < MC_PUT_TRIES; tries++) {
        uint64_t need = 0;
        TRY(begin(st));
        int r = end(st, once(st, arg, &need));
        if (r != PUT_NEED_ROOM)
            return r;
        if (need > st->cfg.mem_limit) {
            st->n.store_no_memory++;
            return MC_NO_MEMORY;
        }
        TRY(r = make_room(st, need));
        if (r == 0) {
            st->n.store_no_memory++;
            return MC_NO_MEMORY;
        }
    }
    st->n.store_no_memory++;
    return MC_NO_MEMORY;
}

struct put_args {
    enum mc_op op;
    const char *key, *data;
    size_t nkey, nbytes;
    uint32_t flags;
    int64_t exptime;
    uint64_t cas;
};

static int put_cb(mc_store *st, const void *arg, uint64_t *need)
{
    const struct put_args *a = arg;
    return put_once(st, a->op, a->key, a->nkey, a->flags,
                    mc_exptime(a->exptime, st->now), a->data, a->nbytes,
                    a->cas, need);
}

int mc_store_too_large(mc_store *st, size_t nkey, size_t nbytes)
{
    if (item_size(nkey, nbytes) <= st->cfg.item_max)
        return 0;
    st->n.store_too_large++;
    return 1;
}

int mc_store_put(mc_store *st, enum mc_op op, const char *key, size_t nkey,
                 uint32_t flags, int64_t exptime, const char *data,
                 size_t nbytes, uint64_t cas)
{
    if (mc_store_too_large(st, nkey, nbytes))
        return MC_TOO_LARGE;
    struct put_args a = {op, key, data, nkey, nbytes, flags, exptime, cas};
    return with_room(st, put_cb, &a);
}

int mc_store_get(mc_store *st, const char *const *keys, const size_t *nkeys,
                 size_t n, int touch, int64_t exptime,
                 void (*emit)(void *, const struct mc_view *), void *arg)
{
    TRY(begin(st));
    int r = 0;
    int64_t exp = mc_exptime(exptime, st->now);
    for (size_t i = 0; i < n && r == 0; i++) {
        struct mc_item *it = find(st, keys[i], nkeys[i], 1, &r);
        if (!it) {
            st->n.get_misses++;
            if (touch)
                st->n.touch_misses++;
            continue;
        }
        if (touch) {
            st->n.touch_hits++;
            if ((r = set64(st, &it->exptime, (uint64_t)exp)) < 0)
                break;
        }
        if ((r = bump(st, it)) < 0)
            break;
        st->n.get_hits++;
        struct mc_view v = {it->data, it->nkey, it->flags, it->cas,
                            item_value(it), it->nbytes};
        emit(arg, &v);
    }
    return end(st, r);
}

int mc_store_delete(mc_store *st, const char *key, size_t nkey)
{
    TRY(begin(st));
    int r;
    struct mc_item *it = find(st, key, nkey, 0, &r);
    if (r == 0 && it && (r = unlink_item(st, it)) == 0)
        r = MC_DELETED;
    else if (r == 0)
        r = MC_NOT_FOUND;
    if (r == MC_DELETED)
        st->n.delete_hits++;
    else if (r == MC_NOT_FOUND)
        st->n.delete_misses++;
    return end(st, r);
}

int mc_store_touch(mc_store *st, const char *key, size_t nkey,
                   int64_t exptime)
{
    TRY(begin(st));
    int r;
    struct mc_item *it = find(st, key, nkey, 0, &r);
    if (r == 0 && it) {
        st->n.touch_hits++;
        r = set64(st, &it->exptime, (uint64_t)mc_exptime(exptime, st->now));
        if (r == 0 && (r = bump(st, it)) == 0)
            r = MC_TOUCHED;
    } else if (r == 0) {
        st->n.touch_misses++;
        r = MC_NOT_FOUND;
    }
    return end(st, r);
}

/* The value as memcached reads it for incr/decr: a decimal 64-bit number,
 * spaces around it allowed. */
static int parse_counter(const char *p, size_t n, uint64_t *out)
{
    size_t i = 0;
    while (i < n && p[i] == ' ')
        i++;
    if (i == n)
        return -1;
    uint64_t v = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    while (i < n && (p[i] == ' ' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i != n)
        return -1;
    *out = v;
    return 0;
}

struct arith_args {
    const char *key;
    size_t nkey;
    int decr;
    uint64_t delta;
    uint64_t *value;
};

static int arith_once(mc_store *st, const void *arg, uint64_t *need)
{
    const struct arith_args *a = arg;
    int r;
    struct mc_item *it = find(st, a->key, a->nkey, 0, &r);
    TRY(r);
    if (!it)
        return MC_NOT_FOUND;
    uint64_t v;
    if (parse_counter(item_value(it), it->nbytes, &v) < 0)
        return MC_NON_NUMERIC;
    v = a->decr ? (v < a->delta ? 0 : v - a->delta) : v + a->delta;
    char buf[24];
    size_t len = (size_t)snprintf(buf, sizeof buf, "%llu",
                                  (unsigned long long)v);
    uint64_t cas = st->root->cas_next;
    TRY(set64(st, &st->root->cas_next, cas + 1));
    *a->value = v;
    if (len == it->nbytes) {            /* same length: in place */
        TRY(hr_heap_write(st->heap, item_value(it), buf, len));
        TRY(set64(st, &it->cas, cas));
        TRY(bump(st, it));
        return MC_VALUE;
    }
    struct mc_item *n;
    TRY(new_item(st, it->nkey, len, heap_bytes(st, it), &n));
    if (!n) {
        *need = item_size(it->nkey, len);
        return PUT_NEED_ROOM;
    }
    fill(st, n, it->data, it->nkey, it->hash, it->flags, it->exptime, len);
    memcpy(item_value(n), buf, len);
    n->cas = cas;
    TRY(unlink_item(st, it));
    TRY(link_item(st, n));
    return MC_VALUE;
}

int mc_store_arith(mc_store *st, const char *key, size_t nkey, int decr,
                   uint64_t delta, uint64_t *value)
{
    struct arith_args a = {key, nkey, decr, delta, value};
    int r = with_room(st, arith_once, &a);
    uint64_t *hit = decr ? &st->n.decr_hits : &st->n.incr_hits;
    uint64_t *miss = decr ? &st->n.decr_misses : &st->n.incr_misses;
    if (r == MC_VALUE)
        (*hit)++;
    else if (r == MC_NOT_FOUND)
        (*miss)++;
    return r;
}

int mc_store_flush(mc_store *st, int64_t delay)
{
    TRY(begin(st));
    struct mc_root *r = st->root;
    int res;
    if (delay > 0)
        res = set64(st, &r->oldest_live, (uint64_t)(st->now + delay));
    else
        res = set64(st, &r->oldest_cas, r->cas_next - 1);
    return end(st, res);
}

const struct mc_counters *mc_store_counters(const mc_store *st)
{
    return &st->n;
}

void mc_store_reset_counters(mc_store *st)
{
    memset(&st->n, 0, sizeof st->n);
}

int mc_store_usage(mc_store *st, struct mc_usage *u)
{
    TRY(begin(st));
    *u = (struct mc_usage){st->root->items, st->root->bytes,
                           st->root->mem_limit, st->root->nbuckets};
    return end(st, 0);
}

/* ---- opening ---- */

static uint64_t buckets_for(uint64_t mem_limit)
{
    uint64_t n = 1024;
    while (n < mem_limit / 256)
        n <<= 1;
    return n;
}

uint64_t mc_store_heap_size(uint64_t mem_limit)
{
    /* items, an eighth more for the allocator's headers and the pieces
     * between them, the table, the undo log (an eighth of the block, at
     * most 16 MiB) and the heap's header */
    uint64_t arena = mem_limit + mem_limit / 8 + buckets_for(mem_limit) * 8 +
                     (1u << 20);
    uint64_t log = arena / 7 > (16u << 20) ? (16u << 20) : arena / 7;
    uint64_t size = arena + log + (64u << 10);
    return (size + 4095) & ~4095ull;
}

static int make_root(mc_store *st)
{
    struct mc_root *r;
    TRY(begin(st));
    int res = hr_heap_alloc(st->heap, sizeof *r, HR_HEAP_ZERO, (void **)&r);
    if (res == 0) {
        r->version = MC_VERSION;
        r->item_hdr = sizeof(struct mc_item);
        r->mem_limit = st->cfg.mem_limit;
        r->nbuckets = buckets_for(st->cfg.mem_limit);
        r->cas_next = 1;
        res = hr_heap_alloc(st->heap, r->nbuckets * sizeof *r->buckets,
                            HR_HEAP_ZERO, (void **)&r->buckets);
    }
    if (res == 0) {
        r->magic = MC_MAGIC;       /* new objects: no log needed */
        res = hr_heap_set_root(st->heap, r);
    }
    return end(st, res);
}

int mc_store_open(mc_store **out, pmm_bank *bank, const char *name,
                  const struct mc_config *cfg, uint64_t *made_limit)
{
    mc_store *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    st->cfg = *cfg;
    /* an existing heap is opened whatever its size: its limit is checked
     * below, to say what it was made with */
    int r = hr_heap_open(&st->heap, bank, name, 0, "hrcached", 8,
                         HR_HEAP_RETRIEVE);
    if (r == K_EUNKNOWN && cfg->mem_limit)
        r = hr_heap_open(&st->heap, bank, name,
                         mc_store_heap_size(cfg->mem_limit), "hrcached", 8,
                         0);
    if (r < 0)
        goto fail_open;
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
    if (st->root->magic != MC_MAGIC || st->root->version != MC_VERSION ||
        st->root->item_hdr != sizeof(struct mc_item)) {
        r = MC_BAD_ROOT;
        goto fail_root;
    }
    if (!cfg->mem_limit)
        st->cfg.mem_limit = st->root->mem_limit;
    else if (st->root->mem_limit != cfg->mem_limit) {
        *made_limit = st->root->mem_limit;
        r = MC_OTHER_LIMIT;
        goto fail_root;
    }
    *out = st;
    return 0;
fail_root:
    hr_heap_close(st->heap);
fail_open:
    free(st);
    return r;
}

void mc_store_close(mc_store *st)
{
    if (!st)
        return;
    hr_heap_close(st->heap);
    free(st);
}

/* ---- verification ---- */

static int problem(void (*fn)(const char *, void *), void *arg,
                   const char *what)
{
    if (fn)
        fn(what, arg);
    return 1;
}

static int walk_lru(mc_store *st, void (*fn)(const char *, void *), void *arg,
                    uint64_t *n, uint64_t *bytes)
{
    const struct mc_root *r = st->root;
    const struct mc_item *prev = NULL;
    *n = *bytes = 0;
    for (const struct mc_item *it = r->head; it; prev = it, it = it->next) {
        if (it->prev != prev)
            return problem(fn, arg, "LRU: an item's prev is not the item before it");
        if (it->nkey == 0 || it->nkey > MC_KEY_MAX)
            return problem(fn, arg, "an item has a bad key length");
        if (it->hash != hash_key(it->data, it->nkey))
            return problem(fn, arg, "an item's hash is not its key's");
        if (it->cas >= r->cas_next)
            return problem(fn, arg, "an item's cas is not below cas_next");
        if (++*n > r->items)
            return problem(fn, arg, "LRU list longer than the item count");
        *bytes += heap_bytes(st, it);
    }
    if (r->tail != prev)
        return problem(fn, arg, "LRU tail is not the last item");
    return 0;
}

static int walk_chains(mc_store *st, void (*fn)(const char *, void *),
                       void *arg, uint64_t *n)
{
    const struct mc_root *r = st->root;
    *n = 0;
    for (uint64_t b = 0; b < r->nbuckets; b++)
        for (const struct mc_item *it = r->buckets[b]; it; it = it->hnext) {
            if ((it->hash & (r->nbuckets - 1)) != b)
                return problem(fn, arg, "an item is on another hash chain");
            if (++*n > r->items)
                return problem(fn, arg, "hash chains hold more than the item count");
        }
    return 0;
}

int mc_store_verify(mc_store *st, void (*fn)(const char *, void *), void *arg)
{
    TRY(begin(st));
    int bad = hr_heap_check(st->heap, fn, arg) != 0;
    uint64_t n_lru = 0, bytes = 0, n_hash = 0;
    if (!bad)
        bad = walk_lru(st, fn, arg, &n_lru, &bytes) ||
              walk_chains(st, fn, arg, &n_hash);
    if (!bad && (n_lru != st->root->items || n_hash != st->root->items))
        bad = problem(fn, arg, "item count differs from the LRU or the chains");
    if (!bad && bytes != st->root->bytes)
        bad = problem(fn, arg, "byte count differs from the items' sizes");
    hr_heap_abort(st->heap);
    return bad ? K_EHEAP : 0;
}
