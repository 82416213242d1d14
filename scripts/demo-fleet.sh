#!/usr/bin/env bash
# A fleet on one machine: a collector (SQLite, TLS with a self-signed
# certificate) and three agents with their own EARLYEXIT_HOME, each running
# real sample workloads (builds and tests that pass, fail or hang), synced
# to the collector; then what arrived. Everything lives in one temporary
# folder that is removed at the end (also on Ctrl-C or an error).
#
#   cargo build --release -p earlyexit -p earlyexit-collector
#   scripts/demo-fleet.sh            # run the demo, clean up
#   scripts/demo-fleet.sh --hold     # keep the collector up until Ctrl-C
#
# Environment: EARLYEXIT_BIN_DIR (default target/release) holds the
# binaries; KEEP=1 keeps the temporary folder.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${EARLYEXIT_BIN_DIR:-$ROOT/target/release}
HOLD=0
case "${1:-}" in
    --hold) HOLD=1 ;;
    "") ;;
    -h | --help)
        sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "demo-fleet: unknown argument '$1' (try --help)" >&2
        exit 2
        ;;
esac

for b in earlyexit earlyexit-collector; do
    if [ ! -x "$BIN/$b" ]; then
        echo "demo-fleet: $BIN/$b not found; build it first:" >&2
        echo "  cargo build --release -p earlyexit -p earlyexit-collector" >&2
        echo "(or point EARLYEXIT_BIN_DIR at a folder that has earlyexit and earlyexit-collector)" >&2
        exit 2
    fi
done
# Absolute: the workloads run in their own folder.
BIN=$(cd "$BIN" && pwd)
EE=$BIN/earlyexit
COLLECTOR=$BIN/earlyexit-collector
PY=$(command -v python3 || true)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/earlyexit-demo.XXXXXX")
COLLECTOR_PID=
cleanup() {
    status=$?
    if [ -n "$COLLECTOR_PID" ] && kill -0 "$COLLECTOR_PID" 2>/dev/null; then
        kill -TERM "$COLLECTOR_PID" 2>/dev/null || true
        wait "$COLLECTOR_PID" 2>/dev/null || true
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '\n== %s\n' "$*"; }

# ------------------------------------------------------------ the collector
say "collector (SQLite store and self-signed TLS in $WORK/collector)"
export EARLYEXIT_COLLECTOR_HOME=$WORK/collector
STORE=sqlite://$WORK/collector/collector.db
serve_args=(serve --listen 127.0.0.1:0 --store "$STORE")
HTTP_PORT=
if "$COLLECTOR" serve --help 2>/dev/null | grep -q -- '--http-listen'; then
    if [ -n "$PY" ]; then
        HTTP_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    else
        HTTP_PORT=7701
    fi
    serve_args+=(--http-listen "127.0.0.1:$HTTP_PORT")
fi
# admin ARGS...: an admin command on the store; its stderr only on failure.
admin() {
    if ! "$COLLECTOR" "$@" --store "$STORE" 2>"$WORK/admin.log"; then
        echo "demo-fleet: earlyexit-collector $* failed:" >&2
        cat "$WORK/admin.log" >&2
        exit 1
    fi
}
admin org create demo >/dev/null
"$COLLECTOR" "${serve_args[@]}" >"$WORK/collector.out" 2>"$WORK/collector.log" &
COLLECTOR_PID=$!
URL=
for _ in $(seq 1 100); do
    URL=$(sed -n 's/^listening on //p' "$WORK/collector.out" | head -n 1)
    [ -n "$URL" ] && break
    if ! kill -0 "$COLLECTOR_PID" 2>/dev/null; then
        echo "demo-fleet: the collector stopped:" >&2
        cat "$WORK/collector.log" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$URL" ]; then
    echo "demo-fleet: the collector did not start within 10 s:" >&2
    cat "$WORK/collector.log" >&2
    exit 1
