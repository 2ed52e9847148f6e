/* SPDX-License-Identifier: MIT */
/*
 * svc_actor.c - an actor as real services are, for test_svc: it needs no
 * library, as a service moved from systemd or s6 would not.
 *
 *   svc_actor daemon   fork into the background and exit 0 (as memcached
 *                      -d): the grandchild sleeps on, its pid in
 *                      $HR_SITE/daemon.pid
 *   svc_actor tree     stay in the foreground with a child in its process
 *                      group and a grandchild that left it (setsid); both
 *                      sleep; writes $HR_SITE/tree.ready
 *   svc_actor term MS  on SIGTERM take MS milliseconds to save, write
 *                      "saved" to $HR_SITE/term.state and exit 0
 *   svc_actor ignore   ignore SIGTERM
 *   svc_actor ready MS FD   after MS milliseconds write a newline to fd FD
 *                      (s6 readiness), then sleep
 *   svc_actor notify MS     after MS milliseconds send READY=1 to
 *                      $NOTIFY_SOCKET (sd_notify), then sleep
 * The last two write $HR_SITE/NAME.ready (NAME: the mode) once their
 * signal disposition is set.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void put(const char *file, const char *text)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", getenv("HR_SITE"), file);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, text, strlen(text)) < 0)
        _exit(9);
    close(fd);
}

static long save_ms;

static void sleep_ms(long ms);

static void on_term(int sig)
{
    (void)sig;
    sleep_ms(save_ms);
    put("term.state", "saved");
    _exit(0);
}

static void sleep_forever(void)
{
    for (;;)
        pause();
}

/* A grandchild that left the process group; pid_file gets its pid.
 * Returns once the pid is written: the actor that goes on to exit must
 * not leave the middle child half-way (on a loaded machine the
 * controller ended it before its fork, and the test waited for a pid
 * file that never came).  The pipe's read end sees EOF when both children
 * have let go of its write end: the middle one by exiting, the grandchild
 * once its pid is written. */
static void escape(const char *pid_file)
{
    int p[2];
    if (pipe(p) < 0)
        _exit(9);
    if (fork() != 0) {
        char c;
        ssize_t n;
        close(p[1]);
        while ((n = read(p[0], &c, 1)) > 0 || (n < 0 && errno == EINTR))
            ;
        close(p[0]);
        return;
    }
    close(p[0]);
    setsid();
    if (fork() != 0)
        _exit(0);
    char pid[32];
    snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    put(pid_file, pid);
    close(p[1]);
    sleep_forever();
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&t, NULL);
}

/* sd_notify(0, "READY=1"), as libsystemd does it. */
static void notify_ready(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (!path || strlen(path) >= sizeof a.sun_path)
        _exit(8);
    strcpy(a.sun_path, path);
    if (a.sun_path[0] == '@')
        a.sun_path[0] = 0;
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0 || sendto(s, "READY=1", 7, 0, (struct sockaddr *)&a, sizeof a) != 7)
        _exit(8);
    close(s);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (strcmp(argv[1], "daemon") == 0) {
        escape("daemon.pid"); /* as a daemon does: once its child is set up */
        return 0;
    }
    if (strcmp(argv[1], "tree") == 0) {
        if (fork() == 0)
            sleep_forever();
        escape("tree.pid");
        put("tree.ready", "1");
        sleep_forever();
    }
    if (strcmp(argv[1], "term") == 0 && argc == 3) {
        save_ms = atol(argv[2]);
        signal(SIGTERM, on_term);
        put("term.ready", "1");
        sleep_forever();
    }
    if (strcmp(argv[1], "ready") == 0 && argc == 4) {
        sleep_ms(atol(argv[2]));
        if (write(atoi(argv[3]), "\n", 1) != 1)
            return 7;
        sleep_forever();
    }
    if (strcmp(argv[1], "notify") == 0 && argc == 3) {
        sleep_ms(atol(argv[2]));
        notify_ready();
        sleep_forever();
    }
    if (strcmp(argv[1], "ignore") == 0) {
        signal(SIGTERM, SIG_IGN);
        put("ignore.ready", "1");
        sleep_forever();
    }
    return 2;
}
