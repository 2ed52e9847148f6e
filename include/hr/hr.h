/* SPDX-License-Identifier: MIT */
/*
 * hr/hr.h - the ChorusOS 4.0 Hot Restart interface.
 *
 * hrfexec*() start an indirect restartable actor named by a PmmName in the
 * caller's restart group; HR_EXIT_HDL() marks the caller's next exit as
 * clean; hrKillGroup() kills a group for good; hrGetActorGroup() gives an
 * actor's group.  They return -1 and set errno on failure.  Actor ids are
 * process ids.  KnCap and AcParam have their ChorusOS shape; a KnCap, if
 * given, receives the child's pid in ui.tail, an AcParam is ignored.
 * sysShutdown("-i 1") restarts the site.
 */
#ifndef CHORUS_HR_HR_H
#define CHORUS_HR_HR_H

#include <pmm/chPmm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An actor's capability, laid out as ChorusOS lays it out.  Here an actor
 * is a process: hrfexec*() put its pid in ui.tail and zero everywhere else;
 * nothing reads a capability back (see hrfexec(3)). */
typedef struct KnUniqueId {
    unsigned long head; /* 0 */
    unsigned long tail; /* the actor's pid */
} KnUniqueId;
typedef struct KnKey {
    unsigned long keyHead; /* 0 */
    unsigned long keyTail; /* 0 */
} KnKey;
typedef struct KnCap {
    KnUniqueId ui;
    KnKey key;
} KnCap;

/* afexec(2K)'s load parameters.  None has a meaning on Linux: a param
 * given to hrfexec*() is accepted and ignored (NULL is fine too). */
typedef struct AcParam {
    unsigned long acFlags; /* AFX_... loader options: ignored */
    KnCap *acCap;          /* the new actor's capability: ignored */
    void *acPrivilege;     /* user or supervisor actor: ignored */
    unsigned long acStackSize; /* main thread's stack: ignored */
} AcParam;

#if defined(__GNUC__)
#define HR_CHORUS_API __attribute__((visibility("default")))
#else
#define HR_CHORUS_API
#endif

HR_CHORUS_API int hrfexec(PmmName *baseName, const char *path, KnCap *cactorcap,
                          const AcParam *param, ...);
HR_CHORUS_API int hrfexecl(PmmName *baseName, const char *path,
                           KnCap *cactorcap, const AcParam *param,
                           const char *arg0, ...);
HR_CHORUS_API int hrfexecle(PmmName *baseName, const char *path,
                            KnCap *cactorcap, const AcParam *param,
                            const char *arg0, ...);
HR_CHORUS_API int hrfexeclp(PmmName *baseName, const char *file,
                            KnCap *cactorcap, const AcParam *param,
                            const char *arg0, ...);
HR_CHORUS_API int hrfexecv(PmmName *baseName, const char *path,
                           KnCap *cactorcap, const AcParam *param,
                           char *const argv[]);
HR_CHORUS_API int hrfexecve(PmmName *baseName, const char *path,
                            KnCap *cactorcap, const AcParam *param,
                            char *const argv[], char *const envp[]);
HR_CHORUS_API int hrfexecvp(PmmName *baseName, const char *file,
                            KnCap *cactorcap, const AcParam *param,
                            char *const argv[]);

HR_CHORUS_API int hr_exit_hdl_chorus(void);
#define HR_EXIT_HDL() hr_exit_hdl_chorus()

HR_CHORUS_API int hrKillGroup(int groupId);
/* shutdown(1M)'s arguments: only -i 1 (a site restart) has a meaning here;
 * 0, or K_EINVAL for any other argument (see sysShutdown(3)). */
HR_CHORUS_API int sysShutdown(int argc, char **argv);
HR_CHORUS_API int hrGetActorGroup(int aid);

#ifdef __cplusplus
}
#endif
#endif
