/* SPDX-License-Identifier: MIT */
/*
 * test_deploy.c - the controller where services live (issue 13): under a
 * service manager that listens on NOTIFY_SOCKET (a path and an abstract
 * name, as systemd hands out), with its settings in a configuration
 * directory, and as PID 1 of a container (a new PID namespace, as a
 * container runtime makes).  A real hrd in a throwaway site; the manager's
 * side is this test, reading what a manager reads.
 *
 * The unit file and the Kubernetes manifest are checked by
 * tests/check_unit.sh and tests/check_k8s.py.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "ctl_helpers.h"

static char out[65536];
static const char *site;

static void up(void) { site = site_new(0, 0); }

TestSuite(deploy, .init = up, .fini = site_stop_drop, .timeout = 180);

static const char *hrd_bin(void)
{
    static char path[600];
    snprintf(path, sizeof path, "%s", HR_BIN);
    strcpy(strrchr(path, '/') + 1, "hrd");
    return path;
}

/* Start argv in the background, as uid:gid when uid is not 0. */
static pid_t start_as(uid_t uid, gid_t gid, char *const argv[])
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        if (uid && (setgroups(0, NULL) || setgid(gid) || setuid(uid)))
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static pid_t start(char *const argv[])
{
    return start_as(0, 0, argv);
}

/* ---- the service manager's socket ---- */

/* A datagram socket bound where a manager binds NOTIFY_SOCKET: a path, or
 * an abstract name (its address exactly offsetof(sun_path) + 1 + length,
 * as systemd binds it).  Receives the sender's credentials, as systemd
 * does to tell the main process's messages from others'. */
static int manager_socket(int abstract, char *env, size_t cap)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    socklen_t len;
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), on = 1;
    cr_assert_geq(s, 0);
    cr_assert_eq(setsockopt(s, SOL_SOCKET, SO_PASSCRED, &on, sizeof on), 0);
    if (abstract) {
        int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1,
                         "hrtest/notify/%d", (int)getpid());
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
        snprintf(env, cap, "@%s", a.sun_path + 1);
    } else {
        snprintf(a.sun_path, sizeof a.sun_path, "%s/manager.sock", site);
        len = sizeof a;
        snprintf(env, cap, "%s", a.sun_path);
    }
    cr_assert_eq(bind(s, (struct sockaddr *)&a, len), 0, "bind: %s",
                 strerror(errno));
    return s;
}

static char said[65536]; /* every message received, one after another */

/* Take messages until one holds `what` (appended to said); each must come
 * from pid, as NotifyAccess=main wants.  The bound only stops a test
 * that would wait for ever. */
