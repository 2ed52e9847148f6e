/* SPDX-License-Identifier: MIT */
/*
 * upstate.h - the events of the upgrade table (upgrade.c), raised by what
 * the loop sees (upjob.c, upgrade.c's own entry points): a request begins
 * one, a trial asks to wait, a death, and the tick's ready, timeout,
 * settled and abort.
 */
#ifndef HRD_UPSTATE_H
#define HRD_UPSTATE_H

#include <stdint.h>

struct hrd;

enum hrd_up_event {
    UE_BEGIN,      /* an upgrade asked for: the new version as a standby */
    UE_BEGIN_COLD, /* ... without a standby phase */
    UE_WAITING,    /* the trial waits in hr_standby_wait() (conn) */
    UE_NEW_GONE,   /* the new version was reaped (status) */
    UE_OLD_GONE,   /* the old instance was reaped (status) */
    UE_READY,      /* the promoted new version is ready */
    UE_TIMEOUT,    /* not ready within the timeout (timeout_ms) */
    UE_SETTLED,    /* rolling back, and nothing runs any more */
    UE_ABORT,      /* its group restarts or ends, or it left the registry */
    UE_COUNT
};

/* What the loop saw, for the action. */
struct up_ctx {
    int conn;               /* UE_WAITING: the request */
    int status;             /* UE_*_GONE: the wait status */
    int64_t timeout_ms;     /* UE_TIMEOUT: the timeout that passed */
};

/* Raise ev on slot's upgrade: the cell's action, then its next state (its
 * fail state when the action failed); the action's result. */
int hrd_up_event(struct hrd *d, int slot, enum hrd_up_event ev,
                 const struct up_ctx *c);

#endif
