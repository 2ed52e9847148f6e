/* SPDX-License-Identifier: MIT */
/*
 * ctl_tree.c - what the controller knows of process trees, behind the
 * contract of ctl.h: cgroup v2 directories (made, listed, their processes
 * read, signalled and killed, removed), a process's children, and the
 * descriptors of another process (pidfd_getfd).  Keeps no state.
 *
 * A cgroup is named by a directory descriptor and a name under it, so
 * that nothing here follows a path another program could swap.
 */
#define _GNU_SOURCE
#include "ctl.h"
#include "retry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The whole of a small file at dir/name, NUL-terminated: its length. */
static int read_at(int dir, const char *name, char *buf, size_t cap)
{
    int fd = RETRY(openat(dir, name, O_RDONLY | O_CLOEXEC));
    if (fd < 0)
        return fd;
    size_t have = 0;
    int n;
    while (have + 1 < cap && (n = RETRY(read(fd, buf + have, cap - 1 - have))) > 0)
        have += (size_t)n;
    close(fd);
    buf[have] = 0;
    return (int)have;
}

static int write_at(int dir, const char *name, const char *text)
{
    int fd = RETRY(openat(dir, name, O_WRONLY | O_CLOEXEC));
    if (fd < 0)
        return fd;
    int r = RETRY(write(fd, text, strlen(text)));
    close(fd);
    return r < 0 ? r : 0;
}

/* The mount point and root of the cgroup2 mount, from mountinfo (read
 * whole: a container may have many mounts): 0 or -ENOENT. */
static int cgroup2_mount(char *mnt, char *root, size_t cap)
{
    size_t size = 1 << 20;
    char *buf = malloc(size), *save;
    int r = -ENOENT;
    if (!buf)
        return -ENOMEM;
    if (read_at(AT_FDCWD, "/proc/self/mountinfo", buf, size) < 0)
        goto out;
    /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE ... */
    for (char *line = strtok_r(buf, "\n", &save); line && r < 0;
         line = strtok_r(NULL, "\n", &save)) {
        char ro[4096], mp[4096];
        const char *dash = strstr(line, " - ");
        if (dash && strncmp(dash + 3, "cgroup2 ", 8) == 0 &&
            sscanf(line, "%*s %*s %*s %4095s %4095s", ro, mp) == 2 &&
            snprintf(root, cap, "%s", ro) < (int)cap &&
            snprintf(mnt, cap, "%s", mp) < (int)cap)
            r = 0;
    }
out:
    free(buf);
    return r;
}

