/* SPDX-License-Identifier: MIT */
/*
 * hotrestart/heap.h - a persistent heap with transactions, in one block.
 *
 * A heap is a named block of a bank (pmm_alloc) formatted as an allocator
 * with an undo log.  Objects in it are reached through plain pointers: a
 * block has the same address in every process and after every restart.
 * Changes are made inside a transaction: a range is added (its old bytes go
 * to the undo log) before it is changed; objects allocated or freed inside a
 * transaction are given back or kept on abort.  A process killed at any
 * instruction leaves, once the heap is opened or locked again, either all of
 * a committed transaction or none of it.
 *
 * Many transactions run on one heap at once, from threads of one process
 * and from several processes: each takes a lane of the heap (its own undo
 * log and commit word) at hr_heap_begin(), waiting when every lane is busy,
 * and gives it back at commit or abort.  A transaction whose thread or
 * process dies is rolled back by the next thread that meets its lane or
 * one of its locks, or by the next opener; it never blocks the others for
 * good.  On a RAM bank the update path (begin, add, alloc, free, commit)
 * makes no system call when nothing is contended.  On a DISK bank a commit
 * is durable when it returns; see hr_heap_commit(3) for its cost.
 *
 * Isolation.  Before a transaction changes a range (hr_heap_add and the
 * calls built on it) it takes the lock of every 64-byte granule of the
 * range, and holds them to its commit or abort: two transactions never
 * change the same bytes at once, and a rollback never undoes another's
 * commit.  A free takes the locks of the whole object; an allocation or
 * free that the lane's cache of small chunks does not serve takes the
 * allocator's lock, held to the end too.  Reads take no lock: a
 * transaction that must read an object consistent with its writers takes
 * its lock first (hr_heap_lock), and
 * reads of objects it locked or changed see no other transaction's
 * uncommitted bytes (two-phase locking: those transactions are
 * serialisable).  Deadlock cannot happen: a transaction that already holds
 * a lock and would wait for a younger one's gets K_EBUSY instead, after a
 * short wait; it must then abort and may run again.
 *
 * Every call returns 0 or a negative code (<hotrestart/errors.h>, or -errno);
 * pmm_strerror() gives its message.  No call kills its caller over bad input.
 */
#ifndef HOTRESTART_HEAP_H
#define HOTRESTART_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include <hotrestart/pmm.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hr_heap hr_heap;

/* hr_heap_open() flags (the same meaning as for pmm_alloc). */
#define HR_HEAP_RETRIEVE 0x1u /* only open an existing heap */
#define HR_HEAP_EXCL     0x2u /* only create: K_EEXIST if the name is taken */
#define HR_HEAP_INSPECT  0x4u /* open a heap whose undo log is damaged, to
                               * check it: the log is left unapplied,
                               * hr_heap_check names the bad record and
                               * hr_heap_begin refuses with K_EHEAP */
