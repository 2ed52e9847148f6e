/* SPDX-License-Identifier: MIT */
/*
 * warm_server.c - a server holding SIZE bytes of state, for warm_bench.
 *
 *   warm_server pmm SIZE FIFO        state in a persistent block
 *   warm_server file SIZE FIFO PATH  state reloaded from a file (cold start)
 *
 * The first run builds the state (a pattern on every page) and, for `file`,
 * saves it.  Every run then makes sure it has the state (a header and 1024
 * sampled pages checked) and says "ready" on FIFO: it could serve.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hotrestart/pmm.h>

#define PAGE 4096
#define MAGIC 0x5741524d53544154ull

struct header {
    uint64_t magic, size;
};

static void build(uint8_t *s, uint64_t size)
{
    for (uint64_t p = PAGE; p < size; p += PAGE)
        memset(s + p, (int)(p / PAGE * 31 % 251), PAGE);
    struct header h = {MAGIC, size};
    memcpy(s, &h, sizeof h);
}

static int check(const uint8_t *s, uint64_t size)
{
    struct header h;
    memcpy(&h, s, sizeof h);
    if (h.magic != MAGIC || h.size != size)
        return 0;
    uint64_t pages = size / PAGE;
    for (uint64_t k = 1; k <= 1024 && k < pages; k++) {
        uint64_t p = pages * k / 1025;
        if (!p)
            continue;
        if (s[p * PAGE + 17] != (uint8_t)(p * 31 % 251))
            return 0;
    }
    return 1;
}

static void say_ready(const char *fifo)
{
    int fd = open(fifo, O_WRONLY), pid = getpid();
    if (fd < 0 || write(fd, &pid, sizeof pid) != sizeof pid)
        exit(1);
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    uint64_t size = strtoull(argv[2], NULL, 10);
    uint8_t *s;
    if (strcmp(argv[1], "pmm") == 0) {
        pmm_bank *b;
        if (pmm_bank_open(&b, NULL, "RAM", 0) != 0 ||
            pmm_alloc(b, "warm.state", size, NULL, 0, 0, (void **)&s, NULL) != 0)
            return 1;
        if (!check(s, size))
            build(s, size);
    } else {
        const char *path = argv[4];
        s = malloc(size);
        int fd = open(path, O_RDONLY);
        if (fd < 0) { /* first run: build and save */
            build(s, size);
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            for (uint64_t at = 0; at < size;) {
                ssize_t n = write(fd, s + at, size - at > (1 << 24) ? 1 << 24 : size - at);
                if (n <= 0)
                    return 1;
                at += (uint64_t)n;
            }
            fsync(fd);
        } else {
            for (uint64_t at = 0; at < size;) {
                ssize_t n = read(fd, s + at, size - at > (1 << 24) ? 1 << 24 : size - at);
                if (n <= 0)
                    return 1;
                at += (uint64_t)n;
            }
        }
        close(fd);
    }
    if (!check(s, size))
        return 3;
    say_ready(argv[3]);
    for (;;)
        pause();
}
