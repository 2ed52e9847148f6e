/* SPDX-License-Identifier: MIT */
/*
 * held.c - listening sockets held for direct actors (see held.h).
 *
 * Invariants: d->slot[slot].nheld > 0 only for a used slot, and its held_fd are
 * open listening sockets, close-on-exec (so that no other actor inherits
 * them) except between hrd_held_export() and the exec that follows it.
 * No two slots hold sockets bound at one address: an actor asking for an
 * address another holds is refused (-EADDRINUSE), a unix path as a TCP
 * port.  A unix socket's file goes when its actor leaves the registry.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "held.h"
#include "hrd.h"
#include "log.h"
#include "os/ctl.h"
#include "os/os.h"

#define BACKLOG 1024

/* -EADDRINUSE when another actor's socket is bound where spec says: the
 * controller answers for its own sockets, without connecting to them (a
 * connection would reach that actor). */
static int held_elsewhere(const struct hrd *d, const char *spec)
{
    for (int slot = 0; slot < HR_REG_ACTORS; slot++)
        for (int i = 0; i < d->slot[slot].nheld; i++)
            if (pmm__os_listens_on(d->slot[slot].held_fd[i], spec))
                return -EADDRINUSE;
    return 0;
}

/* Sockets passed by the controller before (a site restart's exec, or
 * taken back from a dead one's actors: leftover.c) whose slot is no one's
 * now: after a cold restart, every one.  An actor that asks for the same
 * address takes its socket (clients kept waiting in its backlog).
 * hrd_held_pool_end() closes the others after the start-up, but for those
 * an actor asked for and could not take, another of its addresses failing
 * (kept_owner[i], its slot; else -1): they wait for its next start, and
 * go when it leaves the registry.  (A parallel array: gather() shares its
 * plain descriptor list with leftover.c's pool.) */
static int kept[HR_REG_ACTORS * HRD_HELD_MAX];
static int kept_owner[HR_REG_ACTORS * HRD_HELD_MAX];
static int nkept;

void hrd_held_pool_keep(int fd, int owner)
{
    if (nkept == (int)(sizeof kept / sizeof kept[0])) {
        pmm__os_close(fd);
        return;
    }
    kept_owner[nkept] = owner;
    kept[nkept++] = fd;
}

/* Close a socket of ours and remove its unix socket's file. */
static void drop(int fd)
{
    pmm__os_unlink_socket_of(fd); /* no file left */
    pmm__os_close(fd);
}

/* The pool's sockets that slot waited for: closed (how many), or, before
 * hrd_held_pool_end(), left to any actor that asks during the start-up
 * (an arun line's actor that never ran leaves the registry at once: its
 * sockets may serve a later line's). */
static int pool_end_ran;
static int pool_drop(int slot)
{
    int n = 0;
    for (int i = 0; i < nkept; i++) {
        if (kept[i] < 0 || kept_owner[i] != slot)
            continue;
        kept_owner[i] = -1;
        if (pool_end_ran) {
            drop(kept[i]);
            kept[i] = -1;
            n++;
        }
    }
    return n;
}

/* The entry of pool listening where spec says, or -1. */
static int pooled(const int *pool, int npool, const char *spec)
{
    for (int i = 0; i < npool; i++)
        if (pool[i] >= 0 && pmm__os_listens_on(pool[i], spec))
            return i;
    return -1;
}

/* The actor other than slot, still registered, that pool's entry i waits
 * for (owner[i]), or -1. */
static int waits_for(const struct hrd *d, int slot, const int *owner, int i)
{
    int o = owner && i >= 0 ? owner[i] : -1;
    return o >= 0 && o != slot && d->reg->actors[o].used ? o : -1;
}

/* Undo a gather() of n sockets: each one from pool back in its entry
 * from[k] (owner, if any, set to slot there: it waits for slot), each one
 * made now closed. */
static void give_back(struct hrd *d, int slot, int n, const int *from,
                      int *pool, int *owner)
{
    while (n-- > 0) {
        int fd = d->slot[slot].held_fd[n];
        if (from[n] < 0) {
            drop(fd);
            continue;
        }
        pool[from[n]] = fd;
        if (owner)
            owner[from[n]] = slot;
    }
}

