//! Tests of the miner on lines written here (never on external data).

use super::mask::{MaskKind, classify, mask_line};
use super::*;

fn miner() -> Miner {
    Miner::new(MinerConfig::default()).unwrap()
}

#[test]
fn every_mask_kind_recognises_its_shapes_and_leaves_words_alone() {
    let cases: &[(&str, Option<MaskKind>)] = &[
        ("https://example.com/a?b=1", Some(MaskKind::Url)),
        ("s3://bucket/key", Some(MaskKind::Url)),
        ("38101a0b-2096-447d-96ea-a692162415ae", Some(MaskKind::Uuid)),
        ("10.0.0.1", Some(MaskKind::Ip)),
        ("[173.234.31.186]", Some(MaskKind::Ip)),
        ("127.0.0.1:8080,", Some(MaskKind::Ip)),
        ("fe80::c6b3:1ff:fecd:467f", Some(MaskKind::Ip)),
        ("2015-10-18", Some(MaskKind::Timestamp)),
        ("18:01:47,978", Some(MaskKind::Timestamp)),
        ("2016-09-28T04:30:30Z", Some(MaskKind::Timestamp)),
        ("20171223-22:15:29:606", Some(MaskKind::Timestamp)),
        ("Jul", Some(MaskKind::Timestamp)),
        ("15ms", Some(MaskKind::Duration)),
        ("(0.5s)", Some(MaskKind::Duration)),
        ("2m30s", Some(MaskKind::Duration)),
        ("0xdeadbeef", Some(MaskKind::Hex)),
        ("9f4ef63a", Some(MaskKind::Hex)),
        ("42", Some(MaskKind::Number)),
        ("-12.5", Some(MaskKind::Number)),
        ("1,234", Some(MaskKind::Number)),
        ("99%", Some(MaskKind::Number)),
        ("1e-9", Some(MaskKind::Number)),
        ("/var/log/syslog", Some(MaskKind::Path)),
        ("./target/debug", Some(MaskKind::Path)),
        ("src/lib.rs", Some(MaskKind::Path)),
        ("C:\\Windows\\System32", Some(MaskKind::Path)),
        ("blk_-1608999687919862906", Some(MaskKind::Id)),
        ("kernel[0]:", Some(MaskKind::Id)),
        ("attempt_1445144423722_0020_m_000009_0", Some(MaskKind::Id)),
        ("error", None),
        ("PacketResponder", None),
        ("and/or", None),
        ("test_parser::rejects_empty", None),
    ];
    for (token, want) in cases {
        assert_eq!(classify(token), *want, "{token}");
    }
    let long = "A".repeat(DEFAULT_MAX_TOKEN_LEN + 1);
    assert_eq!(classify(&long), Some(MaskKind::Long));
}

#[test]
fn masking_keeps_the_shape_around_a_variable() {
    assert_eq!(
        mask_line("rhost=10.0.0.1, user=root"),
        "rhost=<*>, user=root"
    );
    assert_eq!(
        mask_line("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass;"),
        "<*> <*> <*> combo sshd(pam_unix)[<*>]: check pass;"
    );
    assert_eq!(
        mask_line("took 1.5s (retry 3/5)"),
        "took <*> (retry <*>/<*>)"
    );
    // ANSI colours never reach a token.
    assert_eq!(
        mask_line("\x1b[31merror\x1b[0m: build failed"),
        "error: build failed"
    );
    // A bracketed group with spaces is one token.
    assert_eq!(
        mask_line("INFO [IPC Server handler 19 on 62270] started"),
        "INFO [IPC Server handler <*> on <*>] started"
    );
}

#[test]
fn lines_differing_in_variables_share_one_template_that_generalises_in_place() {
    let mut m = miner();
    let a = m.add("Connection from alice@host-a closed after 15ms");
    let b = m.add("Connection from bob@host-b closed after 2s");
    let c = m.add("Connection from 10.1.1.1 closed after 3m");
    assert_eq!(a, b);
    assert_eq!(b, c);
    let t = m.template(a).unwrap();
    assert_eq!(t.text(), "Connection from <*> closed after <*>");
    assert_eq!(t.count(), 3);
    assert_eq!(m.len(), 1);
}

#[test]
fn lines_differing_in_a_plain_word_stay_apart() {
    let mut m = miner();
    let started = m.add("VM 3 Started (Lifecycle Event)");
    let stopped = m.add("VM 4 Stopped (Lifecycle Event)");
    let again = m.add("VM 9 Started (Lifecycle Event)");
    assert_ne!(started, stopped);
    assert_eq!(started, again);
    // Turned off, the same lines make one template.
    let mut m = Miner::new(MinerConfig {
        words_constant: false,
        ..MinerConfig::default()
    })
    .unwrap();
    assert_eq!(
        m.add("VM 3 Started (Lifecycle Event)"),
        m.add("VM 4 Stopped (Lifecycle Event)")
    );
}

