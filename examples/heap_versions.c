/* SPDX-License-Identifier: MIT */
/*
 * heap_versions.c - one program in two versions, and the state it keeps in
 * a persistent heap across them (docs/heap.md, "State across versions").
 *
 * Built twice: heap_versions_v1 (-DFORMAT=1) keeps its items on a linked
 * list; heap_versions_v2 (-DFORMAT=2) keeps them in one array with a new
 * field.  Each stores its format version beside the heap's root.  The new
 * version finds the old state, knows it by its version and migrates it in
 * ONE transaction: a crash at any instruction of the migration leaves the
 * state all old (the next start migrates again) or all new.  The old
 * version started on the new state refuses it (K_ENEWER) and exits 3,
 * writing nothing: that is what makes going back to it (a rollback) safe.
 *
 *   heap_versions_vN [--verify] [HEAP]     (HEAP default "versions"; the
 *                                           site is $HR_SITE, medium RAM,
 *                                           or $HV_MEDIUM)
 *
 * --verify (v2) only reads: it exits 0 if the state is whole in format 1
 * or 2, 4 (saying what is wrong) otherwise.  Exit 3: state too new.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hotrestart/heap.h>

#ifndef FORMAT
#define FORMAT 1
#endif
#define ITEMS 200

/* Format 1: a list. */
struct node1 {
    struct node1 *next;
    uint64_t key, val;       /* val == key * 3 + 1 */
};
struct root1 {
    uint64_t count;          /* nodes on the list */
    struct node1 *head;
};

/* Format 2: one array, and a field format 1 did not have. */
struct item2 {
    uint64_t key, val;
    uint64_t hits;           /* new in format 2: starts at key % 7 */
};
struct root2 {
    uint64_t count;
    struct item2 items[];
};

static void die(const char *what, int r)
{
    fprintf(stderr, "heap_versions_v%d: %s: %s\n", FORMAT, what,
            pmm_strerror(r));
    exit(1);
}

/* A fresh state in this version's format: root and version at one commit. */
static int build(hr_heap *h)
{
    int r;
#if FORMAT == 1
    struct root1 *root;
    if ((r = hr_heap_alloc(h, sizeof *root, HR_HEAP_ZERO, (void **)&root)))
        return r;
    for (uint64_t k = 0; k < ITEMS; k++) {
        struct node1 *n;
        if ((r = hr_heap_alloc(h, sizeof *n, 0, (void **)&n)))
            return r;
        *n = (struct node1){root->head, ITEMS - 1 - k, (ITEMS - 1 - k) * 3 + 1};
        root->head = n;      /* a new object: no hr_heap_add needed */
        root->count++;
    }
#else
    struct root2 *root;
    if ((r = hr_heap_alloc(h, sizeof *root + ITEMS * sizeof(struct item2), 0,
                           (void **)&root)))
        return r;
    root->count = ITEMS;
    for (uint64_t k = 0; k < ITEMS; k++)
        root->items[k] = (struct item2){k, k * 3 + 1, k % 7};
#endif
    if ((r = hr_heap_set_root(h, root)) == 0)
        r = hr_heap_set_root_version(h, FORMAT);
    return r;
}

#if FORMAT == 2
/* Format 1 to 2, inside the caller's transaction: the new array is made,
 * the old nodes freed, the root and its version set; the commit makes it
 * all true at once. */
static int migrate(hr_heap *h, struct root1 *old)
{
    struct root2 *root;
    int r = hr_heap_alloc(h, sizeof *root + old->count * sizeof(struct item2),
                          0, (void **)&root);
    if (r)
        return r;
    root->count = 0;
    for (struct node1 *n = old->head, *next; n; n = next) {
        next = n->next;
        root->items[root->count++] = (struct item2){n->key, n->val,
                                                    n->key % 7};
        if ((r = hr_heap_free(h, n)))
            return r;
    }
    if ((r = hr_heap_free(h, old)) || (r = hr_heap_set_root(h, root)))
        return r;
    return hr_heap_set_root_version(h, 2);
}

/* Is the state whole, in format 1 or 2?  0, or 4 with the reason. */
static int verify(uint64_t version, void *p)
{
    const char *bad = NULL;
    if (version == 1) {
        struct root1 *root = p;
        uint64_t n = 0;
        for (struct node1 *x = root->head; x && n <= ITEMS; x = x->next, n++)
            if (x->key != n || x->val != n * 3 + 1)
                bad = "a format 1 node is wrong";
        if (n != ITEMS || root->count != ITEMS)
            bad = "the format 1 list is cut or too long";
    } else if (version == 2) {
        struct root2 *root = p;
        for (uint64_t k = 0; k < ITEMS; k++)
            if (root->items[k].key != k || root->items[k].val != k * 3 + 1 ||
                root->items[k].hits != k % 7)
                bad = "a format 2 item is wrong";
        if (root->count != ITEMS)
            bad = "the format 2 array has the wrong count";
    } else {
        bad = "no state, or a version this program never wrote";
    }
    if (!p)
        bad = "no root";
    printf("state format %llu: %s\n", (unsigned long long)version,
           bad ? bad : "whole");
    return bad ? 4 : 0;
}
#endif

int main(int argc, char **argv)
{
    int only_verify = argc > 1 && strcmp(argv[1], "--verify") == 0;
    const char *name = argc > 1 + only_verify ? argv[1 + only_verify]
                                              : "versions";
    const char *medium = getenv("HV_MEDIUM");
    pmm_bank *bank;
    hr_heap *h;
    int r = pmm_bank_open(&bank, NULL, medium ? medium : "RAM",
                          PMM_OPEN_CREATE);
    if (r < 0)
        die("bank", r);
    if ((r = hr_heap_open(&h, bank, name, 16 << 20, "hv", 2, 0)) < 0)
        die("open", r);

    /* Refuse state newer than this program knows, before touching it. */
    void *root;
    uint64_t version;
    r = hr_heap_root_versioned(h, FORMAT, &root, &version);
    int done = -1; /* the exit code, once refused or only verified */
    if (r == K_ENEWER) {
        fprintf(stderr, "heap_versions_v%d: heap %s holds state of format "
                "version %llu; this program knows versions up to %d: "
                "refused, nothing changed\n", FORMAT, name,
                (unsigned long long)version, FORMAT);
        done = 3;
    }
#if FORMAT == 2
    else if (only_verify)
        done = verify(version, root);
#endif
    if (done >= 0) {
        hr_heap_close(h);
        pmm_bank_close(bank);
        return done;
    }

    for (;;) {               /* one transaction, run again on K_EBUSY */
        if ((r = hr_heap_begin(h)) < 0)
            die("begin", r);
        /* again inside the transaction: the words are now locked */
        r = hr_heap_root_versioned(h, FORMAT, &root, &version);
        if (r == 0 && !root)
            r = build(h);
#if FORMAT == 2
        else if (r == 0 && version == 1) {
            printf("migrating format 1 to 2\n");
            fflush(stdout);  /* the tests kill it from here on */
            r = migrate(h, root);
        }
#endif
        if (r == 0)
            r = hr_heap_commit(h);
        else
            hr_heap_abort(h);
        if (r != K_EBUSY)
            break;
    }
    if (r < 0)
        die(r == K_ENEWER ? "state became newer meanwhile" : "update", r);
    hr_heap_root_version(h, &version);
    printf("state format %llu\n", (unsigned long long)version);
    hr_heap_close(h);
    pmm_bank_close(bank);
    return 0;
}
