#!/usr/bin/env bash
# Times `earlyexit analyze patterns|timing|anomalies` over 100,000 recorded
# executions. Usage: scripts/bench-analyze.sh [--runs N] [--executions N]
# Builds the release binary first. Results go in docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p earlyexit --bin earlyexit >&2
exec python3 scripts/bench_analyze.py --bin target/release/earlyexit "$@"
