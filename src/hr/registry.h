/* SPDX-License-Identifier: MIT */
/*
 * registry.h - the controller's registry format, the one place it is
 * defined.  Shared by two programs: the controller (hrd) writes it, the
 * library reads it for hr_site_status() when no controller runs.
 *
 * The registry is one "__SYS" block of a site's RAM bank, HR_REG_NAME,
 * carrying the key HR_REG_KEY, so that it outlives the controller: a new
 * controller finds groups, actors and counters as the last one left them.
 * It is, in order:
 *
 *   header    identity, written once when the registry is made and
 *             checksummed: magic, version, layout signature, table sizes
 *   site      counters of the site and its restart policy's badness
 *   groups    HR_REG_GROUPS group records, indexed by group id
 *   actors    HR_REG_ACTORS actor slots
 *
 * Only the controller writes it, in place, through its own mapping (the
 * bank's data pages, not its metadata).  The header never changes after it
 * is made, so its checksum stands; the rest changes at every event, and is
 * checked field by field instead (hr__reg_group_ok, hr__reg_actor_ok) when
 * a controller takes it over: a damaged entry is dropped, never followed.
 * A registry whose header is damaged, of another version or of another
 * layout is refused whole (hr site cold wipes it).
 *
 * Integers are native; like a bank, a registry is not portable between
 * architectures (the layout signature refuses one from another).
 */
#ifndef HR_HR_REGISTRY_H
#define HR_HR_REGISTRY_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include <hotrestart/hr.h>

#define HR_REG_NAME "__SYS.hr.registry"
#define HR_REG_KEY "__SYS.hr"              /* also on images and arguments */
#define HR_REG_MAGIC 0x4852445245473031ull /* "HRDREG01" */
#define HR_REG_VERSION 3u /* 2: header with layout signature and checksum;
                             3: a group's background mark, an actor's stop
                             timeout and readiness fd */
#define HR_REG_GROUPS 256 /* group ids 0..255: hrCtrl.maxGroups' ceiling */
#define HR_REG_ACTORS 256 /* actor slots: hrCtrl.maxActors' ceiling */
#define HR_REG_NAME_MAX 64 /* an actor's name, NUL included */

/* The policy's ceilings (public) are these tables' sizes. */
static_assert(HR_REG_GROUPS == HR_GROUPS_LIMIT, "hrCtrl.maxGroups' ceiling");
static_assert(HR_REG_ACTORS == HR_ACTORS_LIMIT, "hrCtrl.maxActors' ceiling");

/* 1 when g indexes groups[]: the one check of a group id against the
 * registry (the controller adds the site's hrCtrl.maxGroups to it). */
static inline int hr__reg_group_id_ok(long g)
{
    return g >= 0 && g < HR_REG_GROUPS;
}

/* Actor states.  HR_A_DYING: killed, not yet reaped (pid still set). */
enum { HR_A_FREE = 0, HR_A_RUNNING, HR_A_CLEAN, HR_A_STOPPED, HR_A_DYING };
/* Group states.  HR_G_RESTARTING, HR_G_ENDING: waiting for its dying
 * members before starting again, or before its end. */
enum { HR_G_FREE = 0, HR_G_RUNNING, HR_G_BLOCKED, HR_G_ENDING, HR_G_RESTARTING };

/* Identity of the registry, written once when it is made. */
struct hr_reg_header {
    uint64_t magic;           /* HR_REG_MAGIC, stored last when made */
    uint32_t version;         /* HR_REG_VERSION */
    uint32_t layout_sig;      /* HR_REG_LAYOUT_SIG: sizes of the structures */
    uint32_t groups;          /* HR_REG_GROUPS: records in groups[] */
    uint32_t actors;          /* HR_REG_ACTORS: slots in actors[] */
    uint64_t created_ns;      /* CLOCK_REALTIME when made */
    uint8_t reserved[24];     /* zero */
    uint64_t sum;             /* pmm__sum() of everything above */
};
static_assert(sizeof(struct hr_reg_header) == 64, "registry header size");
static_assert(offsetof(struct hr_reg_header, layout_sig) == 12,
              "registry layout signature offset");
static_assert(offsetof(struct hr_reg_header, created_ns) == 24,
              "registry creation time offset");
static_assert(offsetof(struct hr_reg_header, sum) == 56,
              "registry header sum offset");

/* The site's counters and the policy's site-wide badness. */
struct hr_reg_site {
    uint32_t generation;      /* controller starts so far */
    uint32_t site_restarts;   /* site restarts so far */
    uint32_t group_restarts;  /* group restarts so far, all groups */
    uint32_t booted;          /* 1: the start-up file's arun lines have run */
    uint32_t failed;          /* 1: the site stopped, it kept failing */
    uint32_t startup_line;    /* not booted yet: the start-up file's lines
                                 up to this one are done (a site restart or
                                 a controller's crash resumes after it) */
    uint64_t controller_pid;  /* the running controller, 0 once stopped */
    uint64_t badness_milli;   /* site restarts' badness x 1000 ... */
    uint64_t badness_ns;      /* ... as of this CLOCK_REALTIME */
    char failure[160];        /* why the site failed, NUL-terminated */
    uint8_t reserved[40];     /* zero */
};
static_assert(sizeof(struct hr_reg_site) == 248, "registry site size");
static_assert(offsetof(struct hr_reg_site, controller_pid) == 24,
              "registry controller pid offset");
