/* SPDX-License-Identifier: MIT */
/*
 * hotrestart/hr.h - native interface to a site's Hot Restart Controller.
 *
 * Every call talks to the controller of a site (NULL: $HR_SITE or the
 * default site) over its control socket and returns a value >= 0 or a
 * negative code: -errno (-ECONNREFUSED or -ENOENT when no controller runs,
 * -EPERM for a caller without the right, -ESRCH for an unknown actor or
 * group, -ENOEXEC for a file that cannot be run, -EBADMSG for a garbled
 * exchange, -EAGAIN when the controller did not answer within 30 s) or a
 * K_E... code from the persistent memory manager.
 *
 * Inside an actor the controller sets HR_SITE, HR_GROUP, HR_ACTOR (its
 * name) and HR_RESTARTS (how often its group has been restarted); the
 * library reads them once, before main, so an actor keeps its identity
 * whatever it does to its environment.  An actor whose stored environment
 * holds HR_ASLR=1 (hr arun --aslr) keeps address-space randomisation, as
 * every actor of a site with hrCtrl.aslr=1 does; the others are started
 * without it, to come back at the same address.
 */
#ifndef HOTRESTART_HR_H
#define HOTRESTART_HR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <hotrestart/pmm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest site path a controller can serve, in bytes: its sockets
 * (SITE/control.sock, SITE/notify.sock) must fit the 108 bytes of a
 * socket address.  A longer one is refused by hr site create and start
 * and by hrd; a call on it answers -ENAMETOOLONG. */
#define HR_SITE_PATH_MAX 94u

/* The controller's pid if it runs. */
PMM_API int hr_ping(const char *site);
/* Start a direct actor in group: the file at path (opened by the caller, so
 * with the caller's rights) is stored as the actor's image; argv and envp
 * are stored too and replayed at every restart.  Returns its pid. */
PMM_API int hr_arun(const char *site, int group, const char *path,
                    char *const argv[], char *const envp[]);
/* How hr_arun_with() starts an actor; zero for what hr_arun() does. */
typedef struct hr_arun_opts {
    const char *name;   /* its name, unique in the site (letters, digits,
                           ._-:+@/); NULL: after its program */
    uint32_t stop_ms;   /* its stop timeout, up to HR_STOP_LIMIT_MS; 0:
                           the site's hrCtrl.stopTimeout */
    int ready_fd;       /* 3 to 1023: it says it is ready by writing a
                           newline to this descriptor (s6 style); 0: it
                           may say so by sd_notify (READY=1 to
                           $NOTIFY_SOCKET, which every actor gets) */
    int notify;         /* it will say it is ready by sd_notify: until then
                           it is starting (implied by wait_ready without
                           ready_fd) */
    int wait_ready;     /* return once it is ready, not once it runs */
    char *why;          /* when it fails: why, in words, as the controller
                           says it ("cannot change to working directory
                           /x: No such file or directory"); may be NULL */
    size_t why_cap;     /* ... room there */
    /* zero (else -EINVAL): room for options to come, as in
     * pmm_site_config; the struct keeps the size it had before why and
     * why_cap took their place (56 bytes on 64-bit, 52 on i386) */
    uint64_t reserved[UINTPTR_MAX > 0xffffffffu ? 2 : 3];
} hr_arun_opts;
/* hr_arun() with options.  -EEXIST: the name is taken; -EINVAL: an option
 * out of range or reserved space not zero; -EBADF: ready_fd is one of the
 * descriptors (3, 4...) of the sockets envp's HR_LISTEN asks the controller
 * to hold; with wait_ready, -ESRCH when it stops before it is ready. */
PMM_API int hr_arun_with(const char *site, int group, const hr_arun_opts *o,
                         const char *path, char *const argv[],
                         char *const envp[]);
/* hrfexec: start (or, after a group restart, start again from its stored
 * image) the indirect actor `name` in the caller's group, with the caller's
 * standard streams.  Only an actor may call it.  Returns its pid. */
