#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Curves from benchmark lines (one JSON object a line) as an SVG on stdout:
# lookup time against the number of blocks (log scale), group restart time
# against the number of actors, and a heap's aggregate 64-byte transactions
# a second against its threads (PMDK's beside it, same run).
set -euo pipefail
awk '
function val(line, key,   r) {
  if (match(line, "\"" key "\": \"[^\"]*\"")) { r = substr(line, RSTART, RLENGTH); sub(/^[^:]*: "/, "", r); sub(/"$/, "", r); return r }
  if (match(line, "\"" key "\": [-0-9.e]+")) { r = substr(line, RSTART, RLENGTH); sub(/^[^:]*: /, "", r); return r + 0 }
  return ""
}
{
  name = val($0, "name"); sys = val($0, "system")
  if (sys != "hotrestart" && name != "heap_tx64_threads") next
  if (name ~ /^scale_lookup_/) { n = substr(name, 14) + 0; lx[++ln] = n; ly[ln] = val($0, "median") }
  if (name ~ /^group_restart_/) { n = substr(name, 15) + 0; gx[++gn] = n; gy[gn] = val($0, "median") / 1000 }
}
name == "heap_tx64_threads" && match(sys, /^(hotrestart|PMDK), [0-9]+ threads?$/) {
  n = sys; sub(/^[^,]*, /, "", n); n = n + 0
  if (sys ~ /^hotrestart/) { tx[++tn] = n; ty[tn] = val($0, "median") / 1e6 }
  else { px2[++pn] = n; py2[pn] = val($0, "median") / 1e6 }
}
# One panel at x0: the series (xs, ys, n), and a second one (xs2, ys2, n2,
# named by legend, legend2) if n2 > 0, on the same axes.
function panel(x0, title, xs, ys, n, logx, xlabel, ylabel, xs2, ys2, n2, legend, legend2,   i, maxx, maxy) {
  maxx = 0; maxy = 0
  for (i = 1; i <= n; i++) { if (xs[i] > maxx) maxx = xs[i]; if (ys[i] > maxy) maxy = ys[i] }
  for (i = 1; i <= n2; i++) { if (xs2[i] > maxx) maxx = xs2[i]; if (ys2[i] > maxy) maxy = ys2[i] }
  if (maxy == 0) maxy = 1; if (maxx == 0) maxx = 1
  printf "<text x=\"%d\" y=\"24\" font-size=\"14\">%s</text>\n", x0 + 10, title
  printf "<line x1=\"%d\" y1=\"260\" x2=\"%d\" y2=\"260\" stroke=\"black\"/>\n", x0 + 40, x0 + 360
  printf "<line x1=\"%d\" y1=\"40\" x2=\"%d\" y2=\"260\" stroke=\"black\"/>\n", x0 + 40, x0 + 40
  printf "<text x=\"%d\" y=\"290\" font-size=\"11\">%s</text>\n", x0 + 150, xlabel
  printf "<text x=\"%d\" y=\"36\" font-size=\"11\">%s (max %.1f)</text>\n", x0 + 44, ylabel, maxy
  series(x0, xs, ys, n, logx, maxx, maxy, "#1060c0", 1)
  if (n2 > 0) {
    series(x0, xs2, ys2, n2, logx, maxx, maxy, "#c04010", 0)
    printf "<text x=\"%d\" y=\"52\" font-size=\"10\" fill=\"#1060c0\">%s</text>\n", x0 + 240, legend
    printf "<text x=\"%d\" y=\"64\" font-size=\"10\" fill=\"#c04010\">%s</text>\n", x0 + 240, legend2
  }
}
# One curve of a panel; labels: write the x values under the axis.
function series(x0, xs, ys, n, logx, maxx, maxy, colour, labels,   i, px, py, pts) {
  pts = ""
  for (i = 1; i <= n; i++) {
    if (logx) px = x0 + 40 + 320 * (log(xs[i]) / log(10)) / (log(maxx) / log(10))
    else px = x0 + 40 + 320 * xs[i] / maxx
    py = 260 - 200 * ys[i] / maxy
    pts = pts sprintf("%.1f,%.1f ", px, py)
    printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px, py, colour
    if (labels)
      printf "<text x=\"%.1f\" y=\"275\" font-size=\"9\">%g</text>\n", px - 8, xs[i]
  }
  printf "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>\n", colour, pts
}
END {
  print "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1200\" height=\"300\" font-family=\"sans-serif\">"
  print "<rect width=\"1200\" height=\"300\" fill=\"white\"/>"
  panel(0, "lookup by name vs blocks in the bank", lx, ly, ln, 1, "blocks (log)", "ns")
  panel(400, "group restart vs actors in the group", gx, gy, gn, 0, "actors", "ms")
  panel(800, "64-byte heap transactions vs threads (2 cores)", tx, ty, tn, 0,
        "threads", "M tx/s, aggregate", px2, py2, pn, "hotrestart", "PMDK, its own locks")
  print "</svg>"
}' "$1"