#[test]
fn many_words_at_one_position_make_it_a_variable_and_merge_the_variants() {
    let mut m = miner();
    let names = [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    ];
    let ids: Vec<TemplateId> = names
        .iter()
        .map(|n| m.add(&format!("session opened for user {n} by uid 0")))
        .collect();
    // Up to the threshold each name was its own template; the 8th merged
    // them all into the first, and every earlier id resolves to it.
    assert_eq!(DEFAULT_WORD_VARIANTS, names.len());
    assert_eq!(m.len(), 1);
    for id in &ids {
        assert_eq!(m.resolve(*id), ids[0]);
    }
    let t = m.template(ids[3]).unwrap();
    assert_eq!(t.id(), ids[0]);
    assert_eq!(t.text(), "session opened for user <*> by uid <*>");
    assert_eq!(t.count(), 8);
    assert_eq!(m.add("session opened for user ivan by uid 0"), ids[0]);
    // A few words stay apart: they are different messages.
    let mut m = miner();
    let states = ["Started", "Stopped", "Paused", "Resumed"];
    let ids: std::collections::HashSet<TemplateId> = states
        .iter()
        .map(|s| m.add(&format!("VM {s} (Lifecycle Event)")))
        .collect();
    assert_eq!(ids.len(), 4);
}

#[test]
fn word_variants_under_a_tiny_cap_never_lose_the_template_they_point_to() {
    for cap in 1..4 {
        let mut m = Miner::new(MinerConfig {
            max_clusters: cap,
            word_variants: 3,
            ..MinerConfig::default()
        })
        .unwrap();
        for n in ["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen"] {
            let id = m.add(&format!("worker {n} joined pool 1"));
            assert!(m.template(id).is_some(), "cap {cap}: {n}");
            assert!(m.len() <= cap);
        }
    }
}

#[test]
fn a_header_host_name_does_not_split_a_template() {
    let mut m = miner();
    let a = m.add("Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: Wake reason: RTC");
    let b = m.add("Jul  2 10:00:55 authorMacBook-Pro kernel[0]: Wake reason: EC.LidOpen");
    assert_eq!(a, b);
    assert_eq!(
        m.template(a).unwrap().text(),
        "<*> <*> <*> <*> kernel[<*>]: Wake reason: <*>"
    );
}

#[test]
fn different_messages_of_one_length_are_not_merged() {
    let mut m = miner();
    let a = m.add("2024-01-01 10:00:00 INFO worker: job 17 done");
    let b = m.add("2024-01-01 10:00:01 INFO worker: cache 17 evicted");
    assert_ne!(a, b);
    assert_eq!(m.len(), 2);
}

#[test]
fn the_cap_evicts_the_least_recently_used_template_and_counts_it() {
    let mut m = Miner::new(MinerConfig {
        max_clusters: 3,
        ..MinerConfig::default()
    })
    .unwrap();
    let a = m.add("alpha happened");
    let b = m.add("beta happened twice over");
    let c = m.add("gamma happened three times over here");
    // Touch a, so b is now the least recently used.
    assert_eq!(m.add("alpha happened"), a);
    let d = m.add("delta happened four times over here and there");
    assert_eq!(m.len(), 3);
    assert_eq!(m.evicted(), 1);
    assert!(m.template(b).is_none(), "b was least recently used");
    assert!(m.template(a).is_some() && m.template(c).is_some() && m.template(d).is_some());
    // Most recent first.
    let order: Vec<TemplateId> = m.templates().map(Template::id).collect();
    assert_eq!(order, vec![d, a, c]);
    // A line of the evicted shape starts a new template with a new id.
    let b2 = m.add("beta happened twice over");
    assert!(b2 > d);
    assert_eq!(m.len(), 3);
    assert_eq!(m.evicted(), 2);
    assert!(m.template(c).is_none(), "c was next in line");
    assert_eq!(m.match_only("gamma happened three times over here"), None);
}

