/* SPDX-License-Identifier: MIT */
/*
 * test_rootcred.c - root's switch to a user's file-system identity
 * (src/os/cred.c), taken to open, make, remake and destroy that user's
 * site, is undone exactly and is the calling thread's alone.
 *
 * The identity compared is the kernel's own account of a thread,
 * /proc/thread-self/status: its Uid: and Gid: lines (real, effective,
 * saved and file-system ids) and its Groups: line; with the thread's
 * parent-death signal, the process's dumpable flag and the thread's
 * cancel state, which the switch changes (the kernel clears the first two
 * when fsuid leaves 0; cred.c turns cancellation off) and must put back.
 * The process's groups are made two of no one's first, so that root's
 * are told apart from the user's.
 *
 * The site is the user's (uid 65534) under a directory of root's that
 * others may pass through: u/site (ram.bank, site.conf) and u/d/disk.bank.
 * Needs root: skipped otherwise.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hotrestart/pmm.h>

#include "common.h"
#include "os/os.h"

#define USER 65534 /* nobody: the site's owner */

static char base[64], site[160], disk[200];

/* A thread's identity, as the kernel tells it. */
struct ident {
    char uid[96], gid[96], groups[256]; /* the lines, past their key */
    int deathsig, dumpable, cancel;
};

/* Copy the rest of the line key of status (NUL-ended) into out. */
static void line_of(const char *status, const char *key, char *out, size_t cap)
{
    const char *p = strstr(status, key);
    size_t n = 0;
    if (p)
        for (p += strlen(key); p[n] && p[n] != '\n' && n + 1 < cap; n++)
            ;
    memcpy(out, p ? p : "", n);
    out[n] = 0;
}

/* The calling thread's identity: 0, or -1 when its status cannot be read.
 * No Criterion call: it runs in threads other than the test's. */
