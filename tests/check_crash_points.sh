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
# ..."), and appear as a string literal ("name" or "name:N...", the name
# to the letter) in the code of a test of ROOT/tests (its .c, .h, .py and
# .sh files but tests/planted/, with their comments left out); each row of
# DOC must be in the code.
set -eu
root=${1:?usage: check_crash_points.sh ROOT [DOC]}
doc=${2:-$root/docs/ARCHITECTURE.md}
code=$(grep -rhoE '(pmm__crash|hh_crash)\([^;]*\);' "$root/src" "$root/daemon" |
       grep -oE '"[a-z0-9_.-]+"' | tr -d '"' | sort -u)
documented=$(awk '/^### Crash points/ { on = 1; next } /^#/ { on = 0 } on' "$doc" |
             sed -n 's/^| `\([a-z0-9_.-]*\)` | .*/\1/p' | sort -u)
# The tests' code without its comments: C's /* */ (across lines) and //,
# and # in Python and sh (from a # at the start of a line or after a
# blank; a C file's # lines are the preprocessor's, kept).  Simple on
# purpose: a comment marker inside a string cuts the line short, which can
# only make a point look unarmed, never armed.
armed=$(mktemp)
trap 'rm -f "$armed"' EXIT
find "$root/tests" -path "$root/tests/planted" -prune -o -type f \
     \( -name '*.[ch]' -o -name '*.py' -o -name '*.sh' \) -print |
while read -r f; do
    case "$f" in *.[ch]) lang=c ;; *) lang=hash ;; esac
    awk -v lang="$lang" '
        lang == "hash" { sub(/(^|[ \t])#.*/, ""); print; next }
        {
            out = ""
            while ($0 != "") {
                if (incomment) {
                    if ((i = index($0, "*/")) == 0) { $0 = ""; break }
                    $0 = substr($0, i + 2); incomment = 0; continue
                }
                i = index($0, "/*"); j = index($0, "//")
                if (j && (!i || j < i)) { out = out substr($0, 1, j - 1); break }
                if (!i) { out = out $0; break }
                out = out substr($0, 1, i - 1); $0 = substr($0, i + 2)
                incomment = 1
            }
            print out
        }' "$f"
done >"$armed"
bad=0
for p in $code; do
    if ! echo "$documented" | grep -qx "$p"; then
        echo "FAIL: crash point $p is in the code, not in the table of $doc"
        bad=$((bad + 1))
    fi
    if ! grep -qF -e "\"$p\"" -e "\"$p:" "$armed"; then
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
