/* SPDX-License-Identifier: MIT */
/*
 * presence.h - whether the thread that owns a lane lives (presence.c says
 * how, and why no pointer into a heap's block is ever left with a thread).
 */
#ifndef HR_HEAP_PRESENCE_H
#define HR_HEAP_PRESENCE_H

#include <stdint.h>

struct hh_pfile; /* a bank's presence file, mapped for good */

/* An owner word: 0 none, or (slot + 1) << HH_OWNER_SHIFT | generation. */
#define HH_OWNER_SHIFT 48
#define HH_GEN_MASK    ((1ull << HH_OWNER_SHIFT) - 1)

/* The presence file of the bank file at bank_path ("<bank>.presence",
 * owner-only), made at first need, initialised again under a new boot,
 * mapped once per process and never unmapped.  0 and *out, or -errno. */
int hh_presence_map(const char *bank_path, struct hh_pfile **out);

/* This thread's owner word in f, taking a slot for it the first time
 * (held until the thread ends).  0 and *word, or -errno. */
int hh_presence_slow(struct hh_pfile *f, uint64_t *word);

#define TLS_IE __attribute__((tls_model("initial-exec")))
__attribute__((visibility("hidden"))) extern __thread struct hh_pfile
    *hh_last_pf TLS_IE;
__attribute__((visibility("hidden"))) extern __thread uint64_t
    hh_last_word TLS_IE;

/* This thread's owner word in f (the last file it used: no search). */
static inline int hh_presence(struct hh_pfile *f, uint64_t *word)
{
    if (__builtin_expect(hh_last_pf == f, 1)) {
        *word = hh_last_word;
        return 0;
    }
    return hh_presence_slow(f, word);
}

/* Does the owner named by word w live?  2 it is this thread, 1 it lives,
 * 0 it has ended (its thread or process died, or its slot was given back
 * and perhaps taken again): its lanes are dead. */
int hh_owner_lives(struct hh_pfile *f, uint64_t w);

#endif
