/* SPDX-License-Identifier: MIT */
/*
 * store_meta.c - the store's side of memcached's meta commands: mg's
 * fetch with its recache tokens and vivify, md's delete or mark stale,
 * ma's incr/decr with a cas check and vivify.  (ms is mc_store_mput, in
 * store.c.)  Each call is one transaction, as store.c's; a stale mark or a
 * token given is a logged store of the item's bits (item.h).
 *
 * The recache rules are memcached 1.6's: a stale item, or one whose expiry
 * comes before mg's R time, gives the win (W) to the first fetch, and Z to
 * the later ones until a new value is stored; a vivified miss gives the win
 * to the fetch that made it.
 */
#define _GNU_SOURCE
#include <string.h>

#include <hotrestart/errors.h>
#include <hotrestart/heap.h>

#include "item.h"
#include "store.h"
#include "store_int.h"
#include "table.h"

static void view_of(mc_store *st, struct mc_item *it, struct mc_meta_view *m)
{
    m->v = (struct mc_view){it->data, it->nkey, it->flags, it->cas,
                            item_value(it), it->nbytes};
    m->exptime = it->exptime;
    m->age = st->now - it->time;
    m->now = st->now;
}

/* Make an empty item of key (vivify), linked, with this expiry. */
static int vivify(mc_store *st, const char *key, size_t nkey, int64_t exptime,
                  const char *data, size_t nbytes, struct mc_item **out)
{
    *out = NULL;
    struct mc_item *it;
    size_t size = item_size(nkey, nbytes);
    if (st->root->bytes + size > st->cfg.mem_limit)
        return 0;
    int r = hr_heap_alloc(st->heap, size, 0, (void **)&it);
    if (r == K_ENOMEM)
        return 0;
    MC_TRY(r);
    memset(it, 0, sizeof *it);
    it->hash = hash_key(key, nkey);
    it->nkey = (uint32_t)nkey;
    it->nbytes = (uint32_t)nbytes;
    it->exptime = exptime;
    it->time = st->now;
    memcpy(it->data, key, nkey);
    memcpy(item_value(it), data, nbytes);
    it->cas = st->root->cas_next;
    MC_TRY(set64(st, &st->root->cas_next, st->root->cas_next + 1));
    MC_TRY(mc_tab_link(st, it));
    *out = it;
    return 0;
}

struct mget_args {
    const char *key;
    size_t nkey;
    const struct mc_mget *q;
    void (*emit)(void *, const struct mc_meta_view *);
    void *arg;
};

/* A try of mg: MC_STORE_NEED_ROOM when N finds no room for its item
 * (nothing emitted, nothing counted: mc_store_with_room evicts and tries
 * again, as ma's N). */
static int mget_in(mc_store *st, const void *args, uint64_t *need)
{
    const struct mget_args *a = args;
    const struct mc_mget *q = a->q;
    int r;
    struct mc_item *it = mc_tab_find(st, a->key, a->nkey, !q->quiet, &r);
    MC_TRY(r);
    struct mc_meta_view m = {0};
    if (!it && q->vivify) {
        MC_TRY(vivify(st, a->key, a->nkey,
                      mc_exptime(q->viv_exptime, st->now), "", 0, &it));
        if (!it) {
            *need = item_size(a->nkey, 0);
            return MC_STORE_NEED_ROOM;
        }
        m.created = m.won = 1;
    }
    if (!it) {
        st->n.get_misses += !q->quiet;
        return MC_NOT_FOUND;
    }
    m.bits = m.created ? 0 : it->bits;
    if (!m.created && q->recache && !(it->bits & MC_IT_TOKEN) &&
        it->exptime != 0 && it->exptime < mc_exptime(q->recache_time, st->now))
        m.won = 1;
    if ((it->bits & MC_IT_STALE) && !(it->bits & MC_IT_TOKEN))
        m.won = 1;
    view_of(st, it, &m);
    if (m.created)
        m.exptime = 0;          /* N sets it, in the flags' order */
    if (m.won && !q->refused)
        MC_TRY(mc_tab_set_bits(st, it, it->bits | MC_IT_TOKEN));
    if (q->touch)
        MC_TRY(set64(st, &it->exptime,
                     (uint64_t)mc_exptime(q->exptime, st->now)));
    if (!q->no_bump)
        MC_TRY(mc_tab_bump(st, it));
    if (!q->quiet)
        q->touch ? st->n.touch_hits++ : st->n.get_hits++;
    a->emit(a->arg, &m);
    return 0;
}

