/*
 * actors.c - restartable actors and restart groups.
 *
 * Group life, as SPEC 3.1 has it:
 *  - any failure of a member (death by a signal, exit without HR_EXIT_HDL,
 *    akill) kills every other member and starts the group's direct actors
 *    again from their stored images, including those that exited cleanly;
 *    indirect actors wait for their direct actor to hrfexec them again;
 *  - when every member has exited cleanly the group ends: images, argument
 *    blocks and HR_GROUP_KEY blocks are freed, names and number released;
 *  - when nothing runs but some member has not exited cleanly (it was not
 *    re-spawned), the group is blocked, and the log says who holds it up.
 * A group restart kills the members and goes on when the loop has reaped
 * the last of them (A_DYING, G_RESTARTING), so a member slow to die (in an
 * uninterruptible sleep, say) holds up its own group only: the controller
 * keeps serving and restarting other groups.  Ending a group, a site
 * restart and a stop kill and reap at once (SIGKILL, then waitpid): members
 * are our children, so their pids are ours until reaped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hrd.h"
#include "os.h"
#include "pmm/alloc.h"
#include "pmm/crash.h"
#include "pmm/free.h"
#include "pmm/map.h"
#include "proto.h"

void hrd_log(struct hrd *d, const char *fmt, ...)
{
    char buf[1024], when[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
    int n = snprintf(buf, sizeof buf, "%s HR_CTRL: ", when);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    if (d->console_fd >= 0 && write(d->console_fd, buf, (size_t)n) < 0)
        (void)0; /* the log is best effort */
}

static void block_name(char *out, size_t cap, const char *kind, int slot)
{
    snprintf(out, cap, "__SYS.hr.%s.%d", kind, slot);
}

int hrd_find_pid(struct hrd *d, pid_t pid)
{
    for (int i = 0; i < HRD_MAX_ACTORS; i++)
        if (d->reg->actors[i].used && d->reg->actors[i].pid == pid && pid > 0)
            return i;
    return -1;
}

int hrd_find_name(struct hrd *d, int group, const char *name)
{
    for (int i = 0; i < HRD_MAX_ACTORS; i++) {
        struct reg_actor *a = &d->reg->actors[i];
        if (a->used && (group < 0 || a->group == group) &&
            strcmp(a->name, name) == 0)
            return i;
    }
    return -1;
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
    int r = pmm__alloc_sys(d->bank, name, (size_t)st.st_size, HRD_SYS_KEY,
                           sizeof HRD_SYS_KEY, PMM_EXCL, -1, &p, NULL);
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
    int r = pmm__alloc_sys(d->bank, name, len, HRD_SYS_KEY, sizeof HRD_SYS_KEY,
                           PMM_EXCL, -1, &p, NULL);
    if (r == 0) {
        memcpy(p, args, len);
        pmm__unmap(d->bank, name);
    }
    return r;
}

int hrd_register(struct hrd *d, int group, int direct, const char *name,
                 int exe_fd, const char *args, uint32_t args_len, int *slot)
{
    int s = -1;
    uint32_t used = 0;
    for (int i = 0; i < HRD_MAX_ACTORS; i++) {
        used += d->reg->actors[i].used != 0;
        if (!d->reg->actors[i].used && s < 0)
            s = i;
    }
    if (s < 0 || used >= d->max_actors)
        return -ENOSPC; /* hrCtrl.maxActors reached */
    struct reg_actor *a = &d->reg->actors[s];
    char old[PMM_NAME_MAX];
    uint64_t size = 0;
    /* leftovers of a slot whose registration was cut short */
    block_name(old, sizeof old, "image", s);
    pmm__free_sys(d->bank, old);
    block_name(old, sizeof old, "args", s);
    pmm__free_sys(d->bank, old);
    int r = store_image(d, s, exe_fd, &size);
    if (r == 0 && (r = store_args(d, s, args, args_len)) < 0) {
        block_name(old, sizeof old, "image", s);
        pmm__free_sys(d->bank, old);
    }
    if (r < 0)
        return r;
    memset(a, 0, sizeof *a);
    a->group = group;
    a->direct = (uint32_t)direct;
    a->state = A_STOPPED;
    snprintf(a->name, sizeof a->name, "%s", name);
    a->image_size = size;
    a->args_len = args_len;
    struct reg_group *g = &d->reg->groups[group];
    if (!g->used) {
        memset(g, 0, sizeof *g);
        g->state = G_RUNNING;
        g->last_status = -1;
        g->started_ns = pmm__os_now_ns();
        g->used = 1;
    }
    /* registration is complete once `used` is set */
    __atomic_store_n(&a->used, 1, __ATOMIC_RELEASE);
    *slot = s;
    return 0;
}

