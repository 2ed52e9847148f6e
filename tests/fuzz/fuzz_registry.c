/* SPDX-License-Identifier: MIT */
/*
 * fuzz_registry.c - the controller's registry as its readers meet it: the
 * input is written into the registry block of a site's RAM bank and read
 * back with hr_site_status() (which checks it with hr__reg_check() and
 * reports from it), and checked directly at its own length.
 */
#define _GNU_SOURCE
#include <string.h>

#include <hotrestart/hr.h>
#include <hotrestart/pmm.h>

#include "fuzz.h"
#include "hr/registry.h"
#include "pmm/alloc.h"
#include "pmm/block.h"
#include "pmm/view.h"

static uint64_t reg_off; /* file offset of the registry block */
static char bank[128];

static void make_site(void)
{
    const char *dir = fuzz_dir();
    pmm_site_config c = {.rambank_size = 1 << 20, .max_blocks = 16};
    pmm_bank *b;
    pmm_block blk;
    if (pmm_site_create(dir, &c) != 0 ||
        pmm_bank_open(&b, dir, "RAM", 0) != 0 ||
        pmm__alloc_sys(b, HR_REG_NAME, sizeof(struct hr_reg), HR_REG_KEY,
                       strlen(HR_REG_KEY), PMM_NOMAP, -1, NULL, &blk) != 0 ||
        pmm__stat_file(b, HR_REG_NAME, &blk, &reg_off) != 0)
        abort();
    pmm_bank_close(b);
    snprintf(bank, sizeof bank, "%s/ram.bank", dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct hr_reg reg;
    char why[256];
    hr_site_state st;
    if (!reg_off)
        make_site();
    size_t len = size < sizeof reg ? size : sizeof reg;
    memset(&reg, 0, sizeof reg);
    memcpy(&reg, data, len);
    hr__reg_check(&reg, len, why, sizeof why);
    int fd = open(bank, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || pwrite(fd, &reg, sizeof reg, (off_t)reg_off) != sizeof reg)
        abort();
    close(fd);
    hr_site_status(fuzz_dir(), &st, why, sizeof why);
    return 0;
}
