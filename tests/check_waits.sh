#!/bin/sh
# SPDX-License-Identifier: MIT
# check_waits.sh - every wait of the tests goes through the one bounded
# poll helper of tests/common.[ch] (POLL_UNTIL, poll_begin/poll_pause,
# poll_until; WAIT_FOR in ctl_helpers.h is built on it): no test file
# calls sleep, usleep, nanosleep or clock_nanosleep, nor poll(2) with a
# timeout other than 0.  A deliberate pause that waits for no event (a
# random kill's moment, a client's rhythm) is pace_us(), also there.
#
# usage: check_waits.sh DIR
# Checks the .c and .h files of DIR (not below it) that are tests: those
# that include criterion.h, common.h or ctl_helpers.h; common.c itself,
# where the helper sleeps, is the one exception.  The programs the tests
# run (the actors, tests/guide/) sleep as the programs they stand for do
# and are not checked.  Comment lines are skipped.  Fails naming each
# call with its file and line; passes silently otherwise.
set -eu
dir=${1:?usage: check_waits.sh DIR}
bad=0
for f in "$dir"/*.c "$dir"/*.h; do
    [ -f "$f" ] || continue
    [ "$(basename "$f")" = common.c ] && continue
    grep -q -E '#include [<"](criterion/criterion|common|ctl_helpers)\.h[>"]' "$f" ||
        continue
    hits=$(awk '
        /^[ \t]*(\/\*|\*|\/\/)/ { next }
        { line = $0; sub(/\/\*.*\*\//, "", line); sub(/\/\/.*/, "", line) }
        line ~ /(^|[^A-Za-z0-9_.])(usleep|sleep|nanosleep|clock_nanosleep)[ \t]*\(/ {
            print FILENAME ":" FNR ": a bare sleep: " $0; next }
        line ~ /(^|[^A-Za-z0-9_.])poll[ \t]*\(/ && line !~ /,[ \t]*0[ \t]*\)/ {
            print FILENAME ":" FNR ": poll(2) with a timeout: " $0 }
    ' "$f")
    if [ -n "$hits" ]; then
        echo "$hits" | sed 's/^/FAIL: /'
        bad=$((bad + $(echo "$hits" | wc -l)))
    fi
done
if [ "$bad" -gt 0 ]; then
    echo "$bad wait(s) outside the poll helper: wait for the event with" \
         "POLL_UNTIL(cond, what) or poll_begin/poll_pause, pace a rhythm" \
         "with pace_us() (tests/common.h)"
    exit 1
fi
