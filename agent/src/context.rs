//! The context of a run, captured once at start: the project type of the
//! working directory, the category of the command, how busy the machine is,
//! and the few environment variables that describe where it runs (CI or not,
//! `NODE_ENV`, …). The learning side groups runs by these.
//!
//! Everything here is best effort and cheap: a few directory listings, two
//! small `/proc` reads and one `statvfs`. It must never fail or slow a run
//! (missing data is `None` or `"unknown"`), never spawn a process, and never
//! record an environment variable outside [`ENV_ALLOW_LIST`].

use std::fs;
use std::path::Path;

/// Returned when no project type or command category applies.
pub const UNKNOWN: &str = "unknown";

/// How many directories [`detect_project_type`] looks at: the working
/// directory and its parents. Enough for `repo/crates/foo/src`, and it stops
/// earlier at a VCS root.
pub const MAX_PROJECT_LEVELS: usize = 5;

/// Directory entries looked at per directory. A project root has tens; a
/// bigger directory (a download folder, `/tmp`) is not worth listing fully.
pub const MAX_DIR_ENTRIES: usize = 2048;

/// Marker files in priority order: when one directory holds several, the
/// first listed wins (a Rust crate with a `Makefile` is `rust`). A leading
/// `*` matches a suffix.
const PROJECT_MARKERS: &[(&str, &str)] = &[
    ("Cargo.toml", "rust"),
    ("package.json", "nodejs"),
    ("pyproject.toml", "python"),
    ("setup.py", "python"),
    ("setup.cfg", "python"),
    ("requirements.txt", "python"),
    ("Pipfile", "python"),
    ("go.mod", "go"),
    ("pom.xml", "java"),
    ("build.gradle", "java"),
    ("build.gradle.kts", "java"),
    ("*.tf", "terraform"),
    ("Gemfile", "ruby"),
    ("composer.json", "php"),
    ("CMakeLists.txt", "cmake"),
    ("Makefile", "make"),
    ("GNUmakefile", "make"),
    ("makefile", "make"),
];

/// Every value [`detect_project_type`] can return.
pub const PROJECT_TYPES: &[&str] = &[
    "rust",
    "nodejs",
    "python",
    "go",
    "java",
    "terraform",
    "ruby",
    "php",
    "cmake",
    "make",
    UNKNOWN,
];

/// Directory names that mark a repository root; the search stops there.
const VCS_DIRS: &[&str] = &[".git", ".hg", ".svn", ".jj"];

/// The project type of `cwd`: the marker file found nearest to it (looking
/// in `cwd` and its parents, up to the repository root or
/// [`MAX_PROJECT_LEVELS`] directories), e.g. `rust`, `nodejs`, `python`,
/// `go`, `java`, `terraform`, `ruby`, `php`, `cmake`, `make`; or `unknown`.
///
/// `cwd` should be absolute (parents of a relative path are not visited).
/// Costs one directory listing per level visited.
pub fn detect_project_type(cwd: &Path) -> &'static str {
    for dir in cwd.ancestors().take(MAX_PROJECT_LEVELS) {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        let mut best: Option<usize> = None;
        let mut at_repo_root = false;
        for entry in entries.take(MAX_DIR_ENTRIES).flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            if VCS_DIRS.contains(&name) {
                at_repo_root = true;
            } else if let Some(rank) = PROJECT_MARKERS
                .iter()
                .position(|(marker, _)| marker_matches(marker, name))
            {
                best = Some(best.map_or(rank, |b| b.min(rank)));
            }
        }
        if let Some(rank) = best {
            return PROJECT_MARKERS[rank].1;
        }
        if at_repo_root {
            break;
        }
    }
    UNKNOWN
}

fn marker_matches(marker: &str, name: &str) -> bool {
    match marker.strip_prefix('*') {
        Some(suffix) => name.len() > suffix.len() && name.ends_with(suffix),
        None => name == marker,
    }
}

const TEST: &str = "test";
const BUILD: &str = "build";
const LINT: &str = "lint";
const DEPLOY: &str = "deploy";
const INSTALL: &str = "install";
const RUN: &str = "run";

/// Every value [`detect_command_category`] can return.
pub const COMMAND_CATEGORIES: &[&str] = &[TEST, BUILD, LINT, DEPLOY, INSTALL, RUN, UNKNOWN];

/// How many wrappers (`env`, `sh -c`, `npx`, `uv run`, …) are looked through.
const MAX_WRAPPER_DEPTH: usize = 8;

/// The category of a command line: `test`, `build`, `lint`, `deploy`,
/// `install`, `run` (servers, scripts, `cargo run`) or `unknown`.
///
/// Looks through wrappers — `env X=1`, `sh -c '…'`, `time`, `nice`,
/// `timeout`, `sudo`, `npx`, `uv run`, `poetry run`, `bundle exec`,
/// `python -m` — and paths such as `./node_modules/.bin/jest`. For a shell
/// script of several commands (`cd x && npm ci && npm test`), the last
/// recognised command decides, and installing only counts when nothing
/// else was recognised.
pub fn detect_command_category(argv: &[String]) -> &'static str {
    let words: Vec<&str> = argv.iter().map(String::as_str).collect();
    classify(&words, 0).unwrap_or(UNKNOWN)
}

