#!/usr/bin/env bash
# Install into a scratch prefix and build a program against it with
# pkg-config, using both ChorusOS header spellings and the native header.
set -euo pipefail
build=${1:-build}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
cat > "$prefix/use.c" <<'C'
#include <chPmm.h>
#include <pmm/chPmm.h>
#include <hr/hr.h>
#include <hotrestart/pmm.h>
#include <stdio.h>
int main(void)
{
    PmmName n = {"RAM", "pkgconfig.check"};
    VmAddr a;
    KnError r = pmmAllocate(&a, &n, 8, "PC", 3);
    if (r != K_OK) { printf("pmmAllocate: %s\n", pmm_strerror(r)); return 1; }
    *(int *)a = 42;
    return pmmFree(&n) == K_OK ? 0 : 1;
}
C
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/x86_64-linux-gnu/pkgconfig"
cc -o "$prefix/use" "$prefix/use.c" $(pkg-config --cflags --libs hotrestart)
libdir=$(pkg-config --variable=libdir hotrestart)
site=$(mktemp -d /dev/shm/hrpc.XXXXXX)
HR_SITE=$site LD_LIBRARY_PATH=$libdir "$prefix/use"
HR_SITE=$site "$prefix/bin/hr" pmm check >/dev/null
rm -rf "$site"
echo "install: library, headers, hr and hotrestart.pc work from $prefix"
