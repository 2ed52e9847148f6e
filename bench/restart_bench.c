/*
 * restart_bench.c - crash-to-ready latency: SIGKILL of an actor until the
 * restarted actor has retrieved its block and said it is ready, under the
 * controller, next to the floor: a bare parent that kills, reaps, forks and
 * execs the same program and waits for the same "ready".
 *
 *   restart_bench HR_BIN BENCH_ACTOR [ROUNDS]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int ready(int fifo)
{
    int pid;
    if (read(fifo, &pid, sizeof pid) != sizeof pid) {
        fprintf(stderr, "restart_bench: no ready from the actor\n");
        exit(1);
    }
    return pid;
}

static void report(const char *what, double *v, int n, double floor_median)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    double med = v[n / 2], p99 = v[n * 99 / 100];
    printf("%-40s %10.1f %10.1f", what, med, p99);
    if (floor_median > 0)
        printf("  %6.2fx", med / floor_median);
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: restart_bench HR_BIN BENCH_ACTOR [ROUNDS]\n");
        return 2;
    }
    const char *hr = argv[1], *actor = argv[2];
    int rounds = argc > 3 ? atoi(argv[3]) : 1000;
    char site[] = "/dev/shm/hrbench.XXXXXX", fifo[128], cmd[1024];
    if (!mkdtemp(site))
        return 1;
    setenv("HR_SITE", site, 1);
    snprintf(fifo, sizeof fifo, "%s/ready", site);
    mkfifo(fifo, 0600);
    int rd = open(fifo, O_RDWR); /* a writer of our own: never EOF */
    double *ctl = calloc((size_t)rounds, sizeof *ctl);
    double *bare = calloc((size_t)rounds, sizeof *bare);

    /* the floor first, with no controller around */
    pid_t pid = fork();
    if (pid == 0) {
        execl(actor, actor, fifo, (char *)NULL);
        _exit(127);
    }
    ready(rd);
    for (int i = 0; i < rounds; i++) {
        double t0 = now();
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        pid = fork();
        if (pid == 0) {
            execl(actor, actor, fifo, (char *)NULL);
            _exit(127);
        }
        ready(rd);
        bare[i] = now() - t0;
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);

    snprintf(cmd, sizeof cmd, "%s site start >/dev/null && %s arun -g 0 %s %s >/dev/null",
             hr, hr, actor, fifo);
    if (system(cmd) != 0)
        return 1;
    pid = ready(rd);
    for (int i = 0; i < rounds; i++) {
        double t0 = now();
        kill(pid, SIGKILL);
        pid = ready(rd);
        ctl[i] = now() - t0;
    }
    snprintf(cmd, sizeof cmd, "%s site stop >/dev/null; rm -rf %s", hr, site);
    if (system(cmd) != 0)
        return 1;

    printf("%-40s %10s %10s  %s\n", "crash to ready (us)", "median", "p99",
           "vs floor");
    qsort(bare, (size_t)rounds, sizeof *bare, cmp);
    double floor_median = bare[rounds / 2];
    report("floor: kill+wait+fork+exec, same program", bare, rounds, 0);
    report("hotrestart group restart", ctl, rounds, floor_median);
    printf("(%d restarts each)\n", rounds);
    return 0;
}