#[test]
fn the_cap_holds_over_many_distinct_lines() {
    // Word variants off: the words below would otherwise become variables.
    let mut m = Miner::new(MinerConfig {
        max_clusters: 50,
        word_variants: 0,
        ..MinerConfig::default()
    })
    .unwrap();
    let words = [
        "red", "green", "blue", "cyan", "pink", "gold", "teal", "gray",
    ];
    for i in 0..2_000 {
        let line = format!(
            "{} {} {} message",
            words[i % 8],
            words[(i / 8) % 8],
            words[(i / 64) % 8]
        );
        m.add(&line);
        assert!(m.len() <= 50);
    }
    assert_eq!(m.len(), 50);
    // 512 distinct lines cycling through a cap of 50: each line was
    // evicted before it came round again, so every line after the first
    // 50 started a template and pushed one out.
    assert_eq!(m.evicted(), 2_000 - 50);
    assert_eq!(m.lines(), 2_000);
    // The tree holds the paths of the live templates only: one
    // token-count node and at most two key levels below it.
    assert!(m.tree_nodes() <= 1 + 2 * 50, "{}", m.tree_nodes());
}

#[test]
fn evicted_templates_take_their_tree_nodes_with_them() {
    let mut m = Miner::new(MinerConfig {
        max_clusters: 10,
        max_children: 10_000,
        word_variants: 0,
        ..MinerConfig::default()
    })
    .unwrap();
    // Every line has its own token count and its own key words.
    for i in 0..500 {
        let mut line = format!("w{i}x{}", "y".repeat(i % 7));
        line = line.replace(|c: char| c.is_ascii_digit(), "q");
        let filler = " z".repeat(i % 40);
        m.add(&format!("alpha{line} beta{line}{filler}"));
    }
    assert_eq!(m.len(), 10);
    // 10 templates, each on a path of at most 3 nodes.
    assert!(m.tree_nodes() <= 30, "{} nodes", m.tree_nodes());
}

#[test]
fn cr_lf_and_bare_cr_split_lines_and_never_reach_a_token() {
    let text = "first 1\r\nsecond 2\rthird 3\nfourth 4\r\n";
    let lines: Vec<&str> = split_lines(text).collect();
    assert_eq!(lines, vec!["first 1", "second 2", "third 3", "fourth 4"]);
    assert_eq!(
        split_lines("no newline").collect::<Vec<_>>(),
        vec!["no newline"]
    );
    assert_eq!(
        split_lines("a\n\nb").collect::<Vec<_>>(),
        vec!["a", "", "b"]
    );
    assert_eq!(split_lines("").count(), 0);

    let mut m = miner();
    let a = m.add("request 1 served\r");
    let b = m.add("request 2 served\r\n");
    let c = m.add("request 3 served");
    assert_eq!(a, b);
    assert_eq!(b, c);
    assert_eq!(m.template(a).unwrap().text(), "request <*> served");
}

#[test]
fn match_only_changes_nothing() {
    let mut m = miner();
    let a = m.add("upload of file 12 finished in 3s");
    assert_eq!(m.match_only("upload of file 99 finished in 1s"), Some(a));
    assert_eq!(m.match_only("something else entirely"), None);
    assert_eq!(m.len(), 1);
    assert_eq!(m.template(a).unwrap().count(), 1);
    assert_eq!(m.lines(), 1);
}

/// Lines in the shapes of the tools users wrap, for the regex property.
const CI_LINES: &[&str] = &[
    "test parser::tests::rejects_empty ... FAILED",
    "test parser::tests::accepts_unicode ... ok",
    "test store::tests::roundtrip ... ok",
    "error[E0425]: cannot find value `x` in this scope",
    "  --> src/main.rs:12:5",
    "  --> src/lib.rs:310:17",
    "warning: unused variable: `y`",
    "FAILED tests/test_api.py::test_login - AssertionError: assert 401 == 200",
    "FAILED tests/test_db.py::test_migrate - KeyError: 'id'",
    "--- FAIL: TestParse (0.00s)",
    "--- FAIL: TestServe (1.25s)",
    "ok  \tgithub.com/acme/tool/pkg\t0.012s",
    "npm ERR! code ELIFECYCLE",
    "npm ERR! errno 1",
    "2024-05-01T10:00:00Z [worker-3] job 81b1c0de-2096-447d-96ea-a692162415ae done in 15ms",
    "2024-05-01T10:00:01Z [worker-7] job 9c1e7a55-1111-4d2d-8e2a-0123456789ab done in 2.5s",
    "GET https://example.com/api/v1/items?id=7 200 12ms",
    "GET https://example.com/api/v1/users?id=9 404 3ms",
    "Compiling serde v1.0.200 (/home/ci/.cargo/registry/src/serde-1.0.200)",
    "Compiling tokio v1.48.0",
    "weird  spacing\there   and [brackets with spaces 12] (parens) \"quotes\" a+b*c",
    "path C:\\Users\\ci\\build\\out.log written, 1,234 bytes",
    "INFO [IPC Server handler 19 on 62270] progress 0.3",
    "INFO [main]   progress 0.5",
    "INFO [RMCommunicator   Allocator] progress 0.7",
    "WARN [spool /var/spool/x 3] full",
    "WARN [spool /var/spool/y 4] full",
];