int pmm__os_cgroup_self(char *path, size_t cap)
{
    char buf[8192], mnt[4096], root[4096], own[4096], *cg = NULL, *save;
    if (read_at(AT_FDCWD, "/proc/self/cgroup", buf, sizeof buf) < 0)
        return -ENOENT;
    for (char *line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        if (strncmp(line, "0::", 3) == 0)
            cg = line + 3;
    if (!cg)
        return -ENOENT; /* no unified hierarchy */
    snprintf(own, sizeof own, "%s", cg);
    int r = cgroup2_mount(mnt, root, sizeof mnt);
    if (r < 0)
        return r;
    size_t k = strcmp(root, "/") == 0 ? 0 : strlen(root);
    if (k && strncmp(own, root, k) != 0)
        return -ENOENT; /* our cgroup is not under that mount */
    const char *rest = own + k;
    if (snprintf(path, cap, "%s%s%s", mnt, *rest == '/' ? "" : "/", rest) >=
        (int)cap)
        return -ENAMETOOLONG;
    size_t len = strlen(path);
    if (len > 1 && path[len - 1] == '/')
        path[len - 1] = 0;
    return 0;
}

int pmm__os_cgroup_make(int dir, const char *name)
{
    int r = ret(mkdirat(dir, name, 0755));
    return r == -EEXIST ? 0 : r;
}

int pmm__os_cgroup_remove(int dir, const char *name)
{
    int r = ret(unlinkat(dir, name, AT_REMOVEDIR));
    return r == -ENOENT ? 0 : r;
}

int pmm__os_cgroup_pids(int dir, const char *name, pid_t *out, int max)
{
    static char buf[65536];
    char file[300];
    snprintf(file, sizeof file, "%s/cgroup.procs", name);
    int r = read_at(dir, file, buf, sizeof buf);
    if (r < 0)
        return r;
    int n = 0;
    for (char *p = buf, *end; *p && n < max; p = end) {
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        if (pid > 0)
            out[n++] = (pid_t)pid;
    }
    return n;
}

int pmm__os_cgroup_signal(int dir, const char *name, int sig)
{
    static pid_t pids[4096];
    int n = pmm__os_cgroup_pids(dir, name, pids, 4096);
    for (int i = 0; i < n; i++)
        kill(pids[i], sig);
    return n < 0 ? n : 0;
}

int pmm__os_cgroup_kill(int dir, const char *name, int use_kill)
{
    char file[300];
    snprintf(file, sizeof file, "%s/cgroup.kill", name);
    if (use_kill) {
        int r = write_at(dir, file, "1");
        if (r != -ENOENT || faccessat(dir, name, F_OK, 0) < 0)
            return r == -ENOENT ? 0 : r;
    }
    /* no cgroup.kill (Linux < 5.14): each process, again while a fork
     * between reading and killing adds one (SIGKILL cannot be caught) */
    for (int round = 0; round < 64; round++) {
        static pid_t pids[4096];
        int n = pmm__os_cgroup_pids(dir, name, pids, 4096);
        if (n <= 0)
            return n == -ENOENT ? 0 : n;
        for (int i = 0; i < n; i++)
            kill(pids[i], SIGKILL);
        usleep(100);
    }
    return -EAGAIN;
}

int pmm__os_cgroup_populated(int dir, const char *name)
{
    char file[300], buf[512];
    snprintf(file, sizeof file, "%s/cgroup.events", name);
    int r = read_at(dir, file, buf, sizeof buf);
    if (r < 0)
        return r;
    const char *p = strstr(buf, "populated ");
    return p && p[10] == '1';
}

int pmm__os_cgroup_children(int dir, char (*names)[64], int max)
{
    int fd = RETRY(openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd < 0)
        return fd;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    struct dirent *e;
    int n = 0;
    while (n < max && (e = readdir(d)))
        if (e->d_type == DT_DIR && e->d_name[0] != '.' &&
            strlen(e->d_name) < 64) /* ours are short: longer ones are not */
            memcpy(names[n++], e->d_name, strlen(e->d_name) + 1);
    closedir(d);
    return n;
}

int pmm__os_cgroup_probe(int dir)
{
    int r = pmm__os_cgroup_make(dir, "probe");
    if (r < 0)
        return r;
    int st = 0, pid = ret(fork());
    if (pid == 0)
        _exit(write_at(dir, "probe/cgroup.procs", "0") == 0 ? 0 : 1);
    if (pid > 0)
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    if (pid < 0)
        r = pid;
    else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        r = -EACCES;
    unlinkat(dir, "probe", AT_REMOVEDIR);
    return r;
}

int pmm__os_cgroup_new(int dir, const char *name)
{
    int r = ret(mkdirat(dir, name, 0755));
    if (r < 0)
        return r;
    int fd = RETRY(openat(dir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd < 0)
        unlinkat(dir, name, AT_REMOVEDIR);
    return fd;
}

int pmm__os_cgroup_open(int dir, const char *name)
{
    return RETRY(openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                       O_CLOEXEC));
}

int pmm__os_cgroup_hold(int cg)
{
    return RETRY(flock(cg, LOCK_EX | LOCK_NB));
}

int pmm__os_cgroup_claimed(int dir, const char *name, unsigned young_s)
{
    struct stat st;
    struct timespec now;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    clock_gettime(CLOCK_REALTIME, &now);
    if (st.st_mtim.tv_sec + (time_t)young_s > now.tv_sec)
        return 1; /* made, or a cgroup made in it, a moment ago */
    int fd = pmm__os_cgroup_open(dir, name);
    if (fd < 0)
        return fd;
    int r = RETRY(flock(fd, LOCK_EX | LOCK_NB));
    close(fd); /* drops the lock if we took it */
    return r == 0 ? 0 : r == -EWOULDBLOCK ? 1 : r;
}

int pmm__os_cgroup_enter(int cg)
{
    return write_at(cg, "cgroup.procs", "0");
}

int pmm__os_children(pid_t pid, pid_t *out, int max)
{
    static char buf[16384];
    char path[320];
    int n = 0;
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%s/children", (int)pid,
                 e->d_name);
        if (read_at(AT_FDCWD, path, buf, sizeof buf) < 0)
            continue;
        for (char *p = buf, *end; *p && n < max; p = end) {
            long k = strtol(p, &end, 10);
            if (end == p)
                break;
            out[n++] = (pid_t)k;
        }
    }
    closedir(d);
    return n;
}

int pmm__os_socket_fds(pid_t pid, int *out, int max)
{
    char path[64], link[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    int dfd = RETRY(open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd < 0)
        return dfd;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return -errno;
    }
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) && n < max) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        ssize_t k = readlinkat(dfd, e->d_name, link, sizeof link - 1);
        if (k > 7 && strncmp(link, "socket:", 7) == 0)
            out[n++] = atoi(e->d_name);
    }
    closedir(d);
    return n;
}

int pmm__os_pidfd_getfd(int pidfd, int fd)
{
    /* the new descriptor is close-on-exec (pidfd_getfd(2)) */
    return ret(syscall(SYS_pidfd_getfd, pidfd, fd, 0));
}
