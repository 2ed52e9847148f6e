#!/bin/sh
# SPDX-License-Identifier: MIT
# check_unit.sh CMAKE BUILD WORK: the systemd unit as installed, checked
# offline (no systemd runs here as PID 1): the build is installed into the
# scratch prefix WORK/prefix; the unit there must name that prefix's hrd,
# pass `systemd-analyze verify` with nothing to say (an unknown key or a
# missing program is reported there), score below 5.0 with
# `systemd-analyze security --offline=true`, and carry the settings
# issue 13 asks for (and Delegate=yes: a cgroup per actor, issue 21).  Exit 0 when all hold; each failure is named.
set -eu
cmake=$1 build=$2 work=$3
fail() { echo "check_unit: $*" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work"
"$cmake" --install "$build" --prefix "$work/prefix" > "$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "cmake --install failed"; }
unit=$work/prefix/lib/systemd/system/hotrestart@.service
[ -f "$unit" ] || fail "no unit at $unit"
grep -q "^ExecStart=$work/prefix/bin/hrd --site /run/hotrestart-%i --config /etc/hotrestart/%i\$" "$unit" ||
  fail "ExecStart does not name the installed hrd: $(grep ^ExecStart= "$unit")"
# an instance, as systemd would load it
cp "$unit" "$work/hotrestart@app.service"
said=$(systemd-analyze verify --man=no "$work/hotrestart@app.service" 2>&1) ||
  fail "systemd-analyze verify failed: $said"
[ -z "$said" ] || fail "systemd-analyze verify has something to say: $said"
security=$(systemd-analyze security --offline=true "$work/hotrestart@app.service" 2>&1) ||
  true # it exits non-zero above its threshold; the score is read below
score=$(printf '%s\n' "$security" |
  sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || fail "no score from systemd-analyze security: $security"
awk -v s="$score" 'BEGIN { exit !(s < 5.0) }' ||
  fail "systemd-analyze security scores $score, not below 5.0"
for line in Type=notify NotifyAccess=main User=%i Restart=on-failure \
    RestartPreventExitStatus=3 OOMPolicy=continue \
    RuntimeDirectory=hotrestart-%i RuntimeDirectoryPreserve=yes \
    ConfigurationDirectory=hotrestart/%i Delegate=yes; do
  grep -qx "$line" "$unit" || fail "the unit lacks $line"
done
echo "check_unit: $unit verified; security exposure $score"
