/* SPDX-License-Identifier: MIT */
/*
 * test_ctl.c - the Hot Restart Controller, for real: a daemon in a
 * throwaway site, real actors, real signals.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/hr.h>
#include <hr/hr.h>

#include "common.h"
#include "ctl_helpers.h"
#include "proto.h"

static char out[65536];
static const char *site;

static void up(void) { site = site_up(out, sizeof out); }

TestSuite(ctl, .init = up, .fini = site_stop_drop, .timeout = 120);

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void command(const char *actor, const char *cmd)
{
    actor_command(actor, cmd);
}

static int no_groups(void)
{
    return strstr(ps, "\"groups\": []") != NULL;
}

Test(ctl, hello_world_example)
{
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "0", HELLO_BIN, NULL), 0);
    WAIT_FOR(no_groups(), "the hello group to end");
    char *log = console();
    char *a = strstr(log, "Hello world!");
    char *b = strstr(log, "Hello again! I have been restarted.");
    cr_assert(a && b && a < b, "console:\n%s", log);
    cr_assert_eq(count(log, "Hello world!"), 1);
    cr_assert(strstr(log, "killed by signal 11"), "%s", log);
    pmm_block blk;
    cr_assert_eq(pmm_stat(bank_open(), "PM1", &blk), K_EUNKNOWN, "PM1 freed");
}

Test(ctl, restart_spawn_example_prints_its_message_once)
{
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", PARENT_BIN, CHILD_BIN,
                        NULL), 0);
    WAIT_FOR(no_groups(), "the restartSpawn group to end");
    char *log = console();
    cr_assert_eq(count(log, "=========== Message =========== STEP 1 STEP 2 STEP 3 "
                            "STEP 4 ======== End of message========\n"), 1, "%s", log);
    cr_assert_eq(count(log, "HR_parent") >= 3, 1);
    cr_assert(count(log, "restarting the group") >= 3, "%s", log);
    pmm_block blk;
    cr_assert_eq(pmm_stat(bank_open(), "CHILD_PM", &blk), K_EUNKNOWN);
    cr_assert_eq(pmm_stat(bank_open(), "PARENT_PM", &blk), K_EUNKNOWN);
}

static void three_up(void)
{
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "5", ACTOR_BIN, "A", "C",
                        ACTOR_BIN, NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "5", ACTOR_BIN, "B", NULL), 0);
    WAIT_FOR(pid_of("test_actor") && pid_of("test_actor.1") && pid_of("C") &&
             runs_of("A", 5) == 1 && runs_of("B", 5) == 1 && runs_of("C", 5) == 1,
             "three actors, each past its first count");
}

static void fail_and_check(const char *how, const char *victim_actor,
                           const char *victim_cmd_name, int round)
{
    int pa = pid_of("test_actor"), pb = pid_of("test_actor.1"), pc = pid_of("C");
    int victim = pid_of(victim_actor);
    if (strcmp(how, "SIGKILL") == 0)
        kill(victim, SIGKILL);
    else if (strcmp(how, "SIGSEGV") == 0)
        kill(victim, SIGSEGV);
    else if (strcmp(how, "akill") == 0) {
        char pid[16];
        snprintf(pid, sizeof pid, "%d", victim);
        cr_assert_eq(run_hr(out, sizeof out, "akill", pid, NULL), 0);
    } else {
        command(victim_cmd_name, "badexit");
    }
    WAIT_FOR(pid_of("test_actor") && pid_of("test_actor") != pa &&
             pid_of("test_actor.1") && pid_of("test_actor.1") != pb &&
             pid_of("C") && pid_of("C") != pc, "all three restarted");
    cr_assert_eq(kill(pa, 0), -1, "old members are gone");
    cr_assert_eq(kill(pc, 0), -1);
    /* blocks intact: every run counted (wait until the new runs have: an
     * actor counts its run in its group's block, then in its kept one) */
    WAIT_FOR(runs_of("A", 5) >= round + 1 && runs_of("B", 5) >= round + 1 &&
             runs_of("C", 5) >= round + 1 &&
             runs_of("keep.C", -1) >= round + 1,
             "the restarted actors to count their run");
    cr_assert_eq(runs_of("A", 5), round + 1, "%s: A runs", how);
    cr_assert_eq(runs_of("B", 5), round + 1, "%s: B runs", how);
    cr_assert_eq(runs_of("C", 5), round + 1, "%s: C runs", how);
    cr_assert_eq(runs_of("keep.C", -1), round + 1);
}

