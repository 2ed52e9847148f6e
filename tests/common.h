/* SPDX-License-Identifier: MIT */
/*
 * common.h - helpers for the tests: throwaway sites, child processes and
 * the hr tool.  Every test runs in its own process (Criterion forks).
 */
#ifndef HR_TEST_COMMON_H
#define HR_TEST_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <hotrestart/pmm.h>

/* Make a fresh site directory on tmpfs, set $HR_SITE to it and return it.
 * With max_blocks/size 0 the bank is made with defaults on first use.
 * With HR_TEST_HUGE=1 in the environment the directory is a private tmpfs
 * mounted huge=within_size in this process's own mount namespace and the
 * bank a huge-page bank (PMM_HUGE_ON); the test is skipped, saying why,
 * where the kernel or the sandbox allows neither. */
const char *site_new(uint64_t size, uint64_t max_blocks);
/* NULL if this kernel gives tmpfs huge pages, else why not. */
const char *huge_unavailable(void);
/* This process (and the children it makes from now on) in a mount
 * namespace of its own, with a tmpfs mounted at dir with opts: 0 or
 * -errno. */
int private_tmpfs(const char *dir, const char *opts);
/* The same with a file system of type (tmpfs, hugetlbfs). */
int private_mount(const char *dir, const char *type, const char *opts);
/* A fresh directory /tmp/hrhuge.PID (into dir, cap bytes) with a private
 * mount of type and opts on it, $HR_SITE set to DIR/site; the test is
 * skipped, saying why, where no such mount can be made.  The caller
 * unmounts and removes dir when done. */
void mounted_site(char *dir, size_t cap, const char *type, const char *opts);
/* Remove the current test site. */
void site_drop(void);
/* Skip the running test (cr_skip_test, saying why), its site dropped
 * first: a skip ends the test's process without its suite's .fini. */
__attribute__((noreturn)) void skip_dropping_site(const char *why);
/* A fresh site (site_new(0, 0)) made with a RAM bank of ram_size bytes and
 * 64 blocks, and a DISK bank of disk_size bytes whose file is
 * "STEM.PID.bank" (a stale one removed first), its path written into path
 * (cap bytes): the site. */
const char *site_new_disk(char *path, size_t cap, const char *stem,
                          uint64_t ram_size, uint64_t disk_size);
/* Remove the DISK bank file at path and its presence file (heap.md). */
void disk_bank_drop(const char *path);
/* The controller tests' site.  site_start: `hr site start` in the current
 * site, failing the test with hr's output (into out, len bytes) unless it
 * started.  site_up: a fresh site (site_new(0, 0)) so started: the site.
 * site_stop_drop, a suite's fini: the site's controller stopped, if one
 * runs, and the site removed. */
void site_start(char *out, size_t len);
const char *site_up(char *out, size_t len);
void site_stop_drop(void);
/* The RAM bank file of the current site. */
const char *site_bank(void);
/* Open the current site's RAM bank. */
pmm_bank *bank_open(void);
/* Run the hr tool with arguments (a NULL-terminated list) in the current
 * site; capture up to len-1 bytes of stdout in out (may be NULL); return its
 * exit status, or 128+signal. */
int run_hr(char *out, size_t len, const char *arg0, ...);
/* Run the program at path with argv (NULL-terminated), its standard input
 * the text in (up to 64 KiB; NULL for none), capturing stdout as run_hr
 * does; return its exit status, or 128+signal. */
int run_prog(const char *path, const char *const argv[], const char *in,
             char *out, size_t len);
/* Run argv (argv[0] a path) with its stdout and stderr into buf (cap
 * bytes, NUL-terminated); uid > 0: as that user.  Its exit status, or
 * 128 + signal. */
int run_all(char *buf, size_t cap, uid_t uid, gid_t gid, char *const argv[]);
/* hr with args (NULL-terminated, 14 at most), its stdout and stderr into
 * out (cap bytes), as run_all: its exit status. */
int hr_all(char *out, size_t cap, const char *arg0, ...);
/* A free TCP port of 127.0.0.1, below the kernel's ephemeral range
 * (none of a busy client's outgoing connections can take it before the
 * caller binds it); the kernel's pick when there is none. */
int free_port(void);
/* Wait for pid; return exit status, or 128 + signal number. */
int wait_status(pid_t pid);
/* pmm_check() on the current RAM bank; 0 when consistent.  Problems are
 * printed to stderr. */
int check_bank(void);
/* A PmmName on the RAM medium. */
#include <pmm/chPmm.h>
PmmName ram_name(const char *name);
/* Tell test_actor NAME of the current site a command (actor.c): the file
 * $HR_SITE/cmd.NAME appears whole, never empty or half written. */
void actor_command(const char *name, const char *cmd);
/* An executable file dir/name (mode 0700) holding what fmt makes: a
 * script, its "#!" line included.  Its path, in path (cap bytes). */