#[test]
fn each_templates_regex_matches_every_line_it_took_and_only_is_anchored() {
    let mut m = miner();
    let ids: Vec<TemplateId> = CI_LINES.iter().map(|l| m.add(l)).collect();
    for (line, id) in CI_LINES.iter().zip(&ids) {
        let t = m.template(*id).unwrap();
        let re = t.to_regex();
        assert!(
            re.is_match(line),
            "{line:?} not matched by {}",
            t.regex_source()
        );
        // Anchored: extra text on either side is not a match.
        assert!(
            !re.is_match(&format!("zzz_prefix {line}")),
            "{}",
            t.regex_source()
        );
        assert!(
            !re.is_match(&format!("{line} zzz_suffix")),
            "{}",
            t.regex_source()
        );
    }
    // A regex is specific: the failing test line is not matched by the
    // template of the passing ones.
    let ok = m.template(ids[1]).unwrap().to_regex();
    assert!(!ok.is_match(CI_LINES[0]));
}

#[test]
fn a_truncated_line_keeps_its_rest_as_anything() {
    let mut m = Miner::new(MinerConfig {
        max_tokens: 4,
        ..MinerConfig::default()
    })
    .unwrap();
    let a = m.add("one two three four five six");
    let b = m.add("one two three four and something else");
    assert_eq!(a, b);
    let t = m.template(a).unwrap();
    assert_eq!(t.text(), "one two three four <...>");
    assert!(t.to_regex().is_match("one two three four five six"));
}

#[test]
fn a_saved_miner_loads_and_goes_on_exactly_like_the_original() {
    let mut m = Miner::new(MinerConfig {
        max_clusters: 10,
        ..MinerConfig::default()
    })
    .unwrap();
    for l in CI_LINES {
        m.add(l);
    }
    // Some word variants, half way to a merge, and one merge done.
    for n in ["ant", "bee", "cat", "dog"] {
        m.add(&format!("worker {n} joined pool 1"));
    }
    for n in ["a", "b", "c", "d", "e", "f", "g", "h"] {
        m.add(&format!("cache {n}x refreshed after 3s"));
    }
    let mut buf = Vec::new();
    m.save(&mut buf).unwrap();
    let mut loaded = Miner::load(&buf[..]).unwrap();
    assert_eq!(loaded.config(), m.config());
    assert_eq!(loaded.len(), m.len());
    assert_eq!(loaded.lines(), m.lines());
    assert_eq!(loaded.evicted(), m.evicted());
    let texts = |m: &Miner| {
        m.templates()
            .map(|t| (t.id(), t.text(), t.count()))
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(&loaded), texts(&m));
    let more = [
        "worker eel joined pool 2",
        "worker fox joined pool 2",
        "worker gnu joined pool 2",
        "worker hen joined pool 2",
        "cache zx refreshed after 1s",
        "test parser::tests::rejects_nul ... FAILED",
        "--- FAIL: TestOther (0.10s)",
        "a line never seen before by either",
        "npm ERR! code E404",
    ];
    for l in more {
        assert_eq!(loaded.match_only(l), m.match_only(l), "{l}");
        assert_eq!(loaded.add(l), m.add(l), "{l}");
    }
    assert_eq!(texts(&loaded), texts(&m));
}

#[test]
fn a_state_of_another_version_or_garbage_is_refused_with_a_reason() {
    let mut buf = Vec::new();
    miner().save(&mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    let other = text.replacen(
        &format!("\"version\":{STATE_VERSION}"),
        "\"version\":999",
        1,
    );
    let e = Miner::load(other.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("999") && e.contains("version"), "{e}");
    let e = Miner::load(&b"not json"[..]).unwrap_err().to_string();
    assert!(e.contains("not a valid miner state"), "{e}");
    let unknown = text.replacen("\"lines\":", "\"extra\":1,\"lines\":", 1);
    assert!(Miner::load(unknown.as_bytes()).is_err());
}

#[test]
fn a_bad_configuration_is_refused_with_the_field_named() {
    let e = Miner::new(MinerConfig {
        similarity: 0.0,
        ..MinerConfig::default()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("similarity"), "{e}");
    let e = Miner::new(MinerConfig {
        max_clusters: 0,
        ..MinerConfig::default()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("max_clusters"), "{e}");
    let e = serde_json::from_str::<MinerConfig>(r#"{"similarty": 0.5}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("similarty"), "{e}");
    let partial: MinerConfig = serde_json::from_str(r#"{"similarity": 0.7}"#).unwrap();
    assert_eq!(partial.max_clusters, DEFAULT_MAX_CLUSTERS);
}