Test(ctl, group_of_three_restarts_on_every_kind_of_failure)
{
    three_up();
    fail_and_check("SIGKILL", "C", "C", 1);
    fail_and_check("SIGSEGV", "test_actor.1", "B", 2);
    fail_and_check("akill", "test_actor", "A", 3);
    fail_and_check("badexit", "C", "C", 4);
    refresh();
    cr_assert(strstr(ps, "\"restarts\": 4"), "%s", ps);
    /* clean exits of all: the group ends, group blocks go, others stay */
    command("A", "exit");
    command("B", "exit");
    command("C", "exit");
    WAIT_FOR(no_groups(), "the group to end");
    pmm_block blk;
    pmm_bank *b = bank_open();
    cr_assert_eq(pmm_stat(b, "A", &blk), K_EUNKNOWN);
    cr_assert_eq(pmm_stat(b, "C", &blk), K_EUNKNOWN);
    cr_assert_eq(pmm_stat(b, "keep.A", &blk), 0);
    cr_assert_eq(pmm_stat(b, "keep.C", &blk), 0);
    cr_assert_eq(pmm_stat(b, "__SYS.hr.image.0", &blk), K_EUNKNOWN, "images freed");
    cr_assert(strstr(console(), "group 5 ended"), "%s", console());
}

Test(ctl, blocked_group_is_reported)
{
    /* A spawns C on its first run only: after a restart nobody re-spawns C */
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "5", ACTOR_BIN, "A", "C",
                        ACTOR_BIN, "once", NULL), 0, "%s", out);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "5", ACTOR_BIN, "B", NULL), 0);
    WAIT_FOR(pid_of("test_actor") && pid_of("test_actor.1") && pid_of("C") &&
             runs_of("A", 5) == 1 && runs_of("B", 5) == 1 && runs_of("C", 5) == 1,
             "three actors, each past its first count");
    int pb = pid_of("test_actor.1");
    kill(pb, SIGKILL);
    WAIT_FOR(pid_of("test_actor.1") && pid_of("test_actor.1") != pb &&
             strstr(console(), "actor A run 2 settled"),
             "A restarted, past the point where it would spawn C");
    refresh();
    cr_assert_eq(pid_of("C"), 0, "C was not re-spawned: %s", ps);
    command("A", "exit");
    command("B", "exit");
    WAIT_FOR(strstr(ps, "\"state\": \"blocked\""), "the group to be blocked");
    cr_assert(strstr(console(), "group 5 blocked, some members have not terminated: C"),
              "%s", console());
    cr_assert_eq(run_hr(out, sizeof out, "ps", NULL), 0);
    cr_assert(strstr(out, "blocked"), "%s", out);
    /* A and B exited: no uptime (before: "up 0.0s", as if just started) */
    cr_assert(strstr(out, "exited   -        not up,"), "%s", out);
    cr_assert_null(strstr(out, "up 0.0s"), "%s", out);
    /* the way out: kill the group */
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "5", NULL), 0);
    refresh();
    cr_assert(no_groups(), "%s", ps);
}

