/* SPDX-License-Identifier: MIT */
/*
 * test_trees.c - an actor is what it started, whatever it sheds (issue 21,
 * items 2, 4, 5): descendants that leave their session and clear their
 * environment are ended in both modes (a cgroup per actor, and the
 * fallback without cgroups); held sockets survive controller crashes (the
 * next controller takes them back from the live actors); a unix path
 * another actor holds is refused as a TCP port in use.
 *
 * The cgroup cases need root and a cgroup v2 mount: the test moves itself
 * into a fresh cgroup, so that the controller it starts has a subtree of
 * its own; without them they are skipped, saying why.  The fallback is
 * asked for with HRD_CGROUPS=off in the controller's environment.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "cgroup_helpers.h"
#include "ctl_helpers.h"

static char out[65536];
static const char *site;
static void start(void) { site_start(out, sizeof out); }

/* A site whose controller will keep each actor in a cgroup (mode()
 * starts it: an assertion in a test's body, not in its init, still runs
 * the fini that stops it). */
static void up_cgroups(void)
{
    site = site_new(0, 0);
    unsetenv("HRD_CGROUPS");
    cg_enter();
}

/* A site whose controller will have no cgroups: the fallback. */
static void up_fallback(void)
{
    site = site_new(0, 0);
    setenv("HRD_CGROUPS", "off", 1);
}

/* Start the site and check its mode: cgroups where the test has one. */
static void started(void)
{
    char buf[4200];
    start();
    if (cg_dir[0]) {
        cr_assert_not_null(site_file("cgroup", buf, sizeof buf),
                           "no cgroup mode: %s", console());
        cr_assert(strncmp(buf, cg_dir, strlen(cg_dir)) == 0, "%s", buf);
    } else {
        cr_assert_null(site_file("cgroup", buf, sizeof buf));
        cr_assert(strstr(console(), "no cgroup (" "HRD_CGROUPS=off)"), "%s",
                  console());
    }
}

TestSuite(trees, .fini = cg_site_down, .timeout = 300);

/* The live processes of this site's tree_actors, found by their command
 * line (the mark SITE), whatever their environment: their pids. */
static int site_procs(pid_t *pids, int max)
{
    static char cmd[8192];
    DIR *dir = opendir("/proc");
    struct dirent *e;
    int n = 0;
    cr_assert_not_null(dir);
    while ((e = readdir(dir)) && n < max) {
        char path[64];
        int pid = atoi(e->d_name);
        if (pid <= 0 || !proc_runs(pid))
            continue; /* gone, or a zombie: not running */
        snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
        int fd = open(path, O_RDONLY);
        ssize_t k = fd < 0 ? -1 : read(fd, cmd, sizeof cmd - 1);
        if (fd >= 0)
            close(fd);
        if (k <= 0)
            continue;
        cmd[k] = 0;
        const char *arg0 = cmd, *mode = arg0 + strlen(arg0) + 1;
        const char *mark = mode < cmd + k ? mode + strlen(mode) + 1 : cmd + k;
        const char *base = strrchr(arg0, '/');
        if (mark < cmd + k && strcmp(base ? base + 1 : arg0, "tree_actor") == 0 &&
            strcmp(mark, site) == 0)
            pids[n++] = pid;
    }
    closedir(dir);
    return n;
}

static int is_one_of(pid_t pid, const pid_t *set, int n)
{
    for (int i = 0; i < n; i++)
        if (set[i] == pid)
            return 1;
    return 0;
}

/* Wait until the site runs exactly want processes, none of old (n_old):
 * their pids into now (if not NULL). */
static void settle(int want, const pid_t *old, int n_old, pid_t *now_pids,
                   const char *when)
{
    pid_t pids[64];
    int n = 0, stale = 0;
    static char seen[4096];
    for (struct poll_wait w = poll_begin(when);; poll_pause(&w, seen)) {
        n = site_procs(pids, 64);
        stale = 0;
        for (int i = 0; i < n; i++)
            stale += is_one_of(pids[i], old, n_old);
        if (n == want && !stale)
            break;
        snprintf(seen, sizeof seen, "%d processes of the site run (%d of an "
                 "earlier run), not %d; the log:\n%.3000s", n, stale, want,
                 console());
    }
    if (now_pids)
        memcpy(now_pids, pids, sizeof *pids * (size_t)n);
}

/* How many of pids (n) the cgroup.procs file procs lists; -1 when it
 * cannot be read (no cgroup). */
static int procs_holding(const char *procs, const pid_t *pids, int n)
{
    static char buf[8192];
    FILE *f = fopen(procs, "r");
    if (!f)
        return -1;
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = 0;
    int held = 0;
    for (char *p = buf, *end; *p; p = end) {
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        held += is_one_of((pid_t)pid, pids, n);
    }
    return held;
}

