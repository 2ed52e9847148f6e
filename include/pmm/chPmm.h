/* SPDX-License-Identifier: MIT */
/*
 * pmm/chPmm.h - the ChorusOS 4.0 Persistent Memory Manager interface.
 *
 * Names, signatures and semantics follow the ChorusOS 4.0 Hot Restart
 * Programmer's Guide.  The calls work on the bank of the medium named in the
 * PmmName, in the caller's site: an actor's is the one its controller gave
 * it, read once before main; another process's is $HR_SITE or the default
 * site (see pmm_site_path()).  They are thin wrappers over
 * <hotrestart/pmm.h>, thread-safe; a forked child keeps its parent's blocks
 * mapped.  Each call has its man page (pmmAllocate(3) and so on).
 */
#ifndef CHORUS_PMM_CHPMM_H
#define CHORUS_PMM_CHPMM_H

#include <stddef.h>
#include <stdint.h>

#include <hotrestart/errors.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int KnError;
typedef unsigned long VmAddr;

typedef char PmmMedium[16];  /* "RAM" or "DISK", NUL-terminated */
typedef char PmmMemName[64]; /* block name, NUL-terminated */
typedef char PmmDelKey[32];  /* deletion key: bytes with an explicit size */

typedef struct PmmName {
    PmmMedium medium;
    PmmMemName name;
} PmmName;

/* The deletion key that ties a block to the caller's restart group: the
 * controller frees such blocks when the group ends or is killed.  The group
 * is the one the controller started the actor in (HR_GROUP, read once
 * before main); a process that is not an actor gets K_EINVAL. */
#ifndef HR_GROUP_KEY
#define HR_GROUP_KEY "\001HR_GROUP_KEY"
#define HR_GROUP_KEYSIZE (sizeof(HR_GROUP_KEY))
#define HR_GROUP_KEY_SIZE HR_GROUP_KEYSIZE
#endif

#if defined(__GNUC__)
#define PMM_CHORUS_API __attribute__((visibility("default")))
#else
#define PMM_CHORUS_API
#endif

/* Allocate the block blockName or retrieve it if it exists, and map it;
 * *addr receives its address.  Returns K_OK or a negative K_E... code:
 * K_EFAULT (addr or blockName NULL), K_EINVAL, K_EUNKNOWN (medium),
 * K_ENOMEM, K_EPRIV, K_ESIZE, K_EEXIST, K_EBANK. */
/* The guide writes the key parameter as `PmmDelKey delKey`; an array
 * parameter is a pointer in C, so it is declared here as the pointer it is
 * (const, so that string literals, as in the guide's examples, need no cast
 * and compilers do not expect a full 32-byte array behind it). */
PMM_CHORUS_API KnError pmmAllocate(VmAddr *addr, PmmName *blockName,
                                   size_t memSize, const char *delKey,
                                   size_t delKeySize);

/* Free one block at once and for good.  K_OK, K_EFAULT, K_EINVAL,
 * K_EUNKNOWN, K_EPRIV (system block), K_ENOMEM, K_EBANK. */
PMM_CHORUS_API int pmmFree(PmmName *blockName);

/* Free every block allocated with delKey, on every medium of the site (RAM,
 * and DISK when the site has one).  K_OK, K_EINVAL, K_EPRIV ("__SYS" key,
 * HR_GROUP_KEY), K_EUNKNOWN (no block carries the key), K_ENOMEM, K_EBANK. */
PMM_CHORUS_API int pmmFreeAll(const char *delKey, size_t delKeySize);

#ifdef __cplusplus
}
#endif
#endif
