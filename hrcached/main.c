/* SPDX-License-Identifier: MIT */
/*
 * main.c - hrcached: options, the heap, the sockets, then the event loops
 * (an acceptor and -t workers on one store, loop.c).
 * A standby instance (hr_standby_wait(3)) takes its sockets first, waits
 * to be promoted, and only then opens the heap.
 *
 * Exit codes: 0 stopped by SIGTERM or SIGINT; 1 could not start or serve
 * (site, heap, socket); 2 bad usage.  Every failure is one line on stderr
 * naming what failed and why.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hotrestart/errors.h>
#include <hotrestart/heap.h>
#include <hotrestart/hr.h>
#include <hotrestart/pmm.h>

#include "listen.h"
#include "loop.h"
#include "owner.h"
#include "proto.h"
#include "store.h"

#define EXIT_USAGE 2
#define DEFAULT_HEAP "hrcached"
#define POPULATE_AUTO (~0u) /* --populate=auto: chosen by the bank's pages */

static const char usage[] =
    "usage: hrcached [OPTION]...\n"
    "A memcached (ASCII protocol) whose items, hash table and LRU live in a\n"
    "persistent heap: killed at any moment, it comes back with every item it\n"
    "acknowledged, without reloading anything.\n"
    "\n"
    "  -p, --port=PORT           TCP port to listen on (default 11211, 0: none)\n"
    "  -l, --listen=ADDR         address to listen on (default 127.0.0.1)\n"
    "  -s, --unix-socket=PATH    also listen on a Unix socket\n"
    "  -m, --memory-limit=MB     memory for items in MiB (default 64); fixed\n"
    "                            when the heap is made\n"
    "  -I, --max-item-size=SIZE  largest item, key and value (default 1m;\n"
    "                            suffix k or m; 1k to 1024m, at most -m)\n"
    "  -M, --disable-evictions   answer SERVER_ERROR when memory is full\n"
    "                            instead of evicting the least recently used\n"
    "  -c, --conn-limit=N        most connections at once (default 1024)\n"
    "  -t, --threads=N           worker threads serving connections, all on\n"
    "                            the one heap (default 4, 1 to 64)\n"
    "  -n, --name=NAME           name of the heap block (default " DEFAULT_HEAP ")\n"
    "  -U, --udp-port=0          accepted for memcached's scripts: no UDP\n"
    "  -v, --verbose             say on stderr how the heap was found (its\n"
    "                            items and state format version)\n"
    "      --populate=WHEN       fault a heap found at start into memory:\n"
    "                            background (serve at once, the pages come\n"
    "                            in beside), now (before serving), off (each\n"
    "                            page at its first touch) or auto (default:\n"
    "                            background on a bank of 2 MiB pages, off on\n"
    "                            4 KiB pages, where the workers' own faults\n"
    "                            come back sooner than one thread's sweep)\n"
    "      --check               check the heap and the store in it, then\n"
    "                            exit (0 consistent, 3 not); no serving\n"
    "  -h, --help                show this help\n"
    "  -V, --version             show the version\n"
    "\n"
    "Sockets passed by LISTEN_FDS/LISTEN_PID (systemd's convention, as the\n"
    "hotrestart controller passes them) are used instead of -p/-l/-s.\n"
    "Once it serves it says READY=1 to $NOTIFY_SOCKET (sd_notify), for\n"
    "hr arun --wait-ready and systemd's Type=notify.\n"
    "Started as a standby instance (hr arun --standby), it opens the bank\n"
    "and its sockets, waits to be promoted, then opens the heap.\n"
    "Replaced by hr upgrade, it hands its client connections to the new\n"
    "version (hr_handover(3)); any other SIGTERM closes them.\n"
    "The heap lives in the RAM bank of the site $HR_SITE (or the default\n"
    "site); a missing site is made with a bank large enough for the heap.\n"
    "\n"
    "Exit status: 0 stopped by SIGTERM or SIGINT, 1 could not start or\n"
    "serve, 2 bad usage, 3 (--check) the store is not consistent.\n";

