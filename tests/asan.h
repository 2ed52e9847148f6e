/* SPDX-License-Identifier: MIT */
/*
 * asan.h - __SANITIZE_ADDRESS__ defined under AddressSanitizer whichever
 * compiler builds the tests (gcc defines it; clang says so through
 * __has_feature), for the few places that must act otherwise under it.
 */
#ifndef HR_TESTS_ASAN_H
#define HR_TESTS_ASAN_H

#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(__SANITIZE_ADDRESS__)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif

#endif
