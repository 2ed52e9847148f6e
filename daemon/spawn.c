/*
 * spawn.c - images, environment, fork and exec of actors (see spawn.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hrd.h"
#include "log.h"
#include "os.h"
#include "pmm/alloc.h"
#include "pmm/free.h"
#include "pmm/map.h"
#include "proto.h"
#include "spawn.h"

static void block_name(char *out, size_t cap, const char *kind, int slot)
{
    snprintf(out, cap, "__SYS.hr.%s.%d", kind, slot);
}

/* Copy the program behind exe_fd into the actor's image block. */
static int store_image(struct hrd *d, int slot, int exe_fd, uint64_t *size)
{
    struct stat st;
    char name[PMM_NAME_MAX];
    void *p;
    if (fstat(exe_fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EACCES;
    if (!(st.st_mode & 0111))
        return -EACCES;
    if (st.st_size == 0)
        return -ENOEXEC;
    block_name(name, sizeof name, "image", slot);
    int r = pmm__alloc_sys(d->bank, name, (size_t)st.st_size, HR_REG_KEY,
                           sizeof HR_REG_KEY, PMM_EXCL, -1, &p, NULL);
    if (r < 0)
        return r;
    if (pmm__os_pread(exe_fd, p, (size_t)st.st_size, 0) < 0) {
        pmm__free_sys(d->bank, name);
        return -EIO;
    }
    /* the controller keeps no block mapped that it does not need: every
     * mapping would be copied by each fork */
    pmm__unmap(d->bank, name);
    *size = (uint64_t)st.st_size;
    return 0;
}

static int store_args(struct hrd *d, int slot, const char *args, uint32_t len)
{
    char name[PMM_NAME_MAX];
    void *p;
    block_name(name, sizeof name, "args", slot);
    int r = pmm__alloc_sys(d->bank, name, len, HR_REG_KEY, sizeof HR_REG_KEY,
                           PMM_EXCL, -1, &p, NULL);
    if (r == 0) {
        memcpy(p, args, len);
        pmm__unmap(d->bank, name);
    }
    return r;
}

int hrd_images_store(struct hrd *d, int slot, int exe_fd, const char *args,
                     uint32_t args_len, uint64_t *image_size)
{
    char old[PMM_NAME_MAX];
    hrd_images_free(d, slot); /* leftovers of a registration cut short */
    int r = store_image(d, slot, exe_fd, image_size);
    if (r == 0 && (r = store_args(d, slot, args, args_len)) < 0) {
        block_name(old, sizeof old, "image", slot);
        pmm__free_sys(d->bank, old);
    }
    return r;
}

void hrd_images_free(struct hrd *d, int slot)
{
    char name[PMM_NAME_MAX];
    block_name(name, sizeof name, "image", slot);
    pmm__free_sys(d->bank, name);
    block_name(name, sizeof name, "args", slot);
    pmm__free_sys(d->bank, name);
    if (d->image_fd[slot] >= 0)
        close(d->image_fd[slot]);
    d->image_fd[slot] = -1;
}

/* A read-only memfd copy of the image, kept for later restarts. */
static int image_fd(struct hrd *d, int slot)
{
    char name[PMM_NAME_MAX], path[64];
    void *p;
    if (d->image_fd[slot] >= 0)
        return d->image_fd[slot];
    struct hr_reg_actor *a = &d->reg->actors[slot];
    block_name(name, sizeof name, "image", slot);
    int r = pmm__alloc_sys(d->bank, name, (size_t)a->image_size, HR_REG_KEY,
                           sizeof HR_REG_KEY, PMM_RETRIEVE, -1, &p, NULL);
    if (r < 0)
        return r;
    int w = memfd_create(a->name, MFD_CLOEXEC);
    if (w < 0)
        return -errno;
    r = pmm__os_pwrite(w, p, (size_t)a->image_size, 0);
    pmm__unmap(d->bank, name);
    if (r < 0) {
        close(w);
        return r;
    }
    /* exec refuses a file open for writing: keep only a read-only view */
    snprintf(path, sizeof path, "/proc/self/fd/%d", w);
    int ro = open(path, O_RDONLY | O_CLOEXEC);
    r = ro < 0 ? -errno : ro;
    close(w);
    if (ro >= 0)
        d->image_fd[slot] = ro;
    return r;
}

uint64_t hrd_start_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long long v = 0;
    /* fields after the command: state is 3rd, starttime 22nd */
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
                           "%*d %*d %*d %*d %*d %*d %llu", &v) != 1)
        v = 0;
    return v;
}