struct opts {
    const char *port, *addr, *unix_path, *name;
    uint64_t mem_mb, item_max, max_conns, threads;
    int no_evict, verbose, check;
    unsigned populate; /* HR_HEAP_POPULATE[_BG], 0, or POPULATE_AUTO */
};

static void die(int code, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));
static void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* as an actor, at priority err in the site's log (sd-daemon prefix) */
    fputs(getenv("HR_ACTOR") ? "<3>hrcached: " : "hrcached: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

/* A decimal number with an optional k/m/g suffix (times 1024^n). */
static int parse_size(const char *s, int suffixes, uint64_t *out)
{
    char *end;
    if (!*s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    unsigned shift = 0;
    if (suffixes && *end) {
        const char *u = strchr("kKmMgG", *end);
        if (!u || end[1])
            return -1;
        shift = (unsigned)((u - "kKmMgG") / 2 + 1) * 10;
        end++;
    }
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static void parse(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {
        {"port", required_argument, 0, 'p'},
        {"listen", required_argument, 0, 'l'},
        {"unix-socket", required_argument, 0, 's'},
        {"memory-limit", required_argument, 0, 'm'},
        {"max-item-size", required_argument, 0, 'I'},
        {"disable-evictions", no_argument, 0, 'M'},
        {"conn-limit", required_argument, 0, 'c'},
        {"threads", required_argument, 0, 't'},
        {"name", required_argument, 0, 'n'},
        {"udp-port", required_argument, 0, 'U'},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {"check", no_argument, 0, 'C'},
        {"populate", required_argument, 0, 'P'},
        {0, 0, 0, 0},
    };
    *o = (struct opts){.port = "11211", .addr = "127.0.0.1",
                       .name = DEFAULT_HEAP, .mem_mb = 64,
                       .item_max = 1u << 20, .max_conns = 1024,
                       .threads = 4, .populate = POPULATE_AUTO};
    uint64_t v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:l:s:m:I:Mc:t:n:U:vhV", longs,
                            NULL)) != -1) {
        switch (c) {
        case 'p':
            if (parse_size(optarg, 0, &v) < 0 || v > 65535)
                die(EXIT_USAGE, "bad port '%s': a number from 0 to 65535",
                    optarg);
            o->port = optarg;
            break;
        case 'l': o->addr = optarg; break;
        case 's': o->unix_path = optarg; break;
        case 'm':
            if (parse_size(optarg, 0, &v) < 0 || v == 0 ||
                v > (HR_HEAP_MAX_SIZE >> 20) / 2)
                die(EXIT_USAGE, "bad memory limit '%s': MiB from 1 to %llu",
                    optarg, (unsigned long long)(HR_HEAP_MAX_SIZE >> 21));
            o->mem_mb = v;
            break;
        case 'I':
            if (parse_size(optarg, 1, &v) < 0 || v < 1024 || v > (1u << 30))
                die(EXIT_USAGE, "bad item size limit '%s': 1k to 1024m",
                    optarg);
            o->item_max = v;
            break;
        case 'M': o->no_evict = 1; break;
        case 'c':
            if (parse_size(optarg, 0, &v) < 0 || v == 0 || v > 1000000)
                die(EXIT_USAGE, "bad connection limit '%s': 1 to 1000000",
                    optarg);
            o->max_conns = v;
            break;
        case 't':
            if (parse_size(optarg, 0, &v) < 0 || v == 0 || v > 64)
                die(EXIT_USAGE, "bad thread count '%s': 1 to 64", optarg);
            o->threads = v;
            break;
        case 'n':
            if (!*optarg || strlen(optarg) >= PMM_NAME_MAX)
                die(EXIT_USAGE, "bad heap name '%s': 1 to %d bytes", optarg,
                    PMM_NAME_MAX - 1);
            o->name = optarg;
            break;
        case 'U':
            if (strcmp(optarg, "0") != 0)
                die(EXIT_USAGE, "UDP is not supported: only -U 0");
            break;
        case 'v': o->verbose++; break;
        case 'C': o->check = 1; break;
        case 'P':
            if (strcmp(optarg, "background") == 0)
                o->populate = HR_HEAP_POPULATE_BG;
            else if (strcmp(optarg, "now") == 0)
                o->populate = HR_HEAP_POPULATE;
            else if (strcmp(optarg, "off") == 0)
                o->populate = 0;
            else if (strcmp(optarg, "auto") == 0)
                o->populate = POPULATE_AUTO;
            else
                die(EXIT_USAGE, "--populate takes auto, background, now or "
                    "off, not '%s'", optarg);
            break;
        case 'h': fputs(usage, stdout); exit(0);
        case 'V': printf("hrcached %s\n", MC_VERSION_STRING); exit(0);
        case ':':
            die(EXIT_USAGE, "option '%s' needs a value (see hrcached --help)",
                argv[optind - 1]);
        default:
            die(EXIT_USAGE, "unknown option '%s' (see hrcached --help)",
                argv[optind - 1]);
        }
    }
    if (optind < argc)
        die(EXIT_USAGE, "unexpected argument '%s' (see hrcached --help)",
            argv[optind]);
    if (o->item_max > o->mem_mb << 20)
        die(EXIT_USAGE, "item size limit -I is larger than the memory "
            "limit -m");
}