/// The category of one simple command, or `None` when unknown.
fn classify(words: &[&str], depth: usize) -> Option<&'static str> {
    if depth > MAX_WRAPPER_DEPTH {
        return None;
    }
    let words = skip_assignments(words);
    let (&first, rest) = words.split_first()?;
    let prog = program_name(first);
    let next = |after: &[&str]| classify(after, depth + 1);
    let sub = first_operand(rest);
    match prog.as_str() {
        // Wrappers that run the rest of the line.
        "env" => next(skip_options(
            rest,
            &["-u", "--unset", "-C", "--chdir", "-S"],
        )),
        "time" => next(skip_options(rest, &["-f", "--format", "-o", "--output"])),
        "exec" => next(skip_options(rest, &["-a"])),
        "xvfb-run" => next(skip_options(rest, &["-e", "-f", "-n", "-p", "-s", "-w"])),
        "nohup" | "command" | "builtin" | "unbuffer" | "chronic" | "stdbuf" | "caffeinate"
        | "dumb-init" | "tini" | "catchsegv" => next(skip_options(rest, &[])),
        "nice" => next(skip_options(rest, &["-n", "--adjustment"])),
        "ionice" => next(skip_options(rest, &["-c", "-n", "-p", "-t"])),
        "sudo" | "doas" => next(skip_options(
            rest,
            &["-u", "-g", "-C", "-D", "-h", "-p", "-U", "-r", "-t"],
        )),
        "timeout" => next(skip_operands(
            skip_options(rest, &["-s", "--signal", "-k", "--kill-after"]),
            1,
        )),
        "taskset" => next(skip_operands(skip_options(rest, &[]), 1)),
        "sh" | "bash" | "zsh" | "dash" | "ksh" | "ash" | "fish" | "mksh" => shell(rest, depth),
        "npx" | "pnpx" | "bunx" | "uvx" => next(skip_options(
            rest,
            &["-p", "--package", "--from", "--with", "--python"],
        )),
        "pipx" => match sub {
            Some("run") => next(skip_options(after_operand(rest), &["--spec", "--python"])),
            Some("install" | "upgrade" | "inject" | "reinstall" | "uninstall") => Some(INSTALL),
            _ => None,
        },
        "uv" => match sub {
            Some("run") => run_target(
                skip_options(
                    after_operand(rest),
                    &[
                        "--with",
                        "--python",
                        "-p",
                        "--project",
                        "--directory",
                        "--package",
                        "--extra",
                        "--group",
                        "--env-file",
                        "--index",
                    ],
                ),
                depth,
            ),
            Some("tool") => match first_operand(after_operand(rest)) {
                Some("run") => next(skip_options(
                    after_operand(after_operand(rest)),
                    &["--from", "--with", "--python"],
                )),
                Some("install" | "upgrade") => Some(INSTALL),
                _ => None,
            },
            Some("pip") => pip(after_operand(rest)),
            Some("sync" | "add" | "lock" | "remove" | "venv") => Some(INSTALL),
            Some("build") => Some(BUILD),
            Some("publish") => Some(DEPLOY),
            _ => None,
        },
        "poetry" | "pipenv" | "pdm" | "hatch" | "rye" => match sub {
            Some("run") => run_target(after_operand(rest), depth),
            Some("shell") => None,
            Some("test") => Some(TEST),
            Some("install" | "add" | "sync" | "lock" | "update" | "remove") => Some(INSTALL),
            Some("build") => Some(BUILD),
            Some("publish") => Some(DEPLOY),
            Some("fmt") | Some("lint") => Some(LINT),
            _ => None,
        },
        "conda" | "mamba" | "micromamba" => match sub {
            Some("run") => next(skip_options(
                after_operand(rest),
                &["-n", "--name", "-p", "--prefix"],
            )),
            Some("install" | "create" | "update" | "env") => Some(INSTALL),
            _ => None,
        },
        "bundle" => match sub {
            Some("exec") => next(after_operand(rest)),
            Some("install" | "update" | "add") => Some(INSTALL),
            _ => None,
        },
        "direnv" if sub == Some("exec") => next(skip_operands(after_operand(rest), 1)),
        "nix-shell" => {
            let mut it = rest.iter();
            while let Some(word) = it.next() {
                if *word == "--run" || *word == "--command" {
                    return shell_script(it.next()?, depth);
                }
            }
            None
        }
        "nix" => match sub {
            Some("develop" | "shell") => {
                let position = rest.iter().position(|w| *w == "-c" || *w == "--command")?;
                next(&rest[position + 1..])
            }
            Some("build") => Some(BUILD),
            Some("run") => Some(RUN),
            Some("flake") if first_operand(after_operand(rest)) == Some("check") => Some(TEST),
            _ => None,
        },

        // Language toolchains.
        "cargo" => cargo(rest),
        "npm" | "pnpm" | "yarn" | "bun" => js_package_manager(&prog, rest, depth),
        "node" | "nodejs" | "tsx" | "ts-node" => {
            if rest.contains(&"--test") {
                Some(TEST)
            } else {
                script_file(first_operand(rest)?).or(Some(RUN))
            }
        }
        "deno" => match sub? {
            "test" | "bench" => Some(TEST),
            "lint" | "fmt" | "check" => Some(LINT),
            "run" | "serve" => Some(RUN),
            "compile" | "bundle" => Some(BUILD),
            "install" | "add" | "cache" => Some(INSTALL),
            "task" => script_name(first_operand(after_operand(rest))?),
            _ => None,
        },
        "python" | "py" | "pypy" => python(rest, depth),
        "pip" => pip(rest),
        "go" => match sub? {
            "test" => Some(TEST),
            "build" | "generate" => Some(BUILD),
            "vet" | "fmt" => Some(LINT),
            "run" => Some(RUN),
            "get" | "mod" | "install" => Some(INSTALL),
            _ => None,
        },
        "gofmt" | "goimports" | "golangci-lint" | "staticcheck" | "revive" => Some(LINT),
        "gotestsum" | "ginkgo" => Some(TEST),
        "rustc" => Some(BUILD),
        "rustfmt" | "cargo-clippy" | "clippy-driver" => Some(LINT),
        "rustup" => match sub? {
            "install" | "update" | "toolchain" | "target" | "component" => Some(INSTALL),
            "run" => next(skip_operands(after_operand(rest), 1)),
            _ => None,
        },
        "mvn" | "mvnw" => maven(rest),
        "gradle" | "gradlew" => gradle(rest),
        "sbt" | "lein" | "mix" | "swift" | "zig" | "cabal" | "stack" | "dune" | "gleam"
        | "dotnet" | "bazel" | "bazelisk" | "buck" | "buck2" | "pants" | "meson" | "wasm-pack"
        | "trunk" => build_tool(rest),
        "java" | "kotlin" | "scala" => Some(RUN),
        "javac" | "kotlinc" | "scalac" | "gcc" | "g++" | "cc" | "c++" | "clang" | "clang++"
        | "tsc" | "swc" | "esbuild" | "webpack" | "rollup" | "parcel" | "ninja" | "msbuild"
        | "scons" | "sphinx-build" | "pyinstaller" | "elm" | "ghc" | "ant" => Some(BUILD),
        "cmake" => {
            if rest.contains(&"--install") {
                Some(INSTALL)
            } else {
                Some(BUILD)
            }
        }
        "make" | "gmake" | "mingw32-make" => {
            let targets = make_targets(rest);
            Some(
                targets
                    .first()
                    .and_then(|t| script_name(t))
                    .unwrap_or(BUILD),
            )
        }
        "just" | "task" | "mage" | "invoke" | "inv" | "nx" | "turbo" | "lerna" | "rake"
        | "grunt" | "gulp" | "earthly" => {
            let targets = make_targets(rest);
            let target = targets.iter().find(|t| *t != &"run")?;
            script_name(target.rsplit(':').next().unwrap_or(target)).or_else(|| script_name(target))
        }
        "vite" | "next" | "nuxt" | "nuxi" | "ng" | "astro" | "remix" | "svelte-kit" | "gatsby"
        | "hugo" | "jekyll" | "mkdocs" | "docusaurus" | "maturin" => match sub {
            None | Some("dev" | "serve" | "server" | "start" | "preview" | "develop") => Some(RUN),
            Some(word) => script_name(word).or(Some(BUILD)),
        },
        "docker" | "podman" | "nerdctl" | "buildah" | "docker-compose" => container(&prog, rest),

        // Single-purpose tools.
        "pytest" | "py.test" | "jest" | "vitest" | "mocha" | "ava" | "tap" | "karma"
        | "jasmine" | "cypress" | "playwright" | "rspec" | "phpunit" | "pest" | "ctest" | "tox"
        | "nox" | "behave" | "cucumber" | "cucumber-js" | "bats" | "prove" | "busted"
        | "nextest" | "cargo-nextest" | "testem" | "newman" | "k6" | "locust" => Some(TEST),
        "eslint" | "ruff" | "flake8" | "pylint" | "mypy" | "pyright" | "black" | "isort"
        | "yapf" | "autopep8" | "bandit" | "prettier" | "stylelint" | "shellcheck" | "shfmt"
        | "hadolint" | "rubocop" | "standardrb" | "tflint" | "tfsec" | "checkov" | "yamllint"
        | "markdownlint" | "markdownlint-cli2" | "ktlint" | "detekt" | "swiftlint"
        | "clang-tidy" | "clang-format" | "cppcheck" | "cpplint" | "biome" | "oxlint"
        | "pre-commit" | "commitlint" | "actionlint" | "vale" | "codespell" | "typos"
        | "semgrep" | "sqlfluff" | "jshint" | "tslint" | "xo" | "standard" | "kubeconform"
        | "kubeval" | "cargo-deny" | "cargo-audit" => Some(LINT),
        "terraform" | "tofu" | "terragrunt" => match sub? {
            "apply" | "destroy" | "plan" | "import" | "refresh" | "run-all" => Some(DEPLOY),
            "init" | "get" | "providers" => Some(INSTALL),
            "validate" | "fmt" => Some(LINT),
            "test" => Some(TEST),
            _ => None,
        },
        "kubectl" | "oc" => match sub? {
            "apply" | "create" | "replace" | "delete" | "rollout" | "scale" | "set" | "patch"
            | "expose" | "label" | "annotate" => Some(DEPLOY),
            _ => None,
        },
        "helm" | "helmfile" => match sub? {
            "lint" => Some(LINT),
            "test" => Some(TEST),
            "template" | "package" => Some(BUILD),
            "dependency" | "repo" | "pull" | "deps" => Some(INSTALL),
            "install" | "upgrade" | "rollback" | "uninstall" | "delete" | "apply" | "sync"
            | "deploy" | "destroy" => Some(DEPLOY),
            _ => None,
        },
        "ansible-playbook" | "ansible" | "kamal" | "cap" | "pulumi" | "flyctl" | "fly"
        | "vercel" | "netlify" | "serverless" | "sls" | "cdk" | "firebase" | "wrangler"
        | "skaffold" | "eb" | "argocd" | "gcloud" | "aws" | "az" | "twine" => {
            deploy_tool(&prog, rest)
        }
        "apt" | "apt-get" | "aptitude" | "yum" | "dnf" | "zypper" | "apk" | "pacman" | "brew"
        | "port" | "snap" | "flatpak" | "gem" | "composer" | "cpanm" | "luarocks" | "opam"
        | "choco" | "winget" | "scoop" | "asdf" | "mise" | "nix-env" | "pip-sync" => {
            package_manager(&prog, rest)
        }
        "uvicorn" | "gunicorn" | "hypercorn" | "daphne" | "flask" | "streamlit" | "jupyter"
        | "nodemon" | "pm2" | "http-server" | "serve" | "live-server" | "air" | "rails"
        | "django-admin" | "redis-server" | "nginx" | "caddy" | "php" => server_tool(&prog, rest),
        _ => script_file(first),
    }
}

