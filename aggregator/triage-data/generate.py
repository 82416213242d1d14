#!/usr/bin/env python3
"""Writes the triage training, tuning and held-out cases (CiDiff's layout:
<split>/<case>/fail.log, pass.log, groundtruth).

Each case wraps the output of a REAL run of a real tool on this machine
(cargo build / test / clippy, rustc, gcc and g++ via make, python scripts,
unittest and pytest, node, node --test, npm, javac and java, sh / bash,
coreutils, curl, perl) in synthesised CI noise: runner setup, package
installs, downloads, compile progress, progress bars overwritten with bare
CRs, timestamps, log lines with levels, and benign lines with error words
("Compiling error-chain", "test handles_error ... ok", "0 errors",
"Retrying after error"). The passing log of a pair is the same job's noise
on another run (other numbers, about one line in twenty replaced) and the
tool's passing run (which has warnings of its own).

Labels: a per-tool rule on the real output marks the lines a person would
point at (the error or failed-test line, the exception line), never the
pattern library; each labelled line's block (the indented or frame lines
that follow it: a compiler diagnostic's `-->` and `|` lines, a stack
trace's frames) is labelled with it, as CiDiff labels whole error blocks.

Split: every tool has several failure variants; `tune` and `holdout` use
variants that `train` never sees. `holdout` is for the final report only.
Usage:
    python3 aggregator/triage-data/generate.py OUT_DIR
"""
import os
import random
import re
import subprocess
import sys
import tempfile

HOME = "/home/runner/work/app/app"


def run(cmd, cwd, env=None):
    e = dict(os.environ)
    e.update({"CARGO_TERM_COLOR": "never", "NO_COLOR": "1", "LANG": "C", "PYTHONDONTWRITEBYTECODE": "1"})
    if env:
        e.update(env)
    p = subprocess.run(cmd, cwd=cwd, shell=True, capture_output=True, text=True, env=e, timeout=300)
    out = (p.stdout + p.stderr).replace(cwd, HOME)
    return out.replace(os.path.dirname(cwd), "/home/runner/work")


def files(tmp, name, fs, cmd, env=None):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    for f, t in fs.items():
        p = os.path.join(d, f)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        open(p, "w").write(t)
    return run(cmd + " 2>&1", d, env)


def cargo(tmp, name, main_rs, lib_rs=None, cmd="cargo build"):
    fs = {"Cargo.toml": f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n',
          "src/main.rs": main_rs}
    if lib_rs:
        fs["src/lib.rs"] = lib_rs
    cmd = cmd.replace(" -- ", " --offline -- ", 1) if " -- " in cmd else cmd + " --offline"
    return files(tmp, name, fs, cmd, {"CARGO_TARGET_DIR": os.path.join(tmp, "target")})


# Head lines a person would point at, per tool.
RUST_ERR = re.compile(r"^(error(\[E\d+\])?: (?!could not compile|aborting)|thread '.*'( \(\d+\))? panicked at|test .* \.\.\. FAILED$)")
C_ERR = re.compile(r"(: (fatal )?error: |undefined reference to|multiple definition of|Assertion .* failed|^make: \*\*\* No rule|Segmentation fault)")
PY_ERR = re.compile(r"^((FAIL|ERROR): \w|[A-Za-z_.]*(Error|Exception): |AssertionError$|E   +\S|FAILED \S+::|ERROR \S+|error: )")
JS_ERR = re.compile(r"^(\s*[A-Za-z]*Error( \[\w+\])?: |\s*AssertionError|not ok \d|npm (ERR!|error) (Missing script|code E|Test failed))")
JAVA_ERR = re.compile(r"(\.java:\d+: error: |^Exception in thread |^Caused by: )")
SH_ERR = re.compile(r"(: not found$|: No such file or directory$|command not found|Permission denied|^curl: \(\d+\)|cannot stat|cannot create|^ERROR: |^error: | at \S+ line \d+\.$)")

FRAME = re.compile(r'^\s*(at\s+\S|File\s+"|#\d+\s|-->|\||\d+\s*\||\d+\s+[-+]\s|= (note|help)|\.\.\.\s*\d+ more|\.\.\.$|note:|help:|\^|Caused by:)')


def block_end(body, i):
    """Index after the block headed by body[i]: following lines that are
    non-empty and indented deeper than the head, or look like frames."""
    ind = lambda s: len(s) - len(s.lstrip())
    j = i + 1
    while j < len(body) and j - i < 40:
        s = body[j]
        if not s.strip():
            break
        if ind(s) > ind(body[i]) or FRAME.match(s):
            j += 1
            continue
        break
    return j


