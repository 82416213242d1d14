//! Command shapes: which tool a command line runs, looking through wrappers.
//!
//! Owns turning a command's words into the canonical words that entry shapes
//! (`cargo test`, `python -m pytest`, `npx jest`) are compared with. Must
//! never run, resolve or read anything: it looks at the words only.
//!
//! Canonical words are the program's base name (directories, `.exe` and
//! version suffixes removed: `/usr/bin/python3.12` → `python`, `./gradlew`
//! → `gradle`, `g++-12` → `g++`) followed by the arguments that are not
//! options. Wrappers are removed first: environment assignments, `env`,
//! `sudo`, `time`, `nice`, `nohup`, `timeout`, `stdbuf`, `xvfb-run`,
//! `npx`/`bunx`/`pnpx`, `npm|pnpm|yarn exec`, `poetry|uv|pipenv|pdm|hatch
//! run`, `uvx`, `pipx run`, `bundle exec`, and `python -m MODULE` (which
//! becomes `MODULE`). `sh -c 'a && b'` is split into its simple commands.
//! A shape matches when its canonical words are a prefix of a command's.

/// Programs whose output can come from any tool: every entry applies.
const RUNS_ANYTHING: &[&str] = &[
    "make",
    "just",
    "task",
    "bash",
    "sh",
    "zsh",
    "dash",
    "ksh",
    "fish",
    "tox",
    "nox",
    "earthly",
    "act",
    "nix",
    "nix-shell",
    "bazel",
    "bazelisk",
    "buck2",
    "pants",
    "rake",
    "invoke",
];

/// Shell built-ins and file tools that print nothing a pattern is for; they
/// are left out when deciding which tools a `sh -c` line runs.
const NEUTRAL: &[&str] = &[
    "cd", "pushd", "popd", "export", "set", "unset", "source", ".", "echo", "printf", "true",
    "false", "mkdir", "rm", "cp", "mv", "ls", "cat", "touch", "chmod", "test", "[",
];

/// A command's canonical words, one list per simple command (`sh -c 'a &&
/// b'` has two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandWords {
    segments: Vec<Vec<String>>,
}

impl CommandWords {
    /// Parses a command given as its words.
    pub fn parse<S: AsRef<str>>(argv: &[S]) -> CommandWords {
        let words: Vec<&str> = argv.iter().map(|s| s.as_ref()).collect();
        let mut segments = Vec::new();
        canonical_into(&words, &mut segments, 0);
        CommandWords { segments }
    }

    /// The canonical words of each simple command.
    pub fn segments(&self) -> &[Vec<String>] {
        &self.segments
    }

    /// The programs of the simple commands, shell built-ins and file tools
    /// (`cd`, `echo`, `mkdir`, …) left out.
    pub fn programs(&self) -> impl Iterator<Item = &str> {
        self.segments
            .iter()
            .map(|s| s[0].as_str())
            .filter(|p| !NEUTRAL.contains(p))
    }

    /// True when some simple command may run any tool — a shell script, a
    /// task runner, or a program `known` says the library has no entries
    /// for — or there is no command at all.
    pub fn runs_anything(&self, known: impl Fn(&str) -> bool) -> bool {
        let mut programs = self.programs().peekable();
        programs.peek().is_none()
            || programs.any(|p| {
                RUNS_ANYTHING.contains(&p)
                    || p.ends_with(".sh")
                    || p.ends_with(".bash")
                    || !known(p)
            })
    }

    /// The program a shape names, canonical (`"python -m pytest"` →
    /// `pytest`, `"./gradlew"` → `gradle`).
    pub fn shape_program(shape: &str) -> Option<String> {
        let words: Vec<&str> = shape.split_whitespace().collect();
        let mut canon = Vec::new();
        canonical_into(&words, &mut canon, 0);
        canon.into_iter().next().map(|mut s| s.swap_remove(0))
    }

