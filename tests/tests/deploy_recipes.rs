//! The recipes in `deploy/` cannot rot: every systemd unit, container file,
//! Kubernetes manifest, compose file and CI example is parsed, and
//!
//! - every invocation of `earlyexit`, `earlyexit-collector` or
//!   `earlyexit-aggregator` in it is parsed by that binary's own clap
//!   definition (a run of `earlyexit` is also planned, so its pattern must
//!   compile);
//! - every agent `config.yaml` (files, ConfigMaps, heredocs in CI scripts)
//!   is loaded by the agent's config loader, every collector config by the
//!   collector's;
//! - every `EARLYEXIT_*` variable it sets is one the code reads;
//! - units are hardened, timers name a unit that exists, images run as a
//!   non-root user, kustomize resources and compose build files exist.
//!
//! What the recipes reference but this version lacks is listed in
//! [`PENDING`], printed by every run, and an entry that has since landed
//! fails the test (remove it). A file in `deploy/` of no known kind fails
//! too, so nothing there goes unchecked.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

/// Something a recipe uses that the binaries do not have yet.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// The binary (basename).
    binary: &'static str,
    /// What is missing.
    what: Missing,
    /// Why it is allowed for now.
    why: &'static str,
}

#[derive(Debug, Clone, Copy)]
enum Missing {
    /// A flag taking one value, e.g. `--http-listen ADDR`.
    Flag(&'static str),
    /// A whole subcommand (its flags are unchecked).
    Subcommand(&'static str),
}

/// What `deploy/` references before it exists. Printed by every run.
const PENDING: &[Pending] = &[
    Pending {
        binary: "earlyexit-aggregator",
        what: Missing::Subcommand("once"),
        why: "the aggregator's fleet service (one learning cycle against the collector)",
    },
    Pending {
        binary: "earlyexit-aggregator",
        what: Missing::Subcommand("run"),
        why: "the aggregator's fleet service (learning cycles until stopped)",
    },
];

const BINARIES: &[&str] = &[
    "earlyexit",
    "ee",
    "earlyexit-collector",
    "earlyexit-aggregator",
];

/// What a check found.
#[derive(Debug, Default)]
struct Findings {
    errors: Vec<String>,
    allowed: BTreeSet<String>,
    invocations: usize,
    configs: usize,
}

impl Findings {
    fn error(&mut self, place: &str, message: impl std::fmt::Display) {
        self.errors.push(format!("{place}: {message}"));
    }
}

/// The repository root (this crate is `tests/`).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

// ---------------------------------------------------------------- binaries

/// Parses `argv` (argv[0] a path or name of one of [`BINARIES`]) with the
/// binary's own definition.
fn check_invocation(argv: &[String], place: &str, pending: &[Pending], found: &mut Findings) {
    found.invocations += 1;
    let bin = basename(&argv[0]);
    for p in pending.iter().filter(|p| p.binary == bin) {
        if let Missing::Subcommand(name) = p.what
            && argv.get(1).map(String::as_str) == Some(name)
        {
            if command_of(bin).find_subcommand(name).is_some() {
                found.error(
                    place,
                    format!("`{bin} {name}` exists now: remove it from PENDING in tests/tests/deploy_recipes.rs"),
                );
            } else {
                found
                    .allowed
                    .insert(format!("{bin} {name} (subcommand): {}", p.why));
            }
            return;
        }
    }
    let result = parse(bin, argv);
    let flags: Vec<&Pending> = pending
        .iter()
        .filter(|p| {
            p.binary == bin
                && matches!(p.what, Missing::Flag(f) if argv.iter().any(|a| is_flag(a, f)))
        })
        .collect();
    match result {
        Ok(()) => {
            for p in flags {
                let Missing::Flag(flag) = p.what else {
                    continue;
                };
                found.error(
                    place,
                    format!("`{bin} {flag}` exists now: remove it from PENDING in tests/tests/deploy_recipes.rs"),
                );
            }
        }
        Err(_) if !flags.is_empty() => {
            let mut stripped = argv.to_vec();
            for p in &flags {
                let Missing::Flag(flag) = p.what else {
                    continue;
                };
                stripped = strip_flag(&stripped, flag);
            }
            match parse(bin, &stripped) {
                Ok(()) => {
                    for p in flags {
                        let Missing::Flag(flag) = p.what else {
                            continue;
                        };
                        found
                            .allowed
                            .insert(format!("{bin} {flag} (flag): {}", p.why));
                    }
                }
                Err(e) => found.error(place, format!("`{}`: {e}", argv.join(" "))),
            }
        }
        Err(e) => found.error(place, format!("`{}`: {e}", argv.join(" "))),
    }
}

fn is_flag(arg: &str, flag: &str) -> bool {
    arg == flag || arg.strip_prefix(flag).is_some_and(|r| r.starts_with('='))
}

/// `argv` without `flag` and its value.
fn strip_flag(argv: &[String], flag: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for arg in argv {
        if skip {
            skip = false;
        } else if arg == flag {
            skip = true;
        } else if !is_flag(arg, flag) {
            out.push(arg.clone());
        }
    }
    out
}

fn command_of(bin: &str) -> clap::Command {
    match bin {
        "earlyexit" | "ee" => earlyexit::cli::command(),
        "earlyexit-collector" => earlyexit_collector::cli::command(),
        "earlyexit-aggregator" => earlyexit_aggregator::cli::command(),
        other => panic!("not a binary of the project: {other}"),
    }
}

/// Parses like the binary does; for a run of `earlyexit`, plans it too.
fn parse(bin: &str, argv: &[String]) -> Result<(), String> {
    if bin == "earlyexit" || bin == "ee" {
        let first = argv.get(1).map(String::as_str).unwrap_or("");
        if earlyexit::cli::is_subcommand(first) {
            return clap_ok(earlyexit::cli::subcommand_command().try_get_matches_from(argv));
        }
        let rest: Vec<String> = if first == "run" {
            std::iter::once(argv[0].clone())
                .chain(argv[2..].iter().cloned())
                .collect()
        } else {
            argv.to_vec()
        };
        let args = earlyexit::cli::parse_run_args(rest).map_err(|e| e.render().to_string())?;
        // `earlyexit agnet --interval 10s` is a valid run (pattern `agnet`,
        // command `--interval`): a misspelt subcommand never fails to
        // parse, so a command that starts with '-' is refused here.
        if let Some(command) = args.command.first()
            && command.starts_with('-')
        {
            return Err(format!(
                "runs the command '{command}' (pattern {:?}): a misspelt subcommand or a flag after the pattern's command?",
                args.pattern.as_deref().unwrap_or("")
            ));
        }
        let home = tempfile::tempdir().map_err(|e| e.to_string())?;
        let config = earlyexit::config::Config::defaults(home.path());
        return earlyexit::cli::plan_from(args, &config)
            .map(drop)
            .map_err(|e| e.to_string());
    }
    clap_ok(command_of(bin).try_get_matches_from(argv))
}

fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// A name or path of one of [`BINARIES`] (not a URL ending in one).
fn is_binary(word: &str) -> bool {
    !word.contains("://") && BINARIES.contains(&basename(word))
}

/// A clap result, where printing help or the version counts as parsed.
fn clap_ok(result: Result<clap::ArgMatches, clap::Error>) -> Result<(), String> {
    use clap::error::ErrorKind;
    match result {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => Ok(()),
        Err(e) => Err(e.render().to_string()),
    }
}

// ----------------------------------------------------------------- configs

/// Loads `text` as an agent's `$EARLYEXIT_HOME/config.yaml`.
fn check_agent_config(text: &str, place: &str, found: &mut Findings) {
    found.configs += 1;
    let home = tempfile::tempdir().expect("temp dir");
    std::fs::write(home.path().join("config.yaml"), text).expect("write config");
    match earlyexit::config::Config::load_from(home.path(), home.path()) {
        Ok(loaded) => {
            if let Some(collector) = &loaded.config.collector
                && let Err(e) = collector.urls()
            {
                found.error(place, format!("agent config: collector: {e}"));
            }
        }
        Err(e) => found.error(place, format!("agent config: {e}")),
    }
}

/// Loads `text` as `earlyexit-collector serve --config FILE`.
fn check_collector_config(text: &str, place: &str, found: &mut Findings) {
    found.configs += 1;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("collector.yaml");
    std::fs::write(&path, text).expect("write config");
    if let Err(e) = earlyexit_collector::config::ServeConfig::from_file(&path) {
        found.error(place, format!("collector config: {e}"));
    }
}

/// Every `EARLYEXIT_*` name must be read by the code: appear as a string
/// literal in the sources of the agent, collector or aggregator.
fn check_env_name(name: &str, place: &str, found: &mut Findings) {
    if !name.starts_with("EARLYEXIT_") {
        return;
    }
    thread_local! {
        static SOURCES: String = {
            let mut all = String::new();
            for krate in ["agent", "collector", "aggregator"] {
                read_rs(&repo().join(krate).join("src"), &mut all);
            }
            all
        };
    }
    let known = SOURCES.with(|s| s.contains(&format!("\"{name}\"")));
    if !known {
        found.error(
            place,
            format!("environment variable {name} is read by no binary of the project"),
        );
    }
}

fn read_rs(dir: &Path, all: &mut String) {
    for entry in std::fs::read_dir(dir).expect("source folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            read_rs(&path, all);
        } else if path.extension().is_some_and(|e| e == "rs") {
            all.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
}

// ----------------------------------------------------------------- systemd

/// `[Section]` → `(key, value)` in order; continuation lines joined.
fn parse_ini(text: &str) -> Result<Vec<(String, String, String)>, String> {
    let mut entries = Vec::new();
    let mut section = None;
    let mut pending = String::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with(';'))
        {
            continue;
        }
        if let Some(body) = line.strip_suffix('\\') {
            pending.push_str(body);
            pending.push(' ');
            continue;
        }
        let line = format!("{pending}{line}");
        pending.clear();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.to_string());
            continue;
        }
        let Some(section) = &section else {
            return Err(format!("line {}: a key before any [Section]", n + 1));
        };
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: not KEY=VALUE: {line}", n + 1));
        };
        entries.push((
            section.clone(),
            key.trim().to_string(),
            value.trim().to_string(),
        ));
    }
    Ok(entries)
}

