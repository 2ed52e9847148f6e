/* SPDX-License-Identifier: MIT */
/*
 * test_rootsite.c - root acting through the library on a site that another
 * user (uid 65534) owns.  What that user may write (the site's directory,
 * site.conf, the directory of its DISK bank) never aims root's removal,
 * making or replacing of a file at one outside the site: not by a path
 * named in site.conf, nor by a link swapped in for a part of the path
 * (renameat2 RENAME_EXCHANGE, again and again, by a process of that
 * user's) between root's look at a file and its act on it.
 *
 * Under a directory of root's that others may pass through:
 *   u/   the user's: site/ (ram.bank, site.conf), d/ (disk.bank), and
 *        the links to r/ that the user swaps in
 *   r/   root's, 0700, watched (inotify): files of the same names, which
 *        must neither change nor go, and beside which nothing is made
 *
 * The destroy's race is met at its exact instant: root's destroy stops
 * at the crash point destroy.looked (its banks looked at, nothing
 * removed), the swap is made, and it goes on.  Each race also runs
 * HR_ROOTSITE_TRIES times (1000) against a swapping process, as more
 * coverage of instants no point names.  Needs root: skipped otherwise.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotrestart/heap.h>
#include <hotrestart/pmm.h>

#include "common.h"
#include "pmm/crash.h"

#define USER 65534 /* nobody: the site's owner */
#define VICTIM "root's own\n"

static char base[64], udir[128], rdir[128], site[160], disk[200];
static int watch = -1; /* inotify on rdir */

static void setup(void)
{
    if (geteuid() != 0)
        cr_skip_test("needs root (root acting on another user's site)");
    snprintf(base, sizeof base, "/dev/shm/hrroot.XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    cr_assert_eq(chmod(base, 0711), 0);
    snprintf(udir, sizeof udir, "%s/u", base);
    snprintf(rdir, sizeof rdir, "%s/r", base);
    snprintf(site, sizeof site, "%s/site", udir);
    snprintf(disk, sizeof disk, "%s/d/disk.bank", udir);
    cr_assert_eq(mkdir(udir, 0700), 0);
    cr_assert_eq(chown(udir, USER, USER), 0);
    cr_assert_eq(mkdir(rdir, 0700), 0);
    watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    cr_assert_geq(watch, 0);
    cr_assert_geq(inotify_add_watch(watch, rdir, IN_CREATE | IN_DELETE |
                                    IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY),
                  0);
}

static void teardown(void)
{
    if (base[0])
        tree_drop(base);
}
TestSuite(rootsite, .init = setup, .fini = teardown, .timeout = 300);

/* A directory or link of the user's at udir/name (a link to target). */
static void users(const char *name, const char *target)
{
    char p[200];
    snprintf(p, sizeof p, "%s/%s", udir, name);
    cr_assert_eq(target ? symlink(target, p) : mkdir(p, 0700), 0, "%s", p);
    cr_assert_eq(lchown(p, USER, USER), 0);
}

/* A file of root's in rdir, which nothing done on the user's site may
 * touch. */
static void plant(const char *name)
{
    char p[200];
    snprintf(p, sizeof p, "%s/%s", rdir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0, "%s", p);
    cr_assert_eq(write(fd, VICTIM, strlen(VICTIM)), (ssize_t)strlen(VICTIM));
    close(fd);
    char e[4096];
    while (read(watch, e, sizeof e) > 0) /* its own making */
        ;
}

/* Nothing in rdir was made, removed, renamed or written since the last
 * look, and the file name there is whole (NULL: none to look at). */
static void untouched(const char *name, int try)
{
    char e[4096] __attribute__((aligned(8))), p[200], got[64] = "";
    ssize_t n = read(watch, e, sizeof e);
    if (n > 0) {
        const struct inotify_event *ev = (const void *)e;
        cr_assert_fail("try %d: root's directory changed: mask %#x on %s", try,
                       ev->mask, ev->len ? ev->name : "(itself)");
    }
    if (!name)
        return;
    snprintf(p, sizeof p, "%s/%s", rdir, name);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "try %d: root's %s is gone", try, p);
    cr_assert_geq(read(fd, got, sizeof got - 1), 0);
    close(fd);
    cr_assert_str_eq(got, VICTIM, "try %d: root's %s was rewritten", try, p);
}

/* A site of the user's with a small RAM bank (and a DISK bank at disk):
 * made by root, then given to the user as its owner would have it. */