int mc_store_mget(mc_store *st, const char *key, size_t nkey,
                  const struct mc_mget *q,
                  void (*emit)(void *, const struct mc_meta_view *),
                  void *arg)
{
    struct mget_args a = {key, nkey, q, emit, arg};
    int r = mc_store_with_room(st, mget_in, &a, key, nkey);
    if (r != MC_NO_MEMORY)
        return r;
    st->n.get_misses += !q->quiet; /* memcached: a miss when N finds no room */
    return MC_NOT_FOUND;
}

static int mdelete_in(mc_store *st, const char *key, size_t nkey,
                      const struct mc_mdelete *q)
{
    int r;
    struct mc_item *it = mc_tab_find(st, key, nkey, 0, &r);
    MC_TRY(r);
    if (!it)
        return st->n.delete_misses++, MC_NOT_FOUND;
    if (q->has_cas && it->cas != q->cas)
        return st->n.delete_misses++, MC_EXISTS;
    if (!q->stale) {
        MC_TRY(mc_tab_unlink(st, it));
        return st->n.delete_hits++, MC_DELETED;
    }
    /* stale: kept for the one who wins its recache, with a new cas */
    if (q->touch)
        MC_TRY(set64(st, &it->exptime,
                     (uint64_t)mc_exptime(q->exptime, st->now)));
    MC_TRY(mc_tab_set_bits(st, it, (it->bits | MC_IT_STALE) & ~MC_IT_TOKEN));
    MC_TRY(set64(st, &it->cas, st->root->cas_next));
    MC_TRY(set64(st, &st->root->cas_next, st->root->cas_next + 1));
    return MC_DELETED;
}

int mc_store_mdelete(mc_store *st, const char *key, size_t nkey,
                     const struct mc_mdelete *q)
{
    MC_TRY(mc_tab_begin(st));
    return mc_tab_end(st, mdelete_in(st, key, nkey, q));
}

struct marith_args {
    const char *key;
    size_t nkey;
    const struct mc_marith *q;
    struct mc_marith_out *out;
};

static int marith_in(mc_store *st, const void *arg, uint64_t *need)
{
    const struct marith_args *a = arg;
    const struct mc_marith *q = a->q;
    int r;
    struct mc_item *it = mc_tab_find(st, a->key, a->nkey, 0, &r);
    MC_TRY(r);
    a->out->now = st->now;
    a->out->created = 0;
    if (!it && q->vivify) {
        char buf[24];
        size_t len = mc_u64_digits(q->initial, buf);
        MC_TRY(vivify(st, a->key, a->nkey, 0, buf, len, &it));
        if (!it) {
            *need = item_size(a->nkey, len);
            return MC_STORE_NEED_ROOM;
        }
        a->out->created = 1;
        a->out->value = q->initial;
    } else if (!it) {
        return MC_NOT_FOUND;
    } else if (it->nbytes == 0) {
        return MC_NON_NUMERIC;          /* before the cas, as memcached */
    } else if (q->cas && it->cas != q->cas) {
        return MC_EXISTS;
    } else {
        r = mc_store_arith_item(st, it, q->decr, q->delta, &a->out->value,
                                need, &it);
        if (r != MC_VALUE)
            return r;
    }
    a->out->cas = it->cas;
    a->out->exptime = it->exptime;
    if (a->out->created)
        MC_TRY(set64(st, &it->exptime,
                     (uint64_t)mc_exptime(q->viv_exptime, st->now)));
    if (q->touch)
        MC_TRY(set64(st, &it->exptime,
                     (uint64_t)mc_exptime(q->exptime, st->now)));
    return MC_VALUE;
}

int mc_store_marith(mc_store *st, const char *key, size_t nkey,
                    const struct mc_marith *q, struct mc_marith_out *out)
{
    struct marith_args a = {key, nkey, q, out};
    int r = mc_store_with_room(st, marith_in, &a, key, nkey);
    uint64_t *miss = q->decr ? &st->n.decr_misses : &st->n.incr_misses;
    uint64_t *hit = q->decr ? &st->n.decr_hits : &st->n.incr_hits;
    if (r == MC_VALUE && !out->created)
        (*hit)++;               /* one N made is an item only (memcached) */
    else if (r == MC_NOT_FOUND)
        (*miss)++;
    return r;
}