PMM_API int hr_spawn(const char *name, const char *path, char *const argv[],
                     char *const envp[]);
/* The version of the library the program runs with, "MAJOR.MINOR.PATCH":
 * beside HR_VERSION_STRING (<hotrestart/version.h>), the one it was built
 * against.  Never fails; the string is static. */
PMM_API const char *hr_version(void);
/* Find file as execvp() does: a name with a slash is taken as is; else each
 * directory of $PATH (empty: the current one; unset or empty $PATH:
 * /usr/local/bin:/usr/bin:/bin) until one holds an executable file of that
 * name.  0 with the path in out, -ENOENT, -ENAMETOOLONG. */
PMM_API int hr_find_program(const char *file, char *out, size_t cap);
/* Mark the calling actor's next exit as clean. */
PMM_API int hr_exit_hdl(void);
/*
 * Standby instances (hr arun --standby, SPEC 3.2): the controller keeps a
 * second, already initialised instance of a direct actor waiting, started
 * from the same image, arguments and environment with HR_STANDBY=1, and on
 * the live instance's failure promotes it instead of executing the program
 * again.  Such a program initialises (reads its configuration, loads its
 * code, opens the bank, takes its held sockets: everything but persistent
 * blocks), then calls hr_standby_wait(), then takes its state.
 */
/* 1 in a standby instance not promoted yet, else 0.  Never fails. */
PMM_API int hr_is_standby(void);
/* In a standby: tell the controller it waits, and block until it is
 * promoted (its live instance failed): 0, and from then on it is the live
 * instance of its run (HR_RESTARTS is the group's restart count; the calls
 * on persistent blocks work).  Anywhere else: 0 at once.  Until it
 * returns 0, pmm_alloc(), pmm_free(), pmm_free_key() (and so pmmAllocate,
 * pmmFree, pmmFreeAll, hr_heap_open) and hr_spawn() (hrfexec) refuse with
 * K_ESTANDBY.  -ECONNRESET: the controller went away (it kills its
 * standbys as it dies: exit); -EPERM: the controller does not know the
 * caller as a standby; other -errno. */
PMM_API int hr_standby_wait(void);
/*
 * Warm upgrades (hr upgrade, hr_upgrade(3), docs/upgrades.md): a new
 * program takes a running direct actor's place with its persistent
 * blocks, its held sockets and, through the controller, the client
 * connections its old instance hands over (hr_handover(3)).
 */
#define HR_UPGRADE_TIMEOUT_MS 30000u   /* the default timeout: 30 s */
#define HR_UPGRADE_TIMEOUT_LIMIT_MS 86400000u /* at most a day */
#define HR_UPGRADE_COLD 1u        /* no standby phase: the old instance
                                     stops, then the new one starts from
                                     main (a program that does not call
                                     hr_standby_wait) */
#define HR_UPGRADE_ALL_AT_ONCE 2u /* a group's actors together, not one
                                     after the other */
typedef struct hr_upgrade_opts {
    uint32_t timeout_ms;  /* the new version must be ready within this
                             (from the start of its upgrade), else it is
                             rolled back; 0: HR_UPGRADE_TIMEOUT_MS */
    uint32_t flags;       /* HR_UPGRADE_... */
    char *why;            /* when it fails: why, in words (may be NULL) */
    size_t why_cap;       /* ... room there */
    uint64_t reserved[4]; /* zero (else -EINVAL) */
} hr_upgrade_opts;
/* Upgrade the direct actor `actor` (its name, or its pid in decimal) of
 * site to the program at path with arguments argv (its working directory
 * and environment stay the actor's), and return once it is done: 0 when
 * the new version is ready and its image the actor's for every later
 * restart; -ECANCELED when it was rolled back (the old version serves
 * again; o->why says why: it exited or was killed before it was ready,
 * or was not ready in time); -ESRCH no such actor; -EINVAL an indirect
 * actor, a bad option; -EBUSY it is not running, is being upgraded, or
 * its group is restarting; -EACCES path is not an executable file;
 * -ENOENT no file at path (o->why names it); -ECONNREFUSED no controller
 * runs; -ECONNRESET it went away before the end (hr_upgrade(3): what its
 * next start runs).  o may be NULL. */
