/* SPDX-License-Identifier: MIT */
/*
 * test_loop.c - the controller's loop drives its machines (issue 21, items
 * 1 and 3; SPEC 3.2 "The loop drives the machines"):
 *  - a start that cannot succeed (its held port taken by another process)
 *    backs off instead of recursing until the controller's stack runs out:
 *    the controller stays up and answers `hr ps` throughout, says the group
 *    is backing off, why and until when, logs a bounded number of lines,
 *    and starts the group as soon as the port is free again;
 *  - `hr site stop` racing a site restart wins: no controller is left.
 * HR_BACKOFF_S sets how long the failing start is watched (default 3; the
 * issue's figure is 30), HR_RACES the number of races (default 200).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hotrestart/hr.h>

#include "common.h"
#include "ctl_helpers.h"

static char out[65536];
static const char *site;

static void up(void)
{
    site = site_new(0, 0);
    cr_assert_eq(run_hr(out, sizeof out, "site", "create", NULL), 0, "%s", out);
}

TestSuite(loop, .init = up, .fini = site_stop_drop, .timeout = 300);

static long knob(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && atol(v) > 0 ? atol(v) : dflt;
}

/* A TCP listener on 127.0.0.1 (port 0: any), its port in *port. */
static int listener(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)*port)};
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(s, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0, "bind: %m");
    cr_assert_eq(listen(s, 16), 0);
    cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return s;
}

/* Lines in the site's console.log (and its rotated half). */
static long log_lines(void)
{
    long n = 0;
    const char *names[] = {"console.log", "console.log.1"};
    for (int i = 0; i < 2; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", site, names[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        for (int c; (c = fgetc(f)) != EOF;)
            n += c == '\n';
        fclose(f);
    }
    return n;
}

