#!/bin/sh
# SPDX-License-Identifier: MIT
# check_tables.sh - the daemon's state tables, every (state, event) cell,
# against the table of expected transitions.
#
#   check_tables.sh HRD EXPECTED
#
# hrd --tables prints each table a cell a line; every pair of each table
# must be there exactly once, and the whole must be EXPECTED, line for line
# (a differing cell is printed as a diff: - expected, + hrd's).
set -eu
hrd=${1:?usage: check_tables.sh HRD EXPECTED}
expected=${2:?usage: check_tables.sh HRD EXPECTED}
got=$(mktemp)
trap 'rm -f "$got"' EXIT
"$hrd" --tables >"$got"
dups=$(awk '{ print $1, $2, $3 }' "$got" | sort | uniq -d)
if [ -n "$dups" ]; then
    echo "FAIL: cells printed twice: $dups"
    exit 1
fi
# a table of S states and E events has S x E cells
awk '{ s[$1, $2] = 1; e[$1, $3] = 1; n[$1]++ }
     END { for (t in n) { ns = 0; ne = 0
             for (k in s) { split(k, p, SUBSEP); if (p[1] == t) ns++ }
             for (k in e) { split(k, p, SUBSEP); if (p[1] == t) ne++ }
             if (n[t] != ns * ne) { print "FAIL: table " t ": " n[t] " cells of " ns " x " ne; bad = 1 }
             else print t ": " ns " states x " ne " events, every cell written" }
           exit bad }' "$got"
if ! diff -u "$expected" "$got" | sed -n 's/^\([-+][a-z]\)/\1/p' | grep .; then
    echo "tables: every cell as expected ($(wc -l <"$got") cells)"
    exit 0
fi
echo "FAIL: cells differ from $expected (- expected, + hrd --tables)"
exit 1
