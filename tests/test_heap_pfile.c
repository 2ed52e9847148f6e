/* SPDX-License-Identifier: MIT */
/*
 * test_heap_pfile.c - the bank's presence file (src/heap/presence.c):
 * whose it is, when it is refused, what happens when it is made again
 * while a process uses it, and its limits, each a clear error.
 *
 * - root opens a user's heap first: the presence file it makes is the
 *   bank's owner's, and the owner opens the heap after it;
 * - a presence file of the wrong mode or owner is refused (K_EPRIV),
 *   one cut short is made whole, and the heap's data is kept;
 * - the presence file removed and made again while a process runs a
 *   transaction in the heap: a new opener is refused (-ESTALE) instead
 *   of judging the live owner dead and rolling its transaction back;
 *   once that process has ended, the next opener rolls back what it
 *   left and uses the heap;
 * - every presence slot held by a live thread: -EUSERS, not a wait for
 *   ever; a thread in heaps of a ninth bank, a process mapping a 17th
 *   presence file: -EMFILE.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hotrestart/heap.h>

#include "common.h"
#include "heap_suite.h"

static char pres[4300]; /* the RAM bank's presence file */

static void setup(void)
{
    site_new(64 << 20, 64); /* room for 18 heaps of 1 MiB */
    snprintf(pres, sizeof pres, "%s.presence", site_bank());
}
static void teardown(void)
{
    site_drop();
}
TestSuite(heap_pfile, .init = setup, .fini = teardown, .timeout = 60);

/* In this process: open heap `name` and set its first word to v in one
 * committed transaction (v 0: only open it).  0, or the error. */
static int use(const char *name, uint64_t v)
{
    pmm_bank *b;
    hr_heap *h;
    int r = pmm_bank_open(&b, NULL, "RAM", 0);
    if (r < 0)
        return r;
    if ((r = hr_heap_open(&h, b, name, 1 << 20, "k", 1, 0)) < 0)
        goto fail_open;
    uint64_t *o;
    if ((r = hr_heap_root(h, (void **)&o)) < 0)
        goto fail_tx;
    if (!v)
        goto fail_tx;
    if ((r = hr_heap_begin(h)) < 0)
        goto fail_tx;
    if (!o && (r = hr_heap_alloc(h, 64, HR_HEAP_ZERO, (void **)&o)) == 0)
        r = hr_heap_set_root(h, o);
    if (r == 0)
        r = hr_heap_set64(h, o, v);
    r = r ? (hr_heap_abort(h), r) : hr_heap_commit(h);
fail_tx:
    hr_heap_close(h);
fail_open:
    pmm_bank_close(b);
    return r;
}

/* The first word of heap `name` read in a child (this process maps no
 * presence file: see the test of a file made again), or a K_E code. */
static int64_t read_in_child(const char *name)
{
    int64_t *out = mmap(NULL, 8, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(out, MAP_FAILED);
    pid_t pid = fork();
    if (pid == 0) {
        hr_heap *h;
        uint64_t *o = NULL;
        int r = hs_open_plain(&h, name, 1 << 20);
        if (r == 0)
            r = hr_heap_root(h, (void **)&o);
        *out = r < 0 ? r : o ? (int64_t)*o : -1;
        _exit(0);
    }
    cr_assert_eq(wait_status(pid), 0);
    int64_t v = *out;
    munmap(out, 8);
    return v;
}

/* Run use(name, v) in a child, as uid (0: as this process). */
static int use_in_child(const char *name, uint64_t v, uid_t uid, gid_t gid)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (uid && (setgid(gid) || setuid(uid)))
            _exit(100);
        int r = use(name, v);
        if (r)
            fprintf(stderr, "uid %u: %s\n", (unsigned)uid, pmm_strerror(r));
        _exit(r ? 1 : 0);
    }
    return wait_status(pid);
}


/* Seen failing before the fix: root's file was root's, and the owner's
 * open failed (the file refused, -EACCES then -EPERM). */
