/* SPDX-License-Identifier: MIT */
/*
 * handover.c - connections kept between two instances of an actor (see
 * handover.h): a queue per slot, taken in the order given.
 *
 * Invariant: every descriptor in d->slot[].kept is open and owned here
 * until hrd_kept_take() passes it on or hrd_kept_close() closes it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "handover.h"
#include "hrd.h"
#include "os/ctl.h"
#include "os/os.h"
#include "proto.h"

int hrd_kept_add(struct hrd *d, int slot, int fd, const char *bytes, uint32_t n)
{
    struct hrd_slot *s = &d->slot[slot];
    char *copy = NULL;
    /* one actor giving without end (each copy of one descriptor is a new
     * one here) must not take the controller's descriptors or memory */
    if (s->nkept >= HRD_KEPT_MAX || d->kept_bytes + n > HRD_KEPT_BYTES_MAX ||
        d->kept_fds >= pmm__os_nofile_now() / 2) {
        pmm__os_close(fd);
        return -ENOSPC;
    }
    if (s->nkept == s->cap_kept) {
        uint16_t cap = s->cap_kept ? (uint16_t)(s->cap_kept * 2) : 16;
        void *more = realloc(s->kept, cap * sizeof *s->kept);
        if (!more) {
            pmm__os_close(fd);
            return -ENOMEM;
        }
        s->kept = more;
        s->cap_kept = cap;
    }
    if (n && !(copy = malloc(n))) {
        pmm__os_close(fd);
        return -ENOMEM;
    }
    if (n)
        memcpy(copy, bytes, n);
    s->kept[s->nkept++] = (struct hrd_kept){fd, n, copy};
    d->kept_fds++;
    d->kept_bytes += n;
    return 0;
}

int hrd_kept_take(struct hrd *d, int slot, struct hrd_kept *k)
{
    struct hrd_slot *s = &d->slot[slot];
    if (!s->nkept)
        return 0;
    *k = s->kept[0];
    memmove(s->kept, s->kept + 1, --s->nkept * sizeof *s->kept);
    d->kept_fds--;
    d->kept_bytes -= k->n;
    return 1;
}

void hrd_kept_close(struct hrd *d, int slot)
{
    struct hrd_slot *s = &d->slot[slot];
    for (uint16_t i = 0; i < s->nkept; i++) {
        pmm__os_close(s->kept[i].fd);
        free(s->kept[i].bytes);
        d->kept_fds--;
        d->kept_bytes -= s->kept[i].n;
    }
    free(s->kept);
    s->kept = NULL;
    s->nkept = s->cap_kept = 0;
}

/* ASK: the caller is an actor's old instance being stopped by an upgrade
 * whose new one waits for what it gives. */
static int asked(const struct hrd *d, int slot, pid_t caller)
{
    const struct hrd_upgrade *u = &d->slot[slot].up;
    return (u->state == HRD_UP_STOPPING || u->state == HRD_UP_UNDO) &&
           u->old_pid == caller;
}

int hrd_handover_request(struct hrd *d, int conn, pid_t caller,
                         const struct hr_msg_hdr *h, const char *p, int *fds,
                         int nfds, int *replied)
{
    int slot = hrd_find_pid(d, caller), r;
    struct hrd_kept k;
    uint32_t cap;
    *replied = 0;
    if (slot < 0)
        return -EPERM; /* no actor of this site */
    switch (h->arg) {
    case HR_HANDOVER_ASK:
        return asked(d, slot, caller);
    case HR_HANDOVER_GIVE:
        if (nfds != 1 || h->len > HR_HANDOVER_MAX)
            return -EINVAL;
        r = hrd_kept_add(d, slot, fds[0], p, h->len);
        fds[0] = -1; /* kept, or closed */
        return r;
    case HR_HANDOVER_TAKE:
        if (h->len != sizeof cap)
            return -EINVAL;
        memcpy(&cap, p, sizeof cap);
        if (d->slot[slot].nkept && d->slot[slot].kept[0].n > cap)
            return -EMSGSIZE; /* kept: it may ask again with room */
        if (!hrd_kept_take(d, slot, &k))
            return -ENOENT;
        r = hr__msg_send(conn, HR_REPLY, (int32_t)k.n, k.bytes, k.n, &k.fd, 1);
        pmm__os_close(k.fd); /* sent, or lost with a taker gone */
        free(k.bytes);
        *replied = 1;
        return r;
    }
    return -EINVAL;
}
