//! The environment variables recorded with a run: only the names in
//! [`ENV_ALLOW_LIST`], each value cut to [`MAX_ENV_VALUE_BYTES`], and
//! credentials stripped from `*_URL` values.
//!
//! It must never record a variable outside the allow list, and never write
//! the environment.

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
