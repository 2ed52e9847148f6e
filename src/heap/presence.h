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

/* The presence file of the bank file at bank_path, open as bank_fd
 * ("<bank>.presence", the bank's owner's, owner-only), made at first need
 * (by root: with the rights of bank_fd's owner, pmm__os_as_owner; in a
 * directory that owner may not write, by root itself beside that very
 * bank, and given to the owner), initialised again under a new boot, mapped once
 * per process and never unmapped; every file is named inside the bank's
 * directory, opened once.  0 and *out; K_EPRIV the file is not a regular
 * file of the bank's owner, mode 0600; -EACCES it does not exist and the
 * bank's directory is not writable by this process; -EUCLEAN it is damaged
 * (cut short, a slot not robust) while another process maps it; -ENOSPC
 * no room for it; -EMFILE this process maps 16 presence files already;
 * or -errno.  Only the wait for the file's lock is a cancellation point. */
int hh_presence_map(int bank_fd, const char *bank_path,
                    struct hh_pfile **out);

/* The id of f: random, new each time the file is initialised. */
uint64_t hh_presence_id(const struct hh_pfile *f);

/* Does no process map the presence file of id `id` of the bank open as
 * bank_fd (read-write)?  0 none does, -ESTALE one does, or -errno. */
int hh_presence_gone(int bank_fd, uint64_t id);

/* This thread's owner word in f, taking a slot for it the first time
 * (held until the thread ends).  0 and *word; -EMFILE the thread holds
 * slots in 8 presence files already; -EUSERS every slot (2048) is held by
 * a live thread; or -errno. */
int hh_presence_slow(struct hh_pfile *f, uint64_t *word);

/* Is the slot this thread's TLS names in f really held by it?  Not in a
 * child made by _Fork() (no fork handlers), which inherits its parent
 * thread's TLS but none of its slots: then forget them all (the next
 * hh_presence takes a slot of its own) and return 1 (the caller forgets
 * the transactions it inherited too: hh_lane_verify); else 0.  No system
 * call (a robust, error-checking mutex's trylock says EDEADLK to its
 * holder). */
int hh_presence_verify(struct hh_pfile *f);

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
