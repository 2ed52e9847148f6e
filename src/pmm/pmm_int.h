/*
 * pmm_int.h - the library's internal view of an open bank.
 *
 * A bank is opened once per process (handles are counted) and holds:
 *  - the bank file's descriptor, whose open-file-description lock serialises
 *    writers across processes (the kernel drops it when a holder dies);
 *  - a read-only shared mapping of the metadata, read without locks by
 *    lookups that validate against the live record's sequence number;
 *  - the process's table of mapped blocks, so that a retrieve of a block
 *    already mapped costs no system call.
 * `mu` serialises the threads of this process; it is taken before the file
 * lock, never after.
 */
#ifndef HR_PMM_INT_H
#define HR_PMM_INT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include <hotrestart/pmm.h>

#include "layout.h"

#define PMM_INTERNAL __attribute__((visibility("hidden")))

struct pmm_map {           /* one block mapped in this process */
    uint64_t hash;         /* pmm__name_hash(name); 0: empty slot */
    uint32_t idx;          /* entry index */
    uint32_t gen;          /* entry generation when mapped */
    void *addr;
    size_t len;            /* bytes mapped (whole pages) */
    int elsewhere;         /* not at the fixed address */
    int tomb;              /* removed slot, kept for probing */
    char name[PMM_NAME_MAX];
};

struct pmm_bank {
    struct pmm_bank *next; /* process-wide list of open banks */
    int refs;
    dev_t dev;
    ino_t ino;
    char path[4096];
    char medium[PMM_MEDIUM_MAX];
    int fd;
    int rdonly;
    int shadow;            /* checker copy: meta is private, writes land in it */
    int durable;           /* DISK: flush at every ordering point */
    pthread_mutex_t mu;
    struct pmm_geom g;     /* validated copy of the geometry */
    const uint8_t *meta;   /* read-only mapping of [0, data_off) */
    size_t meta_len;
    size_t page;
    struct pmm_map *maps;  /* open-addressed table, capacity a power of 2 */
    size_t maps_cap, maps_used;
};

/* Views into the read-only metadata mapping. */
static inline const struct pmm_live *pmm__live(const struct pmm_bank *b)
{
    return (const struct pmm_live *)(b->meta + PMM_LIVE_OFF);
}
static inline const struct pmm_entry *pmm__entry(const struct pmm_bank *b,
                                                 uint32_t idx)
{
    return (const struct pmm_entry *)(b->meta + b->g.entries_off) + idx;
}
static inline const uint32_t *pmm__buckets(const struct pmm_bank *b)
{
    return (const uint32_t *)(b->meta + b->g.buckets_off);
}
static inline const uint64_t *pmm__bitmap(const struct pmm_bank *b)
{
    return (const uint64_t *)(b->meta + b->g.bitmap_off);
}

/* hash.c */
PMM_INTERNAL uint64_t pmm__sum(const void *p, size_t len, uint64_t seed);
PMM_INTERNAL uint64_t pmm__name_hash(const char *name);
PMM_INTERNAL uint64_t pmm__entry_sum(const struct pmm_entry *e);
PMM_INTERNAL uint64_t pmm__live_sum(const struct pmm_live *l);
PMM_INTERNAL uint64_t pmm__geom_sum(const struct pmm_geom *g);

/* crash.c: named crash points, armed by HR_CRASHPOINT=name[:n] */
PMM_INTERNAL void pmm__crash(const char *point);
PMM_INTERNAL void pmm__crash_reset(void);

/* bank.c */
PMM_INTERNAL int pmm__geom_check(const struct pmm_geom *g, uint64_t file_size,
                                 const char **why);
PMM_INTERNAL int pmm__bank_create_file(const char *path, int kind,
                                       uint64_t size, uint64_t max_blocks);
PMM_INTERNAL int pmm__lock(struct pmm_bank *b);   /* mu + file lock, recover */
PMM_INTERNAL void pmm__unlock(struct pmm_bank *b);
PMM_INTERNAL int pmm__medium_kind(const char *medium);

/* index.c: lookups and the page bitmap */
PMM_INTERNAL int pmm__entry_valid(const struct pmm_bank *b,
                                  const struct pmm_entry *e);
PMM_INTERNAL int pmm__find_locked(struct pmm_bank *b, const char *name,
                                  uint32_t *idx, uint32_t *pred);
PMM_INTERNAL int pmm__find_fast(struct pmm_bank *b, const char *name,
                                uint32_t *idx, struct pmm_entry *copy,
                                uint64_t *seq);
