#!/usr/bin/env python3
"""What `--auto` adds to earlyexit's startup.

Run through scripts/bench-auto.sh, which builds the release binary first.
Each line is the median of paired, alternated runs of
`earlyexit --auto CMD` against `earlyexit NEVERMATCH CMD` in the same
EARLYEXIT_HOME (telemetry on), for a command of one tool (a `pytest`
script: the library's pytest entries) and a program no entry names
(`true`: every entry), silent or printing one line (`pytest+1`: the
built-in pattern is compiled when output arrives), on an empty database and on one with 20 recorded
runs of the command (so --auto reads the history and sets timeouts).
Target from the issue: --auto adds <= 2 ms.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

DEVNULL = subprocess.DEVNULL


def run_timed(argv, env, cwd):
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, stdout=DEVNULL, stderr=DEVNULL, stdin=DEVNULL, check=False)
    return time.perf_counter() - start


def paired_medians(a, b, env, cwd, runs, warmup=5):
    for _ in range(warmup):
        run_timed(a, env, cwd)
        run_timed(b, env, cwd)
    ta, tb = [], []
    for _ in range(runs):
        ta.append(run_timed(a, env, cwd))
        tb.append(run_timed(b, env, cwd))
    return statistics.median(ta), statistics.median(tb)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="path to the release earlyexit binary")
    parser.add_argument("--runs", type=int, default=200, help="paired runs per line")
    args = parser.parse_args()
    ee = os.path.abspath(args.bin)
    work = tempfile.mkdtemp(prefix="ee-bench-auto-")
    fake = os.path.join(work, "pytest")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(fake, 0o755)
    # The same, printing one line: the deferred pattern is compiled then.
    loud = os.path.join(work, "loud", "pytest")
    os.makedirs(os.path.dirname(loud))
    with open(loud, "w") as f:
        f.write("#!/bin/sh\necho '1 passed in 0.01s'\n")
    os.chmod(loud, 0o755)
    true = shutil.which("true")
    print(f"earlyexit {ee}; {os.cpu_count()} cores; median of {args.runs} paired runs")
    print(f"{'command':<8} {'database':<10} {'--auto':>10} {'pattern':>10} {'added':>10}")
    ok = True
    for name, cmd in (("pytest", [fake]), ("pytest+1", [loud]), ("true", [true])):
        for db in ("empty", "20 runs"):
            home = tempfile.mkdtemp(prefix="ee-bench-auto-home-")
            env = dict(os.environ, EARLYEXIT_HOME=home)
            env.pop("EARLYEXIT_NO_TELEMETRY", None)
            if db != "empty":
                for _ in range(20):
                    subprocess.run([ee, "NEVERMATCH"] + cmd, env=env, cwd=work, stdout=DEVNULL, stderr=DEVNULL)
                # Move the spooled runs into the database, as the next long run would.
                subprocess.run([ee, "stats"], env=env, cwd=work, stdout=DEVNULL, stderr=DEVNULL)
            t_auto, t_plain = paired_medians(
                [ee, "--auto"] + cmd, [ee, "NEVERMATCH"] + cmd, env, work, args.runs
            )
            added = (t_auto - t_plain) * 1e3
            ok &= added <= 2.0
            print(f"{name:<8} {db:<10} {t_auto*1e3:>8.2f}ms {t_plain*1e3:>8.2f}ms {added:>+8.2f}ms")
            shutil.rmtree(home, ignore_errors=True)
    print("target: --auto adds <= 2 ms:", "ok" if ok else "NOT MET")


if __name__ == "__main__":
    main()