static void hear(int s, pid_t pid, const char *what)
{
    struct poll_wait w = poll_begin(what);
    int ended = 0;
    while (!strstr(said, what)) {
        struct pollfd p = {.fd = s, .events = POLLIN};
        if (poll(&p, 1, 0) <= 0) {
            /* hrd gone (looked at, not reaped) and nothing left to read */
            siginfo_t si = {0};
            if (ended)
                poll_give_up(&w, said[0] ? said : "hrd ended, saying nothing");
            ended = waitid(P_PID, (id_t)pid, &si,
                           WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid;
            if (!ended)
                poll_pause(&w, said);
            continue;
        }
        char msg[4096], ctl[CMSG_SPACE(sizeof(struct ucred))];
        struct iovec io = {msg, sizeof msg - 1};
        struct msghdr h = {.msg_iov = &io, .msg_iovlen = 1,
                           .msg_control = ctl, .msg_controllen = sizeof ctl};
        ssize_t n = recvmsg(s, &h, 0);
        cr_assert_gt(n, 0);
        msg[n] = 0;
        struct cmsghdr *c = CMSG_FIRSTHDR(&h);
        cr_assert(c && c->cmsg_type == SCM_CREDENTIALS, "no credentials");
        struct ucred cred;
        memcpy(&cred, CMSG_DATA(c), sizeof cred);
        cr_assert_eq(cred.pid, pid, "'%s' from pid %d, not hrd's %d", msg,
                     (int)cred.pid, (int)pid);
        size_t at = strlen(said);
        snprintf(said + at, sizeof said - at, "%s\n--\n", msg);
    }
}

/* hrd under a manager listening on a path or an abstract socket:
 * STATUS=starting, READY=1 with STATUS=running, a STATUS change when a
 * group comes, STOPPING=1 on SIGTERM, then exit 0. */
static void under_manager(int abstract)
{
    char env[200];
    int s = manager_socket(abstract, env, sizeof env);
    setenv("NOTIFY_SOCKET", env, 1);
    pid_t hrd = start((char *[]){(char *)hrd_bin(), "--site", (char *)site,
                                 NULL});
    unsetenv("NOTIFY_SOCKET");
    hear(s, hrd, "READY=1");
    cr_assert(strstr(said, "STATUS=starting: site "), "%s", said);
    hear(s, hrd, "STATUS=running: 0 groups, 0 actors");
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "3", "/bin/sleep",
                        "1000", NULL), 0, "%s", out);
    hear(s, hrd, "STATUS=running: 1 group, 1 actor");
    /* the actor's NOTIFY_SOCKET is the site's, never the manager's */
    refresh();
    char path[64], envs[65536], want[700];
    snprintf(path, sizeof path, "/proc/%d/environ", pid_of("sleep"));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    envs[0] = '\n'; /* each variable between newlines */
    size_t n = 1 + fread(envs + 1, 1, sizeof envs - 2, f);
    fclose(f);
    for (size_t i = 1; i < n; i++)
        envs[i] = envs[i] ? envs[i] : '\n';
    envs[n] = 0;
    snprintf(want, sizeof want, "\nNOTIFY_SOCKET=%s/notify.sock\n", site);
    cr_assert(strstr(envs, want), "the actor's environment:\n%s", envs);
    cr_assert_null(strstr(envs, env), "the manager's socket reached an actor");
    cr_assert_eq(kill(hrd, SIGTERM), 0);
    hear(s, hrd, "STOPPING=1");
    cr_assert(strstr(said, "STATUS=stopping"), "%s", said);
    cr_assert_eq(wait_status(hrd), 0, "hrd stopped by SIGTERM: not 0");
    close(s);
}

Test(deploy, notify_socket_a_path)
{
    under_manager(0);
}

Test(deploy, notify_socket_abstract)
{
    under_manager(1);
}

/* A site whose group keeps failing stops, marked failed, and hrd says so
 * with its own exit status (3), which the unit's RestartPreventExitStatus=
 * names; the manager hears STOPPING=1 and why. */
Test(deploy, a_failed_site_exits_with_its_own_status)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--max-badness",
                        "1", NULL), 0, "%s", out);
    char path[600];
    snprintf(path, sizeof path, "%s/sysadm.ini", site);
    FILE *f = fopen(path, "w");
    fprintf(f, "arun -g 1 /bin/false\n");
    fclose(f);
    char env[200];
    int s = manager_socket(1, env, sizeof env);
    setenv("NOTIFY_SOCKET", env, 1);
    pid_t hrd = start((char *[]){(char *)hrd_bin(), "--site", (char *)site,
                                 NULL});
    unsetenv("NOTIFY_SOCKET");
    hear(s, hrd, "STOPPING=1");
    cr_assert(strstr(said, "STATUS=site failed, stopping: "), "%s", said);
    cr_assert_eq(wait_status(hrd), 3, "a failed site: not status 3");
    /* started again (as an administrator would), it fails again: 3 again */
    hrd = start((char *[]){(char *)hrd_bin(), "--site", (char *)site, NULL});
    cr_assert_eq(wait_status(hrd), 3);
    /* a site stopped on request is 0: the status tells the two apart */
    snprintf(path, sizeof path, "%s/sysadm.ini", site);
    unlink(path);
    cr_assert_eq(run_hr(out, sizeof out, "site", "cold", NULL), 0, "%s", out);
    hrd = start((char *[]){(char *)hrd_bin(), "--site", (char *)site, NULL});
    WAIT_FOR(hr_ping(NULL) > 0, "the controller");
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    cr_assert_eq(wait_status(hrd), 0);
}

