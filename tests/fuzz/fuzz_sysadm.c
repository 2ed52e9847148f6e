/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sysadm.c - the start-up file, sysadm.ini, as the controller reads
 * it (daemon/ini.c): the input is the file's text, read line by line to
 * its end, each line checked against what startup.c relies on.  Nothing is
 * run.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct hrd_ini_line l;
    char *text = malloc(size + 1); /* read_file's: NUL-terminated */
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = 0;
    size_t at = 0, len = strlen(text);
    memset(&l, 0, sizeof l);
    for (int lines = 0; hrd_ini_next(text, &at, &l); lines++) {
        if (at > len || l.lineno != lines + 1)
            abort(); /* moved past the end, or a line counted wrong */
        if (l.kind == HRD_INI_COMMAND || l.kind == HRD_INI_ARUN ||
            l.kind == HRD_INI_ORDINARY) {
            if (l.argc < 1 || l.argv[l.argc] != NULL)
                abort(); /* execv() needs a program and a NULL */
            for (int i = 0; i < l.argc; i++)
                if (l.argv[i] < l.buf || l.argv[i] >= l.buf + sizeof l.buf ||
                    !memchr(l.argv[i], 0, (size_t)(l.buf + sizeof l.buf - l.argv[i])))
                    abort(); /* a word outside the line, or unterminated */
        }
    }
    if (at != len)
        abort(); /* stopped before the end */
    free(text);
    return 0;
}
