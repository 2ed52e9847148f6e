/* SPDX-License-Identifier: MIT */
/*
 * crash.c - named crash points for the crash tests.
 *
 * HR_CRASHPOINT=name[:n] makes the process kill itself with SIGKILL the n-th
 * time (default: first) it passes the point `name`; with HR_CRASHPOINT_STOP=1
 * it stops itself there instead (SIGSTOP), so that a test can look at, or
 * race with, that instant and then let it go on.  Unarmed, a crash point
 * costs one predictable branch.  The variable is read once per process, by
 * the first thread that passes a point, under arm_mu; `armed` is published
 * last, with release order, so a thread that reads it armed also sees the
 * point's name.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crash.h"
#include "os/os.h"

static int armed = -1; /* -1 unread, 0 no, 1 yes */
static pthread_mutex_t arm_mu = PTHREAD_MUTEX_INITIALIZER;
static char point_name[64];
static long point_left; /* under arm_mu once armed */
static int point_stops;  /* HR_CRASHPOINT_STOP=1: stop, not die */

static int arm(void)
{
    const char *v = getenv("HR_CRASHPOINT");
    if (!v || !*v)
        return 0;
    const char *colon = strchr(v, ':');
    size_t n = colon ? (size_t)(colon - v) : strlen(v);
    if (n >= sizeof point_name)
        return 0;
    memcpy(point_name, v, n);
    point_name[n] = 0;
    point_left = colon ? strtol(colon + 1, NULL, 10) : 1;
    const char *stop = getenv("HR_CRASHPOINT_STOP");
    point_stops = stop && strcmp(stop, "1") == 0;
    if (point_left < 1)
        point_left = 1;
    return 1;
}

void pmm__crash(const char *point)
{
    int a = __atomic_load_n(&armed, __ATOMIC_ACQUIRE);
    if (__builtin_expect(a == 0, 1))
        return;
    pthread_mutex_lock(&arm_mu);
    if (a < 0 && (a = __atomic_load_n(&armed, __ATOMIC_RELAXED)) < 0) {
        a = arm();
        __atomic_store_n(&armed, a, __ATOMIC_RELEASE);
    }
    int die = a > 0 && strcmp(point, point_name) == 0 && --point_left == 0;
    pthread_mutex_unlock(&arm_mu);
    if (die && point_stops)
        pmm__os_stop();
    else if (die)
        pmm__os_die();
}

/* A forked child reads the variable again: it may arm a point of its own.
 * It runs one thread, and its copy of arm_mu may be held by a thread that
 * it does not have: make it anew. */
void pmm__crash_reset(void)
{
    pthread_mutex_init(&arm_mu, NULL);
    __atomic_store_n(&armed, -1, __ATOMIC_RELAXED);
}
