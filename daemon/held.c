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

/* Sockets passed by the controller before (a site restart's exec) whose
 * slot is no one's now: after a cold restart, every one.  An actor of the
 * start-up that asks for the same address takes its socket (clients kept
 * waiting in its backlog); hrd_held_pool_end() closes the others. */
static int kept[HR_REG_ACTORS * HRD_HELD_MAX];
static int nkept;

int hrd_held_open(struct hrd *d, int slot, const char *specs)
{
    if (d->slot[slot].nheld > 0)
        return d->slot[slot].nheld;
    if (nkept > 0 && hrd_held_take(d, slot, specs, kept, nkept) > 0)
        return d->slot[slot].nheld;
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", specs) >= (int)sizeof buf)
        return -EINVAL;
    int n = 0, r = 0;
    for (char *save, *s = strtok_r(buf, ",", &save); s;
         s = strtok_r(NULL, ",", &save)) {
        if (n == HRD_HELD_MAX) {
            r = -EINVAL;
            break;
        }
        if ((r = held_elsewhere(d, s)) < 0 ||
            (r = pmm__os_listen_spec(s, BACKLOG)) < 0) {
            hrd_log(d, HRD_ERR, "actor %s: cannot listen on %s: %s",
                    d->reg->actors[slot].name, s, pmm_strerror(r));
            break;
        }
        d->slot[slot].held_fd[n++] = r;
        r = 0;
    }
    if (r < 0 || n == 0) {
        while (n > 0)
            pmm__os_close(d->slot[slot].held_fd[--n]);
        return r < 0 ? r : -EINVAL;
    }
    d->slot[slot].nheld = (uint8_t)n;
    return n;
}

int hrd_held_take(struct hrd *d, int slot, const char *specs, int *pool,
                  int npool)
{
    char buf[1024];
    int n = 0, taken = 0, failed = 0;
    if (d->slot[slot].nheld > 0 ||
        snprintf(buf, sizeof buf, "%s", specs) >= (int)sizeof buf)
        return 0;
    for (char *save, *s = strtok_r(buf, ",", &save); s && !failed;
         s = strtok_r(NULL, ",", &save)) {
        int fd = -1;
        for (int i = 0; i < npool && fd < 0; i++)
            if (pool[i] >= 0 && pmm__os_listens_on(pool[i], s)) {
                fd = pool[i];
                pool[i] = -1;
                taken++;
            }
        if (fd < 0)
            fd = pmm__os_listen_spec(s, BACKLOG); /* the one not found */
        if (fd < 0 || n == HRD_HELD_MAX) {
            failed = 1; /* the actor's start says why */
            if (fd >= 0)
                pmm__os_close(fd);
        } else {
            d->slot[slot].held_fd[n++] = fd;
        }
    }
    if (failed || taken == 0) {
        while (n > 0)
            pmm__os_close(d->slot[slot].held_fd[--n]);
        return 0;
    }
    d->slot[slot].nheld = (uint8_t)n;
    return taken;
}

void hrd_held_close(struct hrd *d, int slot)
{
    for (int i = 0; i < d->slot[slot].nheld; i++) {
        pmm__os_unlink_socket_of(d->slot[slot].held_fd[i]); /* no file left */
        pmm__os_close(d->slot[slot].held_fd[i]);
    }
    d->slot[slot].nheld = 0;
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
                if (nkept < (int)(sizeof kept / sizeof kept[0]))
                    kept[nkept++] = fd; /* an actor may ask for it again */
                else
                    pmm__os_close(fd);
                continue;
            }
            d->slot[slot].held_fd[d->slot[slot].nheld++] = fd;
        }
    }
}

void hrd_held_pool_end(struct hrd *d)
{
    int closed = 0;
    for (int i = 0; i < nkept; i++)
        if (kept[i] >= 0) {
            pmm__os_unlink_socket_of(kept[i]); /* no file left */
            pmm__os_close(kept[i]);
            closed++;
        }
    nkept = 0;
    if (closed)
        hrd_log(d, HRD_INFO, "%d listening socket%s held before no actor "
                "asked for again: closed", closed, closed == 1 ? "" : "s");
}
