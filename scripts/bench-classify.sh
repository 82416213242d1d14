#!/bin/sh
# Speed of the line classifier against its targets: training on 100,000
# labelled lines <= 10 s, inference (features + model) >= 1 M lines/s.
# Builds the release example of earlyexit-aggregator and prints ours vs
# target as ratios. Results go in docs/BENCHMARKS.md ("Aggregator").
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p earlyexit-aggregator --example bench_classify
exec target/release/examples/bench_classify "$@"