fi
CA=$WORK/collector/tls/cert.pem
echo "listening on $URL (certificate $CA)"

# ------------------------------------------------------------- workloads
WL=$WORK/workloads
mkdir -p "$WL"
cat >"$WL/build-ok.sh" <<'EOF'
for m in parser lexer codegen linker; do echo "   Compiling $m v0.1.0"; sleep 0.1; done
echo "    Finished release [optimized] target(s) in 0.4s"
EOF
cat >"$WL/build-fail.sh" <<'EOF'
echo "   Compiling parser v0.1.0"
echo "error[E0308]: mismatched types"
echo "  --> src/parser.rs:42:17"
# A slow rest of the build that earlyexit stops.
for m in lexer codegen linker; do echo "   Compiling $m v0.1.0"; sleep 5; done
EOF
cat >"$WL/tests-pass.sh" <<'EOF'
for t in test_add test_sub test_mul test_div; do echo "$t ... ok"; sleep 0.05; done
echo "4 passed, 0 failed"
EOF
cat >"$WL/tests-fail.sh" <<'EOF'
echo "test_login ... ok"
echo "test_logout ... FAILED"
echo "AssertionError: expected 200, got 500"
sleep 20
echo "2 passed, 1 failed"
EOF
cat >"$WL/hang.sh" <<'EOF'
echo "waiting for the database..."
sleep 60
EOF
if [ -n "$PY" ]; then
    cat >"$WL/tests.py" <<'EOF'
import sys, time, unittest

class Sample(unittest.TestCase):
    def test_ok(self):
        self.assertEqual(1 + 1, 2)

    def test_slow_ok(self):
        time.sleep(0.2)

    def test_broken(self):
        if "--fail" in sys.argv:
            self.assertEqual("a", "b")

if __name__ == "__main__":
    fail = "--fail" in sys.argv
    argv = [a for a in sys.argv if a != "--fail"]
    if fail:
        sys.argv.append("--fail")
    unittest.main(argv=argv, verbosity=2)
EOF
fi

# --------------------------------------------------------------- the agents
say "three agents, each with its own EARLYEXIT_HOME"
for n in 1 2 3; do
    home=$WORK/agent-$n
    mkdir -p "$home"
    admin token create --org demo --agent-name "agent-$n" --output "$home/collector.token"
    {
        echo "telemetry: anonymous"
        echo "collector:"
        echo "  url: $URL"
        echo "  token_file: collector.token"
        echo "  ca: $CA"
        if [ "$n" = 3 ]; then
            echo "# an ephemeral CI runner: every run pushes before it exits"
            echo "sync_on_exit: true"
            echo "sync_on_exit_timeout: 5s"
        fi
    } >"$home/config.yaml"
    echo "agent-$n: $home"
done

# run AGENT LABEL EARLYEXIT-ARGS...: one run, its outcome on one line.
RUNS=0
run() {
    local n=$1 label=$2
    shift 2
    RUNS=$((RUNS + 1))
    local code=0
    EARLYEXIT_HOME=$WORK/agent-$n "$EE" "$@" >"$WORK/last-run.out" 2>&1 || code=$?
    local what
    case $code in
        0) what="stopped at the error pattern" ;;
        1) what="ran to the end, no error" ;;
        2) what="stopped by a timeout" ;;
        *) what="earlyexit exit code $code" ;;
    esac
    printf '  agent-%s  %-28s exit %s: %s\n' "$n" "$label" "$code" "$what"
}

say "workloads"
cd "$WL"
for n in 1 2 3; do
    run "$n" "build (passes)" --delay-exit 0 'error(\[E[0-9]+\])?:' -- sh "build-ok.sh"
    run "$n" "tests (pass)" --delay-exit 0 'FAILED|Error' -- sh "tests-pass.sh"
