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
 * The last two write $HR_SITE/NAME.ready (NAME: the mode) once their
 * signal disposition is set.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void on_term(int sig)
{
    (void)sig;
    struct timespec t = {save_ms / 1000, (save_ms % 1000) * 1000000};
    nanosleep(&t, NULL);
    put("term.state", "saved");
    _exit(0);
}

static void sleep_forever(void)
{
    for (;;)
        pause();
}

/* A grandchild that left the process group; pid_file gets its pid. */
static void escape(const char *pid_file)
{
    if (fork() != 0)
        return;
    setsid();
    if (fork() != 0)
        _exit(0);
    char pid[32];
    snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    put(pid_file, pid);
    sleep_forever();
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (strcmp(argv[1], "daemon") == 0) {
        escape("daemon.pid");
        usleep(50000); /* as a daemon would: after its child is set up */
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
    if (strcmp(argv[1], "ignore") == 0) {
        signal(SIGTERM, SIG_IGN);
        put("ignore.ready", "1");
        sleep_forever();
    }
    return 2;
}
