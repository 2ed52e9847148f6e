/* SPDX-License-Identifier: MIT */
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
 * Modules, each calling only those below it (no cycle, and no call up the
 * order of tests/layers.order: checked with nm by the layers test):
 *
 *   main.c      the event loop, start-up and shut-down of the controller
 *   setup.c     the site opened: directory, bank, lock, log, registry;
 *               what passes to a fresh controller at a site restart
 *   config.c    the site's settings from a configuration directory
 *               (--config): the site made from them, their copies put in
 *   notify.c    the controller's own sd_notify messages to its service
 *               manager: READY=1, STATUS=, STOPPING=1
 *   requests.c  one request from the control socket, checked and answered
 *   conns.c     connections waiting for their request: per-peer and idle
 *               limits
 *   startup.c   the site's start-up file, sysadm.ini
 *   ini.c       ... its lines, read and split (no system call: fuzzed)
 *   arun.c      a direct actor asked for: named, registered, started
 *   members.c   what happens to members (registered, reaped, killed), as
 *               group events; the site restart
 *   group.c     the life of groups: ONE table of state x event -> next
 *               state and action, every cell written (hrd --tables); every
 *               change of a group's state goes through its entry point,
 *               which delivers the events the actions raise, one after
 *               the other (never one inside another); failed starts back off
 *   gaction.c   ... the table's actions: they raise the next event, never
 *               deliver it (a call up to group.c fails the layers test)
 *   events.c    ... the queue of raised events
 *   actor.c     ... one actor's table of state x event below it, its start,
 *               its failure kept, and every actor stopped or adopted at once
 *   standby.c   standby instances (hr arun --standby): started, waiting,
 *               promoted in a group restart, replaced: one table of state
 *               x event, every cell written (hrd --tables)
 *   upjob.c     upgrade requests (hr upgrade): jobs begun, followed
 *               through the tick, answered
 *   upgrade.c   ... one actor's upgrade: ONE table of state x event,
 *               every cell written (hrd --tables)
 *   render.c    ps and info output, and the structured status reply
 *   tree.c      an actor's whole process tree (its cgroup, or its
 *               process group, descendants and the orphans the controller
 *               adopts as child subreaper), and stopping it: SIGTERM, a
 *               stop timeout, SIGKILL
 *   leftover.c  what a dead controller's generation left running: found,
 *               its held sockets taken back (pidfd_getfd), ended
 *   ready.c     readiness (NOTIFY_SOCKET, --ready-fd) and the time of
 *               each restart from death to ready
 *   imgver.c    image versions and an upgrade's trial image, its commit
 *   handover.c  connections handed over between an actor's instances
 *   spawn.c     images, environment, fork and exec of actors
 *   held.c      listening sockets held for actors (sd_listen_fds)
 *   cgroup.c    the site's cgroup v2 subtree, where one is delegated: a
 *               cgroup for each process the controller starts
 *   policy.c    the restart policy: badness against hrCtrl.* (read by
 *               src/hr/policy.c)
 *   adopt.c     the registry a previous controller left: opened, checked,
 *               swept (its format: src/hr/registry.h, in the library)
 *   metrics.c   the Prometheus text exposition of the controller's counters
 *   logpipe.c   actors' output: a pipe each, lines tagged into the log
 *   log.c       the console log (rotated) and stderr, and dying with a
 *               message
 * Every system call goes through the library's OS layer (src/os/ctl.h and
 * src/os/os.h).
 */
#ifndef HRD_H
#define HRD_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include <hotrestart/hr.h>
#include <hotrestart/pmm.h>

#include "hr/registry.h"

#define HRD_MAX_CONNS 256 /* connections waiting for their request */
#define HRD_CONNS_PER_PEER 16 /* ... of them held by one process */
#define HRD_IDLE_MS 5000  /* ... each for this long at most (conns.h) */
#define HRD_MAX_WAITING 64 /* requests waiting for a group's end */
#define HRD_KILL_WAIT_S 5  /* a stop waits this long after SIGKILL */
#define HRD_KILL_LOOK_MS 20 /* ... and looks at least this often */
#define HRD_INI_MAX (1 << 20) /* sysadm.ini: 1 MiB at most */
#define HRD_HELD_MAX 8     /* listening sockets held for one actor (held.c) */
#define HRD_LINE_MAX 1024  /* a log line's text: longer ones are split */
#define HRD_DEATHS 5       /* causes of an actor's death (metrics.h) */
#define HRD_EVENTS 64      /* group events waiting for the loop (group.c) */
#define HRD_WHY_MAX 512    /* an event's reason, copied with it */
#define HRD_BACKOFF_MIN_MS 10   /* the first retry after a failed start ... */
#define HRD_BACKOFF_MAX_MS 1000 /* ... doubling up to this */