static void user_site(int with_disk)
{
    pmm_site_config c = {.rambank_size = 4 << 20, .max_blocks = 16,
                         .diskbank_path = with_disk ? disk : NULL,
                         .diskbank_size = 1 << 20};
    int r = pmm_site_create(site, &c);
    cr_assert_eq(r, 0, "site create: %s", pmm_strerror(r));
    const char *own[] = {"", "/ram.bank", "/site.conf"};
    char p[300];
    for (size_t i = 0; i < sizeof own / sizeof *own; i++) {
        snprintf(p, sizeof p, "%s%s", site, own[i]);
        cr_assert_eq(lchown(p, USER, USER), 0, "%s", p);
    }
    cr_assert(!with_disk || lchown(disk, USER, USER) == 0);
}

/* Whatever a try left of the site and its DISK bank: gone. */
static void user_site_drop(void)
{
    char p[300];
    tree_drop(site);
    snprintf(p, sizeof p, "%s/d", udir);
    tree_drop(p);
    mkdir(p, 0700);
    cr_assert_eq(chown(p, USER, USER), 0);
}

/* The user's process that swaps udir/a and udir/b (one a link to rdir)
 * with each other for as long as it lives, once it has swapped them
 * once (a destroy is over before a process just forked is scheduled).
 * No criterion call: it may run in a child of the test. */
static pid_t swap_start(const char *a, const char *b)
{
    int p[2];
    char pa[200], pb[200], c = 0;
    if (pipe2(p, O_CLOEXEC))
        return -1;
    pid_t pid = fork();
    if (pid != 0) {
        close(p[1]);
        if (read(p[0], &c, 1) != 1)
            pid = -1;
        close(p[0]);
        return pid;
    }
    snprintf(pa, sizeof pa, "%s/%s", udir, a);
    snprintf(pb, sizeof pb, "%s/%s", udir, b);
    /* gone with the test: set after setuid, which clears it */
    if (setgid(USER) || setuid(USER) || prctl(PR_SET_PDEATHSIG, SIGKILL))
        _exit(10);
    for (int told = 0;;)
        if (syscall(SYS_renameat2, AT_FDCWD, pa, AT_FDCWD, pb,
                    RENAME_EXCHANGE) == 0 && !told++ && write(p[1], &c, 1) != 1)
            _exit(11);
}

/* udir/a the directory again, not the link (or gone: destroyed). */
static int unswap(const char *a, const char *b)
{
    char pa[200], pb[200];
    struct stat st;
    snprintf(pa, sizeof pa, "%s/%s", udir, a);
    snprintf(pb, sizeof pb, "%s/%s", udir, b);
    if (lstat(pa, &st) < 0 || !S_ISLNK(st.st_mode))
        return 0;
    return (int)syscall(SYS_renameat2, AT_FDCWD, pa, AT_FDCWD, pb,
                        RENAME_EXCHANGE);
}

/* The swapper stopped, and udir/a not the link. */
static void swap_stop(pid_t pid, const char *a, const char *b)
{
    kill(pid, SIGKILL);
    cr_assert_eq(wait_status(pid), 128 + SIGKILL, "the swapper failed");
    cr_assert_eq(unswap(a, b), 0);
}

static long tries(void)
{
    return test_count("HR_ROOTSITE_TRIES", 1000);
}

/* udir/a and udir/b swapped once, as the user would swap them. */
static void swap_once(const char *a, const char *b)
{
    char pa[200], pb[200];
    snprintf(pa, sizeof pa, "%s/%s", udir, a);
    snprintf(pb, sizeof pb, "%s/%s", udir, b);
    cr_assert_eq(syscall(SYS_renameat2, AT_FDCWD, pa, AT_FDCWD, pb,
                         RENAME_EXCHANGE), 0, "swap: %s", strerror(errno));
}

/* pmm_site_destroy run by root in a child that stops at destroy.looked
 * (the banks looked at, nothing removed); udir/a swapped with udir/b
 * there, then the child let go on.  How it ended: 0 the destroy
 * returned 0, 1 it failed. */
static int destroy_stopped(const char *a, const char *b)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setenv("HR_CRASHPOINT", "destroy.looked", 1);
        setenv("HR_CRASHPOINT_STOP", "1", 1);
        pmm__crash_reset();
        _exit(pmm_site_destroy(site) < 0);
    }
    int st;
    while (waitpid(pid, &st, WUNTRACED) < 0)
        cr_assert_eq(errno, EINTR);
    cr_assert(WIFSTOPPED(st), "the destroy ended (status %#x) without "
              "stopping at destroy.looked", st);
    swap_once(a, b);
    kill(pid, SIGCONT);
    return wait_status(pid);
}

/* pmm_site_destroy run by root on a site of the user's whose udir/a the
 * user swaps with udir/a.x, a link to rdir: root's files there (victims,
 * NULL-ended) untouched.  Once at the exact instant (destroy_stopped),
 * then tries() times against a swapping process. */