#define HR_HEAP_POPULATE 0x8u /* fault the whole heap in before returning
                               * (pmm_alloc's PMM_POPULATE) */
#define HR_HEAP_POPULATE_BG 0x10u /* the same in a background thread:
                                   * returns at once (PMM_POPULATE_BG) */

/* hr_heap_alloc() flags. */
#define HR_HEAP_ZERO 0x1u /* the new object reads as zeros */

/* Smallest block a heap needs, and the largest it may be. */
#define HR_HEAP_MIN_SIZE (64u << 10)
#define HR_HEAP_MAX_SIZE (64ull << 30)

typedef struct hr_heap_info {
    uint64_t size;        /* bytes of the block */
    uint64_t arena;       /* bytes given to objects (block less header, log) */
    uint64_t used;        /* bytes of live objects (hr_heap_usable sizes) */
    uint64_t objects;     /* live objects */
    uint64_t free;        /* bytes in free chunks of the shared lists,
                           * chunk headers included (lane caches not) */
    uint64_t free_chunks; /* free chunks of the shared lists */
    uint64_t largest_free;/* the largest object one allocation can get now */
    uint64_t log_size;    /* bytes of one lane's undo log: what one tx may add */
    uint64_t tx_count;    /* transactions committed or rolled back so far */
    int durable;          /* 1 on a DISK bank: commits are flushed */
    uint32_t lanes;       /* lanes: transactions that may run at once */
    uint32_t lanes_busy;  /* lanes running a transaction now */
    uint32_t pad0;        /* zero */
    uint64_t cached;      /* bytes of chunks kept in the lanes' caches
                           * for their next allocations (headers included) */
    uint64_t cached_chunks; /* chunks kept there */
    uint64_t reserved[1]; /* zero: room for fields to come */
} hr_heap_info;

/* One lane, as hr_heap_lanes() sees it. */
#define HR_HEAP_LANE_FREE    0 /* no transaction */
#define HR_HEAP_LANE_BUSY    1 /* a live transaction runs in it */
#define HR_HEAP_LANE_DAMAGED 2 /* its dead owner's log is damaged */
typedef struct hr_heap_lane {
    int state;             /* HR_HEAP_LANE_... */
    uint64_t log_used;     /* bytes of its undo log in use (8 a chunk
                            * taken from the lane's cache included) */
    uint64_t log_size;     /* bytes of its undo log */
    uint64_t transactions; /* transactions ended in it so far */
} hr_heap_lane;

/* Open the heap `name` of the bank, creating and formatting it (size bytes,
 * deletion key key/keylen) if it does not exist.  Whatever a dead process
 * left half done is rolled back before this returns.
 * Errors: K_EFAULT bank or out NULL; K_EINVAL bad name, size below
 * HR_HEAP_MIN_SIZE or over HR_HEAP_MAX_SIZE, unknown flag, key as for
 * pmm_alloc; K_ENOTHEAP the block exists and is not a heap; K_EHEAP the
 * heap is damaged or of another format version (hr heap check says how),
 * among others when a dead holder's undo log is (a record whose checksum
 * fails is never applied; HR_HEAP_INSPECT opens it to be checked); -EADDRINUSE the block could not
 * be mapped at its fixed address in this process; and the errors of
 * pmm_alloc (K_EUNKNOWN with HR_HEAP_RETRIEVE, K_EEXIST, K_ENOMEM...). */
PMM_API int hr_heap_open(hr_heap **out, pmm_bank *bank, const char *name,
                         size_t size, const void *key, size_t keylen,
                         unsigned flags);

/* Close a handle (the heap stays).  A transaction still open on it is
 * rolled back first.  A handle holds a reference on its bank from
 * hr_heap_open: the bank stays open (its blocks mapped) until both the
 * caller's pmm_bank_close() and this. */
PMM_API void hr_heap_close(hr_heap *h);

/* The root pointer (NULL until set).  No lock needed.  K_EFAULT if NULL. */
PMM_API int hr_heap_root(hr_heap *h, void **root);

/* Set the root pointer inside a transaction: root is NULL or an object of
 * the heap.  K_ETX no transaction of this thread; K_EINVAL not an object. */
PMM_API int hr_heap_set_root(hr_heap *h, void *root);

/* State across versions of a program: a 64-bit format version word of the
 * caller's own kept beside the root (0 until set), so that a new version
 * finds the state an old one left, knows its format and migrates it in one
 * transaction, and an old version refuses state newer than it knows
 * (docs/heap.md, "State across versions").
 *
 * hr_heap_root_version: read the word.  No lock; K_EFAULT if NULL.
 * hr_heap_set_root_version: set it inside a transaction (with the root it
 * describes, so that both change at one commit).  K_ETX no transaction of
 * this thread; K_EBUSY as for hr_heap_add.
 * hr_heap_root_versioned: the root and its version to *root and *version
 * (NULL and 0 after an error but K_ENEWER), and K_ENEWER when *version is
 * above newest: the caller must not touch the state.  Inside a transaction of
 * this thread both words are locked first (held to its end: K_EBUSY as for
 * hr_heap_add), so a decision to migrate cannot race another migrator;
 * outside one it only reads, and writes nothing.  K_EFAULT if NULL. */
PMM_API int hr_heap_root_version(hr_heap *h, uint64_t *version);
PMM_API int hr_heap_set_root_version(hr_heap *h, uint64_t version);
PMM_API int hr_heap_root_versioned(hr_heap *h, uint64_t newest, void **root,
                                   uint64_t *version);

/* Begin a transaction of the calling thread: takes a free lane, waiting
 * when every lane is busy (a lane whose owner died is rolled back first).
 * Errors: K_EFAULT; K_ETX this thread already runs one on this heap;
 * K_EHEAP the heap is damaged (a dead owner's log cannot be rolled back);
 * K_EBUSY every lane stayed busy while this thread runs a transaction in
 * another heap (their holders may wait for it: abort that one and begin
 * both again, docs/heap.md). */
PMM_API int hr_heap_begin(hr_heap *h);

/* Commit: every change of the transaction becomes permanent at once, then
 * its locks and lane are given back.  On a DISK bank redo records of the
 * changes go to the log, then the commit point, then one msync of one
 * range makes all of it durable before the locks are given back.
 * Errors: K_ETX no transaction of this thread; K_EHEAP, K_EBUSY, K_ENOMEM:
 * a change failed earlier in the transaction (it was rolled back, its
 * locks given back); -errno a flush failed (rolled back). */
PMM_API int hr_heap_commit(hr_heap *h);

/* Abort: roll back every change, allocation and free of the transaction and
 * give back its locks and lane.  K_ETX no transaction of this thread. */
PMM_API int hr_heap_abort(hr_heap *h);

/* Add [p, p+len) to the transaction: the locks of its 64-byte granules are
 * taken (held to the end) and its present bytes saved, so that an abort or
 * a crash puts them back.  Call it before changing the range, which must
 * be bytes of objects the program holds: the call checks that they are in
 * the heap's arena and not of an object this transaction freed, not that
 * they are an object's (that would cost a walk).  Bytes of no object (an
 * object freed before, a use after free) are free space the allocator
 * changes without their locks: an abort would put back their old bytes
 * over its changes, damage hr_heap_check() finds.
 * Errors: K_ETX no transaction of this thread; K_EINVAL the range is not
 * inside the heap's arena, is of an object this transaction freed, or len
 * 0; K_EBUSY a younger transaction holds
 * a lock and waiting might deadlock; K_ENOMEM the undo log is full; -errno
 * (DISK) flushing the log failed.  After K_EBUSY, K_ENOMEM or -errno the
 * transaction can only abort. */
PMM_API int hr_heap_add(hr_heap *h, void *p, size_t len);

/* Convenience: add then store.  hr_heap_set64 needs an 8-byte aligned p. */
PMM_API int hr_heap_set64(hr_heap *h, uint64_t *p, uint64_t v);
PMM_API int hr_heap_write(hr_heap *h, void *dst, const void *src, size_t len);

/* Lock the object p (every granule of it) for the transaction, waiting
 * for another transaction that holds a part of it, to read it consistent
 * or to keep others from changing it until this one ends.
 * Errors: K_ETX; K_EINVAL p is not an object of the heap (or was freed by
 * the transaction that held it, or by this one); K_EBUSY as for
 * hr_heap_add. */
PMM_API int hr_heap_lock(hr_heap *h, const void *p);

/* Allocate an object of size bytes (16-byte aligned) in the transaction.
 * A new object needs no hr_heap_add before it is written.
 * Errors: K_ETX; K_EINVAL size 0 or unknown flag; K_EFAULT out NULL;
 * K_ENOMEM no free chunk is large enough (the transaction goes on) or the
 * undo log is full; K_EBUSY the allocator's lock (as for hr_heap_add);
 * K_EHEAP the heap's free lists are damaged. */
PMM_API int hr_heap_alloc(hr_heap *h, size_t size, unsigned flags,
                          void **out);

/* Free an object in the transaction; it is given back at commit (and stays
 * on abort).  Errors: K_ETX; K_EINVAL p is not an object of this heap
 * (outside it, not the start of an object, already free, or freed twice in
 * this transaction); K_EBUSY as for hr_heap_add (it takes the allocator's
 * lock and the object's); K_ENOMEM too many frees in one transaction. */
PMM_API int hr_heap_free(hr_heap *h, void *p);

/* The usable size of an object (at least what was asked).  K_EINVAL if p
 * is not an object of the heap. */
PMM_API int hr_heap_usable(hr_heap *h, const void *p, size_t *size);

/* Walk the whole heap under the allocator's lock, holding every lane
 * (waiting for the transactions running in them), and report every
 * inconsistency (overlapping or lost chunks, bad free lists, a lane's
 * cache lists that disagree with the chunks it caches, a damaged lane)
 * through fn (may be NULL), rolling back lanes whose owner died.  Returns 0 when the heap is consistent, K_EHEAP
 * otherwise.  Inside a transaction of this thread it checks the heap as
 * the transaction has left it so far (frees are still queued; only the
 * lanes free at that moment are held), and may give K_EBUSY as
 * hr_heap_add. */
PMM_API int hr_heap_check(hr_heap *h, void (*fn)(const char *problem, void *),
                          void *arg);

/* Counters of the heap, taken as hr_heap_check walks (or inside a
 * transaction of this thread, as it stands).  K_EHEAP damaged (the
 * counters are filled as far as the walk went). */
PMM_API int hr_heap_stat(hr_heap *h, hr_heap_info *out);

/* The state of the first n lanes (rolling back those whose owner died):
 * the number of lanes of the heap, or K_EFAULT. */
PMM_API int hr_heap_lanes(hr_heap *h, hr_heap_lane *out, unsigned n);

#ifdef __cplusplus
}
#endif
#endif
