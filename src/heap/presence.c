/* SPDX-License-Identifier: MIT */
/*
 * presence.c - which threads live, told by the kernel, in a file that holds
 * nothing else.
 *
 * A transaction owns a lane by one compare-and-swap of the lane's owner
 * word (lane.c) to its thread's owner word: (slot + 1) << 48 | generation,
 * a slot of the bank's presence file.  A thread takes a slot once per file
 * (per bank, not per heap): it locks the slot's robust, process-shared
 * mutex, holds it until it ends, and moves the slot's generation on.  A
 * slot's generation changes only under its mutex: when it is taken, and
 * when a rescuer finds its holder dead.  A thread that ends (by return,
 * pthread_exit or a cancellation, inside a transaction or not) or whose
 * process dies still holds its slot: the kernel marks the mutex's owner
 * dead (the robust list's walk), and the next to try it (a rescuer, or a
 * thread looking for a slot) gets EOWNERDEAD.  So while the thread that wrote an owner word
 * lives, its slot's generation is the word's and its mutex is held; when
 * a word's generation is not the slot's, or its mutex can be taken (0, or
 * EOWNERDEAD when the process or thread died holding it), its owner has
 * ended (hh_owner_lives; a rescuer that takes the mutex moves the
 * generation on before it gives it back).  A reader may see "lives" a
 * moment after the end; never "ended" while the owner lives.
 *
 * Why a file of its own: a held robust mutex is on its thread's robust
 * list, which glibc writes at every robust lock and the kernel walks when
 * the thread ends.  If that mutex lay in a heap's block, closing the
 * block's bank or freeing the block while the thread lives would leave the
 * list pointing into unmapped memory (a SIGSEGV at the next lock, a walk
 * that stops and leaves later mutexes never marked dead) or into another
 * block's data.  The presence file is mapped once per process and never
 * unmapped, and it holds presence slots only; its pages are never given to
 * anything else, even once unlinked.
 *
 * The file ("<bank file>.presence", mode 0600) is made at first need by
 * whoever comes first; every process takes an open-file-description lock
 * on it before it looks at it, and initialises it (every slot, then the
 * boot id, then the magic) if its magic or boot id is not this boot's: a
 * file of an older boot holds mutexes no living thread holds.  A forked
 * child holds no slot (glibc empties its robust list): its table is
 * emptied.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "crash.h"
#include "hotrestart/errors.h"
#include "os/os.h"
#include "presence.h"
#include "sys.h"

#define PF_MAGIC  0x45434e4553455250ull /* "PRESENCE" */
#define PF_SLOTS  2048u
#define PF_HDR    4096u
#define PF_MAX    16u /* presence files a process maps */
#define PF_MINE   8u  /* presence files a thread holds a slot in */

struct pf_slot {
    union {
        pthread_mutex_t mu; /* robust, process-shared */
        uint8_t mu_bytes[48];
    };
    uint64_t gen; /* changed under mu only */
    uint64_t reserved;
};
_Static_assert(sizeof(struct pf_slot) == 64, "presence slot size");
_Static_assert(sizeof(pthread_mutex_t) <= 48, "mutex fits its slot");

struct hh_pfile {
    uint64_t magic; /* PF_MAGIC, stored last */
    uint64_t nslots;
    uint8_t boot[16];
    uint8_t reserved[PF_HDR - 32];
    struct pf_slot slot[];
};

__thread struct hh_pfile *hh_last_pf TLS_IE;
__thread uint64_t hh_last_word TLS_IE;
static __thread struct {
    struct hh_pfile *f;
    uint64_t word;
} mine[PF_MINE] TLS_IE;
static __thread unsigned nmine TLS_IE;

static pthread_mutex_t maps_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pf_map {
    dev_t dev;
    ino_t ino;
    struct hh_pfile *f;
} maps[PF_MAX];
static unsigned nmaps;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* Give back the slot of word, which this thread holds (a dead holder's,
 * taken by a rescuer): its generation moves on first, so that the lanes
 * that name it read as ended. */
static void give_back(struct hh_pfile *f, uint64_t word)
{
    struct pf_slot *s = &f->slot[(word >> HH_OWNER_SHIFT) - 1];
    __atomic_store_n(&s->gen, (word & HH_GEN_MASK) + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&s->mu);
}

static void fork_prepare(void)
{
    pthread_mutex_lock(&maps_mu);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&maps_mu);
}

/* The child holds no slot (glibc empties its robust list). */
static void fork_child(void)
{
    pthread_mutex_unlock(&maps_mu);
    nmine = 0;
    hh_last_pf = NULL;
}

static void on_fork(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static int slot_init(struct pf_slot *s)
{
    pthread_mutexattr_t a;
    int r = pthread_mutexattr_init(&a);
    if (r)
        return -r;
    if ((r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) ||
        (r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) ||
        (r = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK)) ||
        (r = pthread_mutex_init(&s->mu, &a))) {
        pthread_mutexattr_destroy(&a);
        return -r;
    }
    pthread_mutexattr_destroy(&a);
    s->gen = 1;
    return 0;
}

/* fd is the presence file, locked: map it, initialising it if it is not
 * this boot's. */
