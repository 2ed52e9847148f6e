/*
 * hrd.h - the Hot Restart Controller daemon: its state, and the map of its
 * modules.
 *
 * One controller per site.  Its registry (groups, actors, their states and
 * counters) lives in a "__SYS" block of the site's RAM bank, and each
 * actor's program image and arguments in "__SYS" blocks of their own, so
 * that they outlive the controller.  Actors are the controller's children:
 * their pids cannot be reused before the controller reaps them, so killing
 * them by pid is safe.  Deaths arrive as SIGCHLD through a signalfd, at once.
 *
 * Modules, each calling only those below it (no cycle):
 *
 *   main.c      the event loop, start-up and shut-down of the controller
 *   requests.c  one request from the control socket, checked and answered
 *   startup.c   the site's start-up file, sysadm.ini
 *   group.c     the life of groups and actors: ONE table of state x event
 *               -> action; every change of a group's or an actor's state
 *               goes through it
 *   render.c    ps and info output
 *   spawn.c     images, environment, fork and exec of actors
 *   policy.c    the restart policy: hrCtrl.* tunables and badness
 *   registry.c  the registry opened, checked, and what it left swept
 *   log.c       the console log
 */
#ifndef HRD_H
#define HRD_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <hotrestart/pmm.h>

#define HRD_MAX_ACTORS ((int)HR_ACTORS_LIMIT) /* registry slots: hrCtrl.maxActors' ceiling */
#define HRD_MAX_GROUPS ((int)HR_GROUPS_LIMIT) /* hrCtrl.maxGroups' ceiling: ids 0..255 */
#define HRD_REG_MAGIC 0x4852445245473031ull /* "HRDREG01" */
#define HRD_MAX_CONNS 256 /* connections waiting for their request */
#define HRD_MAX_WAITING 64 /* requests waiting for a group's end */
#define HRD_KILL_WAIT_S 5  /* a stop waits this long for each actor's death */
#define HRD_REG_NAME "__SYS.hr.registry"
#define HRD_SYS_KEY "__SYS.hr"

/* A_DYING: killed for a group restart, not yet reaped (pid still set).
 * G_RESTARTING: waiting for its A_DYING members before starting again. */
enum { A_FREE = 0, A_RUNNING, A_CLEAN, A_STOPPED, A_DYING };
enum { G_FREE = 0, G_RUNNING, G_BLOCKED, G_ENDING, G_RESTARTING };

struct reg_actor {
    uint32_t used;
    int32_t group;
    uint32_t direct;          /* started by arun, else by hrfexec */
    uint32_t state;           /* A_... */
    char name[PMM_NAME_MAX];
    int32_t pid;              /* 0 when not running */
    uint32_t clean_mark;      /* HR_EXIT_HDL seen in this run */
    uint64_t start_ticks;     /* /proc/PID/stat starttime of this run */
    uint64_t started_ns;      /* CLOCK_REALTIME of this run's start */
    uint64_t image_size;      /* bytes of program image */
    uint32_t args_len;        /* bytes of the encoded arguments */
    uint32_t runs;            /* starts of this actor */
};

struct reg_group {
    uint32_t used;
    uint32_t state;           /* G_... */
    uint32_t restarts;        /* group restarts so far */
    int32_t last_signal;      /* last failure: signal, or 0 */
    int32_t last_status;      /* last failure: exit status, or -1 */
    uint32_t reserved;
    uint64_t last_fail_ns;    /* CLOCK_REALTIME of the last failure, or 0 */
    uint64_t started_ns;      /* when the group was made */
    uint64_t badness_milli;   /* restart policy: badness x 1000 ... */
    uint64_t badness_ns;      /* ... as of this CLOCK_REALTIME */
};

struct registry {
    uint64_t magic;           /* HRD_REG_MAGIC */
    uint32_t version;         /* 1 */
    uint32_t generation;      /* controller starts so far */
    uint64_t controller_pid;
    uint32_t site_restarts;   /* site restarts so far */
    uint32_t group_restarts;  /* group restarts so far, all groups */
    uint32_t booted;          /* the start-up file's arun lines have run */
    uint32_t failed;          /* the site stopped: it kept failing */
    uint64_t badness_milli;   /* site restarts' badness x 1000 ... */
    uint64_t badness_ns;      /* ... as of this CLOCK_REALTIME */
    char failure[160];        /* why the site failed */
    struct reg_group groups[HRD_MAX_GROUPS];
    struct reg_actor actors[HRD_MAX_ACTORS];
};

/* The restart policy's figures, read from site.conf at start (policy.c). */
struct hrd_policy {
    uint32_t max_badness;     /* hrCtrl.maxBadness */
    uint32_t interval_s;      /* hrCtrl.interval */
    uint32_t max_actors;      /* hrCtrl.maxActors: registered at once */
    uint32_t max_groups;      /* hrCtrl.maxGroups: group ids 0..max_groups-1 */
};

struct hrd {
    char site[4096];
    char self[4096];          /* this program, for a site restart's exec */
    struct hrd_policy policy;
    pmm_bank *bank;
    struct registry *reg;
    int console_fd;           /* console.log, append */
    int image_fd[HRD_MAX_ACTORS]; /* read-only memfd copies, or -1 */
    int listen_fd, sig_fd, ep_fd, lock_fd;
    int stopping;
    int restart_pending;      /* a site restart was asked for */
    int exec_pending;         /* replace this controller with a fresh one */
    int restarted;            /* this controller comes from a site restart */
    int ready_fd;             /* told once booted (--ready-fd), or -1 */
    FILE *ini;                /* sysadm.ini while it runs, else NULL */
    int ini_line, ini_arun;   /* its last line read; run its arun lines? */
    pid_t ini_pid;            /* the command of that line, or 0 */
    char ini_prog[64];        /* ... and its name, for the log */
    uint8_t had_group[HRD_MAX_GROUPS]; /* groups there before start-up */
    const char *end_why[HRD_MAX_GROUPS]; /* why a G_ENDING group ends */
    uint32_t ends[HRD_MAX_GROUPS]; /* ends of each group id so far */
    int dropped;              /* damaged registry entries dropped at start */
    struct { int conn, group; uint32_t ends; } waiting[HRD_MAX_WAITING];
                              /* kill-group requests, answered when their
                                 group's ends count moves on */
};

/* The next used actor slot after `after` (-1 to begin) that belongs to
 * group (-1: to any group), or -1 when there is none. */
static inline int hrd_next_actor(const struct hrd *d, int group, int after)
{
    for (int i = after + 1; i < HRD_MAX_ACTORS; i++)
        if (d->reg->actors[i].used &&
            (group < 0 || d->reg->actors[i].group == group))
            return i;
    return -1;
}
/* for each member slot i of group g (the body may forget slot i) */
#define HRD_FOR_MEMBERS(d, g, i)                                              \
    for (int i = hrd_next_actor((d), (g), -1); i >= 0;                         \
         i = hrd_next_actor((d), (g), i))
#define HRD_FOR_ACTORS(d, i) HRD_FOR_MEMBERS(d, -1, i)

/* Group ids, checked here and nowhere else.  HRD_GROUP_SLOT: an index into
 * the registry (0..HRD_MAX_GROUPS-1), enough to look a group up or kill it,
 * even one over a lowered hrCtrl.maxGroups.  HRD_GROUP_NEW: also a group
 * that this site lets actors join (0..hrCtrl.maxGroups-1).  0 or -ERANGE. */
enum { HRD_GROUP_SLOT, HRD_GROUP_NEW };
static inline int hrd_group_check(const struct hrd *d, long group, int how)
{
    long limit = how == HRD_GROUP_NEW ? (long)d->policy.max_groups
                                      : (long)HRD_MAX_GROUPS;
    return group >= 0 && group < limit && group < HRD_MAX_GROUPS ? 0 : -ERANGE;
}

#endif
