#!/bin/sh
# check_layers.sh - the library is a downward chain: no call cycle and no
# include cycle between its modules.
#
#   check_layers.sh SRCDIR OBJECT...
#
# A module is one .c file with its .h (src/pmm/lock.c and lock.h are
# "pmm/lock").  Calls come from the objects: module A calls module B when
# an undefined symbol of A's object is defined by B's (nm).  Includes come
# from the #include "..." lines under SRCDIR, resolved from the including
# file's folder, then from SRCDIR.  Prints every cycle found, as a path of
# modules, and fails if there is one.  Lists may be separated by spaces or
# ';'; paths may not hold spaces.
set -eu
src=${1:?usage: check_layers.sh SRCDIR OBJECT...}
shift
set -- $(echo "$@" | tr ';' ' ')

module_of_object() { # .../CMakeFiles/x.dir/src/pmm/lock.c.o -> pmm/lock
    echo "$1" | sed -e 's|.*/src/||' -e 's|\.c\.o$||'
}

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT

# Calls: "calls A B" for each symbol that A needs and B defines.
for o in "$@"; do
    m=$(module_of_object "$o")
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

# Includes: "includes A B" between modules of SRCDIR.
find "$src" -name '*.[ch]' | sort | while read -r f; do
    rel=${f#"$src"/}
    m=${rel%.*}
    dir=$(dirname "$rel")
    sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f" | while read -r inc; do
        if [ -f "$src/$dir/$inc" ]; then t="$dir/$inc"
        elif [ -f "$src/$inc" ]; then t="$inc"
        else continue; fi
        t=$(echo "$t" | sed 's|^\./||')
        [ "${t%.*}" = "$m" ] || echo "includes $m ${t%.*}"
    done
done | sort -u >>"$edges"

# Depth-first search for a back edge, per kind of edge.
awk '
    { out[$1, $2] = out[$1, $2] " " $3; node[$1, $2] = 1; kinds[$1] = 1 }
    function visit(k, v,    i, n, next_, w) {
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
            delete state
            for (kv in node) {
                split(kv, p, SUBSEP)
                if (p[1] == k && state[p[2]] == 0)
                    visit(k, p[2])
            }
            n = 0
            for (kv in node) { split(kv, p, SUBSEP); if (p[1] == k) n++ }
            print k ": " n " modules with edges checked"
        }
        exit found > 0
    }' "$edges"
