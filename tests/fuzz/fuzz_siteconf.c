/* SPDX-License-Identifier: MIT */
/*
 * fuzz_siteconf.c - site.conf, as read by the library (pmm.diskbank) and
 * the controller's policy (the hrCtrl.* keys): the input is the file.
 */
#define _GNU_SOURCE
#include <hotrestart/hr.h>
#include <hotrestart/pmm.h>

#include "fuzz.h"
#include "hr/policy.h"
#include "pmm/site.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char conf[128];
    const char *dir = fuzz_dir();
    char val[64], path[256];
    hr_policy p;
    if (!conf[0])
        snprintf(conf, sizeof conf, "%s/site.conf", dir);
    fuzz_write(conf, data, size);
    pmm__conf_get(dir, "pmm.diskbank", val, sizeof val);
    pmm__conf_get(dir, "hrCtrl.maxGroups", val, 4);
    pmm_bank_path(path, sizeof path, dir, "DISK");
    hr__policy_read(dir, &p, NULL, NULL);
    hr_policy_check(&p);
    return 0;
}