/* Descriptors for -c connections and hrcached's own (its sockets, the
 * workers' epolls, the site's files): a limit that cannot be raised so
 * far is refused at start, as memcached refuses it, rather than met as
 * clients that cannot connect. */
static void fit_files(const struct opts *o)
{
    uint64_t need = o->max_conns + 2 * o->threads + 64, cur, max;
    int r = mc_files_fit(need, &cur, &max);
    if (r < 0)
        die(1, "-c %llu needs %llu open files, more than the limit (%llu, "
            "hard %llu) lets it have: %s; raise it (ulimit -n, systemd's "
            "LimitNOFILE=) or lower -c", (unsigned long long)o->max_conns,
            (unsigned long long)need, (unsigned long long)cur,
            (unsigned long long)max, pmm_strerror(r));
}

/* The site's RAM bank; a missing site is made with room for the heap. */
static pmm_bank *open_bank(uint64_t heap_size)
{
    char site[4096];
    pmm_bank *bank;
    if (pmm_site_path(site, sizeof site, NULL) < 0)
        die(1, "site path too long");
    int r = pmm_bank_open(&bank, NULL, "RAM", 0);
    if (r == K_EUNKNOWN) {
        uint64_t size = heap_size * 2 + (64ull << 20);
        pmm_site_config cfg = {.rambank_size = size};
        r = pmm_site_create(NULL, &cfg);
        if (r < 0 && r != K_EEXIST)
            die(1, "cannot make site %s: %s", site, pmm_strerror(r));
        r = pmm_bank_open(&bank, NULL, "RAM", 0);
    }
    if (r < 0)
        die(1, "cannot open the RAM bank of site %s: %s", site,
            pmm_strerror(r));
    return bank;
}

/* Become the one process on the heap (owner.c): a server waits for
 * another that serves it to end; --check refuses to read it under one. */
static void own_heap(const char *name, int wait)
{
    char site[4096];
    if (pmm_site_path(site, sizeof site, NULL) < 0)
        die(1, "site path too long");
    int r = mc_owner_take(site, name, wait);
    if (r == -EWOULDBLOCK)
        die(1, "heap %s is served by a running hrcached: check it once "
            "that one has stopped", name);
    if (r < 0)
        die(1, "cannot lock heap %s in site %s: %s", name, site,
            pmm_strerror(r));
}