Test(ctl, replaced_program_restarts_as_the_original)
{
    char copy[512], cmd[2400];
    snprintf(copy, sizeof copy, "%s/prog", site);
    snprintf(cmd, sizeof cmd, "cp %s %s", ACTOR_BIN, copy);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "7", copy, "R", NULL), 0);
    WAIT_FOR(pid_of("prog") && runs_of("R", 7) == 1, "prog running, past its count");
    int first = pid_of("prog");
    /* replace it on disk by something else entirely, then delete it */
    snprintf(cmd, sizeof cmd, "printf '#!/bin/sh\\necho IMPOSTOR\\n' > %s.new && "
                              "chmod +x %s.new && mv %s.new %s", copy, copy, copy, copy);
    cr_assert_eq(system(cmd), 0);
    kill(first, SIGKILL);
    WAIT_FOR(pid_of("prog") && pid_of("prog") != first && runs_of("R", 7) >= 2,
             "restart");
    cr_assert_eq(runs_of("R", 7), 2, "the original ran again");
    unlink(copy);
    kill(pid_of("prog"), SIGKILL);
    WAIT_FOR(pid_of("prog") && runs_of("R", 7) == 3, "restart from the image alone");
    cr_assert_null(strstr(console(), "IMPOSTOR"), "%s", console());
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "7", NULL), 0);
}

Test(ctl, kill_group_leaves_nothing_and_frees_exactly)
{
    three_up();
    int pa = pid_of("test_actor"), pb = pid_of("test_actor.1"), pc = pid_of("C");
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "5", NULL), 0);
    cr_assert_eq(kill(pa, 0), -1);
    cr_assert_eq(kill(pb, 0), -1);
    cr_assert_eq(kill(pc, 0), -1);
    refresh();
    cr_assert(no_groups(), "%s", ps);
    pmm_block blk;
    pmm_bank *b = bank_open();
    cr_assert_eq(pmm_stat(b, "A", &blk), K_EUNKNOWN);
    cr_assert_eq(pmm_stat(b, "B", &blk), K_EUNKNOWN);
    cr_assert_eq(pmm_stat(b, "keep.A", &blk), 0);
    cr_assert_eq(pmm_stat(b, "keep.B", &blk), 0);
    /* hrKillGroup, the ChorusOS way, and an unused group is no error */
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "9", ACTOR_BIN, "D", NULL), 0);
    WAIT_FOR(pid_of("test_actor"), "D running");
    int pd = pid_of("test_actor");
    cr_assert_eq(hrGetActorGroup(pd), 9);
    cr_assert_eq(hrKillGroup(9), 0);
    cr_assert_eq(kill(pd, 0), -1);
    cr_assert_eq(pmm_stat(b, "D", &blk), K_EUNKNOWN);
    cr_assert_eq(hrKillGroup(9), 0);
    cr_assert_eq(hrGetActorGroup(pd), -1);
    cr_assert_eq(errno, ESRCH);
}

static int big_send;

static int raw_send(const void *buf, size_t len)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/control.sock", site);
    int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (big_send) { /* room for a message larger than the default buffer */
        int sz = 4 << 20;
        setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz);
    }
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0)
        return -errno;
    if (len)
        send(s, buf, len, MSG_NOSIGNAL);
    else
        shutdown(s, SHUT_WR); /* hang up without a word */
    char rep[512];
    ssize_t n = recv(s, rep, sizeof rep, 0);
    close(s);
    if (n < (ssize_t)sizeof(struct hr_msg_hdr))
        return -EPIPE;
    struct hr_msg_hdr h;
    memcpy(&h, rep, sizeof h);
    return h.arg;
}

