/* SPDX-License-Identifier: MIT */
/*
 * hotrestart/errors.h - the one table of error codes.
 *
 * Calls return K_OK (0) or a negative code.  The K_E... codes below lie
 * outside the errno range, so a native call can also return -errno for a
 * failed system call and pmm_strerror() tells the two apart.
 */
#ifndef HOTRESTART_ERRORS_H
#define HOTRESTART_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message) */
#define HR_ERRNO_MAP(X)                                                        \
    X(K_EINVAL, -1001, "invalid argument")                                    \
    X(K_EFAULT, -1002, "NULL where an address is needed")                     \
    X(K_EUNKNOWN, -1003, "no such medium, block or key")                      \
    X(K_ENOMEM, -1004, "bank full or pmm.maxBlocks reached")                  \
    X(K_EPRIV, -1005, "not allowed: system key or block, or caller without the right") \
    X(K_ESIZE, -1006, "retrieve asks for more than the block holds")          \
    X(K_EEXIST, -1007, "name held by a block with another deletion key")      \
    X(K_EBANK, -1008, "bank damaged beyond automatic repair (run 'hr pmm check')") \
    X(K_ENOTHEAP, -1009, "the block is not a persistent heap")               \
    X(K_EHEAP, -1010, "heap damaged (run 'hr heap check')")                  \
    X(K_ETX, -1011, "transaction call out of order (none open, or nested)") \
    X(K_ESTANDBY, -1012, "a standby instance touches no persistent block before it is promoted (hr_standby_wait)") \
    X(K_EBUSY, -1013, "another transaction holds the object's lock: abort the transaction and retry it") \
    X(K_ENEWER, -1014, "the state is of a newer format version than this program understands (hr_heap_root_versioned)")

#define K_OK 0
#define HR_ERR_DEFINE_(name, value, msg) name = (value),
enum hr_error_codes { HR_ERRNO_MAP(HR_ERR_DEFINE_) K_E_LAST_ = -1015 };
#undef HR_ERR_DEFINE_

/* A one-line message for any code: K_OK, a K_E... code or -errno. */
#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
const char *pmm_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif
