#!/bin/sh
# SPDX-License-Identifier: MIT
# tool_doors.sh - the hr tool goes through public doors only (STYLE.md:
# "Programs meet only through public doors").  Fails, naming the culprit,
# when
#   1. a file of DIR (tool/) includes a header that is neither in include/
#      nor in DIR nor the system's (found by the compiler itself, -MM, so
#      that a relative "../src/x.h" counts as much as a search path would),
#   2. or the objects (the tool's) call a function of the library that the
#      library does not export: one that is in libhotrestart.a but not among
#      the dynamic symbols of libhotrestart.so, i.e. not public API.
#
# usage: tool_doors.sh CC SOURCE_DIR GENERATED_INC DIR LIBHOTRESTART.a
#                      LIBHOTRESTART.so OBJECTS...
# (GENERATED_INC: the build's include/, public headers made by CMake such as
# hotrestart/version.h; OBJECTS may come as one ';'-separated list, as
# ctest passes a generator expression's list.)
set -eu
cc=$1 src=$(realpath "$2") gen=$(realpath -m "$3") dir=$(realpath "$4")
static=$5 shared=$6
shift 6
objs=$(printf '%s\n' "$@" | tr ';' '\n')
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for f in "$dir"/*.c "$dir"/*.h; do
    [ -e "$f" ] || continue
    if ! "$cc" -MM -I"$src/include" -I"$gen" -I"$dir" "$f" >"$tmp/deps" \
        2>"$tmp/err"; then
        echo "FAIL: $f: does not compile with only include/ and its folder on the path:"
        sed 's/^/    /' "$tmp/err"
        fail=1
        continue
    fi
    # one dependency a line, the target and line continuations dropped
    sed -e 's/^[^:]*://' -e 's/\\$//' "$tmp/deps" | tr ' ' '\n' | sed '/^$/d' |
        while read -r dep; do
            case $(realpath -m "$dep") in
            "$src"/include/* | "$gen"/* | "$dir"/*) ;;
            "$src"/*) echo "FAIL: $f includes $dep, a private header" ;;
            esac
        done >>"$tmp/bad"
done
if [ -s "$tmp/bad" ]; then
    cat "$tmp/bad"
    fail=1
fi

nm --defined-only -g "$static" | awk 'NF == 3 { print $3 }' | sort -u >"$tmp/lib"
# exports carry their version node (hr_ping@@LIBHOTRESTART_0)
nm -D --defined-only "$shared" | awk 'NF == 3 { sub(/@.*/, "", $3); print $3 }' |
    sort -u >"$tmp/api"
# shellcheck disable=SC2086 # one object a word
nm -u $objs | awk '{ print $NF }' | sort -u >"$tmp/used"
[ -s "$tmp/used" ] || { echo "FAIL: no undefined symbol read from: $objs"; exit 1; }
comm -12 "$tmp/used" "$tmp/lib" | comm -23 - "$tmp/api" >"$tmp/private"
if [ -s "$tmp/private" ]; then
    echo "FAIL: the tool calls library functions that are not public API:"
    sed 's/^/    /' "$tmp/private"
    fail=1
fi
[ "$fail" = 0 ] && echo "$dir goes through include/ and the exported API only"
exit "$fail"
