/*
 * ctl_cmd.c - the controller's commands: site start|stop, arun, akill, ps,
 * log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "hr.h"
#include "os.h"
#include "pmm/create.h"
#include "pmm/site.h"
#include "pmm/view.h"

extern char **environ;

static const char *ctl_err(int r)
{
    if (r == -ECONNREFUSED)
        return "no controller runs in this site (hr site start)";
    if (r == -EAGAIN)
        return "the controller did not answer within 30 s";
    if (r == -EACCES || r == -EPERM)
        return "permission denied: only root and the site's owner may control it";
    if (r == -ERANGE)
        return "group out of range for this site (hrCtrl.maxGroups, see hr site info)";
    if (r == -ENOSPC)
        return "the site's registry is full (hrCtrl.maxActors actors registered)";
    if (r == -EBUSY)
        return "that group is ending: its members are still dying";
    return pmm_strerror(r);
}

__attribute__((noreturn)) static void die_ctl(const char *action, int r)
{
    hr_die(HR_EXIT_FAIL, "%s: %s", action, ctl_err(r));
}

/* The hrd next to this hr, else the one on $PATH. */
static void hrd_path(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            snprintf(out, cap, "%s/hrd", self);
            if (access(out, X_OK) == 0)
                return;
        }
    }
    snprintf(out, cap, "hrd");
}

int hr_site_start(const struct hr_opts *o)
{
    char dir[4096], hrd[PATH_MAX + 8], fdarg[16];
    int ready[2], err[2];
    hr_site_dir(o, dir, sizeof dir, "site start");
    int pid = hr_ping(dir);
    if (pid > 0)
        hr_die(HR_EXIT_FAIL, "site start: a controller already runs in %s "
                             "(pid %d)", dir, pid);
    hrd_path(hrd, sizeof hrd);
    if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
        hr_die(HR_EXIT_FAIL, "site start: pipe: %s", strerror(errno));
    pid_t child = fork();
    if (child == 0) {
        setsid();
        if (fork() != 0)
            _exit(0);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(err[1], 2);
        fcntl(ready[1], F_SETFD, 0);
        snprintf(fdarg, sizeof fdarg, "%d", ready[1]);
        execl(hrd, "hrd", "--site", dir, "--ready-fd", fdarg, (char *)NULL);
        execlp("hrd", "hrd", "--site", dir, "--ready-fd", fdarg, (char *)NULL);
        fprintf(stderr, "cannot run hrd: %s", strerror(errno));
        _exit(127);
    }
    close(ready[1]);
    close(err[1]);
    waitpid(child, NULL, 0);
    char c = 0, why[512] = "";
    ssize_t n = read(ready[0], &c, 1);
    if (n != 1) {
        ssize_t k = read(err[0], why, sizeof why - 1);
        why[k > 0 ? k : 0] = 0;
        why[strcspn(why, "\n")] = 0;
        hr_die(HR_EXIT_FAIL, "site start: the controller did not start: %s",
               why[0] ? why : "no reason given");
    }
    pid = hr_ping(dir);
    if (o->json)
        printf("{\"site\": \"%s\", \"controller_pid\": %d}\n", dir, pid);
    else
        printf("site %s started (controller pid %d)\n", dir, pid);
    return HR_EXIT_OK;
}

/* Ask the controller pid of dir to stop, and wait (10 s) until it has. */
static void stop_controller(const char *dir, int pid, const char *action)
{
    int r = hr_stop(dir);
    if (r < 0)
        die_ctl(action, r);
    for (int i = 0; i < 1000 && kill(pid, 0) == 0; i++)
        usleep(10000);
    if (kill(pid, 0) == 0)
        hr_die(HR_EXIT_FAIL, "%s: controller %d did not stop in 10s", action, pid);
}

int hr_site_stop(const struct hr_opts *o)
{
    char dir[4096];
    hr_site_dir(o, dir, sizeof dir, "site stop");
    int pid = hr_ping(dir);
    if (pid < 0)
        die_ctl("site stop", pid);
    stop_controller(dir, pid, "site stop");
    if (!o->json)
        printf("site %s stopped; persistent memory kept\n", dir);
    else
        printf("{\"stopped\": true}\n");
    return HR_EXIT_OK;
}

