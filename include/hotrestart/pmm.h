/* SPDX-License-Identifier: MIT */
/*
 * hotrestart/pmm.h - native interface of the Persistent Memory Manager.
 *
 * A site is a directory. Each medium of a site ("RAM", "DISK") is one bank
 * file holding named, page-rounded blocks that outlive the processes that
 * made them. Every process maps a block at the same address, chosen when the
 * bank was created, so pointers stored inside persistent memory stay valid.
 *
 * Every call returns 0 (K_OK) or a negative code: one of the K_E... codes of
 * <hotrestart/errors.h>, or -errno for a failed system call.  pmm_strerror()
 * gives every code a one-line message.  No call kills its caller over a bad
 * argument.  The ChorusOS names (<pmm/chPmm.h>) are thin wrappers over these.
 * Every call is thread-safe; a forked child keeps the blocks mapped at the
 * same addresses and gets its own descriptions of the bank files.  Each
 * call has its man page (pmm_alloc(3) and so on).
 */
#ifndef HOTRESTART_PMM_H
#define HOTRESTART_PMM_H

#include <stddef.h>
#include <stdint.h>

#include <hotrestart/errors.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PMM_API __attribute__((visibility("default")))
#else
#define PMM_API
#endif

#define PMM_MEDIUM_MAX 16 /* sizeof(PmmMedium), NUL included */
#define PMM_NAME_MAX   64 /* sizeof(PmmMemName), NUL included */
#define PMM_KEY_MAX    32 /* sizeof(PmmDelKey) */

/* Defaults for a bank made on first use (tunables pmm.maxBlocks and
 * pmm.rambankSize).  The bank file is sparse: unused space costs no memory. */
#define PMM_DEFAULT_MAX_BLOCKS 4096u
#define PMM_DEFAULT_BANK_SIZE  (64ull << 20)

typedef struct pmm_bank pmm_bank;

/* pmm_bank_open() flags. */
#define PMM_OPEN_CREATE 0x1u /* make the site and its RAM bank if missing */
#define PMM_OPEN_RDONLY 0x2u /* inspect only: no recovery, no change */

