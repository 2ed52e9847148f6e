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
 * The file ("<bank file>.presence") is made at first need by whoever
 * comes first; it is the bank file's owner's, mode 0600 (root makes it
 * aside, gives it to the owner, then links it under its name), and any
 * other file there is refused (K_EPRIV).  Root, for a user's bank, makes
 * it with the user's rights; with its own only where the user cannot and
 * the bank's directory is an administrator's (pfopen.c), else -EACCES.
 * Every process takes an open-file-description lock on it before it
 * looks at it, and
 * initialises it (every slot, a new random id, the boot id, then the
 * magic) if its magic or boot id is not this boot's: a file of an older
 * boot holds mutexes no living thread holds.  A file of this boot that is
 * damaged (cut short, a slot's mutex not robust: a zeroed one is a plain
 * mutex, whose dead holder no one would see) is initialised so only when
 * no process maps it (its id's byte free), else refused (-EUCLEAN).  Its
 * space is reserved before a byte is written (-ENOSPC, not a SIGBUS).
 * Only the wait for its lock may be cancelled: maps_mu is held with
 * cancellation off (a lock left held would stop every later open, and
 * fork(), whose handler takes it).  A forked child holds no
 * slot (glibc empties its robust list): its table is emptied.
 *
 * One file at a time per heap: owner words mean something only against
 * the file they were written under.  Were the file removed and made
 * again while processes that mapped it live, an opener of the new one
 * would find a live owner's slot free and roll its transaction back.  So
 * the heap's header records the id of the file its owner words were
 * written under (open.c), and every process that maps a file read-locks
 * the bank file at the byte PF_USE_BASE + (id & PF_USE_MASK) for its
 * life (the descriptor kept; a forked child shares it, exec closes it).
 * An opener whose file's id is not the heap's write-locks the old id's
 * byte an instant (hh_presence_gone): held, a process that may own lanes
 * by the old file lives and the open fails (-ESTALE); free, none does,
 * and every owner word the heap holds is dead.  The lock is taken before
 * the mapping is used, so a process that mapped the old file and has not
 * locked yet will, and then finds the heap's id not its file's.  A cold
 * restart remakes the bank but keeps this file: old and new processes
 * judge by one file.  Through the interface the file is removed only by
 * pmm_site_destroy, after its bank: a process that opens the bank by its
 * name later opens a new bank, whose heaps are new; one that opens a
 * heap through a bank handle opened before is refused (-ESTALE, open.c:
 * the path's bank file is not the handle's).  Not covered: the file
 * removed by hand, a process that mapped it before a cold restart holds
 * its byte on the old bank only (a mapping found again takes no second
 * lock), so an opener of the new bank's heaps would not see it.
 *
 * Limits, clear errors rather than waits: PF_MAX files mapped by a
 * process in its life (-EMFILE), PF_MINE files a thread holds slots in
 * (-EMFILE), PF_SLOTS live threads per file (-EUSERS: the threads of a
 * server may never end, so a wait could be for ever).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "crash.h"
#include "hotrestart/errors.h"
#include "os/os.h"
#include "pfopen.h"
#include "presence.h"
#include "sys.h"

#define PF_MAGIC  0x45434e4553455250ull /* "PRESENCE" */
#define PF_SLOTS  2048u
#define PF_HDR    4096u
#define PF_MAX    16u /* presence files a process maps */
#define PF_MINE   8u  /* presence files a thread holds a slot in */
/* A process that maps a presence file read-locks the byte PF_USE_BASE +
 * (the file's id & PF_USE_MASK) of the bank file for its life (its
 * descriptor is kept; a forked child shares it): far past the bank's end,
 * apart from pmm's byte 0 and the heaps' open locks (sys.c, 1 << 60). */
#define PF_USE_BASE (1ull << 61)
#define PF_USE_MASK 0xffffffffull

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
    uint64_t id; /* random, new at each initialisation: which file */
    uint8_t reserved[PF_HDR - 40];
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
    int bank_fd; /* read-locked at the file's byte (PF_USE_BASE) */
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

#ifdef __GLIBC__
/* Is every slot's mutex robust and process-shared?  Its kind, which a
 * lock never changes, is the one slot_init gives (glibc's layout): a
 * zeroed slot (a file cut short and grown again, bytes wiped) is a plain
 * mutex, which no one would find its holder dead in. */
static int slots_robust(const struct hh_pfile *f)
{
    struct pf_slot t;
    if (slot_init(&t) < 0)
        return 0;
    for (unsigned i = 0; i < PF_SLOTS; i++)
        if (f->slot[i].mu.__data.__kind != t.mu.__data.__kind)
            return 0;
    return 1;
}
#else
static int slots_robust(const struct hh_pfile *f)
{
    (void)f;
    return 1;
}
#endif

/* Is the presence file f, of this boot but damaged, mapped by no process
 * (the bank's byte of its id free: map_file)?  0 none maps it,
 * -EUCLEAN one does, or -errno. */
static int unused(int dir, const char *bank, const struct hh_pfile *f)
{
    int bfd, r = pmm__os_openat(dir, bank, 0, 0, &bfd);
    if (r < 0)
        return r;
    r = hh_presence_gone(bfd, f->id);
    pmm__os_close(bfd);
    return r == -ESTALE ? -EUCLEAN : r;
}

/* fd is the presence file, locked: map it, initialising it (a new id)
 * if it is not this boot's, or damaged (cut short, a slot not robust)
 * while no process maps it.  Its space is taken first: a store into a
 * page the file system has no room for would be a SIGBUS. */
static int map_locked(int dir, const char *bank, int fd,
                      struct hh_pfile **out)
{
    size_t len = PF_HDR + (size_t)PF_SLOTS * sizeof(struct pf_slot);
    uint64_t size;
    int r = pmm__os_size(fd, &size, NULL, NULL, NULL, NULL);
    if (r < 0 || (r = pmm__os_reserve(fd, 0, len)) < 0)
        return r;
    if (size < len && (r = pmm__os_truncate(fd, len)) < 0)
        return r;
    void *p;
    if ((r = pmm__os_map_block(fd, 0, len, 0, 0, &p)) < 0)
        return r;
    struct hh_pfile *f = p;
    uint8_t boot[16];
    if ((r = hh_os_boot_id(boot)) < 0) /* never a made-up boot: the
                                         * slots of live threads */
        goto fail;
    int this_boot = !memcmp(f->boot, boot, sizeof boot);
    int ours = this_boot &&
               __atomic_load_n(&f->magic, __ATOMIC_ACQUIRE) == PF_MAGIC &&
               f->nslots == PF_SLOTS;
    int whole = size >= len && slots_robust(f);
    /* damaged under live threads (a slot, the magic, the count; this
     * boot's): their slots cannot be told apart, so it is initialised
     * again only once no process maps it; a file of another boot (or
     * one whose boot bytes are gone) is no live process's */
    if (this_boot && (!ours || !whole) && (r = unused(dir, bank, f)) < 0)
        goto fail;
    if (!ours || !whole) {
        uint64_t id = 0;
        __atomic_store_n(&f->magic, 0, __ATOMIC_RELAXED);
        for (unsigned i = 0; i < PF_SLOTS && r == 0; i++)
            r = slot_init(&f->slot[i]);
        while (r == 0 && !id) /* 0 is no file's id */
            r = pmm__os_random(&id, sizeof id);
        if (r < 0)
            goto fail;
        f->nslots = PF_SLOTS;
        f->id = id;
        memcpy(f->boot, boot, sizeof boot);
        __atomic_store_n(&f->magic, PF_MAGIC, __ATOMIC_RELEASE);
    }
    *out = f;
    return 0;
fail:
    pmm__os_unmap_block(p, len);
    return r;
}

/* This process's mapping of the file (dev, ino), under maps_mu: 0 and
 * *out, or -ENOENT. */
static int find(dev_t dev, ino_t ino, struct hh_pfile **out)
{
    for (unsigned i = 0; i < nmaps; i++)
        if (maps[i].dev == dev && maps[i].ino == ino) {
            *out = maps[i].f;
            return 0;
        }
    return -ENOENT;
}

/* Map the presence file fd (locked by this process) of the bank named
 * bank in dir, under maps_mu: found, or made now, with the bank read-locked
 * at the byte of the file's id for good. */
static int map_file(int dir, const char *bank, int fd, dev_t dev, ino_t ino,
                    struct hh_pfile **out)
{
    if (find(dev, ino, out) == 0)
        return 0; /* another thread mapped it while this one waited */
    if (nmaps == PF_MAX)
        return -EMFILE;
    int bfd, r = pmm__os_openat(dir, bank, 1, 0, &bfd);
    if (r < 0)
        return r;
    r = map_locked(dir, bank, fd, out);
    /* an opener that tests whether the file is used holds the byte an
     * instant (hh_presence_gone) */
    while (r == 0 && (r = pmm__os_trylock_byte(bfd, PF_USE_BASE +
                                               ((*out)->id & PF_USE_MASK),
                                               0)) == -EAGAIN)
        pmm__os_yield();
    if (r < 0) { /* (a mapping made stays: it may be in use elsewhere) */
        pmm__os_close(bfd);
        return r;
    }
    maps[nmaps++] = (struct pf_map){dev, ino, *out, bfd};
    return 0;
}

static void close_fds(void *fds)
{
    pmm__os_close(((int *)fds)[0]);
    pmm__os_close(((int *)fds)[1]);
}

/* Not cancelled but where nothing is held besides fd (the file's lock
 * wait): a cancellation under maps_mu would leave it locked, and every
 * later open, and fork() (its atfork handler), waiting for ever. */
int hh_presence_map(int bank_fd, const char *bank_path, struct hh_pfile **out)
{
    char bank[256], path[300];
    struct pmm__os_as as;
    uid_t owner;
    dev_t dev;
    ino_t ino;
    int fds[2], cancel, r; /* the presence file, the bank's directory */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    /* root opening a user's bank makes and maps its presence file with
     * the user's rights: a part of the path swapped meanwhile (the user's
     * to swap) leads nowhere the user could not write; and every file is
     * named inside the bank's directory held open */
    if ((r = pmm__os_as_owner(bank_fd, &as)) < 0)
        goto out;
    if ((r = fds[1] = pmm__os_open_parent(bank_path, bank, sizeof bank)) < 0) {
        pmm__os_as_self(&as);
        goto out;
    }
    snprintf(path, sizeof path, "%s.presence", bank);
    if ((r = pmm__os_statat(fds[1], bank, &owner, NULL, &dev, &ino)) == 0 &&
        (r = hh_pfile_open(fds[1], path, owner, &fds[0], &dev, &ino)) ==
            -EACCES && as.on && hh_pfile_admins(fds[1], bank_fd, dev, ino)) {
        /* the bank's own directory, not its owner's to write, an
         * administrator's (root's, no group or other writes it): root
         * makes it there for the owner, beside that very bank only; in
         * any other the owner's -EACCES stands (pfopen.c says why) */
        pmm__os_as_self(&as);
        r = hh_pfile_open(fds[1], path, owner, &fds[0], &dev, &ino);
    }
    pmm__os_as_self(&as);
    if (r < 0) {
        pmm__os_close(fds[1]);
        goto out;
    }
    pthread_once(&fork_once, on_fork);
    pthread_mutex_lock(&maps_mu);
    r = find(dev, ino, out);
    pthread_mutex_unlock(&maps_mu);
    if (r == -ENOENT) { /* every process looks at it under its lock */
        pthread_setcancelstate(cancel, NULL);
        pthread_cleanup_push(close_fds, fds);
        r = pmm__os_lock(fds[0], 1);
        pthread_cleanup_pop(0);
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
        if (r == 0) {
            if ((r = pmm__os_as_owner(bank_fd, &as)) == 0) {
                pthread_mutex_lock(&maps_mu);
                r = map_file(fds[1], bank, fds[0], dev, ino, out);
                pthread_mutex_unlock(&maps_mu);
                pmm__os_as_self(&as);
            }
            pmm__os_unlock(fds[0]);
        }
    }
    close_fds(fds);
out:
    pthread_setcancelstate(cancel, NULL);
    return r;
}

uint64_t hh_presence_id(const struct hh_pfile *f)
{
    return f->id;
}

int hh_presence_gone(int bank_fd, uint64_t id)
{
    uint64_t byte = PF_USE_BASE + (id & PF_USE_MASK);
    int r = pmm__os_trylock_byte(bank_fd, byte, 1);
    if (r == -EAGAIN)
        return -ESTALE;
    if (r == 0)
        pmm__os_trylock_byte(bank_fd, byte, -1);
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
        return -EMFILE; /* a thread in heaps of PF_MINE banks already */
    pthread_once(&fork_once, on_fork);
    /* a thread's first try by its TLS address: threads spread over slots */
    unsigned n = PF_SLOTS;
    unsigned p = (unsigned)(((uintptr_t)&nmine >> 4) * 0x9e3779b1u) % n;
    int r = EBUSY;
    for (unsigned k = 0; k < n; k++, p = p + 1 == n ? 0 : p + 1)
        if ((r = pthread_mutex_trylock(&f->slot[p].mu)) == 0 ||
            r == EOWNERDEAD)
            break; /* else held, or unrecoverable: passed over */
    if (r != 0 && r != EOWNERDEAD) /* every slot held by a live thread: an end may be
                     * far off (threads of servers live long) */
        return -EUSERS;
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

int hh_presence_verify(struct hh_pfile *f)
{
    uint64_t w = 0;
    for (unsigned i = 0; i < nmine && !w; i++)
        if (mine[i].f == f)
            w = mine[i].word;
    if (!w)
        return 0; /* none yet: hh_presence_slow takes one */
    uint64_t p = (w >> HH_OWNER_SHIFT) - 1;
    struct pf_slot *s = &f->slot[p];
    int r = pthread_mutex_trylock(&s->mu); /* EDEADLK: held by this thread */
    if (__builtin_expect(r == EDEADLK, 1))
        return 0;
    /* a child made without fork's handlers (_Fork, clone): it holds none
     * of its parent thread's slots, nor words */
    if (r == EOWNERDEAD)
        pthread_mutex_consistent(&s->mu);
    if (r == 0 || r == EOWNERDEAD) /* that thread has ended */
        give_back(f, (p + 1) << HH_OWNER_SHIFT |
                         __atomic_load_n(&s->gen, __ATOMIC_RELAXED));
    nmine = 0;
    hh_last_pf = NULL;
    return 1;
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