/// Drops leading `NAME=value` words.
fn skip_assignments<'a, 'b>(words: &'a [&'b str]) -> &'a [&'b str] {
    let count = words.iter().take_while(|w| is_assignment(w)).count();
    &words[count..]
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// `./node_modules/.bin/jest` → `jest`; `python3.12` → `python`;
/// `clang-17` → `clang`; `manage.py` stays.
fn program_name(word: &str) -> String {
    let base = word.rsplit(['/', '\\']).next().unwrap_or(word);
    let mut name = base.to_ascii_lowercase();
    for ext in [".exe", ".cmd", ".bat"] {
        if let Some(stripped) = name.strip_suffix(ext) {
            name = stripped.to_string();
        }
    }
    for family in ["python", "pypy", "pip"] {
        if name.starts_with(family)
            && name[family.len()..]
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.')
        {
            return family.to_string();
        }
    }
    if let Some((stem, version)) = name.rsplit_once('-')
        && !version.is_empty()
        && version.chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        return stem.to_string();
    }
    name
}

/// Skips options (words starting with `-`, and the value of each option
/// listed in `with_value`) up to the first operand; `--` ends options.
fn skip_options<'a, 'b>(words: &'a [&'b str], with_value: &[&str]) -> &'a [&'b str] {
    let mut i = 0;
    while let Some(word) = words.get(i) {
        if *word == "--" {
            return &words[i + 1..];
        }
        if !word.starts_with('-') || *word == "-" {
            break;
        }
        i += if with_value.contains(word) { 2 } else { 1 };
    }
    &words[i.min(words.len())..]
}

/// Skips `n` operands (e.g. the duration of `timeout 5m cmd`).
fn skip_operands<'a, 'b>(words: &'a [&'b str], n: usize) -> &'a [&'b str] {
    &words[n.min(words.len())..]
}

/// The first word that is not an option (`cargo +nightly --locked test` → `test`).
fn first_operand<'b>(words: &[&'b str]) -> Option<&'b str> {
    words
        .iter()
        .copied()
        .find(|w| !w.starts_with('-') && !w.starts_with('+'))
}

/// The words after the first operand.
fn after_operand<'a, 'b>(words: &'a [&'b str]) -> &'a [&'b str] {
    match words
        .iter()
        .position(|w| !w.starts_with('-') && !w.starts_with('+'))
    {
        Some(i) => &words[i + 1..],
        None => &[],
    }
}

/// `make` and task runner targets: operands that are not `VAR=value` and
/// not the value of `-C dir`, `-f file`, `-j N`.
fn make_targets<'b>(words: &[&'b str]) -> Vec<&'b str> {
    let mut targets = Vec::new();
    let mut skip_next = false;
    for word in words {
        if skip_next {
            skip_next = false;
        } else if matches!(
            *word,
            "-C" | "-f" | "-j" | "-l" | "-o" | "-W" | "-I" | "--file" | "--directory"
        ) {
            skip_next = true;
        } else if !word.starts_with('-') && !is_assignment(word) {
            targets.push(*word);
        }
    }
    targets
}

/// `uv run X`, `poetry run X`: a program, or a project script named by its purpose.
fn run_target(words: &[&str], depth: usize) -> Option<&'static str> {
    classify(words, depth + 1).or_else(|| script_name(first_operand(words)?))
}

/// `sh [-euxo pipefail] -c 'script'` or `sh script.sh`.
fn shell(words: &[&str], depth: usize) -> Option<&'static str> {
    let mut has_c = false;
    let mut i = 0;
    while let Some(word) = words.get(i) {
        // `-o pipefail`, also at the end of a cluster: `-euo pipefail`.
        let takes_value = (word.starts_with('-') || word.starts_with('+'))
            && !word.starts_with("--")
            && (word.ends_with('o') || word.ends_with('O'));
        if takes_value {
            if word.contains('c') {
                has_c = true;
            }
            i += 2;
            continue;
        }
        if *word == "--" {
            i += 1;
            break;
        }
        if !(word.starts_with('-') || word.starts_with('+')) || *word == "-" {
            break;
        }
        if !word.starts_with("--") && word.contains('c') {
            has_c = true;
        }
        i += 1;
    }
    let operand = words.get(i)?;
    if has_c {
        shell_script(operand, depth)
    } else {
        script_name(operand)
    }
}