const char *script_file(char *path, size_t cap, const char *dir,
                        const char *name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Process pid's resident memory in KiB (VmRSS), or -1. */
long rss_kb(int pid);
/* The descriptors process pid holds open: all of them, and those other
 * than sockets (the controller closes a connection just after its reply,
 * so the caller may still see it). */
void fds_of(int pid, int *files, int *all);
/* The same, and into list (cap bytes) " FD:TARGET" for each of those
 * other than sockets: what a failed count names. */
void fds_list(int pid, int *files, int *all, char *list, size_t cap);
/* 1 when one of process pid's descriptors other than sockets names a
 * path containing part. */
int fds_naming(int pid, const char *part);
/* Process pid's state letter (R, S, Z, ...) and parent (parent may be
 * NULL), from /proc/PID/stat: 1, or 0 when there is no such process. */
int proc_state(pid_t pid, char *state, pid_t *parent);
/* 1 when process pid runs: it exists and is neither a zombie nor dead. */
int proc_runs(pid_t pid);
/* Field n of /proc/PID/stat as proc(5) numbers them (from 4: 6 the
 * session, 9 the flags), or -1 when pid is gone. */
long long proc_stat_field(pid_t pid, int n);
/* The mask of the line key of /proc/PID/status ("SigIgn", "SigPnd"...),
 * or every bit set when pid is gone. */
unsigned long long proc_status_mask(pid_t pid, const char *key);
/* Bytes used in the RAM bank. */
uint64_t bank_used(void);
/* Heap "h" (1 MiB, key "k") of the bank medium of site opened, made the
 * first time, then closed with its bank: 0 or the error.  No Criterion
 * call: for children and threads too. */
int heap_touch(const char *site, const char *medium);

/* Waiting for an event: the one bounded poll helper.  Every wait of the
 * tests goes through it (tests/check_waits.sh refuses a bare sleep
 * elsewhere).  The condition is tried at once, then after pauses that
 * grow from 1 ms to 64 ms.  The bound, poll_bound_s() seconds (or less:
 * up to 5 s before the test's Criterion timeout), only turns
 * a hang into a failure that names what was awaited (and detail, the
 * state that was seen): it is no timing assertion, and no test asserts on
 * the time anything took.
 *
 *     POLL_UNTIL(access(path, F_OK) == 0, "the actor's file");
 *
 * or, looping by hand (to print what was seen, or to give up at once
 * when the event can no longer come):
 *
 *     for (struct poll_wait w = poll_begin("the restart"); !done();)
 *         poll_pause(&w, ps);
 */
struct poll_wait {
    const char *what;  /* what is awaited, for the failure's message */
    double start;      /* CLOCK_MONOTONIC seconds at poll_begin() */
    double until;      /* and when it gives up (poll_progress: later) */
    int by_timeout;    /* until is the test's timeout's, not the bound's */
    unsigned pause_us; /* the next pause */
    unsigned long tries;
};
struct poll_wait poll_begin(const char *what);
/* Pause before the next try; past the bound, fail the test saying what
 * was awaited, for how long, and detail (NULL for none). */
void poll_pause(struct poll_wait *w, const char *detail);
/* A long wait made of many events (thousands of restarts) saw one more:
 * the bound counts again from now, so that it bounds a stall, not the
 * whole run, on a slow build or a loaded machine. */
void poll_progress(struct poll_wait *w);
/* Pause for a fixed pace, not for an event: a workload's or a random
 * test's rhythm (a kill some microseconds into a run).  Never a wait for
 * something to happen; that is POLL_UNTIL's. */
void pace_us(unsigned long us);
/* Fail the test at once: what was awaited cannot come any more (why). */
__attribute__((noreturn)) void poll_give_up(const struct poll_wait *w,
                                            const char *why);
/* The bound of a wait in seconds: $HR_TEST_WAIT_S, default 120. */
unsigned poll_bound_s(void);
#define POLL_UNTIL(cond, what)                                                \
    do {                                                                      \
        for (struct poll_wait poll_w_ = poll_begin(what); !(cond);)           \
            poll_pause(&poll_w_, NULL);                                       \
    } while (0)
/* poll_until(cond, arg, what): POLL_UNTIL(cond(arg), what). */
void poll_until(int (*cond)(void *arg), void *arg, const char *what);

/* The tree at path removed, its links not followed (a test's scratch
 * directory; what cannot be removed is left). */
void tree_drop(const char *path);

/* The seed of a random test: $HR_TEST_SEED when set (a replay), else a
 * fresh one; printed on stderr as "NAME: HR_TEST_SEED=N replays this
 * run", so that every failure can be replayed (docs/tests.md). */
struct passwd;
/* The tests' second user, hrtest2 (made by the first test that needs it;
 * the test fails if it cannot be had). */
struct passwd *second_user(void);

uint64_t test_seed(const char *name);

/* The count the knob $name asks for (kills, flips, rounds: a test's
 * work), or dflt when it is unset or empty.  A value that is not a whole
 * number above 0 fails the test, named: 0 or garbage (atoi's 0) would make
 * the test pass having done nothing. */
long test_count(const char *name, long dflt);
/* The next number of a xorshift64 generator whose state is *s (never 0). */
uint64_t test_rand(uint64_t *s);

#endif
