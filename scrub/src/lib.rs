//! Secret and PII scrubbing for command output, shared by the earlyexit agent
//! (which scrubs before anything leaves the machine) and the collector (which
//! re-checks what it receives).
//!
//! A [`Scrubber`] holds compiled rules: named built-ins (cloud keys, VCS and
//! CI tokens, JWTs, auth headers, private keys, URL credentials, password
//! assignments and flags, emails, IPs, MACs, cards, SSNs, home directories,
//! internal host names), user rules, and optional user and host names.
//! Findings become typed placeholders (`<email>`, `<secret:aws>`, `~`), or
//! keyed ones (`<email:3f9a1c>`) so equal values still correlate.
//!
//! ```
//! use earlyexit_scrub::Scrubber;
//! let s = Scrubber::builder().user_name("alice").build()?;
//! assert_eq!(
//!     s.scrub_line("alice: export GITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345"),
//!     "<user>: export GITHUB_TOKEN=<secret:github>"
//! );
//! assert_eq!(s.scrub_line("   Compiling serde v1.0.197"), "   Compiling serde v1.0.197");
//! # Ok::<(), earlyexit_scrub::Error>(())
//! ```
//!
//! Guarantees (property-tested): never panics, one line out per line in,
//! idempotent, and a line grows by at most [`MAX_PLACEHOLDER_LEN`] bytes per
//! finding. See `docs/PRIVACY.md` for the rules and measured accuracy.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod block;
mod check;
mod context;
mod digest;
mod engine;
mod error;
mod keys;
mod known;
mod placeholder;
mod rules;
mod stream;

pub use digest::{hex, sha256_hex};
pub use engine::{Finding, MIN_NAME_LEN, Scrubber, ScrubberBuilder};
pub use error::Error;
pub use known::{KnownSecrets, MIN_KNOWN_SECRET_LEN};
pub use placeholder::{KEYED_HASH_BYTES, MAX_PLACEHOLDER_LEN};
pub use stream::{LineScrubber, MAX_PEM_LINE_LEN, MAX_PEM_LINES};