def rust(tmp):
    ok_main = 'fn main() {\n    let v: Vec<u32> = (1..4).collect();\n    let unused = 3;\n    println!("{}", v.len());\n}\n'
    lib_ok = "pub fn add(a: u32, b: u32) -> u32 { a + b }\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() { assert_eq!(super::add(2, 2), 4); }\n    #[test]\n    fn handles_error_case() { assert!(super::add(0, 0) == 0); }\n    #[test]\n    fn reports_failure_message() { assert!(true); }\n}\n"
    build_pass = cargo(tmp, "okapp", ok_main)
    test_pass = cargo(tmp, "oklib", ok_main, lib_ok, "cargo test")
    out = []
    builds = [
        'fn main() {\n    let x: u32 = "three";\n    println!("{x}");\n}\n',
        'fn main() {\n    let total = compute(4);\n    println!("{total}");\n}\n',
        'fn main() {\n    let s = String::from("a");\n    let t = s;\n    println!("{s} {t}");\n}\n',
        'struct P { x: i32 }\nfn main() {\n    let p = P { x: 1 };\n    println!("{}", p.y);\n}\n',
        'use std::collections::HashMapp;\nfn main() {\n    let m: HashMapp<u8, u8> = HashMapp::new();\n}\n',
        'fn f(a: u8, b: u8) -> u8 { a + b }\nfn main() {\n    println!("{}", f(1));\n}\n',
        'struct S;\nfn main() {\n    let v = vec![S, S];\n    let w = v.clone();\n    println!("{}", w.len());\n}\n',
        'fn main() {\n    let v = vec![1, 2, 3]\n    println!("{:?}", v);\n}\n',
        '#![deny(warnings)]\nfn main() {\n    let unused_total = 3;\n    println!("hi");\n}\n',
        'fn longest(a: &str, b: &str) -> &str { if a.len() > b.len() { a } else { b } }\nfn main() { println!("{}", longest("a", "bc")); }\n',
        'fn main() {\n    let mut v = vec![1];\n    let first = &v[0];\n    v.push(2);\n    println!("{first}");\n}\n',
        'mod net;\nfn main() {}\n',
    ]
    for i, src in enumerate(builds):
        out.append(("cargo-build", i, cargo(tmp, f"app{i}", src), build_pass, RUST_ERR))
    tests = [
        "pub fn add(a: u32, b: u32) -> u32 { a + b + 1 }\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() { assert_eq!(super::add(2, 2), 4); }\n    #[test]\n    fn handles_error_case() { assert!(true); }\n}\n",
        "pub fn parse(s: &str) -> u32 { s.parse().unwrap() }\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn parses() { assert_eq!(super::parse(\"x1\"), 1); }\n    #[test]\n    fn other() { assert_eq!(super::parse(\"2\"), 2); }\n}\n",
        "pub fn div(a: u32, b: u32) -> u32 { a / b }\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn divides() { assert_eq!(super::div(4, 0), 0); }\n    #[test]\n    fn fine() { assert_eq!(super::div(4, 2), 2); }\n}\n",
        "pub fn get(v: &[u8], i: usize) -> u8 { v[i] }\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn first() { assert_eq!(super::get(&[1], 0), 1); }\n    #[test]\n    fn out_of_range() { assert_eq!(super::get(&[1], 3), 0); }\n    #[test]\n    #[should_panic]\n    fn must_panic() { super::get(&[1], 0); }\n}\n",
        "pub fn name() -> Option<&'static str> { None }\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn named() { assert_eq!(super::name().expect(\"config has a name\"), \"x\"); }\n    #[test]\n    fn error_path_is_ok() { assert!(super::name().is_none()); }\n}\n",
        "pub fn sq(x: i32) -> i32 { x * x }\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn a() { assert!(super::sq(3) == 10, \"square of 3 was {}\", super::sq(3)); }\n    #[test]\n    fn b() { assert_ne!(super::sq(2), 4); }\n}\n",
    ]
    for i, src in enumerate(tests):
        out.append(("cargo-test", i, cargo(tmp, f"lib{i}", ok_main, src, "cargo test"), test_pass, RUST_ERR))
    clippy_pass = cargo(tmp, "clok", "fn main() {\n    let v = [1, 2];\n    println!(\"{}\", v.len());\n}\n", None, "cargo clippy")
    clippys = [
        'fn main() {\n    let v = vec![1, 2];\n    if v.len() == 0 { println!("empty"); }\n}\n',
        'fn main() {\n    let x = 3.14;\n    println!("{x}");\n}\n',
        'fn main() {\n    let s = String::from("a");\n    let n = s.clone().len();\n    println!("{}", n == 1 && true);\n}\n',
    ]
    for i, src in enumerate(clippys):
        out.append(("cargo-clippy", i, cargo(tmp, f"cl{i}", src, None, "cargo clippy -- -D warnings"), clippy_pass, RUST_ERR))
    return out


