/* SPDX-License-Identifier: MIT */
/*
 * ctl_cmd.c - the site's control commands: site start|stop|restart|cold
 * (and restart, shutdown -i 1) and the state part of site info, plus the
 * words for a controller's refusal (hr_die_ctl, hr_ctl_err, hr_ctl_said).
 * The commands on actors (arun, akill, ps, log) are actor_cmd.c's.  Through public doors only:
 * <hotrestart/hr.h> and <hotrestart/pmm.h> (tests/tool_doors.sh).
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "hr.h"

const char *hr_ctl_err(int r)
{
    if (r == -ECONNREFUSED || r == -ENOENT) /* no socket, or none there */
        return "no controller runs in this site (hr site start)";
    if (r == -EAGAIN)
        return "the controller did not answer within 30 s";
    _Static_assert(HR_SITE_PATH_MAX == 94, "the words below say 94");
    if (r == -ENAMETOOLONG) /* its socket's path: see HR_SITE_PATH_MAX */
        return "the site path is too long for a controller's socket address "
               "(a site path has 94 bytes at most)";
    if (r == -EACCES || r == -EPERM)
        return "permission denied: only root and the site's owner may control it";
    if (r == -ERANGE)
        return "group out of range for this site (hrCtrl.maxGroups, see hr site info)";
    if (r == -ENOSPC)
        return "the site's registry is full (hrCtrl.maxActors actors registered)";
    if (r == -EBUSY)
        return "busy: the group is ending or restarting (its members are "
               "still dying, or it waits out its back-off), or the site is "
               "stopping or restarting; try again once that is done";
    return pmm_strerror(r);
}

const char *hr_ctl_said(const char *why, int r)
{
    return why && why[0] && strcmp(why, pmm_strerror(r)) != 0 ? why : NULL;
}

