/*
 * heap_int.h - what the files of the persistent heap share.
 *
 * The heap reaches the rest of the library only through the public
 * interface (<hotrestart/pmm.h>), plus pmm__crash() for the named crash
 * points of the tests.
 *
 * Transaction state lives in the handle and is touched only by the thread
 * that holds the heap's lock through that handle (owner).
 */
#ifndef HR_HEAP_INT_H
#define HR_HEAP_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <hotrestart/heap.h>

#include "format.h"

#define HH_HIDDEN __attribute__((visibility("hidden")))

/* src/pmm/crash.c: SIGKILL at a named point when HR_CRASHPOINT arms it.
 * hh_crash() calls it only if the variable was set when a heap was opened
 * (hh_crash_armed, sys.c), so that an unarmed point costs one branch. */
HH_HIDDEN void pmm__crash(const char *point);
HH_HIDDEN extern int hh_crash_armed;
static inline void hh_crash(const char *point)
{
    if (__builtin_expect(hh_crash_armed, 0))
        pmm__crash(point);
}

struct hh_span {
    uint64_t off, len;
};

struct hr_heap {
    pmm_bank *bank;
    char name[PMM_NAME_MAX];
    uint8_t *base;          /* the block; hdr == (void *)base */
    struct hh_hdr *hdr;
    uint64_t size;
    uint64_t page;          /* page size, for flushes */
    int durable;            /* DISK: flush the log and commits */
    int record_fd;          /* HR_HEAP_FLUSHLOG: flushes recorded, or -1 */
    uint8_t *record_snap;   /* the block as last recorded */

    /* the transaction of this handle, under the heap's lock */
    pthread_t owner;        /* valid while in_tx */
    int in_tx;              /* read by other threads: atomically */
    int doomed;             /* a change failed: commit rolls back */
    uint64_t log_pos;       /* bytes of the log written by this tx */
    uint64_t log_synced;    /* bytes of it known durable (DISK) */
    uint64_t last_entry;    /* log offset of the last entry written */
    uint32_t tx_stamp;      /* this tx's number in the handle, never 0 */
    uint32_t hot_saved[HH_HDR_SIZE / 8]; /* tx_stamp: header word saved */
    struct hh_span recent[4]; /* ranges saved last: not saved again */
    unsigned nrecent;
    uint64_t *frees;        /* objects freed by this tx, applied at commit */
    size_t nfrees, cap_frees;
    struct hh_span *news;   /* objects allocated by this tx (DISK flush) */
    size_t nnews, cap_news;
};

static inline void hh_barrier(void)
{
    __asm__ __volatile__("" ::: "memory");
}

/* lock.c */
HH_HIDDEN int hh_lock(struct hr_heap *h);
HH_HIDDEN void hh_unlock(struct hr_heap *h);
HH_HIDDEN int hh_lock_init(struct hh_hdr *hdr);
HH_HIDDEN int hh_in_my_tx(struct hr_heap *h);

/* log.c */
HH_HIDDEN int hh_log_new(struct hr_heap *h, const void *p, size_t len);

/* Save [p, p+len) in the undo log before it changes, unless one of the last
 * entries of this transaction saved it already (its bytes from before the
 * transaction are in the log).  Inline: the update path's common case,
 * "saved already", costs no call. */
static inline int hh_log(struct hr_heap *h, const void *p, size_t len)
{
    if (h->doomed)
        return h->doomed;
    uint64_t off = (uint64_t)((const uint8_t *)p - h->base);
    for (unsigned i = 0; i < h->nrecent && i < 4; i++)
        if (off >= h->recent[i].off &&
            off + len <= h->recent[i].off + h->recent[i].len)
            return 0;
    return hh_log_new(h, p, len);
}

/* Save n adjacent words of the header's hot words, once per transaction. */
static inline int hh_log_hot_n(struct hr_heap *h, const uint64_t *word,
                               unsigned n)
{
    uint64_t i = (uint64_t)((const uint8_t *)word - h->base) / 8;
    if (h->hot_saved[i] == h->tx_stamp &&
        h->hot_saved[i + n - 1] == h->tx_stamp)
        return 0;
    int r = hh_log(h, word, 8 * n);
    if (r == 0)
        for (unsigned k = 0; k < n; k++)
            h->hot_saved[i + k] = h->tx_stamp;
    return r;
}

static inline int hh_log_hot(struct hr_heap *h, const uint64_t *word)
{
    return hh_log_hot_n(h, word, 1);
}
HH_HIDDEN int hh_log_sync(struct hr_heap *h);
HH_HIDDEN int hh_log_commit(struct hr_heap *h);
HH_HIDDEN int hh_rollback(struct hr_heap *h);
HH_HIDDEN void hh_tx_reset(struct hr_heap *h);
HH_HIDDEN uint64_t hh_log_live(const struct hr_heap *h);

/* alloc.c */
HH_HIDDEN void hh_arena_format(struct hh_hdr *hdr);
HH_HIDDEN int hh_alloc(struct hr_heap *h, uint64_t need, uint64_t *off);
HH_HIDDEN int hh_free(struct hr_heap *h, uint64_t off);
HH_HIDDEN int hh_object(const struct hr_heap *h, uint64_t payload,
                        uint64_t *chunk_size);
HH_HIDDEN unsigned hh_bin_of(uint64_t size);

/* check.c */
HH_HIDDEN int hh_check(struct hr_heap *h, void (*fn)(const char *, void *),
                       void *arg, hr_heap_info *info, int in_tx);

/* sys.c: the heap's system calls, through the OS layer (src/os/os.h) */
HH_HIDDEN int hh_os_flush(struct hr_heap *h, uint64_t off, uint64_t len);
HH_HIDDEN void hh_os_record_commit(struct hr_heap *h);
HH_HIDDEN void hh_os_boot_id(uint8_t id[16]);
HH_HIDDEN int hh_os_open_lock(const char *bank_path, uint64_t where);
HH_HIDDEN void hh_os_open_unlock(int fd);
HH_HIDDEN void hh_os_record_open(struct hr_heap *h);
/* Stop recording: the record closed, the copy freed. */
HH_HIDDEN void hh_os_record_close(struct hr_heap *h);

#endif
