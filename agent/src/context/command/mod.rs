//! The category of a command line ([`detect_command_category`]): `test`,
//! `build`, `lint`, `deploy`, `install`, `run` or `unknown`.
//!
//! This file owns the dispatch from a program to its category and every
//! wrapper that runs another command (`env`, `sh -c`, `sudo`, `npx`,
//! `uv run`, `npm exec`, `python -m`, …), looked through at most
//! `MAX_WRAPPER_DEPTH` deep. Beside it:
//!
//! | file | owns |
//! |---|---|
//! | [`words`] | reading a command line: shell splitting, program names, options and operands |
//! | [`names`] | the categories ([`COMMAND_CATEGORIES`]) and what a script, target or task name suggests |
//! | [`tools`] | the verb tables of tools that run no other command (`cargo`, `pip`, Maven, Gradle, `dotnet`, `docker`, deploy tools, package managers, servers) |
//!
//! It reads only the words it is given: it must never spawn a process, look
//! at a file, or read the environment.

pub mod names;
pub mod tools;
pub mod words;

pub use names::COMMAND_CATEGORIES;

use super::UNKNOWN;
use names::{BUILD, DEPLOY, INSTALL, LINT, RUN, TEST, script_file, script_name};
use tools::{
    build_tool, cargo, container, deploy_tool, gradle, maven, package_manager, pip, server_tool,
};
use words::{
    after_operand, first_operand, make_targets, program_name, skip_assignments, skip_operands,
    skip_options, split_shell,
};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