def c(tmp):
    mk = "all: app\napp: main.o util.o\n\t$(CC) -o app main.o util.o\n%.o: %.c\n\t$(CC) -Wall -c $< -o $@\ntest: app\n\t./app\n"
    util = "int util(int x) { return x * 2; }\n"
    main_ok = "#include <stdio.h>\nint util(int);\nint main(void) { int unused; printf(\"%d\\n\", util(2)); return 0; }\n"
    c_pass = files(tmp, "cok", {"Makefile": mk, "main.c": main_ok, "util.c": util}, "make test")
    out = []
    cs = [
        ({"main.c": "#include <stdio.h>\nint util(int);\nint main(void) { printf(\"%d\\n\", util(2)) return 0; }\n"}, "make"),
        ({"main.c": "#include <stdio.h>\nint util(int);\nint helper(int);\nint main(void) { printf(\"%d\\n\", helper(2)); return 0; }\n"}, "make"),
        ({"main.c": "#include <stdio.h>\nint util(int);\nint main(void) { printf(\"%d\\n\", util(count)); return 0; }\n"}, "make"),
        ({"main.c": "#include <stdio.h>\n#include \"missing.h\"\nint main(void) { return 0; }\n"}, "make"),
        ({"main.c": "#include <stdio.h>\n#include <assert.h>\nint util(int);\nint main(void) { assert(util(2) == 5); return 0; }\n"}, "make test"),
        ({"main.c": "#include <stdio.h>\nint util(int);\nint main(void) { int *p = 0; *p = util(2); printf(\"%d\\n\", *p); return 0; }\n"}, "make test"),
        ({"main.c": "#include <stdio.h>\nint util(int x) { return x; }\nint main(void) { printf(\"%d\\n\", util(2)); return 0; }\n"}, "make"),
        ({"main.c": main_ok, "Makefile": mk.replace("util.o\n\t", "util.o gen.o\n\t", 1)}, "make"),
        ({"main.c": "#include <stdio.h>\nstruct point { int x; };\nint util(int);\nint main(void) { struct point p; p.y = util(1); return p.x; }\n"}, "make"),
    ]
    for i, (fs, cmd) in enumerate(cs):
        full = {"Makefile": mk, "util.c": util}
        full.update(fs)
        out.append(("make-gcc", i, files(tmp, f"c{i}", full, cmd), c_pass, C_ERR))
    cppmk = "all: app\napp: main.cpp\n\tg++ -std=c++17 -Wall -o app main.cpp\n"
    cpp_pass = files(tmp, "cppok", {"Makefile": cppmk, "main.cpp": "#include <vector>\n#include <iostream>\nint main() { std::vector<int> v{1,2}; std::cout << v.size() << std::endl; }\n"}, "make")
    cpps = [
        "#include <vector>\n#include <string>\nint main() { std::vector<int> v; v.push_back(std::string(\"a\")); }\n",
        "#include <map>\nint main() { std::map<int, int> m; m.insert(1); }\n",
        "#include <iostream>\nclass A { virtual void f() = 0; };\nint main() { A a; std::cout << 1; }\n",
        "#include <iostream>\nint main() { std::cout << undefined_name << std::endl; }\n",
    ]
    for i, src in enumerate(cpps):
        out.append(("make-g++", i, files(tmp, f"cpp{i}", {"Makefile": cppmk, "main.cpp": src}, "make"), cpp_pass, C_ERR))
    return out