/* The store, and in *existed whether its heap was there already. */
static mc_store *open_store(struct opts *o, pmm_bank *bank, int *existed)
{
    pmm_bank_info pages = {0};
    if (o->populate == POPULATE_AUTO)
        o->populate = pmm_bank_stat(bank, &pages) == 0 && pages.huge_size &&
                              pages.huge_now ? HR_HEAP_POPULATE_BG : 0;
    struct mc_config cfg = {o->mem_mb << 20, o->item_max, o->no_evict,
                            o->populate};
    struct mc_made made = {0};
    mc_store *st;
    int r = mc_store_open(&st, bank, o->name, &cfg, &made);
    if (r == MC_OTHER_LIMIT)
        die(1, "heap %s was made with -m %llu, not -m %llu (start with that "
            "limit, or free the heap with 'hr pmm free %s')", o->name,
            (unsigned long long)(made.mem_limit >> 20),
            (unsigned long long)o->mem_mb, o->name);
    if (r == MC_NEWER_STATE)
        die(1, "heap %s holds state of format version %u, newer than this "
            "hrcached's %u: left untouched (run the hrcached that wrote it)",
            o->name, made.version, MC_STATE_VERSION);
    if (r == MC_BAD_ROOT)
        die(1, "heap %s is not an hrcached store of this version", o->name);
    if (r == K_ENOMEM) {
        pmm_bank_info bi = {0};
        pmm_bank_stat(bank, &bi);
        /* the need rounded up, the room down: never "88 of 88 free" */
        uint64_t tenth = (1u << 20) / 10, need = mc_store_heap_size(cfg.mem_limit);
        need = (need + tenth - 1) / tenth;
        die(1, "no room for heap %s of %llu.%llu MiB in the site's RAM bank "
            "(%llu.%llu MiB free): a smaller -m, or a site made with a "
            "larger pmm.rambankSize", o->name,
            (unsigned long long)(need / 10), (unsigned long long)(need % 10),
            (unsigned long long)(bi.free / tenth / 10),
            (unsigned long long)(bi.free / tenth % 10));
    }
    if (r < 0)
        die(1, "cannot open heap %s: %s", o->name, pmm_strerror(r));
    *existed = (int)made.existed;
    return st;
}

static void say_problem(const char *what, void *arg)
{
    (void)arg;
    fprintf(stderr, "hrcached: check: %s\n", what);
}

/* --check: the heap must exist; its limit is its own. */
static int check(const struct opts *o)
{
    pmm_bank *bank;
    int r = pmm_bank_open(&bank, NULL, "RAM", 0);
    if (r < 0)
        die(1, "cannot open the site's RAM bank: %s", pmm_strerror(r));
    own_heap(o->name, 0);
    struct mc_config cfg = {0, o->item_max, 1, 0}; /* not populated */
    mc_store *st;
    struct mc_made made = {0};
    if ((r = mc_store_open(&st, bank, o->name, &cfg, &made)) == MC_NEWER_STATE)
        die(1, "heap %s holds state of format version %u, newer than this "
            "hrcached's %u: not checked", o->name, made.version,
            MC_STATE_VERSION);
    if (r < 0)
        die(1, "cannot open heap %s: %s", o->name,
            r == MC_BAD_ROOT ? "not an hrcached store" : pmm_strerror(r));
    struct mc_usage u = {0};
    mc_store_usage(st, &u);
    r = mc_store_verify(st, say_problem, NULL);
    printf("heap %s: %llu items, %llu bytes: %s\n", o->name,
           (unsigned long long)u.items, (unsigned long long)u.bytes,
           r == 0 ? "consistent" : "NOT consistent");
    mc_store_close(st);
    pmm_bank_close(bank);
    return r == 0 ? 0 : 3;
}

static int open_sockets(const struct opts *o, int *fds, int *inherited)
{
    int n = mc_listen_inherited(fds, MC_LISTEN_MAX);
    if (n < 0)
        die(1, "bad sockets passed by LISTEN_FDS: %s", pmm_strerror(n));
    if ((*inherited = n > 0))
        return n;
    const char *why = "";
    if (strcmp(o->port, "0") != 0) {
        n = mc_listen_tcp(o->addr, o->port, fds, MC_LISTEN_MAX - 1, &why);
        if (n < 0)
            die(1, "cannot listen on %s port %s: %s: %s", o->addr, o->port,
                why, n == -EINVAL ? "bad address" : pmm_strerror(n));
    }
    if (o->unix_path) {
        int fd = mc_listen_unix(o->unix_path, &why);
        if (fd < 0)
            die(1, "cannot listen on %s: %s: %s", o->unix_path, why,
                pmm_strerror(fd));
        fds[n++] = fd;
    }
    if (n == 0)
        die(EXIT_USAGE, "nothing to listen on: -p 0 and no -s");
    return n;
}

/* One server per worker, alike but for its store handle (worker 0 has
 * the one that opened the store). */
