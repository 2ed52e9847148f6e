/* SPDX-License-Identifier: MIT */
/*
 * actor_cmd.c - the commands on actors of a running site: arun (start a
 * direct actor, its options checked here), akill and ps (hr log is
 * log_cmd.c's).  Each is one request to the controller (<hotrestart/hr.h>); a refusal is said with
 * hr_die_ctl() (ctl_cmd.c).  Through public doors only: <hotrestart/hr.h>
 * and <hotrestart/pmm.h> (tests/tool_doors.sh).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "hr.h"

extern char **environ;

/* What hr arun --help says between its synopsis and its options. */
static const char arun_about[] =
    "With -g, start PROGRAM as a direct restartable actor in GROUP (-g alone:\n"
    "group 0).  Its image, arguments, environment and working directory are\n"
    "stored and replayed at every restart of the group.  Without -g, start\n"
    "it as an ordinary actor, as ChorusOS does: in a session of its own, with\n"
    "the site's console log as output, watched and restarted by no one; the\n"
    "options below are for restartable actors, and imply -g 0.  Prints the\n"
    "actor's pid.  hr ps shows such an actor starting, then ready, and the\n"
    "time of each restart of its group from the death to ready.\n";

/* Why an exec of path failed with err, in words: ENOENT for a file that
 * is there is its #! interpreter (or an ELF's loader) missing. */
static const char *exec_failure(const char *path, int err)
{
    static char why[PATH_MAX + 64];
    char head[PATH_MAX + 2] = "";
    struct stat st;
    if (err == EACCES)
        return "not an executable file";
    if (err == ENOEXEC)
        return "cannot be executed (not a program the kernel knows)";
    if (err != ENOENT)
        return pmm_strerror(-err);
    if (stat(path, &st) < 0)
        return "no such file";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, head, sizeof head - 1);
    if (fd >= 0)
        close(fd);
    head[n > 0 ? n : 0] = 0;
    if (strncmp(head, "#!", 2) != 0)
        return "its program interpreter (the dynamic loader it names) does "
               "not exist";
    char *interp = head + 2 + strspn(head + 2, " \t");
    interp[strcspn(interp, " \t\r\n")] = 0;
    snprintf(why, sizeof why, "its interpreter '%s' (its #! line) does not "
                              "exist", interp);
    return why;
}

/* arun without -g: an ordinary actor, as on ChorusOS: started in a session
 * of its own, its output in the site's console log (the tool's own streams
 * when the site has none), and left alone: no controller watches it. */
static int arun_ordinary(const struct hr_opts *o, const char *path,
                         char *const argv[])
{
    char dir[4096], log[4200];
    int ep[2], e = 0;
    hr_site_dir(o, dir, sizeof dir, "arun");
    snprintf(log, sizeof log, "%s/console.log", dir);
    int out = open(log, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (pipe2(ep, O_CLOEXEC) < 0)
        hr_die(HR_EXIT_FAIL, "arun: pipe: %s", pmm_strerror(-errno));
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        if (out >= 0)
            dup2(out, 1), dup2(out, 2);
        execve(path, argv, environ);
        e = errno;
        if (write(ep[1], &e, sizeof e) < 0)
            _exit(127);
        _exit(127);
    }
    close(ep[1]);
    if (pid < 0 || read(ep[0], &e, sizeof e) == (ssize_t)sizeof e)
        hr_die(HR_EXIT_FAIL, "arun: %s: %s", path,
               pid < 0 ? pmm_strerror(-errno) : exec_failure(path, e));
    return pid;
}

/* Does s begin as a number the tool takes: a digit (no sign, no space)? */
static int digits(const char *s)
{
    return *s >= '0' && *s <= '9';
}

/* A group number as arun and akill take it, or exit 2. */
static int group_arg(const char *cmd, const char *s)
{
    char *end;
    long g = strtol(s, &end, 10);
    if (!digits(s) || *end || g < 0 || g > (long)HR_GROUPS_LIMIT - 1)
        hr_die(HR_EXIT_USAGE, "%s: bad group '%s' (0 to %u)", cmd, s,
               HR_GROUPS_LIMIT - 1);
    return (int)g;
}