PMM_API int hr_upgrade(const char *site, const char *actor, const char *path,
                       char *const argv[], const hr_upgrade_opts *o);
/* The same for every direct actor of group, one after the other (the
 * next once the last is ready; the first rollback ends it) or, with
 * HR_UPGRADE_ALL_AT_ONCE, together.  -ESRCH: no such group. */
PMM_API int hr_upgrade_group(const char *site, int group, const char *path,
                             char *const argv[], const hr_upgrade_opts *o);
/* A server's side of an upgrade (hr_handover(3)).  In an actor asked to
 * stop (SIGTERM): 1 when the controller asks it to hand its client
 * connections over (an upgrade replaces it), 0 when not (an ordinary stop:
 * close them), or -errno. */
PMM_API int hr_handover_requested(void);
#define HR_HANDOVER_MAX 65536u /* pending bytes given with a connection */
/* Give one client connection fd to the actor's next instance, with the n
 * bytes (up to HR_HANDOVER_MAX) of a request read from it and not answered
 * (NULL, 0: none); the caller then closes its own fd.  -EINVAL n too
 * large; -EBADF fd is not open; -EPERM the caller is no actor of the
 * site. */
PMM_API int hr_handover_give(int fd, const void *pending, size_t n);
/* In an actor's instance: take the next connection its previous instance
 * gave: 1, with *fd (close-on-exec) and its pending bytes in buf, *n
 * their count (*n in: buf's room, HR_HANDOVER_MAX holds any); 0 when none
 * is left; -EMSGSIZE buf too small (the connection is closed); -errno. */
PMM_API int hr_handover_take(int *fd, void *buf, size_t *n);
/* Kill group for good; its images and HR_GROUP_KEY blocks are freed.  An
 * unused group is not an error. */
PMM_API int hr_kill_group(const char *site, int group);
/* The group of a running actor. */
PMM_API int hr_actor_group(const char *site, pid_t pid);
/* Kill an actor as a failure: its group restarts. */
PMM_API int hr_akill(const char *site, pid_t pid);
/* Groups and actors into buf, as JSON or (text != 0) as a table; returns
 * its length. */
PMM_API int hr_ps(const char *site, int text, char *buf, size_t cap);
/* Stop every actor (SIGTERM, the site's stop timeout, SIGKILL) and the
 * controller; persistent memory is kept.  Returns once the controller has
 * exited; -ETIMEDOUT when it has not within HR_STOP_LIMIT_MS and 15 s;
 * -ECONNABORTED when it died before the end of its stop (killed: actors
 * it had not stopped may still run; hrd --end-leftovers ends them). */
PMM_API int hr_stop(const char *site);
/* Restart the site: every actor stops, a fresh controller runs the start-up
 * file (without its arun lines) and starts every group again.  Returns once
 * asked; the new controller's generation is one more. */
PMM_API int hr_site_restart(const char *site);
/* A cold restart of a running site: every actor stops, the RAM bank and
 * the registry are made anew (DISK banks kept), and a fresh controller
 * runs the whole start-up file; the listening sockets the controller held
 * are kept for the actors that ask for the same addresses again.  Returns
 * once asked. */
PMM_API int hr_site_cold_restart(const char *site);
/* The controller's state and counters as JSON: state, controller_pid,
 * generation, group_restarts, site_restarts, groups, max_badness, interval,
 * max_actors, max_groups, stop_timeout_ms, fail_stop_timeout_ms. */