Test(ctl, bad_requests_get_errors_and_the_daemon_keeps_serving)
{
    int pid = hr_ping(NULL);
    cr_assert(pid > 0);
    cr_assert_eq(raw_send("garbage", 7), -EBADMSG);
    struct hr_msg_hdr h = {HR_MSG_MAGIC ^ 1, HR_REQ_PING, 0, 0, 0};
    cr_assert_eq(raw_send(&h, sizeof h), -EBADMSG, "wrong magic");
    h.magic = HR_MSG_MAGIC;
    h.len = 1000; /* says more than it carries */
    cr_assert_eq(raw_send(&h, sizeof h), -EBADMSG);
    h.len = 0;
    h.type = 77;
    cr_assert_eq(raw_send(&h, sizeof h), -EOPNOTSUPP);
    h.type = HR_REQ_ARUN; /* no program descriptor, no strings */
    cr_assert_eq(raw_send(&h, sizeof h), -EBADMSG);
    h.type = HR_REQ_SPAWN; /* not an actor */
    cr_assert_eq(raw_send(&h, sizeof h), -EPERM);
    h.type = HR_REQ_KILL_GROUP;
    h.arg = 100000;
    cr_assert_eq(raw_send(&h, sizeof h), -ERANGE);
    h.type = HR_REQ_AKILL;
    h.arg = 999999;
    cr_assert_eq(raw_send(&h, sizeof h), -ESRCH);
    char *big = calloc(1, HR_MSG_MAX + 100); /* oversized: truncated */
    big_send = 1;
    memcpy(big, &(struct hr_msg_hdr){HR_MSG_MAGIC, HR_REQ_PING, 0, 0,
                                      HR_MSG_MAX + 100 - sizeof h}, sizeof h);
    cr_assert_eq(raw_send(big, HR_MSG_MAX + 100), -EBADMSG);
    free(big);
    /* strings that do not fill the payload exactly */
    char msg[64];
    struct hr_msg_hdr a = {HR_MSG_MAGIC, HR_REQ_ARUN, 0, 0, 12};
    uint32_t counts[2] = {5, 0};
    memcpy(msg, &a, sizeof a);
    memcpy(msg + sizeof a, counts, 8);
    memcpy(msg + sizeof a + 8, "ab\0c", 4);
    cr_assert_eq(raw_send(msg, sizeof a + 12), -EBADMSG);
    cr_assert_eq(raw_send(NULL, 0), -EPIPE, "connect and hang up");
    /* the tool's errors */
    cr_assert_eq(run_hr(out, sizeof out, "arun", "/nonexistent/prog", NULL), 1);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "/etc/hostname", NULL), 1);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "300", "/bin/true", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "akill", "999999", NULL), 1);
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "x", NULL), 2);
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g", "200", NULL), 1,
                 "an unused group is said so (issue 21)");
    cr_assert_eq(hr_ping(NULL), pid, "the same controller still serves");
    refresh();
    cr_assert(no_groups(), "nothing was started: %s", ps);
}

Test(ctl, arun_options_end_at_the_program)
{
    cr_assert_eq(run_hr(out, sizeof out, "arun", "--json", "-g", "6", ACTOR_BIN,
                        "-x", "--help", NULL), 0, "%s", out);
    cr_assert(strstr(out, "\"group\": 6"), "%s", out);
    WAIT_FOR(runs_of("-x", 6) == 1, "the actor, its first argument -x for a name");
    cr_assert_eq(run_hr(out, sizeof out, "akill", "-g6", NULL), 0);
    refresh();
    cr_assert(no_groups(), "%s", ps);
}

Test(ctl, another_user_is_refused)
{
    struct passwd *pw = second_user();
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    pid_t pid = fork();
    if (pid == 0) { /* the site directory keeps them out */
        if (setgid(gid) || setuid(uid))
            _exit(10);
        int r = hr_ping(site);
        if (r != -EACCES)
            fprintf(stderr, "other user, closed site: %s\n", pmm_strerror(r));
        _exit(r == -EACCES ? 0 : 11);
    }
    cr_assert_eq(wait_status(pid), 0);
    /* with the files opened up by mistake, the controller itself refuses */
    char sock[512];
    snprintf(sock, sizeof sock, "%s/control.sock", site);
    chmod(site, 0711);
    chmod(sock, 0666);
    pid = fork();
    if (pid == 0) {
        if (setgid(gid) || setuid(uid))
            _exit(10);
        int r = hr_ping(site);
        int k = hr_kill_group(site, 0);
        if (r != -EPERM || k != -EPERM)
            fprintf(stderr, "other user, open site: %s / %s\n", pmm_strerror(r),
                    pmm_strerror(k));
        _exit(r == -EPERM && k == -EPERM ? 0 : 11);
    }
    cr_assert_eq(wait_status(pid), 0);
    chmod(sock, 0600);
    chmod(site, 0700);
    cr_assert(hr_ping(NULL) > 0);
}