def python(tmp):
    ut_ok = "import unittest\nimport warnings\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(1 + 1, 2)\n    def test_error_path(self):\n        self.assertTrue(True)\n    def test_failure_message(self):\n        self.assertIn('fail', 'failure')\nif __name__ == '__main__':\n    unittest.main(verbosity=2)\n"
    app_ok = "import warnings\nwarnings.warn('old config format', DeprecationWarning, stacklevel=1)\nprint('processed 3 records, 0 errors')\n"
    py_pass = files(tmp, "pyok", {"test_app.py": ut_ok, "app.py": app_ok}, "python3 -W always test_app.py; python3 -W always app.py")
    out = []
    deep = "import json\ndef read(p):\n    with open(p) as f:\n        return json.load(f)\ndef load():\n    return read('settings.json')\ndef main():\n    cfg = load()\n    print(cfg['name'])\nif __name__ == '__main__':\n    main()\n"
    ps = [
        {"test_app.py": ut_ok.replace("1 + 1, 2", "1 + 1, 3"), "app.py": app_ok},
        {"test_app.py": ut_ok, "app.py": "import json\ncfg = json.loads(open('config.json').read())\nprint(cfg)\n"},
        {"test_app.py": ut_ok.replace("self.assertTrue(True)", "raise KeyError('user_id')"), "app.py": app_ok},
        {"test_app.py": ut_ok, "app.py": "def load(xs):\n    return [int(x) for x in xs]\ndef main():\n    print(load(['1', 'two']))\nmain()\n"},
        {"test_app.py": ut_ok, "app.py": "import requests_toolbelt\nprint('ok')\n"},
        {"test_app.py": ut_ok, "app.py": "def f(:\n    pass\n"},
        {"test_app.py": ut_ok, "app.py": deep, "settings.json": "{\"name\": \"x\",}\n"},
        {"test_app.py": ut_ok, "app.py": "import sys\nprint('checking config')\nsys.exit('error: DATABASE_URL is not set')\n"},
        {"test_app.py": ut_ok.replace("self.assertIn('fail', 'failure')", "self.assertIn('x', ['a', 'b'])"), "app.py": app_ok},
        {"test_app.py": ut_ok, "app.py": "class Repo:\n    def __init__(self):\n        self.items = None\n    def count(self):\n        return len(self.items)\nprint(Repo().count())\n"},
    ]
    for i, fs in enumerate(ps):
        out.append(("python", i, files(tmp, f"py{i}", fs, "python3 -W always test_app.py; python3 -W always app.py"), py_pass, PY_ERR))
    pt_ok = "import pytest\ndef add(a, b):\n    return a + b\ndef test_add():\n    assert add(1, 2) == 3\ndef test_error_handling():\n    with pytest.raises(ValueError):\n        int('x')\n@pytest.mark.parametrize('n', [1, 2, 3])\ndef test_many(n):\n    assert n > 0\n"
    pt_pass = files(tmp, "ptok", {"tests/test_app.py": pt_ok}, "python3 -m pytest -q tests")
    pts = [
        pt_ok.replace("add(1, 2) == 3", "add(1, 2) == 4"),
        pt_ok + "def test_dict():\n    d = {'a': 1}\n    assert d['b'] == 1\n",
        pt_ok.replace("[1, 2, 3]", "[1, -2, 3, -4]"),
        "import pytest\n@pytest.fixture\ndef db():\n    raise ConnectionError('could not connect to localhost:5432')\ndef test_query(db):\n    assert db\ndef test_ok():\n    assert True\n",
        "import missing_helpers\ndef test_x():\n    assert missing_helpers.x()\n",
        pt_ok + "def test_strings():\n    assert 'hello world'.split() == ['hello', 'wrld']\n",
        pt_ok + "class TestUser:\n    def test_name(self):\n        user = None\n        assert user.name == 'a'\n",
    ]
    for i, src in enumerate(pts):
        verbose = "-v" if i % 2 else "-q"
        out.append(("pytest", i, files(tmp, f"pt{i}", {"tests/test_app.py": src}, f"python3 -m pytest {verbose} tests"), pt_pass, PY_ERR))
    return out


