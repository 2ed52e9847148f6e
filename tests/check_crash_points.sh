#!/bin/sh
# SPDX-License-Identifier: MIT
# check_crash_points.sh - the named crash points of the code, the table of
# them in the docs and the tests that arm them agree.
#
#   check_crash_points.sh ROOT [DOC]
#
# A crash point is a string literal passed to pmm__crash() or hh_crash() in
# ROOT/src or ROOT/daemon.  Each must be a row of DOC (default
# ROOT/docs/ARCHITECTURE.md, its section "### Crash points": "| `name` |
# ..."), and appear quoted in a test
# of ROOT/tests ("name" or "name:N..."); each row of DOC must be in the code.
set -eu
root=${1:?usage: check_crash_points.sh ROOT [DOC]}
doc=${2:-$root/docs/ARCHITECTURE.md}
code=$(grep -rhoE '(pmm__crash|hh_crash)\([^;]*\);' "$root/src" "$root/daemon" |
       grep -oE '"[a-z0-9_.-]+"' | tr -d '"' | sort -u)
documented=$(awk '/^### Crash points/ { on = 1; next } /^#/ { on = 0 } on' "$doc" |
             sed -n 's/^| `\([a-z0-9_.-]*\)` | .*/\1/p' | sort -u)
bad=0
for p in $code; do
    if ! echo "$documented" | grep -qx "$p"; then
        echo "FAIL: crash point $p is in the code, not in the table of $doc"
        bad=$((bad + 1))
    fi
    if ! grep -rqE "\"$p(\"|:)" "$root/tests"; then
        echo "FAIL: crash point $p is armed by no test in $root/tests"
        bad=$((bad + 1))
    fi
done
for p in $documented; do
    if ! echo "$code" | grep -qx "$p"; then
        echo "FAIL: crash point $p of $doc is not in the code"
        bad=$((bad + 1))
    fi
done
echo "crash points: $(echo "$code" | wc -w) in the code, $bad problem(s)"
[ "$bad" -eq 0 ]
