/* SPDX-License-Identifier: MIT */
/*
 * store.c - the item store of hrcached in one persistent heap: its
 * operations (put in its modes, get, delete, touch, incr/decr, flush,
 * counters).  The hash chains, the LRU list, transactions, opening and
 * verification are table.c's; the layout is item.h's.
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
 * set64/setp of item.h), a new item is written before it is linked, a dead or
 * replaced item is freed in the transaction that unlinks it.  A kill at any
 * instruction is rolled back by the next hr_heap_open or hr_heap_begin;
 * the caller replies to its client only after the commit.
 *
 * Eviction runs in transactions of its own, before the store that needs
 * the room, because the heap gives back freed memory only at commit
 * (room.c's mc_store_with_room runs a put's tries and the evictions).
 * Expired and flushed items are removed when met (a lookup, the LRU tail).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hotrestart/errors.h>
#include <hotrestart/heap.h>

#include "item.h"
#include "store.h"
#include "store_int.h"
#include "table.h"

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

static int over_item_max(const mc_store *st, size_t nkey, uint32_t flags,
                         size_t nbytes)
{
    return nkey + nbytes + MC_ITEM_OVERHEAD +
           (flags ? MC_ITEM_OVERHEAD_FLAGS : 0) > st->cfg.item_max;
}

/* One try of a put; PUT_NEED_ROOM asks for room of *need bytes.  The
 * cas checks are memcached's do_store_item's: cas mode compares (0 never
 * matches), with p->stale a lower cas stores the value as stale, keeping
 * the old expiry; append/prepend with p->has_cas compare too; add ignores
 * it. */
#define PUT_NEED_ROOM MC_STORE_NEED_ROOM

static int put_once(mc_store *st, const struct mc_put *p, uint64_t *need)
{
    int r;
    struct mc_item *old = mc_tab_find(st, p->key, p->nkey, 0, &r);
    MC_TRY(r);
    uint32_t flags = p->flags, bits = 0;
    int64_t exptime = mc_exptime(p->exptime, st->now);
    switch (p->op) {
    case MC_ADD:
        if (old) {
            MC_TRY(mc_tab_renew(st, old));
            return MC_NOT_STORED;
        }
        break;
    case MC_REPLACE: case MC_APPEND: case MC_PREPEND:
        if (!old)
            return MC_NOT_STORED;
        if (p->op != MC_REPLACE && p->has_cas && p->cas && p->cas != old->cas)
            return MC_EXISTS;
        break;
    case MC_CAS:
        if (!old)
            return st->n.cas_misses++, MC_NOT_FOUND;
        if (p->stale && p->cas && p->cas < old->cas) {
            exptime = old->exptime;     /* a stale value, until recached */
            bits = MC_IT_STALE | (old->bits & MC_IT_TOKEN);
        } else if (old->cas != p->cas) {
            return st->n.cas_badval++, MC_EXISTS;
        }
        break;
    case MC_SET:
        break;
    }
    size_t nbytes = p->nbytes, total = nbytes;
    if (p->op == MC_APPEND || p->op == MC_PREPEND) {
        total += old->nbytes;
        flags = old->flags;
        exptime = old->exptime;
        if (over_item_max(st, p->nkey, flags, total))
            return MC_NOT_STORED;       /* memcached: no item that large */
    }
    struct mc_item *it;
    MC_TRY(new_item(st, p->nkey, total, old ? heap_bytes(st, old) : 0, &it));
    if (!it) {
        *need = item_size(p->nkey, total);
        return PUT_NEED_ROOM;
    }
    fill(st, it, p->key, p->nkey, hash_key(p->key, p->nkey), flags, exptime,
         total);
    if (p->binary && p->op != MC_APPEND && p->op != MC_PREPEND)
        bits |= MC_IT_BINKEY;           /* memcached's ITEM_KEY_BINARY */
    it->bits = bits;
    char *v = item_value(it);
    if (p->op == MC_APPEND) {
        memcpy(v, item_value(old), old->nbytes);
        memcpy(v + old->nbytes, p->data, nbytes);
    } else if (p->op == MC_PREPEND) {
        memcpy(v, p->data, nbytes);
        memcpy(v + nbytes, item_value(old), old->nbytes);
    } else {
        memcpy(v, p->data, nbytes);
    }
    it->cas = st->root->cas_next;
    MC_TRY(set64(st, &st->root->cas_next, st->root->cas_next + 1));
    MC_TRY(old ? mc_tab_replace(st, old, it) : mc_tab_link(st, it));
    if (p->op == MC_CAS)
        st->n.cas_hits++;
    if (p->cas_out)
        *p->cas_out = it->cas;
    return MC_STORED;
}

