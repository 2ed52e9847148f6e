/* SPDX-License-Identifier: MIT */
/*
 * check.c - pmm_check(): check a bank file and, if asked, repair it.
 *
 * The check is verify.c's and reads only.  A repair opens the bank as a
 * writer (bank.c), takes its lock (lock.c, which first recovers any
 * unfinished update), rebuilds it (repair.c) and checks it again.
 */
#define _GNU_SOURCE
#include <hotrestart/pmm.h>

#include "bank.h"
#include "lock.h"
#include "repair.h"
#include "verify.h"

int pmm_check(const char *path, unsigned flags,
              void (*fn)(const char *, void *), void *arg)
{
    struct pmm_say s = {fn, arg, 0};
    if (!path)
        return K_EFAULT;
    if (flags & ~PMM_CHECK_REPAIR)
        return K_EINVAL;
    int r = pmm__check_file(path, &s);
    if (r == K_OK && s.problems == 0)
        return K_OK;
    if (!(flags & PMM_CHECK_REPAIR) || (r < 0 && r != K_EBANK))
        return r < 0 ? r : K_EBANK;
    pmm_bank *b;
    r = pmm__bank_open_path(&b, path, "", 0);
    if (r < 0) {
        pmm__say(&s, 1, "cannot repair: %s", pmm_strerror(r));
        return K_EBANK;
    }
    if ((r = pmm__lock(b)) == 0) {
        r = pmm__repair(b, fn, arg);
        pmm__unlock(b);
    }
    pmm_bank_close(b);
    if (r < 0)
        return K_EBANK;
    struct pmm_say again = {fn, arg, 0};
    pmm__say(&again, 0, "repaired; checking again");
    r = pmm__check_file(path, &again);
    return r == K_OK && again.problems == 0 ? K_OK : K_EBANK;
}