static void destroy_swapped(const char *a, int with_disk,
                            const char *const *victims)
{
    char b[64];
    snprintf(b, sizeof b, "%s.x", a);
    users(b, rdir);
    for (const char *const *v = victims; *v; v++)
        plant(*v);
    user_site(with_disk);
    int r = destroy_stopped(a, b);
    cr_assert(r == 0 || r == 1, "the destroy ended %d", r);
    cr_assert_eq(unswap(a, b), 0);
    for (const char *const *v = victims; *v; v++)
        untouched(*v, -1);
    user_site_drop();
    for (int i = 0; i < tries(); i++) {
        user_site(with_disk);
        pid_t s = swap_start(a, b);
        cr_assert_gt(s, 0);
        pmm_site_destroy(site);
        swap_stop(s, a, b);
        for (const char *const *v = victims; *v; v++)
            untouched(*v, i);
        user_site_drop();
    }
}

/* Seen failing before the fix: root's disk.bank was removed, the DISK
 * bank checked by its path and then removed by it (at the stop, every
 * time; in the loop, at tries 1 to 141 of 14 runs, one of 300 missed). */
Test(rootsite, destroy_removes_nothing_through_a_swapped_disk_directory)
{
    users("d", NULL);
    destroy_swapped("d", 1, (const char *[]){"disk.bank", NULL});
}

/* Seen failing before the fix: root's site.conf or ram.bank was removed
 * (within 30 tries), the site directory checked by its path and its files
 * removed by theirs. */
Test(rootsite, destroy_removes_nothing_through_a_swapped_site_directory)
{
    destroy_swapped("site", 0, (const char *[]){"ram.bank", "site.conf", NULL});
}

/* In a child of root's: the user's RAM bank opened, then its heap opened
 * (the presence file made, by root, for the user) while the user swaps
 * its site directory with a link to rdir.  0 opened, 1 refused. */
static int heap_open_swapped(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        pmm_bank *b;
        hr_heap *h;
        if (pmm_bank_open(&b, site, "RAM", 0) < 0)
            _exit(2);
        pid_t s = swap_start("site", "site.x");
        if (s < 0)
            _exit(4);
        int r = hr_heap_open(&h, b, "h", 1 << 20, "k", 1, 0);
        kill(s, SIGKILL);
        _exit(wait_status(s) == 128 + SIGKILL ? r < 0 : 3);
    }
    return wait_status(pid);
}

/* Seen failing before the fix: root made ram.bank.presence (or its file
 * made aside) in root's directory, for the user, through the link. */
Test(rootsite, the_presence_file_is_made_nowhere_but_beside_the_bank)
{
    char pres[300];
    users("site.x", rdir);
    user_site(0);
    snprintf(pres, sizeof pres, "%s/ram.bank.presence", site);
    int refused = 0;
    for (int i = 0; i < tries(); i++) {
        int r = heap_open_swapped();
        cr_assert(r == 0 || r == 1, "try %d: the child ended %d", i, r);
        refused += r;
        cr_assert_eq(unswap("site", "site.x"), 0);
        untouched(NULL, i);
        unlink(pres); /* made again at the next try */
    }
    cr_assert_gt(refused, 0, "the swap never met root's heap open");
}

/* Seen failing before the fix: root's file, named by the user in
 * site.conf, was replaced by an empty DISK bank (not a bank, so its
 * tunables came from the defaults, and its owner was never looked at). */
Test(rootsite, remake_replaces_no_file_that_site_conf_names_outside)
{
    char conf[300], text[300];
    users("d", NULL);
    plant("disk.bank");
    user_site(1);
    snprintf(conf, sizeof conf, "%s/site.conf", site);
    snprintf(text, sizeof text, "pmm.diskbank=%s/disk.bank\n", rdir);
    FILE *f = fopen(conf, "w");
    cr_assert_not_null(f);
    cr_assert_geq(fputs(text, f), 0);
    cr_assert_eq(fclose(f), 0);
    int r = pmm_bank_remake(site, "DISK", NULL);
    untouched("disk.bank", 0);
    /* with the user's rights, root's 0700 directory is not even searched */
    cr_assert(r == K_EPRIV || r == -EACCES, "remake: %s", pmm_strerror(r));
}

/* Seen failing before the fix: root's disk.bank was replaced by a new
 * bank through the link (a file made aside beside it first). */
Test(rootsite, remake_replaces_nothing_through_a_swapped_disk_directory)
{
    users("d", NULL);
    users("d.x", rdir);
    plant("disk.bank");
    user_site(1);
    int met = 0;
    for (int i = 0; i < tries(); i++) {
        pid_t s = swap_start("d", "d.x");
        cr_assert_gt(s, 0);
        int r = pmm_bank_remake(site, "DISK", NULL);
        swap_stop(s, "d", "d.x");
        untouched("disk.bank", i);
        met += r < 0;
    }
    cr_assert_gt(met, 0, "the swap never met root's remake");
}