Test(loop, a_start_that_cannot_succeed_backs_off_and_the_controller_answers)
{
    long watch_s = knob("HR_BACKOFF_S", 3);
    int port = 0, taken = listener(&port);
    close(taken); /* the actor's port, free for its first start */
    char spec[64];
    snprintf(spec, sizeof spec, "tcp:127.0.0.1:%d", port);
    /* no escalation to the rescue: the policy allows a million restarts */
    cr_assert_eq(run_hr(out, sizeof out, "site", "set", "hrCtrl.maxBadness=1000000",
                        NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--listen", spec,
                        ACTOR_BIN, "A", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    /* another process takes the port while the site is stopped: every
     * start of the group now fails to make its held socket */
    taken = listener(&port);
    long lines0 = log_lines();
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    int hrd = hr_ping(NULL);
    cr_assert_gt(hrd, 0);
    double t0 = now(), worst = 0;
    int said = 0, asks = 0;
    char text[65536];
    while (now() - t0 < (double)watch_s) {
        double a = now();
        int r = hr_ps(NULL, 1, text, sizeof text);
        double took = now() - a;
        worst = took > worst ? took : worst;
        asks++;
        cr_assert_geq(r, 0, "hr ps failed after %.1f s: %s", now() - t0,
                      strerror(-r));
        cr_assert_eq(hr_ping(NULL), hrd, "the controller is the same one");
        if (strstr(text, "backing off") && strstr(text, "Address already in use") &&
            strstr(text, "next start in"))
            said = 1;
        pace_us(20000); /* an ask every 20 ms over the watch */
    }
    long lines = log_lines() - lines0;
    fprintf(stderr, "loop: %d hr ps over %ld s of failing starts, the slowest "
            "%.1f ms; %ld log lines\n", asks, watch_s, worst * 1e3, lines);
    cr_assert(said, "hr ps never said the group backs off, why and when:\n%s",
              text);
    /* at most a start a second once the back-off has grown, each a few
     * lines: not the hundreds of thousands of a start retried at once */
    cr_assert_lt(lines, 60 + 8 * watch_s, "%ld lines in %ld s", lines, watch_s);
    refresh();
    cr_assert(strstr(ps, "\"backoff\": {\"fails\": "), "%s", ps);
    /* the metrics tell it from a group restarting in a millisecond */
    static char m[65536];
    WAIT_FOR(hr_metrics(NULL, m, sizeof m) > 0 &&
             strstr(m, "hr_groups{state=\"backoff\"} 1\n"),
             "the metrics to count a group backing off");
    /* the port is free again: the next try starts the group */
    close(taken);
    WAIT_FOR(pid_of("test_actor") > 0, "the group to start once the port is free");
    cr_assert(!strstr(ps, "\"backoff\": {"), "no back-off once started:\n%s", ps);
    /* a crash after a good start restarts at once, with no back-off */
    int pid = pid_of("test_actor");
    kill(pid, SIGKILL);
    WAIT_FOR(pid_of("test_actor") > 0 && pid_of("test_actor") != pid,
             "the crashed actor to restart");
    cr_assert(!strstr(ps, "\"backoff\": {"), "%s", ps);
}

/* 1 when some process holds the site's controller lock. */
static int lock_held(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/controller.lock", site);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 1};
    int r = fcntl(fd, F_OFD_GETLK, &fl);
    close(fd);
    return r == 0 && fl.l_type != F_UNLCK;
}

Test(loop, a_stop_racing_a_site_restart_wins)
{
    long races = knob("HR_RACES", 200);
    uint64_t rng = test_seed("loop: a stop racing a site restart");
    int refused = 0;
    for (long i = 0; i < races; i++) {
        cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
        pid_t r = fork();
        if (r == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            dup2(null, 2);
            execl(HR_BIN, "hr", "site", "restart", (char *)NULL);
            _exit(127);
        }
        pace_us(test_rand(&rng) % 40000); /* 0-40 ms later */
        int st = run_hr(out, sizeof out, "site", "stop", NULL);
        wait_status(r);
        refused += st != 0;
        /* whatever the stop said, the truth: exit 0 means stopped */
        if (st == 0)
            cr_assert(!lock_held() && hr_ping(NULL) < 0,
                      "race %ld: hr site stop said \"%s\" but a controller "
                      "runs", i, out);
        if (lock_held()) /* it failed, saying so: stop it for the next */
            cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0,
                         "race %ld: %s", i, out);
        cr_assert(!lock_held(), "race %ld: a controller is left", i);
    }
    fprintf(stderr, "loop: %ld races, %d stops failed (saying why)\n", races,
            refused);
}

/* The output of `hr ARGS` in the current site, stderr with stdout. */
static int hr_says(char *buf, size_t cap, const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", HR_BIN, args);
    const char *argv[] = {"sh", "-c", cmd, NULL};
    return run_prog("/bin/sh", argv, NULL, buf, cap);
}

Test(loop, a_failed_site_says_why_and_its_group_can_still_be_ended)
{
    /* an actor that crashes as soon as it runs: the policy escalates to
     * site restarts, then stops the site, failed */
    cr_assert_eq(run_hr(out, sizeof out, "site", "set", "hrCtrl.maxBadness=2",
                        NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "2", ACTOR_BIN, "B",
                        NULL), 0, "%s", out);
    /* its arun may meet the site restarts it sets off: no answer needed */
    run_hr(out, sizeof out, "arun", "-g", "1", ACTOR_BIN, "crash1", NULL);
    hr_site_state st;
    POLL_UNTIL(hr_ping(NULL) < 0 && hr_site_status(NULL, &st, NULL, 0) == 0 &&
               st.state == HR_SITE_FAILED, "the site to fail");
    /* ps says failed and why, not "no controller runs" */
    cr_assert_neq(hr_says(out, sizeof out, "ps"), 0);
    cr_assert(strstr(out, "the site failed") && strstr(out, "group 1 failed"),
              "%s", out);
    cr_assert(strstr(out, "hr akill -g G"), "%s", out);
    /* the broken group is ended without a controller; the other stays */
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "1", NULL), 0, "%s", out);
    cr_assert_eq(hr_site_status(NULL, &st, NULL, 0), 0);
    cr_assert_eq(st.groups, 1, "group 2 is kept");
    cr_assert_eq(hr_ping(NULL) < 0, 1, "no controller was started");
    cr_assert_neq(hr_says(out, sizeof out, "akill -g 1"), 0, "ended already");
    cr_assert(strstr(out, "group 1 does not exist"), "%s", out);
    cr_assert_eq(check_bank(), 0);
    /* the site starts again, without the crash loop */
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    WAIT_FOR(pid_of("test_actor") > 0, "group 2 started again");
    cr_assert(!strstr(ps, "{\"id\": 1, "), "group 1 is gone:\n%s", ps);
    cr_assert(strstr(ps, "{\"id\": 2, "), "%s", ps);
}

