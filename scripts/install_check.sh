#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the build, then build a tiny consumer against the installed files
# and run it, each way a user would:
#   - a private prefix (cmake --install --prefix DIR): with pkg-config, run
#     once with LD_LIBRARY_PATH and once linked with an rpath; with
#     find_package(hotrestart), shared and static targets;
#   - the /usr layout, staged with DESTDIR: hotrestart.pc must hold plain
#     /usr paths; pkg-config (through PKG_CONFIG_SYSROOT_DIR) and
#     find_package (the package is relocatable) build against the stage.
# The consumer includes both ChorusOS spellings and the native header.
#
#   install_check.sh [BUILD]       install BUILD (default build) as above
#   install_check.sh --installed   only build and run the consumers against
#                                  what is installed in /usr (the packages:
#                                  scripts/package_check.sh)
set -euo pipefail
installed=0
if [ "${1:-}" = --installed ]; then installed=1; else build=$(cd "${1:-build}" && pwd); fi
work=$(mktemp -d)
site=$(mktemp -d /dev/shm/hrpc.XXXXXX)
trap 'rm -rf "$work" "$site"' EXIT
export HR_SITE=$site

cat > "$work/use.c" <<'C'
#include <chPmm.h>
#include <pmm/chPmm.h>
#include <hr/hr.h>
#include <hotrestart/pmm.h>
#include <stdio.h>
int main(void)
{
    PmmName n = {"RAM", "consumer.check"};
    VmAddr a;
    KnError r = pmmAllocate(&a, &n, 8, "PC", 3);
    if (r != K_OK) { printf("pmmAllocate: %s\n", pmm_strerror(r)); return 1; }
    *(int *)a = 42;
    return pmmFree(&n) == K_OK ? 0 : 1;
}
C
cat > "$work/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.21)
project(consumer LANGUAGES C)
find_package(hotrestart 0.1 REQUIRED)
add_executable(use_shared use.c)
target_link_libraries(use_shared PRIVATE hotrestart::hotrestart)
add_executable(use_static use.c)
target_link_libraries(use_static PRIVATE hotrestart::hotrestart_static)
CM

fail() { echo "install_check: $*" >&2; exit 1; }

with_pkgconfig() { # prefix, stage ('' or DESTDIR): build and run use.c
    local pfx=$1 stage=$2 out=$work/use_pc libdir
    local pcdir
    pcdir=$(dirname "$(find "$stage$pfx" -name hotrestart.pc)")
    export PKG_CONFIG_LIBDIR=$pcdir PKG_CONFIG_SYSROOT_DIR=$stage
    libdir=$stage$(PKG_CONFIG_SYSROOT_DIR= pkg-config --variable=libdir hotrestart)
    cc -o "$out" "$work/use.c" $(pkg-config --cflags --libs hotrestart)
    LD_LIBRARY_PATH=$libdir "$out" || fail "pkg-config consumer ($pfx) failed"
    cc -o "$out.rpath" "$work/use.c" $(pkg-config --cflags --libs hotrestart) \
        -Wl,-rpath,"$libdir"
    "$out.rpath" || fail "pkg-config consumer with rpath ($pfx) failed"
    unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
}

with_find_package() { # hotrestart_DIR: build and run the shared and static consumers
    local b=$work/cm.$RANDOM
    cmake -S "$work" -B "$b" -Dhotrestart_DIR="$1" >/dev/null ||
        fail "find_package(hotrestart) from $1 failed"
    cmake --build "$b" >/dev/null || fail "the find_package consumer did not build"
    "$b/use_shared" || fail "find_package consumer (shared) failed"
    "$b/use_static" || fail "find_package consumer (static) failed"
}

if [ $installed = 1 ]; then
  with_pkgconfig /usr ""
  with_find_package "$(dirname "$(find /usr/lib -name hotrestartConfig.cmake)")"
  echo "install: pkg-config and find_package consumers run against /usr"
  exit 0
fi

# A private prefix.
pfx=$work/prefix
cmake --install "$build" --prefix "$pfx" >/dev/null
with_pkgconfig "$pfx" ""
with_find_package "$(dirname "$(find "$pfx" -name hotrestartConfig.cmake)")"
"$pfx/bin/hr" pmm check >/dev/null || fail "installed hr pmm check failed"
# One version: CHANGELOG.md's newest section (a release, or the one being
# made: "## [0.2.0] - unreleased") is what hr, hrd and man hr say.
release=$(sed -n 's/^## \[\([0-9][0-9.]*\)\].*/\1/p' "$(dirname "$0")/../CHANGELOG.md" | head -1)
for said in "$("$pfx/bin/hr" --version)" "$("$pfx/bin/hrd" --version)" \
            "$(grep -m1 '^\.TH' "$pfx/share/man/man1/hr.1")"; do
  [[ " $said " == *[\ \"]"$release"[\ \"]* ]] ||
    fail "CHANGELOG.md's release is $release, but: $said"
done
echo "install: hr --version, hrd --version and man hr say $release, as CHANGELOG.md"
echo "install: pkg-config (LD_LIBRARY_PATH, rpath) and find_package (shared, static) consumers run from $pfx"

# The /usr layout, staged.
stage=$work/stage
DESTDIR=$stage cmake --install "$build" --prefix /usr >/dev/null
pc=$(find "$stage/usr" -name hotrestart.pc)
grep -qx 'prefix=/usr' "$pc" || fail "$pc: prefix is not /usr"
! grep -q pcfiledir "$pc" || fail "$pc: paths relative to the .pc file"
cflags=$(echo $(PKG_CONFIG_LIBDIR=$(dirname "$pc") pkg-config --cflags hotrestart))
[ "$cflags" = "-I/usr/include/hotrestart/chorus" ] ||
    fail "pkg-config --cflags gives '$cflags' for /usr"
with_pkgconfig /usr "$stage"
with_find_package "$(dirname "$(find "$stage/usr" -name hotrestartConfig.cmake)")"
echo "install: in the /usr layout, hotrestart.pc says $cflags; both consumers run"