static const char arun_usage[] =
    "usage: hr arun [-g GROUP] [--listen SPEC]... [--] PROGRAM [ARGS...]\n"
    "Start PROGRAM as a direct restartable actor in GROUP (default 0).  Its\n"
    "image, arguments, environment and working directory are stored and\n"
    "replayed at every restart of the group.  Prints the actor's pid.\n"
    "--listen tcp:HOST:PORT or unix:PATH: the controller listens there and\n"
    "holds the socket for the actor, across its restarts, site restarts and\n"
    "(made again) its own crash; every start gets the sockets as fds 3, 4...\n"
    "with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES (sd_listen_fds(3)), so\n"
    "clients wait in the backlog while the actor restarts.  The specs are\n"
    "stored with the environment as HR_LISTEN=SPEC[,SPEC...].\n";

/* environ with HR_LISTEN=specs in place of any HR_LISTEN it has. */
static char **with_listen(const char *specs)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    if (!env)
        hr_die(HR_EXIT_FAIL, "arun: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "HR_LISTEN=", 10) != 0)
            env[k++] = environ[i];
    static char var[1100];
    snprintf(var, sizeof var, "HR_LISTEN=%s", specs);
    env[k++] = var;
    env[k] = NULL;
    return env;
}

static void add_listen(char *specs, size_t cap, const char *spec)
{
    if ((strncmp(spec, "tcp:", 4) != 0 || !strchr(spec + 4, ':')) &&
        (strncmp(spec, "unix:", 5) != 0 || !spec[5]))
        hr_die(HR_EXIT_USAGE, "arun: bad --listen '%s' (tcp:HOST:PORT or "
               "unix:PATH)", spec);
    if (strchr(spec, ','))
        hr_die(HR_EXIT_USAGE, "arun: bad --listen '%s': no commas", spec);
    size_t len = strlen(specs);
    if (len + strlen(spec) + 2 > cap)
        hr_die(HR_EXIT_USAGE, "arun: too many --listen sockets");
    snprintf(specs + len, cap - len, "%s%s", len ? "," : "", spec);
}

int hr_cmd_arun(int argc, char **argv, const struct hr_opts *o)
{
    int i = 0, group = 0;
    char specs[1024] = "";
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            add_listen(specs, sizeof specs, argv[++i]);
        } else if (strcmp(argv[i], "-g") == 0 && i + 1 < argc) {
            char *end;
            long g = strtol(argv[++i], &end, 10);
            if (*end || g < 0 || g > 255)
                hr_die(HR_EXIT_USAGE, "arun: bad group '%s' (0 to 255)", argv[i]);
            group = (int)g;
        } else if (hr_is_help(argv[i])) {
            fputs(arun_usage, stdout);
            return HR_EXIT_OK;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (argv[i][0] == '-') {
            hr_die(HR_EXIT_USAGE, "arun: unknown option '%s'", argv[i]);
        } else {
            break;
        }
    }
    if (i >= argc) {
        fputs(arun_usage, stderr);
        return HR_EXIT_USAGE;
    }
    char path[PATH_MAX];
    const char *prog = argv[i];
    if (hr_find_program(prog, path, sizeof path) < 0)
        hr_die(HR_EXIT_FAIL, "arun: %s: not found on $PATH", prog);
    int r = hr_arun(o->site, group, path, argv + i,
                    specs[0] ? with_listen(specs) : environ);
    if (r < 0) {
        char what[PATH_MAX + 16];
        snprintf(what, sizeof what, "arun: %s", path);
        if (r == -ENOENT || r == -EACCES || r == -ENOEXEC)
            hr_die(HR_EXIT_FAIL, "%s: %s", what,
                   r == -ENOENT ? "no such file" :
                   r == -EACCES ? "not an executable file" : "cannot be executed");
        die_ctl(what, r);
    }
    if (o->json)
        printf("{\"pid\": %d, \"group\": %d}\n", r, group);
    else
        printf("%d\n", r);
    return HR_EXIT_OK;
}

static const char akill_usage[] =
    "usage: hr akill PID       kill an actor: its group restarts\n"
    "       hr akill -g GROUP  kill a group for good; its images and\n"
    "                          HR_GROUP_KEY blocks are freed; returns once\n"
    "                          every member is gone\n";

int hr_cmd_akill(int argc, char **argv, const struct hr_opts *o)
{
    char *end;
    if (argc == 1 && hr_is_help(argv[0])) {
        fputs(akill_usage, stdout);
        return HR_EXIT_OK;
    }
    int group = argc == 2 && strcmp(argv[0], "-g") == 0;
    if (argc != (group ? 2 : 1)) {
        fputs(akill_usage, stderr);
        return HR_EXIT_USAGE;
    }
    long v = strtol(argv[group], &end, 10);
    if (*end || v < 0 || v > INT_MAX || (group && v > 255) || (!group && v == 0))
        hr_die(HR_EXIT_USAGE, "akill: bad %s '%s'", group ? "group" : "pid",
               argv[group]);
    int r = group ? hr_kill_group(o->site, (int)v) : hr_akill(o->site, (pid_t)v);
    if (r == -ESRCH)
        hr_die(HR_EXIT_FAIL, "akill: %ld is not an actor of this site", v);
    if (r < 0)
        die_ctl("akill", r);
    return HR_EXIT_OK;
}

