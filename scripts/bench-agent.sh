#!/usr/bin/env bash
# Benchmarks the earlyexit agent against its references and prints each
# number as ours vs reference. Usage: scripts/bench-agent.sh [--runs N]
# Builds the release binary first. Results go in docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p earlyexit --bin earlyexit >&2
exec python3 scripts/bench_agent.py --bin target/release/earlyexit "$@"
