#!/bin/sh
# SPDX-License-Identifier: MIT
# Every source, script and build file of the tree names its licence in an
# SPDX line near its top (issue 14): fails naming each file that does not.
#   check_spdx.sh SOURCE_DIR
top=${1:?usage: check_spdx.sh SOURCE_DIR}
cd "$top" || exit 2
bad=0
for f in $(find include src daemon tool hrcached tests bench examples scripts \
             contrib cmake -type f \( -name '*.c' -o -name '*.h' -o \
             -name '*.cpp' -o -name '*.sh' -o -name '*.py' -o \
             -name 'CMakeLists.txt' -o -name '*.cmake' \) 2>/dev/null) \
         CMakeLists.txt bench/run .ci/run; do
    if ! head -n 3 "$f" | grep -q 'SPDX-License-Identifier: MIT'; then
        echo "FAIL: $f has no SPDX-License-Identifier line"
        bad=$((bad + 1))
    fi
done
echo "$bad file(s) without an SPDX line"
[ "$bad" -eq 0 ]