Test(ctl, hrfexec_family_checks_its_caller_and_arguments)
{
    PmmName n = {"RAM", "kid"}, disk = {"DISK", "kid"};
    char *argv[] = {"kid", NULL}, *envp[] = {"A=1", NULL};
    /* the test process is not an actor: every form is refused */
    errno = 0;
    cr_assert_eq(hrfexecl(&n, ACTOR_BIN, NULL, NULL, "kid", NULL), -1);
    cr_assert_eq(errno, EPERM);
    cr_assert_eq(hrfexec(&n, ACTOR_BIN, NULL, NULL, "kid", NULL), -1);
    cr_assert_eq(errno, EPERM);
    cr_assert_eq(hrfexecle(&n, ACTOR_BIN, NULL, NULL, "kid", NULL, envp), -1);
    cr_assert_eq(errno, EPERM);
    cr_assert_eq(hrfexeclp(&n, "true", NULL, NULL, "kid", NULL), -1);
    cr_assert_eq(errno, EPERM);
    cr_assert_eq(hrfexecv(&n, ACTOR_BIN, NULL, NULL, argv), -1);
    cr_assert_eq(errno, EPERM);
    cr_assert_eq(hrfexecve(&n, ACTOR_BIN, NULL, NULL, argv, envp), -1);
    cr_assert_eq(errno, EPERM);
    cr_assert_eq(hrfexecvp(&n, "true", NULL, NULL, argv), -1);
    cr_assert_eq(errno, EPERM);
    /* bad arguments are caught before any request */
    cr_assert_eq(hrfexecv(NULL, ACTOR_BIN, NULL, NULL, argv), -1);
    cr_assert_eq(errno, EFAULT);
    cr_assert_eq(hrfexecv(&disk, ACTOR_BIN, NULL, NULL, argv), -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(hrfexecvp(&n, "no-such-program-anywhere", NULL, NULL, argv), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(hrfexecv(&n, "/nonexistent", NULL, NULL, argv), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(HR_EXIT_HDL(), -1, "not an actor");
    cr_assert_eq(errno, EPERM);
    cr_assert_eq(hrGetActorGroup(getpid()), -1);
    cr_assert_eq(errno, ESRCH);
}

/*
 * A member that cannot die at once: it waits, uninterruptibly, for a FUSE
 * server (this test) that read its request and never answers.  SIGKILL
 * leaves it so until the server's device is closed.
 */
static struct {
    int fd;
    char dir[64];
    int lookups, serving;
    pthread_t thread;
} stall = {.fd = -1};

static void *stall_serve(void *arg)
{
    static char buf[1 << 17];
    (void)arg;
    for (;;) {
        ssize_t n = read(stall.fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < (ssize_t)sizeof(struct fuse_in_header))
            return NULL; /* the connection is gone */
        const struct fuse_in_header *in = (const void *)buf;
        if (in->opcode == FUSE_INIT) {
            struct {
                struct fuse_out_header h;
                struct fuse_init_out i;
            } r;
            memset(&r, 0, sizeof r);
            r.h.len = sizeof r;
            r.h.unique = in->unique;
            r.i.major = FUSE_KERNEL_VERSION;
            r.i.minor = FUSE_KERNEL_MINOR_VERSION;
            r.i.max_write = 4096;
            r.i.max_background = 1;
            if (write(stall.fd, &r, sizeof r) < 0)
                return NULL;
        } else if (in->opcode == FUSE_LOOKUP) {
            __atomic_add_fetch(&stall.lookups, 1, __ATOMIC_RELEASE); /* no answer */
        } else if (in->opcode != FUSE_INTERRUPT && in->opcode != FUSE_FORGET) {
            struct fuse_out_header h = {sizeof h, -ENOSYS, in->unique};
            if (write(stall.fd, &h, sizeof h) < 0)
                return NULL;
        }
    }
}

/* 0, or why FUSE cannot be had here */
static const char *stall_mount(void)
{
    snprintf(stall.dir, sizeof stall.dir, "/tmp/hrstall.%d", (int)getpid());
    mkdir(stall.dir, 0700);
    stall.fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (stall.fd < 0)
        return "no /dev/fuse";
    char opts[128];
    snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0", stall.fd);
    if (mount("hrstall", stall.dir, "fuse.hrstall", MS_NOSUID | MS_NODEV, opts) < 0)
        return "mount of a FUSE file system refused";
    /* the device reads only once mounted */
    cr_assert_eq(pthread_create(&stall.thread, NULL, stall_serve, NULL), 0);
    stall.serving = 1;
    return NULL;
}

/* A forced unmount aborts the connection: the kernel ends the waiting
 * request, the member dies, and the server's read fails. */
static void stall_release(void)
{
    if (!stall.dir[0])
        return;
    umount2(stall.dir, MNT_FORCE);
    if (stall.serving)
        pthread_join(stall.thread, NULL);
    stall.serving = 0;
    if (stall.fd >= 0)
        close(stall.fd);
    stall.fd = -1;
    umount2(stall.dir, MNT_DETACH);
    rmdir(stall.dir);
    stall.dir[0] = 0;
}

static void stall_down(void)
{
    stall_release();
}

/* Have actor NAME stat a file of the stalled file system, and wait until
 * its request has reached the server (and so cannot be taken back). */
static void stall_actor(const char *name)
{
    char cmd[512];
    int before = __atomic_load_n(&stall.lookups, __ATOMIC_ACQUIRE);
    snprintf(cmd, sizeof cmd, "stat %s/x", stall.dir);
    actor_command(name, cmd);
    char what[96];
    snprintf(what, sizeof what, "%s's stat to reach the stalled server", name);
    POLL_UNTIL(__atomic_load_n(&stall.lookups, __ATOMIC_ACQUIRE) != before,
               what);
}

/* A group restart waits for a member slow to die without holding up the
 * controller: another group's failure is handled and requests answered
 * meanwhile, and the first group starts again once the member is gone. */
Test(ctl, a_member_slow_to_die_holds_up_its_group_only, .fini = stall_down)
{
    const char *why = stall_mount();
    if (why)
        cr_skip_test("%s", why);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", ACTOR_BIN, "S", NULL), 0);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", ACTOR_BIN, "T", NULL), 0);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "2", ACTOR_BIN, "U", NULL), 0);
    WAIT_FOR(runs_of("S", 1) == 1 && runs_of("T", 1) == 1 && runs_of("U", 2) == 1,
             "S, T and U to run");
    int s = pid_of("test_actor"), t = pid_of("test_actor.1"), u = pid_of("test_actor.2");
    cr_assert(s && t && u, "%s", ps);
    stall_actor("S");
    /* T fails: group 1 restarts, and S cannot die yet */
    cr_assert_eq(kill(t, SIGKILL), 0);
    WAIT_FOR(strstr(ps, "\"state\": \"dying\""), "S to be seen dying");
    cr_assert(strstr(ps, "\"state\": \"restarting\""), "group 1 restarting: %s", ps);
    cr_assert_eq(kill(s, 0), 0, "S still exists");
    /* meanwhile group 2 fails and is restarted */
    cr_assert_eq(kill(u, SIGKILL), 0);
    WAIT_FOR(runs_of("U", 2) == 2, "U restarted while S cannot die");
    cr_assert_eq(runs_of("S", 1), 1, "group 1 has not started again");
    /* S goes: group 1 starts again, both members */
    stall_release();
    WAIT_FOR(runs_of("S", 1) == 2 && runs_of("T", 1) == 2, "group 1 restarted");
    refresh();
    cr_assert_null(strstr(ps, "dying"), "%s", ps);
    cr_assert_eq(kill(s, 0), -1, "the old S is gone");

    /* Again, and this time group 1 is killed for good: the request is
     * answered once S is gone, and the controller serves meanwhile. */
    why = stall_mount();
    cr_assert_null(why, "%s", why);
    refresh();
    s = pid_of("test_actor");
    stall_actor("S");
    pid_t killer = fork();
    if (killer == 0) {
        execl(HR_BIN, "hr", "akill", "-g", "1", (char *)NULL);
        _exit(127);
    }
    WAIT_FOR(strstr(ps, "\"state\": \"ending\""), "group 1 to be seen ending");
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "1", ACTOR_BIN, "V", NULL), 1,
                 "no new member for an ending group");
    cr_assert_eq(waitpid(killer, NULL, WNOHANG), 0, "hr akill -g 1 waits for the end");
    u = pid_of("test_actor.2");
    cr_assert_eq(kill(u, SIGKILL), 0);
    WAIT_FOR(runs_of("U", 2) == 3, "U restarted while group 1 ends");
    stall_release();
    cr_assert_eq(wait_status(killer), 0, "hr akill -g 1 succeeds once S is gone");
    refresh();
    cr_assert_null(strstr(ps, "\"id\": 1,"), "group 1 is gone: %s", ps);
    cr_assert_eq(runs_of("S", 1), -1, "its group blocks are freed");
    cr_assert_eq(kill(s, 0), -1, "S is gone");

    /* A stop does not wait for ever either: it logs the member and goes;
     * the next controller ends it if it is still there. */
    why = stall_mount();
    cr_assert_null(why, "%s", why);
    cr_assert_eq(run_hr(out, sizeof out, "arun", "-g", "3", ACTOR_BIN, "W", NULL), 0);
    int w = atoi(out); /* arun prints the actor's pid */
    cr_assert(w > 0, "%s", out);
    WAIT_FOR(runs_of("W", 3) == 1, "W to run");
    stall_actor("W");
    cr_assert_eq(run_hr(out, sizeof out, "site", "stop", NULL), 0, "%s", out);
    cr_assert_eq(kill(w, 0), 0, "W is still held by the kernel");
    cr_assert(strstr(console(), "has not died 5 s after SIGKILL"), "%s", console());
    stall_release();
    cr_assert_eq(run_hr(out, sizeof out, "site", "start", NULL), 0, "%s", out);
    WAIT_FOR(runs_of("W", 3) == 2, "W started again by the next controller");
    /* the old W has ended: its pidfd reads (at once if it is gone) */
    int wfd = (int)syscall(SYS_pidfd_open, w, 0);
    struct pollfd pw = {.fd = wfd, .events = POLLIN};
    POLL_UNTIL(wfd < 0 || poll(&pw, 1, 0) == 1, "the old W to be gone");
}

