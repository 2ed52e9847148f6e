/* SPDX-License-Identifier: MIT */
/*
 * base64.h - base64 for binary keys of the meta commands (base64.c).
 */
#ifndef HRCACHED_BASE64_H
#define HRCACHED_BASE64_H

#include <stddef.h>

/* Encode n bytes into out (room for 4 * ((n + 2) / 3)): its length. */
size_t mc_base64_encode(const unsigned char *in, size_t n, char *out);
/* Decode in[0..n) into out (room for n): the length, 0 if it is not
 * base64 (a length not a multiple of 4, a stray character or '='). */
size_t mc_base64_decode(const char *in, size_t n, unsigned char *out);

#endif
