/* SPDX-License-Identifier: MIT */
/*
 * arun.c - a direct actor asked for, by a request or by the start-up file:
 * named after its program, registered, started.  One that cannot start is
 * unregistered, as if it had not been asked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arun.h"
#include "actor.h"
#include "group.h"
#include "members.h"
#include "held.h"
#include "hrd.h"
#include "log.h"
#include "os/os.h"
#include "os/ctl.h"
#include "proto.h"
#include "spawn.h"

int hrd_name_ok(const char *s)
{
    if (!*s || strlen(s) >= PMM_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') ||
              ('0' <= *s && *s <= '9') || strchr("._-:+@/", *s)))
            return 0;
    return 1;
}

/* A name for a direct actor: its program's, made unique. */
static void name_after(struct hrd *d, const char *argv0, char *name, size_t cap)
{
    char clean[32];
    const char *base = strrchr(argv0, '/');
    base = base ? base + 1 : argv0;
    size_t k = 0;
    for (; *base && k < sizeof clean - 1; base++)
        clean[k++] = hrd_name_ok((char[]){*base, 0}) ? *base : '_';
    clean[k] = 0;
    for (int n = 0;; n++) {
        snprintf(name, cap, n ? "%s.%d" : "%s", k ? clean : "actor", n);
        if (hrd_find_name(d, -1, name) < 0)
            break;
    }
}

/* How many sockets the actor's stored HR_LISTEN asks the controller to
 * hold: they become its fds 3, 4... */
static int held_count(const struct hr_strings *s)
{
    size_t n = strlen(HRD_HELD_VAR "=");
    for (uint32_t i = 0; i < s->envc; i++)
        if (strncmp(s->envp[i], HRD_HELD_VAR "=", n) == 0) {
            int k = s->envp[i][n] != 0;
            for (const char *c = s->envp[i] + n; *c; c++)
                k += *c == ',';
            return k;
        }
    return 0;
}

int hrd_arun_payload(struct hrd *d, int group, int exe_fd, const char *p,
                     uint32_t len, const struct hrd_arun_opts *o)
{
    /* a group that ends takes no member (it ends when its members are
     * gone), nor one that restarts: a member added while the others die,
     * or while it backs off, dying in turn, would make the group gone
     * again (charged to the policy twice, its back-off skipped, its death
     * recorded nowhere) */
    const struct hr_reg_group *g = &d->reg->groups[group];
    if (g->used && (g->state == HR_G_ENDING || g->state == HR_G_RESTARTING))
        return -EBUSY;
    struct hr_strings *s = malloc(sizeof *s);
    char name[PMM_NAME_MAX];
    int slot, r;
    if (!s)
        return -ENOMEM;
    if (hr__strings_decode(p, len, 0, s) < 0) {
        free(s);
        return -EBADMSG;
    }
    if (o && o->name && *o->name)
        snprintf(name, sizeof name, "%s", o->name);
    else
        name_after(d, s->argv[0], name, sizeof name);
    int held = held_count(s);
    free(s);
    if (o && o->ready_fd > 2 && o->ready_fd < 3 + held)
        return -EBADF; /* the readiness fd would replace a held socket */
    if (!hrd_name_ok(name))
        return -EINVAL;
    if (hrd_find_name(d, -1, name) >= 0)
        return -EEXIST;
    if ((r = hrd_register(d, group, 1, name, exe_fd, p, len, &slot)) < 0)
        return r;
    if (o) {
        d->reg->actors[slot].stop_ms = o->stop_ms;
        d->reg->actors[slot].ready_fd = o->ready_fd;
        d->slot[slot].says_ready = (uint8_t)o->notify;
    }
    d->first_start = 1;
    r = hrd_start_actor(d, slot, NULL);
    d->first_start = 0;
    if (r < 0) { /* never ran: unregister, as if it had not been asked */
        hrd_log(d, HRD_ERR, "actor %s not started: %s", name,
                hrd_start_why(d, r));
        hrd_unregister(d, slot);
        return r;
    }
    hrd_log(d, HRD_INFO, "actor %s started in group %d, pid %d", name, group,
            r);
    return r;
}

int hrd_strings_unname(const char *p, uint32_t len, char *name, char **out,
                       uint32_t *out_len)
{
    struct hr_strings *s = malloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    int r = hr__strings_decode(p, len, 1, s);
    if (r == 0 && strlen(s->name) >= PMM_NAME_MAX)
        r = -EINVAL;
    if (r == 0)
        snprintf(name, PMM_NAME_MAX, "%s", s->name);
    free(s);
    if (r < 0)
        return r;
    uint32_t k = (uint32_t)strlen(name) + 1;
    *out_len = len - k;
    if (!(*out = malloc(*out_len)))
        return -ENOMEM;
    memcpy(*out, p, 8); /* argc, envc */
    memcpy(*out + 8, p + 8 + k, *out_len - 8);
    return 0;
}

int hrd_arun(struct hrd *d, int group, const char *path, char *const argv[],
             char *const envp[], const char *cwd)
{
    char *buf = malloc(HR_MSG_MAX);
    int r;
    if (!buf)
        return -ENOMEM;
    int len = hr__strings_encode(buf, HR_MSG_MAX, NULL, cwd, argv, envp);
    int fd = len < 0 ? -1 : pmm__os_open_fd(path, O_RDONLY, 0);
    if (len < 0)
        r = len;
    else if (fd < 0)
        r = fd;
    else
        r = hrd_arun_payload(d, group, fd, buf, (uint32_t)len, NULL);
    if (fd >= 0)
        pmm__os_close(fd);
    free(buf);
    return r;
}
