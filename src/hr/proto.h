/* SPDX-License-Identifier: MIT */
/*
 * proto.h - the controller's control socket protocol.
 *
 * A SOCK_SEQPACKET Unix socket, <site>/control.sock, owner-only.  Each
 * request is one message: a fixed header, then `len` bytes of payload, with
 * up to HR_MSG_MAXFDS descriptors passed alongside (SCM_RIGHTS).  Each
 * request gets exactly one reply of the same shape, whose `arg` is the
 * result: >= 0, or a negative code (-errno or K_E...), with an optional
 * one-line message or JSON document as payload.
 *
 * String lists (program, arguments, environment) travel as
 *   u32 argc, u32 envc, then NUL-terminated strings: [name] cwd argv... env...
 * and are checked to fill the payload exactly.
 */
#ifndef HR_PROTO_H
#define HR_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include <hotrestart/hr.h>

#define HR_MSG_MAGIC 0x48524331u  /* "HRC1" */
#define HR_MSG_MAX (256u * 1024)  /* header + payload */
#define HR_MSG_MAXFDS 4
#define HR_MAX_ARGS 4096          /* argv + envp entries */
#define HR_SOCK_NAME "control.sock"
_Static_assert(HR_SITE_PATH_MAX + sizeof "/" HR_SOCK_NAME <=
                   sizeof ((struct sockaddr_un *)0)->sun_path,
               "a site path of HR_SITE_PATH_MAX bytes holds its socket");
#define HR_CALL_TIMEOUT_S 30     /* a request unanswered after this fails */

enum hr_msg_type {
    HR_REQ_PING = 1,       /* reply arg: controller pid */
    HR_REQ_ARUN = 2,       /* arg group; fds: executable; reply: pid */
    HR_REQ_SPAWN = 3,      /* hrfexec: name + strings; fds: exe, in, out, err */
    HR_REQ_EXIT_HDL = 4,   /* the caller's next exit is clean */
    HR_REQ_KILL_GROUP = 5, /* arg group */
    HR_REQ_GET_GROUP = 6,  /* arg pid; reply: group */
    HR_REQ_AKILL = 7,      /* arg pid: a failure of that actor */
    HR_REQ_PS = 8,         /* reply payload: JSON (arg 1: a text table) */
    HR_REQ_STOP = 9,       /* stop every actor and the controller */
    HR_REQ_SITE_RESTART = 10, /* restart the site: a fresh controller; arg
                              HR_RESTART_COLD: on a new RAM bank */
    HR_REQ_INFO = 11,      /* reply payload: JSON state and counters */
    HR_REQ_STATUS = 12,    /* reply arg: payload length; payload: the
                              hr_site_state of <hotrestart/hr.h>, as is */
    HR_REQ_ARUN_WITH = 13, /* arg group; payload: struct hr_arun_wire, then
                              name (empty: after the program) + strings;
                              fds: executable; reply: pid */
    HR_REQ_WAIT_READY = 14, /* arg pid: answered once that actor is ready
                              (0), or when it is no longer running (-ESRCH) */
    HR_REQ_RELOAD = 15,    /* read site.conf's hrCtrl.* again */
    HR_REQ_STANDBY = 16,   /* the caller, a standby instance, waits: answered
                              when it is promoted, arg: its group's restart
                              count (HR_RESTARTS); no timeout on this one */
    HR_REQ_METRICS = 17,   /* reply payload: Prometheus text exposition */
    HR_REQ_UPGRADE = 18,   /* arg: a group, or -1 for one actor; payload:
                              struct hr_upgrade_wire, then the actor (a
                              name or a pid; empty for a group) + strings
                              (cwd, the new argv, no environment); fds: the
                              new program; answered when it is done: 0, or
                              -ECANCELED (rolled back) and why */
    HR_REQ_HANDOVER = 19,  /* arg HR_HANDOVER_ASK: is the caller asked to
                              hand over (reply 1 or 0); HR_HANDOVER_GIVE:
                              fds: a connection, payload: its pending bytes;
                              HR_HANDOVER_TAKE: reply arg: the pending bytes'
                              length, fds: the connection, or -ENOENT */
    HR_REPLY = 100,
};