PMM_API int hr_info(const char *site, char *buf, size_t cap);
/* The counters of the site's running controller in the Prometheus text
 * exposition format (version 0.0.4), NUL-terminated in buf (cap bytes;
 * 256 KiB hold any site): restarts per group and of the site, deaths by
 * cause, the time from death to ready as a histogram, each bank's bytes
 * and blocks, actors and groups by state.  Returns its length;
 * -ECONNREFUSED when no controller runs, -E2BIG when it does not fit in
 * HR_MSG_MAX, -EFAULT buf NULL or cap 0; the text is cut to cap. */
PMM_API int hr_metrics(const char *site, char *buf, size_t cap);

/*
 * The restart policy of a site: its figures are the keys hrCtrl.* of the
 * site's site.conf, read by the controller when it starts.  Each group, and
 * the site, carries a badness that every restart raises by one and that
 * drains by max_badness per interval_s seconds; a group restart that takes
 * a group over max_badness becomes a site restart, and a site restart that
 * takes the site over it stops the site, marked failed.
 */
typedef struct hr_policy {
    uint32_t max_badness; /* hrCtrl.maxBadness: 1 to HR_MAX_BADNESS_LIMIT */
    uint32_t interval_s;  /* hrCtrl.interval, seconds: 1 to HR_INTERVAL_LIMIT_S */
    uint32_t max_actors;  /* hrCtrl.maxActors: actors registered at once,
                             1 to HR_ACTORS_LIMIT */
    uint32_t max_groups;  /* hrCtrl.maxGroups: group ids 0 to max_groups - 1,
                             1 to HR_GROUPS_LIMIT */
    uint32_t stop_ms;     /* hrCtrl.stopTimeout, milliseconds: a stop (site
                             stop, site restart, akill -g, hrKillGroup) sends
                             SIGTERM and waits this long before SIGKILL;
                             1 to HR_STOP_LIMIT_MS */
    uint32_t fail_stop_ms; /* hrCtrl.failStopTimeout, milliseconds: the same
                             for the other members of a group restarted
                             because one failed; 0 (the default): SIGKILL
                             at once; up to HR_STOP_LIMIT_MS */
    uint32_t aslr;        /* hrCtrl.aslr: 0 (the default) starts every actor
                             without address-space randomisation, so it
                             comes back at the same address, as ChorusOS
                             promises; 1 keeps randomisation (then only
                             persistent blocks keep their address) */
    uint32_t log_size;    /* hrCtrl.logSize, bytes: console.log is rotated
                             (to console.log.1) before it grows over this;
                             HR_LOG_SIZE_MIN to HR_LOG_SIZE_LIMIT, default
                             HR_DEFAULT_LOG_SIZE */
    uint32_t reserved[2]; /* zero (hr_policy_check refuses other values):
                             room for figures to come, as in pmm_site_config */
} hr_policy;

#define HR_DEFAULT_MAX_BADNESS 5u
#define HR_DEFAULT_INTERVAL_S 60u
#define HR_MAX_BADNESS_LIMIT 1000000u      /* hrCtrl.maxBadness: 1 to this */
#define HR_INTERVAL_LIMIT_S (86400u * 365) /* hrCtrl.interval: 1 s to a year */
#define HR_ACTORS_LIMIT 256u /* hrCtrl.maxActors: 1 to this, the default */
#define HR_GROUPS_LIMIT 256u /* hrCtrl.maxGroups: 1 to this, the default */
#define HR_DEFAULT_STOP_MS 3000u /* hrCtrl.stopTimeout */
#define HR_DEFAULT_LOG_SIZE (1u << 20) /* hrCtrl.logSize: 1 MiB */
#define HR_LOG_SIZE_MIN (16u << 10)    /* ... 16 KiB at least */
#define HR_LOG_SIZE_LIMIT (1u << 30)   /* ... 1 GiB at most */
#define HR_STOP_LIMIT_MS 3600000u /* hrCtrl.stopTimeout, failStopTimeout: 1 h */

/* Check p: 0 when every figure is in range (0 stands for the default)
 * and its reserved space is zero, else -EINVAL. */