/* A read-only memfd copy of the image, kept for later restarts. */
static int image_fd(struct hrd *d, int slot)
{
    char name[PMM_NAME_MAX], path[64];
    void *p;
    if (d->image_fd[slot] >= 0)
        return d->image_fd[slot];
    struct reg_actor *a = &d->reg->actors[slot];
    block_name(name, sizeof name, "image", slot);
    int r = pmm__alloc_sys(d->bank, name, (size_t)a->image_size, HRD_SYS_KEY,
                           sizeof HRD_SYS_KEY, PMM_RETRIEVE, -1, &p, NULL);
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

/* The start time of pid in clock ticks since boot (from /proc), or 0. */
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
    struct reg_actor *a = &d->reg->actors[slot];
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

/* Fork one actor, with stdio (NULL: /dev/null and the console); *exec_pipe
 * reports, at await_exec(), whether its exec worked.  Returns its pid. */
static int spawn_actor(struct hrd *d, int slot, const int *stdio_in,
                       int *exec_pipe)
{
    struct reg_actor *a = &d->reg->actors[slot];
    char name[PMM_NAME_MAX], vars[4][128];
    const char *args;
    int r, fd = image_fd(d, slot);
    if (fd < 0)
        return fd;
    block_name(name, sizeof name, "args", slot);
    if ((r = pmm__alloc_sys(d->bank, name, a->args_len, HRD_SYS_KEY,
                            sizeof HRD_SYS_KEY, PMM_RETRIEVE, -1,
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
    a->pid = pid;
    a->state = A_RUNNING;
    a->clean_mark = 0;
    a->runs++;
    a->started_ns = pmm__os_now_ns();
    a->start_ticks = hrd_start_ticks(pid); /* set at fork, kept by exec */
    r = pid;
out:
    if (devnull >= 0)
        close(devnull);
    free(env);
    free(s);
    return r;
}

/* The exec of a spawned actor: its pid, or -errno (it then exits 127, which
 * the controller sees as a failure). */
static int await_exec(int pid, int exec_pipe)
{
    int e = 0;
    ssize_t n;
    do
        n = read(exec_pipe, &e, sizeof e);
    while (n < 0 && errno == EINTR);
    close(exec_pipe);
    return n == (ssize_t)sizeof e ? -e : pid;
}

static int start_with(struct hrd *d, int slot, const int *stdio_in)
{
    int pipe_fd, pid = spawn_actor(d, slot, stdio_in, &pipe_fd);
    return pid < 0 ? pid : await_exec(pid, pipe_fd);
}

int hrd_start_actor(struct hrd *d, int slot)
{
    return start_with(d, slot, NULL);
}

int hrd_start_indirect(struct hrd *d, int slot, const int stdio[3])
{
    return start_with(d, slot, stdio);
}

/* Stop or site restart: kill every running actor and reap each, all
 * signalled first so that they die together.  One that the kernel keeps
 * alive (an uninterruptible sleep) past HRD_KILL_WAIT_S is logged and left
 * with its SIGKILL pending: the controller stops all the same, and the
 * next one ends it (pidfd and start time) if it is still there. */
void hrd_kill_all(struct hrd *d)
{
    int left = 0;
    for (int i = 0; i < HRD_MAX_ACTORS; i++) {
        struct reg_actor *a = &d->reg->actors[i];
        if (a->used && a->pid > 0) {
            kill(a->pid, SIGKILL);
            left++;
        }
    }
    uint64_t until = pmm__os_now_ns() + HRD_KILL_WAIT_S * 1000000000ull;
    while (left > 0) {
        int now_left = 0;
        for (int i = 0; i < HRD_MAX_ACTORS; i++) {
            struct reg_actor *a = &d->reg->actors[i];
            if (!a->used || a->pid <= 0)
                continue;
            if (waitpid(a->pid, NULL, WNOHANG) != 0) { /* reaped, or not ours */
                a->pid = 0;
                a->state = A_STOPPED;
                a->clean_mark = 0;
            } else {
                now_left++;
            }
        }
        left = now_left;
        if (left > 0 && pmm__os_now_ns() > until)
            break;
        if (left > 0)
            usleep(1000);
    }
    for (int i = 0; i < HRD_MAX_ACTORS && left > 0; i++) {
        struct reg_actor *a = &d->reg->actors[i];
        if (a->used && a->pid > 0)
            hrd_log(d, "actor %s (pid %d) has not died %d s after SIGKILL: "
                       "left to the kernel", a->name, a->pid, HRD_KILL_WAIT_S);
    }
}

void hrd_forget_actor(struct hrd *d, int slot)
{
    char name[PMM_NAME_MAX];
    block_name(name, sizeof name, "image", slot);
    pmm__free_sys(d->bank, name);
    block_name(name, sizeof name, "args", slot);
    pmm__free_sys(d->bank, name);
    if (d->image_fd[slot] >= 0)
        close(d->image_fd[slot]);
    d->image_fd[slot] = -1;
    memset(&d->reg->actors[slot], 0, sizeof d->reg->actors[slot]);
}

/* Mark group restarting or ending, then kill its running members, who
 * are dying until the loop reaps them; the others are stopped (even those
 * that had exited cleanly: a restart runs them again).  Returns how many
 * are dying. */
static int kill_members(struct hrd *d, int group, uint32_t state)
{
    int dying = 0;
    d->reg->groups[group].state = state; /* first: a new controller sees it */
    for (int i = 0; i < HRD_MAX_ACTORS; i++) {
        struct reg_actor *a = &d->reg->actors[i];
        if (!a->used || a->group != group)
            continue;
        if (a->pid > 0) {
            kill(a->pid, SIGKILL);
            a->state = A_DYING;
            dying++;
        } else {
            a->state = A_STOPPED;
        }
        a->clean_mark = 0;
    }
    return dying;
}

/* The second half of a group's end, once no member is left; then the
 * requests that asked for it are answered. */
static void end_finish(struct hrd *d, int group)
{
    size_t n = 0;
    const char *why = d->end_why[group] ? d->end_why[group] : "ended";
    pmm__crash("hrd.group_end"); /* marked, nothing freed yet */
    for (int i = 0; i < HRD_MAX_ACTORS; i++) {
        struct reg_actor *a = &d->reg->actors[i];
        if (a->used && a->group == group)
            hrd_forget_actor(d, i);
    }
    pmm__free_group(d->bank, group, &n);
    memset(&d->reg->groups[group], 0, sizeof d->reg->groups[group]);
    d->end_why[group] = NULL;
    hrd_log(d, "group %d %s; %zu group block%s freed", group, why, n,
            n == 1 ? "" : "s");
    hrd_answer_waiting(d, group);
}

/* A group's end is marked in the registry before anything is freed: a
 * controller that dies half-way leaves a group marked G_ENDING, which the
 * next controller ends instead of starting it again.  Members still
 * running are killed; the end is finished when the loop has reaped the
 * last of them, so that one slow to die holds up nothing else. */
int hrd_end_group(struct hrd *d, int group, const char *why)
{
    d->end_why[group] = why;
    if (kill_members(d, group, G_ENDING))
        return 0;
    end_finish(d, group);
    return 1;
}

int hrd_kill_group(struct hrd *d, int group)
{
    if (group < 0 || group >= HRD_MAX_GROUPS || !d->reg->groups[group].used)
        return 1; /* an unused group is not an error */
    if (d->reg->groups[group].state == G_ENDING)
        return 0; /* already on its way */
    return hrd_end_group(d, group, "killed"); /* even one over a lowered maxGroups */
}


/* Badness decays by max_badness units per interval: it drains fully in
 * one interval.  Returns the new badness, x 1000, after adding `add`. */
static uint64_t bump(struct hrd *d, uint64_t *milli, uint64_t *when, int add)
{
    uint64_t now = pmm__os_now_ns();
    if (*when && now > *when) {
        double drained = (double)(now - *when) / 1e9 * 1000.0 *
                         d->max_badness / (d->interval_s ? d->interval_s : 1);
        *milli = drained >= (double)*milli ? 0 : *milli - (uint64_t)drained;
    }
    *when = now;
    *milli += (uint64_t)add * 1000;
    return *milli;
}

/* The second half of a group restart, once no member is left. */
static void restart_finish(struct hrd *d, int group)
{
    struct reg_group *g = &d->reg->groups[group];
    pmm__crash("hrd.group_restart"); /* members gone, none started yet */
    if (bump(d, &g->badness_milli, &g->badness_ns, 1) > d->max_badness * 1000ull) {
        char why[128];
        snprintf(why, sizeof why, "group %d failed more than %u times in %us",
                 group, d->max_badness, d->interval_s);
        hrd_site_restart(d, why);
        return;
    }
    g->restarts++;
    d->reg->group_restarts++;
    g->state = G_RUNNING;
    /* fork every direct actor first, then see their execs through: the
     * members start together rather than one after the other */
    static int pid[HRD_MAX_ACTORS], pipe_fd[HRD_MAX_ACTORS];
    for (int i = 0; i < HRD_MAX_ACTORS; i++) {
        struct reg_actor *a = &d->reg->actors[i];
        pid[i] = 0;
        /* one that an arun started meanwhile runs already */
        if (a->used && a->group == group && a->direct && a->pid <= 0)
            pid[i] = spawn_actor(d, i, NULL, &pipe_fd[i]);
    }
    for (int i = 0; i < HRD_MAX_ACTORS; i++) {
        int r = pid[i] > 0 ? await_exec(pid[i], pipe_fd[i]) : pid[i];
        if (r < 0)
            hrd_log(d, "group %d: cannot restart %s: %s", group,
                    d->reg->actors[i].name, pmm_strerror(r));
    }
}

/* A failure: every member is killed, and the group starts again when the
 * loop has reaped the last of them (at once if none runs). */
static void restart_group(struct hrd *d, int group)
{
    if (!kill_members(d, group, G_RESTARTING))
        restart_finish(d, group);
}

static int members_dying(struct hrd *d, int group)
{
    int n = 0;
    for (int i = 0; i < HRD_MAX_ACTORS; i++)
        n += d->reg->actors[i].used && d->reg->actors[i].group == group &&
             d->reg->actors[i].state == A_DYING;
    return n;
}

/* Nothing runs in the group any more: it ended, or it is blocked. */
static void settle(struct hrd *d, int group)
{
    char names[512] = "";
    size_t at = 0;
    int running = 0, unclean = 0;
    for (int i = 0; i < HRD_MAX_ACTORS; i++) {
        struct reg_actor *a = &d->reg->actors[i];
        if (!a->used || a->group != group)
            continue;
        running += a->state == A_RUNNING;
        if (a->state != A_CLEAN) {
            unclean++;
            at += (size_t)snprintf(names + at, at < sizeof names ? sizeof names - at : 0,
                                   "%s%s", unclean > 1 ? " " : "", a->name);
            if (at >= sizeof names)
                at = sizeof names - 1;
        }
    }
    if (running)
        return;
    if (!unclean) {
        hrd_end_group(d, group, "ended: every member exited cleanly");
        return;
    }
    if (d->reg->groups[group].state != G_BLOCKED) {
        d->reg->groups[group].state = G_BLOCKED;
        hrd_log(d, "group %d blocked, some members have not terminated: %s",
                group, names);
    }
}

void hrd_child_exited(struct hrd *d, pid_t pid, int status)
{
    int slot = hrd_find_pid(d, pid);
    if (slot < 0)
        return; /* not an actor: a start-up helper, or already handled */
    struct reg_actor *a = &d->reg->actors[slot];
    struct reg_group *g = &d->reg->groups[a->group];
    int clean = a->clean_mark;
    a->pid = 0;
    if (a->state == A_DYING || g->state == G_RESTARTING || g->state == G_ENDING) {
        /* killed for a group restart or end (or, in one, not killed yet) */
        a->state = A_STOPPED;
        if (members_dying(d, a->group))
            return;
        if (g->state == G_RESTARTING)
            restart_finish(d, a->group);
        else if (g->state == G_ENDING)
            end_finish(d, a->group);
        return;
    }
    if (clean) {
        a->state = A_CLEAN;
        settle(d, a->group);
        return;
    }
    a->state = A_STOPPED;
    g->last_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    g->last_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    g->last_fail_ns = pmm__os_now_ns();
    if (WIFSIGNALED(status))
        hrd_log(d, "actor %s (pid %d) of group %d killed by signal %d: "
                   "restarting the group", a->name, (int)pid, a->group,
                g->last_signal);
    else
        hrd_log(d, "actor %s (pid %d) of group %d exited with status %d "
                   "without HR_EXIT_HDL: restarting the group", a->name,
                (int)pid, a->group, g->last_status);
    restart_group(d, a->group);
}

/* Text appended to a fixed buffer; what does not fit is counted, so that
 * the caller sees it overflowed. */
struct out {
    char *buf;
    size_t cap, at;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + (o->at < o->cap ? o->at : o->cap),
                      o->at < o->cap ? o->cap - o->at : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->at += (size_t)n;
}

static const char *actor_state(uint32_t s)
{
    return s == A_RUNNING ? "running" : s == A_CLEAN ? "exited"
                                     : s == A_DYING ? "dying" : "stopped";
}

static const char *group_state(uint32_t s)
{
    return s == G_BLOCKED ? "blocked" : s == G_RESTARTING ? "restarting"
                                      : s == G_ENDING ? "ending" : "running";
}

int hrd_ps_json(struct hrd *d, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
    uint64_t now = pmm__os_now_ns();
    put(&o, "{\"controller_pid\": %d, \"groups\": [", (int)getpid());
    int first = 1;
    for (int g = 0; g < HRD_MAX_GROUPS; g++) {
        struct reg_group *G = &d->reg->groups[g];
        if (!G->used)
            continue;
        put(&o, "%s{\"id\": %d, \"state\": \"%s\", \"restarts\": %u, "
            "\"last_failure\": ", first ? "" : ", ", g,
            group_state(G->state), G->restarts);
        if (G->last_fail_ns)
            put(&o, "{\"signal\": %d, \"status\": %d, \"when_ns\": %llu}",
                G->last_signal, G->last_status,
                (unsigned long long)G->last_fail_ns);
        else
            put(&o, "null");
        put(&o, ", \"actors\": [");
        int fa = 1;
        for (int i = 0; i < HRD_MAX_ACTORS; i++) {
            struct reg_actor *a = &d->reg->actors[i];
            if (!a->used || a->group != g)
                continue;
            put(&o, "%s{\"name\": \"%s\", \"pid\": %d, \"direct\": %s, "
                "\"state\": \"%s\", \"uptime_s\": %.3f, \"runs\": %u}",
                fa ? "" : ", ", a->name, a->pid, a->direct ? "true" : "false",
                actor_state(a->state),
                a->state == A_RUNNING ? (double)(now - a->started_ns) / 1e9 : 0.0,
                a->runs);
            fa = 0;
        }
        put(&o, "]}");
        first = 0;
    }
    put(&o, "]}");
    return o.at < cap ? (int)o.at : -E2BIG;
}

/* The same as hrd_ps_json, as a table for people. */
int hrd_ps_text(struct hrd *d, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0};
    uint64_t now = pmm__os_now_ns();
    put(&o, "%-6s %-10s %8s  %s\n", "GROUP", "STATE", "RESTARTS", "LAST FAILURE");
    for (int g = 0; g < HRD_MAX_GROUPS; g++) {
        struct reg_group *G = &d->reg->groups[g];
        if (!G->used)
            continue;
        char fail[96] = "-";
        if (G->last_fail_ns) {
            double ago = (double)(now - G->last_fail_ns) / 1e9;
            if (G->last_signal)
                snprintf(fail, sizeof fail, "signal %d, %.1fs ago", G->last_signal, ago);
            else
                snprintf(fail, sizeof fail, "exit %d, %.1fs ago", G->last_status, ago);
        }
        put(&o, "%-6d %-10s %8u  %s\n", g, group_state(G->state),
            G->restarts, fail);
        for (int i = 0; i < HRD_MAX_ACTORS; i++) {
            struct reg_actor *a = &d->reg->actors[i];
            if (!a->used || a->group != g)
                continue;
            put(&o, "    %-24s pid %-8d %-8s %-8s up %.1fs\n", a->name, a->pid,
                a->direct ? "direct" : "indirect", actor_state(a->state),
                a->state == A_RUNNING ? (double)(now - a->started_ns) / 1e9 : 0.0);
        }
    }
    return o.at < cap ? (int)o.at : -E2BIG;
}

/* A direct actor from an encoded argument list (a request, or the start-up
 * file); the system names it after its program. */
int hrd_arun_payload(struct hrd *d, int group, int exe_fd, const char *p,
                     uint32_t len)
{
    struct hr_strings *s = malloc(sizeof *s);
    char name[PMM_NAME_MAX], clean[32];
    int slot, r;
    if (!s)
        return -ENOMEM;
    if (hr__strings_decode(p, len, 0, s) < 0) {
        free(s);
        return -EBADMSG;
    }
    const char *base = strrchr(s->argv[0], '/');
    base = base ? base + 1 : s->argv[0];
    size_t k = 0;
    for (; *base && k < sizeof clean - 1; base++)
        clean[k++] = hrd_name_ok((char[]){*base, 0}) ? *base : '_';
    clean[k] = 0;
    free(s);
    for (int n = 0;; n++) {
        snprintf(name, sizeof name, n ? "%s.%d" : "%s", k ? clean : "actor", n);
        if (hrd_find_name(d, -1, name) < 0)
            break;
    }
    if ((r = hrd_register(d, group, 1, name, exe_fd, p, len, &slot)) < 0)
        return r;
    r = hrd_start_actor(d, slot);
    if (r < 0) { /* never ran: unregister, as if it had not been asked */
        int others = 0;
        hrd_forget_actor(d, slot);
        for (int i = 0; i < HRD_MAX_ACTORS; i++)
            others += d->reg->actors[i].used && d->reg->actors[i].group == group;
        if (!others)
            memset(&d->reg->groups[group], 0, sizeof d->reg->groups[group]);
        return r;
    }
    hrd_log(d, "actor %s started in group %d, pid %d", name, group, r);
    return r;
}

int hrd_arun(struct hrd *d, int group, const char *path, char *const argv[],
             char *const envp[], const char *cwd)
{
    char *buf = malloc(HR_MSG_MAX);
    int r;
    if (!buf)
        return -ENOMEM;
    int len = hr__strings_encode(buf, HR_MSG_MAX, NULL, cwd, argv, envp);
    int fd = len < 0 ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    if (len < 0)
        r = len;
    else if (fd < 0)
        r = -errno;
    else
        r = hrd_arun_payload(d, group, fd, buf, (uint32_t)len);
    if (fd >= 0)
        close(fd);
    free(buf);
    return r;
}

/* Every actor stops; a fresh controller (this program, executed again)
 * runs the start-up file without its arun lines and restarts every group.
 * A site that keeps restarting stops instead, marked failed. */
void hrd_site_restart(struct hrd *d, const char *why)
{
    struct registry *g = d->reg;
    hrd_log(d, "site restart: %s", why);
    hrd_kill_all(d);
    pmm__crash("hrd.site_restart"); /* every actor gone, no new controller */
    if (bump(d, &g->badness_milli, &g->badness_ns, 1) > d->max_badness * 1000ull) {
        g->failed = 1;
        snprintf(g->failure, sizeof g->failure,
                 "more than %u site restarts in %us; last: %s", d->max_badness,
                 d->interval_s, why);
        hrd_log(d, "site failed, stopping: %s (hr site start tries again)",
                g->failure);
        d->stopping = 1;
        return;
    }
    g->site_restarts++;
    for (int i = 0; i < HRD_MAX_GROUPS; i++)
        g->groups[i].badness_milli = 0;
    d->exec_pending = 1;
}

int hrd_info_json(struct hrd *d, char *buf, size_t cap)
{
    struct registry *g = d->reg;
    int groups = 0;
    for (int i = 0; i < HRD_MAX_GROUPS; i++)
        groups += g->groups[i].used != 0;
    int n = snprintf(buf, cap,
                     "{\"state\": \"running\", \"controller_pid\": %d, "
                     "\"generation\": %u, \"group_restarts\": %u, "
                     "\"site_restarts\": %u, \"groups\": %d, "
                     "\"max_badness\": %u, \"interval\": %u, "
                     "\"max_actors\": %u, \"max_groups\": %d}",
                     (int)getpid(), g->generation, g->group_restarts,
                     g->site_restarts, groups, d->max_badness, d->interval_s,
                     d->max_actors, d->max_groups);
    return n < 0 || (size_t)n >= cap ? -E2BIG : n;
}