#define HR_RESTART_COLD 1 /* HR_REQ_SITE_RESTART's arg: a cold restart */

/* The options of HR_REQ_ARUN_WITH, first in its payload. */
struct hr_arun_wire {
    uint32_t stop_ms;      /* its stop timeout; 0: the site's */
    int32_t ready_fd;      /* 3..HR_READY_FD_MAX: its readiness fd; 0: none */
    uint32_t flags;        /* HR_ARUN_F_... */
    uint32_t reserved;     /* zero */
};
#define HR_ARUN_F_NOTIFY 1u /* it will send READY=1 to $NOTIFY_SOCKET */
#define HR_READY_FD_MAX 1023

/* The options of HR_REQ_UPGRADE, first in its payload. */
struct hr_upgrade_wire {
    uint32_t timeout_ms;   /* ready within this, else rolled back */
    uint32_t flags;        /* HR_UPGRADE_COLD, HR_UPGRADE_ALL_AT_ONCE */
    uint32_t reserved[2];  /* zero */
};
enum { HR_HANDOVER_ASK = 0, HR_HANDOVER_GIVE = 1, HR_HANDOVER_TAKE = 2 };

struct hr_msg_hdr {
    uint32_t magic;        /* HR_MSG_MAGIC */
    uint16_t type;         /* enum hr_msg_type */
    uint16_t nfds;         /* descriptors passed with it */
    int32_t arg;           /* request argument, or the reply's result */
    uint32_t len;          /* payload bytes that follow */
};

/* A decoded string list; pointers into the payload. */
struct hr_strings {
    const char *name;      /* SPAWN only */
    const char *cwd;
    uint32_t argc, envc;
    const char *argv[HR_MAX_ARGS + 1];
    const char *envp[HR_MAX_ARGS + 1];
};

/* Send one message; fds may be NULL.  0 or -errno. */
int hr__msg_send(int sock, uint16_t type, int32_t arg, const void *payload,
                 uint32_t len, const int *fds, int nfds);
/* Receive one message into buf (HR_MSG_MAX bytes); *payload points inside
 * it.  Received descriptors go to fds[] (HR_MSG_MAXFDS), count in *nfds;
 * any beyond are closed.  -EBADMSG for a malformed or truncated message. */
int hr__msg_recv(int sock, void *buf, struct hr_msg_hdr *hdr,
                 const char **payload, int *fds, int *nfds);
/* Encode a string list into buf; returns its length or -E2BIG. */
int hr__strings_encode(char *buf, size_t cap, const char *name, const char *cwd,
                       char *const argv[], char *const envp[]);
/* Decode and check; -EBADMSG unless the payload is exactly one list. */
int hr__strings_decode(const char *p, uint32_t len, int with_name,
                       struct hr_strings *out);
/* One request of type without payload to the controller of site (a
 * path, not NULL), whose reply has nothing to read (a message, if any, is
 * cut): the reply's result, -ECONNREFUSED, -ECONNRESET when the controller
 * hung up, -EBADMSG.  The exchange waits up to timeout_s (0: for ever).
 * No formatting, no allocation: async-signal-safe (exit.c). */
int hr__bare_call(const char *site, uint16_t type, int timeout_s);
/* Connect to the controller of a site (NULL: default). */
int hr__connect(const char *site, int *sock);
/* One request, one reply.  reply (may be NULL) receives the payload,
 * NUL-terminated, truncated to cap. */
int hr__call(const char *site, uint16_t type, int32_t arg, const void *payload,
             uint32_t len, const int *fds, int nfds, char *reply, size_t cap);
/* The same on the connection s, closed once answered (an upgrade's, with
 * no timeout: src/hr/upgrade.c). */
int hr__call_on(int s, uint16_t type, int32_t arg, const void *payload,
                uint32_t len, const int *fds, int nfds, char *reply, size_t cap);

#endif
