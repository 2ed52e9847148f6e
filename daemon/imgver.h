/* SPDX-License-Identifier: MIT */
/*
 * imgver.h - the version of each actor's program image, and the trial
 * image of an upgrade beside it (hr upgrade, upgrade.c).
 *
 * Per actor slot, in the site's RAM bank beside the image and arguments
 * blocks of spawn.h (__SYS.hr.image.SLOT, __SYS.hr.args.SLOT):
 *
 *   __SYS.hr.ver.SLOT     the version record below: the image's path,
 *                         size, hash and time stored; an upgrade's trial
 *                         image's; and the upgrade's state
 *   __SYS.hr.timage.SLOT  an upgrade's new program, while it is tried
 *   __SYS.hr.targs.SLOT   ... and its arguments
 *
 * The record's state word is the commit point of an upgrade: TRIAL while
 * the new version is tried (a controller that dies then leaves the old
 * image the actor's: the next one drops the trial), COMMIT once it was
 * ready: from there the trial is the actor's image, and copying it over
 * the actor's blocks is a redo (hrd_ver_redo), idempotent, that the next
 * controller finishes when one dies during it.  The controller keeps a
 * copy of each record in memory (d->slot[].ver) and writes it through.
 */
#ifndef HRD_IMGVER_H
#define HRD_IMGVER_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

struct hrd;

#define HRD_VER_MAGIC 0x4852445645523031ull /* "HRDVER01" */
enum { HRD_VER_IDLE = 0, /* no upgrade: cur is the actor's image */
       HRD_VER_TRIAL,    /* trial stored, being tried: cur still is */
       HRD_VER_COMMIT }; /* COMMIT POINT passed: trial is the actor's, its
                            blocks being copied over the actor's (redo) */

/* One program image. */
struct hrd_image_ver {
    uint64_t size;            /* bytes */
    uint64_t hash;            /* FNV-1a 64 of its bytes */
    uint64_t stored_ns;       /* CLOCK_REALTIME when it was stored */
    uint32_t args_len;        /* bytes of its encoded arguments */
    uint32_t reserved;        /* zero */
    char path[224];           /* where it was read from, NUL-terminated
                                 (cut when longer) */
};
static_assert(sizeof(struct hrd_image_ver) == 256, "image version size");

struct hrd_ver_rec {
    uint64_t magic;           /* HRD_VER_MAGIC */
    uint32_t state;           /* HRD_VER_..., stored last */
    uint32_t upgrades;        /* upgrades committed so far */
    uint8_t reserved[48];     /* zero */
    struct hrd_image_ver cur; /* the actor's image */
    struct hrd_image_ver trial; /* TRIAL, COMMIT: the new one */
};
static_assert(sizeof(struct hrd_ver_rec) == 576, "version record size");
static_assert(offsetof(struct hrd_ver_rec, cur) == 64, "record cur offset");

/* The actor in slot was registered from exe_fd: its record made (a
 * failure is logged: ps then shows no version). */
void hrd_ver_registered(struct hrd *d, int slot, int exe_fd);
/* Store exe_fd's program as slot's trial image, and as its arguments
 * argv with the actor's stored working directory and environment (its
 * held sockets, its marks), the record marked TRIAL: a read-only memfd of
 * the new image to execute, or -errno (-EACCES not an executable file,
 * -ENOEXEC empty, -E2BIG arguments too long, K_ENOMEM the bank is full). */
int hrd_ver_trial_store(struct hrd *d, int slot, int exe_fd,
                        char *const argv[]);
/* The trial's arguments block, for spawning it. */
void hrd_ver_trial_args(int slot, char *name, size_t cap);
/* The trial was ready: COMMIT POINT, then the redo.  0, or -errno when
 * the copy failed (the next controller redoes it). */
int hrd_ver_commit(struct hrd *d, int slot);
/* The trial failed: its blocks freed, the record back to IDLE. */
void hrd_ver_drop_trial(struct hrd *d, int slot);
/* At start, before any actor runs: every record read, a COMMIT redone, a
 * TRIAL dropped. */
void hrd_ver_recover(struct hrd *d);
/* The actor leaves the registry: its record and trial blocks freed. */
void hrd_ver_forget(struct hrd *d, int slot);
/* A stop or a site restart: every upgrade's trial killed and reaped (they
 * hold nothing of their own). */
void hrd_ver_trials_stop(struct hrd *d);
/* The actor's image version, or NULL when none is known (an actor
 * registered by a controller older than records). */
const struct hrd_image_ver *hrd_ver_of(const struct hrd *d, int slot);

#endif
