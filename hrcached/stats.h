/* SPDX-License-Identifier: MIT */
/*
 * stats.h - memcached's stats command (stats.c).
 */
#ifndef HRCACHED_STATS_H
#define HRCACHED_STATS_H

#include <stddef.h>

#include "proto.h"
#include "words.h"

/* stats, stats settings, stats reset: t[0..n) the command's tokens. */
void mc_cmd_stats(struct mc_server *srv, struct mc_session *s,
                  const struct mc_tok *t, size_t n);

#endif
