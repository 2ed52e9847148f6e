/* SPDX-License-Identifier: MIT */
/*
 * which.c - a program found on $PATH, as execvp() finds it: the one search
 * of the library, the controller (sysadm.ini) and the tool (hr arun).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <hotrestart/hr.h>

#include "os/ctl.h"

int hr_find_program(const char *file, char *out, size_t cap)
{
    if (!*file) /* as execvp: no file has an empty name */
        return -ENOENT;
    if (strchr(file, '/')) {
        if (strlen(file) >= cap)
            return -ENAMETOOLONG;
        strcpy(out, file);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; *p;) {
        const char *e = strchrnul(p, ':');
        int n = (int)(e - p);
        if (n == 0)
            n = 1, p = ".";
        if ((size_t)n + strlen(file) + 2 <= cap) {
            memcpy(out, p, (size_t)n);
            out[n] = '/';
            strcpy(out + n + 1, file);
            if (pmm__os_access_x(out) == 0)
                return 0;
        }
        p = *e ? e + 1 : e;
    }
    return -ENOENT;
}