/* ---- settings in a configuration directory ---- */

static void put(const char *dir, const char *name, const char *text)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

/* An emptyDir's root (0777, open to all) holding the site that
 * hrd --config makes from its settings: the sizes of site.conf, its
 * policy, its start-up file.  At the next start the configuration's
 * copies replace what `hr site set` did; after a "reboot" (the site
 * wiped) the site is made again. */
Test(deploy, config_dir_makes_and_configures_the_site)
{
    char root[600], conf[600], dir[700];
    snprintf(root, sizeof root, "%s/volume", site);
    snprintf(conf, sizeof conf, "%s/etc", site);
    snprintf(dir, sizeof dir, "%s/site", root);
    cr_assert_eq(mkdir(root, 0777), 0);
    cr_assert_eq(chmod(root, 0777), 0);
    cr_assert_eq(mkdir(conf, 0755), 0);
    put(conf, "site.conf", "pmm.rambankSize=8M\npmm.maxBlocks=300\n"
                           "hrCtrl.maxBadness=7\npmm.maxblocks=5\n");
    put(conf, "sysadm.ini", "arun -g 2 /bin/sleep 1000\n");
    setenv("HR_SITE", dir, 1);
    for (int boot = 0; boot < 3; boot++) {
        pid_t hrd = start((char *[]){(char *)hrd_bin(), "--site", dir,
                                     "--config", conf, NULL});
        WAIT_FOR(strstr(ps, "\"id\": 2"), "group 2 from sysadm.ini");
        /* a key no reader takes is said, not silently ignored (the copy
         * read is the configuration's, line for line) */
        cr_assert_eq(run_hr(out, sizeof out, "log", NULL), 0);
        cr_assert(strstr(out, "site.conf:4: unknown key pmm.maxblocks (did "
                              "you mean pmm.maxBlocks?): ignored"), "%s", out);
        cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL),
                     0, "%s", out);
        cr_assert(strstr(out, "\"size\": 8388608"), "%s", out);
        cr_assert(strstr(out, "\"max_blocks\": 300"), "%s", out);
        cr_assert(strstr(out, "\"max_badness\": 7"), "%s", out);
        struct stat st;
        cr_assert_eq(stat(dir, &st), 0);
        cr_assert_eq(st.st_mode & 0777, 0700, "the site is not owner-only");
        /* a setting changed here lasts until the next start */
        cr_assert_eq(run_hr(out, sizeof out, "site", "set",
                            "hrCtrl.maxBadness=9", NULL), 0, "%s", out);
        cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s",
                     out);
        cr_assert_eq(wait_status(hrd), 0);
        char cmd[800];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir); /* a reboot */
        if (boot == 1)
            cr_assert_eq(system(cmd), 0);
    }
}