enum {
    OPT_NAME = HR_OPT_OWN, OPT_STOP_TIMEOUT, OPT_READY_FD, OPT_NOTIFY,
    OPT_WAIT_READY, OPT_LISTEN, OPT_ASLR, OPT_STANDBY,
};

/* A number from lo to hi for option opt of arun, or exit 2. */
static long arun_number(const char *opt, const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!digits(s) || *end || v < lo || v > hi)
        hr_die(HR_EXIT_USAGE, "arun: bad %s '%s' (%ld to %ld)", opt, s, lo, hi);
    return v;
}

const struct hr_optdef hr_arun_options[] = {
    {"g", 'g', HR_ARG_TEXT, "[GROUP]", NULL, NULL},
    {"name", OPT_NAME, HR_ARG_TEXT, "NAME", NULL,
     "its name (default: its program's), unique in the site"},
    {"stop-timeout", OPT_STOP_TIMEOUT, HR_ARG_TEXT, "MS", NULL,
     "how long a stop waits after SIGTERM before SIGKILL\n"
     "(default: the site's hrCtrl.stopTimeout)"},
    {"aslr", OPT_ASLR, HR_ARG_NONE, NULL, NULL,
     "keep address-space randomisation (HR_ASLR=1 in its\n"
     "environment, which its children inherit); else it\n"
     "comes back at the same address, unless the site\n"
     "sets hrCtrl.aslr=1"},
    {"ready-fd", OPT_READY_FD, HR_ARG_TEXT, "N", NULL,
     "it says it is ready by writing a newline to fd N\n"
     "(3 to 1023, s6 style)"},
    {"notify", OPT_NOTIFY, HR_ARG_NONE, NULL, NULL,
     "it says it is ready by sending READY=1 to\n"
     "$NOTIFY_SOCKET (sd_notify; every actor gets it)"},
    {"wait-ready", OPT_WAIT_READY, HR_ARG_NONE, NULL, NULL,
     "return once it is ready (--notify unless --ready-fd);\n"
     "gives up after 30 s (exit 1), the actor running on"},
    {"listen", OPT_LISTEN, HR_ARG_TEXT, "SPEC", NULL,
     "tcp:HOST:PORT or unix:PATH: the controller listens\n"
     "there and holds the socket for the actor, across its\n"
     "restarts, site restarts and (made again) its own\n"
     "crash; every start gets the sockets as fds 3, 4...\n"
     "with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES\n"
     "(sd_listen_fds), so clients wait in the backlog\n"
     "while it restarts.  Stored with its environment as\n"
     "HR_LISTEN=SPEC[,SPEC...]; given up to 8 times"},
    {"standby", OPT_STANDBY, HR_ARG_NONE, NULL, NULL,
     "keep a standby instance of it waiting: started from\n"
     "the same image once it is up, with HR_STANDBY=1, it\n"
     "initialises and waits in hr_standby_wait(3); when the\n"
     "actor fails, its group's restart promotes the standby\n"
     "instead of executing the program again, and a new one\n"
     "starts.  Stored with its environment as HR_STANDBY=1"},
    {0},
};

/* What arun's options said. */
struct arun_args {
    int group; /* -1: no -g, an ordinary actor */
    int aslr, standby;
    hr_arun_opts ao;
    char specs[1024]; /* the --listen specs, comma-separated */
};

/* arun's options into a, up to PROGRAM (the options end there): its
 * index in argv, or argc when there is none. */