int hr_cmd_ps(int argc, char **argv, const struct hr_opts *go)
{
    struct hr_opts o = *go;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            o.json = 1;
        } else if (strcmp(argv[i], "--site") == 0 && i + 1 < argc) {
            o.site = argv[++i];
        } else if (hr_is_help(argv[i])) {
            puts("usage: hr ps [--json]\nGroups (state, restarts, last failure) "
                 "and their actors (name, pid,\ndirect or indirect, state, "
                 "uptime).  Group states: running, restarting or ending\n"
                 "(waiting for its killed members to die), blocked.  Actor states: running,\n"
                 "dying (killed, not yet gone), exited (cleanly), stopped.");
            return HR_EXIT_OK;
        } else {
            hr_die(HR_EXIT_USAGE, "ps: unexpected argument '%s'", argv[i]);
        }
    }
    size_t cap = 256 * 1024;
    char *buf = malloc(cap);
    int r = buf ? hr_ps(o.site, !o.json, buf, cap) : -ENOMEM;
    if (r < 0)
        die_ctl("ps", r);
    fputs(buf, stdout);
    if (o.json)
        putchar('\n');
    free(buf);
    return HR_EXIT_OK;
}

int hr_cmd_log(int argc, char **argv, const struct hr_opts *o)
{
    int follow = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-f") == 0)
            follow = 1;
        else if (hr_is_help(argv[i])) {
            puts("usage: hr log [-f]\nThe site's console log: the controller's "
                 "messages and the output of direct actors; -f follows it.");
            return HR_EXIT_OK;
        } else
            hr_die(HR_EXIT_USAGE, "log: unknown argument '%s'", argv[i]);
    }
    char dir[4096], path[4200], buf[65536];
    hr_site_dir(o, dir, sizeof dir, "log");
    snprintf(path, sizeof path, "%s/console.log", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        hr_die(HR_EXIT_FAIL, "log: %s: %s", path, strerror(errno));
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            fwrite(buf, 1, (size_t)n, stdout);
            continue;
        }
        if (!follow)
            break;
        fflush(stdout);
        poll(NULL, 0, 200);
    }
    close(fd);
    return HR_EXIT_OK;
}

/* The running controller's generation, or -1 when none answers. */
static int generation_of(const char *site)
{
    hr_site_state st;
    return hr_status(site, &st) < 0 ? -1 : (int)st.generation;
}

int hr_site_restart_cmd(const struct hr_opts *o)
{
    char dir[4096];
    hr_site_dir(o, dir, sizeof dir, "site restart");
    int gen = generation_of(dir);
    if (gen < 0)
        die_ctl("site restart", hr_ping(dir));
    int r = hr_site_restart(dir);
    if (r < 0)
        die_ctl("site restart", r);
    for (int i = 0; i < 1000; i++) {
        int g = generation_of(dir);
        if (g > gen) {
            if (o->json)
                printf("{\"generation\": %d}\n", g);
            else
                printf("site %s restarted (controller generation %d)\n", dir, g);
            return HR_EXIT_OK;
        }
        hr_site_state st;
        if (g < 0 && hr_site_status(dir, &st, NULL, 0) == 0 &&
            st.state == HR_SITE_FAILED)
            hr_die(HR_EXIT_FAIL, "site restart: the site failed: %s", st.failure);
        usleep(10000);
    }
    hr_die(HR_EXIT_FAIL, "site restart: no fresh controller after 10s (hr log)");
}

