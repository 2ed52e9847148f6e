/*
 * hr/hr.h - the ChorusOS 4.0 Hot Restart interface.
 *
 * hrfexec*() start an indirect restartable actor named by a PmmName in the
 * caller's restart group; HR_EXIT_HDL() marks the caller's next exit as
 * clean; hrKillGroup() kills a group for good; hrGetActorGroup() gives an
 * actor's group.  They return -1 and set errno on failure.  Actor ids are
 * process ids.  KnCap and AcParam exist for source compatibility: pass NULL
 * (a KnCap, if given, receives the child's pid in `ui`).
 */
#ifndef CHORUS_HR_HR_H
#define CHORUS_HR_HR_H

#include <pmm/chPmm.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct KnCap {
    unsigned long ui;
    unsigned long key;
} KnCap;
typedef struct AcParam AcParam;

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
HR_CHORUS_API int hrGetActorGroup(int aid);

#ifdef __cplusplus
}
#endif
#endif