Test(deploy, a_config_dir_others_may_write_is_refused_with_the_fix)
{
    char conf[600];
    snprintf(conf, sizeof conf, "%s/etc", site);
    cr_assert_eq(mkdir(conf, 0755), 0);
    put(conf, "sysadm.ini", "arun -g 1 /bin/sleep 1000\n");
    char file[700];
    snprintf(file, sizeof file, "%s/sysadm.ini", conf);
    cr_assert_eq(chmod(file, 0666), 0);
    char *argv[] = {(char *)hrd_bin(), "--site", (char *)site, "--config",
                    conf, NULL};
    cr_assert_eq(run_all(out, sizeof out, 0, 0, argv), 1, "%s", out);
    cr_assert(strstr(out, "sysadm.ini: refused: others may write it "
                          "(mode 0666)"), "%s", out);
    cr_assert(strstr(out, "chmod go-w"), "%s", out);
    cr_assert_eq(chmod(file, 0644), 0);
    cr_assert_eq(chown(file, 4242, 4242), 0);
    cr_assert_eq(run_all(out, sizeof out, 0, 0, argv), 1, "%s", out);
    cr_assert(strstr(out, "belongs to uid 4242"), "%s", out);
    cr_assert_eq(chown(file, 0, 0), 0);
    cr_assert_eq(chmod(conf, 0777), 0);
    cr_assert_eq(run_all(out, sizeof out, 0, 0, argv), 1, "%s", out);
    cr_assert(strstr(out, "etc: refused: others may write it"), "%s", out);
    cr_assert_eq(chmod(conf, 0755), 0);
    cr_assert_eq(unlink(file), 0);
    cr_assert_eq(mkfifo(file, 0644), 0); /* not read, nor waited on */
    cr_assert_eq(run_all(out, sizeof out, 0, 0, argv), 1, "%s", out);
    cr_assert(strstr(out, "sysadm.ini: not a regular file"), "%s", out);
    cr_assert_eq(unlink(file), 0); /* a NUL byte: what follows it unseen */
    static const char nul[] = "echo A\n\0echo B\n";
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(nul, 1, sizeof nul - 1, f), sizeof nul - 1);
    fclose(f);
    cr_assert_eq(run_all(out, sizeof out, 0, 0, argv), 1, "%s", out);
    cr_assert(strstr(out, "sysadm.ini: it holds a NUL byte"), "%s", out);
    char missing[700];
    snprintf(missing, sizeof missing, "%s/nothing", site);
    argv[4] = missing;
    cr_assert_eq(run_all(out, sizeof out, 0, 0, argv), 1, "%s", out);
    cr_assert(strstr(out, "No such file"), "%s", out);
    cr_assert_eq(hr_ping(NULL) < 0, 1, "a refused controller runs");
}

/* A site open to others (an emptyDir's root is 0777) is refused with what
 * is wrong and how to mend it, not a bare "permission". */
Test(deploy, a_site_open_to_others_is_told_how_to_fix_it)
{
    cr_assert_eq(chmod(site, 0777), 0);
    char *argv[] = {(char *)hrd_bin(), "--site", (char *)site, NULL};
    cr_assert_eq(run_all(out, sizeof out, 0, 0, argv), 1, "%s", out);
    cr_assert(strstr(out, "is open to others (mode 0777)"), "%s", out);
    cr_assert(strstr(out, "chmod 700"), "%s", out);
    cr_assert(strstr(out, "/site, which --config makes"), "%s", out);
    /* and the tool, where it opens the site itself */
    const char *cmds[][3] = {{"site", "create"}, {"site", "info"},
                             {"pmm", "ls"}};
    for (int i = 0; i < 3; i++) {
        char *hr[] = {HR_BIN, (char *)cmds[i][0], (char *)cmds[i][1], NULL};
        cr_assert_eq(run_all(out, sizeof out, 0, 0, hr), 1, "%s", out);
        cr_assert(strstr(out, "is open to others (mode 0777)"), "%s", out);
        cr_assert(strstr(out, "chmod 700"), "%s", out);
    }
    cr_assert_eq(chmod(site, 0700), 0);
}

/* As the unit runs it (User=%i): hrd as a user of its own, the site that
 * systemd's RuntimeDirectory= made for that user (0700, the user's), the
 * settings in a root-owned ConfigurationDirectory= the user can only
 * read.  READY=1 comes from that hrd; the site and its actors are the
 * user's. */
