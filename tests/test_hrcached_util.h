/* SPDX-License-Identifier: MIT */
/*
 * test_hrcached_util.h - helpers for the hrcached tests: a listening socket
 * held by the test (as the controller holds one), hrcached started on it
 * by the sd_listen_fds convention, and a small blocking client.
 */
#ifndef TEST_HRCACHED_UTIL_H
#define TEST_HRCACHED_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <hotrestart/heap.h>

/* fork(), the child dying with the test (PR_SET_PDEATHSIG SIGKILL; it
 * ends at once if the test is gone already): a client or a server a test
 * starts never outlives it, even a test killed by ctest or by hand.  The
 * children of the tests here loop until told to stop, and would spin for
 * ever against each other without it. */
pid_t mc_fork(void);

/* A TCP socket listening on 127.0.0.1 at a free port (put in *port). */
int mc_listener(int *port);

/* Start hrcached with args (NULL-terminated, after argv[0]) and the
 * listening socket lfd as fd 3 (LISTEN_FDS=1); stderr is kept. */
pid_t mc_start(int lfd, const char *const *args);

/* A case's start and end: a throwaway site of 512 MiB and a listener
 * (its fd returned, its port in *port); every hrcached killed and the
 * site dropped. */
int mc_case_setup(int *port);
void mc_case_teardown(void);

/* mc_start with its arguments listed (NULL-terminated, at most 15). */
pid_t mc_startl(int lfd, const char *a0, ...);

/* Poll cond(arg) every 5 ms until it holds; the bound (60 s) only stops a
 * test that would wait for ever.  Fails the test with what on timeout. */
void mc_poll(int (*cond)(void *), void *arg, const char *what);

/* Kill every hrcached that mc_start started and is still there, and stop
 * the site's controller if one runs: a failed test leaves nothing behind
 * (a server left running would hold ctest's output pipe open). */
void mc_cleanup(void);

/* Stop it with SIGTERM and return its exit status (128+signal if killed). */
int mc_stop(pid_t pid);

/* A blocking connection to 127.0.0.1:port (asserts it is not refused). */
int mc_connect(int port);

/* Send cmd, then read until the reply ends with `end` (e.g. "END\r\n" or
 * "\r\n"); the reply goes to out (NUL-terminated).  Returns its length, or
 * -1 if the connection closed first. */
ssize_t mc_ask(int fd, const char *cmd, size_t cmdlen, const char *end,
               char *out, size_t cap);

/* mc_ask with a C string and a one-line reply. */
const char *mc_line(int fd, const char *cmd);

/* mc_ask into a buffer of its own (2 MiB; the reply until the next call),
 * failing the test when the connection closes first.  MC_ASK: cmd a C
 * string. */
const char *mc_ask_s(int fd, const char *cmd, size_t len, const char *end);
#define MC_ASK(fd, cmd, end) mc_ask_s(fd, cmd, strlen(cmd), end)

/* The command `verb key 0 0 <n><tail>`, n bytes of c as its data and the
 * text after behind them (pipelined, "" for none): the first reply line. */
const char *mc_store_n(int fd, const char *verb, const char *key, size_t n,
                       char c, const char *tail, const char *after);

/* The stat name in the reply to cmd ("stats\r\n", "stats settings\r\n"):
 * fails the test if the reply has none. */
uint64_t mc_stat(int fd, const char *cmd, const char *name);

/* The site's hrcached heap (it must exist), opened, its root in *root;
 * mc_heap_close closes it and its bank. */
hr_heap *mc_heap_open(pmm_bank **bank, void **root);
void mc_heap_close(hr_heap *h, pmm_bank *bank);

/* Run a program (NULL-terminated argv) with stdout+stderr captured in out;
 * returns its exit status. */
int mc_run(char *out, size_t cap, const char *const *argv);

#endif
