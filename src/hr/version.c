/* SPDX-License-Identifier: MIT */
/*
 * version.c - hr_version(): the library's own version at run time, from
 * the one place it is set (CMakeLists.txt's project(VERSION), through the
 * generated <hotrestart/version.h>).
 */
#include <hotrestart/hr.h>
#include <hotrestart/version.h>

const char *hr_version(void)
{
    return HR_VERSION_STRING;
}