    /// True when `shape` (e.g. `"cargo test"`, `"python -m pytest"`)
    /// describes one of the simple commands.
    pub fn matches_shape(&self, shape: &str) -> bool {
        let shape_words: Vec<&str> = shape.split_whitespace().collect();
        let mut canon = Vec::new();
        canonical_into(&shape_words, &mut canon, 0);
        let Some(shape) = canon.first() else {
            return false;
        };
        self.segments
            .iter()
            .any(|s| s.len() >= shape.len() && s[..shape.len()] == shape[..])
    }
}

/// Separators of simple commands inside `sh -c`.
fn is_separator(w: &str) -> bool {
    matches!(w, "&&" | "||" | ";" | "|" | "&")
}

/// Splits `words` on shell separators and appends each part's canonical
/// words. `depth` bounds `sh -c` nesting.
fn canonical_into(words: &[&str], out: &mut Vec<Vec<String>>, depth: usize) {
    for part in words.split(|w| is_separator(w)) {
        if let Some(seg) = canonical(part, out, depth) {
            out.push(seg);
        }
    }
}

/// The canonical words of one simple command, or `None` when it was a
/// `sh -c` whose inner commands were appended to `out` instead.
fn canonical(words: &[&str], out: &mut Vec<Vec<String>>, depth: usize) -> Option<Vec<String>> {
    let mut rest = strip_wrappers(words);
    let first = *rest.first()?;
    let mut program = base_name(first);
    rest = &rest[1..];
    let is_shell = matches!(program.as_str(), "sh" | "bash" | "zsh" | "dash");
    let script = rest
        .iter()
        .position(|w| matches!(*w, "-c" | "-lc" | "-ec"))
        .and_then(|i| rest.get(i + 1));
    if let Some(script) = script.filter(|_| is_shell && depth < 4) {
        // Split on blanks, with separators set apart from the words they touch.
        let spaced = script
            .replace(';', " ; ")
            .replace("&&", " && ")
            .replace("||", " || ");
        let inner: Vec<&str> = spaced.split_whitespace().collect();
        canonical_into(&inner, out, depth + 1);
        return None;
    }
    let module = rest
        .iter()
        .position(|w| *w == "-m")
        .filter(|_| program == "python");
    if let Some((i, m)) = module.and_then(|i| rest.get(i + 1).map(|m| (i, m))) {
        program = base_name(m);
        rest = &rest[i + 2..];
    }
    let mut seg = vec![program];
    seg.extend(
        rest.iter()
            .filter(|w| !w.starts_with('-') && !w.starts_with('+'))
            .map(|w| w.to_string()),
    );
    Some(seg)
}

/// Removes leading environment assignments and wrapper programs.
fn strip_wrappers<'a, 'b>(mut w: &'b [&'a str]) -> &'b [&'a str] {
    loop {
        let Some(first) = w.first() else { return w };
        let name = base_name(first);
        let skip_opts = |w: &'b [&'a str], from: usize| {
            let mut i = from;
            while i < w.len() && w[i].starts_with('-') {
                i += 1;
            }
            i
        };
        let next = if is_assignment(first) {
            1
        } else {
            match name.as_str() {
                "env" => {
                    let mut i = skip_opts(w, 1);
                    while i < w.len() && is_assignment(w[i]) {
                        i += 1;
                    }
                    i
                }
                "sudo" | "time" | "nice" | "nohup" | "stdbuf" | "xvfb-run" | "command" | "exec"
                | "npx" | "bunx" | "pnpx" | "uvx" | "ionice" | "chronic" => skip_opts(w, 1),
                "timeout" => {
                    // Options, some with a value (-s SIG, -k DUR), then the duration.
                    let mut i = 1;
                    while i < w.len() && w[i].starts_with('-') {
                        i += if matches!(w[i], "-s" | "-k" | "--signal" | "--kill-after") {
                            2
                        } else {
                            1
                        };
                    }
                    (i + 1).min(w.len())
                }
                "npm" | "pnpm" | "yarn" | "bundle" if w.get(1) == Some(&"exec") => 2,
                "poetry" | "uv" | "pipenv" | "pdm" | "hatch" | "pipx" | "rye"
                    if w.get(1) == Some(&"run") =>
                {
                    skip_opts(w, 2)
                }
                _ => return w,
            }
        };
        w = &w[next..];
    }
}

