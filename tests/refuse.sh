#!/bin/sh
# SPDX-License-Identifier: MIT
# refuse.sh - run a check on a planted offender and say its exit status
# last ("refuse.sh: exit N"), for a *_refuse test: ctest's
# PASS_REGULAR_EXPRESSION replaces the exit status as the verdict, so the
# expression (tests/CMakeLists.txt adds it to every *_refuse test) must
# require the check's non-zero status, or a check that printed its FAIL
# lines and exited 0 would pass.  Exits 0 itself: the expression decides.
#
# usage: refuse.sh COMMAND [ARG...]
"$@"
echo "refuse.sh: exit $?"
