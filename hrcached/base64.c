/* SPDX-License-Identifier: MIT */
/*
 * base64.c - the base64 of the meta commands' b flag (binary keys): the
 * standard alphabet with = padding.  A key that is not well-formed base64
 * is refused, never guessed at.
 */
#include <string.h>

#include "base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t mc_base64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
    }
    return o;
}

static int value_of(char c)
{
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

size_t mc_base64_decode(const char *in, size_t n, unsigned char *out)
{
    if (n == 0 || n % 4)
        return 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int pad = (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=');
        if (pad && i + 4 != n)
            return 0;
        int a = value_of(in[i]), b = value_of(in[i + 1]);
        int c = pad == 2 ? 0 : value_of(in[i + 2]);
        int d = pad ? 0 : value_of(in[i + 3]);
        if (a < 0 || b < 0 || c < 0 || d < 0)
            return 0;
        unsigned v = (unsigned)a << 18 | (unsigned)b << 12 |
                     (unsigned)c << 6 | (unsigned)d;
        out[o++] = (unsigned char)(v >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(v >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)v;
    }
    return o;
}