Test(deploy, as_the_units_user)
{
    struct passwd *pw = second_user();
    char run[600], etc[600];
    snprintf(run, sizeof run, "%s/run-hrtest2", site);
    snprintf(etc, sizeof etc, "%s/etc-hrtest2", site);
    cr_assert_eq(mkdir(run, 0700), 0);
    cr_assert_eq(chown(run, pw->pw_uid, pw->pw_gid), 0);
    cr_assert_eq(mkdir(etc, 0755), 0);
    put(etc, "site.conf", "pmm.rambankSize=4M\nhrCtrl.maxBadness=3\n");
    put(etc, "sysadm.ini", "arun -g 1 /bin/sleep 1000\n");
    cr_assert_eq(chmod(site, 0755), 0); /* as /run is */
    char env[200];
    int s = manager_socket(1, env, sizeof env);
    setenv("NOTIFY_SOCKET", env, 1);
    pid_t hrd = start_as(pw->pw_uid, pw->pw_gid,
                         (char *[]){(char *)hrd_bin(), "--site", run,
                                    "--config", etc, NULL});
    unsetenv("NOTIFY_SOCKET");
    hear(s, hrd, "READY=1");
    setenv("HR_SITE", run, 1);
    WAIT_FOR(pid_of("sleep") > 0, "the actor of sysadm.ini");
    char path[700], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid_of("sleep"));
    FILE *f = fopen(path, "r");
    unsigned uid = 0;
    while (f && fgets(line, sizeof line, f))
        sscanf(line, "Uid: %u", &uid);
    if (f)
        fclose(f);
    cr_assert_eq(uid, pw->pw_uid, "the actor runs as uid %u", uid);
    struct stat st;
    snprintf(path, sizeof path, "%s/ram.bank", run);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_uid, pw->pw_uid, "the bank is not the user's");
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0,
                 "%s", out);
    cr_assert(strstr(out, "\"size\": 4194304"), "not site.conf's: %s", out);
    snprintf(path, sizeof path, "%s/sysadm.ini", run);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(st.st_uid == pw->pw_uid && (st.st_mode & 0777) == 0600,
              "the copy of sysadm.ini is not the user's alone");
    cr_assert_eq(kill(hrd, SIGTERM), 0);
    hear(s, hrd, "STOPPING=1");
    cr_assert_eq(wait_status(hrd), 0);
    cr_assert_eq(chmod(site, 0700), 0);
}

/* ---- PID 1 of a container ---- */

/* The host pids of the processes in the PID namespace of host pid ns1. */
static int ns_pids(pid_t ns1, pid_t *pids, int max, int *zombies)
{
    char path[64], want[64], got[64];
    snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)ns1);
    ssize_t k = readlink(path, want, sizeof want - 1);
    cr_assert_gt(k, 0, "%s: %s", path, strerror(errno));
    want[k] = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    *zombies = 0;
    while ((e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/ns/pid", pid);
        k = readlink(path, got, sizeof got - 1);
        if (k <= 0 || (got[k] = 0, strcmp(got, want) != 0))
            continue;
        char state;
        if (proc_state(pid, &state, NULL) && state == 'Z')
            ++*zombies;
        if (n < max)
            pids[n++] = pid;
    }
    closedir(d);
    return n;
}

/* The host pid of the process whose pid is nspid inside the namespace. */
static pid_t host_pid(pid_t ns1, int nspid)
{
    pid_t pids[512];
    int z, n = ns_pids(ns1, pids, 512, &z);
    for (int i = 0; i < n; i++) {
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", (int)pids[i]);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f)) {
            int a, b;
            if (sscanf(line, "NSpid: %d %d", &a, &b) == 2 && b == nspid) {
                fclose(f);
                return pids[i];
            }
        }
        if (f)
            fclose(f);
    }
    return 0;
}

/* unshare --pid --fork --mount-proc hrd: the namespace's PID 1, as in a
 * container; it says ready on fd 3.  Its host pid in *ns1. */
