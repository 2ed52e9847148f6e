#!/bin/sh
# SPDX-License-Identifier: MIT
# check_abi.sh - the shared library exports exactly the symbols of the list
# committed in the repository (abi/libhotrestart.symbols), each under its
# version node, so that a change of the ABI is a visible diff.
#
#   check_abi.sh LIBRARY LIST           fail, with the diff, if they differ
#   check_abi.sh --write LIBRARY LIST   write the library's list into LIST
#
# A line of the list is "symbol@@NODE", sorted.  Run by ctest (test "abi").
set -eu

exports() { # the defined dynamic symbols of library $1, with their nodes
    nm -D --defined-only --with-symbol-versions "$1" |
        awk '$2 ~ /^[TDBRVWiu]$/ && $3 !~ /^LIBHOTRESTART_[0-9.]*$/ { print $3 }' |
        LC_ALL=C sort
}

if [ "${1:-}" = --write ]; then
    exports "${2:?no library}" > "${3:?no list}"
    echo "wrote $(wc -l < "$3") exported symbols of $2 into $3"
    exit 0
fi
lib=${1:?usage: check_abi.sh [--write] LIBRARY LIST}
list=${2:?usage: check_abi.sh [--write] LIBRARY LIST}
[ -r "$list" ] || { echo "check_abi.sh: cannot read $list" >&2; exit 2; }
now=$(mktemp)
trap 'rm -f "$now"' EXIT
exports "$lib" > "$now"
[ -s "$now" ] || { echo "check_abi.sh: $lib exports nothing" >&2; exit 2; }
if LC_ALL=C sort "$list" | cmp -s - "$now"; then
    echo "$(wc -l < "$now") exported symbols, as in $list"
    exit 0
fi
echo "the exports of $lib differ from $list"
echo "(- in the list but not exported: removed; + exported but not listed: added)"
LC_ALL=C sort "$list" | diff - "$now" | sed -n 's/^< /- /p; s/^> /+ /p'
echo "If the change of the ABI is meant, regenerate the list and commit it:"
echo "  sh $(cd "$(dirname "$0")" && pwd)/check_abi.sh --write $lib $list"
exit 1