static int arun_parse(int argc, char **argv, struct hr_cmdline *cl,
                      struct arun_args *a)
{
    int k = 0;
    *a = (struct arun_args){.group = -1};
    while (k != 'G' && (k = hr_getopt(argc, argv, cl)) != -1) {
        switch (k) {
        case 'g':
            if (optarg[0] >= '0' && optarg[0] <= '9') {
                a->group = group_arg("arun", optarg);
                break;
            }
            /* -g with no number (the guide's `arun -g [gid]`): group 0,
             * and what followed it is the program, or, when it begins
             * with '-', the next option or the "--" before the program */
            if (argv[optind - 1] != optarg)
                group_arg("arun", optarg);
            a->group = 0;
            optind--;
            if (optarg[0] != '-')
                k = 'G';
            break;
        case OPT_ASLR: a->aslr = 1; break;
        case OPT_STANDBY: a->standby = 1; break;
        case OPT_NAME: a->ao.name = optarg; break;
        case OPT_STOP_TIMEOUT:
            a->ao.stop_ms = (uint32_t)arun_number("--stop-timeout", optarg, 1,
                                                  HR_STOP_LIMIT_MS);
            break;
        case OPT_READY_FD:
            a->ao.ready_fd = (int)arun_number("--ready-fd", optarg, 3, 1023);
            break;
        case OPT_NOTIFY: a->ao.notify = 1; break;
        case OPT_WAIT_READY: a->ao.wait_ready = 1; break;
        case OPT_LISTEN: hr_add_listen(a->specs, sizeof a->specs, optarg); break;
        }
    }
    const hr_arun_opts *ao = &a->ao;
    if (ao->ready_fd && ao->notify)
        hr_die(HR_EXIT_USAGE, "arun: --ready-fd N or --notify, not both: the "
               "actor says it is ready one way");
    if (a->group < 0 && (ao->name || ao->stop_ms || ao->ready_fd ||
                         ao->notify || ao->wait_ready || a->aslr ||
                         a->standby || a->specs[0]))
        a->group = 0; /* options of restartable actors only */
    if (ao->ready_fd && a->specs[0]) { /* the sockets are fds 3, 4... */
        int held = 1;
        for (const char *c = a->specs; *c; c++)
            held += *c == ',';
        if (ao->ready_fd < 3 + held)
            hr_die(HR_EXIT_USAGE, "arun: --ready-fd %d is taken by a --listen "
                   "socket (fds 3 to %d): choose %d or above", ao->ready_fd,
                   2 + held, 3 + held);
    }
    return optind;
}

/* The controller's refusal r of arun path, in words; exits. */
__attribute__((noreturn)) static void arun_refused(int r, const char *path,
                                                   const struct arun_args *a)
{
    const char *name = a->ao.name, *specs = a->specs, *why = a->ao.why;
    if (r == -EEXIST)
        hr_die(HR_EXIT_FAIL, "arun: the name '%s' is taken in this site", name);
    /* its words for an address (no bad --name), but for a plain "in use" */
    if (r != -EPERM && why && strncmp(why, "--listen ", 9) == 0 &&
        !(r == -EADDRINUSE && strstr(why, pmm_strerror(r))))
        hr_die(HR_EXIT_FAIL, "arun: %s", why);
    if (r == -EINVAL && name)
        hr_die(HR_EXIT_USAGE, "arun: bad --name '%s' (letters, digits and "
                              "._-:+@/, at most %d)", name, PMM_NAME_MAX - 1);
    if (r == -ESRCH && a->ao.wait_ready)
        hr_die(HR_EXIT_FAIL, "arun: %s stopped before it was ready (hr log)",
               path);
    if (r == -EUSERS && a->ao.wait_ready)
        hr_die(HR_EXIT_FAIL, "arun: too many hr arun --wait-ready waiting at "
                             "once (64): %s runs, not waited for (hr ps)",
               path);
    if (r == -EAGAIN && a->ao.wait_ready)
        hr_die(HR_EXIT_FAIL, "arun: %s runs but never said it was ready "
                             "within 30 s (READY=1, or a line on its "
                             "--ready-fd; hr ps, hr log)", path);
    if (r == -EADDRINUSE && specs[0])
        hr_die(HR_EXIT_FAIL, "arun: --listen %s: address in use (another "
               "actor or program listens there)", specs);
    if (r == -ELOOP && specs[0])
        hr_die(HR_EXIT_FAIL, "arun: --listen %s: a unix: path is a "
               "symbolic link: give the socket's own path", specs);
    /* a step of its start before the exec failed (its working directory,
     * its held sockets...): the controller said which (a caller it does
     * not serve, -EPERM, is hr_die_ctl's to word) */
    if (r != -EPERM && hr_ctl_said(why, r))
        hr_die(HR_EXIT_FAIL, "arun: %s: %s", path, why);
    char what[PATH_MAX + 16];
    snprintf(what, sizeof what, "arun: %s", path);
    if (r == K_ENOMEM)
        hr_die(HR_EXIT_FAIL, "%s: the site's RAM bank has no room for its "
                             "image (a copy of the program): make the site "
                             "with a larger --rambank-size (hr site create)",
               what);
    if (r == -ENOENT || r == -EACCES || r == -ENOEXEC)
        hr_die(HR_EXIT_FAIL, "%s: %s", what, exec_failure(path, -r));
    hr_die_ctl(what, r);
}

