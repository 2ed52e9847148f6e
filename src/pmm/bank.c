/*
 * bank.c - making, opening and closing bank files.
 *
 * A bank is made in a private temporary file and published with link(),
 * which fails if another process published one first: concurrent first uses
 * agree on one bank, and a creator killed half-way leaves only its
 * temporary file.  Opening validates the geometry (magic, version, layout
 * signature, page size, every offset against the file's size, checksum) and
 * falls back to the backup copy of the geometry when the primary is damaged.
 * Banks stay open for the life of the process; a forked child re-opens each
 * bank file so that its lock is its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "os/os.h"
#include "pmm_int.h"

/* Banks' fixed ranges lie below USER_TOP, far under the area where the
 * kernel places a process's own mappings (top-down from below the stack,
 * randomised by up to 1 TiB), so they are almost never taken. */
#define USER_TOP 0x700000000000ull
/* ... and above 0x2000_0000_0000, clear of the shadow memory that the
 * address sanitizer reserves up to 0x1000_7fff_8000 (seen taking a bank's
 * range in a sanitizer build: the test of same addresses failed once). */
#define USER_LOW 0x200000000000ull

static pthread_mutex_t banks_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pmm_bank *banks;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

static uint64_t pow2_at_least(uint64_t v)
{
    uint64_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

/* The offsets that follow from page size, max_blocks and data_pages. */
static void geom_layout(struct pmm_geom *g)
{
    uint64_t pg = g->page_size;
    g->nbuckets = pow2_at_least(g->max_blocks);
    g->entries_off = pg;
    g->buckets_off =
        align_up(g->entries_off + g->max_blocks * sizeof(struct pmm_entry), pg);
    g->bitmap_off = align_up(g->buckets_off + g->nbuckets * 4, pg);
    g->data_off = align_up(g->bitmap_off + pmm_bm_words(g->data_pages) * 8, pg);
    g->file_size = g->data_off + g->data_pages * pg;
}

int pmm__geom_check(const struct pmm_geom *g, uint64_t file_size,
                    const char **why)
{
    struct pmm_geom want;
    const char *w = NULL;
    if (g->magic != PMM_MAGIC)
        w = "not a bank file (bad magic)";
    else if (g->version != PMM_VERSION)
        w = "bank made by another version of the format";
    else if (g->layout_sig != PMM_LAYOUT_SIG)
        w = "bank made with another layout (layout signature differs)";
    else if (pmm__geom_sum(g) != g->sum)
        w = "header checksum mismatch";
    else if (g->page_size != pmm__os_page_size())
        w = "bank made with another page size";
    else if (g->kind != PMM_KIND_RAM && g->kind != PMM_KIND_DISK)
        w = "unknown bank kind";
    else if (g->max_blocks == 0 || g->max_blocks > PMM_MAX_BLOCKS_LIMIT)
        w = "max_blocks out of range";
    else if (g->data_pages < 2 ||
             g->data_pages > PMM_MAX_BANK_SIZE / g->page_size)
        w = "bank size out of range";
    else if (g->base_addr % g->page_size || g->base_addr < USER_LOW ||
             g->base_addr + g->data_pages * g->page_size > USER_TOP)
        w = "fixed address out of range";
    if (!w) {
        want = *g;
        geom_layout(&want);
        if (want.nbuckets != g->nbuckets || want.entries_off != g->entries_off ||
            want.buckets_off != g->buckets_off ||
            want.bitmap_off != g->bitmap_off || want.data_off != g->data_off ||
            want.file_size != g->file_size)
            w = "header offsets are inconsistent";
        else if (file_size != g->file_size)
            w = "file size differs from the header's (truncated or extended)";
    }
    if (why)
        *why = w;
    return w ? K_EBANK : K_OK;
}

int pmm__medium_kind(const char *medium)
{
    if (strcmp(medium, "RAM") == 0)
        return PMM_KIND_RAM;
    if (strcmp(medium, "DISK") == 0)
        return PMM_KIND_DISK;
    return 0;
}

/* A random 1 GiB slot for the range, preferring one that is free in this
 * process: the creator's own mappings (its program and heap, or the 4 TiB
 * that the address sanitizer reserves at 0x6000_0000_0000) would otherwise
 * send its blocks elsewhere.  Other processes are not known: a block whose
 * place is taken there is mapped elsewhere in that process only. */
static int pick_base(uint64_t span, uint64_t *base)
{
    uint64_t slots = (USER_TOP - USER_LOW - span) >> 30;
    for (int tries = 0; tries < 32; tries++) {
        uint64_t rnd;
        int r = pmm__os_random(&rnd, sizeof rnd);
        if (r < 0)
            return r;
        *base = USER_LOW + (rnd % slots << 30);
        if (pmm__os_range_free((uintptr_t)*base, span))
            return 0;
    }
    return 0; /* a crowded address space: take the last one all the same */
}

/* Every page free: each word says so, check half included. */
static int write_empty_bitmap(int fd, const struct pmm_geom *g)
{
    uint64_t buf[1024], words = pmm_bm_words(g->data_pages);
    for (size_t i = 0; i < 1024; i++)
        buf[i] = pmm_bm_make(0);
    for (uint64_t w = 0; w < words; w += 1024) {
        size_t n = words - w < 1024 ? (size_t)(words - w) : 1024;
        int r = pmm__os_pwrite(fd, buf, n * 8, g->bitmap_off + w * 8);
        if (r < 0)
            return r;
    }
    return 0;
}

int pmm__bank_create_file(const char *path, int kind, uint64_t size,
                          uint64_t max_blocks)
{
    struct pmm_geom g;
    struct pmm_live l;
    char tmp[4200];
    int fd, r;
    size_t pg = pmm__os_page_size();

    if (max_blocks == 0 || max_blocks > PMM_MAX_BLOCKS_LIMIT || size < 2 * pg ||
        size > PMM_MAX_BANK_SIZE)
        return K_EINVAL;
    memset(&g, 0, sizeof g);
    g.magic = PMM_MAGIC;
    g.version = PMM_VERSION;
    g.layout_sig = PMM_LAYOUT_SIG;
    g.page_size = (uint32_t)pg;
    g.kind = (uint32_t)kind;
    g.max_blocks = max_blocks;
    g.data_pages = align_up(size, pg) / pg;
    geom_layout(&g);
    g.created_ns = pmm__os_now_ns();
    /* the range holds the blocks, a guard page and the metadata view */
    if ((r = pick_base(g.data_pages * pg + pg + g.data_off, &g.base_addr)) < 0 ||
        (r = pmm__os_random(g.uuid, sizeof g.uuid)) < 0)
        return r;
    g.sum = pmm__geom_sum(&g);
    memset(&l, 0, sizeof l);
    l.sum = pmm__live_sum(&l);

    if (snprintf(tmp, sizeof tmp, "%s.new.%d", path, (int)getpid()) >=
        (int)sizeof tmp)
        return K_EINVAL;
    unlink(tmp);
    if ((r = pmm__os_open(tmp, 0, 1, &fd)) < 0)
        return r;
    if ((r = pmm__os_truncate(fd, g.file_size)) < 0 ||
        (r = pmm__os_pwrite(fd, &g, sizeof g, 0)) < 0 ||
        (r = pmm__os_pwrite(fd, &g, sizeof g, PMM_GEOM_BACKUP_OFF)) < 0 ||
        (r = pmm__os_pwrite(fd, &l, sizeof l, PMM_LIVE_OFF)) < 0 ||
        (r = write_empty_bitmap(fd, &g)) < 0 ||
        (kind == PMM_KIND_DISK && (r = pmm__os_sync(fd)) < 0))
        goto fail_file;
    close(fd);
    /* COMMIT POINT: the bank exists once it has its name. */
    if (link(tmp, path) < 0) {
        r = errno == EEXIST ? K_EEXIST : -errno;
        unlink(tmp);
        return r;
    }
    unlink(tmp);
    return K_OK;

fail_file:
    close(fd);
    unlink(tmp);
    return r;
}

/* Read and validate the geometry, restoring the primary from the backup
 * when only the primary is damaged and we may write. */
static int load_geom(struct pmm_bank *b, uint64_t file_size)
{
    struct pmm_geom backup;
    int r = pmm__os_pread(b->fd, &b->g, sizeof b->g, 0);
    if (r < 0)
        return r == -ENODATA ? K_EBANK : r;
    if (pmm__geom_check(&b->g, file_size, NULL) == K_OK)
        return K_OK;
    r = pmm__os_pread(b->fd, &backup, sizeof backup, PMM_GEOM_BACKUP_OFF);
    if (r < 0 || pmm__geom_check(&backup, file_size, NULL) != K_OK)
        return K_EBANK;
    b->g = backup;
    if (b->rdonly)
        return K_OK;
    if ((r = pmm__os_lock(b->fd, 1)) < 0)
        return r;
    r = pmm__os_pwrite(b->fd, &backup, sizeof backup, 0);
    pmm__os_unlock(b->fd);
    return r;
}

static void atfork_prepare(void)
{
    pthread_mutex_lock(&banks_mu);
    for (struct pmm_bank *b = banks; b; b = b->next)
        pthread_mutex_lock(&b->mu);
}

static void atfork_parent(void)
{
    for (struct pmm_bank *b = banks; b; b = b->next)
        pthread_mutex_unlock(&b->mu);
    pthread_mutex_unlock(&banks_mu);
}

/* The child shares its parent's open file descriptions, and so its file
 * locks: give it descriptions of its own.  The mutexes were locked by the
 * parent's thread, which does not exist here: make them anew. */
static void mutex_renew(pthread_mutex_t *mu)
{
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    /* recursive: a lookup that falls back to the lock may already hold it */
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(mu, &ma);
    pthread_mutexattr_destroy(&ma);
}

static void atfork_child(void)
{
    pmm__crash_reset();
    pmm__self_pid_reset();
    for (struct pmm_bank *b = banks; b; b = b->next) {
        int fd;
        if (pmm__os_open(b->path, b->rdonly, 0, &fd) == 0) {
            close(b->fd);
            b->fd = fd;
        }
        mutex_renew(&b->mu);
    }
    pthread_mutex_init(&banks_mu, NULL);
}

static void atfork_init(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

int pmm__lock(struct pmm_bank *b)
{
    pthread_mutex_lock(&b->mu);
    if (b->shadow)
        return K_OK;
    int r = pmm__os_lock(b->fd, !b->rdonly);
    if (r < 0) {
        pthread_mutex_unlock(&b->mu);
        return r;
    }
    if (b->rdonly) /* a reader sees what is there; writers recover */
        return K_OK;
    const struct pmm_live *l = pmm__live(b);
    if (l->op != PMM_OP_NONE || (l->seq & 1) || pmm__live_sum(l) != l->sum) {
        r = pmm__recover(b);
        if (r < 0) {
            pmm__unlock(b);
            return r;
        }
    }
    return K_OK;
}

void pmm__unlock(struct pmm_bank *b)
{
    if (!b->shadow)
        pmm__os_unlock(b->fd);
    pthread_mutex_unlock(&b->mu);
}

static int bank_owner_ok(uid_t uid, mode_t mode)
{
    if (!S_ISREG(mode))
        return 0;
    if ((mode & 077) != 0)
        return 0;
    return uid == geteuid() || geteuid() == 0;
}

/* The read-only view of the metadata goes in the bank's own range, one
 * guard page after its last data page.  Beside being tidy, this keeps the
 * page tables above the blocks populated (lookups touch the metadata), and
 * on the kernels measured a block's mmap then costs about a sixth less than
 * in an otherwise empty part of the address space.  Where that place is
 * taken the view goes anywhere: nothing depends on its address. */
static uintptr_t meta_addr(const struct pmm_bank *b)
{
    return (uintptr_t)(b->g.base_addr + (b->g.data_pages + 1) * b->g.page_size);
}

static int open_file(struct pmm_bank *b, const char *path, int rdonly)
{
    uint64_t size;
    uid_t uid;
    mode_t mode;
    int r;

    if (strlen(path) >= sizeof b->path)
        return K_EINVAL;
    strcpy(b->path, path);
    b->rdonly = rdonly;
    b->fd = -1;
    b->page = pmm__os_page_size();
    mutex_renew(&b->mu);
    if ((r = pmm__os_open(path, rdonly, 0, &b->fd)) < 0)
        return r == -ENOENT ? K_EUNKNOWN : r == -EACCES ? K_EPRIV : r;
    if ((r = pmm__os_size(b->fd, &size, &uid, &mode, &b->dev, &b->ino)) < 0)
        return r;
    if (!bank_owner_ok(uid, mode))
        return K_EPRIV;
    if ((r = load_geom(b, size)) < 0)
        return r;
    b->durable = b->g.kind == PMM_KIND_DISK;
    b->meta_len = b->g.data_off;
    return pmm__os_map_ro(b->fd, b->meta_len, meta_addr(b), (const void **)&b->meta);
}

static void bank_free(struct pmm_bank *b)
{
    pmm__map_clear(b);
    pmm__os_unmap(b->meta, b->meta_len);
    if (b->fd >= 0)
        close(b->fd);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

/* Open a bank file by path (the tool and the checker use this directly). */
int pmm__bank_open_path(pmm_bank **out, const char *path, const char *medium,
                        int rdonly)
{
    struct pmm_bank *b = calloc(1, sizeof *b);
    int r;
    if (!b)
        return -ENOMEM;
    pthread_once(&atfork_once, atfork_init);
    if ((r = open_file(b, path, rdonly)) < 0)
        goto fail;
    snprintf(b->medium, sizeof b->medium, "%s", medium);

    pthread_mutex_lock(&banks_mu);
    for (struct pmm_bank *o = banks; o; o = o->next) {
        if (o->dev == b->dev && o->ino == b->ino && o->rdonly == rdonly) {
            o->refs++;
            pthread_mutex_unlock(&banks_mu);
            bank_free(b);
            *out = o;
            return K_OK;
        }
    }
    if (!rdonly) {
        const struct pmm_live *l = pmm__live(b);
        if (l->op != PMM_OP_NONE || (l->seq & 1) || pmm__live_sum(l) != l->sum) {
            if ((r = pmm__lock(b)) == 0)
                pmm__unlock(b);
            if (r < 0) {
                pthread_mutex_unlock(&banks_mu);
                goto fail;
            }
        }
    }
    b->refs = 1;
    b->next = banks;
    banks = b;
    pthread_mutex_unlock(&banks_mu);
    *out = b;
    return K_OK;
fail:
    bank_free(b);
    return r;
}

void pmm_bank_close(pmm_bank *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&banks_mu);
    if (--b->refs > 0) {
        pthread_mutex_unlock(&banks_mu);
        return;
    }
    for (struct pmm_bank **p = &banks; *p; p = &(*p)->next) {
        if (*p == b) {
            *p = b->next;
            break;
        }
    }
    pthread_mutex_unlock(&banks_mu);
    bank_free(b);
}

int pmm_bank_stat(pmm_bank *b, pmm_bank_info *out)
{
    if (!b || !out)
        return K_EFAULT;
    int r = pmm__lock(b);
    if (r < 0)
        return r;
    const struct pmm_live *l = pmm__live(b);
    memset(out, 0, sizeof *out);
    snprintf(out->medium, sizeof out->medium, "%s", b->medium);
    snprintf(out->path, sizeof out->path, "%s", b->path);
    out->page_size = b->g.page_size;
    out->size = b->g.data_pages * b->g.page_size;
    out->used = l->used_pages * b->g.page_size;
    out->free = out->size - out->used - l->nblocks * b->g.page_size;
    out->blocks = l->nblocks;
    out->max_blocks = b->g.max_blocks;
    out->base = b->g.base_addr;
    out->durable = b->durable;
    pmm__unlock(b);
    return K_OK;
}
