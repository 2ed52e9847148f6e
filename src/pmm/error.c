/* SPDX-License-Identifier: MIT */
/*
 * error.c - the message of every code of <hotrestart/errors.h>.
 */
#define _GNU_SOURCE
#include <string.h>

#include <hotrestart/errors.h>

const char *pmm_strerror(int code)
{
    switch (code) {
    case K_OK:
        return "success";
#define HR_ERR_CASE_(name, value, msg)                                        \
    case name:                                                                \
        return msg;
        HR_ERRNO_MAP(HR_ERR_CASE_)
#undef HR_ERR_CASE_
    default:
        break;
    }
    if (code < 0 && code > -4096)
        return strerror(-code);
    return "unknown error code";
}
