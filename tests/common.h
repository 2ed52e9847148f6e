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
/* Remove the current test site. */
void site_drop(void);
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
/* The descriptors process pid holds open: all of them, and those other
 * than sockets (the controller closes a connection just after its reply,
 * so the caller may still see it). */
void fds_of(int pid, int *files, int *all);
/* Bytes used in the RAM bank. */
uint64_t bank_used(void);

#endif
