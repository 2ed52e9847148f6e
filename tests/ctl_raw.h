/* SPDX-License-Identifier: MIT */
/*
 * ctl_raw.h - a test speaking to the current site's controller on its
 * socket ($HR_SITE/control.sock) directly, below the library's client:
 * to send what no client sends (nothing, a short header, descriptors it
 * did not ask for) or to hold a connection idle.  Each call fails the test
 * (Criterion) where the socket cannot be had, saying why.
 */
#ifndef HR_TEST_CTL_RAW_H
#define HR_TEST_CTL_RAW_H

#include <stddef.h>

/* A new connection to the controller, not yet used: its descriptor. */
int ctl_connect(void);
/* Send len bytes (maybe none) on a new connection, with descriptor fd
 * passed alongside when fd >= 0, and read the reply: its header's arg, or
 * -EPIPE when the controller hung up without one. */
int ctl_send_fd(const void *msg, size_t len, int fd);

#endif
