/* SPDX-License-Identifier: MIT */
/*
 * retry.h - the one shape of a system call in src/os/'s controller files
 * (ctl.c, ctl_net.c): a result r, or -errno when r < 0; RETRY(expr) calls
 * expr again while it fails with EINTR.  Private to src/os/.
 */
#ifndef HR_OS_RETRY_H
#define HR_OS_RETRY_H

#include <errno.h>

/* r, or -errno when r < 0 */
static inline int ret(long r)
{
    return r < 0 ? -errno : (int)r;
}

#define RETRY(expr)                                                           \
    ({                                                                        \
        long r_;                                                              \
        do                                                                    \
            r_ = (long)(expr);                                                \
        while (r_ < 0 && errno == EINTR);                                     \
        ret(r_);                                                              \
    })

#endif