/* Build the environment: the stored one, with the controller's variables. */
static char **actor_env(struct hrd *d, int slot, const struct hr_strings *s,
                        char vars[4][128])
{
    struct hr_reg_actor *a = &d->reg->actors[slot];
    char **env = calloc(s->envc + 5, sizeof *env);
    int n = 0;
    if (!env)
        return NULL;
    for (uint32_t i = 0; i < s->envc; i++) {
        const char *e = s->envp[i];
        if (strncmp(e, "HR_SITE=", 8) && strncmp(e, "HR_GROUP=", 9) &&
            strncmp(e, "HR_ACTOR=", 9) && strncmp(e, "HR_RESTARTS=", 12))
            env[n++] = (char *)e;
    }
    snprintf(vars[0], 128, "HR_GROUP=%d", a->group);
    snprintf(vars[1], 128, "HR_ACTOR=%s", a->name);
    snprintf(vars[2], 128, "HR_RESTARTS=%u", d->reg->groups[a->group].restarts);
    for (int i = 0; i < 3; i++)
        env[n++] = vars[i];
    static char site_var[4200];
    snprintf(site_var, sizeof site_var, "HR_SITE=%s", d->site);
    env[n++] = site_var;
    env[n] = NULL;
    return env;
}

static void child_exec(int fd, const struct hr_strings *s, char **env,
                       const int stdio[3], int errpipe, pid_t controller)
{
    /* an actor does not outlive its controller: a new controller restarts
     * the site, and must find no one left of this generation */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != controller)
        _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    setpgid(0, 0);
    for (int i = 0; i < 3; i++)
        if (stdio[i] != i)
            dup2(stdio[i], i);
    if (chdir(s->cwd) < 0 && chdir("/") < 0)
        _exit(127);
    fcntl(fd, F_SETFD, 0); /* so that "#!" programs can find themselves */
    execveat(fd, "", (char *const *)s->argv, env, AT_EMPTY_PATH);
    int e = errno;
    if (write(errpipe, &e, sizeof e) < 0)
        (void)0;
    _exit(127);
}

int hrd_spawn(struct hrd *d, int slot, const int *stdio_in, int *exec_pipe)
{
    struct hr_reg_actor *a = &d->reg->actors[slot];
    char name[PMM_NAME_MAX], vars[4][128];
    const char *args;
    int r, fd = image_fd(d, slot);
    if (fd < 0)
        return fd;
    block_name(name, sizeof name, "args", slot);
    if ((r = pmm__alloc_sys(d->bank, name, a->args_len, HR_REG_KEY,
                            sizeof HR_REG_KEY, PMM_RETRIEVE, -1,
                            (void **)&args, NULL)) < 0)
        return r;
    struct hr_strings *s = malloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    if (hr__strings_decode(args, a->args_len, 0, s) < 0) {
        free(s);
        return K_EBANK;
    }
    char **env = actor_env(d, slot, s, vars);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int stdio[3] = {devnull, d->console_fd, d->console_fd};
    if (stdio_in)
        memcpy(stdio, stdio_in, sizeof stdio);
    int ep[2];
    if (!env || pipe2(ep, O_CLOEXEC) < 0) {
        r = -errno;
        goto out;
    }
    pid_t self = getpid(), pid = fork();
    if (pid == 0)
        child_exec(fd, s, env, stdio, ep[1], self);
    close(ep[1]);
    pmm__unmap(d->bank, name); /* s points into it until the fork */
    if (pid < 0) {
        r = -errno;
        close(ep[0]);
        goto out;
    }
    *exec_pipe = ep[0];
    r = pid;
out:
    if (devnull >= 0)
        close(devnull);
    free(env);
    free(s);
    return r;
}

int hrd_spawn_wait(int pid, int exec_pipe)
{
    int e = 0;
    ssize_t n;
    do
        n = read(exec_pipe, &e, sizeof e);
    while (n < 0 && errno == EINTR);
    close(exec_pipe);
    return n == (ssize_t)sizeof e ? -e : pid;
}

void hrd_end_leftover(struct hrd *d, const struct hr_reg_actor *a)
{
    int pfd = (int)syscall(SYS_pidfd_open, a->pid, 0);
    if (pfd < 0)
        return; /* gone */
    if (a->start_ticks && hrd_start_ticks(a->pid) == a->start_ticks) {
        syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            hrd_log(d, "actor %s (pid %d) of the previous controller did not "
                       "die", a->name, a->pid);
        else
            hrd_log(d, "ended actor %s (pid %d) of the previous controller",
                    a->name, a->pid);
    }
    close(pfd);
}