static pid_t container(pid_t *ns1)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        if (p[1] != 3) {
            dup2(p[1], 3);
            close(p[1]);
        }
        execl("/usr/bin/unshare", "unshare", "--pid", "--fork", "--mount-proc",
              hrd_bin(), "--site", site, "--ready-fd", "3", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char c;
    cr_assert_eq(read(p[0], &c, 1), 1, "hrd in its namespace never ready");
    close(p[0]);
    char path[64], kids[64] = "";
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid,
             (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert(f && fgets(kids, sizeof kids, f), "unshare has no child");
    fclose(f);
    *ns1 = atoi(kids);
    snprintf(path, sizeof path, "/proc/%d/status", (int)*ns1);
    f = fopen(path, "r");
    char line[256];
    int inner = 0;
    while (f && fgets(line, sizeof line, f))
        sscanf(line, "NSpid: %*d %d", &inner);
    if (f)
        fclose(f);
    cr_assert_eq(inner, 1, "hrd is not PID 1 of its namespace");
    return pid;
}

static int zombies_in(pid_t ns1)
{
    pid_t pids[512];
    int z;
    ns_pids(ns1, pids, 512, &z);
    return z;
}

/* As a container's entrypoint: 100 actor deaths, each leaving orphans
 * (the namespace's PID 1 gets them), and no zombie left; an actor killed
 * from outside is hot-restarted inside; hrd itself SIGKILLed, as a
 * runtime does (the kernel then ends the whole namespace), and a new
 * container on the same site has its groups and blocks back; SIGTERM
 * stops it gracefully, status 0. */
Test(deploy, hrd_as_pid_1_of_a_container)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", "--max-badness",
                        "1000000", NULL), 0, "%s", out);
    pmm_bank *b = bank_open();
    void *p;
    cr_assert_eq(pmm_alloc(b, "deploy.keep", 4096, "K", 2, 0, &p, NULL), 0);
    strcpy(p, "warm");
    pmm_bank_close(b);
    pid_t ns1, ns = container(&ns1);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--name",
                        "orphaner", ORPHAN_BIN, "100", NULL), 0, "%s", out);
    char done[600];
    snprintf(done, sizeof done, "%s/orphan.done", site);
    WAIT_FOR(access(done, F_OK) == 0, "100 deaths of the orphaner");
    WAIT_FOR(zombies_in(ns1) == 0, "no zombie in the namespace");
    cr_assert(strstr(ps, "\"restarts\": 100"), "%s", ps);
    /* killed from outside: a hot restart inside */
    int inner = pid_of("orphaner");
    pid_t host = host_pid(ns1, inner);
    cr_assert_gt(host, 0, "actor %d not found in the namespace", inner);
    cr_assert_eq(kill(host, SIGKILL), 0);
    WAIT_FOR(pid_of("orphaner") > 0 && pid_of("orphaner") != inner,
             "the orphaner started again");
    cr_assert(strstr(ps, "\"restarts\": 101"), "%s", ps);
    /* the runtime kills the container's PID 1 */
    cr_assert_eq(kill(ns1, SIGKILL), 0);
    /* (unshare says so its own way: util-linux 2.38 cannot re-raise
     * SIGKILL and exits 1; the namespace is gone all the same) */
    cr_assert_neq(wait_status(ns), 0, "unshare's status after SIGKILL");
    cr_assert_lt(hr_ping(NULL), 0, "a controller still answers");
    /* a new container on the same site: warm */
    ns = container(&ns1);
    WAIT_FOR(pid_of("orphaner") > 0, "the orphaner back in the new container");
    cr_assert(strstr(ps, "\"id\": 1"), "%s", ps);
    b = bank_open();
    cr_assert_eq(pmm_alloc(b, "deploy.keep", 4096, "K", 2, PMM_RETRIEVE, &p,
                           NULL), 0);
    cr_assert_str_eq((char *)p, "warm");
    pmm_bank_close(b);
    WAIT_FOR(zombies_in(ns1) == 0, "no zombie in the new namespace");
    /* SIGTERM to PID 1 (which ignores signals it has no handler for):
     * a graceful stop of the site, and status 0 */
    cr_assert_eq(kill(ns1, SIGTERM), 0);
    cr_assert_eq(wait_status(ns), 0, "hrd as PID 1 after SIGTERM");
    char log[600], text[65536] = "";
    snprintf(log, sizeof log, "%s/console.log", site);
    FILE *f = fopen(log, "r");
    size_t m = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[m] = 0;
    if (f)
        fclose(f);
    cr_assert(strstr(text, "the previous controller died: site restart"),
              "%s", text);
    cr_assert(strstr(text, "controller stopped; persistent memory kept"),
              "%s", text);
}

/* hr site stop from outside the container, on the site it shares: the
 * controller says it is PID 1 (its namespace's); the stop had waited on
 * a pidfd of this namespace's PID 1, which never ends, and hung for ever.
 * It waits for the process the kernel names behind the socket. */
