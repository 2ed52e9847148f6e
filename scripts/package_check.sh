#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the Debian packages from the working tree (in a scratch copy, so
# nothing lands beside the checkout), run lintian on them (no error allowed;
# its warnings are fixed or overridden with a reason in debian/), install
# them, build the examples against the installed headers and library and run
# the demo with the installed hr and hrd, check bash completion, then purge
# the packages and check that the file system is as it was before.
# Needs root (it installs packages).  Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build-essential cmake pkg-config debhelper dpkg-dev fakeroot \
  lintian bash-completion systemd
packages=(hotrestart libhotrestart-dev libhotrestart0)
[ -d hrcached ] && packages+=(hrcached)
work=$(mktemp -d)
cleanup() {
  dpkg --purge "${packages[@]/%/-dbgsym}" "${packages[@]}" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "package_check: $*" >&2; exit 1; }

# One version: debian/changelog's is the project's (CMakeLists.txt); a
# development one (0.2.0~dev) sorts before the release it leads to.
cmake_version=$(sed -n 's/^project(hotrestart VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
deb_version=$(dpkg-parsechangelog -S Version)
upstream=${deb_version%%-*}
[ "${upstream%%~*}" = "$cmake_version" ] ||
  fail "debian/changelog says $deb_version, CMakeLists.txt $cmake_version"

mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard |
  (while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done) |
  xargs -0 cp --parents -t "$work/src"
(cd "$work/src" && dpkg-buildpackage -b -us -uc -j"$(nproc)") > "$work/build.log" 2>&1 ||
  { tail -40 "$work/build.log"; fail "dpkg-buildpackage failed"; }
changes=$(ls "$work"/*.changes)
echo "built: $(cd "$work" && ls *.deb | tr '\n' ' ')"
# hr(1) and hrd(8) refer to libhotrestart(7): it is the tools' package's
dpkg-deb -c "$work"/hotrestart_*.deb > "$work/hotrestart.files"
grep -q '/usr/share/man/man7/libhotrestart\.7\.gz$' "$work/hotrestart.files" ||
  fail "libhotrestart(7) is not in the hotrestart package"
lintian --fail-on error --display-info "$changes" 2>/dev/null | tee "$work/lintian.log" ||
  fail "lintian found errors"
echo "lintian: $(grep -c '^E:' "$work/lintian.log" || true) errors, $(grep -c '^W:' "$work/lintian.log" || true) warnings"

# What the file system holds before (dpkg's and apt's own books aside).
snapshot() {
  find /usr /etc /opt /var/lib -xdev \
    -path /var/lib/dpkg -prune -o -path /var/lib/apt -prune -o \
    -path /var/lib/systemd/deb-systemd-helper-enabled -prune -o -print 2>/dev/null | sort
}
dpkg --purge "${packages[@]}" >/dev/null 2>&1 || true
snapshot > "$work/before"
debs=()
for p in "${packages[@]}"; do debs+=("$work/${p}_"*.deb); done
dpkg -i "${debs[@]}" >/dev/null || fail "the packages did not install"

# The demo against the installed files.
mkdir "$work/ex"
for ex in helloRestart pmm_demo; do
  cc -o "$work/ex/$ex" "examples/$ex.c" $(pkg-config --cflags --libs hotrestart)
done
ldd "$work/ex/pmm_demo" | grep -q "libhotrestart.so.0 => /\(usr/\)\?lib/" ||
  fail "pmm_demo does not load the installed library: $(ldd "$work/ex/pmm_demo")"
[ "$(command -v hr)" = /usr/bin/hr ] || fail "hr is $(command -v hr), not the package's"
HR_DEMO_EXAMPLES=$work/ex scripts/demo.sh > "$work/demo.log" 2>&1 ||
  { cat "$work/demo.log"; fail "the demo failed against the installed files"; }
grep -q "Hello again! I have been restarted." "$work/demo.log" ||
  { cat "$work/demo.log"; fail "the demo shows no hot restart"; }
echo "demo: helloRestart and pmm_demo built with pkg-config, run by /usr/bin/hr and hrd"
for said in "$(hr --version)" "$(hrd --version)" "$(zcat /usr/share/man/man1/hr.1.gz | grep -m1 '^\.TH')"; do
  [[ " $said " == *[\ \"]"$cmake_version"[\ \"]* ]] || fail "not version $cmake_version: $said"
done

scripts/install_check.sh --installed || fail "a consumer does not build against /usr"

# The systemd unit as packaged: the package's hrd, and systemd-analyze
# verify has nothing to say about it (tests/check_unit.sh checks the rest).
unit=/usr/lib/systemd/system/hotrestart@.service
grep -q '^ExecStart=/usr/bin/hrd ' "$unit" || fail "$unit does not run /usr/bin/hrd"
cp "$unit" "$work/hotrestart@pkg.service"
said=$(systemd-analyze verify --man=no "$work/hotrestart@pkg.service" 2>&1) &&
  [ -z "$said" ] || fail "systemd-analyze verify of $unit: $said"
echo "unit: $unit runs /usr/bin/hrd, verified"

if [ -d hrcached ]; then
  hrcached --help > /dev/null || fail "the installed hrcached does not run"
  echo "hrcached: /usr/bin/hrcached runs"
fi

# Bash completion, installed where bash-completion looks, run on /usr/bin/hr.
cc -o "$work/keep_block" tests/keep_block.c $(pkg-config --cflags --libs hotrestart)
tests/check_completion.sh /usr/share/bash-completion/completions/hr /usr/bin \
  "$work/keep_block" || fail "the installed completion fails"

dpkg --purge "${packages[@]}" >/dev/null || fail "purge failed"
snapshot > "$work/after"
diff "$work/before" "$work/after" > "$work/left" ||
  { cat "$work/left"; fail "the file system differs after purging the packages"; }
echo "purged: nothing left behind ($(wc -l < "$work/before") paths compared)"