/* A start that cannot have its socket spec: logged, and said to the
 * caller of the start (d->start_why), who would otherwise be told of the
 * program. */
__attribute__((format(printf, 4, 5))) static void
cannot_listen(struct hrd *d, int slot, const char *spec, const char *fmt, ...)
{
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    hrd_log(d, HRD_ERR, "actor %s: cannot listen on %s: %s",
            d->reg->actors[slot].name, spec, why);
    snprintf(d->start_why, sizeof d->start_why, "--listen %.100s: %s", spec,
             why);
    d->start_step = 0; /* before any step of the child's */
}

enum gather_for {
    FOR_START, /* hrd_held_open: log why it fails */
    FOR_TAKE,  /* hrd_held_take: quiet, and at least one from pool */
};

/* Into slot's held_fd, for each spec of specs: the socket pool (npool
 * descriptors) has there, taken (its entry set to -1), else one made now.
 * Their count, *taken of them from pool; or 0 (FOR_TAKE: none in pool)
 * or -errno, with everything undone by give_back(): a start that fails
 * closes no socket with clients waiting in its backlog. */
static int gather(struct hrd *d, int slot, const char *specs, int *pool,
                  int npool, int *owner, enum gather_for why, int *taken)
{
    char buf[1024], said[160] = "";
    int from[HRD_HELD_MAX], n = 0, r = 0;
    *taken = 0;
    if (snprintf(buf, sizeof buf, "%s", specs) >= (int)sizeof buf)
        return -EINVAL;
    for (char *save, *s = strtok_r(buf, ",", &save); s;
         s = strtok_r(NULL, ",", &save)) {
        if (n == HRD_HELD_MAX) { /* checked before any is taken */
            r = -EINVAL;
            if (why == FOR_START)
                cannot_listen(d, slot, s, "at most %d --listen per actor",
                              HRD_HELD_MAX);
            break;
        }
        int at = pooled(pool, npool, s), other = waits_for(d, slot, owner, at);
        if (other >= 0) { /* ours: no connection to it, no new socket */
            r = -EADDRINUSE;
            if (why == FOR_START)
                cannot_listen(d, slot, s, "the controller holds it for "
                              "actor %s's next start",
                              d->reg->actors[other].name);
            break;
        }
        if ((from[n] = at) >= 0) {
            r = pool[at];
            pool[at] = -1;
            ++*taken;
        } else if (strncmp(s, "unix:", 5) == 0 && s[5] != '/') {
            r = -EINVAL; /* bound in our directory, "/", not the caller's */
            if (why == FOR_START)
                cannot_listen(d, slot, s, "a unix: path must be absolute");
            break;
        } else if ((r = held_elsewhere(d, s)) < 0 ||
                   (r = pmm__os_listen_spec(s, BACKLOG, said,
                                            sizeof said)) < 0) {
            if (why == FOR_START) /* (a take's: the actor's start says) */
                cannot_listen(d, slot, s, "%s",
                              said[0] ? said : pmm_strerror(r));
            break;
        }
        d->slot[slot].held_fd[n++] = r;
        r = 0;
    }
    if (r == 0 && n > 0 && (*taken > 0 || why == FOR_START))
        return n;
    give_back(d, slot, n, from, pool, owner);
    *taken = 0;
    return r < 0 ? r : n > 0 ? 0 : -EINVAL;
}

int hrd_held_open(struct hrd *d, int slot, const char *specs)
{
    int taken;
    if (d->slot[slot].nheld > 0)
        return d->slot[slot].nheld;
    int n = gather(d, slot, specs, kept, nkept, kept_owner, FOR_START, &taken);
    if (n < 0)
        return n; /* what it took from the pool waits there for it */
    d->slot[slot].nheld = (uint8_t)n;
    int left = pool_drop(slot); /* its specs changed meanwhile */
    if (left)
        hrd_log(d, HRD_INFO, "actor %s: %d listening socket%s held before "
                "it asks for no more: closed", d->reg->actors[slot].name,
                left, left == 1 ? "" : "s");
    return n;
}

