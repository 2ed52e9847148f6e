#!/bin/sh
# SPDX-License-Identifier: MIT
# guide_check.sh - the guide's programs against the INSTALLED library.
#
#   guide_check.sh BUILD_DIR GUIDE_SRC_DIR [CFLAGS]
#
# Installs BUILD_DIR into a scratch prefix, compiles the copies of the
# ChorusOS guide's programs in GUIDE_SRC_DIR (helloRestart, restartSpawn's
# HR_parent and HR_child, and all_forms: the seven hrfexec forms, KnCap,
# AcParam and sysShutdown) with nothing but the installed headers and
# pkg-config, runs them as actors of a throwaway site under the installed
# hr and hrd, and checks that they behave as the guide says.  Each copy's
# opening comment names the ChorusOS kernel calls replaced in it.  CFLAGS
# are the build's own that a program linked with its library needs (the
# sanitizers' in a sanitizer build).
set -eu
build=$1 src=$2 extra=${3:-}
prefix=$(mktemp -d)
site=$(mktemp -d /dev/shm/hrguide.XXXXXX)
export HR_SITE=$site
cleanup() {
    "$prefix/bin/hr" site stop >/dev/null 2>&1 || true
    rm -rf "$prefix" "$site"
}
trap cleanup EXIT
fail() { echo "guide_check: $*"; echo "--- console:"; cat "$site/console.log" 2>/dev/null; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/x86_64-linux-gnu/pkgconfig:$prefix/lib64/pkgconfig"
libdir=$(pkg-config --variable=libdir hotrestart)
mkdir "$prefix/guide"
cc_guide() { # name, extra flags
    name=$1; shift
    cc -Wall -Wextra -Werror $extra "$@" -o "$prefix/guide/$name" "$src/$name.c" \
        $(pkg-config --cflags --libs hotrestart) -Wl,-rpath,"$libdir" ||
        fail "$name does not compile against the installed headers"
}
cc_guide helloRestart
cc_guide HR_child
cc_guide HR_parent "-DCHILD_PATH=\"$prefix/guide/HR_child\""
cc_guide all_forms

hr="$prefix/bin/hr"
"$hr" site create >/dev/null
"$hr" site start >/dev/null
count() { grep -c -- "$1" "$site/console.log" || true; }
wait_for() { # what, shell condition: the tests' bounded poll, in sh
    i=0 pause=0.001
    until eval "$2"; do
        i=$((i + 1))
        [ $i -lt $((${HR_TEST_WAIT_S:-120} * 20)) ] ||
            fail "timed out after ${HR_TEST_WAIT_S:-120} s waiting for $1"
        sleep $pause
        case $pause in 0.001) pause=0.01 ;; 0.01) pause=0.05 ;; esac
    done
}
no_groups() { "$hr" --json ps | grep -q '"groups": \[\]'; }

# helloRestart: hello, a crash, a restart, hello again, a clean end
"$hr" arun -g 0 "$prefix/guide/helloRestart" >/dev/null
wait_for "helloRestart's group to end" no_groups
[ "$(count 'Hello world!')" = 1 ] || fail "Hello world! not printed once"
[ "$(count 'Hello again! I have been restarted.')" = 1 ] ||
    fail "Hello again not printed once"
first=$(grep -n 'Hello world!' "$site/console.log" | cut -d: -f1)
again=$(grep -n 'Hello again!' "$site/console.log" | cut -d: -f1)
[ "$first" -lt "$again" ] || fail "Hello again before Hello world"

# restartSpawn: the parent crashes four times; the message comes out whole,
# once
"$hr" arun -g 1 "$prefix/guide/HR_parent" >/dev/null
wait_for "restartSpawn's group to end" no_groups
[ "$(count '=========== Message =========== STEP 1 STEP 2 STEP 3 STEP 4 ======== End of message========')" = 1 ] ||
    fail "the child's message was not printed once, whole"
[ "$(count 'restarting the group')" -ge 4 ] || fail "the parent did not crash 4 times"

# the seven forms, then sysShutdown -i 1: a site restart that starts the
# direct actor again
gen_before=$("$hr" --json site info | sed -n 's/.*"generation": \([0-9]*\).*/\1/p')
"$hr" arun -g 2 "$prefix/guide/all_forms" "$prefix/guide" >/dev/null
wait_for "the site restart to bring all_forms back" \
    '[ "$(count "all_forms restarted by the site")" = 1 ]'
wait_for "all_forms's group to end" no_groups
for f in bare l lp v vp; do
    [ "$(count "child $f ok\$")" = 2 ] ||
        fail "hrfexec form $f did not run once in each run of its parent"
done
for f in le ve; do
    [ "$(count "child $f ok env\$")" = 2 ] || fail "hrfexec$f did not pass its envp"
done
gen_after=$("$hr" --json site info | sed -n 's/.*"generation": \([0-9]*\).*/\1/p')
[ "$gen_after" = $((gen_before + 1)) ] ||
    fail "sysShutdown: generation $gen_before -> $gen_after, not one site restart"
echo "guide: helloRestart, restartSpawn and all_forms built against $prefix and behaved"