Test(loop, wait_ready_says_when_a_first_run_dies_or_never_says_ready)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    char args[512];
    snprintf(args, sizeof args, "arun --wait-ready -g 1 '%s' crash2", ACTOR_BIN);
    cr_assert_neq(hr_says(out, sizeof out, args), 0);
    cr_assert(strstr(out, "stopped before it was ready"), "%s", out);
    WAIT_FOR(strstr(ps, "\"backoff\": {"), "its restarts to back off");
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "1", NULL), 0, "%s", out);
    /* one that runs and never says it is ready: the tool says that, not
     * that the controller did not answer (hr__call's 30 s) */
    snprintf(args, sizeof args, "arun --wait-ready -g 2 '%s' quiet", ACTOR_BIN);
    cr_assert_neq(hr_says(out, sizeof out, args), 0);
    cr_assert(strstr(out, "never said it was ready"), "%s", out);
    refresh();
    cr_assert_gt(pid_of("test_actor.1") + pid_of("test_actor"), 0,
                 "it runs on:\n%s", ps);
}

/* The policy counts a group restart that promotes a standby as any other:
 * with hrCtrl.maxBadness=2, the third failure of the live instance
 * escalates to a site restart. */
Test(loop, a_restart_by_promoting_a_standby_is_counted_by_the_policy)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "set", "hrCtrl.maxBadness=2",
                        NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", "--standby", "--name",
                        "sb", STANDBY_BIN, NULL), 0, "%s", out);
    hr_site_state st;
    for (int kill_no = 1; kill_no <= 3; kill_no++) {
        /* a standby waits: the restart promotes it */
        WAIT_FOR(pid_of("sb") > 0 && strstr(ps, "\"state\": \"waiting\""),
                 "the live instance and a waiting standby");
        cr_assert_eq(hr_status(NULL, &st), 0);
        cr_assert_eq(st.site_restarts, 0, "no site restart before kill %d", kill_no);
        cr_assert_eq(st.group_restarts, (unsigned)kill_no - 1);
        kill(pid_of("sb"), SIGKILL);
        if (kill_no < 3)
            WAIT_FOR(hr_status(NULL, &st) == 0 && st.group_restarts == (unsigned)kill_no,
                     "the group restart");
    }
    /* the event either way: a third group restart, or the site restart */
    POLL_UNTIL(hr_status(NULL, &st) == 0 &&
               (st.site_restarts == 1 || st.group_restarts == 3),
               "a restart after the third kill");
    cr_assert_eq(st.site_restarts, 1, "the third failure escalates (%u group "
                 "restarts, %u site restarts)", st.group_restarts, st.site_restarts);
    cr_assert_eq(run_hr(out, sizeof out, "log", NULL), 0);
    cr_assert(strstr(out, "group 1 failed more than 2 times"), "%s", out);
}

/* An actor run with --notify is waited for at every start, also after a
 * site restart (its mark is stored with it): one that dies before it is
 * ready backs off in the fresh controller too, instead of being taken for
 * a good start and restarted at once. */