int hrd_held_take(struct hrd *d, int slot, const char *specs, int *pool,
                  int npool)
{
    int taken;
    if (d->slot[slot].nheld > 0)
        return 0;
    int n = gather(d, slot, specs, pool, npool, NULL, FOR_TAKE, &taken);
    if (n <= 0)
        return 0; /* every one from pool is back there */
    d->slot[slot].nheld = (uint8_t)n;
    return taken;
}

void hrd_held_close(struct hrd *d, int slot)
{
    for (int i = 0; i < d->slot[slot].nheld; i++)
        drop(d->slot[slot].held_fd[i]);
    d->slot[slot].nheld = 0;
    pool_drop(slot); /* nobody waits for them now */
}

/* HRD_HELD's longest value: every slot "ddd:" with its ";", and every
 * descriptor (an int: 10 digits) with its ",". */
#define HELD_VAR_MAX (HR_REG_ACTORS * (5 + HRD_HELD_MAX * 11) + 1)

/* HRD_HELD=slot:fd,fd;slot:fd... */
void hrd_held_export(struct hrd *d)
{
    static char var[HELD_VAR_MAX];
    size_t len = 0;
    for (int slot = 0; slot < HR_REG_ACTORS; slot++) {
        if (!d->slot[slot].nheld)
            continue;
        len += (size_t)snprintf(var + len, sizeof var - len, "%s%d:",
                                len ? ";" : "", slot);
        for (int i = 0; i < d->slot[slot].nheld; i++)
            len += (size_t)snprintf(var + len, sizeof var - len, "%s%d",
                                    i ? "," : "", d->slot[slot].held_fd[i]);
    }
    /* (8 KiB was too little for 256 actors' 8 sockets of 4-digit
     * descriptors: the list went unsaid, and the sockets marked so far
     * were left open in the fresh controller, unknown to it, listening) */
    if (!len)
        return;
    for (int slot = 0; slot < HR_REG_ACTORS; slot++) /* kept across the
                                                       exec: all is said */
        for (int i = 0; i < d->slot[slot].nheld; i++)
            pmm__os_inherit(d->slot[slot].held_fd[i], 1);
    setenv(HRD_HELD_ENV, var, 1);
}

void hrd_held_adopt(struct hrd *d)
{
    const char *v = getenv(HRD_HELD_ENV);
    if (!v)
        return;
    static char buf[HELD_VAR_MAX];
    snprintf(buf, sizeof buf, "%s", v);
    unsetenv(HRD_HELD_ENV);
    for (char *save, *e = strtok_r(buf, ";", &save); e;
         e = strtok_r(NULL, ";", &save)) {
        char *fds = strchr(e, ':'), *save2;
        int slot = atoi(e);
        if (!fds || slot < 0 || slot >= HR_REG_ACTORS)
            continue;
        for (char *f = strtok_r(fds + 1, ",", &save2); f;
             f = strtok_r(NULL, ",", &save2)) {
            int fd = atoi(f);
            if (fd < 3 || !pmm__os_is_listening(fd))
                continue;
            pmm__os_inherit(fd, 0);
            if (!d->reg->actors[slot].used || d->slot[slot].nheld == HRD_HELD_MAX) {
                hrd_held_pool_keep(fd, -1); /* an actor may ask for it again */
                continue;
            }
            d->slot[slot].held_fd[d->slot[slot].nheld++] = fd;
        }
    }
}

void hrd_held_pool_end(struct hrd *d)
{
    int closed = 0, waiting = 0;
    for (int i = 0; i < nkept; i++) {
        int o = kept_owner[i];
        if (kept[i] < 0)
            continue;
        if (o >= 0 && d->reg->actors[o].used && !d->slot[o].nheld) {
            kept_owner[waiting] = o; /* (waiting <= i) */
            kept[waiting++] = kept[i];
            continue;
        }
        drop(kept[i]);
        closed++;
    }
    nkept = waiting;
    pool_end_ran = 1;
    if (closed)
        hrd_log(d, HRD_INFO, "%d listening socket%s held before no actor "
                "asked for again: closed", closed, closed == 1 ? "" : "s");
    if (waiting)
        hrd_log(d, HRD_INFO, "%d listening socket%s held before kept for "
                "the next start of the actors that could not start",
                waiting, waiting == 1 ? "" : "s");
}