Test(deploy, site_stop_from_outside_a_container_returns)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    pid_t ns1, ns = container(&ns1);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "/bin/sleep",
                        "1000", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    cr_assert_eq(wait_status(ns), 0, "the container's end after the stop");
    cr_assert_lt(hr_ping(NULL), 0, "a controller still answers");
    cr_assert_eq(kill(ns1, 0), -1, "the container's PID 1 is gone");
}

/* The cgroup the controller of site dir records (its site file). */
static void cgroup_of(const char *dir, char *got, size_t cap)
{
    char path[700];
    snprintf(path, sizeof path, "%s/cgroup", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(got, 1, cap - 1, f);
    got[n] = 0;
    fclose(f);
}

/* Two containers, each with its controller as PID 1, sharing the
 * machine's cgroup tree (no cgroup namespace, as unshare --pid gives):
 * both had made and taken the cgroup hrd.1, and each ended the other's
 * actors as trees left behind (two test runs side by side met it). Each
 * has a cgroup of its own, and a restart in one leaves the other's
 * actor alone. */
Test(deploy, two_containers_in_one_cgroup_tree_keep_apart)
{
    char b[600], ca[4096], cb[4096], json[65536];
    snprintf(b, sizeof b, "%s.b", site);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "--site", b, "site", "create", NULL),
                 0, "%s", out);
    pid_t ns1a, nsa = container(&ns1a), ns1b, nsb;
    const char *a = site;
    site = b; /* container() starts the controller of site */
    nsb = container(&ns1b);
    site = a;
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--name", "a",
                        "/bin/sleep", "1000", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "--site", b, "arun", "-g", "1",
                        "--name", "b", "/bin/sleep", "1000", NULL), 0, "%s", out);
    cgroup_of(a, ca, sizeof ca);
    cgroup_of(b, cb, sizeof cb);
    int apart = strcmp(ca, cb) != 0, b_lives = 0;
    const char *at = hr_ps(b, 0, json, sizeof json) > 0
                         ? strstr(json, "\"name\": \"b\", \"pid\": ") : NULL;
    pid_t hb = at ? host_pid(ns1b, atoi(at + strlen("\"name\": \"b\", "
                                                     "\"pid\": "))) : 0;
    refresh();
    int inner = pid_of("a");
    pid_t ha = host_pid(ns1a, inner);
    if (apart && hb > 0 && ha > 0 && kill(ha, SIGKILL) == 0) {
        WAIT_FOR(pid_of("a") > 0 && pid_of("a") != inner, "a's group restarted");
        b_lives = kill(hb, 0) == 0;
    }
    /* both containers end whatever was seen: one left would hold the
     * test's output open */
    kill(ns1a, SIGTERM);
    kill(ns1b, SIGTERM);
    int sa = wait_status(nsa), sb = wait_status(nsb);
    snprintf(json, sizeof json, "rm -rf '%s'", b);
    cr_assert_eq(system(json), 0);
    cr_assert(apart, "both controllers in one cgroup: %s", ca);
    cr_assert(hb > 0 && ha > 0, "the actors a %d and b %d in their containers",
              (int)ha, (int)hb);
    cr_assert(b_lives, "b's actor was ended by a's controller");
    cr_assert_eq(sa, 0);
    cr_assert_eq(sb, 0);
}

/* hr site start --config: the tool hands the directory to hrd (absolute,
 * whatever the tool's working directory); elsewhere it is refused. */
Test(deploy, site_start_takes_a_config_dir)
{
    char conf[600];
    snprintf(conf, sizeof conf, "%s/etc", site);
    cr_assert_eq(mkdir(conf, 0755), 0);
    put(conf, "site.conf", "hrCtrl.maxBadness=7\n");
    put(conf, "sysadm.ini", "arun -g 3 /bin/sleep 1000\n");
    cr_assert_eq(chdir(site), 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", "--config", "etc",
                        NULL), 0, "%s", out);
    WAIT_FOR(strstr(ps, "\"id\": 3"), "group 3 from the config's sysadm.ini");
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0,
                 "%s", out);
    cr_assert(strstr(out, "\"max_badness\": 7"), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", "--config", "etc",
                        NULL), 2, "--config goes with start only");
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", "--config",
                        "no-such-dir", NULL), 1, "a missing config dir");
}