/* A message as large as the protocol allows (a ps --json or info reply of
 * a large site) goes whole on a control connection.  Before, a reply over
 * the default send buffer (about 208 KiB of the 256 KiB allowed) failed
 * with EMSGSIZE, the controller dropped it without a word, and the client
 * saw its connection reset. */
Test(ctl_proto, a_message_of_the_largest_size_goes_whole)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    uint32_t len = HR_MSG_MAX - sizeof(struct hr_msg_hdr);
    char *sent = malloc(len), *buf = malloc(HR_MSG_MAX);
    cr_assert(sent && buf);
    for (uint32_t i = 0; i < len; i++)
        sent[i] = (char)('a' + i % 26);
    cr_assert_eq(hr__msg_send(sv[0], HR_REPLY, 7, sent, len, NULL, 0), 0);
    struct hr_msg_hdr h;
    const char *p;
    int fds[HR_MSG_MAXFDS], nfds = 0;
    cr_assert_eq(hr__msg_recv(sv[1], buf, &h, &p, fds, &nfds), 0);
    cr_assert_eq(h.len, len);
    cr_assert_eq(h.arg, 7);
    cr_assert_eq(memcmp(p, sent, len), 0, "the bytes as sent");
    free(sent);
    free(buf);
    close(sv[0]);
    close(sv[1]);
}
