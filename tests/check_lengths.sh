#!/bin/sh
# SPDX-License-Identifier: MIT
# check_lengths.sh - one job per file (issue 16): no .c or .h file over
# LIMIT lines (500) in the checked folders.  Fails naming each file over
# the limit with its length; prints nothing else and passes otherwise.
#
# usage: check_lengths.sh ROOT [FOLDER...]   (folders relative to ROOT;
#        src daemon tool hrcached when none are given)
set -eu
limit=500
root=$1
shift
[ $# -gt 0 ] || set -- src daemon tool hrcached
over=0
for d in "$@"; do
    [ -d "$root/$d" ] || { echo "FAIL: $root/$d: no such folder"; exit 1; }
    for f in $(find "$root/$d" -name '*.[ch]' | sort); do
        n=$(wc -l < "$f")
        if [ "$n" -gt "$limit" ]; then
            echo "FAIL: ${f#"$root"/} has $n lines, over $limit: split it by job"
            over=$((over + 1))
        fi
    done
done
[ "$over" -eq 0 ] || { echo "$over file(s) over $limit lines"; exit 1; }