static int put_cb(mc_store *st, const void *arg, uint64_t *need)
{
    return put_once(st, arg, need);
}

int mc_store_too_large(mc_store *st, size_t nkey, uint32_t flags,
                       size_t nbytes)
{
    if (!over_item_max(st, nkey, flags, nbytes))
        return 0;
    st->n.store_too_large++;
    return 1;
}

int mc_store_put(mc_store *st, enum mc_op op, const char *key, size_t nkey,
                 uint32_t flags, int64_t exptime, const char *data,
                 size_t nbytes, uint64_t cas)
{
    struct mc_put p = {.op = op, .key = key, .nkey = nkey, .flags = flags,
                       .exptime = exptime, .data = data, .nbytes = nbytes,
                       .cas = cas};
    return mc_store_mput(st, &p);
}

int mc_store_mput(mc_store *st, const struct mc_put *p)
{
    if (mc_store_too_large(st, p->nkey, p->flags, p->nbytes))
        return MC_TOO_LARGE;
    mc_tab_prefetch(st, p->key, p->nkey);
    return mc_store_with_room(st, put_cb, p, p->key, p->nkey);
}

static void emit_item(struct mc_item *it,
                      void (*emit)(void *, const struct mc_view *), void *arg)
{
    struct mc_view v = {it->data, it->nkey, it->flags, it->cas,
                        item_value(it), it->nbytes};
    emit(arg, &v);
}

/* A get that stores nothing but active bits (every key missing, or live
 * and renewed within MC_BUMP_S), with the lock shared beside other such
 * gets and no transaction: 1 done, 0 a key needs a store (nothing
 * emitted). */
static int get_read_only(mc_store *st, const char *const *keys,
                         const size_t *nkeys, size_t n,
                         void (*emit)(void *, const struct mc_view *),
                         void *arg)
{
    struct mc_item *found[64];
    if (n > sizeof found / sizeof found[0])
        return 0;
    mc_tab_read_begin(st);
    for (size_t i = 0; i < n; i++) {
        found[i] = mc_tab_peek(st, keys[i], nkeys[i]);
        if (found[i] && mc_tab_get_writes(st, found[i])) {
            mc_tab_read_end(st);
            return 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!found[i]) {
            st->n.get_misses++;
            continue;
        }
        st->n.get_hits++;
        mc_tab_mark_read(found[i]);
        emit_item(found[i], emit, arg);
    }
    mc_tab_read_end(st);
    return 1;
}

int mc_store_get(mc_store *st, const char *const *keys, const size_t *nkeys,
                 size_t n, int touch, int64_t exptime,
                 void (*emit)(void *, const struct mc_view *), void *arg)
{
    for (size_t i = 0; i < n; i++)
        mc_tab_prefetch(st, keys[i], nkeys[i]);
    if (!touch && n > 0 && get_read_only(st, keys, nkeys, n, emit, arg))
        return 0;
    MC_TRY(mc_tab_begin(st));
    int r = 0;
    int64_t exp = mc_exptime(exptime, st->now);
    for (size_t i = 0; i < n && r == 0; i++) {
        struct mc_item *it = mc_tab_find(st, keys[i], nkeys[i], 1, &r);
        if (!it) {
            touch ? st->n.touch_misses++ : st->n.get_misses++;
            continue;
        }
        if (touch) {
            st->n.touch_hits++;
            if ((r = set64(st, &it->exptime, (uint64_t)exp)) < 0)
                break;
        }
        if ((r = mc_tab_bump(st, it)) < 0)
            break;
        if (!touch)
            st->n.get_hits++;
        emit_item(it, emit, arg);
    }
    return mc_tab_end(st, r);
}