fn check_systemd(
    name: &str,
    text: &str,
    siblings: &[String],
    pending: &[Pending],
    found: &mut Findings,
) {
    let entries = match parse_ini(text) {
        Ok(entries) => entries,
        Err(e) => return found.error(name, e),
    };
    let get = |section: &str, key: &str| -> Vec<&str> {
        entries
            .iter()
            .filter(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.as_str())
            .collect()
    };
    if get("Unit", "Description").is_empty() {
        found.error(name, "[Unit] has no Description=");
    }
    if name.ends_with(".timer") {
        let units = get("Timer", "Unit");
        match units.as_slice() {
            [unit] if siblings.iter().any(|s| s == unit) => {}
            [unit] => found.error(name, format!("Unit={unit}: no such unit in deploy/systemd")),
            _ => found.error(name, "[Timer] needs one Unit="),
        }
        if get("Install", "WantedBy").is_empty() {
            found.error(name, "[Install] has no WantedBy=");
        }
        return;
    }
    for (key, want) in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict")] {
        if get("Service", key) != [want] {
            found.error(name, format!("[Service] needs {key}={want}"));
        }
    }
    if get("Service", "StateDirectory").is_empty() {
        found.error(name, "[Service] needs a StateDirectory=");
    }
    let dynamic = get("Service", "DynamicUser") == ["yes"];
    let user = get("Service", "User");
    if !dynamic && (user.is_empty() || user.iter().any(|u| *u == "root" || *u == "0")) {
        found.error(
            name,
            "[Service] runs as root: set DynamicUser=yes or User= a dedicated user",
        );
    }
    let file = basename(name);
    let timer_started = siblings.iter().any(|s| {
        s.ends_with(".timer") && s.trim_end_matches(".timer") == file.trim_end_matches(".service")
    });
    if !timer_started && get("Install", "WantedBy").is_empty() {
        found.error(name, "[Install] has no WantedBy= (and no timer starts it)");
    }
    for env in get("Service", "Environment") {
        for word in shell_words(env).unwrap_or_default() {
            if let Some((var, _)) = word.split_once('=') {
                check_env_name(var, name, found);
            }
        }
    }
    let exec = get("Service", "ExecStart");
    if exec.len() != 1 {
        found.error(name, "[Service] needs exactly one ExecStart=");
    }
    for line in exec {
        let argv = match shell_words(line.trim_start_matches(['-', '@', '+', '!', ':'])) {
            Ok(argv) if !argv.is_empty() => argv,
            _ => {
                found.error(name, format!("ExecStart= cannot be split: {line}"));
                continue;
            }
        };
        if !argv[0].starts_with('/') {
            found.error(
                name,
                format!("ExecStart= {}: needs an absolute path", argv[0]),
            );
        }
        if is_binary(&argv[0]) {
            check_invocation(&argv, &format!("{name} ExecStart"), pending, found);
        } else {
            found.error(
                name,
                format!("ExecStart= runs {}, not a binary of the project", argv[0]),
            );
        }
    }
}