Test(heap_pfile, root_opens_a_users_heap_first_and_the_user_after)
{
    if (geteuid() != 0)
        cr_skip_test("needs root (to be root, then the site's owner)");
    struct passwd *pw = second_user();
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "chown -R %u '%s'", (unsigned)pw->pw_uid,
             getenv("HR_SITE"));
    cr_assert_eq(system(cmd), 0);
    /* the user makes the bank and its heap; then the presence file goes
     * (no process maps it), so that root is the one to make it again */
    cr_assert_eq(use_in_child("h", 1, pw->pw_uid, pw->pw_gid), 0);
    cr_assert_eq(unlink(pres), 0);
    cr_assert_eq(use_in_child("h", 2, 0, 0), 0, "root uses the heap");
    struct stat st;
    cr_assert_eq(stat(pres, &st), 0);
    cr_assert_eq(st.st_uid, pw->pw_uid, "root made the presence file its own");
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(use_in_child("h", 3, pw->pw_uid, pw->pw_gid), 0,
                 "the site's owner cannot open its heap after root did");
    cr_assert_eq(read_in_child("h"), 3);
    /* nothing left aside by root's making */
    snprintf(cmd, sizeof cmd, "ls '%s'.new.* >/dev/null 2>&1", pres);
    cr_assert_neq(system(cmd), 0, "root's aside file left behind");
}

/* Seen failing before the fix: a file open to others was used. */
Test(heap_pfile, a_presence_file_of_the_wrong_mode_or_owner_is_refused)
{
    cr_assert_eq(use_in_child("h", 7, 0, 0), 0);
    cr_assert_eq(chmod(pres, 0644), 0);
    cr_assert_eq(read_in_child("h"), K_EPRIV, "mode 0644");
    cr_assert_eq(chmod(pres, 0600), 0);
    if (geteuid() == 0) { /* another user's file, in root's site */
        cr_assert_eq(chown(pres, 65534, (gid_t)-1), 0);
        cr_assert_eq(read_in_child("h"), K_EPRIV, "another owner");
        cr_assert_eq(chown(pres, 0, (gid_t)-1), 0);
    }
    /* not a regular file: a directory, a link */
    char keep[4400];
    snprintf(keep, sizeof keep, "%s.keep", pres);
    cr_assert_eq(rename(pres, keep), 0);
    cr_assert_eq(mkdir(pres, 0700), 0);
    cr_assert_eq(read_in_child("h"), K_EPRIV, "a directory");
    cr_assert_eq(rmdir(pres), 0);
    cr_assert_eq(symlink(keep, pres), 0);
    cr_assert_eq(read_in_child("h"), K_EPRIV, "a link");
    cr_assert_eq(unlink(pres), 0);
    cr_assert_eq(rename(keep, pres), 0);
    cr_assert_eq(read_in_child("h"), 7, "the heap after the refusals");
    /* cut short (no process maps it): made whole */
    cr_assert_eq(truncate(pres, 100), 0);
    cr_assert_eq(read_in_child("h"), 7);
    struct stat st;
    cr_assert_eq(stat(pres, &st), 0);
    cr_assert_gt(st.st_size, 100);
    cr_assert_eq(use_in_child("h", 8, 0, 0), 0);
    cr_assert_eq(read_in_child("h"), 8);
}

/* A child that runs a transaction setting heap "h"'s word to v and waits
 * in it (ctl[0] set when it is in, ctl[1] told to commit), then exits. */
static pid_t in_tx(volatile int *ctl, uint64_t v)
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        hr_heap *h;
        uint64_t *o;
        if (hs_open_plain(&h, "h", 1 << 20) ||
            hr_heap_root(h, (void **)&o) || !o || hr_heap_begin(h) ||
            hr_heap_set64(h, o, v))
            _exit(1);
        ctl[0] = 1;
        POLL_UNTIL(ctl[1], "told to commit");
        _exit(hr_heap_commit(h) == 0 && *o == v ? 0 : 2);
    }
    POLL_UNTIL(ctl[0], "the child in its transaction");
    return pid;
}

/* Seen failing before the fix: the new opener judged the live owner by
 * the new file, found it dead and rolled its transaction back (the open
 * succeeded; the child's commit then found its word rolled back). */