/// `NAME=value` at the start of a command.
fn is_assignment(w: &str) -> bool {
    match w.split_once('=') {
        Some((k, _)) => {
            !k.is_empty()
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !k.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

/// A program's canonical name: base name without `.exe`-like suffixes and
/// version numbers, with a few aliases (`gradlew` → `gradle`, `mvnw` →
/// `mvn`, `tofu` → `terraform`, `gmake` → `make`, `pip3` → `pip`).
fn base_name(path: &str) -> String {
    let base = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let lower = base.to_ascii_lowercase();
    let mut name = lower.as_str();
    for ext in [".exe", ".cmd", ".bat"] {
        if let Some(s) = name.strip_suffix(ext) {
            name = s;
        }
    }
    // python3.12, pip3, gcc-12, clang-17, g++-13
    let trimmed = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let trimmed = trimmed.strip_suffix('-').unwrap_or(trimmed);
    let name = if trimmed.is_empty() { name } else { trimmed };
    match name {
        "gradlew" => "gradle",
        "mvnw" => "mvn",
        "tofu" => "terraform",
        "gmake" => "make",
        "podman" => "docker",
        "cargo-nextest" => "cargo",
        n => n,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(argv: &[&str]) -> Vec<Vec<String>> {
        CommandWords::parse(argv).segments().to_vec()
    }

    #[test]
    fn program_names_are_canonical() {
        assert_eq!(base_name("/usr/bin/python3.12"), "python");
        assert_eq!(base_name("./gradlew"), "gradle");
        assert_eq!(base_name("g++-12"), "g++");
        assert_eq!(base_name("clang-17"), "clang");
        assert_eq!(base_name("pip3"), "pip");
        assert_eq!(base_name("C:\\tools\\cargo.exe"), "cargo");
        assert_eq!(base_name("go"), "go");
    }

    #[test]
    fn wrappers_and_options_are_looked_through() {
        assert_eq!(
            segs(&["cargo", "+nightly", "-q", "test", "--lib"]),
            [["cargo", "test"]]
        );
        assert_eq!(
            segs(&["RUST_LOG=1", "sudo", "-E", "cargo", "test"]),
            [["cargo", "test"]]
        );
        assert_eq!(
            segs(&["timeout", "-s", "KILL", "5m", "go", "test"]),
            [["go", "test"]]
        );
        assert_eq!(
            segs(&["python3", "-u", "-m", "pytest", "-x", "t"]),
            [["pytest", "t"]]
        );
        assert_eq!(segs(&["npx", "--yes", "jest"]), [["jest"]]);
        assert_eq!(segs(&["yarn", "exec", "jest"]), [["jest"]]);
        assert_eq!(
            segs(&["bash", "-c", "cd x && cargo build; npm test"]),
            [vec!["cd", "x"], vec!["cargo", "build"], vec!["npm", "test"]]
        );
    }

    #[test]
    fn shapes_match_as_a_prefix_of_the_canonical_words() {
        let w = CommandWords::parse(&["python", "-m", "pytest", "-q"]);
        assert!(w.matches_shape("pytest"));
        assert!(w.matches_shape("python -m pytest"));
        assert!(!w.matches_shape("python"));
        let w = CommandWords::parse(&["cargo", "build"]);
        assert!(w.matches_shape("cargo"));
        assert!(!w.matches_shape("cargo test"));
        let known = |p: &str| p == "cargo";
        assert!(!w.runs_anything(known));
        assert!(CommandWords::parse(&["go", "test"]).runs_anything(known));
        assert!(CommandWords::parse(&["./run-tests.sh"]).runs_anything(|_| true));
        assert!(CommandWords::parse(&["make", "test"]).runs_anything(|_| true));
        assert!(CommandWords::parse::<&str>(&[]).runs_anything(known));
        assert!(!CommandWords::parse(&["sh", "-c", "cd x && cargo test"]).runs_anything(known));
        assert_eq!(
            CommandWords::shape_program("python -m pytest").as_deref(),
            Some("pytest")
        );
        assert_eq!(
            CommandWords::shape_program("./gradlew build").as_deref(),
            Some("gradle")
        );
    }
}