static_assert(offsetof(struct hr_reg_site, failure) == 48,
              "registry failure offset");

/* One restart group, at index = its id. */
struct hr_reg_group {
    uint32_t used;            /* 1: the group exists; 0: free (all zero) */
    uint32_t state;           /* HR_G_... */
    uint32_t restarts;        /* group restarts so far */
    int32_t last_signal;      /* last failure: signal, or 0 */
    int32_t last_status;      /* last failure: exit status, or -1 */
    uint32_t background;      /* 1: blocked because a member went to the
                                 background (exited, leaving processes) */
    uint64_t last_fail_ns;    /* CLOCK_REALTIME of the last failure, or 0 */
    uint64_t started_ns;      /* CLOCK_REALTIME when the group was made */
    uint64_t badness_milli;   /* restart policy: badness x 1000 ... */
    uint64_t badness_ns;      /* ... as of this CLOCK_REALTIME */
    uint8_t reserved[8];      /* zero */
};
static_assert(sizeof(struct hr_reg_group) == 64, "registry group size");
static_assert(offsetof(struct hr_reg_group, last_fail_ns) == 24,
              "registry group failure time offset");
static_assert(offsetof(struct hr_reg_group, badness_milli) == 40,
              "registry group badness offset");

/* One actor slot; its image and arguments are the blocks
 * __SYS.hr.image.SLOT and __SYS.hr.args.SLOT. */
struct hr_reg_actor {
    uint32_t used;            /* 1: registered, stored last (release); 0 free */
    int32_t group;            /* its group's id */
    uint32_t direct;          /* 1: started by arun; 0: by hrfexec */
    uint32_t state;           /* HR_A_... */
    char name[HR_REG_NAME_MAX]; /* NUL-terminated, unique in the site */
    int32_t pid;              /* running process, 0 when not running */
    uint32_t clean_mark;      /* 1: HR_EXIT_HDL seen in this run */
    uint64_t start_ticks;     /* /proc/PID/stat starttime of this run */
    uint64_t started_ns;      /* CLOCK_REALTIME of this run's start */
    uint64_t image_size;      /* bytes of the program image block */
    uint32_t args_len;        /* bytes of the encoded arguments block */
    uint32_t runs;            /* starts of this actor */
    uint32_t stop_ms;         /* its stop timeout; 0: the site's */
    int32_t ready_fd;         /* the fd on which it says it is ready (a
                                 newline, s6 style); 0: none */
};
static_assert(sizeof(struct hr_reg_actor) == 128, "registry actor size");
static_assert(offsetof(struct hr_reg_actor, name) == 16,
              "registry actor name offset");
static_assert(offsetof(struct hr_reg_actor, pid) == 80,
              "registry actor pid offset");
static_assert(offsetof(struct hr_reg_actor, image_size) == 104,
              "registry actor image size offset");

struct hr_reg {
    struct hr_reg_header h;
    struct hr_reg_site site;
    struct hr_reg_group groups[HR_REG_GROUPS];
    struct hr_reg_actor actors[HR_REG_ACTORS];
};
static_assert(offsetof(struct hr_reg, site) == 64, "registry site offset");
static_assert(offsetof(struct hr_reg, groups) == 312,
              "registry groups offset");
static_assert(offsetof(struct hr_reg, actors) == 312 + 64 * HR_REG_GROUPS,
              "registry actors offset");
static_assert(sizeof(struct hr_reg) == 312 + 192 * 256, "registry size");

#define HR_REG_LAYOUT_SIG                                                     \
    ((uint32_t)(sizeof(struct hr_reg_header) << 24 ^                          \
                sizeof(struct hr_reg_site) << 16 ^                            \
                sizeof(struct hr_reg_group) << 8 ^                            \
                sizeof(struct hr_reg_actor) ^ (uint32_t)HR_REG_GROUPS << 12 ^ \
                (uint32_t)HR_REG_ACTORS << 20))

/* Make the registry at r (zeroed memory): its header, magic last. */
void hr__reg_init(struct hr_reg *r, uint64_t now_ns);
/* 0 when r (len bytes of it readable) is a sound registry of this version
 * and layout, whole; else K_EBANK, with why (cap bytes) saying which of
 * these it is not, in words for a person. */
int hr__reg_check(const struct hr_reg *r, size_t len, char *why, size_t cap);
/* 1 when a group record / an actor slot that says it is used may be
 * followed: every field used as an index, a size or a string in range. */
int hr__reg_group_ok(const struct hr_reg_group *g);
int hr__reg_actor_ok(const struct hr_reg *r, const struct hr_reg_actor *a);

/* 1 when a controller holds the site's controller.lock (it runs, or is
 * between the two halves of a site restart: the lock is kept across that
 * exec), 0 when none does, or -errno. */
int hr__controller_holds(const char *site);
/* 1 when the site's last controller ended it (its registry's controller
 * pid cleared at its end), 0 when one died without (its actors may run
 * on), or -errno. */
int hr__controller_ended_it(const char *site);
/* 1 when the registry of site names pid as the running process of the
 * actor called name (a standby promoted by a controller that died before
 * it could answer), its group's restart count into restarts; 0 when it
 * does not, or -errno / K_EUNKNOWN (no registry). */
int hr__reg_promoted(const char *site, const char *name, int32_t pid,
                     uint32_t *restarts);

#endif