/* A group event raised by an action, delivered by the loop (group.c):
 * an action never runs the next event itself. */
struct hrd_event {
    int16_t group;
    uint8_t ev;               /* enum hrd_group_event */
    uint8_t has_why;
    char why[HRD_WHY_MAX];    /* a copy: the action's buffer is gone */
};

/* A group's failures to start (exec failed, a held socket could not be
 * made, died before it was ready), in a row: its next start waits
 * (group.c).  A crash after a good start restarts at once and clears it. */
struct hrd_backoff {
    uint32_t fails;           /* failed starts in a row */
    uint8_t this_round;       /* the failure being handled was a start's */
    int64_t until_ms;         /* a restart is due then (monotonic ms), or 0 */
    uint32_t delay_ms;        /* ... the wait that set it */
    char why[400];            /* the last failure to start, in words */
};

/* An actor's output pipe, read by the event loop (logpipe.c). */
struct hrd_outpipe {
    int rd, wr;               /* its ends, while open */
    uint8_t open;
    uint16_t len;             /* bytes of a line begun in buf */
    char buf[HRD_LINE_MAX];
};

/* The standby instance of one actor slot (standby.c). */
enum { HRD_SB_NONE = 0, /* none */
       HRD_SB_STARTING, /* started, has not asked to wait yet */
       HRD_SB_WAITING,  /* waits in hr_standby_wait(): conn is its request */
       HRD_SB_DYING };  /* killed, not reaped yet */
struct hrd_standby {
    int32_t pid;              /* the standby, or 0 */
    uint8_t state;            /* HRD_SB_... */
    uint8_t want;             /* the actor's stored environment asks for one
                                 (HR_STANDBY=1): set at each start (spawn.c) */
    uint8_t off;              /* it never waited: none any more (logged) */
    uint8_t pending;          /* the live instance was promoted before it
                                 waited: its wait is answered at once */
    uint8_t said_ready;       /* it said READY=1 without waiting (ready.c) */
    int conn;                 /* HRD_SB_WAITING: its request, else -1 */
    int ready_rd;             /* its readiness pipe (--ready-fd), or -1 */
    uint32_t run;             /* the HR_RESTARTS it was started with */
    uint32_t deaths;          /* deaths in a row (killed) before promotion */
    int64_t not_before_ms;    /* started again no sooner (monotonic ms) */
};

/* An upgrade of one actor (upgrade.c): its new version, the trial,
 * started from a trial image beside the actor's own (imgver.c). */
enum { HRD_UP_NONE = 0, /* none */
       HRD_UP_TRIAL,    /* the new version starts as a standby */
       HRD_UP_STOPPING, /* it waits; the old one was asked to stop */
       HRD_UP_PROMOTED, /* it is the actor now, not ready yet */
       HRD_UP_UNDO };   /* rolling back: the new one ends, the old image
                           starts again once nothing runs */
struct hrd_upgrade {
    uint8_t state;            /* HRD_UP_... */
    uint8_t cold;             /* no standby phase: stop, then start */
    uint8_t old_gone;         /* the old instance was reaped */
    int32_t trial_pid;        /* the new instance before promotion, or 0 */
    int32_t new_pid;          /* the new instance, until it is reaped, or 0 */
    int32_t old_pid;          /* the old instance, until it is reaped, or 0 */
    int conn;                 /* the trial's HR_REQ_STANDBY, or -1 */
    int ready_rd;             /* the trial's readiness pipe, or -1 */
    int image_fd;             /* a read-only memfd of the new image, or -1 */
    int job;                  /* its job (upgrade.c), or -1 */
    uint8_t restore_failed;   /* rolled back, the old image would not start:
                                 its group fails (raised by the loop) */
    uint8_t done;             /* over: result and why for its job (upjob.c) */
    int32_t result;           /* ... 0 upgraded, or a negative code */
    uint8_t sb_want;          /* the actor's standby wish, given back after */
    int64_t deadline_ms;      /* ready by then (monotonic), or rolled back */
    int64_t settle_ms;        /* promoted and saying nothing of its readiness:
                                 ready once it runs at this time */
    uint32_t restarts0;       /* its group's restarts and ends when it
                                 began: another since ends it (upjob.c) */
    uint32_t ends0;
    char why[160];            /* why it was rolled back */
};

/* What the controller keeps in memory for one actor slot (the registry,
 * in the bank, keeps the rest): d->slot[slot]. */
