/* SPDX-License-Identifier: MIT */
/*
 * heap_kv.c - a small key-value service whose whole state is a hash table
 * in a persistent heap.  It is killed (SIGKILL, often in the middle of a
 * transaction) again and again; each new incarnation opens the heap, finds
 * the table consistent and goes on from where the committed state stood.
 *
 *   heap_kv [RESTARTS]      (default 20; the site is $HR_SITE)
 *
 * Each put or delete is one transaction that changes the bucket chain, the
 * entry count and a running sum of the values; a restart checks that the
 * chains hold exactly `count` entries whose values add up to `sum`.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/heap.h>

#define NBUCKETS 256

struct entry {
    struct entry *next;    /* plain pointers: the heap keeps its address */
    char key[24];
    uint64_t value;
};

struct table {
    uint64_t count;        /* entries on the chains */
    uint64_t sum;          /* sum of their values */
    uint64_t ops;          /* committed puts and deletes, all lives */
    struct entry *bucket[NBUCKETS];
};

static unsigned hash(const char *k)
{
    unsigned h = 2166136261u;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 16777619u;
    return h % NBUCKETS;
}

static void die(const char *what, int r)
{
    fprintf(stderr, "heap_kv: %s: %s\n", what, pmm_strerror(r));
    exit(1);
}

static struct table *open_table(hr_heap **h)
{
    pmm_bank *bank;
    int r = pmm_bank_open(&bank, NULL, "RAM", PMM_OPEN_CREATE);
    if (r < 0)
        die("bank", r);
    if ((r = hr_heap_open(h, bank, "heap_kv", 4 << 20, "KV", 2, 0)) < 0)
        die("open", r);
    struct table *t;
    hr_heap_root(*h, (void **)&t);
    if (t)
        return t;
    if ((r = hr_heap_begin(*h)) < 0 ||
        (r = hr_heap_alloc(*h, sizeof *t, HR_HEAP_ZERO, (void **)&t)) < 0 ||
        (r = hr_heap_set_root(*h, t)) < 0 || (r = hr_heap_commit(*h)) < 0)
        die("new table", r);
    return t;
}

/* Put key=value, or delete key when value is 0: one transaction. */
static int update(hr_heap *h, struct table *t, const char *key, uint64_t value)
{
    int r = hr_heap_begin(h);
    if (r < 0)
        return r;
    struct entry **link = &t->bucket[hash(key)], *e;
    while ((e = *link) && strcmp(e->key, key) != 0)
        link = &e->next;
    uint64_t old = e ? e->value : 0;
    if (e && value) {                       /* change in place */
        r = hr_heap_set64(h, &e->value, value);
    } else if (e) {                         /* delete */
        if ((r = hr_heap_set64(h, (uint64_t *)link, (uint64_t)(uintptr_t)e->next)) == 0 &&
            (r = hr_heap_set64(h, &t->count, t->count - 1)) == 0)
            r = hr_heap_free(h, e);
    } else if (value) {                     /* insert at the chain's head */
        if ((r = hr_heap_alloc(h, sizeof *e, HR_HEAP_ZERO, (void **)&e)) == 0) {
            snprintf(e->key, sizeof e->key, "%s", key);
            e->value = value;
            e->next = *link;
            if ((r = hr_heap_set64(h, (uint64_t *)link, (uint64_t)(uintptr_t)e)) == 0)
                r = hr_heap_set64(h, &t->count, t->count + 1);
        }
    }
    if (r == 0)
        r = hr_heap_set64(h, &t->sum, t->sum - old + value);
    if (r == 0)
        r = hr_heap_set64(h, &t->ops, t->ops + 1);
    if (r < 0) {
        hr_heap_abort(h);
        return r;
    }
    return hr_heap_commit(h);
}

/* Do the chains agree with the counters? */
static int consistent(hr_heap *h, const struct table *t)
{
    uint64_t n = 0, sum = 0;
    hr_heap_begin(h);
    for (int b = 0; b < NBUCKETS; b++)
        for (const struct entry *e = t->bucket[b]; e; e = e->next, n++)
            sum += e->value;
    int ok = n == t->count && sum == t->sum &&
             hr_heap_check(h, NULL, NULL) == 0;
    hr_heap_abort(h);
    return ok;
}

/* One life of the service: check, then work until killed. */
static void serve(unsigned seed)
{
    hr_heap *h;
    struct table *t = open_table(&h);
    if (!consistent(h, t)) {
        printf("heap_kv: INCONSISTENT after a restart\n");
        exit(2);
    }
    printf("heap_kv[%d]: %llu entries, sum %llu, %llu ops committed so far\n",
           getpid(), (unsigned long long)t->count,
           (unsigned long long)t->sum, (unsigned long long)t->ops);
    fflush(stdout);
    srand(seed);
    for (;;) {
        char key[24];
        snprintf(key, sizeof key, "key%d", rand() % 2000);
        int r = update(h, t, key, rand() % 4 ? (uint64_t)rand() % 1000 + 1 : 0);
        if (r < 0 && r != K_ENOMEM)
            die("update", r);
    }
}

int main(int argc, char **argv)
{
    int restarts = argc > 1 ? atoi(argv[1]) : 20;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    for (int i = 0; i <= restarts; i++) {
        pid_t pid = fork();
        if (pid == 0)
            serve((unsigned)rand());
        usleep((useconds_t)(rand() % 20000)); /* let it work, then crash it */
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        if (WIFEXITED(st)) {
            fprintf(stderr, "heap_kv: the service exited %d\n", WEXITSTATUS(st));
            return 1;
        }
    }
    hr_heap *h;
    struct table *t = open_table(&h);
    int ok = consistent(h, t);
    printf("heap_kv: %d crashes, table %s: %llu entries, %llu ops committed\n",
           restarts + 1, ok ? "consistent" : "INCONSISTENT",
           (unsigned long long)t->count, (unsigned long long)t->ops);
    return ok ? 0 : 2;
}