/// Classifies a shell script: the last recognised simple command decides;
/// installs only count when nothing else is recognised.
fn shell_script(script: &str, depth: usize) -> Option<&'static str> {
    let mut found = None;
    for command in split_shell(script) {
        let words: Vec<&str> = command.iter().map(String::as_str).collect();
        let words = skip_keywords(&words);
        if let Some(category) = classify(words, depth + 1)
            && (category != INSTALL || found.is_none())
        {
            found = Some(category);
        }
    }
    found
}

fn skip_keywords<'a, 'b>(words: &'a [&'b str]) -> &'a [&'b str] {
    let count = words
        .iter()
        .take_while(|w| {
            matches!(
                **w,
                "if" | "then" | "else" | "elif" | "do" | "while" | "until" | "!" | "{"
            )
        })
        .count();
    &words[count..]
}

/// Splits a shell script into simple commands of words: quotes and
/// backslashes are honoured; `;`, `&`, `|`, newlines and parentheses
/// separate commands. Not a full shell parser, enough to find programs.
fn split_shell(script: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let end_word = |word: &mut String, words: &mut Vec<String>, in_word: &mut bool| {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(escaped) = chars.next() {
                                word.push(escaped);
                            }
                        }
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                if let Some(escaped) = chars.next() {
                    in_word = true;
                    if escaped != '\n' {
                        word.push(escaped);
                    }
                }
            }
            ';' | '&' | '|' | '\n' | '(' | ')' => {
                end_word(&mut word, &mut words, &mut in_word);
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            '#' if !in_word => {
                // A comment runs to the end of the line.
                for q in chars.by_ref() {
                    if q == '\n' {
                        break;
                    }
                }
                end_word(&mut word, &mut words, &mut in_word);
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            c if c.is_whitespace() => end_word(&mut word, &mut words, &mut in_word),
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    end_word(&mut word, &mut words, &mut in_word);
    if !words.is_empty() {
        commands.push(words);
    }
    commands
}

/// A script run by path (`./run_tests.sh`, `scripts/deploy.py`), by its name.
fn script_file(word: &str) -> Option<&'static str> {
    let looks_like_script = word.contains('/')
        || [
            ".sh", ".bash", ".py", ".js", ".mjs", ".ts", ".rb", ".pl", ".ps1",
        ]
        .iter()
        .any(|ext| word.ends_with(ext));
    if looks_like_script {
        script_name(word)
    } else {
        None
    }
}

/// The category a script, target or task name suggests: `test:unit`,
/// `run_tests.sh`, `lint-fix`, `build:prod`, `deploy`, `dev`, …
///
/// When several words match, the strongest purpose wins (`run_tests` is a
/// test, `build-and-deploy` a deploy); vague words (`check`, `all`, `run`)
/// count only when nothing else does.
fn script_name(name: &str) -> Option<&'static str> {
    const STRENGTH: [&str; 6] = [TEST, DEPLOY, LINT, BUILD, INSTALL, RUN];
    let base = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    let stem = base.split_once('.').map_or(base.as_str(), |(stem, _)| stem);
    let tokens = || stem.split(|c: char| !c.is_ascii_alphanumeric());
    let strong = tokens()
        .filter_map(|token| match token {
            t if t.starts_with("test") || t.ends_with("tests") || t.starts_with("unittest") => {
                Some(TEST)
            }
            "spec" | "specs" | "e2e" | "unit" | "integration" | "coverage" | "cov" | "bench" => {
                Some(TEST)
            }
            "lint" | "eslint" | "fmt" | "format" | "typecheck" | "types" | "clippy"
            | "prettier" | "stylelint" | "style" => Some(LINT),
            "build" | "compile" | "bundle" | "dist" | "package" | "pack" | "assemble" => {
                Some(BUILD)
            }
            "deploy" | "release" | "publish" | "ship" | "rollout" | "provision" => Some(DEPLOY),
            "install" | "setup" | "bootstrap" | "deps" | "dependencies" | "vendor" => Some(INSTALL),
            "start" | "dev" | "serve" | "server" | "preview" => Some(RUN),
            _ => None,
        })
        .min_by_key(|category| STRENGTH.iter().position(|c| c == category));
    strong.or_else(|| {
        tokens().find_map(|token| match token {
            "check" | "verify" => Some(TEST),
            "all" => Some(BUILD),
            "run" | "up" | "watch" => Some(RUN),
            _ => None,
        })
    })
}

fn cargo(rest: &[&str]) -> Option<&'static str> {
    // `+nightly` picks a toolchain; it comes before the subcommand.
    let rest: Vec<&str> = rest
        .iter()
        .copied()
        .filter(|w| !w.starts_with('+'))
        .collect();
    let words = skip_options(
        &rest,
        &["--manifest-path", "-Z", "--config", "-C", "--color"],
    );
    match *words.first()? {
        "test" | "t" | "nextest" | "bench" | "miri" | "llvm-cov" | "tarpaulin" | "mutants" => {
            Some(TEST)
        }
        "build" | "b" | "check" | "c" | "doc" | "d" | "rustc" | "zigbuild" | "xtask" => Some(BUILD),
        "clippy" | "fmt" | "audit" | "deny" | "udeps" | "machete" | "semver-checks" => Some(LINT),
        "run" | "r" | "watch" => Some(RUN),
        "install" | "fetch" | "add" | "update" | "vendor" | "generate-lockfile" => Some(INSTALL),
        "publish" | "release" => Some(DEPLOY),
        "make" => script_name(words.get(1)?),
        _ => None,
    }
}

fn js_package_manager(prog: &str, rest: &[&str], depth: usize) -> Option<&'static str> {
    let words = skip_options(
        rest,
        &[
            "--prefix",
            "-C",
            "--dir",
            "--filter",
            "-F",
            "--cwd",
            "-w",
            "--workspace",
        ],
    );
    let Some((&sub, after)) = words.split_first() else {
        // `yarn` alone installs.
        return (prog == "yarn").then_some(INSTALL);
    };
    match sub {
        "test" | "t" | "tst" => Some(TEST),
        "install" | "i" | "ci" | "add" | "in" | "update" | "up" | "upgrade" | "remove" | "rm"
        | "uninstall" | "link" => Some(INSTALL),
        "start" => Some(RUN),
        "publish" | "deploy" => Some(DEPLOY),
        "exec" | "x" | "dlx" => {
            classify(skip_options(after, &["-p", "--package", "-c"]), depth + 1)
        }
        "run" | "run-script" | "rr" => {
            let script = first_operand(after)?;
            if prog == "bun" && script_file(script).is_some() {
                return script_name(script).or(Some(RUN));
            }
            script_name(script)
        }
        "build" if prog == "bun" => Some(BUILD),
        // `yarn jest`, `pnpm build`: a binary or a package.json script.
        _ => classify(words, depth + 1).or_else(|| script_name(sub)),
    }
}