// -------------------------------------------------------------- Dockerfile

fn check_dockerfile(name: &str, text: &str, pending: &[Pending], found: &mut Findings) {
    let mut lines = Vec::new();
    let mut joined = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if joined.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        if let Some(body) = line.strip_suffix('\\') {
            joined.push_str(body);
            joined.push(' ');
            continue;
        }
        joined.push_str(line);
        lines.push(std::mem::take(&mut joined));
    }
    let workspace = workspace_names();
    let mut stages: Vec<String> = Vec::new();
    let mut user: Option<String> = None;
    let mut entrypoint: Option<Vec<String>> = None;
    let mut cmd: Option<Vec<String>> = None;
    for line in &lines {
        let (instruction, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        match instruction.to_ascii_uppercase().as_str() {
            "FROM" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                let stage = match words.as_slice() {
                    [_, as_, stage] if as_.eq_ignore_ascii_case("as") => stage.to_string(),
                    _ => format!("#{}", stages.len()),
                };
                stages.push(stage);
                user = None;
                entrypoint = None;
                cmd = None;
            }
            "USER" => user = Some(rest.to_string()),
            "ENTRYPOINT" | "CMD" => match serde_json::from_str::<Vec<String>>(rest) {
                Ok(argv) if instruction.eq_ignore_ascii_case("ENTRYPOINT") => {
                    entrypoint = Some(argv)
                }
                Ok(argv) => cmd = Some(argv),
                Err(_) => found.error(name, format!("{instruction} must be a JSON array: {rest}")),
            },
            "ENV" => {
                for word in shell_words(rest).unwrap_or_default() {
                    if let Some((var, _)) = word.split_once('=') {
                        check_env_name(var, name, found);
                    }
                }
            }
            "COPY" => {
                if let Some(from) = rest
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("--from="))
                    && !stages.iter().any(|s| s == from)
                {
                    found.error(name, format!("COPY --from={from}: no such stage before it"));
                }
            }
            "RUN" => {
                let words = shell_words(rest).unwrap_or_default();
                if let Some(at) = words
                    .windows(2)
                    .position(|w| w[0] == "cargo" && w[1] == "build")
                {
                    let mut it = words[at + 2..].iter();
                    while let Some(word) = it.next() {
                        if word == "&&" || word == ";" {
                            break;
                        }
                        if matches!(word.as_str(), "-p" | "--package" | "--bin")
                            && let Some(value) = it.next()
                            && !workspace.contains(value)
                        {
                            found.error(
                                name,
                                format!("cargo build {word} {value}: no such package or binary in the workspace"),
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if stages.len() < 2 {
        found.error(name, "not a multi-stage build (one FROM)");
    }
    match user.as_deref() {
        None => found.error(name, "the final stage has no USER (it would run as root)"),
        Some(u) if u == "root" || u == "0" || u.starts_with("0:") || u.starts_with("root:") => {
            found.error(name, "the final stage runs as root")
        }
        Some(_) => {}
    }
    match (entrypoint, cmd) {
        (Some(entry), cmd) if entry.first().is_some_and(|e| is_binary(e)) => {
            let argv: Vec<String> = entry.into_iter().chain(cmd.unwrap_or_default()).collect();
            check_invocation(&argv, &format!("{name} ENTRYPOINT+CMD"), pending, found);
        }
        _ => found.error(
            name,
            "the final stage's ENTRYPOINT is not a binary of the project",
        ),
    }
}

/// Package and binary names of the workspace's members.
fn workspace_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for krate in [
        "agent",
        "collector",
        "aggregator",
        "proto",
        "scrub",
        "termui",
    ] {
        let text =
            std::fs::read_to_string(repo().join(krate).join("Cargo.toml")).unwrap_or_default();
        for line in text.lines() {
            if let Some(value) = line.trim().strip_prefix("name = ") {
                names.insert(value.trim_matches('"').to_string());
            }
        }
    }
    names
}

// -------------------------------------------------------------------- YAML

fn yaml_documents(name: &str, text: &str, found: &mut Findings) -> Vec<Value> {
    let mut docs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        match <Value as serde::Deserialize>::deserialize(doc) {
            Ok(Value::Null) => {}
            Ok(value) => docs.push(value),
            Err(e) => found.error(name, format!("not YAML: {e}")),
        }
    }
    docs
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => shell_words(s).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Kubernetes objects: containers' command + args, env names, ConfigMaps'
/// `config.yaml`, probes naming declared ports; kustomizations' files.
fn check_kubernetes(
    path: &Path,
    name: &str,
    text: &str,
    pending: &[Pending],
    found: &mut Findings,
) {
    for doc in yaml_documents(name, text, found) {
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind == "Kustomization" || path.file_name().is_some_and(|f| f == "kustomization.yaml") {
            let dir = path.parent().expect("a folder");
            let mut files = strings(doc.get("resources"));
            if let Some(Value::Sequence(patches)) = doc.get("patches") {
                files.extend(
                    patches
                        .iter()
                        .filter_map(|p| p.get("path")?.as_str().map(String::from)),
                );
            }
            for file in files {
                if !dir.join(&file).exists() {
                    found.error(
                        name,
                        format!("kustomization names {file}, which does not exist"),
                    );
                }
            }
            continue;
        }
        if kind.is_empty() || doc.get("apiVersion").is_none() {
            found.error(name, "a document without apiVersion and kind");
            continue;
        }
        if kind == "ConfigMap"
            && let Some(config) = doc
                .get("data")
                .and_then(|d| d.get("config.yaml"))
                .and_then(Value::as_str)
        {
            check_agent_config(config, &format!("{name} ConfigMap config.yaml"), found);
        }
        let mut containers = Vec::new();
        collect_containers(&doc, &mut containers);
        for container in containers {
            let cname = container.get("name").and_then(Value::as_str).unwrap_or("?");
            let place = format!("{name} container {cname}");
            let mut argv = strings(container.get("command"));
            argv.extend(strings(container.get("args")));
            if argv.first().is_some_and(|a| is_binary(a)) {
                check_invocation(&argv, &place, pending, found);
            }
            if let Some(Value::Sequence(env)) = container.get("env") {
                for var in env.iter().filter_map(|e| e.get("name")?.as_str()) {
                    check_env_name(var, &place, found);
                }
            }
            let ports: Vec<&str> = match container.get("ports") {
                Some(Value::Sequence(ports)) => ports
                    .iter()
                    .filter_map(|p| p.get("name")?.as_str())
                    .collect(),
                _ => Vec::new(),
            };
            for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
                if let Some(port) = container
                    .get(probe)
                    .and_then(|p| p.get("httpGet"))
                    .and_then(|h| h.get("port"))
                    .and_then(Value::as_str)
                    && !ports.contains(&port)
                {
                    found.error(
                        &place,
                        format!("{probe} uses port '{port}', which the container does not declare"),
                    );
                }
            }
        }
    }
}

fn collect_containers<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Mapping(map) => {
            for (key, child) in map {
                if matches!(key.as_str(), Some("containers" | "initContainers"))
                    && let Value::Sequence(items) = child
                {
                    out.extend(items.iter());
                } else {
                    collect_containers(child, out);
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|i| collect_containers(i, out)),
        _ => {}
    }
}

/// A compose file: each service's entrypoint + command, environment names,
/// build files.
fn check_compose(path: &Path, name: &str, text: &str, pending: &[Pending], found: &mut Findings) {
    for doc in yaml_documents(name, text, found) {
        let Some(Value::Mapping(services)) = doc.get("services") else {
            found.error(name, "no services:");
            continue;
        };
        for (service, spec) in services {
            let service = service.as_str().unwrap_or("?");
            let place = format!("{name} service {service}");
            let mut argv = strings(spec.get("entrypoint"));
            argv.extend(strings(spec.get("command")));
            if argv.first().is_some_and(|a| is_binary(a)) {
                check_invocation(&argv, &place, pending, found);
            } else if spec.get("build").is_some() {
                found.error(
                    &place,
                    "a service built here must name its binary in entrypoint:",
                );
            }
            match spec.get("environment") {
                Some(Value::Mapping(env)) => {
                    for var in env.keys().filter_map(Value::as_str) {
                        check_env_name(var, &place, found);
                    }
                }
                Some(Value::Sequence(env)) => {
                    for var in env.iter().filter_map(Value::as_str) {
                        check_env_name(var.split('=').next().unwrap_or(var), &place, found);
                    }
                }
                _ => {}
            }
            if let Some(build) = spec.get("build") {
                let context = build.get("context").and_then(Value::as_str).unwrap_or(".");
                let file = build
                    .get("dockerfile")
                    .and_then(Value::as_str)
                    .unwrap_or("Dockerfile");
                let dir = path.parent().expect("a folder").join(context);
                if !dir.join(file).exists() {
                    found.error(&place, format!("build: {context}/{file} does not exist"));
                }
            }
        }
    }
}

/// A CI file: every string is a shell script (GitHub `run:`, GitLab
/// `script:`); its earlyexit commands are parsed, its heredocs written to a
/// `config.yaml` are loaded as agent configs.
fn check_ci(name: &str, text: &str, pending: &[Pending], found: &mut Findings) {
    let docs = yaml_documents(name, text, found);
    let mut scripts = Vec::new();
    for doc in &docs {
        collect_strings(doc, &mut scripts);
    }
    for script in scripts {
        check_script(&script, name, pending, found);
    }
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Mapping(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// A shell script, line by line: heredocs, then simple commands split at
/// `|`, `&&`, `||`, `;` and parentheses.
fn check_script(script: &str, name: &str, pending: &[Pending], found: &mut Findings) {
    let mut lines = script.lines();
    while let Some(line) = lines.next() {
        if let Some(at) = line.find("<<") {
            let marker: String = line[at + 2..]
                .trim_start_matches('-')
                .trim()
                .trim_matches(['\'', '"'])
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let mut body = String::new();
            for next in lines.by_ref() {
                if next.trim() == marker {
                    break;
                }
                body.push_str(next);
                body.push('\n');
            }
            let target = line[..at].rsplit('>').next().unwrap_or("");
            let rest = &line[at..];
            if target.contains("config.yaml") || rest.contains("config.yaml") {
                check_agent_config(&body, &format!("{name} heredoc {marker}"), found);
            }
        }
        let Ok(words) = shell_words(line) else {
            continue;
        };
        for command in words.split(|w| matches!(w.as_str(), "|" | "&&" | "||" | ";" | "(" | ")")) {
            let command: Vec<String> = command
                .iter()
                .skip_while(|w| {
                    w.contains('=') && !w.starts_with('-')
                        || matches!(w.as_str(), "exec" | "env" | "sudo")
                })
                .cloned()
                .collect();
            if command.first().is_some_and(|c| is_binary(c)) {
                let end = command
                    .iter()
                    .position(|w| w.starts_with('>') || w.starts_with('<') || w == "2>&1")
                    .unwrap_or(command.len());
                check_invocation(
                    &command[..end],
                    &format!("{name}: {}", line.trim()),
                    pending,
                    found,
                );
            }
        }
    }
}

/// Splits like a POSIX shell (quotes and backslashes; no expansion), with
/// `|`, `&&`, `||`, `;`, `(` and `)` as words of their own.
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unclosed '".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => word.extend(chars.next()),
                        Some(c) => word.push(c),
                        None => return Err("unclosed \"".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '|' | '&' | ';' | '(' | ')' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                let mut op = c.to_string();
                if (c == '|' || c == '&') && chars.peek() == Some(&c) {
                    op.push(c);
                    chars.next();
                }
                words.push(op);
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

// -------------------------------------------------------------------- walk

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Checks every file under `deploy` (a folder laid out like the repo's).
fn check_deploy(deploy: &Path, pending: &[Pending]) -> Findings {
    let mut found = Findings::default();
    let mut files = Vec::new();
    files_under(deploy, &mut files);
    let units: Vec<String> = files
        .iter()
        .filter(|f| f.starts_with(deploy.join("systemd")))
        .filter_map(|f| f.file_name()?.to_str().map(String::from))
        .collect();
    for path in &files {
        let rel = path
            .strip_prefix(deploy)
            .expect("under deploy")
            .to_string_lossy()
            .to_string();
        let name = format!("deploy/{rel}");
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
        let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
        let top = rel.split('/').next().unwrap_or("");
        match (top, file) {
            (_, "README.md") => {}
            ("systemd", f) if f.ends_with(".service") || f.ends_with(".timer") => {
                check_systemd(&name, &text, &units, pending, &mut found)
            }
            ("systemd", "collector.yaml") => check_collector_config(&text, &name, &mut found),
            ("agent", f) if f.ends_with(".yaml") => check_agent_config(&text, &name, &mut found),
            ("container", f) if f.ends_with(".Dockerfile") => {
                check_dockerfile(&name, &text, pending, &mut found)
            }
            ("kubernetes", f) if f.ends_with(".yaml") => {
                check_kubernetes(path, &name, &text, pending, &mut found)
            }
            ("compose", f) if f.ends_with(".yaml") => {
                check_compose(path, &name, &text, pending, &mut found)
            }
            ("ci", f) if f.ends_with(".yml") || f.ends_with(".yaml") => {
                check_ci(&name, &text, pending, &mut found)
            }
            _ => found.error(
                &name,
                "a file of no known kind: teach tests/tests/deploy_recipes.rs to check it",
            ),
        }
    }
    found
}

#[test]
fn every_recipe_names_binaries_flags_and_keys_that_exist() {
    let found = check_deploy(&repo().join("deploy"), PENDING);
    // Written past the test harness's capture: the allow-list is always shown.
    let mut stderr = std::io::stderr();
    let _ = writeln!(
        stderr,
        "deploy recipes: {} invocations and {} configs checked; allowed as PENDING (not in this version yet):",
        found.invocations, found.configs
    );
    for allowed in &found.allowed {
        let _ = writeln!(stderr, "  - {allowed}");
    }
    assert!(
        found.errors.is_empty(),
        "deploy/ has {} problems:\n{}",
        found.errors.len(),
        found.errors.join("\n")
    );
    assert!(
        found.invocations >= 10,
        "too few invocations found: {}",
        found.invocations
    );
    assert!(
        found.configs >= 5,
        "too few configs found: {}",
        found.configs
    );
}

// ------------------------------------------- the checker catches rot

/// A `deploy/` folder with `files` (path, text) only.
fn fake_deploy(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

const GOOD_UNIT: &str = "[Unit]\nDescription=x\n[Service]\nDynamicUser=yes\nStateDirectory=x\nNoNewPrivileges=yes\nProtectSystem=strict\nExecStart=/usr/bin/earlyexit-collector serve --listen 0.0.0.0:7700\n[Install]\nWantedBy=multi-user.target\n";

#[test]
fn a_unit_with_a_flag_that_does_not_exist_fails() {
    let good = check_deploy(
        fake_deploy(&[("systemd/x.service", GOOD_UNIT)]).path(),
        PENDING,
    );
    assert!(good.errors.is_empty(), "{:?}", good.errors);
    let bad = GOOD_UNIT.replace(
        "--listen 0.0.0.0:7700",
        "--listen 0.0.0.0:7700 --no-such-flag",
    );
    let found = check_deploy(fake_deploy(&[("systemd/x.service", &bad)]).path(), PENDING);
    assert_eq!(found.errors.len(), 1, "{:?}", found.errors);
    assert!(
        found.errors[0].contains("--no-such-flag"),
        "{:?}",
        found.errors
    );
    let root = GOOD_UNIT
        .replace("DynamicUser=yes\n", "")
        .replace("NoNewPrivileges=yes\n", "");
    let found = check_deploy(fake_deploy(&[("systemd/x.service", &root)]).path(), PENDING);
    assert_eq!(found.errors.len(), 2, "{:?}", found.errors);
}

#[test]
fn a_manifest_with_a_wrong_subcommand_config_key_or_variable_fails() {
    let manifest = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data:
  config.yaml: |
    sync_on_exitt: true
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      containers:
        - name: agent
          command: [/usr/local/bin/earlyexit]
          args: [agnet, --interval, 10s]
          env:
            - {name: EARLYEXIT_HOMEDIR, value: /x}
";
    let found = check_deploy(
        fake_deploy(&[("kubernetes/base/x.yaml", manifest)]).path(),
        PENDING,
    );
    let all = found.errors.join("\n");
    assert_eq!(found.errors.len(), 3, "{all}");
    assert!(all.contains("sync_on_exitt"), "{all}");
    assert!(all.contains("EARLYEXIT_HOMEDIR"), "{all}");
    // `agnet` is not a subcommand: it is read as a run with pattern `agnet`
    // and command `--interval 10s`, which clap refuses.
    assert!(all.contains("agnet"), "{all}");
}

#[test]
fn a_ci_script_with_a_wrong_flag_fails_and_pending_entries_that_landed_fail() {
    let ci = "\
job:
  script:
    - earlyexit sync --timeout 30s
    - |
      cat > \"$EARLYEXIT_HOME/config.yaml\" <<'YAML'
      sync_on_exit: true
      YAML
    - earlyexit --unix-exit-codes --delay-exitt 0 FAILED -- make test
";
    let found = check_deploy(fake_deploy(&[("ci/x.yml", ci)]).path(), PENDING);
    assert_eq!(found.invocations, 2);
    assert_eq!(found.configs, 1);
    assert_eq!(found.errors.len(), 1, "{:?}", found.errors);
    assert!(
        found.errors[0].contains("--delay-exitt"),
        "{:?}",
        found.errors
    );

    // An allow-list entry for a flag that exists is stale and fails.
    let stale = [Pending {
        binary: "earlyexit-collector",
        what: Missing::Flag("--listen"),
        why: "test",
    }];
    let found = check_deploy(
        fake_deploy(&[("systemd/x.service", GOOD_UNIT)]).path(),
        &stale,
    );
    assert_eq!(found.errors.len(), 1, "{:?}", found.errors);
    assert!(
        found.errors[0].contains("remove it from PENDING"),
        "{:?}",
        found.errors
    );
}

#[test]
fn shell_words_split_like_a_shell() {
    assert_eq!(
        shell_words(r#"a 'b c' "d \"e\"" f\ g x&&y | z # comment"#).unwrap(),
        ["a", "b c", "d \"e\"", "f g", "x", "&&", "y", "|", "z"]
    );
    assert!(shell_words("'open").is_err());
}

/// `systemd-analyze verify` on every unit (its ExecStart= binaries replaced
/// by `/bin/true`, which exists everywhere; the flags are checked above):
/// catches unknown directives and bad values. Skips, saying so, where
/// systemd-analyze is not installed.
#[test]
fn systemd_accepts_every_unit() {
    let analyze = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output();
    if !analyze.is_ok_and(|o| o.status.success()) {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: systemd-analyze is not installed (package systemd)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut units = Vec::new();
    let mut files = Vec::new();
    files_under(&repo().join("deploy").join("systemd"), &mut files);
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if !(name.ends_with(".service") || name.ends_with(".timer")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let text: String = text
            .lines()
            .map(|l| match l.strip_prefix("ExecStart=") {
                Some(_) => "ExecStart=/bin/true".to_string(),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(dir.path().join(&name), text + "\n").unwrap();
        units.push(name);
    }
    assert!(units.len() >= 4, "{units:?}");
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify {units:?}:\n{stderr}"
    );
}

/// `kubectl kustomize` renders the example overlay (and with it the base):
/// every resource, patch and image name resolves. Skips, saying so, where
/// kubectl is not installed.
#[test]
fn kustomize_renders_the_example_overlay() {
    let kubectl = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output();
    if !kubectl.is_ok_and(|o| o.status.success()) {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: kubectl is not installed to render deploy/kubernetes"
        );
        return;
    }
    let overlay = repo().join("deploy/kubernetes/overlays/example");
    let out = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(&overlay)
        .output()
        .unwrap();
    let rendered = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl kustomize {}:\n{}",
        overlay.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut found = Findings::default();
    let docs = yaml_documents("rendered overlay", &rendered, &mut found);
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    let kinds: Vec<&str> = docs
        .iter()
        .filter_map(|d| d.get("kind")?.as_str())
        .collect();
    for kind in [
        "Namespace",
        "ConfigMap",
        "Service",
        "Deployment",
        "CronJob",
        "HorizontalPodAutoscaler",
    ] {
        assert!(kinds.contains(&kind), "no {kind} in the overlay: {kinds:?}");
    }
    assert!(
        rendered.contains("registry.example.internal/earlyexit/collector:0.1.0"),
        "the overlay's image is not applied"
    );
    assert!(rendered.contains("namespace: earlyexit"));
    assert!(
        rendered.contains("17 */3 * * *"),
        "the overlay's schedule is not applied"
    );
}
