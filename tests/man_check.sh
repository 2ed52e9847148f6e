#!/bin/sh
# SPDX-License-Identifier: MIT
# man_check.sh - the man pages: every call documented, every page clean.
#
#   man_check.sh coverage BUILD_DIR LIBRARY
#       installs BUILD_DIR into a scratch prefix and asks man -w, with
#       MANPATH on that prefix only, for a page of every symbol LIBRARY
#       exports (nm -D --defined-only) and of every public macro below; a
#       page that only sources another (.so) must find it installed.
#   man_check.sh lint MAN_DIR
#       runs mandoc -Tlint on every page under MAN_DIR (the configured
#       pages of the build) but the .so links, and fails on anything
#       above style level.
#
# Prints what is missing or wrong, one line each, and fails if anything is.
set -eu
# The public macros, which nm cannot see: the ChorusOS ones.
MACROS="HR_EXIT_HDL HR_GROUP_KEY HR_GROUP_KEYSIZE HR_GROUP_KEY_SIZE"

coverage() {
    build=$1 lib=$2
    prefix=$(mktemp -d)
    trap 'rm -rf "$prefix"' EXIT
    cmake --install "$build" --prefix "$prefix" >/dev/null
    man_root=$prefix/share/man
    bad=0 n=0
    for sym in $(nm -D --defined-only "$lib" | awk '$2 ~ /^[TW]$/ { sub(/@.*/, "", $3); print $3 }') \
               $MACROS; do
        n=$((n + 1))
        if ! page=$(MANPATH=$man_root man -w 3 "$sym" 2>/dev/null); then
            echo "no man page for $sym"
            bad=$((bad + 1))
            continue
        fi
        case $page in "$man_root"/*) ;; *)
            echo "$sym: $page is not the installed page"
            bad=$((bad + 1))
            continue ;;
        esac
        target=$(sed -n '1s/^\.so //p' "$page")
        if [ -n "$target" ] && [ ! -f "$man_root/$target" ]; then
            echo "$sym: $page sources $target, which is not installed"
            bad=$((bad + 1))
        fi
    done
    echo "$n calls and macros, $bad without a page"
    [ "$bad" -eq 0 ]
}

lint() {
    cd "$1"
    bad=0 n=0
    for page in man[1-8]/*; do
        if head -1 "$page" | grep -q '^\.so '; then
            [ -f "$(sed -n '1s/^\.so //p' "$page")" ] ||
                { echo "$page: its .so target is missing"; bad=$((bad + 1)); }
            continue
        fi
        n=$((n + 1))
        out=$(mandoc -Tlint -Wwarning "$page" 2>&1) || true
        if [ -n "$out" ]; then
            echo "$out"
            bad=$((bad + 1))
        fi
    done
    echo "$n pages linted, $bad with warnings or errors"
    [ "$bad" -eq 0 ]
}

case ${1:-} in
coverage) coverage "$2" "$3" ;;
lint) lint "$2" ;;
*) echo "usage: man_check.sh coverage BUILD_DIR LIBRARY | lint MAN_DIR" >&2; exit 2 ;;
esac