Test(heap_pfile, a_presence_file_made_again_under_a_live_transaction)
{
    volatile int *ctl = mmap(NULL, 64, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq((void *)ctl, MAP_FAILED);
    cr_assert_eq(use_in_child("h", 1, 0, 0), 0);
    pid_t a = in_tx(ctl, 2);
    cr_assert_eq(unlink(pres), 0); /* a user's rm */
    cr_assert_eq(read_in_child("h"), -ESTALE,
                 "an opener judged a live owner by a new presence file");
    ctl[1] = 1;
    cr_assert_eq(wait_status(a), 0, "the live transaction was disturbed");
    cr_assert_eq(read_in_child("h"), 2, "the committed word");
    /* the same, the owner killed inside: the next opener, once no process
     * maps the old file, rolls the dead transaction back */
    ctl[0] = ctl[1] = 0;
    a = in_tx(ctl, 3);
    cr_assert_eq(unlink(pres), 0);
    kill(a, SIGKILL);
    cr_assert_eq(wait_status(a), 128 + SIGKILL);
    cr_assert_eq(read_in_child("h"), 2, "the dead transaction's word stays");
    char out[512];
    cr_assert_eq(run_hr(out, sizeof out, "heap", "check", "h", NULL), 0,
                 "hr heap check: %s", out);
    cr_assert_eq(use_in_child("h", 4, 0, 0), 0);
    cr_assert_eq(read_in_child("h"), 4);
}

/* A cold restart remakes the RAM bank under a live transaction: the
 * presence file is kept (one file for the old bank's users and the new
 * one's), the old bank's transaction commits in the old bank, the new
 * bank's heap is a new one.  (Coverage of the argument in presence.c: it
 * passed before the fix too.) */
Test(heap_pfile, a_cold_remake_under_a_live_transaction)
{
    volatile int *ctl = mmap(NULL, 64, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq((void *)ctl, MAP_FAILED);
    cr_assert_eq(use_in_child("h", 1, 0, 0), 0);
    struct stat before, after;
    cr_assert_eq(stat(pres, &before), 0);
    pid_t a = in_tx(ctl, 2);
    pmm_remake_info info;
    cr_assert_eq(pmm_bank_remake(getenv("HR_SITE"), "RAM", &info), 0);
    cr_assert_eq(read_in_child("h"), -1, "the new bank's heap is new");
    cr_assert_eq(use_in_child("h", 5, 0, 0), 0);
    ctl[1] = 1;
    cr_assert_eq(wait_status(a), 0, "the old bank's transaction");
    cr_assert_eq(read_in_child("h"), 5);
    cr_assert_eq(stat(pres, &after), 0);
    cr_assert_eq(after.st_ino, before.st_ino, "the presence file was kept");
}

/* Seen failing before the fix: the opener waited for a slot for ever
 * (the test's timeout). */
Test(heap_pfile, every_presence_slot_held_is_an_error_not_a_wait)
{
    cr_assert_eq(use_in_child("h", 1, 0, 0), 0);
    int fd = open(pres, O_RDWR);
    cr_assert_geq(fd, 0);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    uint8_t *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
                      MAP_SHARED, fd, 0);
    cr_assert_neq(m, MAP_FAILED);
    close(fd);
    /* each slot's mutex held by pid 1, alive (the file's layout: a page,
     * then slots of 64 bytes, the mutex first) */
    size_t slots = ((size_t)st.st_size - 4096) / 64;
    for (size_t i = 0; i < slots; i++)
        ((pthread_mutex_t *)(m + 4096 + 64 * i))->__data.__lock = 1;
    cr_assert_eq(read_in_child("h"), -EUSERS);
    /* one slot's holder ends: its slot is taken, the heap used */
    ((pthread_mutex_t *)(m + 4096 + 64 * 5))->__data.__lock = 1 | 0x40000000;
    cr_assert_eq(use_in_child("h", 2, 0, 0), 0);
    cr_assert_eq(read_in_child("h"), 2);
    munmap(m, (size_t)st.st_size);
}

/* Heaps h<from>.. of n successive presence files (each removed before
 * the next heap is made: a new file, a new heap), used by one thread. */
struct files { int from, n, r, at; };
static void *many_files(void *arg)
{
    struct files *x = arg;
    char name[16];
    x->r = 0;
    for (int i = 0; i < x->n && x->r == 0; i++) {
        unlink(pres);
        snprintf(name, sizeof name, "h%d", x->from + i);
        if ((x->r = use(name, 1)) < 0)
            x->at = i;
    }
    return NULL;
}

static struct files in_thread(int from, int n)
{
    struct files x = {from, n, 0, -1};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, many_files, &x), 0);
    pthread_join(t, NULL);
    return x;
}

/* Seen failing before the fix with K_ETX (a transaction error) for the
 * thread's ninth bank; the 17th file's -EMFILE was there before (a
 * planted bug, the bound moved, makes it fail). */
Test(heap_pfile, a_thread_in_a_ninth_bank_and_a_17th_file_get_emfile)
{
    struct files x = in_thread(0, 9);
    cr_assert_eq(x.r, -EMFILE, "%s", pmm_strerror(x.r));
    cr_assert_eq(x.at, 8, "the thread's ninth presence file");
    x = in_thread(9, 7); /* files 9..15: 16 mapped by the process */
    cr_assert_eq(x.r, 0, "%s", pmm_strerror(x.r));
    x = in_thread(16, 1);
    cr_assert_eq(x.r, -EMFILE, "the 17th file: %s", pmm_strerror(x.r));
}
