#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build and run every test: a gcc build and a clang build with warnings as
# errors (the clang build also runs each libFuzzer harness of tests/fuzz/
# for 20 s), then the whole suite again under ASan + UBSan.  Prints ctest's
# summary for each; then the install checks and the Debian packages
# (scripts/package_check.sh).  HR_QUICK=1 skips the clang and sanitizer
# builds and the packages.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build-essential cmake clang libclang-rt-14-dev pkg-config libcriterion-dev \
  linux-libc-dev passwd python3 libmemcached-tools python3-pymemcache bash-completion \
  mandoc man-db systemd python3-yaml prometheus util-linux
jobs=$(nproc)
run() { # name, cmake args...
  local dir=build-$1; shift
  cmake -S . -B "$dir" -DHR_WERROR=ON -DHR_TESTS=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
  (cd "$dir" && ctest --output-on-failure)
  no_leftovers "$dir"
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
  if [ -n "$left" ]; then
    echo "test.sh: controllers left running by the tests of $1:$left" >&2
    kill $left 2>/dev/null || true
    return 1
  fi
}
echo "== gcc, -Wall -Wextra -Werror"
run gcc -DCMAKE_C_COMPILER=gcc
if [ "${HR_QUICK:-0}" != 1 ]; then
  echo "== clang, -Wall -Wextra -Werror"
  run clang -DCMAKE_C_COMPILER=clang -DHR_FUZZ=ON
  echo "== ASan + UBSan"
  # handle_segv=0, handle_sigbus=0: the examples crash on purpose, and must
  # die by the signal, as they do in production, for the controller to see
  # a SIGSEGV; a SIGBUS that the library's guard (src/os/fault.c) does not
  # take must kill as it would without the sanitizer
  ASAN_OPTIONS=detect_leaks=0:handle_segv=0:handle_sigbus=0 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run asan -DCMAKE_C_COMPILER=gcc -DHR_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
fi
echo "== install and pkg-config"
scripts/install_check.sh build-gcc
if [ "${HR_QUICK:-0}" != 1 ]; then
  echo "== Debian packages: build, lintian, install, demo, purge"
  scripts/package_check.sh
fi