fn python(rest: &[&str], depth: usize) -> Option<&'static str> {
    let mut i = 0;
    while let Some(word) = rest.get(i) {
        match *word {
            "-m" => {
                let module = rest.get(i + 1)?;
                let module_words: Vec<&str> = std::iter::once(*module)
                    .chain(rest[i + 2..].iter().copied())
                    .collect();
                return match *module {
                    "unittest" | "doctest" => Some(TEST),
                    "http.server" => Some(RUN),
                    "build" => Some(BUILD),
                    "venv" | "ensurepip" => Some(INSTALL),
                    "twine" => Some(DEPLOY),
                    _ => classify(&module_words, depth + 1),
                };
            }
            "-c" => return Some(RUN),
            w if w.starts_with('-') => i += 1,
            script => {
                let name = program_name(script);
                let args = &rest[i + 1..];
                return match (name.as_str(), first_operand(args)) {
                    ("manage.py", Some("test")) => Some(TEST),
                    ("manage.py", Some("runserver")) => Some(RUN),
                    ("setup.py", Some("test")) => Some(TEST),
                    ("setup.py", Some("install" | "develop")) => Some(INSTALL),
                    ("setup.py", Some("upload")) => Some(DEPLOY),
                    ("setup.py", _) => Some(BUILD),
                    _ => script_name(&name).or(Some(RUN)),
                };
            }
        }
    }
    Some(RUN)
}

fn pip(rest: &[&str]) -> Option<&'static str> {
    match first_operand(rest)? {
        "install" | "download" | "uninstall" | "sync" | "compile" | "wheel" => Some(INSTALL),
        "check" => Some(LINT),
        _ => None,
    }
}

/// Maven: the last goal decides (`mvn clean install` builds, `mvn clean test` tests).
fn maven(rest: &[&str]) -> Option<&'static str> {
    let goal = make_targets(rest).into_iter().next_back()?;
    let (plugin, goal_name) = goal.rsplit_once(':').unwrap_or(("", goal));
    match goal_name {
        "test" | "verify" | "integration-test" => Some(TEST),
        "compile" | "package" | "install" | "clean" | "test-compile" => Some(BUILD),
        "deploy" => Some(DEPLOY),
        "run" | "java" | "exec" => Some(RUN),
        "check" if matches!(plugin, "checkstyle" | "spotless" | "pmd" | "spotbugs") => Some(LINT),
        "resolve" | "go-offline" | "copy-dependencies" => Some(INSTALL),
        _ => None,
    }
}

/// Gradle: the last task decides; `:app:test` counts as `test`.
fn gradle(rest: &[&str]) -> Option<&'static str> {
    let task = make_targets(rest).into_iter().next_back()?;
    let task = task.rsplit(':').next().unwrap_or(task);
    match task {
        "test" | "check" | "connectedCheck" | "integrationTest" | "connectedAndroidTest" => {
            Some(TEST)
        }
        "build" | "assemble" | "jar" | "bootJar" | "shadowJar" | "compileJava"
        | "compileKotlin" | "clean" => Some(BUILD),
        "run" | "bootRun" => Some(RUN),
        "publish" | "publishToMavenLocal" => Some(DEPLOY),
        "lint" | "ktlintCheck" | "detekt" | "spotlessCheck" | "checkstyleMain" => Some(LINT),
        "dependencies" => Some(INSTALL),
        other => script_name(other),
    }
}

/// Tools whose first operand is a verb: `dotnet test`, `bazel build`, `mix deps.get`.
fn build_tool(rest: &[&str]) -> Option<&'static str> {
    let verb = first_operand(rest)?;
    match verb {
        "test" | "check" | "bench" => Some(TEST),
        "build" | "compile" | "package" | "assembly" | "publish" | "setup" | "pack" => Some(BUILD),
        "run" | "watch" | "serve" | "phx.server" | "repl" => Some(RUN),
        "install" | "restore" | "add" | "deps.get" | "update" | "fetch" => Some(INSTALL),
        "format" | "fmt" | "lint" | "credo" => Some(LINT),
        other => script_name(other),
    }
}

fn container(prog: &str, rest: &[&str]) -> Option<&'static str> {
    let mut words = skip_options(
        rest,
        &[
            "-H",
            "--host",
            "--context",
            "-c",
            "--config",
            "-l",
            "--log-level",
        ],
    );
    if prog == "docker-compose" || first_operand(words) == Some("compose") {
        if prog != "docker-compose" {
            words = after_operand(words);
        }
        let words = skip_options(
            words,
            &[
                "-f",
                "--file",
                "-p",
                "--project-name",
                "--profile",
                "--env-file",
            ],
        );
        return match first_operand(words)? {
            "build" => Some(BUILD),
            "up" | "run" | "start" | "exec" => Some(RUN),
            "pull" => Some(INSTALL),
            "push" => Some(DEPLOY),
            _ => None,
        };
    }
    match first_operand(words)? {
        "build" | "bud" => Some(BUILD),
        "buildx" | "image" | "builder" => match first_operand(after_operand(words))? {
            "build" | "bake" => Some(BUILD),
            "push" => Some(DEPLOY),
            "pull" => Some(INSTALL),
            _ => None,
        },
        "run" | "start" | "exec" => Some(RUN),
        "push" => Some(DEPLOY),
        "pull" => Some(INSTALL),
        _ => None,
    }
}

fn deploy_tool(prog: &str, rest: &[&str]) -> Option<&'static str> {
    let sub = first_operand(rest);
    match (prog, sub) {
        ("ansible-playbook" | "ansible" | "kamal" | "cap", _) => Some(DEPLOY),
        ("vercel" | "netlify", None | Some("deploy" | "--prod")) => Some(DEPLOY),
        ("vercel" | "netlify" | "wrangler" | "serverless" | "sls", Some("dev" | "offline")) => {
            Some(RUN)
        }
        ("cdk", Some("synth")) => Some(BUILD),
        ("skaffold", Some("dev")) => Some(RUN),
        ("skaffold", Some("build")) => Some(BUILD),
        ("skaffold", Some("run" | "deploy" | "apply")) => Some(DEPLOY),
        ("pulumi", Some("up" | "destroy" | "preview" | "refresh" | "update")) => Some(DEPLOY),
        ("twine", Some("upload")) => Some(DEPLOY),
        ("twine", Some("check")) => Some(LINT),
        ("argocd", _) if rest.contains(&"sync") => Some(DEPLOY),
        // `gcloud run deploy`, `aws cloudformation deploy`, `eb deploy`, `fly deploy`, …
        _ if rest
            .iter()
            .any(|w| matches!(*w, "deploy" | "publish" | "destroy" | "create-deployment")) =>
        {
            Some(DEPLOY)
        }
        _ => None,
    }
}

fn package_manager(prog: &str, rest: &[&str]) -> Option<&'static str> {
    if prog == "pacman" {
        return rest
            .iter()
            .any(|w| w.starts_with("-S") || w.starts_with("-U") || w.starts_with("-R"))
            .then_some(INSTALL);
    }
    if prog == "pip-sync" {
        return Some(INSTALL);
    }
    match first_operand(rest)? {
        "install" | "add" | "update" | "upgrade" | "dist-upgrade" | "full-upgrade" | "remove"
        | "purge" | "autoremove" | "uninstall" | "require" | "reinstall" | "bundle" | "sync"
        | "-i" | "--install" => Some(INSTALL),
        "build" if prog == "gem" => Some(BUILD),
        "push" if prog == "gem" => Some(DEPLOY),
        "test" if prog == "composer" => Some(TEST),
        "run-script" | "run" if prog == "composer" => {
            script_name(first_operand(after_operand(rest))?)
        }
        _ => None,
    }
}