def node(tmp):
    js_ok = "const assert = require('assert');\nfunction sum(a) { return a.reduce((x, y) => x + y, 0); }\nassert.strictEqual(sum([1, 2]), 3);\nconsole.warn('Warning: using default config');\nconsole.log('all 12 checks passed');\n"
    js_pass = files(tmp, "jsok", {"check.js": js_ok}, "node check.js")
    out = []
    js = [
        js_ok.replace("3);", "4);"),
        js_ok.replace("sum([1, 2])", "sum(undefined)"),
        "const cfg = require('./config.json');\nconsole.log(cfg);\n",
        "async function main() { throw new Error('upload failed: 503 Service Unavailable'); }\nmain();\n",
        "JSON.parse('{\"a\": 1,}');\n",
        "function f(o) { return o.user.name; }\nconsole.log('start');\nconsole.log(f({}));\n",
        "const fs = require('fs');\nfs.readFileSync('dist/index.html');\n",
    ]
    for i, src in enumerate(js):
        out.append(("node", i, files(tmp, f"js{i}", {"check.js": src}, "node check.js"), js_pass, JS_ERR))
    t_ok = "const test = require('node:test');\nconst assert = require('assert');\ntest('adds', () => { assert.strictEqual(1 + 1, 2); });\ntest('handles error input', () => { assert.throws(() => { throw new Error('x'); }); });\n"
    t_pass = files(tmp, "ntok", {"a.test.js": t_ok}, "node --test")
    ts = [
        t_ok.replace("1 + 1, 2", "1 + 1, 3"),
        t_ok + "test('parses', () => { JSON.parse('nope'); });\n",
        t_ok + "test('deep', () => { assert.deepStrictEqual({a: [1, 2]}, {a: [1, 3]}); });\n",
    ]
    for i, src in enumerate(ts):
        out.append(("node-test", i, files(tmp, f"nt{i}", {"a.test.js": src}, "node --test"), t_pass, JS_ERR))
    pkg = lambda script: '{"name": "app", "version": "1.0.0", "scripts": {"test": "%s", "build": "node build.js"}}\n' % script
    npm_pass = files(tmp, "npmok", {"package.json": pkg("node check.js"), "check.js": js_ok, "build.js": "console.log('built 3 files')\n"}, "npm test && npm run build")
    npms = [
        ({"package.json": pkg("node check.js"), "check.js": js_ok.replace("3);", "5);"), "build.js": ""}, "npm test"),
        ({"package.json": pkg("node check.js"), "check.js": js_ok, "build.js": ""}, "npm run lint"),
        ({"package.json": pkg("node check.js"), "check.js": js_ok, "build.js": "require('./webpack.config.js');\n"}, "npm test && npm run build"),
    ]
    for i, (fs, cmd) in enumerate(npms):
        out.append(("npm", i, files(tmp, f"npm{i}", fs, cmd, {"npm_config_update_notifier": "false"}), npm_pass, JS_ERR))
    return out


def java(tmp):
    ok = "public class App {\n    public static void main(String[] args) {\n        int[] v = {1, 2};\n        System.out.println(\"sum \" + (v[0] + v[1]));\n    }\n}\n"
    j_pass = files(tmp, "jok", {"App.java": ok}, "javac -Xlint:all App.java && java App")
    out = []
    js = [
        ok.replace("int[] v", "int[] w"),
        ok.replace("(v[0] + v[1])", "(v[0] + v[1]);\n        String s = 3"),
        ok.replace("int[] v = {1, 2};", "int[] v = {1, 2};\n        String s = v;"),
        ok.replace("(v[0] + v[1])", "(v[0] + v[5])"),
        "public class App {\n    static String name(String s) { return s.trim(); }\n    public static void main(String[] args) {\n        System.out.println(name(null));\n    }\n}\n",
        "public class App {\n    static void load() throws Exception { throw new IllegalStateException(\"config missing\"); }\n    public static void main(String[] args) {\n        try { load(); } catch (Exception e) { throw new RuntimeException(\"startup failed\", e); }\n    }\n}\n",
        "import java.util.*;\npublic class App {\n    public static void main(String[] args) {\n        List<Integer> l = List.of(1);\n        l.add(2);\n    }\n}\n",
    ]
    for i, src in enumerate(js):
        out.append(("java", i, files(tmp, f"j{i}", {"App.java": src}, "javac -Xlint:all App.java && java App"), j_pass, JAVA_ERR))
    return out


