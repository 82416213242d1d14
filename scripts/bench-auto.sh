#!/usr/bin/env bash
# What `--auto` adds to earlyexit's startup (empty and trained database,
# one tool's entries and every entry). Usage: scripts/bench-auto.sh [--runs N]
# Builds the release binary first. Results go in docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p earlyexit --bin earlyexit >&2
exec python3 scripts/bench_auto.py --bin target/release/earlyexit "$@"