/* From the running controller, else from the registry it left. */
int hr_show_status(const char *dir, const struct hr_opts *o)
{
    static const char *const names[] = {"stopped", "running", "failed"};
    hr_site_state st;
    char why[256];
    int r = hr_status(dir, &st);
    if (r < 0 && r != -ECONNREFUSED && r != -ENOENT)
        die_ctl("site info", r); /* a controller runs but does not say */
    if (r < 0) {
        r = hr_site_status(dir, &st, why, sizeof why);
        if (r == K_EBANK)
            fprintf(stderr, "hr: site info: registry refused: %s (hr site "
                            "cold wipes it)\n", why);
        else if (r < 0)
            hr_die_err("site info: registry", r);
    }
    const char *state = names[st.state >= 0 && st.state <= 2 ? st.state : 0];
    if (o->json) { /* its fields, at the top level of site info */
        printf("\"state\": \"%s\", \"controller_pid\": ", state);
        if (st.controller_pid)
            printf("%d", st.controller_pid);
        else
            printf("null");
        printf(", \"generation\": %u, \"group_restarts\": %u, "
               "\"site_restarts\": %u, \"groups\": %u, \"max_badness\": %u, "
               "\"interval\": %u, \"max_actors\": %u, \"max_groups\": %u, "
               "\"failure\": ", st.generation, st.group_restarts,
               st.site_restarts, st.groups, st.policy.max_badness,
               st.policy.interval_s, st.policy.max_actors, st.policy.max_groups);
        if (st.state == HR_SITE_FAILED)
            hr_json_str(st.failure);
        else
            printf("null");
        return 0;
    }
    if (st.state == HR_SITE_RUNNING)
        printf("state running, controller pid %d, generation %u\n", st.controller_pid,
               st.generation);
    else
        printf("state %s%s%s, generation %u\n", state,
               st.state == HR_SITE_FAILED ? ": " : "", st.failure, st.generation);
    printf("restarts: %u group, %u site; policy: more than %u restarts in %us "
           "escalates\nlimits: %u actors, groups 0 to %u\n", st.group_restarts,
           st.site_restarts, st.policy.max_badness, st.policy.interval_s,
           st.policy.max_actors, st.policy.max_groups - 1);
    return 0;
}

/* Cold restart: stop, then wipe the RAM bank (and so the registry),
 * keeping its tunables; DISK banks are kept.  The site stays stopped. */
/* The tunables of a RAM bank that does not open (damaged, or of another
 * format version): from its header when that much is sound, else the
 * defaults; a cold restart makes the bank anew either way. */
static void tunables_of_broken(const char *path, uint64_t *size, uint64_t *max)
{
    struct pmm_geom g;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int ok = fd >= 0 && pread(fd, &g, sizeof g, 0) == (ssize_t)sizeof g &&
             g.magic == PMM_MAGIC && g.page_size == pmm__os_page_size() &&
             g.data_pages >= 2 && g.data_pages <= PMM_MAX_BANK_SIZE / g.page_size &&
             g.max_blocks > 0 && g.max_blocks <= PMM_MAX_BLOCKS_LIMIT;
    if (fd >= 0)
        close(fd);
    *size = ok ? g.data_pages * g.page_size : PMM_DEFAULT_BANK_SIZE;
    *max = ok ? g.max_blocks : PMM_DEFAULT_MAX_BLOCKS;
    fprintf(stderr, "hr: site cold: the RAM bank does not open; made anew with "
                    "%s (%llu bytes, %llu blocks)\n",
            ok ? "the sizes from its header" : "the default sizes",
            (unsigned long long)*size, (unsigned long long)*max);
}

int hr_site_cold(const struct hr_opts *o)
{
    char dir[4096], path[4096];
    pmm_bank *b;
    pmm_bank_info st;
    hr_site_dir(o, dir, sizeof dir, "site cold");
    int pid = hr_ping(dir);
    if (pid > 0)
        stop_controller(dir, pid, "site cold");
    int r = pmm_bank_path(path, sizeof path, dir, "RAM");
    if (r < 0)
        hr_die_err("site cold: RAM bank", r);
    r = pmm_bank_open(&b, dir, "RAM", PMM_OPEN_RDONLY);
    if (r == K_EBANK) {
        tunables_of_broken(path, &st.size, &st.max_blocks);
    } else if (r < 0) {
        hr_die_err("site cold: RAM bank", r);
    } else {
        r = pmm_bank_stat(b, &st);
        pmm_bank_close(b);
        if (r < 0)
            hr_die_err("site cold", r);
    }
    if (unlink(path) < 0)
        hr_die(HR_EXIT_FAIL, "site cold: %s: %s", path, strerror(errno));
    r = pmm__bank_create_file(path, PMM_KIND_RAM, st.size, st.max_blocks);
    if (r < 0)
        hr_die_err("site cold: new RAM bank", r);
    if (o->json)
        printf("{\"cold\": true}\n");
    else
        printf("site %s: RAM bank and registry wiped; DISK kept; stopped "
               "(hr site start boots it afresh)\n", dir);
    return HR_EXIT_OK;
}