static int map_locked(int fd, struct hh_pfile **out)
{
    size_t len = PF_HDR + (size_t)PF_SLOTS * sizeof(struct pf_slot);
    uint64_t size;
    uid_t uid;
    int r = pmm__os_size(fd, &size, &uid, NULL, NULL, NULL);
    if (r < 0)
        return r;
    if (uid != pmm__os_euid())
        return -EPERM;
    if (size < len && (r = pmm__os_truncate(fd, len)) < 0)
        return r;
    void *p;
    if ((r = pmm__os_map_block(fd, 0, len, 0, 0, &p)) < 0)
        return r;
    struct hh_pfile *f = p;
    uint8_t boot[16];
    hh_os_boot_id(boot);
    if (__atomic_load_n(&f->magic, __ATOMIC_ACQUIRE) != PF_MAGIC ||
        f->nslots != PF_SLOTS || memcmp(f->boot, boot, sizeof boot)) {
        __atomic_store_n(&f->magic, 0, __ATOMIC_RELAXED);
        for (unsigned i = 0; i < PF_SLOTS; i++)
            if ((r = slot_init(&f->slot[i])) < 0) {
                pmm__os_unmap_block(p, len);
                return r;
            }
        f->nslots = PF_SLOTS;
        memcpy(f->boot, boot, sizeof boot);
        __atomic_store_n(&f->magic, PF_MAGIC, __ATOMIC_RELEASE);
    }
    *out = f;
    return 0;
}

int hh_presence_map(const char *bank_path, struct hh_pfile **out)
{
    char path[4200];
    if (snprintf(path, sizeof path, "%s.presence", bank_path) >=
        (int)sizeof path)
        return -ENAMETOOLONG;
    int fd, r = pmm__os_open(path, 0, 0, &fd);
    if (r == -ENOENT && (r = pmm__os_open(path, 0, 1, &fd)) == -EEXIST)
        r = pmm__os_open(path, 0, 0, &fd);
    if (r < 0)
        return r;
    dev_t dev;
    ino_t ino;
    if ((r = pmm__os_size(fd, NULL, NULL, NULL, &dev, &ino)) < 0) {
        pmm__os_close(fd);
        return r;
    }
    pthread_once(&fork_once, on_fork);
    pthread_mutex_lock(&maps_mu);
    for (unsigned i = 0; i < nmaps; i++)
        if (maps[i].dev == dev && maps[i].ino == ino) {
            *out = maps[i].f;
            goto done;
        }
    r = -EMFILE;
    if (nmaps < PF_MAX && (r = pmm__os_lock(fd, 1)) == 0) {
        if ((r = map_locked(fd, out)) == 0)
            maps[nmaps++] = (struct pf_map){dev, ino, *out};
        pmm__os_unlock(fd);
    }
done:
    pthread_mutex_unlock(&maps_mu);
    pmm__os_close(fd);
    return r;
}

int hh_presence_slow(struct hh_pfile *f, uint64_t *word)
{
    for (unsigned i = 0; i < nmine; i++)
        if (mine[i].f == f) {
            hh_last_pf = f;
            *word = hh_last_word = mine[i].word;
            return 0;
        }
    if (nmine == PF_MINE)
        return K_ETX;
    pthread_once(&fork_once, on_fork);
    /* a thread's first try by its TLS address: threads spread over slots */
    unsigned n = PF_SLOTS;
    unsigned p = (unsigned)(((uintptr_t)&nmine >> 4) * 0x9e3779b1u) % n;
    int r = EBUSY;
    for (unsigned k = 0; k < n; k++, p = p + 1 == n ? 0 : p + 1)
        if ((r = pthread_mutex_trylock(&f->slot[p].mu)) == 0 ||
            r == EOWNERDEAD)
            break; /* else held, or unrecoverable: passed over */
    if (r != 0 && r != EOWNERDEAD) /* every slot held: wait for an end */
        r = pthread_mutex_lock(&f->slot[p].mu);
    if (r == EOWNERDEAD)
        r = pthread_mutex_consistent(&f->slot[p].mu);
    if (r)
        return -r;
    uint64_t gen = __atomic_load_n(&f->slot[p].gen, __ATOMIC_RELAXED) + 1;
    __atomic_store_n(&f->slot[p].gen, gen, __ATOMIC_RELEASE);
    hh_crash("heap.presence-taken");
    mine[nmine].f = f;
    mine[nmine++].word = (uint64_t)(p + 1) << HH_OWNER_SHIFT | gen;
    hh_last_pf = f;
    *word = hh_last_word = mine[nmine - 1].word;
    return 0;
}

int hh_owner_lives(struct hh_pfile *f, uint64_t w)
{
    for (unsigned i = 0; i < nmine; i++)
        if (mine[i].f == f && mine[i].word == w)
            return 2;
    uint64_t p = (w >> HH_OWNER_SHIFT) - 1;
    if (!w || p >= PF_SLOTS)
        return 0; /* no slot's: a word no owner wrote */
    struct pf_slot *s = &f->slot[p];
    if (__atomic_load_n(&s->gen, __ATOMIC_ACQUIRE) != (w & HH_GEN_MASK))
        return 0;
    int r = pthread_mutex_trylock(&s->mu);
    if (r == EBUSY || r == EDEADLK)
        return 1;
    if (r == EOWNERDEAD)
        pthread_mutex_consistent(&s->mu);
    if (r == 0 || r == EOWNERDEAD) /* ended: its word is void from now */
        give_back(f, (p + 1) << HH_OWNER_SHIFT |
                         __atomic_load_n(&s->gen, __ATOMIC_RELAXED));
    return 0;
}
