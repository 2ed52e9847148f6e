/* SPDX-License-Identifier: MIT */
/*
 * os.h - the persistent memory manager's system calls, behind one small
 * interface (file.c, at.c, cred.c, mem.c, huge.c, proc.c, tap.c), for the
 * PMM and the persistent heap.
 *
 * Contract: each function returns 0 (or a count) on success and -errno on
 * failure, retries EINTR itself (close excepted, as noted), and never
 * leaves a half-done effect that the caller cannot see: a short pwrite is
 * completed or reported.  Descriptors are opened close-on-exec.  The
 * functions keep no state but the caches named below, which are safe to
 * read from any thread.
 *
 * Kept true by a test: tests/check_symbols.sh lists the undefined symbols
 * of every object of the checked folders (HR_SYSCALL_CHECKED in
 * tests/CMakeLists.txt) and fails on a libc system-call wrapper outside
 * this layer.  src/pmm/, src/heap/, src/hr/ and daemon/ are checked (the
 * last two also use ctl.h, the controller's part of the layer).
 */
#ifndef HR_OS_H
#define HR_OS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- file.c: files, directories, the bank's lock ---------------------- */

/* Open a bank file read-write (or read-only); a link is not followed, and
 * a FIFO or a device is opened without waiting (for the caller's
 * pmm__os_size to refuse). */
int pmm__os_open(const char *path, int rdonly, int create_excl, int *fd);
/* Never retried: Linux frees the descriptor even when close() fails. */
int pmm__os_close(int fd);
/* Writer lock on the bank: an open-file-description lock the kernel drops
 * when the holder dies.  `write` 0 takes it shared (the checker). */
int pmm__os_lock(int fd, int write);
int pmm__os_trylock(int fd, int write); /* -EAGAIN when held */
/* 1 when another open file description holds a lock that a write lock on
 * fd would wait for, 0 when none does, or -errno. */
int pmm__os_lock_held(int fd);
int pmm__os_unlock(int fd);
/* A write lock, waited for, on the one byte `byte` of fd (the heap's open
 * lock, far past the end of the bank file); dropped by closing fd. */
int pmm__os_lock_byte(int fd, uint64_t byte);
/* The same, not waited for: `how` 1 a write lock, 0 a read (shared) lock,
 * -1 unlock; -EAGAIN when another open file description holds one that
 * conflicts. */
int pmm__os_trylock_byte(int fd, uint64_t byte, int how);
/* Give the file of fd to the user uid (its group unchanged): root making
 * a file for a site it does not own. */
int pmm__os_chown(int fd, uid_t uid);
int pmm__os_pwrite(int fd, const void *buf, size_t len, uint64_t off);
/* -ENODATA if the file ends before len bytes. */
int pmm__os_pread(int fd, void *buf, size_t len, uint64_t off);
/* fstat(): any of the results may be NULL. */
int pmm__os_size(int fd, uint64_t *size, uid_t *uid, mode_t *mode,
                 dev_t *dev, ino_t *ino);
int pmm__os_truncate(int fd, uint64_t size);
/* Make file data (and the metadata needed to read it) durable. */
int pmm__os_sync(int fd);
/* Give pages back to the file system: they read as zero afterwards. */
int pmm__os_punch(int fd, uint64_t off, uint64_t len);
/* Take the file system's space for [off, off + len) now (the file's size
 * unchanged): -ENOSPC when it has not that much, so that a later store
 * through a mapping cannot fail with SIGBUS.  0 where the file system
 * cannot reserve (no fallocate). */
int pmm__os_reserve(int fd, uint64_t off, uint64_t len);
/* Rename from to to (same file system), replacing to in one step: a
 * process killed around it leaves the old file or the new one there. */