static struct mc_server *workers(const struct mc_server *tmpl)
{
    struct mc_server *srvs = calloc((size_t)tmpl->nthreads, sizeof *srvs);
    if (!srvs)
        die(1, "no memory for %d workers", tmpl->nthreads);
    for (int i = 0; i < tmpl->nthreads; i++) {
        srvs[i] = *tmpl;
        srvs[i].all = srvs;
        int r = i == 0 ? 0 : mc_store_handle(tmpl->store, &srvs[i].store);
        if (r < 0)
            die(1, "cannot make worker %d: %s", i, pmm_strerror(r));
    }
    return srvs;
}

int main(int argc, char **argv)
{
    struct opts o;
    parse(argc, argv, &o);
    if (o.check)
        return check(&o);
    if (strcmp(o.port, "0") == 0 && !o.unix_path && !getenv("LISTEN_FDS"))
        die(EXIT_USAGE, "nothing to listen on: -p 0 and no -s"); /* before
                                               * a site or heap is made */
    fit_files(&o);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pmm_bank *bank = open_bank(mc_store_heap_size(o.mem_mb << 20));
    int fds[MC_LISTEN_MAX];
    int inherited, nl = 0;
    if (hr_is_standby()) { /* hr arun --standby: all but the heap, then wait */
        nl = open_sockets(&o, fds, &inherited);
        int r = hr_standby_wait();
        if (r < 0)
            die(1, "standby: the controller went away (%s)", pmm_strerror(r));
        clock_gettime(CLOCK_MONOTONIC, &t0); /* promoted: it starts now */
    }
    own_heap(o.name, 1);
    int existed;
    mc_store *st = open_store(&o, bank, &existed);
    if (!nl)
        nl = open_sockets(&o, fds, &inherited);
    struct mc_server srv = {
        .store = st, .cfg = {o.mem_mb << 20, o.item_max, o.no_evict, o.populate},
        .heap_name = o.name, .verbosity = o.verbose,
        .nthreads = (int)o.threads, .started = time(NULL),
        .max_conns = o.max_conns, .state_version = MC_STATE_VERSION,
    };
    struct mc_usage u = {0};
    int cr = mc_store_count_start(st);
    if (cr == 0)
        cr = mc_store_usage(st, &u); /* no walk: serve first */
    if (cr < 0)
        die(1, "cannot use heap %s: %s", o.name, pmm_strerror(cr));
    srv.items_at_start = u.items;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    srv.start_to_serve_us = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 +
                                       (t1.tv_nsec - t0.tv_nsec) / 1000);
    struct mc_server *srvs = workers(&srv);
    if (o.verbose) {
        fprintf(stderr, "hrcached: heap %s: %llu items, %llu bytes; serving "
                "on %d socket%s %.3f ms after start (%d thread%s, state "
                "format version %u)\n", o.name,
                (unsigned long long)u.items, (unsigned long long)u.bytes, nl,
                nl == 1 ? "" : "s", (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                (double)(t1.tv_nsec - t0.tv_nsec) / 1e6, srv.nthreads,
                srv.nthreads == 1 ? "" : "s", MC_STATE_VERSION);
        if (existed) /* a restart, items or none: how its pages come in */
            fprintf(stderr, "hrcached: heap %s: %s\n", o.name,
                    o.populate == HR_HEAP_POPULATE_BG
                        ? "its pages come into memory in the background "
                          "(--populate=background, or auto on 2 MiB pages)"
                    : o.populate == HR_HEAP_POPULATE
                        ? "its pages were brought into memory before "
                          "serving (--populate=now)"
                        : "each page comes into memory at its first touch "
                          "(--populate=off, or auto on 4 KiB pages)");
    }
    /* it serves from here: the loop takes the connections handed over,
     * then says READY=1, once */
    int r = mc_loop_run(srvs, srv.nthreads, fds, nl);
    for (int i = 1; i < srv.nthreads; i++)
        mc_store_close(srvs[i].store);
    free(srvs);
    mc_store_close(st);
    pmm_bank_close(bank);
    if (o.unix_path && !inherited)
        unlink(o.unix_path);
    return r < 0 ? 1 : 0;
}