static int ident_read(struct ident *id, int all)
{
    char st[8192];
    size_t len = 0;
    ssize_t n;
    int fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while ((n = read(fd, st + len, sizeof st - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    st[len] = 0;
    line_of(st, "\nUid:", id->uid, sizeof id->uid);
    line_of(st, "\nGid:", id->gid, sizeof id->gid);
    line_of(st, "\nGroups:", id->groups, sizeof id->groups);
    id->deathsig = id->dumpable = id->cancel = -1;
    if (all) {
        prctl(PR_GET_PDEATHSIG, &id->deathsig);
        id->dumpable = prctl(PR_GET_DUMPABLE);
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &id->cancel);
        pthread_setcancelstate(id->cancel, NULL);
    }
    return n < 0 || !id->uid[0] || !id->gid[0] ? -1 : 0;
}

static int ident_same(const struct ident *a, const struct ident *b)
{
    return !strcmp(a->uid, b->uid) && !strcmp(a->gid, b->gid) &&
           !strcmp(a->groups, b->groups) && a->deathsig == b->deathsig &&
           a->dumpable == b->dumpable && a->cancel == b->cancel;
}

static void setup(void)
{
    char udir[128], p[300];
    if (geteuid() != 0)
        cr_skip_test("needs root (root acting on another user's site)");
    /* root's groups: two that the user is not in, every thread's */
    cr_assert_eq(setgroups(2, (gid_t[]){4242, 4243}), 0);
    snprintf(base, sizeof base, "/dev/shm/hrcred.XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    cr_assert_eq(chmod(base, 0711), 0);
    snprintf(udir, sizeof udir, "%s/u", base);
    snprintf(site, sizeof site, "%s/site", udir);
    snprintf(disk, sizeof disk, "%s/d/disk.bank", udir);
    snprintf(p, sizeof p, "%s/d", udir);
    cr_assert_eq(mkdir(udir, 0700), 0);
    cr_assert_eq(mkdir(p, 0700), 0);
    pmm_site_config c = {.rambank_size = 4 << 20, .max_blocks = 16,
                         .diskbank_path = disk, .diskbank_size = 8 << 20};
    int r = pmm_site_create(site, &c);
    cr_assert_eq(r, 0, "site create: %s", pmm_strerror(r));
    const char *own[] = {"", "/d", "/d/disk.bank", "/site", "/site/ram.bank",
                         "/site/site.conf"};
    for (size_t i = 0; i < sizeof own / sizeof *own; i++) {
        snprintf(p, sizeof p, "%s%s", udir, own[i]);
        cr_assert_eq(lchown(p, USER, USER), 0, "%s", p);
    }
}

static void teardown(void)
{
    /* a switch not undone (a failing run) left this thread the user's,
     * who may not remove root's base: root's again to clean up */
    setfsuid(0);
    setfsgid(0);
    if (base[0])
        tree_drop(base);
}
TestSuite(rootcred, .init = setup, .fini = teardown, .timeout = 300);

/* The dumpable flag that a switch of fsuid would not leave as it found
 * it: 1, unless fs.suid_dumpable (what the kernel sets) is 1. */
static int dumpable_kept(void)
{
    char c = '0';
    int fd = open("/proc/sys/fs/suid_dumpable", O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && read(fd, &c, 1) != 1)
        c = '0';
    if (fd >= 0)
        close(fd);
    return c == '1' ? 0 : 1;
}

static struct {
    struct ident before, after;
    int r;
    const char *what;
} worker;

/* In a thread of its own, with a parent-death signal and a dumpable
 * flag the switch would clear: the DISK bank remade, both banks and a
 * heap in each opened and closed, the site destroyed. */
static void *work(void *arg)
{
    (void)arg;
    /* the value the kernel would not leave (fs.suid_dumpable's) */
    prctl(PR_SET_DUMPABLE, dumpable_kept());
    prctl(PR_SET_PDEATHSIG, SIGUSR1);
    if ((worker.r = ident_read(&worker.before, 1)) < 0)
        return (worker.what = "status", NULL);
    if ((worker.r = pmm_bank_remake(site, "DISK", NULL)) < 0)
        return (worker.what = "remake DISK", NULL);
    if ((worker.r = heap_touch(site, "RAM")) < 0)
        return (worker.what = "RAM bank and heap", NULL);
    if ((worker.r = heap_touch(site, "DISK")) < 0)
        return (worker.what = "DISK bank and heap", NULL);
    if ((worker.r = pmm_site_destroy(site)) < 0)
        return (worker.what = "destroy", NULL);
    if ((worker.r = ident_read(&worker.after, 1)) < 0)
        worker.what = "status";
    return NULL;
}

static void ident_eq(const struct ident *got, const struct ident *want,
                     const char *when)
{
    cr_assert_str_eq(got->uid, want->uid, "%s: Uid", when);
    cr_assert_str_eq(got->gid, want->gid, "%s: Gid", when);
    cr_assert_str_eq(got->groups, want->groups, "%s: Groups", when);
    cr_assert_eq(got->deathsig, want->deathsig, "%s: PR_GET_PDEATHSIG", when);
    cr_assert_eq(got->dumpable, want->dumpable, "%s: PR_GET_DUMPABLE", when);
    cr_assert_eq(got->cancel, want->cancel, "%s: cancel state", when);
}

/* Seen failing with each of pmm__os_as_self's restores taken out in turn
 * (fsuid, fsgid, groups, parent-death signal, dumpable, cancel state),
 * and with a caller's pmm__os_as_self taken out (site.c, presence.c). */
Test(rootcred, the_thread_that_acted_as_the_user_is_root_again_exactly)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, work, NULL), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(worker.r, 0, "%s: %s", worker.what, pmm_strerror(worker.r));
    cr_assert_eq(worker.before.deathsig, SIGUSR1);
    cr_assert_eq(worker.before.dumpable, dumpable_kept());
    cr_assert(strstr(worker.before.groups, "4242"), "%s",
              worker.before.groups);
    ident_eq(&worker.after, &worker.before, "after the switches");
}

/* The watcher: its own identity read again and again until stop, each
 * read against its first; reads counted, the first odd one kept. */
static struct {
    struct ident first, odd;
    unsigned long reads, odds;
    int ready, stop;
} watch;

static void *watcher(void *arg)
{
    struct ident now;
    (void)arg;
    if (ident_read(&watch.first, 0) < 0)
        watch.odds = 1;
    __atomic_store_n(&watch.ready, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&watch.stop, __ATOMIC_ACQUIRE)) {
        if (ident_read(&now, 0) < 0 || !ident_same(&now, &watch.first))
            if (watch.odds++ == 0)
                watch.odd = now;
        __atomic_add_fetch(&watch.reads, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static unsigned long reads(void)
{
    return __atomic_load_n(&watch.reads, __ATOMIC_ACQUIRE);
}

/* Seen failing with the switch's groups set by glibc's setgroups(),
 * which sets every thread's: the watcher saw the user's Groups. */
Test(rootcred, another_thread_never_sees_its_identity_change)
{
    long n = test_count("HR_ROOTCRED_OPENS", 200);
    struct ident mine, again;
    pthread_t t;
    cr_assert_eq(ident_read(&mine, 1), 0);
    cr_assert_eq(pthread_create(&t, NULL, watcher, NULL), 0);
    POLL_UNTIL(__atomic_load_n(&watch.ready, __ATOMIC_ACQUIRE),
               "the watcher's first read");
    unsigned long r0 = reads();
    /* n opens, and as many reads of the watcher's while they go on */
    struct poll_wait w = poll_begin("the watcher's reads during the opens");
    for (long i = 0; i < n || reads() - r0 < (unsigned long)n; i++) {
        int r = heap_touch(site, i % 2 ? "DISK" : "RAM");
        cr_assert_eq(r, 0, "open %ld: %s", i, pmm_strerror(r));
        if (i >= n)
            poll_pause(&w, NULL);
    }
    __atomic_store_n(&watch.stop, 1, __ATOMIC_RELEASE);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(ident_read(&again, 1), 0);
    ident_eq(&again, &mine, "the opener, after its opens");
    cr_assert_str_eq(watch.first.uid, "\t0\t0\t0\t0");
    cr_assert(strstr(watch.first.groups, "4242"), "%s", watch.first.groups);
    cr_assert_eq(watch.odds, 0, "%lu of %lu reads saw another identity, "
                 "first: Uid:%s Gid:%s Groups:%s", watch.odds, watch.reads,
                 watch.odd.uid, watch.odd.gid, watch.odd.groups);
}

/* The handler's account: how many times it ran, and how many of them with
 * a file-system user other than root (setfsuid(-1) changes nothing and
 * says the current one; a system call, safe in a handler). */
static struct {
    unsigned long runs, as_user;
    int go, stop;
} sig;

static void on_usr2(int s)
{
    (void)s;
    if ((uid_t)setfsuid((uid_t)-1) != 0)
        __atomic_add_fetch(&sig.as_user, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&sig.runs, 1, __ATOMIC_RELEASE);
}

/* Signal the opener without a pause while it opens (sig.go), not while
 * it waits: a flood of signals would keep its sleep from ending. */
static void *signaller(void *arg)
{
    pthread_t to = *(pthread_t *)arg;
    while (!__atomic_load_n(&sig.stop, __ATOMIC_ACQUIRE))
        if (__atomic_load_n(&sig.go, __ATOMIC_ACQUIRE))
            pthread_kill(to, SIGUSR2);
        else
            sched_yield();
    return NULL;
}

/* A handler of the process's that runs while a thread of root's acts as
 * the user would act with the user's file rights (a file it makes, the
 * user's): the handled signals wait until the switch is over.  The opener
 * is signalled without a pause through its opens; each run of the handler
 * must find it root.  Seen failing with the signals left open (the
 * block in cred.c taken out): runs inside the switch saw the user. */
Test(rootcred, no_signal_handler_runs_with_the_user_s_rights)
{
    long n = test_count("HR_ROOTCRED_OPENS", 200);
    struct sigaction sa = {.sa_handler = on_usr2, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGUSR2, &sa, NULL), 0);
    pthread_t me = pthread_self(), t;
    cr_assert_eq(pthread_create(&t, NULL, signaller, &me), 0);
    struct poll_wait w = poll_begin("the handler's runs during the opens");
    unsigned long r0 = __atomic_load_n(&sig.runs, __ATOMIC_ACQUIRE);
    for (long i = 0;
         i < n || __atomic_load_n(&sig.runs, __ATOMIC_ACQUIRE) - r0 <
                      (unsigned long)n;
         i++) {
        __atomic_store_n(&sig.go, 1, __ATOMIC_RELEASE);
        int r = heap_touch(site, i % 2 ? "DISK" : "RAM");
        __atomic_store_n(&sig.go, 0, __ATOMIC_RELEASE);
        cr_assert_eq(r, 0, "open %ld: %s", i, pmm_strerror(r));
        if (i >= n)
            poll_pause(&w, NULL);
    }
    __atomic_store_n(&sig.stop, 1, __ATOMIC_RELEASE);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(sig.as_user, 0, "%lu of %lu runs of the handler had the "
                 "user's file rights", sig.as_user, sig.runs);
}

static int read_first(void *p)
{
    return *(volatile const char *)p;
}

/* A read, inside root's switch, of a user's file that shrank under its
 * mapping (a bank the user truncated) is -EFAULT, as anywhere (fault.c),
 * not the end of root's process: the library's SIGBUS handler is one the
 * switch leaves open, since a blocked SIGBUS raised by a fault kills the
 * process at once.  (Seen failing, killed by SIGBUS, when the switch
 * blocked every handled signal.) */
Test(rootcred, a_fault_inside_the_switch_is_an_error_not_a_death)
{
    char path[300];
    snprintf(path, sizeof path, "%s/u/shrinks", base);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(ftruncate(fd, 8192), 0);
    cr_assert_eq(fchown(fd, USER, USER), 0);
    void *m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
    cr_assert_neq(m, MAP_FAILED);
    /* the library's handler installed by a first guarded read */
    cr_assert_eq(pmm__os_guarded(m, 8192, read_first, m), 0);
    cr_assert_eq(ftruncate(fd, 0), 0);
    struct pmm__os_as as;
    cr_assert_eq(pmm__os_as_owner(fd, &as), 0);
    cr_assert(as.on, "root did not act as the file's owner");
    int r = pmm__os_guarded(m, 8192, read_first, m);
    pmm__os_as_self(&as);
    cr_assert_eq(r, -EFAULT, "a read past the end: %d", r);
    munmap(m, 8192);
    close(fd);
}
