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
 * One transaction at a time runs on a heap: hr_heap_begin() takes the heap's
 * lock (a robust, process-shared mutex inside the heap), commit or abort
 * gives it back.  A holder that dies is rolled back by the next process that
 * takes the lock.  On a RAM bank the update path (begin, add, alloc, free,
 * commit) makes no system call when the lock is free.  On a DISK bank a
 * commit is durable when it returns; see hr_heap_commit(3) for its cost.
 *
 * Reading without the lock: any word is read whole (8-byte aligned stores),
 * but a transaction running in another process may be half done; a reader
 * who needs several words to agree begins a transaction (or uses only data
 * that no transaction changes).  hr_heap_root() needs no lock.
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
    uint64_t free;        /* bytes in free chunks, chunk headers included */
    uint64_t free_chunks; /* free chunks */
    uint64_t largest_free;/* the largest object one allocation can get now */
    uint64_t log_size;    /* bytes of the undo log: what one tx may add */
    uint64_t tx_count;    /* transactions committed or rolled back so far */
    int durable;          /* 1 on a DISK bank: commits are flushed */
    uint64_t reserved[4]; /* zero: room for fields to come */
} hr_heap_info;

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
 * rolled back first. */
PMM_API void hr_heap_close(hr_heap *h);

/* The root pointer (NULL until set).  No lock needed.  K_EFAULT if NULL. */
PMM_API int hr_heap_root(hr_heap *h, void **root);

/* Set the root pointer inside a transaction: root is NULL or an object of
 * the heap.  K_ETX no transaction of this thread; K_EINVAL not an object. */
PMM_API int hr_heap_set_root(hr_heap *h, void *root);

/* Begin a transaction: takes the heap's lock, waiting for another holder.
 * Errors: K_EFAULT; K_ETX this thread already runs one on this heap;
 * K_EHEAP the heap is damaged (a dead holder's log cannot be rolled back). */
PMM_API int hr_heap_begin(hr_heap *h);

/* Commit: every change of the transaction becomes permanent at once, then
 * the lock is released.  On a DISK bank the changed ranges are flushed
 * (msync) before, and the log's end after, the commit point.
 * Errors: K_ETX no transaction of this thread; K_EHEAP a change failed
 * earlier in the transaction (it was rolled back, the lock released);
 * -errno a flush failed (rolled back, lock released). */
PMM_API int hr_heap_commit(hr_heap *h);

/* Abort: roll back every change, allocation and free of the transaction and
 * release the lock.  K_ETX no transaction of this thread. */
PMM_API int hr_heap_abort(hr_heap *h);

/* Add [p, p+len) to the transaction: its present bytes are saved so that an
 * abort or a crash puts them back.  Call it before changing the range.
 * Errors: K_ETX no transaction of this thread; K_EINVAL the range is not
 * inside the heap's objects, or len 0; K_ENOMEM the undo log is full (the
 * transaction can only abort); -errno (DISK) flushing the log failed. */
PMM_API int hr_heap_add(hr_heap *h, void *p, size_t len);

/* Convenience: add then store.  hr_heap_set64 needs an 8-byte aligned p. */
PMM_API int hr_heap_set64(hr_heap *h, uint64_t *p, uint64_t v);
PMM_API int hr_heap_write(hr_heap *h, void *dst, const void *src, size_t len);

/* Allocate an object of size bytes (16-byte aligned) in the transaction.
 * A new object needs no hr_heap_add before it is written.
 * Errors: K_ETX; K_EINVAL size 0 or unknown flag; K_EFAULT out NULL;
 * K_ENOMEM no free chunk is large enough (the transaction goes on) or the
 * undo log is full; K_EHEAP the heap's free lists are damaged. */
PMM_API int hr_heap_alloc(hr_heap *h, size_t size, unsigned flags,
                          void **out);

/* Free an object in the transaction; it is given back at commit (and stays
 * on abort).  Errors: K_ETX; K_EINVAL p is not an object of this heap
 * (outside it, not the start of an object, already free, or freed twice in
 * this transaction); K_ENOMEM too many frees in one transaction. */
PMM_API int hr_heap_free(hr_heap *h, void *p);

/* The usable size of an object (at least what was asked).  K_EINVAL if p
 * is not an object of the heap. */
PMM_API int hr_heap_usable(hr_heap *h, const void *p, size_t *size);

/* Walk the whole heap under its lock and report every inconsistency
 * (overlapping or lost chunks, bad free lists, wrong counters, a live undo
 * log) through fn (may be NULL).  Returns 0 when the heap is consistent,
 * K_EHEAP otherwise.  Inside a transaction of this thread it checks the
 * heap as the transaction has left it so far (frees are still queued). */
PMM_API int hr_heap_check(hr_heap *h, void (*fn)(const char *problem, void *),
                          void *arg);

/* Counters of the heap, taken under its lock (or inside a transaction of
 * this thread, as it stands).  K_EHEAP damaged (the counters are filled as
 * far as the walk went). */
PMM_API int hr_heap_stat(hr_heap *h, hr_heap_info *out);

#ifdef __cplusplus
}
#endif
#endif