int pmm__os_rename(const char *from, const char *to);
int pmm__os_unlink(const char *path);
/* Remove the files NAME.new.PID.R (R 16 hex digits, drawn by the maker:
 * a PID names one process of one pid namespace only) and NAME.new.PID
 * (an older version's) in the directory dir that makers of a new file
 * for NAME left when they died: no one holds their lock (pmm__os_lock)
 * and no process PID lives, or PID is ours (which proves nothing: the
 * lock tells).  A maker holds the lock from before the file has that name
 * (pmm__os_open_anon, then pmm__os_link_anon) until it has published it,
 * so one that runs in another pid namespace (its PID names another
 * process here, or none) is kept by its lock; where the file system has
 * no nameless files, the maker creates it by name and locks it just
 * after, unkept for that instant.  How many were removed, or -errno
 * (aside.c). */
int pmm__os_sweep_aside(int dir, const char *name);
/* A new file with no name (O_TMPFILE), owner-only, in the directory dir,
 * open for reading and writing: 0, -EOPNOTSUPP where the file system (or
 * the kernel) has no such files, -errno. */
int pmm__os_open_anon(int dir, int *fd);
/* Give the nameless file fd the name name in dir: 0, -EEXIST, -errno. */
int pmm__os_link_anon(int fd, int dir, const char *name);
int pmm__os_mkdir(const char *path, mode_t mode); /* -EEXIST when there */
/* lstat(): the owner and mode of path itself (a link is not followed). */
int pmm__os_lstat(const char *path, uid_t *uid, mode_t *mode);
/* The whole of a small file, NUL-terminated; -EFBIG if it does not fit
 * in cap - 1 bytes.  Opened without waiting: a FIFO there reads as empty
 * (no writer) or -EAGAIN, never hangs the reader. */
int pmm__os_read_file(const char *path, char *buf, size_t cap);
/* The same for the file name in dir, a link not followed (-ELOOP). */
int pmm__os_read_file_at(int dir, const char *name, char *buf, size_t cap);
/* The same for a text file: -EILSEQ if it holds a NUL byte (which would
 * end its text unseen, and whatever follows with it). */
int pmm__os_read_text(const char *path, char *buf, size_t cap);
/* Mark every descriptor from low up close-on-exec: what a program was
 * started with reaches none of the programs it starts. */
int pmm__os_cloexec_from(int low);
/* Open path for appending, creating it owner-only (a test's record). */
int pmm__os_open_append(const char *path, int *fd);
/* Write all of buf at fd's position: a short write is completed. */
int pmm__os_write_all(int fd, const void *buf, size_t len);
/* Make path hold buf, owner-only (mode 0600, a link refused): written
 * whole to path.tmp.PID.N (a name of this writer's own), then renamed over
 * path, so that a process killed meanwhile leaves the old file or the new
 * one, never a part of one, and writers at once do not meet in one
 * temporary file (the last rename wins: a read-modify-write needs a lock
 * around it, as hr site set takes). */
int pmm__os_write_file(const char *path, const void *buf, size_t len);

/* A test's tap on what reaches a file (tests/test_powercut.c records a DISK
 * bank's writes and flushes with it and replays them as power cuts;
 * tests/test_heap_disk.c counts a heap's flushes).  When set, it is called
 * after each pwrite (PMM_OS_T_WRITE: buf, len at off), punch
 * (PMM_OS_T_PUNCH: len at off), fdatasync (PMM_OS_T_SYNC), ftruncate
 * (PMM_OS_T_SIZE: the new size in off) and msync (PMM_OS_T_MSYNC: the
 * range's address in buf and its length, fd -1) that succeeded.  NULL,
 * and so costless, outside such a test. */
enum { PMM_OS_T_WRITE = 1, PMM_OS_T_PUNCH = 2, PMM_OS_T_SYNC = 3,
       PMM_OS_T_SIZE = 4, PMM_OS_T_MSYNC = 5 };
extern void (*pmm__os_tap)(int what, int fd, const void *buf, size_t len,
                           uint64_t off);
