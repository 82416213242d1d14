//! The verb tables of tools that run no other command: `cargo`, `pip`,
//! Maven, Gradle, verb-first build tools (`dotnet`, `bazel`, `mix`, …),
//! container tools, deploy tools, system package managers and servers.
//!
//! Each function maps one tool's arguments to a category. None may call
//! back into the classifier: a tool that runs another command is a wrapper,
//! and wrappers live in [`command`](super).

use super::names::{BUILD, DEPLOY, INSTALL, LINT, RUN, TEST, script_name};
use super::words::{after_operand, first_operand, make_targets, program_name, skip_options};

pub(super) fn cargo(rest: &[&str]) -> Option<&'static str> {
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

pub(super) fn pip(rest: &[&str]) -> Option<&'static str> {
    match first_operand(rest)? {
        "install" | "download" | "uninstall" | "sync" | "compile" | "wheel" => Some(INSTALL),
        "check" => Some(LINT),
        _ => None,
    }
}

/// Maven: the last goal decides (`mvn clean install` builds, `mvn clean test` tests).
pub(super) fn maven(rest: &[&str]) -> Option<&'static str> {
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
pub(super) fn gradle(rest: &[&str]) -> Option<&'static str> {
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
pub(super) fn build_tool(rest: &[&str]) -> Option<&'static str> {
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

pub(super) fn container(prog: &str, rest: &[&str]) -> Option<&'static str> {
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

pub(super) fn deploy_tool(prog: &str, rest: &[&str]) -> Option<&'static str> {
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

pub(super) fn package_manager(prog: &str, rest: &[&str]) -> Option<&'static str> {
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

pub(super) fn server_tool(prog: &str, rest: &[&str]) -> Option<&'static str> {
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