/* With cgroups, once the site has settled: one cgroup below the site's,
 * holding every process of the site (pids, n), which were made in it;
 * those of earlier runs are gone.  Without, nothing to see. */
static void one_cgroup(const pid_t *pids, int n)
{
    char site_cg[4200], path[4600];
    if (!cg_dir[0])
        return;
    cr_assert_not_null(site_file("cgroup", site_cg, sizeof site_cg));
    static char seen[600];
    for (struct poll_wait w = poll_begin("one cgroup holding the site's "
                                         "processes");; poll_pause(&w, seen)) {
        DIR *dir = opendir(site_cg);
        struct dirent *e;
        int cgroups = 0, held = 0;
        cr_assert_not_null(dir, "%s: %s", site_cg, strerror(errno));
        while ((e = readdir(dir))) {
            snprintf(path, sizeof path, "%s/%s/cgroup.procs", site_cg, e->d_name);
            int k = e->d_name[0] != '.' ? procs_holding(path, pids, n) : -1;
            if (k < 0)
                continue; /* a file of the site's cgroup, not a cgroup */
            cgroups++;
            held += k;
        }
        closedir(dir);
        if (cgroups == 1 && held == n)
            return;
        snprintf(seen, sizeof seen, "%d cgroups under %.400s holding %d of "
                 "the site's %d processes", cgroups, site_cg, held, n);
    }
}

/* The actor runs `setsid env -i tree_actor serve` as its child, which
 * keeps the held socket: group restarts, a stop and a controller crash
 * leave no process of the site. */
static void escaped_descendants_end(void)
{
    char spec[300];
    pid_t gen[2], next[2];
    started();
    snprintf(spec, sizeof spec, "unix:%s/t.sock", site);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--listen", spec,
                        TREE_BIN, "escape", site, NULL), 0, "%s", out);
    settle(2, NULL, 0, gen, "first run");
    one_cgroup(gen, 2);
    for (int r = 1; r <= 3; r++) {
        refresh();
        char pid[16];
        snprintf(pid, sizeof pid, "%d", pid_of("tree_actor"));
        cr_assert_eq(run_hr(out, sizeof out, "akill", pid, NULL), 0, "%s", out);
        settle(2, gen, 2, next, "after a group restart");
        one_cgroup(next, 2);
        memcpy(gen, next, sizeof gen);
    }
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    settle(0, NULL, 0, NULL, "after hr site stop");
    start(); /* the group starts again */
    settle(2, NULL, 0, gen, "after hr site start");
    ctl_crash_controller();
    settle(2, NULL, 0, NULL, "after the controller died (the actors outlive it)");
    start();
    settle(2, gen, 2, next, "after the next controller");
    cr_assert(strstr(console(), "left by actors of an earlier controller"), "%s",
              console());
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    settle(0, NULL, 0, NULL, "after the last stop");
}

Test(trees, escaped_descendants_end_with_cgroups, .init = up_cgroups)
{
    escaped_descendants_end();
}

Test(trees, escaped_descendants_end_without_cgroups, .init = up_fallback)
{
    escaped_descendants_end();
}

/* A descendant that moves itself out of its actor's cgroup into the
 * site's cgroup itself (as the controller's user may: the subtree is
 * theirs) is no way out: the group restart's sweep ends it, the next
 * controller ends what a crashed one left there, and a stop ends it
 * (before, it outlived all three, parented to nobody, and kept the
 * site's cgroup from being removed). */
Test(trees, a_descendant_moved_into_the_site_cgroup_ends, .init = up_cgroups)
{
    char spec[300];
    pid_t gen[2], seen[8];
    started();
    cr_assert(cg_dir[0], "cgroups only"); /* (up_cgroups skips without) */
    snprintf(spec, sizeof spec, "unix:%s/t.sock", site);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--listen", spec,
                        TREE_BIN, "migrate", site, NULL), 0, "%s", out);
    settle(2, NULL, 0, gen, "first run");
    refresh();
    pid_t actor = pid_of("tree_actor"), moved = gen[0] == actor ? gen[1] : gen[0];
    char site_cg[4200], procs[4400];
    cr_assert_not_null(site_file("cgroup", site_cg, sizeof site_cg));
    snprintf(procs, sizeof procs, "%s/cgroup.procs", site_cg);
    WAIT_FOR(procs_holding(procs, &moved, 1) == 1,
             "the descendant in the site's cgroup");
    char pid[16];
    snprintf(pid, sizeof pid, "%d", actor);
    cr_assert_eq(run_hr(out, sizeof out, "akill", pid, NULL), 0, "%s", out);
    POLL_UNTIL(!proc_runs(moved) && !proc_runs(actor),
               "the group restart to end the one that moved");
    POLL_UNTIL(strstr(console(), "moved into the site's cgroup itself"),
               "the controller's word that it ended it");
    /* the next run's may move out before or after the sweeps of the
     * restart: whatever runs now, the next controller ends it */
    WAIT_FOR(pid_of("tree_actor") > 0 && pid_of("tree_actor") != actor,
             "the group restarted");
    int n = site_procs(seen, 8);
    ctl_crash_controller();
    start();
    settle(2, seen, n, gen, "after the next controller");
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    settle(0, NULL, 0, NULL, "after the stop");
}

