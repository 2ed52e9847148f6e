/*
 * arun.h - a direct actor asked for (see arun.c).
 */
#ifndef HRD_ARUN_H
#define HRD_ARUN_H

#include <stdint.h>

struct hrd;

/* Names end up in logs and JSON: 1 when s keeps to a plain alphabet. */
int hrd_name_ok(const char *s);
/* A direct actor from an encoded argument list (a request, or the start-up
 * file), named after its program, registered and started: its pid. */
int hrd_arun_payload(struct hrd *d, int group, int exe_fd, const char *p,
                     uint32_t len);
/* The same from a program path and string lists. */
int hrd_arun(struct hrd *d, int group, const char *path, char *const argv[],
             char *const envp[], const char *cwd);
#endif
