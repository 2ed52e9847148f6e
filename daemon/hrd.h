/*
 * hrd.h - the Hot Restart Controller daemon.
 *
 * One controller per site.  Its registry (groups, actors, their states and
 * counters) lives in a "__SYS" block of the site's RAM bank, and each
 * actor's program image and arguments in "__SYS" blocks of their own, so
 * that they outlive the controller.  Actors are the controller's children:
 * their pids cannot be reused before the controller reaps them, so killing
 * them by pid is safe.  Deaths arrive as SIGCHLD through a signalfd, at once.
 */
#ifndef HRD_H
#define HRD_H

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

struct hrd {
    char site[4096];
    char self[4096];          /* this program, for a site restart's exec */
    uint32_t max_badness;     /* hrCtrl.maxBadness */
    uint32_t interval_s;      /* hrCtrl.interval */
    uint32_t max_actors;      /* hrCtrl.maxActors: registered at once */
    int max_groups;           /* hrCtrl.maxGroups: group ids 0..max_groups-1 */
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
    int dropped;              /* damaged registry entries dropped at start */
    struct { int conn, group; } waiting[HRD_MAX_WAITING]; /* kill-group
                              requests answered when their group has ended */
};

/* actors.c */
int hrd_start_actor(struct hrd *d, int slot);
int hrd_register(struct hrd *d, int group, int direct, const char *name,
                 int exe_fd, const char *args, uint32_t args_len, int *slot);
void hrd_child_exited(struct hrd *d, pid_t pid, int status);
/* End a group: 1 when done at once, 0 when its members still have to die
 * (the loop finishes it when the last is reaped). */
int hrd_kill_group(struct hrd *d, int group);
/* requests.c: answer the kill-group requests waiting for group's end */
void hrd_answer_waiting(struct hrd *d, int group);
int hrd_end_group(struct hrd *d, int group, const char *why);
void hrd_kill_all(struct hrd *d);
int hrd_find_pid(struct hrd *d, pid_t pid);
uint64_t hrd_start_ticks(pid_t pid);
int hrd_find_name(struct hrd *d, int group, const char *name);
void hrd_log(struct hrd *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void hrd_forget_actor(struct hrd *d, int slot);
int hrd_ps_json(struct hrd *d, char *buf, size_t cap);
int hrd_ps_text(struct hrd *d, char *buf, size_t cap);

int hrd_arun(struct hrd *d, int group, const char *path, char *const argv[],
             char *const envp[], const char *cwd);
int hrd_arun_payload(struct hrd *d, int group, int exe_fd, const char *p,
                     uint32_t len);
int hrd_start_indirect(struct hrd *d, int slot, const int stdio[3]);
void hrd_site_restart(struct hrd *d, const char *why);
int hrd_info_json(struct hrd *d, char *buf, size_t cap);

/* startup.c */
int hrd_split(char *line, char **words, int max);
int hrd_name_ok(const char *s);
/* Run the start-up file up to its first command: 1 while a command runs,
 * 0 once the file is done (or absent).  The loop gives each child's end to
 * hrd_startup_child(), which goes on with the next lines: -1 when pid is no
 * start-up command, else as hrd_startup_begin(). */
int hrd_startup_begin(struct hrd *d, int with_arun);
int hrd_startup_child(struct hrd *d, pid_t pid, int st);

/* requests.c */
void hrd_serve(struct hrd *d, int conn);

#endif
