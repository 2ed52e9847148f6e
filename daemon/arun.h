/* SPDX-License-Identifier: MIT */
/*
 * arun.h - a direct actor asked for (see arun.c).
 */
#ifndef HRD_ARUN_H
#define HRD_ARUN_H

#include <stdint.h>

struct hrd;

/* Names end up in logs and JSON: 1 when s keeps to a plain alphabet. */
int hrd_name_ok(const char *s);
/* How an actor is started (hr arun's options); zero: the defaults. */
struct hrd_arun_opts {
    const char *name;   /* NULL or "": after its program */
    uint32_t stop_ms;   /* 0: the site's stop timeout */
    int32_t ready_fd;   /* 0: none */
    int notify;         /* it will send READY=1: starting until then */
};
/* A direct actor from an encoded argument list (a request, or the start-up
 * file), named (o may be NULL), registered and started: its pid.  -EEXIST
 * when the name is taken. */
int hrd_arun_payload(struct hrd *d, int group, int exe_fd, const char *p,
                     uint32_t len, const struct hrd_arun_opts *o);
/* An encoded list that begins with a name (hrfexec's, arun with options')
 * split: the name into name (PMM_NAME_MAX bytes), the list without it into
 * *out (malloc'd, *out_len bytes).  -EBADMSG when p is not one list,
 * -EINVAL for a name too long. */
int hrd_strings_unname(const char *p, uint32_t len, char *name, char **out,
                       uint32_t *out_len);
/* The same from a program path and string lists. */
int hrd_arun(struct hrd *d, int group, const char *path, char *const argv[],
             char *const envp[], const char *cwd);
#endif