Test(loop, an_actor_that_says_ready_backs_off_after_a_site_restart_too)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "set", "hrCtrl.maxBadness=1000",
                        NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "--notify", "-g", "1", ACTOR_BIN,
                        "crash3", NULL), 0, "%s", out);
    WAIT_FOR(strstr(ps, "\"backoff\": {"), "the first controller to back off");
    cr_assert_eq(run_hr(out, sizeof out, "site", "restart", NULL), 0, "%s", out);
    /* the event either way: a back-off, or many restarts at full speed */
    hr_site_state st;
    WAIT_FOR(strstr(ps, "\"backoff\": {") || (hr_status(NULL, &st) == 0 &&
                                               st.group_restarts > 100),
             "a back-off, or 100 restarts at full speed");
    cr_assert(strstr(ps, "\"backoff\": {"), "restarted at full speed after the "
              "site restart (%u group restarts):\n%s", st.group_restarts, ps);
    cr_assert(!strstr(ps, "HR_NOTIFY"), "%s", ps);
}

/* 1 when pid is gone or a zombie. */
static int gone(pid_t pid)
{
    char state;
    return !proc_state(pid, &state, NULL) || state == 'Z';
}

/* A started site with actor A in group 1, settled, whose controller is
 * then SIGKILLed: the actor's pid. */
static pid_t actor_of_a_dead_controller(void)
{
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", ACTOR_BIN, "A", NULL),
                 0, "%s", out);
    /* past its last line: a line written after the controller died would
     * meet a closed log pipe (SIGPIPE) */
    WAIT_FOR(pid_of("test_actor") > 0 && strstr(console(), "actor A run 1 settled"),
             "the actor, settled");
    pid_t actor = pid_of("test_actor"), hrd = hr_ping(NULL);
    kill(hrd, SIGKILL);
    POLL_UNTIL(gone(hrd), "the controller to die of SIGKILL");
    return actor;
}

/* Actors outlive a controller that dies (the next one takes their held
 * sockets back, then ends them); hr site stop of such a site, with no
 * controller to ask, ends them (hrd --end-leftovers). */
Test(loop, stop_after_a_controller_died_ends_what_it_left)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    pid_t actor = actor_of_a_dead_controller();
    cr_assert(!gone(actor), "the actor outlives its controller");
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    cr_assert(gone(actor), "hr site stop left the actor %d running", (int)actor);
    cr_assert_eq(run_hr(out, sizeof out, "log", NULL), 0);
    cr_assert(strstr(out, "left by a controller that died"), "%s", out);
    /* the next start is a plain start; a second stop has nothing to end */
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    WAIT_FOR(pid_of("test_actor") > 0, "the group started again");
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
}

/* hr site destroy of such a site ends them too, before it removes the
 * bank (before: "destroyed", and the actor ran on). */
Test(loop, destroy_after_a_controller_died_ends_what_it_left)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    pid_t actor = actor_of_a_dead_controller();
    cr_assert(!gone(actor), "the actor outlives its controller");
    cr_assert_eq(run_hr(out, sizeof out, "site", "destroy", NULL), 0, "%s", out);
    cr_assert(gone(actor), "hr site destroy left the actor %d running",
              (int)actor);
}

/* The same with a RAM bank that no longer opens: the registry cannot be
 * read, but the dead controller's cgroup names what it left, and hr site
 * stop ends it and says so, instead of "not running" with the actor
 * left behind. */
/* A site in cgroup mode (skipped without one) whose controller died and
 * left its actor running: the actor. */
static pid_t cgroup_site_with_a_dead_controller(void)
{
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    if (!strstr(console(), "each actor in a cgroup"))
        cr_skip_test("no cgroup for the site's actors here: %s", console());
    return actor_of_a_dead_controller();
}

/* Write junk over the RAM bank's header: it no longer opens. */
static void damage_the_bank(void)
{
    static char junk[16384];
    int fd = open(site_bank(), O_WRONLY);
    cr_assert_geq(fd, 0, "%s", site_bank());
    memset(junk, 0xA5, sizeof junk);
    cr_assert_eq(pwrite(fd, junk, sizeof junk, 0), (ssize_t)sizeof junk);
    close(fd);
}