/* Call the tap if one is set (tap.c). */
void pmm__os_tap_call(int what, int fd, const void *buf, size_t len,
                      uint64_t off);

/* ---- at.c: directories walked, files named inside one held open ------ */

/* A descriptor of the directory at path, walked a part at a time from the
 * descriptor of the one before: a link is followed only where no one but
 * root or we may change it (its directory is theirs and open to no other
 * writer), never as the last part (-ELOOP).  With create, missing parts are
 * made (0700), then opened without following a link and refused (-EPERM)
 * unless ours: a link or another's directory swapped in is never entered.
 * *made (may be NULL): how many of path's last parts this call made, for
 * pmm__os_unmake_dirs() when what follows fails. */
int pmm__os_open_dir(const char *path, int create, int *made);
/* Remove the last made parts of path, empty directories that
 * pmm__os_open_dir() made, deepest first; stops at the first that is not
 * empty or not there (another process put something in it meanwhile). */
void pmm__os_unmake_dirs(const char *path, int made);
/* The directory at path held (O_PATH: for the *at() calls below and
 * fstat), the links on the way followed as open() follows them, the last
 * part not: a descriptor, -ENOTDIR (a link or no directory), -errno. */
int pmm__os_hold_dir(const char *path);
/* The directory holding path's last part, every link on the way followed
 * as open() follows them, opened only to be passed through (O_PATH: for
 * the *at() calls below), and that last part's name into name (cap
 * bytes): its descriptor, -EINVAL for a path with no last part,
 * -ENAMETOOLONG, -errno. */
int pmm__os_open_parent(const char *path, char *name, size_t cap);
/* pmm__os_open for the file name inside the directory dir; a FIFO or a
 * device named there is opened without waiting, for the caller's
 * pmm__os_size to refuse. */
int pmm__os_openat(int dir, const char *name, int rdonly, int create_excl,
                   int *fd);
/* fstatat() of name in dir, a link not followed: any result may be NULL. */
int pmm__os_statat(int dir, const char *name, uid_t *uid, mode_t *mode,
                   dev_t *dev, ino_t *ino);
int pmm__os_unlinkat(int dir, const char *name);
/* Remove name from dir (an empty directory when is_dir) only if it still
 * names the file (dev, ino) that the caller looked at: -ESTALE if it names
 * another now, -errno. */
int pmm__os_unlink_same(int dir, const char *name, int is_dir, dev_t dev,
                        ino_t ino);
/* link() and rename() of from to to, both names inside dir. */
int pmm__os_linkat(int dir, const char *from, const char *to);
int pmm__os_renameat(int dir, const char *from, const char *to);

/* ---- cred.c: root acting with another user's rights -------------------- */

#define PMM_OS_AS_GROUPS 256 /* groups kept of the user, and of root */

/* What pmm__os_as_owner() found, for pmm__os_as_self() to put back. */
struct pmm__os_as {
    int on;      /* switched: the rest is set */
    int cancel;  /* the thread's cancel state */
    uid_t fsuid; /* its file-system user and group */
    gid_t fsgid;
    int deathsig; /* its PR_SET_PDEATHSIG, and the process's dumpable flag,
                     which a change of fsuid from 0 clears */
    int dumpable;
    pid_t parent; /* its parent then: one that died meanwhile is told */
    uint64_t mask[16]; /* its signal mask (a sigset_t): the handled
                          signals wait meanwhile */
    int ngroups;
    gid_t groups[PMM_OS_AS_GROUPS];
};
/* When the caller is root and the file fd is another user's: this thread
 * acts with that user's file-system rights (the user's id, the group and
 * groups of its passwd entry, or the file's group for a user with none)
 * until pmm__os_as_self(), with cancellation off meanwhile and the
 * signals the process handles blocked but the faults' (their handlers
 * run after, with root's rights); files it makes are the user's.
 * Otherwise nothing changes.  0, or -errno (root in more than
 * PMM_OS_AS_GROUPS groups: -EINVAL), nothing changed then. */
