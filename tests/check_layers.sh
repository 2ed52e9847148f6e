#!/bin/sh
# SPDX-License-Identifier: MIT
# check_layers.sh - no call cycle and no include cycle between modules.
#
#   check_layers.sh ROOT OBJECT...
#
# A module is one .c file with its .h, named by its path under ROOT
# (src/pmm/lock.c and lock.h are "src/pmm/lock").  Calls come from the
# objects: module A calls module B when an undefined symbol of A's object
# is defined by B's (nm).  Includes come from the #include "..." lines of
# the folders that hold the objects' sources, resolved from the including
# file's folder, then from ROOT/src.  Prints every cycle found as a path of
# modules, and fails if there is one.  To check more of the tree, give its
# objects too (tests/CMakeLists.txt).  Lists may be separated by spaces or
# ';'; paths may not hold spaces.
set -eu
root=${1:?usage: check_layers.sh ROOT OBJECT...}
shift
set -- $(echo "$@" | tr ';' ' ')

module_of_object() { # .../CMakeFiles/x.dir/src/pmm/lock.c.o -> src/pmm/lock
    echo "$1" | sed -e 's|.*/CMakeFiles/[^/]*\.dir/||' -e 's|\.c\.o$||'
}

edges=$(mktemp)
folders=$(mktemp)
trap 'rm -f "$edges" "$folders"' EXIT

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
    }' "$edges"
