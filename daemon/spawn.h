/* SPDX-License-Identifier: MIT */
/*
 * spawn.h - an actor's image, arguments and environment, and its fork and
 * exec.  Records nothing in the registry: the callers (actor.c, group.c) do.
 *
 * An actor's program is copied, at its registration, into the "__SYS"
 * block __SYS.hr.image.SLOT and its encoded arguments (cwd, argv, envp)
 * into __SYS.hr.args.SLOT; every start executes a read-only memfd copy of
 * the image (kept open for later starts), so replacing or deleting the file
 * on disk changes nothing.  The child gets the stored environment plus
 * HR_SITE, HR_GROUP, HR_ACTOR and HR_RESTARTS (HR_STANDBY=1 for a standby
 * instance, standby.h), its own session and process group, and its own
 * cgroup where the site has them (cgroup.h).  An actor outlives the
 * controller (the next one takes its held sockets back and ends it,
 * leftover.h); a standby gets SIGKILL when the controller dies.
 */
#ifndef HRD_SPAWN_H
#define HRD_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hrd;
struct hr_reg_actor;

/* Store the program behind exe_fd and the encoded arguments for slot;
 * *image_size gets the program's size.  Leftovers of an earlier,
 * unfinished registration of the slot are freed first. */
int hrd_images_store(struct hrd *d, int slot, int exe_fd, const char *args,
                     uint32_t args_len, uint64_t *image_size);
/* Free slot's image and argument blocks and its memfd copy. */
void hrd_images_free(struct hrd *d, int slot);
/* Fork actor slot with stdio (NULL: /dev/null and its log pipe, logpipe.h).
 * Returns its pid, or -errno when it could not fork; *exec_pipe then tells
 * hrd_spawn_wait() whether the exec worked. */
int hrd_spawn(struct hrd *d, int slot, const int *stdio, int *exec_pipe);
/* As hrd_spawn(d, slot, NULL, exec_pipe), for one of several started
 * together: in a cgroup, the child is a copy of the controller, which
 * goes on at once while it executes (hrd_spawn waits for its exec, as
 * its caller does next anyway, and copies nothing). */
int hrd_spawn_beside(struct hrd *d, int slot, int *exec_pipe);
/* Fork the standby instance of actor slot (standby.c): as hrd_spawn(),
 * with HR_STANDBY=1, the next run's HR_RESTARTS, and the read end of its
 * readiness pipe (--ready-fd) in *ready_rd (or -1), for its promotion. */
int hrd_spawn_standby(struct hrd *d, int slot, int *exec_pipe, int *ready_rd);
/* An upgrade's new version (upgrade.c): its memfd, its arguments' block
 * and their length; standby: started as a standby of the same run
 * (HR_STANDBY=1, the current HR_RESTARTS), else as the actor itself. */
struct hrd_trial {
    int image_fd;
    const char *args_block;
    uint32_t args_len;
    int standby;
};
/* Fork actor slot from the trial t instead of its own image: as
 * hrd_spawn_standby() when t->standby, else as hrd_spawn() with /dev/null
 * and its log pipe (readiness goes to ready.c). */
int hrd_spawn_trial(struct hrd *d, int slot, const struct hrd_trial *t,
                    int *exec_pipe, int *ready_rd);
/* pid once actor slot's child executed its program, or -errno of the
 * step of its start that failed (its working directory, its held
 * sockets, the exec...: the child then exits 127, which the controller
 * sees as a failure); d->start_why then says it in words, "cannot change
 * to working directory /x: No such file or directory". */
int hrd_spawn_wait(struct hrd *d, int slot, int pid, int exec_pipe);
/* Why the last start failed with r, in words: d->start_why when a child
 * said which step failed, else the code's message. */
const char *hrd_start_why(const struct hrd *d, int r);
/* Why a start fails when the kernel makes no executable copy of the
 * program (pmm__os_memfd_ro's -EACCES). */
#define HRD_NOEXEC_MEMFD_WHY                                                  \
    "the kernel makes no executable in-memory copy of the program "          \
    "(memfd_create refused: vm.memfd_noexec is 2 in this pid namespace)"
/* The start time of pid in clock ticks since boot (from /proc), or 0. */
uint64_t hrd_start_ticks(pid_t pid);
/* The parent of pid (from /proc/PID/stat), or 0 when unknown. */
pid_t hrd_parent_of(pid_t pid);
/* The process group of pid (from /proc/PID/stat), or 0 when unknown. */
pid_t hrd_pgrp_of(pid_t pid);
/* The --listen specs stored for a direct actor (HR_LISTEN's value) into
 * out: 1, 0 when it has none, or -errno. */
int hrd_spawn_listen_specs(struct hrd *d, int slot, char *out, size_t cap);

/* The size of the program behind exe_fd into *bytes: 0, -EACCES (not a
 * regular executable file), -ENOEXEC (empty), or -errno. */
int hrd_exe_bytes(int exe_fd, uint64_t *bytes);

#endif
