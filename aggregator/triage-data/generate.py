#!/usr/bin/env python3
"""Writes the triage training and held-out cases (CiDiff's layout:
<split>/<case>/fail.log, pass.log, groundtruth).

Each case wraps the output of a REAL run of a real tool on this machine
(cargo build / cargo test, gcc via make, python scripts and unittest, node,
sh) in synthesised CI noise: runner setup, downloads, compile progress,
progress bars overwritten with bare CRs, timestamps, and benign lines with
error words ("Compiling error-chain", "test handles_error ... ok",
"0 errors"). The passing log of a pair is the same job's noise on another
run (other numbers, about one line in twenty replaced) and the tool's
passing run. Error lines are labelled by
a per-scenario rule on the real output (the lines a person would point
at: the error or failed-test line, the exception line), never by the
pattern library.

Split: every tool has several failure variants; the held-out `test` split
uses variants that `train` never sees. Usage:
    python3 aggregator/triage-data/generate.py OUT_DIR
"""
import os
import random
import re
import subprocess
import sys
import tempfile

def run(cmd, cwd, env=None):
    e = dict(os.environ)
    e.update({"CARGO_TERM_COLOR": "never", "NO_COLOR": "1", "LANG": "C"})
    if env:
        e.update(env)
    p = subprocess.run(cmd, cwd=cwd, shell=True, capture_output=True, text=True, env=e)
    return (p.stdout + p.stderr).replace(cwd, "/home/runner/work/app/app")