Test(loop, stop_after_a_controller_died_on_a_damaged_bank_ends_what_it_left)
{
    pid_t actor = cgroup_site_with_a_dead_controller();
    damage_the_bank();
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    cr_assert(gone(actor), "hr site stop left the actor %d running:\n%s",
              (int)actor, out);
    cr_assert(strstr(console(), "does not open") &&
              strstr(console(), "1 process left"), "%s", console());
    /* nothing left to look for: a second stop is quiet and succeeds */
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "cold", NULL), 0, "%s", out);
}

/* The socket behind fd 3 of pid (its first held socket), as the kernel
 * names it ("socket:[INODE]"), into buf. */
static const char *fd3_of(pid_t pid, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/3", (int)pid);
    ssize_t n = readlink(path, buf, cap - 1);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

/* hr site restart --cold (SPEC 5, "cold restart"): the RAM bank and the
 * registry are made anew, the whole start-up file runs again, and the
 * actor it starts gets the very listening socket the controller held
 * before (clients waiting in its backlog are not refused); the site runs
 * on.  Plain hr site cold still stops the site. */
Test(loop, a_cold_restart_wipes_the_ram_bank_and_keeps_the_held_sockets)
{
    int port = free_port();
    char ini[600], was[128], now_[128];
    snprintf(ini, sizeof ini, "%s/sysadm.ini", site);
    FILE *f = fopen(ini, "w");
    cr_assert_not_null(f);
    fprintf(f, "arun -g 1 --listen tcp:127.0.0.1:%d %s A\n", port, ACTOR_BIN);
    fclose(f);
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    WAIT_FOR(pid_of("test_actor") > 0 && strstr(console(), "actor A run 1 settled"),
             "the actor of the start-up file");
    pid_t first = pid_of("test_actor");
    fd3_of(first, was, sizeof was);
    cr_assert(strncmp(was, "socket:", 7) == 0, "fd 3 of the actor: '%s'", was);
    /* a block of the old registry's world, which the cold restart wipes */
    pmm_bank *b = bank_open();
    void *p;
    cr_assert_eq(pmm_alloc(b, "before.cold", 64, NULL, 0, 0, &p, NULL), 0);
    pmm_bank_close(b);
    cr_assert_eq(run_hr(out, sizeof out, "site", "restart", "--cold", NULL), 0,
                 "%s", out);
    cr_assert(strstr(out, "cold restart"), "%s", out);
    WAIT_FOR(pid_of("test_actor") > 0 && pid_of("test_actor") != first &&
             strstr(console(), "RAM bank and registry made anew"),
             "the actor started again by the whole start-up file");
    cr_assert_str_eq(fd3_of(pid_of("test_actor"), now_, sizeof now_), was,
                     "the held socket was not kept:\n%s", console());
    cr_assert_eq(run_hr(out, sizeof out, "pmm", "show", "before.cold", NULL), 1,
                 "the RAM bank was not wiped: %s", out);
    cr_assert_eq(run_hr(out, sizeof out, "--json", "site", "info", NULL), 0, "%s", out);
    cr_assert(strstr(out, "\"state\": \"running\""), "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
}

/* The site's cgroup file is the site owner's to change: one naming a
 * cgroup no controller made (its parent here) is refused, and nothing in
 * it is killed, even with the bank unreadable. */
Test(loop, a_changed_cgroup_file_names_nothing_to_end)
{
    pid_t actor = cgroup_site_with_a_dead_controller();
    char file[4200], cg[4200];
    cr_assert_not_null(site_file("cgroup", cg, sizeof cg));
    *strrchr(cg, '/') = 0; /* the controller's parent cgroup */
    snprintf(file, sizeof file, "%s/cgroup", site);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fputs(cg, f);
    fclose(f);
    damage_the_bank();
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    cr_assert(!gone(actor), "a cgroup no controller made was ended");
    kill(actor, SIGKILL);
    POLL_UNTIL(gone(actor), "the actor, killed by the test");
}