def shell(tmp):
    sh_pass = files(tmp, "shok", {"build.sh": "set -e\necho building\nls build.sh\nmkdir -p out\ncp build.sh out/\necho done\n"}, "sh build.sh")
    out = []
    sh = [
        ("build.sh", "echo building\nprotoc --version\necho done\n", "sh build.sh"),
        ("build.sh", "echo building\ncat ./generated/schema.sql\necho done\n", "sh build.sh"),
        ("build.sh", "set -e\necho building\ncp dist/app.tar.gz /tmp/release/\necho done\n", "bash build.sh"),
        ("build.sh", "set -e\necho fetching\ncurl -sS --max-time 5 https://no-such-host.invalid/pkg.tgz -o pkg.tgz\necho done\n", "bash build.sh"),
        ("build.sh", "set -e\necho preparing\nmkdir /proc/earlyexit-out\n", "bash build.sh"),
        ("build.sh", "echo deploying\n./deploy.sh\n", "bash build.sh"),
        ("build.sh", "echo checking\nperl -e 'open(my $f, \"<\", \"deps.lock\") or die \"cannot open deps.lock: $!\"'\n", "bash build.sh"),
        ("build.sh", "echo checking\nif [ -z \"$API_TOKEN\" ]; then echo 'ERROR: API_TOKEN is not set' >&2; exit 1; fi\n", "bash build.sh"),
    ]
    for i, (f, src, cmd) in enumerate(sh):
        fs = {f: src}
        if "deploy.sh" in src:
            fs["deploy.sh"] = "echo hi\n"
        out.append(("shell", i, files(tmp, f"sh{i}", fs, cmd), sh_pass, SH_ERR))
    return out


PKGS = ["serde", "libc", "error-chain", "failure", "tokio", "anyhow", "thiserror", "regex", "log", "rand",
        "numpy", "requests", "lodash", "webpack", "react", "junit", "guava", "openssl", "zlib", "errno"]


