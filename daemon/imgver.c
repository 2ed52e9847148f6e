/* SPDX-License-Identifier: MIT */
/*
 * imgver.c - image version records and upgrades' trial images (see
 * imgver.h for the blocks and the commit protocol).
 *
 * Invariants: a record's state is stored after everything else of it
 * (put_rec); the actor's own blocks are replaced only past the COMMIT
 * POINT, and only by the redo, which a controller that dies during it
 * leaves to the next; the trial blocks are freed last, so a redo that
 * finds them copies again, one that does not finds the copy done.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hrd.h"
#include "imgver.h"
#include "log.h"
#include "os/ctl.h"
#include "os/os.h"
#include "spawn.h"
#include "pmm/alloc.h"
#include "pmm/crash.h"
#include "pmm/free.h"
#include "pmm/map.h"
#include "proto.h"

static void name_of(char *out, size_t cap, const char *kind, int slot)
{
    snprintf(out, cap, "__SYS.hr.%s.%d", kind, slot);
}

void hrd_ver_trial_args(int slot, char *name, size_t cap)
{
    name_of(name, cap, "targs", slot);
}

/* FNV-1a, 64 bits: a version's fingerprint, not a defence. */
static uint64_t fnv64(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* Map system block kind.SLOT (flags: PMM_RETRIEVE, PMM_EXCL or 0). */
static int map_block(struct hrd *d, const char *kind, int slot, size_t size,
                     unsigned flags, void **p)
{
    char name[PMM_NAME_MAX];
    name_of(name, sizeof name, kind, slot);
    return pmm__alloc_sys(d->bank, name, size, HR_REG_KEY, sizeof HR_REG_KEY,
                          flags, -1, p, NULL);
}

static void unmap_block(struct hrd *d, const char *kind, int slot)
{
    char name[PMM_NAME_MAX];
    name_of(name, sizeof name, kind, slot);
    pmm__unmap(d->bank, name);
}

static void free_block(struct hrd *d, const char *kind, int slot)
{
    char name[PMM_NAME_MAX];
    name_of(name, sizeof name, kind, slot);
    pmm__free_sys(d->bank, name);
}

/* Write slot's record through to its block: all of it, the state last. */
static int put_rec(struct hrd *d, int slot)
{
    struct hrd_ver_rec *v = d->slot[slot].ver, *b;
    int r = map_block(d, "ver", slot, sizeof *v, 0, (void **)&b);
    if (r < 0)
        return r;
    memcpy(b, v, offsetof(struct hrd_ver_rec, state));
    memcpy((char *)b + offsetof(struct hrd_ver_rec, upgrades), &v->upgrades,
           sizeof *v - offsetof(struct hrd_ver_rec, upgrades));
    __atomic_store_n(&b->state, v->state, __ATOMIC_RELEASE);
    unmap_block(d, "ver", slot);
    return 0;
}

/* Slot's record in memory (made empty when missing): NULL without memory. */
static struct hrd_ver_rec *rec(struct hrd *d, int slot)
{
    if (!d->slot[slot].ver && (d->slot[slot].ver = calloc(1, sizeof(struct hrd_ver_rec))))
        d->slot[slot].ver->magic = HRD_VER_MAGIC;
    return d->slot[slot].ver;
}

/* The facts of the image block kind.SLOT of size bytes into *iv. */
static int describe(struct hrd *d, const char *kind, int slot, uint64_t size,
                    struct hrd_image_ver *iv)
{
    void *p;
    int r = map_block(d, kind, slot, (size_t)size, PMM_RETRIEVE, &p);
    if (r < 0)
        return r;
    iv->size = size;
    iv->hash = fnv64(p, (size_t)size);
    iv->stored_ns = pmm__os_now_ns();
    unmap_block(d, kind, slot);
    return 0;
}

void hrd_ver_registered(struct hrd *d, int slot, int exe_fd)
{
    struct hr_reg_actor *a = &d->reg->actors[slot];
    struct hrd_ver_rec *v = rec(d, slot);
    if (!v)
        return;
    memset(&v->cur, 0, sizeof v->cur);
    memset(&v->trial, 0, sizeof v->trial);
    v->state = HRD_VER_IDLE;
    v->upgrades = 0;
    if (exe_fd < 0 || pmm__os_fd_path(exe_fd, v->cur.path, sizeof v->cur.path) < 0)
        v->cur.path[sizeof v->cur.path - 1] = 0; /* cut, or unknown */
    int r = describe(d, "image", slot, a->image_size, &v->cur);
    v->cur.args_len = a->args_len;
    if (r == 0)
        r = put_rec(d, slot);
    if (r < 0)
        hrd_log(d, HRD_WARNING, "actor %s: its image's version not recorded: %s",
                a->name, pmm_strerror(r));
}

/* Copy exe_fd's program into the trial image block: its memfd. */
static int store_trial_image(struct hrd *d, int slot, int exe_fd,
                             struct hrd_image_ver *iv)
{
    uint64_t bytes;
    void *p;
    int r = hrd_exe_bytes(exe_fd, &bytes);
    if (r < 0)
        return r;
    if ((r = map_block(d, "timage", slot, (size_t)bytes, PMM_EXCL, &p)) < 0)
        return r;
    if (pmm__os_pread(exe_fd, p, (size_t)bytes, 0) < 0) {
        unmap_block(d, "timage", slot);
        return -EIO;
    }
    iv->size = bytes;
    iv->hash = fnv64(p, (size_t)bytes);
    iv->stored_ns = pmm__os_now_ns();
    r = pmm__os_memfd_ro(d->reg->actors[slot].name, p, (size_t)bytes);
    unmap_block(d, "timage", slot);
    if (r == -EACCES)
        hrd_log(d, HRD_ERR, "upgrade of %s: %s", d->reg->actors[slot].name,
                HRD_NOEXEC_MEMFD_WHY);
    return r;
}

static int redo(struct hrd *d, int slot);

/* The actor's stored arguments with argv in place of its own, encoded
 * into args (HR_MSG_MAX bytes): their length, or -errno. */
static int trial_args(struct hrd *d, int slot, char *const argv[], char *args)
{
    struct hr_reg_actor *a = &d->reg->actors[slot];
    struct hr_strings *s = malloc(sizeof *s);
    const char *old;
    if (!s)
        return -ENOMEM;
    int r = map_block(d, "args", slot, a->args_len, PMM_RETRIEVE, (void **)&old);
    if (r == 0) {
        r = hr__strings_decode(old, a->args_len, 0, s) < 0 ? K_EBANK
            : hr__strings_encode(args, HR_MSG_MAX, NULL, s->cwd, argv,
                                 (char *const *)s->envp);
        unmap_block(d, "args", slot);
    }
    free(s);
    return r;
}

int hrd_ver_trial_store(struct hrd *d, int slot, int exe_fd,
                        char *const argv[])
{
    struct hr_reg_actor *a = &d->reg->actors[slot];
    struct hrd_ver_rec *v = rec(d, slot);
    struct hrd_image_ver iv = {0};
    char *args = malloc(HR_MSG_MAX);
    void *p;
    if (!v || !args) {
        free(args);
        return -ENOMEM;
    }
    if (v->state == HRD_VER_COMMIT && redo(d, slot) < 0) {
        free(args); /* the last upgrade is not in place yet */
        return -EBUSY;
    }
    if (!v->cur.size) { /* registered before records: described now */
        describe(d, "image", slot, a->image_size, &v->cur);
        v->cur.args_len = a->args_len;
    }
    hrd_ver_drop_trial(d, slot); /* what a failed attempt left */
    int len = trial_args(d, slot, argv, args);
    if (len < 0) {
        free(args);
        return len;
    }
    iv.args_len = (uint32_t)len;
    if (pmm__os_fd_path(exe_fd, iv.path, sizeof iv.path) < 0)
        iv.path[sizeof iv.path - 1] = 0;
    int fd = store_trial_image(d, slot, exe_fd, &iv);
    if (fd < 0) {
        free(args);
        free_block(d, "timage", slot);
        return fd;
    }
    int r = map_block(d, "targs", slot, (size_t)len, PMM_EXCL, &p);
    if (r == 0) {
        memcpy(p, args, (size_t)len);
        unmap_block(d, "targs", slot);
        v->trial = iv;
        v->state = HRD_VER_TRIAL;
        r = put_rec(d, slot);
        pmm__crash("hrd.upgrade_trial"); /* tried: the old image stays */
    }
    free(args);
    if (r < 0) {
        pmm__os_close(fd);
        hrd_ver_drop_trial(d, slot);
        return r;
    }
    return fd;
}

/* Copy the trial block kind2 over the actor's block kind (size bytes). */
static int copy_over(struct hrd *d, int slot, const char *kind,
                     const char *trial, uint64_t size)
{
    void *from, *to;
    int r = map_block(d, trial, slot, (size_t)size, PMM_RETRIEVE, &from);
    if (r < 0)
        return r;
    free_block(d, kind, slot);
    r = map_block(d, kind, slot, (size_t)size, PMM_EXCL, &to);
    if (r == 0) {
        memcpy(to, from, (size_t)size);
        unmap_block(d, kind, slot);
    }
    unmap_block(d, trial, slot);
    return r;
}

/* Past the COMMIT POINT: the trial's blocks copied over the actor's, the
 * registry and the record told, the trial freed; from any point again. */
static int redo(struct hrd *d, int slot)
{
    struct hr_reg_actor *a = &d->reg->actors[slot];
    struct hrd_ver_rec *v = d->slot[slot].ver;
    void *p;
    int r = 0;
    if (map_block(d, "timage", slot, (size_t)v->trial.size, PMM_RETRIEVE, &p) == 0) {
        unmap_block(d, "timage", slot); /* still there: copy (again) */
        r = copy_over(d, slot, "image", "timage", v->trial.size);
        pmm__crash("hrd.upgrade_copied"); /* the image copied, not its args */
        if (r == 0)
            r = copy_over(d, slot, "args", "targs", v->trial.args_len);
        if (r < 0)
            return r;
        if (memcmp(&v->cur, &v->trial, sizeof v->cur) != 0)
            v->upgrades++;
        v->cur = v->trial;
        if ((r = put_rec(d, slot)) < 0)
            return r;
        free_block(d, "timage", slot);
        free_block(d, "targs", slot);
    }
    a->image_size = v->cur.size; /* the copy is done */
    a->args_len = v->cur.args_len;
    memset(&v->trial, 0, sizeof v->trial);
    v->state = HRD_VER_IDLE;
    return put_rec(d, slot);
}

int hrd_ver_commit(struct hrd *d, int slot)
{
    struct hrd_ver_rec *v = d->slot[slot].ver;
    if (!v || v->state != HRD_VER_TRIAL)
        return -EINVAL;
    v->state = HRD_VER_COMMIT;
    int r = put_rec(d, slot); /* COMMIT POINT: the trial is the actor's */
    pmm__crash("hrd.upgrade_committed"); /* nothing copied: redo does it */
    return r < 0 ? r : redo(d, slot);
}

void hrd_ver_drop_trial(struct hrd *d, int slot)
{
    struct hrd_ver_rec *v = d->slot[slot].ver;
    free_block(d, "timage", slot);
    free_block(d, "targs", slot);
    if (v && v->state == HRD_VER_TRIAL) {
        memset(&v->trial, 0, sizeof v->trial);
        v->state = HRD_VER_IDLE;
        put_rec(d, slot);
    }
}

/* Slot's record read from its block, if it has a sound one. */
static void load(struct hrd *d, int slot)
{
    struct hrd_ver_rec *b;
    free(d->slot[slot].ver);
    d->slot[slot].ver = NULL;
    if (map_block(d, "ver", slot, sizeof *b, PMM_RETRIEVE, (void **)&b) < 0)
        return;
    if (b->magic == HRD_VER_MAGIC && b->state <= HRD_VER_COMMIT &&
        (d->slot[slot].ver = malloc(sizeof *b))) {
        memcpy(d->slot[slot].ver, b, sizeof *b);
        d->slot[slot].ver->cur.path[sizeof b->cur.path - 1] = 0;
        d->slot[slot].ver->trial.path[sizeof b->trial.path - 1] = 0;
    }
    unmap_block(d, "ver", slot);
}

void hrd_ver_recover(struct hrd *d)
{
    HRD_FOR_ACTORS(d, i) {
        load(d, i);
        struct hrd_ver_rec *v = d->slot[i].ver;
        if (v && v->state == HRD_VER_COMMIT) {
            int r = redo(d, i);
            hrd_log(d, r < 0 ? HRD_ERR : HRD_NOTICE,
                    "actor %s: an upgrade committed before the controller "
                    "stopped: its new image %s%s", d->reg->actors[i].name,
                    r < 0 ? "could not be put in place: " : "put in place",
                    r < 0 ? pmm_strerror(r) : "");
        } else if (v && v->state == HRD_VER_TRIAL) {
            hrd_log(d, HRD_NOTICE, "actor %s: an upgrade was cut short: its "
                    "old image kept", d->reg->actors[i].name);
            hrd_ver_drop_trial(d, i);
        }
    }
}

void hrd_ver_forget(struct hrd *d, int slot)
{
    free_block(d, "timage", slot);
    free_block(d, "targs", slot);
    free_block(d, "ver", slot);
    free(d->slot[slot].ver);
    d->slot[slot].ver = NULL;
}

const struct hrd_image_ver *hrd_ver_of(const struct hrd *d, int slot)
{
    const struct hrd_ver_rec *v = d->slot[slot].ver;
    return v && v->cur.size ? &v->cur : NULL;
}

void hrd_ver_trials_stop(struct hrd *d)
{
    for (int i = 0; i < HR_REG_ACTORS; i++) {
        pid_t pid = d->slot[i].up.trial_pid;
        if (pid <= 0)
            continue;
        pmm__os_kill(-pid, SIGKILL);
        pmm__os_kill(pid, SIGKILL);
        int64_t until = pmm__os_mono_ms() + HRD_KILL_WAIT_S * 1000;
        while (pmm__os_reap(pid, NULL, 1) == 0 && pmm__os_mono_ms() < until)
            pmm__os_sleep_ms(1);
        d->slot[i].up.trial_pid = d->slot[i].up.new_pid = 0;
    }
}