int hr_cmd_arun(int argc, char **argv, const struct hr_opts *go)
{
    struct hr_opts ov = *go, *o = &ov;
    struct hr_cmdline cl = {.cmd = "arun", .usage = arun_about,
                            .table = hr_command("arun"),
                            .stop_at_operand = 1, .o = o};
    struct arun_args a;
    char why[512];
    int i = arun_parse(argc, argv, &cl, &a);
    a.ao.why = why, a.ao.why_cap = sizeof why;
    if (i >= argc) {
        hr_usage(stderr, "arun", cl.table, arun_about);
        return HR_EXIT_USAGE;
    }
    char path[PATH_MAX], dir[4096];
    hr_site_existing(o, dir, sizeof dir, "arun");
    if (hr_find_program(argv[i], path, sizeof path) < 0)
        hr_die(HR_EXIT_FAIL, "arun: %s: not found on $PATH", argv[i]);
    int r;
    if (a.group < 0) { /* no -g: an ordinary actor */
        r = arun_ordinary(o, path, argv + i);
    } else {
        if ((a.aslr && setenv("HR_ASLR", "1", 1) < 0) ||
            (a.standby && setenv("HR_STANDBY", "1", 1) < 0))
            hr_die(HR_EXIT_FAIL, "arun: out of memory");
        /* the controller first: its refusal is not the program's fault */
        if ((r = hr_ping(dir)) < 0)
            hr_die_ctl("arun", r);
        char **env = a.specs[0] ? hr_with_listen(a.specs) : environ;
        r = hr_arun_with(dir, a.group, &a.ao, path, argv + i, env);
        if (env != environ)
            free(env); /* its strings are environ's and a static */
        if (r < 0)
            arun_refused(r, path, &a);
    }
    if (o->json && a.group < 0)
        printf("{\"pid\": %d, \"group\": null}\n", r);
    else if (o->json)
        printf("{\"pid\": %d, \"group\": %d}\n", r, a.group);
    else
        printf("%d\n", r);
    return HR_EXIT_OK;
}

static const char akill_usage[] =
    "hr akill PID kills an actor: its group restarts.  hr akill -g GROUP\n"
    "kills a group for good, as a stop (SIGTERM, the stop timeout, SIGKILL);\n"
    "its images and HR_GROUP_KEY blocks are freed; it returns once every\n"
    "member is gone; a group that does not exist is said so, exit 1.  On a\n"
    "stopped or failed site (no controller) the group is ended all the same\n"
    "(hrd --end-group)\n";

int hr_ps_has(const char *dir, const char *action, const char *needle)
{
    size_t cap = 256 * 1024;
    char *buf = malloc(cap);
    int r = buf ? hr_ps(dir, 0, buf, cap) : -ENOMEM;
    if (r == -ECONNREFUSED || r == -ENOENT) {
        free(buf);
        return -1;
    }
    if (r < 0)
        hr_die_ctl(action, r);
    r = strstr(buf, needle) != NULL;
    free(buf);
    return r;
}

const struct hr_optdef hr_akill_options[] = {
    {"g", 'g', HR_ARG_TEXT, "GROUP", NULL, NULL},
    {0},
};