done
run 1 "build (fails at once)" --delay-exit 0 'error(\[E[0-9]+\])?:' -- sh "build-fail.sh"
run 2 "tests (one fails)" --delay-exit 1s 'FAILED' -- sh "tests-fail.sh"
run 3 "tests (one fails)" --delay-exit 0 'FAILED' -- sh "tests-fail.sh"
run 2 "deploy (hangs)" -I 2s NONE -- sh "hang.sh"
if [ -n "$PY" ]; then
    run 1 "python unittest (passes)" --stderr --delay-exit 0 '^FAIL:|Error' -- python3 tests.py
    run 3 "python unittest (fails)" --stderr --delay-exit 0 '^FAIL:' -- python3 tests.py --fail
fi

# ------------------------------------------------------------------- sync
say "sync (agent-3 synced at the end of each run: sync_on_exit)"
for n in 1 2; do
    printf '  agent-%s  ' "$n"
    EARLYEXIT_HOME=$WORK/agent-$n "$EE" sync --timeout 30s
done
ACKED=0
for n in 1 2 3; do
    status=$(EARLYEXIT_HOME=$WORK/agent-$n "$EE" sync --status)
    printf '  agent-%s  %s\n' "$n" "$(grep -E '^(pending|acknowledged)' <<<"$status" | tr -s ' ' | paste -sd ';' -)"
    ACKED=$((ACKED + $(awk '$1 == "acknowledged" { print $2 }' <<<"$status")))
done
if [ "$ACKED" -ne "$RUNS" ]; then
    echo "demo-fleet: $RUNS runs were made but the collector acknowledged $ACKED" >&2
    exit 1
fi
echo "  all $RUNS runs acknowledged by the collector"

# ------------------------------------------------------------ what arrived
say "what arrived at the collector"
if "$COLLECTOR" --help 2>/dev/null | grep -qE '^ +runs '; then
    "$COLLECTOR" runs --org demo --store "$STORE"
elif command -v sqlite3 >/dev/null; then
    sqlite3 -readonly -column -header "$WORK/collector/collector.db" \
        "SELECT substr(agent_id, 1, 13) AS agent_id, exit_reason, command_category, count(*) AS runs
         FROM records GROUP BY agent_id, exit_reason, command_category ORDER BY agent_id, runs DESC"
    stored=$(sqlite3 -readonly "$WORK/collector/collector.db" "SELECT count(*) FROM records")
    if [ "$stored" -ne "$RUNS" ]; then
        echo "demo-fleet: $RUNS runs were made but the collector stored $stored" >&2
        exit 1
    fi
else
    echo "(install sqlite3 to see the records; the agents' counts are above)"
fi
echo
admin token list --org demo

say "one agent's own view: earlyexit stats (agent-1)"
EARLYEXIT_HOME=$WORK/agent-1 "$EE" stats -n 5

# -------------------------------------------------------------- dashboard
if [ -n "$HTTP_PORT" ]; then
    say "dashboard"
    viewer_flags=()
    help=$("$COLLECTOR" token create --help 2>/dev/null || true)
    if grep -q -- '--viewer' <<<"$help"; then
        viewer_flags=(--viewer)
    elif grep -q -- '--kind' <<<"$help"; then
        viewer_flags=(--kind viewer)
    fi
    scheme=${URL%%://*}
    echo "dashboard: $scheme://127.0.0.1:$HTTP_PORT/"
    if [ ${#viewer_flags[@]} -gt 0 ]; then
        token=$(admin token create --org demo --agent-name demo-viewer "${viewer_flags[@]}")
        echo "viewer token: $token"
    fi
else
    say "dashboard"
    echo "this collector has no HTTP listener (no --http-listen in 'serve --help'): no dashboard URL"
fi

if [ "$HOLD" = 1 ]; then
    say "holding the collector at $URL; Ctrl-C stops it and removes $WORK"
    wait "$COLLECTOR_PID"
fi
say "done; stopping the collector and removing $WORK"