int pmm__os_as_owner(int fd, struct pmm__os_as *was);
/* Back to the rights (and cancel state, parent-death signal, dumpable
 * flag) that pmm__os_as_owner() found; nothing when it changed nothing. */
void pmm__os_as_self(struct pmm__os_as *was);

/* ---- mem.c: mappings and the address space ---------------------------- */

/* A read-only shared mapping of [0, len) of fd: at want if that range is
 * free, else anywhere. */
int pmm__os_map_ro(int fd, size_t len, uintptr_t want, const void **out);
void pmm__os_unmap(const void *addr, size_t len);
/* Map len bytes of fd at off read-write and shared.  With fixed, exactly at
 * addr, never over an existing mapping: -EEXIST if any of it is taken;
 * else anywhere. */
int pmm__os_map_block(int fd, uint64_t off, size_t len, uintptr_t addr,
                      int fixed, void **out);
int pmm__os_unmap_block(void *addr, size_t len);
int pmm__os_msync(void *addr, size_t len);
/* 1 if [addr, addr + len) holds no mapping of this process */
int pmm__os_range_free(uintptr_t addr, uint64_t len);
size_t pmm__os_page_size(void); /* read once, then cached */

/* ---- huge.c: huge pages and populating mappings ---------------------- */

/* Does the file system of fd give its files huge pages of `huge` bytes,
 * when their pages are allocated by fallocate() (as a bank's are)?  1 yes,
 * 0 no with *why saying why in one line, -EOPNOTSUPP with *why for a file
 * system that can hold no bank at all (hugetlbfs), or -errno. */
int pmm__os_huge_fs(int fd, uint64_t huge, const char **why);
/* Fault every page of a mapping that its file holds in now (holes are
 * left: faulting one would allocate it); MADV_POPULATE_READ, Linux 5.14;
 * before it, a read of each page, guarded against SIGBUS. */
int pmm__os_populate(void *addr, size_t len);
/* The same in a detached thread, returning at once; MADV_POPULATE_READ
 * only (a range unmapped meanwhile makes it stop): before Linux 5.14 it
 * does nothing. */
int pmm__os_populate_bg(void *addr, size_t len);

/* ---- fault.c: reads of a mapping whose file may shrink ---------------- */

/* fn(arg), but a SIGBUS raised by a read inside [addr, addr + len) (its
 * file was truncated) abandons fn at once and returns -EFAULT instead of
 * killing the process.  fn must hold no lock and own nothing when it may
 * fault: it does not run to its end.  No system call after the first. */
int pmm__os_guarded(const void *addr, size_t len, int (*fn)(void *),
                    void *arg);

/* ---- proc.c: the process, the clock, randomness ----------------------- */

int pmm__os_random(void *buf, size_t len);
uint64_t pmm__os_now_ns(void); /* CLOCK_REALTIME */
/* The process's id: cached, and forgotten in a forked child. */
int pmm__os_pid(void);
uid_t pmm__os_euid(void);
void pmm__os_yield(void);
/* Sleep while *word (in memory shared between processes, or not) still
 * holds seen, at most ns nanoseconds; a wake, a signal or a spurious
 * return ends it early: the caller looks again. */
void pmm__os_futex_wait(uint32_t *word, uint32_t seen, long ns);
/* Wake every sleeper on word. */
void pmm__os_futex_wake(uint32_t *word);
/* Die at once by SIGKILL (the crash points); PID 1 of a pid namespace,
 * which ignores its own SIGKILL, by _exit(128 + SIGKILL). */
__attribute__((noreturn)) void pmm__os_die(void);
/* Stop this process (SIGSTOP) until a SIGCONT lets it go on (the crash
 * points, HR_CRASHPOINT_STOP); PID 1 of a pid namespace ignores it and
 * goes on. */
void pmm__os_stop(void);

#endif
