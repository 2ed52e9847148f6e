/*
 * crash.c - named crash points for the crash tests.
 *
 * HR_CRASHPOINT=name[:n] makes the process kill itself with SIGKILL the n-th
 * time (default: first) it passes the point `name`.  Unarmed, a crash point
 * costs one predictable branch.  The variable is read once per process.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pmm_int.h"

static int armed = -1;   /* -1 unread, 0 no, 1 yes */
static char point_name[64];
static long point_left;

static void arm(void)
{
    const char *v = getenv("HR_CRASHPOINT");
    armed = 0;
    if (!v || !*v)
        return;
    const char *colon = strchr(v, ':');
    size_t n = colon ? (size_t)(colon - v) : strlen(v);
    if (n >= sizeof point_name)
        return;
    memcpy(point_name, v, n);
    point_name[n] = 0;
    point_left = colon ? strtol(colon + 1, NULL, 10) : 1;
    if (point_left < 1)
        point_left = 1;
    armed = 1;
}

void pmm__crash(const char *point)
{
    if (__builtin_expect(armed == 0, 1))
        return;
    if (armed < 0) {
        arm();
        if (!armed)
            return;
    }
    if (strcmp(point, point_name) == 0 && --point_left == 0)
        kill(getpid(), SIGKILL);
}

/* A forked child reads the variable again: it may arm a point of its own. */
void pmm__crash_reset(void)
{
    armed = -1;
}
