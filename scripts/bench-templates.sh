#!/usr/bin/env bash
# Benchmarks the template miner: one miner, one thread, on the 16 Loghub 2k
# samples concatenated and repeated to LINES lines (default 10,000,000), with
# the release build of earlyexit-aggregator only. Prints lines/s (wall clock
# and per second of the thread's CPU time, which is what one core does on a
# shared machine), the ratio to the 1,000,000 lines/s target, and the peak
# RSS of the whole process (GNU time; it includes the 32,000 sample lines
# held in memory) beside the grouping accuracy of the same build.
# Usage: scripts/bench-templates.sh [DATA_DIR] [LINES]
# DATA_DIR defaults to ../shared/data (it must hold loghub2k/ and
# loghub2k_corrected/). Results go in docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data}"
lines="${2:-10000000}"
cargo build --release -p earlyexit-aggregator --bin earlyexit-aggregator >&2
bin="${CARGO_TARGET_DIR:-target}/release/earlyexit-aggregator"
out="$(mktemp)"
tv="$(mktemp)"
trap 'rm -f "$out" "$tv"' EXIT

if [ -x /usr/bin/time ]; then
  /usr/bin/time -v -o "$tv" "$bin" eval templates --data "$data" --speed-lines "$lines" --json >"$out"
  rss_kb="$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$tv")"
else
  "$bin" eval templates --data "$data" --speed-lines "$lines" --json >"$out"
  rss_kb=""
fi

python3 - "$out" "$rss_kb" <<'PY'
import json, sys
report = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
rss = sys.argv[2]
target = 1_000_000
wall = report["lines_per_sec"]
cpu = report.get("lines_per_cpu_sec")
print(f"lines            {report['speed_lines']:>12,}  (16 Loghub 2k samples, repeated)")
print(f"templates        {report['speed_templates']:>12,}")
print(f"wall             {wall:>12,.0f} lines/s   ratio to 1 M target {wall / target:5.2f}x")
if cpu:
    print(f"thread CPU time  {cpu:>12,.0f} lines/s   ratio to 1 M target {cpu / target:5.2f}x")
print(f"peak RSS         {int(rss) / 1024:>12.1f} MB" if rss else "peak RSS         (GNU time not found: install package 'time')")
print(f"grouping accuracy {report['average_ga']:.4f} (original truth {report['average_ga_uncorrected']:.4f})")
PY
