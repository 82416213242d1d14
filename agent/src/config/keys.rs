//! The documented keys: [`KEYS`], the table `config show` prints (name,
//! one-line description, what an unset value means), and the suggestion
//! offered for a mistyped key.
//!
//! It holds descriptions only: defaults come from
//! [`Config::defaults`](super::Config::defaults), never from this table (a
//! test keeps the two in step). It never reads a file.

/// One documented key, in the order `config show` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDoc {
    /// The key as written in the files.
    pub name: &'static str,
    /// One line: what it does and what values it takes.
    pub description: &'static str,
    /// What an unset (`~`) value means, for keys that may be unset.
    pub when_unset: &'static str,
}

/// Every configuration key with its description: the table `config show`
/// prints. Defaults come from [`Config::defaults`](super::Config::defaults),
/// never from this table.
pub const KEYS: &[KeyDoc] = &[
    KeyDoc {
        name: "telemetry",
        description: "what is recorded and sent: off | local | anonymous | full (default local; anonymous once a collector is configured)",
        when_unset: "",
    },
    KeyDoc {
        name: "retention_days",
        description: "delete recorded runs older than this many days (at least 1)",
        when_unset: "",
    },
    KeyDoc {
        name: "max_db_size_mb",
        description: "trim the oldest runs when the database grows past this many MiB (at least 1)",
        when_unset: "",
    },
    KeyDoc {
        name: "unix_exit_codes",
        description: "true: exit with the child's code, 1 on match, 124 on timeout, 125 on error",
        when_unset: "",
    },
    KeyDoc {
        name: "delay_exit",
        description: "keep reading this long after the first match, to capture context (0 = stop at once)",
        when_unset: "10s in command mode, 0s in pipe mode",
    },
    KeyDoc {
        name: "timeout",
        description: "stop the command after this long in total",
        when_unset: "no limit",
    },
    KeyDoc {
        name: "idle_timeout",
        description: "stop the command after this long without any output byte",
        when_unset: "no limit",
    },
    KeyDoc {
        name: "first_output_timeout",
        description: "stop the command if it prints nothing for this long after start",
        when_unset: "no limit",
    },
    KeyDoc {
        name: "kill_grace",
        description: "time between SIGTERM and SIGKILL when stopping the process group",
        when_unset: "",
    },
    KeyDoc {
        name: "db",
        description: "telemetry database file (`~/` expanded; relative to the file that sets it)",
        when_unset: "",
    },
    KeyDoc {
        name: "color",
        description: "colour output: auto | always | never",
        when_unset: "",
    },
    KeyDoc {
        name: "feedback",
        description: "flags | ask: with ask, `earlyexit feedback` given no value asks on a terminal (never in CI or without a terminal) (default flags)",
        when_unset: "",
    },
    KeyDoc {
        name: "anonymize_local",
        description: "true: scrub the local database too (it keeps raw content by default, mode 0600)",
        when_unset: "",
    },
    KeyDoc {
        name: "scrub_disable",
        description: "built-in scrub rules to turn off, e.g. [email, ipv4] (`earlyexit scrub --list-rules`)",
        when_unset: "",
    },
    KeyDoc {
        name: "scrub_rules",
        description: "your own scrub rules: a list of {name, regex, replacement}",
        when_unset: "",
    },
    KeyDoc {
        name: "collector",
        description: "where runs are synced: {url (or urls: [replicas, tried in order]), token | token_file, ca, cert, key}",
        when_unset: "nothing leaves this machine",
    },
    KeyDoc {
        name: "sync_on_exit",
        description: "true: every run pushes pending records to the collector before it exits (never changes its exit code)",
        when_unset: "",
    },
    KeyDoc {
        name: "sync_on_exit_timeout",
        description: "the most a run spends on sync_on_exit; what is not sent by then stays pending",
        when_unset: "",
    },
    KeyDoc {
        name: "scrub_keyed",
        description: "true: placeholders carry a keyed hash (<email:3f9a1c>); the key stays in scrub.key beside the database",
        when_unset: "",
    },
    KeyDoc {
        name: "scrub_key_file",
        description: "the key (16+ bytes, mode 0600) of every hash that leaves the machine: <args:…>, <dir:…>, command and content hashes, scrub_keyed placeholders; give an org's agents the same file to group their runs together",
        when_unset: "scrub.key beside the database, made on first use",
    },
    KeyDoc {
        name: "auto",
        description: "true: a run without a pattern uses the best known pattern for the command (learned, else the built-in library) and its learned timeouts, as --auto",
        when_unset: "",
    },
    KeyDoc {
        name: "fp_filter",
        description: "the line classifier's verdict on each match: off | annotate (score and record it) | enforce (a match scored as noise with confidence >= fp_threshold does not stop the run)",
        when_unset: "",
    },
    KeyDoc {
        name: "fp_threshold",
        description: "with fp_filter: enforce, the noise confidence (0.5 to 1) from which a match is ignored",
        when_unset: "",
    },
];

/// The documentation of `name`, if it is a key.
pub(super) fn key_doc(name: &str) -> Option<&'static KeyDoc> {
    KEYS.iter().find(|k| k.name == name)
}

/// The known key closest to `typed`, if it is close enough to be a typo.
pub(super) fn did_you_mean(typed: &str) -> Option<&'static str> {
    let typed = typed.to_ascii_lowercase().replace('-', "_");
    KEYS.iter()
        .map(|k| (strsim::levenshtein(&typed, k.name), k.name))
        .filter(|&(distance, name)| distance <= (name.len() / 3).clamp(1, 3))
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::*;
    use crate::duration::format_duration;
    use std::path::Path;

    #[test]
    fn dashes_in_keys_are_suggested_as_underscores() {
        assert_eq!(did_you_mean("kill-grace"), Some("kill_grace"));
        assert_eq!(did_you_mean("idle_timout"), Some("idle_timeout"));
        assert_eq!(did_you_mean("colour"), Some("color"));
        assert_eq!(did_you_mean("zzz"), None);
    }

    #[test]
    fn every_documented_key_is_a_config_field_and_back() {
        let value = serde_json::to_value(Config::defaults(Path::new("/h"))).unwrap();
        let fields: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut documented: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        documented.sort_unstable();
        let mut fields = fields;
        fields.sort_unstable();
        assert_eq!(fields, documented);
        for key in KEYS {
            let unset_allowed = value[key.name].is_null();
            assert_eq!(unset_allowed, !key.when_unset.is_empty(), "{}", key.name);
        }
    }

    #[test]
    fn delay_exit_doc_matches_the_constants() {
        let doc = key_doc("delay_exit").unwrap().when_unset;
        assert!(doc.contains(&format!(
            "{} in command mode",
            format_duration(DEFAULT_DELAY_EXIT_COMMAND)
        )));
        assert!(doc.contains(&format!(
            "{} in pipe mode",
            format_duration(DEFAULT_DELAY_EXIT_PIPE)
        )));
    }
}