PMM_API int hr_policy_check(const hr_policy *p);
/* Write p (0: the default) into site's site.conf as its hrCtrl.* keys,
 * replacing those there; other keys are kept.  It holds the site's lock
 * (an exclusive flock(2) of the site directory) while it does: writers at
 * once leave one of their policies whole, and a reader (hr_policy_read,
 * the controller) sees one whole, never a mix.  A running controller uses
 * the new figures from its next start (or hr_reload).  -EINVAL for a
 * figure out of range, K_EUNKNOWN when the site does not exist, -errno. */
PMM_API int hr_policy_write(const char *site, const hr_policy *p);
/* Change site's policy from what it is, under the site's lock (as
 * hr_policy_write): the policy read (read: K_OK, or K_EINVAL when a key
 * was out of range and took its default), change(p, read, arg) called,
 * and p written unless it returned a negative code, which is returned,
 * site.conf left as it was.  Changes at once lose none of each other's
 * (hr site set).  K_EFAULT for a NULL change, -EINVAL for a figure out of
 * range after it, K_EUNKNOWN when the site does not exist, -errno. */
PMM_API int hr_policy_update(const char *site,
                             int (*change)(hr_policy *p, int read, void *arg),
                             void *arg);
/* Set the figure of p that site.conf calls key (hrCtrl.maxBadness,
 * hrCtrl.interval, hrCtrl.maxActors, hrCtrl.maxGroups, hrCtrl.stopTimeout,
 * hrCtrl.failStopTimeout, hrCtrl.aslr, hrCtrl.logSize) from the decimal
 * text value, digits only; "0" sets the key's default.  -ENOENT for an
 * unknown key, -EROFS for a bank's key (pmm.*: fixed when the bank is
 * made), -EINVAL for a value out of its range or not digits. */
PMM_API int hr_policy_set(hr_policy *p, const char *key, const char *value);
/* Have the site's running controller read its site.conf again: its figures
 * apply from now on (a lowered maxActors or maxGroups refuses new actors
 * and groups over it; those there stay).  -ECONNREFUSED when none runs:
 * the next start reads them. */
PMM_API int hr_reload(const char *site);
/* Read site's policy from its site.conf; a key absent or out of range
 * takes the default (then the result is K_EINVAL, p still filled). */
PMM_API int hr_policy_read(const char *site, hr_policy *p);

/* A site's state and counters. */
enum { HR_SITE_STOPPED = 0, HR_SITE_RUNNING = 1, HR_SITE_FAILED = 2 };
typedef struct hr_site_state {
    int32_t state;           /* HR_SITE_... */
    int32_t controller_pid;  /* HR_SITE_RUNNING: the controller; else 0 */
    uint32_t generation;     /* controller starts so far */
    uint32_t group_restarts; /* group restarts so far, all groups */
    uint32_t site_restarts;  /* site restarts so far */
    uint32_t groups;         /* groups registered now */
    hr_policy policy;        /* running: the figures the controller uses;
                                else those of site.conf */
    char failure[160];       /* HR_SITE_FAILED: why the site stopped */
    uint32_t reserved[8];    /* zero: room for fields to come */
} hr_site_state;

/* The state of the site's running controller, from the controller itself
 * (-ECONNREFUSED when none runs). */
PMM_API int hr_status(const char *site, hr_site_state *out);
/* The state a site was left in, read from its registry without a
 * controller (stopped, or failed and why); the registry is only read.
 * Running, with the registry's controller pid, when a controller holds
 * the site without answering yet (between the two halves of a site
 * restart, or starting).  A
 * site never started reads as stopped at generation 0.  K_EBANK for a
 * registry that is damaged or of another version or layout, with why (cap
 * bytes, may be NULL) saying which. */
PMM_API int hr_site_status(const char *site, hr_site_state *out, char *why,
                           size_t cap);

#ifdef __cplusplus
}
#endif
#endif