/* ---- held sockets across controller crashes (item 4) ---- */

/* What became of a connection: answered; refused (nobody listened);
 * reset (queued on a socket that closed); closed unanswered (accepted
 * by an actor that was then killed: a client connection is lost in a
 * restart, SPEC 5); anything else (an error of another kind, or no answer
 * within 10 s). */
enum { OK, REFUSED, RESET, CLOSED, LOST, COUNTS };

static int fate(ssize_t k, int err)
{
    return k > 0 ? OK : k == 0 ? CLOSED : err == ECONNREFUSED ? REFUSED
                                        : err == ECONNRESET ? RESET : LOST;
}

/* The client, in a child process: a connect to port every 0.5 ms, each
 * connection's answer (an actor's pid) read when it comes, until stop is
 * readable; then the answers still due, each counted lost only past the
 * wait bound (poll_bound_s(): a hang, not a slow machine).  Writes its
 * counts (by fate) to report. */
static void client(int port, int stop, int report)
{
    static struct pollfd p[65536];
    struct rlimit rl;
    int n = 0, counts[COUNTS] = {0}, stopping = 0;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
    setrlimit(RLIMIT_NOFILE, &rl);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    double until = 0;
    for (;;) {
        if (!stopping) {
            struct pollfd s = {.fd = stop, .events = POLLIN};
            if (poll(&s, 1, 0) > 0) {
                stopping = 1;
                until = now() + poll_bound_s();
            }
        }
        if (stopping && (n == 0 || now() > until))
            break;
        if (!stopping && n < (int)rl.rlim_cur - 16) {
            int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (c >= 0 && connect(c, (struct sockaddr *)&a, sizeof a) < 0 &&
                errno != EINPROGRESS) {
                counts[fate(-1, errno)]++;
                close(c);
            } else if (c >= 0) {
                p[n++] = (struct pollfd){.fd = c, .events = POLLIN};
            }
        }
        if (poll(p, (nfds_t)n, 0) > 0)
            for (int i = 0; i < n; i++) {
                if (!p[i].revents)
                    continue;
                char buf[32];
                ssize_t k = read(p[i].fd, buf, sizeof buf);
                counts[fate(k, errno)]++;
                close(p[i].fd);
                p[i--] = p[--n];
            }
        pace_us(500); /* the client's rhythm: a connect every 0.5 ms */
    }
    counts[LOST] += n;
    _exit(write(report, counts, sizeof counts) == sizeof counts ? 0 : 1);
}

/* 20 controller SIGKILLs (HR_TREES_KILLS), each followed by the next
 * controller, while the client connects every 0.5 ms: not one connection
 * refused, reset or lost; only those an actor had accepted when it was
 * killed may close unanswered. */
static void held_sockets_survive_controller_kills(void)
{
    char spec[64], kills_s[16];
    int port = free_port(), stop[2], report[2], counts[COUNTS];
    int kills = (int)test_count("HR_TREES_KILLS", 20);
    started();
    snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", port);
    snprintf(kills_s, sizeof kills_s, "%d", kills);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--listen", spec,
                        TREE_BIN, "serve", site, NULL), 0, "%s", out);
    settle(1, NULL, 0, NULL, "first run");
    cr_assert_eq(pipe(stop), 0);
    cr_assert_eq(pipe(report), 0);
    pid_t c = fork();
    if (c == 0) {
        close(stop[1]); /* a test that dies stops it too */
        client(port, stop[0], report[1]);
    }
    for (int i = 0; i < kills; i++) {
        ctl_crash_controller();
        start();
    }
    cr_assert_eq(write(stop[1], "x", 1), 1);
    cr_assert_eq(read(report[0], counts, sizeof counts), (ssize_t)sizeof counts);
    cr_assert_eq(wait_status(c), 0);
    int all = 0;
    for (int i = 0; i < COUNTS; i++)
        all += counts[i];
    cr_log_info("%d controller kills, %d connections: %d answered, %d refused, "
                "%d reset, %d closed unanswered by a killed actor, %d lost",
                kills, all, counts[OK], counts[REFUSED], counts[RESET],
                counts[CLOSED], counts[LOST]);
    cr_assert_gt(counts[OK], 0);
    cr_assert_eq(counts[REFUSED], 0, "%d of %d refused", counts[REFUSED], all);
    cr_assert_eq(counts[RESET], 0, "%d of %d reset", counts[RESET], all);
    cr_assert_eq(counts[LOST], 0, "%d of %d lost", counts[LOST], all);
    int taken = 0;
    for (const char *p = console(); (p = strstr(p, "took 1 listening socket back"));
         p++)
        taken++;
    cr_assert_eq(taken, kills, "%s", console());
}

