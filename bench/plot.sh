#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Curves from benchmark lines (one JSON object a line) as an SVG on stdout:
# lookup time against the number of blocks (log scale), and group restart
# time against the number of actors.
set -euo pipefail
awk '
function val(line, key,   r) {
  if (match(line, "\"" key "\": \"[^\"]*\"")) { r = substr(line, RSTART, RLENGTH); sub(/^[^:]*: "/, "", r); sub(/"$/, "", r); return r }
  if (match(line, "\"" key "\": [-0-9.e]+")) { r = substr(line, RSTART, RLENGTH); sub(/^[^:]*: /, "", r); return r + 0 }
  return ""
}
{
  name = val($0, "name"); sys = val($0, "system")
  if (sys != "hotrestart") next
  if (name ~ /^scale_lookup_/) { n = substr(name, 14) + 0; lx[++ln] = n; ly[ln] = val($0, "median") }
  if (name ~ /^group_restart_/) { n = substr(name, 15) + 0; gx[++gn] = n; gy[gn] = val($0, "median") / 1000 }
}
function panel(x0, title, xs, ys, n, logx, xlabel, ylabel,   i, maxx, maxy, px, py, pts, lx0) {
  maxx = 0; maxy = 0
  for (i = 1; i <= n; i++) { if (xs[i] > maxx) maxx = xs[i]; if (ys[i] > maxy) maxy = ys[i] }
  if (maxy == 0) maxy = 1; if (maxx == 0) maxx = 1
  printf "<text x=\"%d\" y=\"24\" font-size=\"14\">%s</text>\n", x0 + 10, title
  printf "<line x1=\"%d\" y1=\"260\" x2=\"%d\" y2=\"260\" stroke=\"black\"/>\n", x0 + 40, x0 + 360
  printf "<line x1=\"%d\" y1=\"40\" x2=\"%d\" y2=\"260\" stroke=\"black\"/>\n", x0 + 40, x0 + 40
  printf "<text x=\"%d\" y=\"290\" font-size=\"11\">%s</text>\n", x0 + 150, xlabel
  printf "<text x=\"%d\" y=\"36\" font-size=\"11\">%s (max %.1f)</text>\n", x0 + 44, ylabel, maxy
  pts = ""
  for (i = 1; i <= n; i++) {
    if (logx) px = x0 + 40 + 320 * (log(xs[i]) / log(10)) / (log(maxx) / log(10))
    else px = x0 + 40 + 320 * xs[i] / maxx
    py = 260 - 200 * ys[i] / maxy
    pts = pts sprintf("%.1f,%.1f ", px, py)
    printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>\n", px, py
    printf "<text x=\"%.1f\" y=\"275\" font-size=\"9\">%g</text>\n", px - 8, xs[i]
  }
  printf "<polyline fill=\"none\" stroke=\"#1060c0\" stroke-width=\"2\" points=\"%s\"/>\n", pts
}
END {
  print "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"300\" font-family=\"sans-serif\">"
  print "<rect width=\"800\" height=\"300\" fill=\"white\"/>"
  panel(0, "lookup by name vs blocks in the bank", lx, ly, ln, 1, "blocks (log)", "ns")
  panel(400, "group restart vs actors in the group", gx, gy, gn, 0, "actors", "ms")
  print "</svg>"
}' "$1"