/* pmm_alloc() flags. */
#define PMM_RETRIEVE 0x1u /* only retrieve: K_EUNKNOWN when the name is free */
#define PMM_EXCL     0x2u /* only allocate: K_EEXIST when the name is taken */
#define PMM_NOMAP    0x4u /* do not map the block into this process */
#define PMM_GROUP    0x8u /* key is ignored: the block belongs to the caller's
                             restart group (the actor's, read before main) */
#define PMM_POPULATE 0x10u /* fault the whole block into this process before
                              returning, not page by page at first touch */
#define PMM_POPULATE_BG 0x20u /* the same, in a background thread: returns at
                                 once (Linux 5.14 or later; see pmm_alloc(3)) */

/* pmm_block.flags */
#define PMM_B_SYSTEM    0x01u /* carries a "__SYS" key: the system's */
#define PMM_B_GROUP     0x02u /* freed with its restart group */
#define PMM_B_NEW       0x04u /* pmm_alloc made it now (else: retrieved) */
#define PMM_B_MAPPED    0x08u /* mapped into this process at addr */
#define PMM_B_ELSEWHERE 0x10u /* mapped, but not at its fixed address: the
                                 bank's range was taken in this process */

typedef struct pmm_block {
    char medium[PMM_MEDIUM_MAX];
    char name[PMM_NAME_MAX];
    uint8_t key[PMM_KEY_MAX];
    size_t keylen;
    size_t size;          /* bytes, a whole number of pages */
    int group;            /* restart group, or -1 */
    unsigned flags;       /* PMM_B_... */
    void *addr;           /* where it is mapped (or its fixed address) */
    uint64_t created_ns;  /* CLOCK_REALTIME at allocation */
    int creator_pid;      /* the process that allocated it */
    uint64_t reserved[4]; /* zero: room for fields to come (see below) */
} pmm_block;

typedef struct pmm_bank_info {
    char medium[PMM_MEDIUM_MAX];
    char path[4096];      /* the bank file */
    uint64_t size;        /* bytes of block space (pmm.rambankSize) */
    uint64_t used;        /* bytes held by blocks */
    uint64_t free;        /* size - used - guard pages; a new block needs a
                           * guard page: a block can be at most free - page_size
                           * (in a huge-page bank less: a block of 2 MiB or more
                           * starts at a 2 MiB boundary, and one a multiple of
                           * 2 MiB has its guard page start the next 2 MiB) */
    uint64_t blocks;      /* blocks now */
    uint64_t max_blocks;  /* pmm.maxBlocks */
    uint64_t page_size;
    uint64_t base;        /* fixed address of block space */
    int durable;          /* 1 for DISK: metadata updates are flushed */
    uint64_t huge_size;   /* a huge-page bank: its huge page size (2 MiB),
                             to which blocks of that size or more are
                             aligned in address and file offset; else 0 */
    uint32_t huge_now;    /* 1 if the bank's file system gives huge pages
                             now (0: a huge-page bank moved or remounted
                             where it gets small pages, or not one) */
    uint32_t pad0;        /* zero */
    uint64_t reserved[2]; /* zero: room for fields to come */
} pmm_bank_info;

/* Site configuration for pmm_site_create(); zero fields take defaults.
 * Initialise it with {0}: its reserved space must stay zero (K_EINVAL
 * otherwise), so that a field added there later reads as "the default"
 * from a program built before it.  (Every struct of this interface that a
 * caller allocates ends in reserved space, so its size does not change
 * while the soname stays; the library zeroes it in what it fills.) */
/* pmm_site_config.huge: huge pages for the RAM bank (see pmm_site_create). */
#define PMM_HUGE_AUTO 0u /* if its file system gives them */
#define PMM_HUGE_ON   1u /* required: refused where the file system cannot */
#define PMM_HUGE_OFF  2u /* never */

typedef struct pmm_site_config {
    uint64_t rambank_size;
    uint64_t max_blocks;
    const char *diskbank_path; /* NULL: the site has no DISK medium */
    uint64_t diskbank_size;
    uint64_t disk_max_blocks;
    uint32_t huge;             /* PMM_HUGE_...: the RAM bank's pages */
    uint32_t pad0;             /* zero */
    uint64_t reserved[7];      /* zero */
} pmm_site_config;

/* Resolve the site directory: site if not NULL, else $HR_SITE, else
 * /run/hotrestart for root, $XDG_RUNTIME_DIR/hotrestart, or
 * $TMPDIR/hotrestart-UID.  K_EINVAL if it does not fit in len. */
PMM_API int pmm_site_path(char *buf, size_t len, const char *site);

/* Make a site (owner-only directory) with its RAM bank and, if asked, a
 * DISK bank.  The RAM bank is made for huge pages (blocks of 2 MiB or more
 * aligned to 2 MiB in address and file offset) when the site directory's
 * file system gives them (a tmpfs mounted with huge=within_size or always;
 * huge=advise is not enough, as a bank reserves its pages ahead), unless
 * cfg->huge says PMM_HUGE_OFF; with PMM_HUGE_ON a file system that cannot
 * is refused: -EOPNOTSUPP (pmm_site_create_why() says why), as is
 * hugetlbfs in every mode.  A failed call leaves no directory it made.  K_EEXIST if the site already has a RAM bank; K_EINVAL for a DISK
 * bank path that is not absolute, an unknown cfg->huge or reserved space
 * not zero. */
PMM_API int pmm_site_create(const char *site, const pmm_site_config *cfg);

/* Why this thread's last pmm_site_create() answered -EOPNOTSUPP: one line
 * naming what the file system lacks, or NULL. */
PMM_API const char *pmm_site_create_why(void);

/* Remove a site's banks, configuration and directory (if then empty). */
PMM_API int pmm_site_destroy(const char *site);

/* Open the bank of one medium of a site (NULL: the default site).  Opening
 * the same bank twice in a process returns the same handle, counted.
 * Errors: K_EFAULT out NULL; K_EINVAL bad medium string; K_EUNKNOWN no such
 * medium in the site (or no RAM bank without PMM_OPEN_CREATE); -ENOENT the
 * DISK bank that site.conf names is missing (its volume not mounted?): it
 * is never made anew, PMM_OPEN_CREATE or not; K_EPRIV the site or bank
 * belongs to another user or is open to others; K_EBANK the bank file is
 * damaged (pmm_check says how). */
PMM_API int pmm_bank_open(pmm_bank **out, const char *site, const char *medium,
                          unsigned flags);
/* Drop one reference; the last one unmaps every block mapped through the
 * handle in this process (pointers into them then dangle). */
PMM_API void pmm_bank_close(pmm_bank *bank);
PMM_API int pmm_bank_stat(pmm_bank *bank, pmm_bank_info *out);

/* Allocate the block `name`, or retrieve it if it exists, and map it.
 * A new block is zero-filled.  key/keylen is the deletion key.
 * Errors: K_EFAULT bank or addr NULL (addr may be NULL with PMM_NOMAP);
 * K_EINVAL empty/unterminated name, size 0, keylen over PMM_KEY_MAX, NULL
 * key with keylen > 0, unknown flag, PMM_GROUP outside a restart group;
 * K_EPRIV a "__SYS" key or a system block; K_EUNKNOWN (PMM_RETRIEVE) no such
 * block; K_EEXIST (PMM_EXCL) taken, or a retrieve whose key differs;
 * K_ESIZE retrieve asking for more than the block holds; K_ENOMEM bank full
 * or pmm.maxBlocks reached, its file system full, or this process has too
 * many mappings or no address space left (a new block that cannot be
 * mapped is freed again: a failed call leaves nothing allocated);
 * K_EBANK damaged bank, or its file truncated under us. */
PMM_API int pmm_alloc(pmm_bank *bank, const char *name, size_t size,
                      const void *key, size_t keylen, unsigned flags,
                      void **addr, pmm_block *info);

/* Free one block at once and for good; unmaps it in this process.
 * Errors: K_EFAULT, K_EINVAL, K_EUNKNOWN, K_EPRIV (system block), K_EBANK. */
PMM_API int pmm_free(pmm_bank *bank, const char *name);

/* Free every block whose key is key/keylen; *nfreed (optional) counts them.
 * Errors: K_EFAULT bank NULL; K_EINVAL NULL key or keylen 0 or over
 * PMM_KEY_MAX; K_EPRIV a "__SYS" key or the HR_GROUP_KEY; K_EUNKNOWN no
 * block carries that key; K_EBANK. */
PMM_API int pmm_free_key(pmm_bank *bank, const void *key, size_t keylen,
                         size_t *nfreed);

/* Describe one block without mapping it.  K_EUNKNOWN if absent. */
PMM_API int pmm_stat(pmm_bank *bank, const char *name, pmm_block *out);

/* Call fn for every block (a consistent snapshot); a non-zero return from fn
 * stops the walk and is returned. */
PMM_API int pmm_iter(pmm_bank *bank, int (*fn)(const pmm_block *, void *),
                     void *arg);

/* Make a block's contents durable (DISK; on RAM it only orders writes).
 * Metadata is always durable once a DISK call returns. */
PMM_API int pmm_sync(pmm_bank *bank, const char *name);

/* Check a bank file offline: it is read, never joined.  Each problem is
 * reported through fn (may be NULL).  With PMM_CHECK_REPAIR, what can be
 * repaired is, under the bank's lock, and the result is checked again.
 * Returns 0 for a consistent bank (after repair), K_EBANK otherwise. */
#define PMM_CHECK_REPAIR 0x1u
PMM_API int pmm_check(const char *bank_path, unsigned flags,
                      void (*fn)(const char *problem, void *), void *arg);

/* The bank file of a medium of a site, without opening it. */
PMM_API int pmm_bank_path(char *buf, size_t len, const char *site,
                          const char *medium);

/* Where pmm_bank_remake() took the new bank's tunables from. */
enum {
    PMM_REMAKE_KEPT = 0,     /* the old bank, which opened */
    PMM_REMAKE_HEADER = 1,   /* the header of the old bank, which did not */
    PMM_REMAKE_DEFAULTS = 2, /* the defaults: not even the header was sound */
};
typedef struct pmm_remake_info {
    uint64_t size;       /* the new bank's size (pmm.rambankSize) */
    uint64_t max_blocks; /* and its pmm.maxBlocks */
    int from;            /* PMM_REMAKE_... */
    uint64_t reserved[2]; /* zero: room for fields to come */
} pmm_remake_info;

/* Replace the bank of one medium of a site with an empty bank: every block
 * in it is lost, system blocks (the controller's registry) included.  The
 * new bank has the old one's size and pmm.maxBlocks; a bank that does not
 * open (K_EBANK: damaged beyond repair, or made by another version of the
 * format) is replaced too, with the tunables its header gives when that
 * much of it is sound, else the defaults.  out (may be NULL) says which.
 * Meant for a bank that no process uses (stop the site's controller
 * first): a process that has the old bank open keeps it, unlinked.
 * Errors: K_EFAULT medium NULL; those of pmm_bank_open() but K_EBANK
 * (K_EUNKNOWN: no such medium or RAM bank file; -ENOENT: the DISK bank
 * file is missing, and no new one is made); -errno from removing the file
 * or making the new one. */
PMM_API int pmm_bank_remake(const char *site, const char *medium,
                            pmm_remake_info *out);

#ifdef __cplusplus
}
#endif
#endif
