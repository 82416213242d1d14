#!/usr/bin/env bash
# Benchmarks the collector: the plain-sqlx ceiling, then a collector process
# fed over loopback gRPC (backlog drain, latency at half the peak, memory
# under overload), on SQLite and, when a server is reachable, PostgreSQL.
# Each backend runs --repeat rounds (3 by default) and ends with min / median
# / max of every figure, the machine's load beside each phase and where the
# slowest 1 % of acknowledgements spent their time.
# Usage: scripts/bench-collector.sh [PG_SERVER_URL] [extra bench flags…]
# PG_SERVER_URL defaults to $EARLYEXIT_TEST_DATABASE_URL or
# postgres://postgres@127.0.0.1:5432/test; fresh databases are made on it and
# dropped afterwards. Results go in docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
pg="${1:-${EARLYEXIT_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}}"
shift || true
cargo build --release -p earlyexit-collector --bin earlyexit-collector >&2
bin="${CARGO_TARGET_DIR:-target}/release/earlyexit-collector"
dir="$(mktemp -d)"
# The collector child's routine log lines (start, store, stop, one set per
# round); anything else on stderr, such as the bench's own error, is shown.
quiet='^earlyexit-collector: (listening on |store .* \((sqlite|postgres)\), |shutting down: no new connections|stopped: )'

trap 'rm -rf "$dir"' EXIT

echo "== SQLite (files in $dir)"
"$bin" bench --store "sqlite://$dir" "$@" 2> >(grep -vE "$quiet" >&2)

host="$(echo "$pg" | sed -E 's#^[a-z]+://([^@/]*@)?([^:/?]+).*#\2#')"
port="$(echo "$pg" | sed -nE 's#^[a-z]+://([^@/]*@)?[^:/?]+:([0-9]+).*#\2#p')"
if command -v pg_isready >/dev/null && pg_isready -q -h "$host" -p "${port:-5432}"; then
  echo "== PostgreSQL ($host)"
  "$bin" bench --store "$pg" "$@" 2> >(grep -vE "$quiet" >&2)
else
  echo "== PostgreSQL skipped: no server answering at $host:${port:-5432}"
fi