fn server_tool(prog: &str, rest: &[&str]) -> Option<&'static str> {
    let sub = first_operand(rest);
    match (prog, sub) {
        ("rails", Some("test" | "spec")) => Some(TEST),
        ("rails", Some("server" | "s")) => Some(RUN),
        ("rails", Some("assets:precompile")) => Some(BUILD),
        ("rails", _) => None,
        ("django-admin", Some("test")) => Some(TEST),
        ("django-admin", Some("runserver")) => Some(RUN),
        ("django-admin", _) => None,
        ("php", _) if rest.contains(&"-S") => Some(RUN),
        ("php", Some(script)) => {
            let args = after_operand(rest);
            match (program_name(script).as_str(), first_operand(args)) {
                ("artisan", Some("test")) => Some(TEST),
                ("artisan", Some("serve")) => Some(RUN),
                ("phpunit" | "pest", _) => Some(TEST),
                ("composer" | "composer.phar", _) => package_manager("composer", args),
                (name, _) => script_name(name),
            }
        }
        ("php", None) => None,
        _ => Some(RUN),
    }
}

/// Load, memory and disk at the start of a run. `None` when the platform
/// does not say (non-Linux for load and memory, or an unreadable file system).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SystemContext {
    /// 1-minute load average (`/proc/loadavg`).
    pub load_avg_1m: Option<f64>,
    /// Memory available for new work, MiB (`MemAvailable` in `/proc/meminfo`).
    pub mem_available_mb: Option<f64>,
    /// Space available to unprivileged users on the working directory's
    /// file system, MiB (`statvfs`).
    pub disk_free_mb: Option<f64>,
}

/// Reads [`SystemContext`] for a run in `cwd`: two small `/proc` reads and
/// one `statvfs`. Never fails; missing data is `None`.
pub fn system_context(cwd: &Path) -> SystemContext {
    SystemContext {
        load_avg_1m: fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|text| parse_loadavg(&text)),
        mem_available_mb: fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| parse_mem_available_mb(&text)),
        disk_free_mb: disk_free_mb(cwd),
    }
}

const BYTES_PER_MIB: f64 = 1024.0 * 1024.0;

/// The first field of `/proc/loadavg` (`0.52 0.58 0.59 1/467 12345`).
fn parse_loadavg(text: &str) -> Option<f64> {
    text.split_whitespace()
        .next()?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
}

/// `MemAvailable:   12345678 kB` in `/proc/meminfo`, as MiB.
fn parse_mem_available_mb(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut fields = line.split_whitespace().skip(1);
    let value: f64 = fields.next()?.parse().ok()?;
    let scale = match fields.next() {
        Some("kB") | None => 1024.0,
        Some("mB" | "MB") => BYTES_PER_MIB,
        Some(_) => return None,
    };
    Some(value * scale / BYTES_PER_MIB)
}

fn disk_free_mb(cwd: &Path) -> Option<f64> {
    let stat = rustix::fs::statvfs(cwd).ok()?;
    let block = if stat.f_frsize != 0 {
        stat.f_frsize
    } else {
        stat.f_bsize
    };
    Some(stat.f_bavail as f64 * block as f64 / BYTES_PER_MIB)
}

/// The environment variables recorded with a run: ones that say where and
/// how it runs (CI system, app environment, terminal, unbuffering). Never
/// tokens, paths or anything user-named. Extend with care: every name here
/// ends up in telemetry.
pub const ENV_ALLOW_LIST: &[&str] = &[
    "CI",
    "CONTINUOUS_INTEGRATION",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "BUILDKITE",
    "CIRCLECI",
    "TRAVIS",
    "JENKINS_URL",
    "TF_BUILD",
    "TEAMCITY_VERSION",
    "DRONE",
    "APPVEYOR",
    "RUNNER_OS",
    "NODE_ENV",
    "RAILS_ENV",
    "RACK_ENV",
    "RUST_BACKTRACE",
    "RUST_LOG",
    "CARGO_TERM_COLOR",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "GOFLAGS",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "FORCE_COLOR",
    "CLICOLOR_FORCE",
    "LANG",
    "LC_ALL",
    "TZ",
];

/// Longest value recorded per variable, in bytes; longer values are cut.
pub const MAX_ENV_VALUE_BYTES: usize = 200;

/// The allow-listed environment variables that are set, as a JSON object
/// (`{"CI":"true","TERM":"xterm-256color"}`, keys sorted; `{}` when none).
pub fn relevant_env_vars() -> String {
    env_vars_json(|name| std::env::var(name).ok())
}

fn env_vars_json(lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut map = serde_json::Map::new();
    for name in ENV_ALLOW_LIST {
        if let Some(value) = lookup(name) {
            let value = if name.ends_with("_URL") {
                strip_url_credentials(&value)
            } else {
                value
            };
            map.insert(
                name.to_string(),
                truncate(value, MAX_ENV_VALUE_BYTES).into(),
            );
        }
    }
    serde_json::Value::Object(map).to_string()
}

/// `https://user:token@host/` → `https://host/`.
fn strip_url_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

