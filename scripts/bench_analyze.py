#!/usr/bin/env python3
"""Times `earlyexit analyze patterns|timing|anomalies` over a database of
100,000 recorded executions (by default).

The database is made by the binary itself (so it has the real schema and
migrations), then filled with generated runs by SQL in one transaction:
COMMANDS commands, each with its own typical runtime; per run a clean
success, a match (with its match event, one of a few error shapes), a
failure with no match (a miss) or a timeout; a share of the matches are
followed by a clean run of the same command (so the outcome rules have
work to do on the first `analyze patterns`: nearly every match has one).
pattern_effectiveness is
filled from the same rows.

Prints, per analysis, the first run (cold: the outcome rules label runs)
and the median of --runs later runs, then the sum. Usage:
  scripts/bench-analyze.sh [--runs N] [--executions N]
"""

import argparse
import hashlib
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

COMMANDS = 200
PATTERN = "error|FAIL"
SHAPES = [
    "error: test case_{a} failed at src/mod{b}.rs:{c}",
    "FAIL tests/test_{a}.py::test_{b} - AssertionError: {c} != 0",
    "error[E0{a}]: cannot find value `x{b}` in this scope",
    "panic: runtime error: index out of range [{a}] with length {b}",
]


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def uuid7(ms, rng):
    """A UUIDv7-shaped id: 48 bits of time, then random bits."""
    rand = rng.getrandbits(80)
    value = (ms << 80) | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    return str(uuid.UUID(int=value & ((1 << 128) - 1)))


def fill(db, executions, seed=7):
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    span = 60 * 86_400_000  # 60 days, inside the default retention
    commands = [f"npm test -- --shard={i}" for i in range(COMMANDS)]
    base = [rng.uniform(1.0, 120.0) for _ in commands]
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA foreign_keys=ON")
    cur = conn.cursor()
    cur.execute("BEGIN")
    runs = []
    events = []
    for i in range(executions):
        c = rng.randrange(COMMANDS)
        started = now - span + (i * span) // executions
        command = commands[c]
        full = base[c] * rng.lognormvariate(0, 0.15)
        roll = rng.random()
        match = None
        if roll < 0.60:
            reason, child, runtime, lines = "completed", 0, full, rng.randint(200, 400)
        elif roll < 0.85:
            at = full * rng.uniform(0.1, 0.6)
            reason, child, runtime, lines = "match", None, at + 0.5, rng.randint(20, 150)
            match = at
        elif roll < 0.95:
            reason, child, runtime, lines = "completed", 1, full * 0.8, rng.randint(50, 300)
        else:
            reason, child, runtime, lines = "timeout_idle", None, full * 1.5, rng.randint(50, 300)
        if rng.random() < 0.001:
            runtime *= 20  # a rare anomaly
        eid = uuid7(started, rng)
        runs.append((
            eid, started, "command", command, sha(command), "npm", "/home/dev/app", "{}",
            PATTERN, "regex", "both", 10.0, 5.0, 0 if match else 1, reason, child,
            None if child is not None else (15 if reason != "completed" else None),
            runtime, 0.05, match, 0.5 if match else None, rng.randint(0, 3),
            rng.uniform(0, 3), 1 if match else 0, lines, lines // 2, lines - lines // 2,
            lines * 60, "nodejs", "test", "local", "0.1.0",
        ))
        if match is not None:
            shape = SHAPES[rng.randrange(len(SHAPES))]
            line = shape.format(a=rng.randrange(100), b=rng.randrange(50), c=rng.randrange(999))
            events.append((
                str(uuid.UUID(int=rng.getrandbits(128))), eid, 1, match, "stderr",
                rng.randint(1, lines // 2 if lines > 2 else 1), line, "error", 0, 5, "", "", "error",
            ))
    cur.executemany(
        "INSERT INTO executions (execution_id, started_at_ms, mode, command, command_hash, "
        "program, working_directory, environment_vars, pattern, pattern_type, match_mode, "
        "delay_exit, kill_grace, exit_code, exit_reason, child_exit_code, child_signal, "
        "total_runtime, time_to_first_output, time_to_first_match, time_from_match_to_exit, "
        "idle_periods_count, longest_idle_period, match_count, total_lines_processed, "
        "stdout_lines, stderr_lines, bytes_processed, project_type, command_category, "
        "telemetry_level, earlyexit_version) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        runs,
    )
    cur.executemany(
        "INSERT INTO match_events (event_id, execution_id, match_number, timestamp_offset, "
        "stream_source, line_number, line_content, matched_substring, match_position_start, "
        "match_position_end, context_before, context_after, kind) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        events,
    )
    # The same aggregate the agent keeps (store::effectiveness).
    cur.execute(
        "INSERT INTO pattern_effectiveness (pattern_hash, pattern, total_uses, successful_exits, "
        "false_positives, missed_errors, runs_with_match, sum_time_to_match, sum_total_runtime, "
        "rated_runs, sum_user_rating, last_updated) "
        "SELECT ?, pattern, count(*), sum(exit_reason = 'match'), sum(false_positive_flag = 1), "
        "sum(exit_reason = 'completed' AND coalesce(child_exit_code, 0) <> 0), "
        "count(time_to_first_match), total(time_to_first_match), total(total_runtime), 0, 0, "
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM executions WHERE pattern = ? GROUP BY pattern",
        (sha(PATTERN), PATTERN),
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    return len(runs), len(events)


def timed(cmd, env):
    """Wall-clock and CPU (user + system) seconds of one run of `cmd`."""
    before = os.times()
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system)
    return wall, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--executions", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, EARLYEXIT_HOME=home)
        env.pop("EARLYEXIT_NO_TELEMETRY", None)
        # One real run makes the database with the real schema.
        # (exit code 1: no match, as expected)
        subprocess.run([args.bin, "-t", "5s", "--", "true"], env=env, check=False)
        subprocess.run([args.bin, "stats"], env=env, check=True, stdout=subprocess.DEVNULL)
        db = os.path.join(home, "telemetry.db")
        t0 = time.perf_counter()
        n, m = fill(db, args.executions)
        print(f"filled {n} executions and {m} match events in {time.perf_counter() - t0:.1f}s "
              f"({os.path.getsize(db) / 1e6:.0f} MB)")
        print(f"{'analysis':<22}{'first':>9}{'cpu':>8}{'median':>10}{'cpu':>8}"
              f"   (wall-clock and CPU seconds; median of {args.runs} later runs)")
        sums = [0.0, 0.0, 0.0, 0.0]
        for what in ["patterns", "timing", "anomalies"]:
            cmd = [args.bin, "analyze", what, "--json"]
            first = timed(cmd, env)
            later = [timed(cmd, env) for _ in range(args.runs)]
            median = (statistics.median(w for w, _ in later), statistics.median(c for _, c in later))
            row = [first[0], first[1], median[0], median[1]]
            sums = [a + b for a, b in zip(sums, row)]
            print(f"analyze {what:<14}{row[0]:>8.2f}s{row[1]:>7.2f}s{row[2]:>9.2f}s{row[3]:>7.2f}s")
        print(f"{'sum':<22}{sums[0]:>8.2f}s{sums[1]:>7.2f}s{sums[2]:>9.2f}s{sums[3]:>7.2f}s")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
