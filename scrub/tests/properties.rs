//! Properties every input must satisfy: no panic, one line out per line in,
//! idempotence, bounded growth.

use earlyexit_scrub::{MAX_PLACEHOLDER_LEN, Scrubber};
use proptest::prelude::*;
use std::sync::LazyLock;

static PLAIN: LazyLock<Scrubber> = LazyLock::new(Scrubber::default);
static KEYED: LazyLock<Scrubber> =
    LazyLock::new(|| Scrubber::builder().keyed(b"k".to_vec()).build().unwrap());

/// Fragments that trigger rules, mixed with arbitrary text by the strategies.
const FRAGMENTS: &[&str] = &[
    "password=",
    "token: ",
    "bob@example.net",
    "10.1.2.3",
    "2001:db8::1",
    "Authorization: Bearer ",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "AKIA",
    "ghp_",
    "/home/alice/",
    "4111 1111 1111 1111",
    "123-45-6789",
    "https://u:p@h/",
    " -p ",
    "eyJhbGciOiJIUzI1NiJ9.",
    "<secret:aws>",
    "~",
    "\n",
];

fn dirty_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
            "[A-Za-z0-9+/=:@._\\- ]{0,24}",
            any::<String>(),
        ],
        0..12,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn never_panics_and_preserves_lines(text in dirty_text()) {
        let s = &*PLAIN;
        let out = s.scrub_text(&text);
        prop_assert_eq!(out.split('\n').count(), text.split('\n').count());
    }

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let s = &*PLAIN;
        let text = String::from_utf8_lossy(&bytes);
        let out = s.scrub_text(&text);
        prop_assert_eq!(out.split('\n').count(), text.split('\n').count());
    }

    #[test]
    fn idempotent(text in dirty_text()) {
        let s = &*PLAIN;
        let once = s.scrub_text(&text);
        let twice = s.scrub_text(&once);
        prop_assert_eq!(twice, once);
    }

    #[test]
    fn idempotent_keyed(text in dirty_text()) {
        let s = &*KEYED;
        let once = s.scrub_text(&text);
        prop_assert_eq!(s.scrub_text(&once), once);
    }

    #[test]
    fn clean_joined_text_means_every_part_is_clean(parts in prop::collection::vec(dirty_text(), 1..6)) {
        let s = &*PLAIN;
        let joined = parts.join("\n");
        if s.is_clean(&joined) {
            for part in &parts {
                prop_assert_eq!(s.scrub_text(part), part.as_str());
                for line in part.split('\n') {
                    prop_assert_eq!(s.scrub_line(line), line);
                }
            }
        }
    }

    #[test]
    fn growth_is_bounded(line in dirty_text().prop_map(|t| t.replace('\n', " "))) {
        let s = &*PLAIN;
        let findings = s.explain(&line).len();
        let out = s.scrub_line(&line);
        prop_assert!(out.len() <= line.len() + MAX_PLACEHOLDER_LEN * findings);
    }
}
