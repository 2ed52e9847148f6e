#!/bin/sh
# SPDX-License-Identifier: MIT
# check_layers.sh - no call cycle and no include cycle between modules;
# with --order, every call goes down the documented order.
#
#   check_layers.sh ROOT [--order FILE] OBJECT...
#
# FILE (tests/layers.order) gives each module a floor: a call from a module
# to one on its own floor or above fails, naming both ends and their
# floors, and so does a module of the objects that FILE does not list.
#
# A module is one .c file with its .h, named by its path under ROOT
# (src/pmm/lock.c and lock.h are "src/pmm/lock").  Calls come from the
# objects: module A calls module B when an undefined symbol of A's object
# is defined by B's (nm).  Includes come from the #include "..." lines of
# the folders that hold the objects' sources, resolved from the including
# file's folder, then from ROOT/src.  Prints every cycle found as a path of
# modules, and fails if there is one.  To check more of the tree, give its
# objects too (tests/CMakeLists.txt).  Lists may be separated by spaces or
# ';'; paths may not hold spaces.  An object nm cannot read fails the check
# (exit 2), named.
set -eu
root=${1:?usage: check_layers.sh ROOT [--order FILE] OBJECT...}
shift
order=
if [ "${1:-}" = --order ]; then order=${2:?--order needs a file}; shift 2; fi
set -- $(echo "$@" | tr ';' ' ')

module_of_object() { # .../CMakeFiles/x.dir/src/pmm/lock.c.o -> src/pmm/lock
    echo "$1" | sed -e 's|.*/CMakeFiles/[^/]*\.dir/||' -e 's|\.c\.o$||'
}

edges=$(mktemp)
folders=$(mktemp)
modules=$(mktemp)
trap 'rm -f "$edges" "$folders" "$modules"' EXIT
for o in "$@"; do echo "module $(module_of_object "$o")"; done >"$modules"
# An object nm cannot read fails here: in the pipelines below its failure
# would be lost, and the object checked as one with no symbol.
for o in "$@"; do
    nm "$o" >/dev/null || { echo "FAIL: $o: nm cannot read it"; exit 2; }
done

# Calls: "calls A B" for each symbol that A needs and B defines.
for o in "$@"; do
    m=$(module_of_object "$o")
    dirname "$m" >>"$folders"
    nm --defined-only -g "$o" | awk -v m="$m" 'NF == 3 { print "def", $3, m }'
    nm -u "$o" | awk -v m="$m" '{ print "use", $NF, m }'
done | awk '
    $1 == "def" { def[$2] = $3; next }
    { use[++n] = $2; user[n] = $3 }
    END {
        for (i = 1; i <= n; i++)
            if ((use[i] in def) && def[use[i]] != user[i])
                print "calls", user[i], def[use[i]]
    }' | sort -u >>"$edges"

# Includes: "includes A B" between modules of those folders.
for d in $(sort -u "$folders"); do
    for f in "$root/$d"/*.[ch]; do
        [ -f "$f" ] || continue
        rel=${f#"$root"/}
        m=${rel%.*}
        sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f" | while read -r inc; do
            if [ -f "$root/$d/$inc" ]; then t="$d/$inc"
            elif [ -f "$root/src/$inc" ]; then t="src/$inc"
            else continue; fi
            [ "${t%.*}" = "$m" ] || echo "includes $m ${t%.*}"
        done
    done
done | sort -u >>"$edges"

# The order: each call goes to a lower floor; every module has one.
up=0
if [ -n "$order" ]; then
    up=$(awk -v order="$order" '
        BEGIN {
            while ((getline line < order) > 0) {
                if (line ~ /^[ \t]*(#|$)/)
                    continue
                n = split(line, f, /[ \t]+/)
                for (i = 2; i <= n; i++)
                    floor[f[i]] = f[1] + 0
            }
        }
        $1 == "module" && !($2 in floor) && !($2 in said) {
            print "FAIL: module " $2 " is not in " order ": give it a floor" > "/dev/stderr"
            said[$2] = 1
            bad++
        }
        $1 == "calls" {
            for (i = 2; i <= 3; i++)
                if (!($i in floor) && !($i in said)) {
                    print "FAIL: module " $i " is not in " order ": give it a floor" > "/dev/stderr"
                    said[$i] = 1
                    bad++
                }
            if (($2 in floor) && ($3 in floor) && floor[$2] <= floor[$3]) {
                print "FAIL: calls up the order: " $2 " (floor " floor[$2] ") -> " $3 " (floor " floor[$3] ")" > "/dev/stderr"
                bad++
            }
        }
        END { print bad + 0 }' "$modules" "$edges")
    echo "order: $up call(s) up the order or module(s) without a floor ($order)"
fi

# Depth-first search for a back edge, for each kind of edge.
awk '
    { out[$1, $2] = out[$1, $2] " " $3; node[$1, $2] = 1; kinds[$1] = 1 }
    function visit(k, v,    i, j, n, next_, w, cyc) {
        state[v] = 1
        path[++depth] = v
        n = split(out[k, v], next_, " ")
        for (i = 1; i <= n; i++) {
            w = next_[i]
            if (state[w] == 1) {
                for (j = depth; path[j] != w; j--)
                    ;
                cyc = path[j]
                for (j++; j <= depth; j++)
                    cyc = cyc " -> " path[j]
                print k " cycle: " cyc " -> " w
                found++
            } else if (state[w] == 0) {
                visit(k, w)
            }
        }
        depth--
        state[v] = 2
    }
    END {
        for (k in kinds) {
            split("", state)
            n = 0
            for (kv in node) {
                split(kv, p, SUBSEP)
                if (p[1] != k)
                    continue
                n++
                if (state[p[2]] == 0)
                    visit(k, p[2])
            }
            print k ": " n " modules with outgoing edges checked"
        }
        exit found > 0
    }' "$edges" && [ "$up" -eq 0 ]