static int delete_key(mc_store *st, const char *key, size_t nkey, int count)
{
    mc_tab_prefetch(st, key, nkey);
    MC_TRY(mc_tab_begin(st));
    int r;
    struct mc_item *it = mc_tab_find(st, key, nkey, 0, &r);
    if (r == 0 && it && (r = mc_tab_unlink(st, it)) == 0)
        r = MC_DELETED;
    else if (r == 0)
        r = MC_NOT_FOUND;
    if (count && r == MC_DELETED)
        st->n.delete_hits++;
    else if (count && r == MC_NOT_FOUND)
        st->n.delete_misses++;
    return mc_tab_end(st, r);
}

int mc_store_delete(mc_store *st, const char *key, size_t nkey)
{
    return delete_key(st, key, nkey, 1);
}

int mc_store_drop(mc_store *st, const char *key, size_t nkey)
{
    return delete_key(st, key, nkey, 0);
}

int mc_store_touch(mc_store *st, const char *key, size_t nkey,
                   int64_t exptime)
{
    MC_TRY(mc_tab_begin(st));
    int r;
    struct mc_item *it = mc_tab_find(st, key, nkey, 0, &r);
    if (r == 0 && it) {
        st->n.touch_hits++;
        r = set64(st, &it->exptime, (uint64_t)mc_exptime(exptime, st->now));
        if (r == 0 && (r = mc_tab_bump(st, it)) == 0)
            r = MC_TOUCHED;
    } else if (r == 0) {
        st->n.touch_misses++;
        r = MC_NOT_FOUND;
    }
    return mc_tab_end(st, r);
}

/* The value as memcached reads it for incr/decr (strtoull on the value,
 * which ends in \r\n there): white space, a sign, at least one digit,
 * then the end, a white space or a NUL byte (where its C string ends: a
 * counter a C client stored with its terminating NUL counts); out of
 * range, or a negative number that reads as above INT64_MAX, is not a
 * number. */
