/* SPDX-License-Identifier: MIT */
/*
 * handover.h - client connections an actor's instance hands over to its
 * next instance through the controller (hr_handover_give/take, SPEC 3.2
 * "Warm upgrades"): each a descriptor (received by SCM_RIGHTS) and the
 * bytes of a request its giver had read and not answered.  Kept per actor
 * slot in the controller's memory, in the order given, until the next
 * instance takes them (the new version after an upgrade, the old one
 * again after a rollback); closed when the actor leaves the registry or
 * the controller stops (a controller that dies loses them: their clients
 * see the connection end, as without a handover).
 */
#ifndef HRD_HANDOVER_H
#define HRD_HANDOVER_H

#include <stdint.h>
#include <sys/types.h>

struct hrd;

#define HRD_KEPT_MAX 4096 /* connections kept for one actor at once */
/* For all actors at once: pending bytes, and descriptors up to half the
 * open files limit (the other half is the controller's own work: log
 * pipes, cgroups, held sockets, clients). */
#define HRD_KEPT_BYTES_MAX (64u << 20)

struct hrd_kept {
    int fd;                   /* the connection */
    uint32_t n;               /* bytes read and not answered ... */
    char *bytes;              /* ... these, or NULL */
};

/* Keep fd (owned from now on) with n bytes for slot: 0, or -ENOSPC
 * (HRD_KEPT_MAX for the slot, or the site's bounds: fd closed), -ENOMEM. */
int hrd_kept_add(struct hrd *d, int slot, int fd, const char *bytes, uint32_t n);
/* The oldest connection kept for slot into *k (the caller owns its fd
 * and frees its bytes): 1, or 0 when none is left. */
int hrd_kept_take(struct hrd *d, int slot, struct hrd_kept *k);
/* HR_REQ_HANDOVER from caller on conn (fds: a given connection, owned
 * from now on: set to -1): the result to reply with, unless *replied
 * (a connection taken is sent with its reply). */
struct hr_msg_hdr;
int hrd_handover_request(struct hrd *d, int conn, pid_t caller,
                         const struct hr_msg_hdr *h, const char *p, int *fds,
                         int nfds, int *replied);
/* Close every connection kept for slot. */
void hrd_kept_close(struct hrd *d, int slot);

#endif