def noise(rng, n):
    v = lambda: f"{rng.randint(0,3)}.{rng.randint(0,40)}.{rng.randint(0,20)}"
    p = lambda: rng.choice(PKGS)
    gens = [
        lambda: f"Downloading https://files.example.org/packages/{p()}-{v()}.tar.gz ({rng.randint(2,900)} kB)",
        lambda: f"   Compiling {p()} v{v()}",
        lambda: f"  Downloaded {p()} v{v()}",
        lambda: f"Collecting {p()}=={v()}",
        lambda: f"  Using cached {p()}-{v()}-py3-none-any.whl ({rng.randint(10,900)} kB)",
        lambda: f"Requirement already satisfied: {p()}>={v()} in /opt/hostedtoolcache/Python/3.11.7/x64/lib/python3.11/site-packages (from -r requirements.txt (line {rng.randint(1,30)}))",
        lambda: f"Successfully installed {p()}-{v()} {p()}-{v()}",
        lambda: f"Get:{rng.randint(1,60)} http://azure.archive.ubuntu.com/ubuntu jammy/main amd64 lib{p()}-dev amd64 {v()} [{rng.randint(10,900)} kB]",
        lambda: f"Setting up lib{p()} ({v()}) ...",
        lambda: f"Unpacking lib{p()}:amd64 ({v()}) ...",
        lambda: f"Cache restored from key: deps-{rng.getrandbits(40):x}",
        lambda: f"Receiving objects: {rng.randint(1,100)}% ({rng.randint(1,900)}/{rng.randint(900,999)})\rReceiving objects: 100% (999/999), done.",
        lambda: f"test tests::{rng.choice(['handles_error', 'parse_failure_message', 'retries', 'ok_path', 'rejects_invalid'])}_{rng.randint(1,99)} ... ok",
        lambda: f"tests/test_{rng.choice(['errors', 'api', 'failures', 'io'])}.py::test_{rng.choice(['raises_error', 'timeout', 'fail_fast'])}_{rng.randint(1,50)} PASSED [{rng.randint(1,99)}%]",
        lambda: f"  ✓ {rng.choice(['throws on invalid input', 'reports errors', 'handles failure'])} ({rng.randint(1,90)} ms)",
        lambda: f"Retrying (Retry(total={rng.randint(1,4)}, connect=None)) after connection broken by 'ReadTimeoutError'",
        lambda: f"gcc -O2 -Werror=format-security -c src/{rng.choice(['io', 'net', 'db', 'error'])}.c -o build/{rng.choice(['io', 'net', 'db'])}.o",
        lambda: f"Build finished: 0 errors, {rng.randint(0,5)} warnings",
        lambda: f"[INFO] took {rng.randint(1,999)}ms",
        lambda: f"{rng.randint(10,23)}:{rng.randint(10,59)}:{rng.randint(10,59)} INFO  [main] {rng.choice(['Starting server', 'Loaded 12 routes', 'Connected to cache', 'error handler registered'])}",
        lambda: f"{rng.randint(10,23)}:{rng.randint(10,59)}:{rng.randint(10,59)} WARN  [pool-{rng.randint(1,9)}] {rng.choice(['slow query took 1203ms', 'retrying request after error (attempt 1 of 3)', 'deprecated option ignored'])}",
        lambda: f"DEBUG: {rng.choice(['error_count', 'failures', 'retries'])}={rng.randint(0,0)}",
        lambda: f"warning: unused variable: `tmp{rng.randint(0,9)}`",
        lambda: f"npm WARN deprecated {p()}@{v()}: this version is no longer supported",
        lambda: f"npm warn deprecated {p()}@{v()}: Rimraf versions prior to v4 are no longer supported",
        lambda: f"added {rng.randint(10,900)} packages, and audited {rng.randint(900,1200)} packages in {rng.randint(1,40)}s",
        lambda: f"found 0 vulnerabilities",
        lambda: f"{rng.randint(1,9)} vulnerabilities ({rng.randint(1,5)} moderate, {rng.randint(1,3)} high)",
        lambda: f"##[group]Run {rng.choice(['actions/checkout@v4', 'actions/cache@v4', 'make deps', 'actions/setup-node@v4'])}",
        lambda: "##[endgroup]",
        lambda: f"##[warning]{rng.choice(['Node.js 16 actions are deprecated.', 'The `set-output` command is deprecated'])}",
        lambda: f"Progress: {rng.randint(1,50)}%\rProgress: {rng.randint(51,99)}%\rProgress: 100%",
        lambda: f"{rng.getrandbits(48):012x}: Pull complete",
        lambda: f"Step {rng.randint(1,12)}/12 : RUN {rng.choice(['apt-get update', 'pip install -r requirements.txt', 'npm ci'])}",
        lambda: f" ---> Running in {rng.getrandbits(48):012x}",
        lambda: f"fatal: No names found, cannot describe anything.",
        lambda: f"hint: Using 'master' as the name for the initial branch.",
        lambda: f"  shell: /usr/bin/bash -e {{0}}",
        lambda: f"  env:\r  pythonLocation: /opt/hostedtoolcache/Python/3.11.7/x64",
        lambda: f"Ignoring {p()}: markers 'python_version < \"3.8\"' don't match your environment",
        lambda: f"checking for {rng.choice(['gcc', 'strerror', 'pthread_create', 'error.h'])}... {rng.choice(['yes', 'no', 'gcc'])}",
        lambda: f"[{rng.randint(1,99):>3}%] Building C object CMakeFiles/app.dir/src/{rng.choice(['error', 'main', 'util'])}.c.o",
        lambda: f"copying build/lib/{p()}/{rng.choice(['errors', 'core', 'utils'])}.py -> dist",
        lambda: "",
        lambda: "",
    ]
    # Benign lines with system-error words, rarer: cleanup of files that
    # are not there, a service not up yet, an optional probe.
    benign = [
        lambda: f"rm: cannot remove '/tmp/cache-{rng.randint(100,999)}': No such file or directory",
        lambda: f"ls: cannot access 'coverage/*.xml': No such file or directory",
        lambda: f"Connection refused (attempt {rng.randint(1,9)}/10), waiting for postgres to start",
        lambda: f"Killed old server process {rng.randint(1000,99999)}",
        lambda: f"[WARN] Permission denied while reading /proc/{rng.randint(1,999)}/environ",
        lambda: f"which: no python2 in (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin)",
        lambda: f"curl: (7) Failed to connect to localhost port 8080: Connection refused",
        lambda: f"health check timed out after {rng.randint(1,30)}s, server still starting",
    ]
    return [rng.choice(benign)() if rng.random() < 0.02 else rng.choice(gens)() for _ in range(n)]


# Error-looking lines of a job that still passes (a flaky mirror, a retried
# download, an optional service): printed in passing runs too, so they are
# never labelled.
FLAKY = [
    "error: could not reach cache server, building without it",
    "ERROR: failed to download https://mirror.example.org/dist/tool-{n}.tar.gz, trying next mirror",
    "npm ERR! network request to https://registry.npmjs.org/left-pad failed, reason: socket hang up (will retry)",
    "fatal: unable to access 'https://github.com/example/assets.git/': Could not resolve host: github.com",
    "E: Failed to fetch http://azure.archive.ubuntu.com/ubuntu/pool/main/c/curl/libcurl4_{n}.deb  404  Not Found [IP: 52.147.219.192 80]",
    "Error: telemetry endpoint unavailable, continuing without metrics",
    "Traceback (most recent call last) suppressed: optional plugin 'color' failed to load",
    "warning: failed to remove temporary file /tmp/build-{n}.lock: Permission denied",
    "[ERROR] Failed to connect to sccache server, compiling locally",
    "FAIL: optional dependency 'fsevents' is not supported on linux (skipped)",
    "cannot open display: :0 (headless run, ignored)",
    "Exception ignored in: <function _Connection.__del__ at 0x7f{n}>",
]