def cargo(tmp, name, main_rs, test_rs=None, cmd="cargo build"):
    d = os.path.join(tmp, name)
    os.makedirs(os.path.join(d, "src"), exist_ok=True)
    open(os.path.join(d, "Cargo.toml"), "w").write(
        f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n')
    open(os.path.join(d, "src", "main.rs"), "w").write(main_rs)
    if test_rs:
        open(os.path.join(d, "src", "lib.rs"), "w").write(test_rs)
    return run(cmd + " --offline 2>&1", d, {"CARGO_TARGET_DIR": os.path.join(tmp, "target")})

def files(tmp, name, fs, cmd):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    for f, t in fs.items():
        open(os.path.join(d, f), "w").write(t)
    return run(cmd + " 2>&1", d)

RUST_ERR = re.compile(r"^(error(\[E\d+\])?: |thread '.*' panicked at|test .* \.\.\. FAILED$|test result: FAILED)")
C_ERR = re.compile(r"(: error: |undefined reference to|^collect2: error|^make: \*\*\* )")
PY_ERR = re.compile(r"^((FAIL|ERROR): \w|[A-Za-z_.]*(Error|Exception): |AssertionError$)")
JS_ERR = re.compile(r"^([A-Za-z]*Error( \[\w+\])?: |AssertionError)")
SH_ERR = re.compile(r"(: not found$|: No such file or directory$)")

def scenarios(tmp):
    """(tool, variant, failing output, passing output, label regex)."""
    ok_main = 'fn main() {\n    let v: Vec<u32> = (1..4).collect();\n    println!("{}", v.len());\n}\n'
    lib_ok = "pub fn add(a: u32, b: u32) -> u32 { a + b }\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() { assert_eq!(super::add(2, 2), 4); }\n    #[test]\n    fn handles_error_case() { assert!(super::add(0, 0) == 0); }\n}\n"
    rust_pass = cargo(tmp, "okapp", ok_main)
    rust_test_pass = cargo(tmp, "oklib", ok_main, lib_ok, "cargo test")
    out = []
    rb = [
        ('fn main() {\n    let x: u32 = "three";\n    println!("{x}");\n}\n'),
        ('fn main() {\n    let total = compute(4);\n    println!("{total}");\n}\n'),
        ('fn main() {\n    let s = String::from("a");\n    let t = s;\n    println!("{s} {t}");\n}\n'),
        ('struct P { x: i32 }\nfn main() {\n    let p = P { x: 1 };\n    println!("{}", p.y);\n}\n'),
    ]
    for i, src in enumerate(rb):
        out.append(("cargo-build", i, cargo(tmp, f"app{i}", src), rust_pass, RUST_ERR))
    rt = [
        "pub fn add(a: u32, b: u32) -> u32 { a + b + 1 }\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() { assert_eq!(super::add(2, 2), 4); }\n    #[test]\n    fn handles_error_case() { assert!(true); }\n}\n",
        "pub fn parse(s: &str) -> u32 { s.parse().unwrap() }\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn parses() { assert_eq!(super::parse(\"x1\"), 1); }\n    #[test]\n    fn other() { assert_eq!(super::parse(\"2\"), 2); }\n}\n",
        "pub fn div(a: u32, b: u32) -> u32 { a / b }\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn divides() { assert_eq!(super::div(4, 0), 0); }\n    #[test]\n    fn fine() { assert_eq!(super::div(4, 2), 2); }\n}\n",
    ]
    for i, src in enumerate(rt):
        out.append(("cargo-test", i, cargo(tmp, f"lib{i}", ok_main, src, "cargo test"), rust_test_pass, RUST_ERR))
    mk = "all: app\napp: main.o util.o\n\tgcc -o app main.o util.o\n%.o: %.c\n\tgcc -Wall -c $< -o $@\n"
    util = "int util(int x) { return x * 2; }\n"
    c_pass = files(tmp, "cok", {"Makefile": mk, "main.c": "#include <stdio.h>\nint util(int);\nint main(void) { printf(\"%d\\n\", util(2)); return 0; }\n", "util.c": util}, "make")
    cs = [
        "#include <stdio.h>\nint util(int);\nint main(void) { printf(\"%d\\n\", util(2)) return 0; }\n",
        "#include <stdio.h>\nint util(int);\nint helper(int);\nint main(void) { printf(\"%d\\n\", helper(2)); return 0; }\n",
        "#include <stdio.h>\nint util(int);\nint main(void) { printf(\"%d\\n\", util(count)); return 0; }\n",
        "#include <stdio.h>\n#include \"missing.h\"\nint main(void) { return 0; }\n",
    ]
    for i, src in enumerate(cs):
        out.append(("make-gcc", i, files(tmp, f"c{i}", {"Makefile": mk, "main.c": src, "util.c": util}, "make"), c_pass, C_ERR))
    ut_ok = "import unittest\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(1 + 1, 2)\n    def test_error_path(self):\n        self.assertTrue(True)\nif __name__ == '__main__':\n    unittest.main(verbosity=2)\n"
    py_pass = files(tmp, "pyok", {"test_app.py": ut_ok, "app.py": "print('processed 3 records')\n"}, "python3 test_app.py; python3 app.py")
    ps = [
        {"test_app.py": ut_ok.replace("1 + 1, 2", "1 + 1, 3"), "app.py": "print('processed 3 records')\n"},
        {"test_app.py": ut_ok, "app.py": "import json\ncfg = json.loads(open('config.json').read())\nprint(cfg)\n"},
        {"test_app.py": ut_ok.replace("self.assertTrue(True)", "raise KeyError('user_id')"), "app.py": "print('processed 3 records')\n"},
        {"test_app.py": ut_ok, "app.py": "def load(xs):\n    return [int(x) for x in xs]\ndef main():\n    print(load(['1', 'two']))\nmain()\n"},
    ]
    for i, fs in enumerate(ps):
        out.append(("python", i, files(tmp, f"py{i}", fs, "python3 test_app.py; python3 app.py"), py_pass, PY_ERR))
    js_ok = "const assert = require('assert');\nfunction sum(a) { return a.reduce((x, y) => x + y, 0); }\nassert.strictEqual(sum([1, 2]), 3);\nconsole.log('all 12 checks passed');\n"
    js_pass = files(tmp, "jsok", {"check.js": js_ok}, "node check.js")
    js = [
        js_ok.replace("3);", "4);"),
        js_ok.replace("sum([1, 2])", "sum(undefined)"),
        "const cfg = require('./config.json');\nconsole.log(cfg);\n",
    ]
    for i, src in enumerate(js):
        out.append(("node", i, files(tmp, f"js{i}", {"check.js": src}, "node check.js"), js_pass, JS_ERR))
    sh_pass = files(tmp, "shok", {"build.sh": "echo building\nls build.sh\necho done\n"}, "sh build.sh")
    sh = ["echo building\nprotoc --version\necho done\n", "echo building\ncat ./generated/schema.sql\necho done\n"]
    for i, src in enumerate(sh):
        out.append(("sh", i, files(tmp, f"sh{i}", {"build.sh": src}, "sh build.sh"), sh_pass, SH_ERR))
    return out

PKGS = ["serde", "libc", "error-chain", "failure", "tokio", "anyhow", "thiserror", "regex", "log", "rand"]

def noise(rng, n, ts):
    lines = []
    v = lambda: f"{rng.randint(0,3)}.{rng.randint(0,40)}.{rng.randint(0,20)}"
    gens = [
        lambda: f"Downloading https://files.example.org/packages/{rng.choice(PKGS)}-{v()}.tar.gz ({rng.randint(2,900)} kB)",
        lambda: f"   Compiling {rng.choice(PKGS)} v{v()}",
        lambda: f"  Downloaded {rng.choice(PKGS)} v{v()}",
        lambda: f"Collecting {rng.choice(PKGS)}=={v()}",
        lambda: f"Cache restored from key: deps-{rng.getrandbits(40):x}",
        lambda: f"Receiving objects: {rng.randint(1,100)}% ({rng.randint(1,900)}/{rng.randint(900,999)})\rReceiving objects: 100% (999/999), done.",
        lambda: f"test tests::{rng.choice(['handles_error', 'parse_failure_message', 'retries', 'ok_path'])}_{rng.randint(1,99)} ... ok",
        lambda: f"Retrying (Retry(total={rng.randint(1,4)}, connect=None)) after connection broken by 'ReadTimeoutError'",
        lambda: f"gcc -O2 -Werror=format-security -c src/{rng.choice(['io', 'net', 'db'])}.c",
        lambda: f"Build finished: 0 errors, {rng.randint(0,5)} warnings",
        lambda: f"[INFO] took {rng.randint(1,999)}ms",
        lambda: f"warning: unused variable: `tmp{rng.randint(0,9)}`",
        lambda: f"npm WARN deprecated {rng.choice(PKGS)}@{v()}: this version is no longer supported",
        lambda: f"##[group]Run {rng.choice(['actions/checkout@v4', 'actions/cache@v4', 'make deps'])}",
        lambda: "##[endgroup]",
        lambda: f"Progress: {rng.randint(1,50)}%\rProgress: {rng.randint(51,99)}%\rProgress: 100%",
        lambda: f"Setting up {rng.choice(PKGS)} ({v()}) ...",
        lambda: "",
    ]
    for _ in range(n):
        lines.append(rng.choice(gens)())
    return lines

def stamp(rng, lines):
    base = rng.randint(0, 50000)
    return [f"2024-05-{rng.randint(1,28):02d}T12:{(base+i)//60%60:02d}:{(base+i)%60:02d}.{rng.randint(0,9999999):07d}Z {l}" for i, l in enumerate(lines)]

def rerun(rng, lines, ts):
    """The same job's noise on another run: other numbers (durations,
    hashes, counts), and about one line in twenty replaced by another
    (flaky output, a different download)."""
    out = []
    for l in lines:
        if rng.random() < 0.05:
            out.extend(noise(rng, 1, ts))
        else:
            out.append(re.sub(r"\d", lambda m: str(rng.randint(0, 9)), l) if rng.random() < 0.5 else l)
    return out

def pair(rng, body_f, body_p, n_pre, n_post, ts):
    """(failing lines, index of its body, passing lines)."""
    pre, post = noise(rng, n_pre, ts), noise(rng, n_post, ts)
    fail = pre + body_f + post + ["##[error]Process completed with exit code 1."]
    pas = rerun(rng, pre, ts) + body_p + rerun(rng, post, ts) + ["Post job cleanup."]
    if ts:
        fail, pas = stamp(rng, fail), stamp(rng, pas)
    return fail, len(pre), pas

def main():
    out_dir = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        scen = scenarios(tmp)
    counts = {}
    for tool, variant, fail_out, pass_out, rx in scen:
        n_var = sum(1 for s in scen if s[0] == tool)
        split = "test" if variant == n_var - 1 else "train"
        body_f = fail_out.rstrip("\n").split("\n")
        body_p = pass_out.rstrip("\n").split("\n")
        if not any(rx.search(l) for l in body_f):
            sys.exit(f"{tool} variant {variant}: no labelled line in its output:\n{fail_out}")
        for k in range(6 if split == "train" else 4):
            rng = random.Random(f"{tool}-{variant}-{k}")
            ts = rng.random() < 0.4
            n_pre, n_post = rng.randint(5, 400), rng.randint(0, 30)
            fail, start, pas = pair(rng, body_f, body_p, n_pre, n_post, ts)
            # A bare CR inside a line starts a new line for the reader.
            number, at = [], 1
            for l in fail:
                number.append(at)
                at += 1 + l.count("\r")
            errs = [number[start + i] for i, l in enumerate(body_f) if rx.search(l)]
            name = f"{tool}-{variant}-{k}"
            d = os.path.join(out_dir, split, name)
            os.makedirs(d, exist_ok=True)
            sep = "\r\n" if rng.random() < 0.3 else "\n"
            open(os.path.join(d, "fail.log"), "w", newline="").write(sep.join(fail) + sep)
            open(os.path.join(d, "pass.log"), "w", newline="").write(sep.join(pas) + sep)
            open(os.path.join(d, "groundtruth"), "w").write("DEFAULT\n" + "".join(f"E {e}\n" for e in errs))
            counts[split] = counts.get(split, 0) + 1
    print(counts)

if __name__ == "__main__":
    main()
