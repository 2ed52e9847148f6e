#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build and run every test: a gcc build and a clang build with warnings as
# errors (the clang build also runs each libFuzzer harness of tests/fuzz/
# for 20 s), then the whole suite again under ASan + UBSan.  Prints ctest's
# summary for each; then the install checks and the Debian packages
# (scripts/package_check.sh).  HR_QUICK=1 skips the clang and sanitizer
# builds and the packages.  Every stage runs, whatever the one before it
# did; the end lists each stage's result, and the run fails if one did.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build-essential cmake clang libclang-rt-14-dev pkg-config libcriterion-dev \
  linux-libc-dev passwd python3 libmemcached-tools python3-pymemcache bash-completion \
  mandoc man-db systemd python3-yaml prometheus util-linux memcached nutcracker
jobs=$(nproc)
results=()
failed=0
# stage NAME COMMAND...: run it, keep going, remember.  (errexit does not
# hold inside a command whose status is tested: run checks each step.)
stage() {
  local name=$1 rc=0; shift
  echo "== $name"
  "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then results+=("passed  $name"); else
    results+=("FAILED  $name (exit $rc)"); failed=$((failed + 1)); fi
}
run() { # name, cmake args...: build and ctest; then no controller left
  local dir=build-$1 rc=0; shift
  cmake -S . -B "$dir" -DHR_WERROR=ON -DHR_TESTS=ON "$@" >/dev/null || return 1
  cmake --build "$dir" -j"$jobs" >/dev/null || return 1
  (cd "$dir" && ctest --output-on-failure) || rc=$?
  no_leftovers "$dir" || rc=1
  return "$rc"
}
# The test that made a controller's site: tests/common.c writes it in
# SITE.test beside the site; the site is the directory of the
# controller.lock the controller holds open.
test_of() { # pid
  local lock
  lock=$(find "/proc/$1/fd" -lname '*/controller.lock' -printf '%l\n' 2>/dev/null | head -n 1)
  [ -n "$lock" ] && cat "$(dirname "$lock").test" 2>/dev/null || echo "an unnamed test"
}
# A test that starts a controller stops it: none may outlive the suite.
no_leftovers() { # build dir
  local p left try
  for try in $(seq 20); do # one told to stop may still be ending its actors
    left=""
    for p in $(pgrep -x hrd || true); do
      case "$(readlink "/proc/$p/cwd" 2>/dev/null)" in
        "$PWD/$1"|"$PWD/$1"/*) left="$left $p" ;;
      esac
    done
    [ -z "$left" ] && return 0
    sleep 0.5
  done
  for p in $left; do
    echo "test.sh: controller $p left running by the tests of $1: $(test_of "$p")" >&2
  done
  kill $left 2>/dev/null || true
  return 1
}
stage "gcc, -Wall -Wextra -Werror" run gcc -DCMAKE_C_COMPILER=gcc
if [ "${HR_QUICK:-0}" != 1 ]; then
  stage "clang, -Wall -Wextra -Werror, fuzz harnesses" \
    run clang -DCMAKE_C_COMPILER=clang -DHR_FUZZ=ON
  # handle_segv=0, handle_sigbus=0: the examples crash on purpose, and must
  # die by the signal, as they do in production, for the controller to see
  # a SIGSEGV; a SIGBUS that the library's guard (src/os/fault.c) does not
  # take must kill as it would without the sanitizer; detect_leaks=1: a
  # process that ends normally must have freed what it took
  ASAN_OPTIONS=detect_leaks=1:handle_segv=0:handle_sigbus=0 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    stage "ASan + UBSan" \
      run asan -DCMAKE_C_COMPILER=gcc -DHR_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
fi
stage "install and pkg-config" scripts/install_check.sh build-gcc
if [ "${HR_QUICK:-0}" != 1 ]; then
  stage "Debian packages: build, lintian, install, demo, purge" scripts/package_check.sh
fi
echo "== stages"
printf '%s\n' "${results[@]}"
echo "stages: $(( ${#results[@]} - failed )) passed, $failed failed"
[ "$failed" -eq 0 ]