struct hrd_slot {
    struct hrd_outpipe out;   /* its output (logpipe.c) */
    int image_fd;             /* a read-only memfd copy of its image, or -1 */
    int held_fd[HRD_HELD_MAX]; /* listening sockets held for it ... */
    uint8_t nheld;            /* ... so many (held.c) */
    uint8_t aslr;             /* 1: this run was started with address-space
                                 randomisation (hrd_spawn) */
    uint64_t kill_at;         /* stopping: SIGKILL at this time (ns,
                                 CLOCK_MONOTONIC), or 0 (tree.c) */
    uint32_t kill_ms;         /* ... the stop timeout that set it */
    int32_t cg_left;          /* the pid of its reaped run whose cgroup still
                                 held processes when it was killed, or 0
                                 (tree.c) */
    int ready_pipe;           /* its readiness fd, or -1 (ready.c) */
    uint8_t readiness;        /* HRD_R_... */
    uint8_t says_ready;       /* it says when it is ready: each run waited for */
    struct hrd_standby standby; /* its standby instance (standby.c) */
    struct hrd_upgrade up;    /* an upgrade of it (upgrade.c) */
    struct hrd_ver_rec *ver;  /* its image's version record, a copy of
                                 its block (imgver.c), or NULL */
    struct hrd_kept *kept;    /* connections handed over, waiting for its
                                 next instance (handover.c) ... */
    uint16_t nkept, cap_kept; /* ... so many, room for so many */
};

/* ... and for one group id: d->grp[group]. */
struct hrd_group {
    uint32_t deaths[HRD_DEATHS]; /* its members' deaths by cause (metrics.c) */
    char end_why[64];         /* HR_G_ENDING: why it ends */
    uint32_t ends;            /* ends of this group id so far */
    uint64_t restart_from;    /* a restart being timed: the failure's time
                                 (ns), or 0 (ready.c) */
    uint64_t restart_last_ns; /* death to ready, the last */
    uint32_t restart_hist[6]; /* ... all, by HRD_HIST bucket */
    uint64_t restart_sum_ns;  /* ... and their sum */
    uint8_t had_group;        /* it was there before start-up (main.c) */
    struct hrd_backoff backoff; /* failed starts in a row (gaction.c) */
};

struct hrd_ver_rec;
struct hrd_kept;
struct hrd_upjob;

