/* SPDX-License-Identifier: MIT */
/*
 * owner.c - root acting on a site it does not own acts as its owner.
 *
 * Root may control any site (SPEC: root and the site's owner), but what it
 * opens, makes, renames and removes there by path is what the owner put
 * in the site's place: a link where a bank file was, a directory swapped
 * in between a check and its use, a DISK bank path in site.conf naming
 * another site's bank or a file of root's.  Acting as root there would
 * lend the owner root's rights over every file those paths can reach.  So
 * before it touches such a site (or a bank file given by path), hr drops
 * to the owner's user and group, for good: every file operation after it,
 * the controller it starts included, has exactly the owner's rights.  A
 * site of root's own, and every call of a user who is not root, are left
 * as they are.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hotrestart/pmm.h>

#include "hr.h"

void hr_as_owner_of(const char *path, const char *action)
{
    struct stat st;
    /* whose it is: where a link (root's) given as the path leads */
    if (geteuid() != 0 || stat(path, &st) != 0 || st.st_uid == 0)
        return; /* not root, nothing there yet, or root's own */
    uid_t uid = st.st_uid;
    struct passwd *pw = getpwuid(uid);
    gid_t gid = pw ? pw->pw_gid : st.st_gid;
    /* the owner's groups and names, as a login gives them: a controller
     * started from here runs the owner's actors as the owner would */
    int r = pw ? initgroups(pw->pw_name, gid) : setgroups(0, NULL);
    if (r != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
        hr_die(HR_EXIT_FAIL, "%s: %s belongs to uid %u: cannot act as its "
               "owner: %s", action, path, (unsigned)uid, strerror(errno));
    if (pw) {
        setenv("HOME", pw->pw_dir, 1);
        setenv("USER", pw->pw_name, 1);
        setenv("LOGNAME", pw->pw_name, 1);
    }
}

void hr_site_as_owner(const struct hr_opts *o, const char *action)
{
    char dir[4096];
    if (geteuid() == 0 && pmm_site_path(dir, sizeof dir, o->site) == 0)
        hr_as_owner_of(dir, action);
}