int hr_cmd_akill(int argc, char **argv, const struct hr_opts *go)
{
    struct hr_opts ov = *go, *o = &ov;
    struct hr_cmdline cl = {.cmd = "akill", .usage = akill_usage,
                            .table = hr_command("akill"), .o = o};
    const char *g = NULL;
    while (hr_getopt(argc, argv, &cl) == 'g')
        g = optarg;
    if (argc - optind != (g ? 0 : 1)) {
        hr_usage(stderr, "akill", cl.table, akill_usage);
        return HR_EXIT_USAGE;
    }
    int group = g != NULL;
    long v = group ? group_arg("akill", g) : 0;
    if (!group) {
        char *end;
        const char *p = argv[optind];
        v = strtol(p, &end, 10);
        if (!digits(p) || *end || v <= 0 || v > INT_MAX)
            hr_die(HR_EXIT_USAGE, "akill: bad pid '%s'", p);
    }
    char dir[4096], id[32];
    hr_site_existing(o, dir, sizeof dir, "akill");
    snprintf(id, sizeof id, "{\"id\": %ld, ", v); /* -1: no controller runs */
    int exists = group ? hr_ps_has(dir, "akill", id) : 1;
    if (exists == 0)
        hr_die(HR_EXIT_FAIL, "akill: group %ld does not exist in this site: "
                             "nothing to kill (hr ps)", v);
    int r = group ? hr_kill_group(dir, (int)v) : hr_akill(dir, (pid_t)v);
    if (group && (r == -ECONNREFUSED || r == -ENOENT)) /* stopped, failed */
        return hr_end_group_offline(dir, (int)v);
    if (r == -ESRCH)
        hr_die(HR_EXIT_FAIL, "akill: %ld is not an actor of this site", v);
    if (r < 0)
        hr_die_ctl("akill", r);
    return HR_EXIT_OK;
}

static const char ps_usage[] =
    "Groups (state, restarts, the last restart's time from death to ready,\n"
    "last failure) and their actors (name, pid, direct or indirect, state,\n"
    "readiness, uptime).  Group states: running, restarting or ending\n"
    "(waiting for its killed members to die), blocked (also when a member went\n"
    "to the background), backoff (its members failed to start: its next start\n"
    "waits, 10 ms doubling to 1 s).  Actor states: running, dying (killed, not yet gone),\n"
    "exited (cleanly), stopped.  Readiness: starting or ready for an actor that\n"
    "says it (--ready-fd, --notify, READY=1), else -.  An actor with a standby\n"
    "(arun --standby) shows its pid and state: starting, or waiting to be\n"
    "promoted.  --json adds each group's restart_ms: the last and a histogram,\n"
    "and each actor's standby ({pid, state} or null) and standby_off (true when\n"
    "its program never waited: it runs without one).\n";

int hr_cmd_ps(int argc, char **argv, const struct hr_opts *go)
{
    struct hr_opts o = *go;
    struct hr_cmdline cl = {.cmd = "ps", .usage = ps_usage,
                            .table = hr_command("ps"), .o = &o};
    while (hr_getopt(argc, argv, &cl) != -1)
        ;
    if (optind < argc)
        hr_die(HR_EXIT_USAGE, "ps: unexpected argument '%s'", argv[optind]);
    size_t cap = 256 * 1024;
    char dir[4096], *buf = malloc(cap);
    hr_site_existing(&o, dir, sizeof dir, "ps");
    int r = buf ? hr_ps(dir, !o.json, buf, cap) : -ENOMEM;
    hr_site_state st;
    if ((r == -ECONNREFUSED || r == -ENOENT) &&
        hr_site_status(dir, &st, NULL, 0) == 0 && st.state == HR_SITE_FAILED)
        hr_die(HR_EXIT_FAIL, "ps: the site failed and stopped: %s; its %u "
               "group%s stay%s registered (hr log says what failed; hr akill "
               "-g G ends a group; hr site start tries again)", st.failure,
               st.groups, st.groups == 1 ? "" : "s", st.groups == 1 ? "s" : "");
    if (r < 0)
        hr_die_ctl("ps", r);
    fputs(buf, stdout);
    if (o.json)
        putchar('\n');
    free(buf);
    return HR_EXIT_OK;
}