void hr_die_ctl(const char *action, int r)
{
    hr_die(HR_EXIT_FAIL, "%s: %s", action, hr_ctl_err(r));
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

/* hrd --site dir OPTION [VALUE], in the foreground, its stderr to err
 * (-1: ours): its exit status, or 128 + a signal. */
static int run_hrd(const char *dir, const char *option, const char *value,
                   const char *action, int err)
{
    char hrd[PATH_MAX + 8];
    hrd_path(hrd, sizeof hrd);
    pid_t pid = fork();
    if (pid < 0)
        hr_die(HR_EXIT_FAIL, "%s: fork: %s", action, pmm_strerror(-errno));
    if (pid == 0) {
        char *args[] = {"hrd", "--site", (char *)dir, (char *)option,
                        (char *)value, NULL};
        if (err >= 0 && dup2(err, 2) < 0)
            _exit(1);
        if (strchr(hrd, '/'))
            execv(hrd, args);
        else
            execvp("hrd", args);
        fprintf(stderr, "hr: %s: cannot run hrd: %s\n", action, pmm_strerror(-errno));
        _exit(1);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            hr_die(HR_EXIT_FAIL, "%s: waitpid: %s", action, pmm_strerror(-errno));
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* What hrd wrote to the memory file err, onto our stderr. */
static void pass_on(int err)
{
    char buf[4096];
    ssize_t k;
    off_t at = 0;
    while ((k = pread(err, buf, sizeof buf, at)) > 0) {
        if (fwrite(buf, 1, (size_t)k, stderr) != (size_t)k)
            break;
        at += k;
    }
}

int hr_end_group_offline(const char *dir, int group)
{
    char g[16];
    snprintf(g, sizeof g, "%d", group);
    /* hrd's words kept until its status is known: for a group that does
     * not exist (4) the tool says so itself, in the words it uses on a
     * running site, and hrd's line would say it twice; hrd's log keeps
     * what else it did (hr log) */
    int err = memfd_create("hrd-stderr", MFD_CLOEXEC);
    int st = run_hrd(dir, "--end-group", g, "akill", err);
    if (err >= 0 && st != 4)
        pass_on(err);
    if (err >= 0)
        close(err);
    if (st == 0)
        return HR_EXIT_OK;
    if (st == 4)
        hr_die(HR_EXIT_FAIL, "akill: group %d does not exist in this site: "
                             "nothing to kill (hr ps)", group);
    hr_die(HR_EXIT_FAIL, "akill: group %d of the stopped site could not be "
                         "ended (hrd said why above; hr log)", group);
}

int hr_site_start(const struct hr_opts *o)
{
    char dir[4096], hrd[PATH_MAX + 8], fdarg[16];
    int ready[2], err[2], hrd_pid[2];
    hr_site_dir(o, dir, sizeof dir, "site start"); /* hrd checks it */
    hr_site_fits(dir, "site start");
    int pid = hr_ping(dir);
    if (pid > 0)
        hr_die(HR_EXIT_FAIL, "site start: a controller already runs in %s "
                             "(pid %d)", dir, pid);
    hrd_path(hrd, sizeof hrd);
    if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
        pipe2(hrd_pid, O_CLOEXEC) < 0)
        hr_die(HR_EXIT_FAIL, "site start: pipe: %s", pmm_strerror(-errno));
    pid_t me = getpid();
    pid_t child = fork();
    if (child == 0) {
        char starter[24]; /* us: no leftover of a dead controller's
                             start-up file for it, even run from one */
        snprintf(starter, sizeof starter, "%d", (int)me);
        setenv("HRD_STARTER", starter, 1);
        setsid();
        pid_t g = fork();
        if (g != 0) { /* tells the controller's pid, not its site's path */
            _exit(write(hrd_pid[1], &g, sizeof g) == (ssize_t)sizeof g ? 0 : 1);
        }
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(err[1], 2);
        fcntl(ready[1], F_SETFD, 0);
        snprintf(fdarg, sizeof fdarg, "%d", ready[1]);
        /* --site only when named: hrd makes only the default site */
        char *args[] = {"hrd", "--ready-fd", fdarg, "--site", dir, NULL};
        if (!o->site)
            args[3] = NULL;
        execv(hrd, args);
        execvp("hrd", args);
        fprintf(stderr, "cannot run hrd: %s", pmm_strerror(-errno));
        _exit(127);
    }
    close(ready[1]);
    close(err[1]);
    close(hrd_pid[1]);
    waitpid(child, NULL, 0);
    pid_t started = 0;
    if (read(hrd_pid[0], &started, sizeof started) != (ssize_t)sizeof started)
        started = 0;
    char c = 0, why[512] = "";
    ssize_t n = read(ready[0], &c, 1);
    if (n != 1) {
        ssize_t k = read(err[0], why, sizeof why - 1);
        why[k > 0 ? k : 0] = 0;
        why[strcspn(why, "\n")] = 0;
        hr_die(HR_EXIT_FAIL, "site start: the controller did not start: %s",
               why[0] ? why : "no reason given");
    }
    /* ready; but a site that fails again may already have stopped: asked
     * of the process itself (a pidfd), not of a path that could change */
    int pfd = started > 0 ? (int)syscall(SYS_pidfd_open, started, 0) : -1;
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    if (pfd < 0 || poll(&p, 1, 0) != 0) { /* gone, or exited */
        hr_site_state st;
        if (hr_site_status(dir, &st, why, sizeof why) == 0 &&
            st.state == HR_SITE_FAILED)
            hr_die(HR_EXIT_FAIL, "site start: the site failed again: %s "
                                 "(hr log)", st.failure);
        hr_die(HR_EXIT_FAIL, "site start: the controller stopped as soon as "
                             "it started (hr log)");
    }
    close(pfd);
    pid = started;
    if (o->json) {
        printf("{\"site\": ");
        hr_json_str(dir);
        printf(", \"controller_pid\": %d}\n", pid);
    } else {
        printf("site %s started (controller pid %d)\n", dir, pid);
    }
    hr_warn_disk_missing(dir, "site start"); /* as the controller's log does */
    return HR_EXIT_OK;
}

/* Stop the site's controller if one runs: 1 once it has stopped, 0 when
 * none ran.  hr_stop() finds a controller by its lock, so one between the
 * two halves of a site restart is waited for and stopped, not missed. */
int hr_stop_running(const char *dir, const char *action)
{
    int r = hr_stop(dir);
    hr_site_state st;
    if (r == -ECONNABORTED) { /* it died in its stop: end what it left */
        fprintf(stderr, "hr: %s: the controller died before the end of its "
                "stop: ending what it left running\n", action);
        if (run_hrd(dir, "--end-leftovers", NULL, action, -1) != 0)
            hr_die(HR_EXIT_FAIL, "%s: what the controller left running could "
                   "not be ended (hrd said why above)", action);
        return 1;
    }
    /* a site never started has nothing left; one whose bank does not open
     * may have: hrd finds it by its cgroup then */
    int q = r == -ECONNREFUSED || r == -ENOENT
                ? hr_site_status(dir, &st, NULL, 0) : 0;
    if ((r == -ECONNREFUSED || r == -ENOENT) &&
        (q < 0 || st.generation > 0) &&
        run_hrd(dir, "--end-leftovers", NULL, action, -1) != 0)
        hr_die(HR_EXIT_FAIL, "%s: what a controller that died left running "
                             "could not be ended (hrd said why above)", action);
    if (r == -ECONNREFUSED || r == -ENOENT)
        return 0; /* no controller holds the site (its leftovers ended) */
    if (r == -ETIMEDOUT)
        hr_die(HR_EXIT_FAIL, "%s: the controller did not stop in the longest "
                             "stop timeout and 15 s (hr log)", action);
    if (r < 0)
        hr_die_ctl(action, r);
    return 1;
}

int hr_site_stop(const struct hr_opts *o)
{
    char dir[4096];
    hr_site_existing(o, dir, sizeof dir, "site stop");
    if (!hr_stop_running(dir, "site stop")) { /* stopped already: done */
        if (o->json)
            printf("{\"stopped\": true, \"was_running\": false}\n");
        else
            printf("site %s is not running\n", dir);
        return HR_EXIT_OK;
    }
    if (!o->json)
        printf("site %s stopped; persistent memory kept\n", dir);
    else
        printf("{\"stopped\": true}\n");
    return HR_EXIT_OK;
}

/* The running controller's generation, or -1 when none answers. */
static int generation_of(const char *site)
{
    hr_site_state st;
    return hr_status(site, &st) < 0 ? -1 : (int)st.generation;
}

/* The inode of the site's RAM bank file, 0 when it cannot be read: a cold
 * restart's new bank is another file. */
static unsigned long long ram_bank_ino(const char *site)
{
    char path[4200];
    struct stat st;
    return pmm_bank_path(path, sizeof path, site, "RAM") == 0 &&
                   stat(path, &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

int hr_site_restart_cmd(const struct hr_opts *o, int cold)
{
    char dir[4096];
    const char *what = cold ? "site restart --cold" : "site restart";
    hr_site_existing(o, dir, sizeof dir, what);
    hr_site_state was;
    if (hr_status(dir, &was) < 0)
        hr_die_ctl(what, hr_ping(dir));
    int gen = (int)was.generation;
    unsigned long long ino = ram_bank_ino(dir);
    int r = cold ? hr_site_cold_restart(dir) : hr_site_restart(dir);
    if (r < 0)
        hr_die_ctl(what, r);
    /* the actors stop first (SIGTERM, the stop timeout, SIGKILL); a cold
     * restart's fresh controller is on a new bank, its generation 1 */
    time_t until = time(NULL) + 10 + was.policy.stop_ms / 1000;
    while (time(NULL) <= until) {
        int g = generation_of(dir);
        if (g > 0 && (cold ? ram_bank_ino(dir) != ino : g > gen)) {
            if (o->json)
                printf("{\"generation\": %d, \"cold\": %s}\n", g,
                       cold ? "true" : "false");
            else if (cold)
                printf("site %s: cold restart: RAM bank and registry made "
                       "anew, DISK kept; the fresh controller runs the whole "
                       "start-up file, held listening sockets kept\n", dir);
            else
                printf("site %s restarted (controller generation %d)\n", dir, g);
            return HR_EXIT_OK;
        }
        hr_site_state st;
        if (g < 0 && hr_site_status(dir, &st, NULL, 0) == 0 &&
            st.state == HR_SITE_FAILED)
            hr_die(HR_EXIT_FAIL, "%s: the site failed: %s", what, st.failure);
        if (g < 0 && hr_site_status(dir, &st, NULL, 0) == 0 &&
            st.state == HR_SITE_STOPPED) /* a stop won */
            hr_die(HR_EXIT_FAIL, "%s: the site was stopped before a fresh "
                                 "controller answered", what);
        usleep(10000);
    }
    hr_die(HR_EXIT_FAIL, "%s: no fresh controller after the stop timeout "
                         "and 10 s (hr log)", what);
}

static const char restart_usage[] =
    "hr restart and hr shutdown -i 1, the ChorusOS spellings of hr site\n"
    "restart: every actor stops, a fresh controller runs the start-up file\n"
    "without its arun lines and starts every group again; persistent\n"
    "memory is kept.\n";

const struct hr_optdef hr_shutdown_options[] = {
    {"i", 'i', HR_ARG_TEXT, "1", NULL, NULL},
    {0},
};

int hr_cmd_restart(int argc, char **argv, const struct hr_opts *go)
{
    struct hr_opts o = *go;
    int shutdown = strcmp(argv[0], "shutdown") == 0;
    struct hr_cmdline cl = {.cmd = argv[0], .usage = restart_usage,
                            .table = hr_command(argv[0]), .o = &o};
    const char *level = NULL;
    while (hr_getopt(argc, argv, &cl) == 'i')
        level = optarg;
    if (shutdown && (!level || strcmp(level, "1") != 0 || optind < argc))
        hr_die(HR_EXIT_USAGE, "shutdown: only 'shutdown -i 1' (site restart) "
                              "is supported");
    if (optind < argc)
        hr_die(HR_EXIT_USAGE, "%s: unexpected argument '%s'", argv[0],
               argv[optind]);
    return hr_site_restart_cmd(&o, 0);
}

/* Cold restart: stop, then make the RAM bank (and so the registry) anew
 * with its tunables; DISK banks are kept.  The site stays stopped. */
int hr_site_cold(const struct hr_opts *o)
{
    char dir[4096];
    pmm_remake_info info;
    hr_site_dir(o, dir, sizeof dir, "site cold");
    hr_stop_running(dir, "site cold");
    int r = pmm_bank_remake(dir, "RAM", &info);
    if (r < 0)
        hr_die_err("site cold: RAM bank", r);
    if (info.from != PMM_REMAKE_KEPT)
        fprintf(stderr, "hr: site cold: the RAM bank does not open; made anew "
                        "with %s (%llu bytes, %llu blocks)\n",
                info.from == PMM_REMAKE_HEADER ? "the sizes from its header"
                                               : "the default sizes",
                (unsigned long long)info.size,
                (unsigned long long)info.max_blocks);
    if (o->json)
        printf("{\"cold\": true}\n");
    else
        printf("site %s: RAM bank and registry wiped; DISK kept; stopped "
               "(hr site start boots it afresh)\n", dir);
    return HR_EXIT_OK;
}