static int parse_counter(const char *p, size_t n, uint64_t *out)
{
    size_t i = 0;
    while (i < n && isspace((unsigned char)p[i]))
        i++;
    int neg = i < n && p[i] == '-';
    if (i < n && (p[i] == '-' || p[i] == '+'))
        i++;
    size_t first = i;
    uint64_t v = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (i == first || (i < n && !isspace((unsigned char)p[i]) && p[i] != 0))
        return -1;
    if (neg)
        v = -v;
    if ((int64_t)v < 0 && memchr(p, '-', n))
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

size_t mc_u64_digits(uint64_t v, char *buf)
{
    return (size_t)snprintf(buf, 24, "%llu", (unsigned long long)v);
}

int mc_store_arith_item(mc_store *st, struct mc_item *it, int decr,
                        uint64_t delta, uint64_t *value, uint64_t *need,
                        struct mc_item **out)
{
    uint64_t v;
    *out = it;
    if (parse_counter(item_value(it), it->nbytes, &v) < 0)
        return MC_NON_NUMERIC;
    v = decr ? (v < delta ? 0 : v - delta) : v + delta;
    char buf[24];
    size_t len = mc_u64_digits(v, buf);
    uint64_t cas = st->root->cas_next;
    MC_TRY(set64(st, &st->root->cas_next, cas + 1));
    *value = v;
    if (len <= it->nbytes) {
        /* fits: in place, padded with spaces to its length (memcached's
         * way: "10" decremented to 9 reads back as "9 ").  Only the bytes
         * that change are saved: a number padded far with spaces would
         * take its whole value into a lane's log, more than it holds
         * under a small -m */
        char *val = item_value(it);
        size_t end = it->nbytes;
        while (end > len && val[end - 1] == ' ')
            end--;
        MC_TRY(hr_heap_add(st->heap, val, end));
        memcpy(val, buf, len);
        memset(val + len, ' ', end - len);
        MC_TRY(set64(st, &it->cas, cas));
        MC_TRY(mc_tab_renew(st, it));
        return MC_VALUE;
    }
    struct mc_item *n;
    MC_TRY(new_item(st, it->nkey, len, heap_bytes(st, it), &n));
    if (!n) {
        *need = item_size(it->nkey, len);
        return PUT_NEED_ROOM;
    }
    fill(st, n, it->data, it->nkey, it->hash, it->flags, it->exptime, len);
    memcpy(item_value(n), buf, len);
    n->cas = cas;
    MC_TRY(mc_tab_replace(st, it, n));
    *out = n;
    return MC_VALUE;
}

static int arith_once(mc_store *st, const void *arg, uint64_t *need)
{
    const struct arith_args *a = arg;
    int r;
    struct mc_item *it = mc_tab_find(st, a->key, a->nkey, 0, &r);
    MC_TRY(r);
    if (!it)
        return MC_NOT_FOUND;
    return mc_store_arith_item(st, it, a->decr, a->delta, a->value, need,
                               &it);
}

int mc_store_arith(mc_store *st, const char *key, size_t nkey, int decr,
                   uint64_t delta, uint64_t *value)
{
    struct arith_args a = {key, nkey, decr, delta, value};
    int r = mc_store_with_room(st, arith_once, &a, key, nkey);
    uint64_t *hit = decr ? &st->n.decr_hits : &st->n.incr_hits;
    uint64_t *miss = decr ? &st->n.decr_misses : &st->n.incr_misses;
    if (r == MC_VALUE)
        (*hit)++;
    else if (r == MC_NOT_FOUND)
        (*miss)++;
    return r;
}

int mc_store_flush(mc_store *st, int64_t delay, int64_t since)
{
    MC_TRY(mc_tab_begin(st));
    struct mc_root *r = st->root;
    int res;
    uint64_t next = r->cas_next;
    /* memcached's: the argument read as an expiry (a delay up to 30 days,
     * a unix time above), 0 or less now; items last stored or bumped up
     * to when - 1 are dead from that second on (delay 1: this second's,
     * later ones too).  A flush that takes effect now also kills every
     * item there is by its cas, and takes a cas value itself (the next
     * item's cas shows it).  A unix time before memcached's clock starts
     * turns flushing off: no flush, none pending. */
    int64_t when = delay > 0 ? mc_exptime(delay, st->now) : st->now;
    if (delay > MC_REALTIME_MAX && delay <= since)
        when = 0;
    int64_t oldest = when ? when - 1 : 0;
    res = set64(st, &r->oldest_live, (uint64_t)oldest);
    if (res == 0 && when && oldest <= st->now)
        res = set64(st, &r->oldest_cas, next - 1);
    if (res == 0 && when && oldest <= st->now)
        res = set64(st, &r->cas_next, next + 1);
    return mc_tab_end(st, res);
}

const struct mc_counters *mc_store_counters(const mc_store *st)
{
    return &st->n;
}

void mc_store_reset_counters(mc_store *st)
{
    memset(&st->n, 0, sizeof st->n);
}

int mc_store_count_start(mc_store *st)
{
    MC_TRY(mc_tab_begin(st));
    return mc_tab_end(st, set64(st, &st->root->starts, st->root->starts + 1));
}
