/* SPDX-License-Identifier: MIT */
/*
 * test_waits.c - a planted offender for tests/check_waits.sh (never
 * built): a test that waits with a bare usleep and a poll(2) timeout, as
 * the tests did before every wait went through the poll helper; the
 * waits_refuse test shows the check failing on it.  usleep() named in a
 * comment is no call, and poll(fd, 1, 0) waits for nothing: not flagged.
 */
#include <poll.h>
#include <unistd.h>

#include "common.h"

static int ready(void);

static void wait_ready(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (!ready())
        usleep(10000);
    poll(&p, 1, 0);
    poll(&p, 1, 30000);
}
