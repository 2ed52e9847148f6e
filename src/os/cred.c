/* SPDX-License-Identifier: MIT */
/*
 * cred.c - root acting on another user's files with that user's rights,
 * for a while, on the calling thread only, behind os.h.
 *
 * Why: root may open, make, replace and destroy any user's site, and that
 * user writes the site's directory, site.conf (which names the DISK bank
 * by any path) and the directories on the way to the DISK bank.  Acting
 * there as root would lend the user root's rights over every file those
 * paths reach, through a path named in site.conf or a link swapped in
 * between a look and an act.  Acting with the user's file-system
 * identity instead (setfsuid, setfsgid and the user's groups), the kernel
 * applies the user's permissions to every path: the user's own links are
 * followed as the user would follow them, and nothing is reached that the
 * user could not reach; files made are the user's.
 *
 * Invariants: the switch is the calling thread's only (the raw system
 * calls: glibc's setgroups() would change every thread); cancellation is
 * off while it lasts (a thread cancelled mid-way would otherwise end, or
 * be unwound past its restore, with the user's identity); and
 * pmm__os_as_self() puts back exactly what pmm__os_as_owner() found, so
 * that the two nest.  Never on a hot path: opens, makes, remakes and
 * destroys only.
 */
#define _GNU_SOURCE
#include "os.h"

#include <assert.h>
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The groups of uid as a login gives them (its passwd entry's group
 * first), or, for a uid with no entry, gid alone: how many. */
static int groups_of(uid_t uid, gid_t gid, gid_t *groups, gid_t *primary)
{
    struct passwd pw, *p = NULL;
    char small[4096], *buf = small;
    size_t cap = sizeof small;
    int n = PMM_OS_AS_GROUPS, r;
    *primary = gid;
    groups[0] = gid;
    /* an entry longer than the buffer (ERANGE) is read again into a
     * larger one, not taken for no entry */
    while ((r = getpwuid_r(uid, &pw, buf, cap, &p)) == ERANGE &&
           cap < (1u << 20)) {
        char *more = realloc(buf == small ? NULL : buf, cap * 4);
        if (!more)
            break;
        buf = more;
        cap *= 4;
    }
    if (r == 0 && p) {
        *primary = groups[0] = pw.pw_gid;
        /* more than fit: the first ones only, the fewer rights */
        if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
            n = PMM_OS_AS_GROUPS;
    } else {
        n = 1;
    }
    if (buf != small)
        free(buf);
    return n;
}

/* Set this thread's groups, file-system group and user: 0 or -errno. */
static int set_ids(int n, const gid_t *groups, gid_t gid, uid_t uid)
{
    if (syscall(SYS_setgroups, (size_t)n, groups) < 0)
        return -errno;
    setfsgid(gid);
    setfsuid(uid);
    /* each returns the previous value, never an error: asked again with
     * an id no one has (-1), each says where it stands */
    if ((gid_t)setfsgid((gid_t)-1) != gid || (uid_t)setfsuid((uid_t)-1) != uid)
        return -EPERM;
    return 0;
}

/* Block, on this thread, every signal the process has a handler for but
 * the faults', the mask as it was into *was: a handler that ran inside
 * the switch would act with the user's file rights (a file it makes, the
 * user's; one it may not open, refused).  Those with the default action
 * or ignored stay open: no code of the process runs for them, and a
 * default SIGINT still ends a root process waiting in a switch.  The
 * handlers are read once: one installed by another thread meanwhile is
 * not blocked.  (glibc's own signals, which sigaction() refuses, are
 * left alone.) */
static_assert(sizeof(sigset_t) <= sizeof(((struct pmm__os_as *)0)->mask),
              "room for a signal mask");

/* Signals never blocked: SIGKILL and SIGSTOP cannot be, and a fault's
 * (SIGBUS of a read past a shrunk file's end, SIGSEGV...) is raised by
 * the faulting instruction itself: blocked, the kernel kills the process
 * at once instead of running the handler.  The library's own SIGBUS
 * handler (fault.c) turns a read of a bank the user truncated into
 * -EFAULT, inside a switch as anywhere. */
static int fault_signal(int s)
{
    return s == SIGKILL || s == SIGSTOP || s == SIGBUS || s == SIGSEGV ||
           s == SIGFPE || s == SIGILL || s == SIGTRAP || s == SIGSYS;
}
static void block_handled(void *was)
{
    sigset_t handled;
    struct sigaction sa;
    sigemptyset(&handled);
    for (int s = 1; s < NSIG; s++)
        if (!fault_signal(s) && sigaction(s, NULL, &sa) == 0 &&
            sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN)
            sigaddset(&handled, s);
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &handled, &old);
    memcpy(was, &old, sizeof old);
}

int pmm__os_as_owner(int fd, struct pmm__os_as *was)
{
    struct stat st;
    gid_t groups[PMM_OS_AS_GROUPS], gid;
    was->on = 0;
    if (geteuid() != 0)
        return 0; /* a user's rights are its own already */
    if (fstat(fd, &st) < 0)
        return -errno;
    if (st.st_uid == 0)
        return 0; /* root's own */
    int n = groups_of(st.st_uid, st.st_gid, groups, &gid);
    if ((was->ngroups = getgroups(PMM_OS_AS_GROUPS, was->groups)) < 0)
        return -errno; /* root in more groups than kept: refused */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &was->cancel);
    was->fsuid = (uid_t)setfsuid((uid_t)-1);
    was->fsgid = (gid_t)setfsgid((gid_t)-1);
    /* the kernel clears both when fsuid leaves 0 (and again when it comes
     * back): a child started to die with its parent would no longer, and
     * the process would dump no core (commit_creds) */
    was->deathsig = 0;
    prctl(PR_GET_PDEATHSIG, &was->deathsig);
    was->dumpable = prctl(PR_GET_DUMPABLE);
    was->parent = getppid();
    block_handled(was->mask);
    was->on = 1;
    int r = set_ids(n, groups, gid, st.st_uid);
    if (r < 0)
        pmm__os_as_self(was);
    return r;
}

void pmm__os_as_self(struct pmm__os_as *was)
{
    if (!was->on)
        return;
    /* back to what was (root, or an outer switch's user): the user first
     * (from 0, its rights come back whole), then the groups */
    setfsuid(was->fsuid);
    setfsgid(was->fsgid);
    syscall(SYS_setgroups, (size_t)was->ngroups, was->groups);
    if (was->dumpable == 0 || was->dumpable == 1) /* (2: prctl cannot) */
        prctl(PR_SET_DUMPABLE, was->dumpable);
    if (was->deathsig) {
        prctl(PR_SET_PDEATHSIG, was->deathsig);
        if (getppid() != was->parent) /* died meanwhile: as it would have */
            kill(getpid(), was->deathsig);
    }
    was->on = 0;
    sigset_t mask; /* root's rights first, then the handlers */
    memcpy(&mask, was->mask, sizeof mask);
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    pthread_setcancelstate(was->cancel, NULL);
}