def with_flaky(rng, lines):
    """Adds 1 to 3 flaky error lines to a job's noise, on 40 % of the
    jobs."""
    if rng.random() >= 0.4 or not lines:
        return lines
    out = list(lines)
    for _ in range(rng.randint(1, 3)):
        # Half of them just before the tool's output.
        at = len(out) if rng.random() < 0.5 else rng.randint(0, len(out))
        out.insert(at, rng.choice(FLAKY).format(n=rng.randint(100, 999)))
    return out


def stamp(rng, lines):
    base = rng.randint(0, 50000)
    return [f"2024-05-{rng.randint(1,28):02d}T12:{(base+i)//60%60:02d}:{(base+i)%60:02d}.{rng.randint(0,9999999):07d}Z {l}" for i, l in enumerate(lines)]


def rerun(rng, lines):
    """The same job's noise on another run: other numbers (durations,
    hashes, counts), and about one line in twenty replaced by another
    (flaky output, a different download)."""
    out = []
    for l in lines:
        if rng.random() < 0.05:
            out.extend(noise(rng, 1))
        else:
            out.append(re.sub(r"\d", lambda m: str(rng.randint(0, 9)), l) if rng.random() < 0.5 else l)
    return out


def pair(rng, body_f, body_p, n_pre, n_post, ts):
    """(failing lines, index of its body, passing lines)."""
    pre, post = with_flaky(rng, noise(rng, n_pre)), noise(rng, n_post)
    end = rng.choice(["##[error]Process completed with exit code 1.", "ERROR: Job failed: exit code 1", "make: *** [Makefile:12: ci] Error 1", ""]) if n_pre > 3 else ""
    fail = pre + body_f + post + ([end] if end else [])
    pas = rerun(rng, pre) + body_p + rerun(rng, post) + [rng.choice(["Post job cleanup.", "Job succeeded", ""])]
    if ts:
        fail, pas = stamp(rng, fail), stamp(rng, pas)
    return fail, len(pre), pas


def split_of(variant, n_var):
    """Variants 0, 1, 4, 5, 8, … train; 2, 6, … tune; 3, 7, … holdout; a
    tool with fewer than four variants has its last one held out."""
    if n_var < 4:
        return "holdout" if variant == n_var - 1 else "train"
    return {2: "tune", 3: "holdout"}.get(variant % 4, "train")


REPEATS = {"train": 4, "tune": 3, "holdout": 3}


def main():
    out_dir = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        scen = []
        for f in (rust, c, python, node, java, shell):
            scen.extend(f(tmp))
    counts = {}
    for tool, variant, fail_out, pass_out, rx in scen:
        n_var = sum(1 for s in scen if s[0] == tool)
        split = split_of(variant, n_var)
        body_f = fail_out.rstrip("\n").split("\n")
        body_p = pass_out.rstrip("\n").split("\n")
        heads = [i for i, l in enumerate(body_f) if rx.search(l)]
        if not heads:
            sys.exit(f"{tool} variant {variant}: no labelled line in its output:\n{fail_out}")
        labelled = set()
        for i in heads:
            labelled.update(range(i, block_end(body_f, i)))
        if os.environ.get("DUMP"):
            print(f"===== {tool} {variant} {split}")
            for i, l in enumerate(body_f):
                print(("E " if i in labelled else "  ") + l)
        for k in range(REPEATS[split]):
            rng = random.Random(f"{tool}-{variant}-{k}")
            ts = rng.random() < 0.4
            # A quarter of the cases are the tool's output alone or nearly
            # (a local run piped to triage, a recorded tail), the others a
            # CI job around it.
            bare = rng.random() < 0.25
            n_pre, n_post = (rng.randint(0, 3), 0) if bare else (rng.randint(5, 200), rng.randint(0, 30))
            fail, start, pas = pair(rng, body_f, body_p, n_pre, n_post, ts)
            # A bare CR inside a line starts a new line for the reader.
            number, at = [], 1
            for l in fail:
                number.append(at)
                at += 1 + l.count("\r")
            errs = [number[start + i] for i in sorted(labelled)]
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