PMM_INTERNAL int pmm__seq_same(const struct pmm_bank *b, uint64_t seq);
PMM_INTERNAL int pmm__find_pages(struct pmm_bank *b, uint64_t n,
                                 uint64_t *page);
PMM_INTERNAL int pmm__bitmap_set(struct pmm_bank *b, uint64_t page,
                                 uint64_t n, int on);
PMM_INTERNAL uint32_t pmm__bucket_of(const struct pmm_bank *b,
                                     const char *name);

/* update.c: the only code that writes metadata */
PMM_INTERNAL int pmm__recover(struct pmm_bank *b);
PMM_INTERNAL int pmm__do_alloc(struct pmm_bank *b, const char *name,
                               uint64_t npages, const uint8_t *key,
                               size_t keylen, unsigned eflags, int group,
                               uint32_t *idx);
PMM_INTERNAL int pmm__do_free(struct pmm_bank *b, uint32_t idx, uint32_t pred);
PMM_INTERNAL int pmm__write_entry(struct pmm_bank *b, uint32_t idx,
                                  struct pmm_entry *e);
PMM_INTERNAL int pmm__write_live(struct pmm_bank *b, struct pmm_live *l);
PMM_INTERNAL int pmm__self_pid(void); /* getpid(), read once per process */
PMM_INTERNAL void pmm__self_pid_reset(void);
PMM_INTERNAL int pmm__meta_write(struct pmm_bank *b, uint64_t off,
                                 const void *buf, size_t len);
PMM_INTERNAL int pmm__repair(struct pmm_bank *b,
                             void (*fn)(const char *, void *), void *arg);
PMM_INTERNAL int pmm__apply(struct pmm_bank *b, struct pmm_live *l);
PMM_INTERNAL int pmm__log_valid(const struct pmm_bank *b,
                                const struct pmm_live *l);

/* pmm.c: internal calls for the controller (system blocks, groups) */
PMM_INTERNAL int pmm__alloc_sys(pmm_bank *b, const char *name, size_t size,
                                const void *key, size_t keylen,
                                unsigned flags, int group, void **addr,
                                pmm_block *info);
PMM_INTERNAL int pmm__free_sys(pmm_bank *b, const char *name);
PMM_INTERNAL int pmm__free_group(pmm_bank *b, int group, size_t *nfreed);
/* Unmap a block from this process (it stays in the bank). */
PMM_INTERNAL void pmm__unmap(pmm_bank *b, const char *name);
PMM_INTERNAL void pmm__fill_block(const struct pmm_bank *b,
                                  const struct pmm_entry *e, pmm_block *out);
PMM_INTERNAL int pmm__is_sys_key(const void *key, size_t keylen);
PMM_INTERNAL int pmm__is_group_key(const void *key, size_t keylen);
PMM_INTERNAL int pmm__name_ok(const char *name, size_t max);

/* map.c: this process's mapped blocks */
PMM_INTERNAL struct pmm_map *pmm__map_find(struct pmm_bank *b,
                                           const char *name, uint64_t hash);
PMM_INTERNAL int pmm__map_add(struct pmm_bank *b, const char *name,
                              uint64_t hash, uint32_t idx, uint32_t gen,
                              void *addr, size_t len, int elsewhere);
PMM_INTERNAL void pmm__map_drop(struct pmm_map *m);
PMM_INTERNAL int pmm__map_block(struct pmm_bank *b,
                                const struct pmm_entry *e, void **addr,
                                int *elsewhere);
PMM_INTERNAL void pmm__map_clear(struct pmm_bank *b);

/* bank.c: open a bank file by path */
PMM_INTERNAL int pmm__bank_open_path(pmm_bank **out, const char *path,
                                     const char *medium, int rdonly);

/* site.c */
/* The controller's tunables, from site.conf; a value absent or out of
 * range takes the default (*bad, when given, names the first such key). */
struct pmm_hr_tunables {
    uint32_t max_badness, interval_s, max_actors, max_groups;
};
PMM_INTERNAL void pmm__hr_tunables(const char *site, struct pmm_hr_tunables *t,
                                   const char **bad);
PMM_INTERNAL int pmm__conf_get(const char *site, const char *key, char *val,
                               size_t len);
PMM_INTERNAL int pmm__site_check_dir(const char *dir);
PMM_INTERNAL int pmm__group_from_env(int *group);

#endif