struct hrd {
    char site[4096];          /* the site's path, as given */
    char dir[64];             /* ... and the directory opened at start, as
                                 a path through its descriptor: every file
                                 of the site is reached through it */
    char self[4096];          /* this program, for a site restart's exec */
    hr_policy policy;         /* hrCtrl.*, read at start (policy.c) */
    pmm_bank *bank;
    struct hr_reg *reg;       /* the registry, mapped */
    struct hrd_slot slot[HR_REG_ACTORS]; /* per actor slot */
    struct hrd_group grp[HR_REG_GROUPS]; /* per group id */
    int console_fd;           /* console.log, append (log.c) */
    int log_stderr;           /* in the foreground: the log on stderr too */
    uint64_t log_bytes;       /* console.log's size, as counted */
    uint32_t log_lines;       /* lines written, for a recount now and then */
    uint32_t log_dropped;     /* lines stderr was too full to take */
    int listen_fd, sig_fd, ep_fd, lock_fd;
    int stopping;
    int killing_all;          /* every actor is being stopped (actor.c):
                                 requests that would start or change
                                 something are refused (requests.c) */
    uint64_t kill_all_until;  /* ... given up on at this time (ns) */
    int ending;               /* the site's end under way, HRD_END_...
                                 (ending.c): the loop drives it */
    int end_asked;            /* ... a site restart asked for (not charged
                                 to the policy) */
    char end_why[160];        /* ... a site restart's reason */
    int restart_pending;      /* a site restart was asked for */
    int exec_pending;         /* replace this controller with a fresh one */
    int cold_pending;         /* ... on a RAM bank made anew (main.c) */
    int restarted;            /* this controller comes from a site restart */
    int maintenance;          /* hrd --end-group: a stopped site's group
                                 ended, no controller started (main.c) */
    int bank_error;           /* maintenance only: why the RAM bank did not
                                 open (0: it did); see setup.c */
    int ready_fd;             /* told once booted (--ready-fd), or -1 */
    char *ini;                /* sysadm.ini's text while it runs, else NULL */
    size_t ini_at;            /* ... and where its next line begins */
    int ini_line, ini_arun;   /* its last line read; run its arun lines? */
    struct hrd_ini_line *ini_l; /* ... that line, split (ini.h) */
    pid_t ini_pid;            /* the command of that line, or 0 */
    char ini_prog[64];        /* ... and its name, for the log */
    int dropped;              /* damaged registry entries dropped at start */
    int notify_fd;            /* NOTIFY_SOCKET, or -1 (ready.c) */
    struct { int conn; pid_t pid; } ready_wait[HRD_MAX_WAITING];
                              /* arun --wait-ready requests */
    struct { int fd; pid_t pid; int64_t since_ms; } conns[HRD_MAX_CONNS];
    int nconns;               /* connections waiting for their request */
    int spare_fd;             /* kept for running out of descriptors (conns.c) */
    uint32_t kept_fds;        /* connections kept for all actors (handover.c) */
    uint64_t kept_bytes;      /* ... and their pending bytes */
    struct { int conn, group; uint32_t ends; } waiting[HRD_MAX_WAITING];
                              /* kill-group requests, answered when their
                                 group's ends count moves on */
    struct hrd_event events[HRD_EVENTS]; /* raised, not yet delivered: a */
    unsigned ev_head, ev_len; /* ring (group.c) */
    int delivering;           /* the loop delivers events now */
    char restart_why[160];    /* restart_pending: why (a site restart the
                                 policy asked for, delivered by the loop) */
    char start_why[320];      /* the last start that failed, in words:
                                 the step and why (hrd_spawn_wait) ... */
    int start_step;           /* ... and its step, PMM_OS_STEP_... */
    int first_start;          /* the start under way is an actor's first
                                 (hr arun, hrfexec): a working directory
                                 the controller cannot enter refuses it;
                                 a later start (a restart of any kind)
                                 runs in "/" instead, with a warning, so
                                 that a directory removed meanwhile does
                                 not keep a service down (spawn.c) */
    int cg_fd;                /* the site's cgroup directory, or -1: no
                                 cgroups, the fallback (cgroup.c, tree.c) */
    int cg_kill;              /* ... whose cgroups have cgroup.kill */
    char cg_name[32];         /* ... its name: hrd.PID, or hrd.PID-K */
    struct hrd_upjob *upjobs; /* upgrade requests being served (upgrade.c) */
};

/* The next used actor slot after `after` (-1 to begin) that belongs to
 * group (-1: to any group), or -1 when there is none. */
static inline int hrd_next_actor(const struct hrd *d, int group, int after)
{
    for (int i = after + 1; i < HR_REG_ACTORS; i++)
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

/* The slot of the actor running as pid, or -1. */
static inline int hrd_find_pid(const struct hrd *d, pid_t pid)
{
    HRD_FOR_ACTORS(d, i)
        if (d->reg->actors[i].pid == pid && pid > 0)
            return i;
    return -1;
}

/* The slot whose standby instance is pid (standby.c), or -1. */
static inline int hrd_standby_of(const struct hrd *d, pid_t pid)
{
    for (int i = 0; pid > 0 && i < HR_REG_ACTORS; i++)
        if (d->slot[i].standby.pid == pid)
            return i;
    return -1;
}

/* The slot whose upgrade's trial instance is pid (upgrade.c), or -1:
 * like a standby, no member and no orphan. */
static inline int hrd_trial_of(const struct hrd *d, pid_t pid)
{
    for (int i = 0; pid > 0 && i < HR_REG_ACTORS; i++)
        if (d->slot[i].up.trial_pid == pid)
            return i;
    return -1;
}

/* The slot of the actor called name in group (-1: any group), or -1. */
static inline int hrd_find_name(const struct hrd *d, int group,
                                const char *name)
{
    HRD_FOR_MEMBERS(d, group, i)
        if (strcmp(d->reg->actors[i].name, name) == 0)
            return i;
    return -1;
}

/* Group ids, checked here and nowhere else in the controller.
 * HRD_GROUP_SLOT: an index into the registry (hr__reg_group_id_ok), enough
 * to look a group up or kill it, even one over a lowered hrCtrl.maxGroups.
 * HRD_GROUP_NEW: also a group that this site lets actors join
 * (0..hrCtrl.maxGroups-1).  0 or -ERANGE. */
enum { HRD_GROUP_SLOT, HRD_GROUP_NEW };
static inline int hrd_group_check(const struct hrd *d, long group, int how)
{
    if (!hr__reg_group_id_ok(group))
        return -ERANGE;
    if (how == HRD_GROUP_NEW && group >= (long)d->policy.max_groups)
        return -ERANGE;
    return 0;
}

#endif