Test(trees, held_sockets_survive_controller_kills_with_cgroups, .init = up_cgroups)
{
    held_sockets_survive_controller_kills();
}

Test(trees, held_sockets_survive_controller_kills_without_cgroups,
     .init = up_fallback)
{
    held_sockets_survive_controller_kills();
}

/* ---- unix paths (item 5, item 12) ---- */

/* What the socket at path answers (an actor's pid), or -errno. */
static int ask_unix(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    char buf[32] = "";
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = -errno;
        close(s);
        return e;
    }
    ssize_t k = read(s, buf, sizeof buf - 1);
    close(s);
    return k > 0 ? atoi(buf) : -EIO;
}

Test(trees, a_unix_path_another_actor_holds_is_refused, .init = up_fallback)
{
    char spec[320], path[100];
    started();
    snprintf(path, sizeof path, "%s/u.sock", site);
    snprintf(spec, sizeof spec, "unix:%s", path);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--listen", spec,
                        TREE_BIN, "serve", site, NULL), 0, "%s", out);
    int first = atoi(out);
    int r = run_all(out, sizeof out, 0, 0, (char *[]){HR_BIN, "arun", "-g", "2", "--listen", spec,
                              TREE_BIN, "serve", (char *)site, NULL});
    cr_assert_eq(r, 1, "exit %d: %s", r, out);
    cr_assert(strstr(out, "address in use"), "%s", out);
    refresh();
    cr_assert_null(strstr(ps, "\"group\": 2"), "%s", ps);
    cr_assert_eq(ask_unix(path), first, "group 1 unreachable");
    /* a file where nobody listens is stale: replaced */
    char stale[100];
    snprintf(stale, sizeof stale, "%s/stale.sock", site);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", stale);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    close(s);
    snprintf(spec, sizeof spec, "unix:%s", stale);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "3", "--listen", spec,
                        TREE_BIN, "serve", site, NULL), 0, "%s", out);
    cr_assert_eq(ask_unix(stale), atoi(out));
    /* the actors leave: their socket files go */
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "1", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "3", NULL), 0, "%s", out);
    struct stat st;
    cr_assert_eq(lstat(path, &st), -1, "%s left after its actor", path);
    cr_assert_eq(lstat(stale, &st), -1, "%s left after its actor", stale);
}

Test(trees, a_dangling_symlink_given_to_listen_is_refused_clearly,
     .init = up_fallback)
{
    char link[100], spec[320];
    started();
    snprintf(link, sizeof link, "%s/l.sock", site);
    snprintf(spec, sizeof spec, "unix:%s", link);
    cr_assert_eq(symlink("nowhere", link), 0);
    int r = run_all(out, sizeof out, 0, 0, (char *[]){HR_BIN, "arun", "-g", "1", "--listen", spec,
                              TREE_BIN, "serve", (char *)site, NULL});
    /* the tool refuses it before asking (a usage error); the controller
     * refuses it too, for a library caller (held.c: -ELOOP) */
    cr_assert_eq(r, 2, "exit %d: %s", r, out);
    cr_assert(strstr(out, "is a symbolic link"), "%s", out);
    cr_assert_null(strstr(out, "Address already in use"), "%s", out);
    struct stat st;
    cr_assert_eq(lstat(link, &st), 0);
    cr_assert(S_ISLNK(st.st_mode), "the link was replaced");
    refresh();
    cr_assert(strstr(ps, "\"groups\": []"), "nothing registered: %s", ps);
}

/* Port 0 is any port the kernel picks: two actors asking for it on one
 * address are both started, each on a port of its own. */
Test(trees, two_actors_on_port_0_are_not_in_each_others_way, .init = up_fallback)
{
    started();
    for (int g = 1; g <= 2; g++) {
        char group[4];
        snprintf(group, sizeof group, "%d", g);
        int r = run_all(out, sizeof out, 0, 0,
                        (char *[]){HR_BIN, "arun", "-g", group, "--listen",
                                   "tcp:127.0.0.1:0", TREE_BIN, "serve",
                                   (char *)site, NULL});
        cr_assert_eq(r, 0, "group %d: %s", g, out);
    }
    settle(2, NULL, 0, NULL, "two actors on port 0");
}