fn truncate(mut value: String, max: usize) -> String {
    if value.len() > max {
        let mut end = max;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn touch(dir: &Path, name: &str) {
        fs::write(dir.join(name), "").unwrap();
    }

    #[test]
    fn each_marker_gives_its_project_type() {
        let cases = [
            ("Cargo.toml", "rust"),
            ("package.json", "nodejs"),
            ("pyproject.toml", "python"),
            ("setup.py", "python"),
            ("requirements.txt", "python"),
            ("go.mod", "go"),
            ("pom.xml", "java"),
            ("build.gradle", "java"),
            ("build.gradle.kts", "java"),
            ("main.tf", "terraform"),
            ("Gemfile", "ruby"),
            ("composer.json", "php"),
            ("CMakeLists.txt", "cmake"),
            ("Makefile", "make"),
        ];
        for (marker, expected) in cases {
            let dir = tempfile::tempdir().unwrap();
            fs::create_dir(dir.path().join(".git")).unwrap();
            touch(dir.path(), marker);
            assert_eq!(detect_project_type(dir.path()), expected, "{marker}");
        }
    }

    #[test]
    fn priority_decides_between_markers_in_one_directory() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(".git")).unwrap();
        for marker in ["Makefile", "package.json", "Cargo.toml"] {
            touch(dir.path(), marker);
        }
        assert_eq!(detect_project_type(dir.path()), "rust");
    }

    #[test]
    fn markers_are_found_in_parents_and_the_nearest_wins() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let deep = repo.join("services/api/src");
        fs::create_dir_all(&deep).unwrap();
        fs::create_dir(repo.join(".git")).unwrap();
        touch(&repo, "Makefile");
        assert_eq!(detect_project_type(&deep), "make");
        touch(&repo.join("services/api"), "go.mod");
        assert_eq!(detect_project_type(&deep), "go");
    }

    #[test]
    fn search_stops_at_the_repository_root() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "Cargo.toml");
        let repo = dir.path().join("repo");
        fs::create_dir_all(repo.join(".git")).unwrap();
        assert_eq!(detect_project_type(&repo), UNKNOWN);
        // Without a repository root, a parent's marker counts.
        fs::remove_dir(repo.join(".git")).unwrap();
        assert_eq!(detect_project_type(&repo), "rust");
    }

    #[test]
    fn search_stops_after_max_levels() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "package.json");
        let mut deep = dir.path().to_path_buf();
        for level in 0..MAX_PROJECT_LEVELS {
            deep.push(format!("d{level}"));
        }
        fs::create_dir_all(&deep).unwrap();
        assert_eq!(detect_project_type(&deep), UNKNOWN);
        assert_eq!(detect_project_type(deep.parent().unwrap()), "nodejs");
    }

    #[test]
    fn a_directory_that_cannot_be_listed_is_unknown() {
        assert_eq!(
            detect_project_type(Path::new("/nonexistent/earlyexit/x")),
            UNKNOWN
        );
    }

    fn category(command: &str) -> &'static str {
        let argv: Vec<String> = split_shell(command).concat();
        detect_command_category(&argv)
    }

    fn category_argv(argv: &[&str]) -> &'static str {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        detect_command_category(&argv)
    }

    #[test]
    fn test_commands() {
        for command in [
            "cargo test",
            "cargo +nightly test --workspace",
            "cargo nextest run",
            "pytest -x tests/",
            "py.test",
            "python -m pytest -q",
            "python3.12 -m unittest discover",
            "npm test",
            "npm run test:unit",
            "yarn test",
            "pnpm run e2e",
            "bun test",
            "go test ./...",
            "jest --ci",
            "./node_modules/.bin/jest",
            "npx vitest run",
            "mvn test",
            "mvn clean verify",
            "./mvnw -B test",
            "./gradlew :app:test",
            "make test",
            "make -j4 check",
            "tox -e py312",
            "nox",
            "rspec spec/models",
            "bundle exec rspec",
            "dotnet test",
            "bazel test //...",
            "ctest --output-on-failure",
            "deno test",
            "node --test",
            "python manage.py test",
            "php artisan test",
            "vendor/bin/phpunit",
            "./run_tests.sh",
            "bash scripts/test.sh",
            "mix test",
            "swift test",
            "just test",
            "uv run pytest",
            "poetry run pytest -k slow",
            "hatch test",
            "helm test release",
            "terraform test",
        ] {
            assert_eq!(category(command), "test", "{command}");
        }
    }

    #[test]
    fn build_commands() {
        for command in [
            "cargo build --release",
            "cargo check",
            "make",
            "make -C src all",
            "npm run build",
            "yarn build",
            "pnpm build",
            "gcc -O2 -o app main.c",
            "clang-17 main.c",
            "g++ x.cc",
            "mvn package",
            "mvn clean install",
            "gradle build",
            "go build ./cmd/app",
            "docker build -t app .",
            "docker buildx build .",
            "docker compose build",
            "podman build .",
            "cmake --build build",
            "ninja -C out",
            "tsc -p .",
            "webpack --mode production",
            "vite build",
            "next build",
            "dotnet build",
            "bazel build //app",
            "python -m build",
            "python setup.py sdist",
            "uv build",
            "bun build ./index.ts",
        ] {
            assert_eq!(category(command), "build", "{command}");
        }
    }

    #[test]
    fn lint_commands() {
        for command in [
            "cargo clippy --all-targets -- -D warnings",
            "cargo fmt --check",
            "eslint .",
            "ruff check .",
            "flake8",
            "mypy src",
            "pylint pkg",
            "black --check .",
            "npm run lint",
            "yarn lint:fix",
            "npx eslint src",
            "golangci-lint run",
            "go vet ./...",
            "shellcheck *.sh",
            "rubocop",
            "terraform validate",
            "terraform fmt -check",
            "pre-commit run --all-files",
            "python -m mypy .",
            "helm lint chart",
            "uv run ruff check",
        ] {
            assert_eq!(category(command), "lint", "{command}");
        }
    }

    #[test]
    fn deploy_commands() {
        for command in [
            "terraform apply -auto-approve",
            "terraform plan",
            "tofu destroy",
            "kubectl apply -f k8s/",
            "kubectl rollout restart deploy/api",
            "helm upgrade --install api ./chart",
            "ansible-playbook -i hosts site.yml",
            "pulumi up --yes",
            "gcloud run deploy api --source .",
            "aws cloudformation deploy --template-file t.yml",
            "fly deploy",
            "vercel --prod",
            "npm publish",
            "cargo publish",
            "docker push registry/app:1",
            "twine upload dist/*",
            "make deploy",
            "mvn deploy",
        ] {
            assert_eq!(category(command), "deploy", "{command}");
        }
    }

    #[test]
    fn install_commands() {
        for command in [
            "npm install",
            "npm ci",
            "yarn",
            "yarn add lodash",
            "pnpm i",
            "pip install -r requirements.txt",
            "pip3 install .",
            "python -m pip install -U pip",
            "uv pip install requests",
            "uv sync",
            "poetry install",
            "apt-get install -y curl",
            "apt-get update",
            "sudo apt install git",
            "brew install jq",
            "apk add --no-cache bash",
            "gem install bundler",
            "bundle install",
            "cargo install ripgrep",
            "go mod download",
            "composer install",
            "terraform init",
            "make install",
        ] {
            assert_eq!(category(command), "install", "{command}");
        }
    }

    #[test]
    fn run_commands() {
        for command in [
            "cargo run --bin server",
            "go run .",
            "npm start",
            "npm run dev",
            "yarn dev",
            "python app.py",
            "python -m http.server 8000",
            "python manage.py runserver",
            "node server.js",
            "uvicorn app:app --reload",
            "gunicorn app:app",
            "flask run",
            "rails server",
            "docker run --rm -it ubuntu",
            "docker compose up",
            "java -jar app.jar",
            "deno run main.ts",
            "vite",
            "next dev",
            "dotnet run",
        ] {
            assert_eq!(category(command), "run", "{command}");
        }
    }

    #[test]
    fn wrappers_are_looked_through() {
        assert_eq!(category_argv(&["sh", "-c", "cargo test"]), "test");
        assert_eq!(
            category_argv(&["bash", "-lc", "cd api && npm ci && npm test"]),
            "test"
        );
        assert_eq!(
            category_argv(&[
                "bash",
                "-euo",
                "pipefail",
                "-c",
                "make build 2>&1 | tee log"
            ]),
            "build"
        );
        assert_eq!(
            category_argv(&["/bin/sh", "-c", "pip install -r r.txt; pytest -q"]),
            "test"
        );
        assert_eq!(category_argv(&["sh", "-c", "npm ci"]), "install");
        assert_eq!(
            category_argv(&["sh", "-c", "exec \"cargo\" 'build'"]),
            "build"
        );
        assert_eq!(
            category_argv(&["env", "RUST_BACKTRACE=1", "cargo", "test"]),
            "test"
        );
        assert_eq!(
            category_argv(&["env", "-u", "CI", "X=1", "npm", "test"]),
            "test"
        );
        assert_eq!(category_argv(&["CI=1", "pytest"]), "test");
        assert_eq!(category_argv(&["time", "cargo", "build"]), "build");
        assert_eq!(category_argv(&["/usr/bin/time", "-v", "make"]), "build");
        assert_eq!(
            category_argv(&["nice", "-n", "10", "cargo", "bench"]),
            "test"
        );
        assert_eq!(
            category_argv(&["timeout", "-k", "5", "10m", "go", "test", "./..."]),
            "test"
        );
        assert_eq!(
            category_argv(&["sudo", "-u", "app", "kubectl", "apply", "-f", "x.yml"]),
            "deploy"
        );
        assert_eq!(category_argv(&["npx", "--yes", "jest"]), "test");
        assert_eq!(
            category_argv(&["uv", "run", "--with", "pytest", "pytest"]),
            "test"
        );
        assert_eq!(
            category_argv(&["poetry", "run", "python", "-m", "pytest"]),
            "test"
        );
        assert_eq!(category_argv(&["pipenv", "run", "flake8"]), "lint");
        assert_eq!(
            category_argv(&["conda", "run", "-n", "env", "pytest"]),
            "test"
        );
        assert_eq!(category_argv(&["nix-shell", "--run", "cargo test"]), "test");
        assert_eq!(category_argv(&["stdbuf", "-oL", "cargo", "test"]), "test");
        assert_eq!(
            category_argv(&["xvfb-run", "-a", "npx", "cypress", "run"]),
            "test"
        );
        assert_eq!(
            category_argv(&["exec", "-a", "name", "make", "lint"]),
            "lint"
        );
        assert_eq!(
            category_argv(&["./node_modules/.bin/eslint", "src"]),
            "lint"
        );
    }

    #[test]
    fn unknown_commands() {
        for argv in [
            &[][..],
            &["ls", "-la"][..],
            &["echo", "hello"][..],
            &["sh", "-c", "echo hi && sleep 1"][..],
            &["kubectl", "get", "pods"][..],
            &["cargo", "metadata"][..],
            &["env"][..],
            &["sh"][..],
            &["X=1"][..],
            &["git", "status"][..],
        ] {
            assert_eq!(category_argv(argv), UNKNOWN, "{argv:?}");
        }
    }

    #[test]
    fn deeply_nested_wrappers_stop_at_the_limit() {
        let mut argv = vec!["env"; 100];
        argv.push("cargo");
        argv.push("test");
        assert_eq!(category_argv(&argv), UNKNOWN);
        assert_eq!(category_argv(&["env", "env", "cargo", "test"]), "test");
    }

    #[test]
    fn program_names_are_normalised() {
        assert_eq!(program_name("/usr/bin/python3.11"), "python");
        assert_eq!(program_name("pip3"), "pip");
        assert_eq!(program_name("clang-17"), "clang");
        assert_eq!(program_name("C:\\tools\\npm.cmd"), "npm");
        assert_eq!(program_name("golangci-lint"), "golangci-lint");
    }

    #[test]
    fn shell_splitting_honours_quotes_and_separators() {
        assert_eq!(
            split_shell("cd 'a b' && FOO=\"x y\" make test | tee out; echo \\; # done"),
            vec![
                vec!["cd", "a b"],
                vec!["FOO=x y", "make", "test"],
                vec!["tee", "out"],
                vec!["echo", ";"],
            ]
        );
    }

    #[test]
    fn proc_files_are_parsed() {
        assert_eq!(parse_loadavg("0.52 0.58 0.59 1/467 12345\n"), Some(0.52));
        assert_eq!(parse_loadavg(""), None);
        assert_eq!(parse_loadavg("nan 1 1"), None);
        let meminfo =
            "MemTotal:       16384000 kB\nMemFree:  100 kB\nMemAvailable:    2097152 kB\n";
        assert_eq!(parse_mem_available_mb(meminfo), Some(2048.0));
        assert_eq!(parse_mem_available_mb("MemTotal: 1 kB\n"), None);
        assert_eq!(parse_mem_available_mb("MemAvailable: lots kB\n"), None);
    }

    #[test]
    fn system_context_reports_disk_and_never_fails() {
        let dir = tempfile::tempdir().unwrap();
        let context = system_context(dir.path());
        assert!(context.disk_free_mb.is_some_and(|mb| mb >= 0.0));
        if Path::new("/proc/loadavg").exists() {
            assert!(context.load_avg_1m.is_some());
            assert!(context.mem_available_mb.is_some_and(|mb| mb > 0.0));
        }
        let missing = system_context(Path::new("/nonexistent/earlyexit"));
        assert_eq!(missing.disk_free_mb, None);
    }

    #[test]
    fn only_allow_listed_variables_are_recorded() {
        let env: HashMap<&str, &str> = [
            ("CI", "true"),
            ("NODE_ENV", "test"),
            ("AWS_SECRET_ACCESS_KEY", "hunter2"),
            ("GITHUB_TOKEN", "ghp_x"),
            ("HOME", "/home/u"),
            ("JENKINS_URL", "https://bob:s3cret@ci.example.com/jenkins/"),
        ]
        .into_iter()
        .collect();
        let json = env_vars_json(|name| env.get(name).map(|v| v.to_string()));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "CI": "true",
                "NODE_ENV": "test",
                "JENKINS_URL": "https://ci.example.com/jenkins/",
            })
        );
        assert!(!json.contains("hunter2") && !json.contains("s3cret"));
        assert_eq!(env_vars_json(|_| None), "{}");
    }

    #[test]
    fn long_values_are_cut_on_a_character_boundary() {
        let long = "é".repeat(300);
        let json = env_vars_json(|name| (name == "TERM").then(|| long.clone()));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let term = value["TERM"].as_str().unwrap();
        assert!(term.len() <= MAX_ENV_VALUE_BYTES && term.len() >= MAX_ENV_VALUE_BYTES - 1);
    }

    #[test]
    fn allow_list_holds_no_secret_looking_names() {
        for name in ENV_ALLOW_LIST {
            for bad in ["TOKEN", "SECRET", "PASSWORD", "KEY", "AUTH", "CREDENTIAL"] {
                assert!(!name.contains(bad), "{name}");
            }
        }
    }
}

/// Everything about where a run happens, gathered once per run.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The working directory.
    pub cwd: std::path::PathBuf,
    /// [`detect_project_type`].
    pub project_type: &'static str,
    /// [`detect_command_category`].
    pub command_category: &'static str,
    /// [`system_context`].
    pub system: SystemContext,
    /// [`relevant_env_vars`].
    pub environment_vars: String,
}

impl RunContext {
    /// Gathers the context of running `argv` in the current directory.
    pub fn gather(argv: &[String]) -> RunContext {
        let cwd = std::env::current_dir().unwrap_or_default();
        RunContext {
            project_type: detect_project_type(&cwd),
            command_category: detect_command_category(argv),
            system: system_context(&cwd),
            environment_vars: relevant_env_vars(),
            cwd,
        }
    }
}

#[cfg(test)]
mod closed_set_tests {
    use super::*;

    #[test]
    fn every_marker_type_is_listed_in_project_types() {
        for (_, kind) in PROJECT_MARKERS {
            assert!(
                PROJECT_TYPES.contains(kind),
                "{kind} missing from PROJECT_TYPES"
            );
        }
    }
}
