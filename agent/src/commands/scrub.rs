//! `earlyexit scrub`: the scrubber as a filter. Reads lines on stdin and
//! writes exactly one scrubbed line per input line on stdout (lines of a
//! private-key block are each replaced, so the count is kept), which is how
//! users audit the rules on their own output and how the rules are
//! evaluated. `--explain` says on stderr which rule fired where.
//!
//! The rules themselves live in the `earlyexit-scrub` crate, shared with
//! the collector; this module only wires them to stdin and stdout.

use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

use earlyexit_scrub::{LineScrubber, Scrubber};

/// `earlyexit scrub [--explain] [--disable RULE]... [--list-rules]`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Also print, on stderr, each finding as `LINE:START-END RULE` (byte offsets).
    #[arg(long)]
    pub explain: bool,
    /// Turn off a built-in rule (repeatable); see --list-rules for the names.
    #[arg(long, value_name = "RULE")]
    pub disable: Vec<String>,
    /// Print the names of the built-in rules and exit.
    #[arg(long)]
    pub list_rules: bool,
}

/// Runs the filter until stdin ends (or stdout is closed), with the rules of
/// `config` (`scrub_disable`, `scrub_rules`) and `--disable` on top.
pub fn run(args: &Args, config: &crate::config::Config) -> anyhow::Result<ExitCode> {
    if args.list_rules {
        for name in Scrubber::builtin_rule_names() {
            println!("{name}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut config = config.clone();
    config.scrub_disable.extend(args.disable.iter().cloned());
    let scrubber = crate::privacy::scrubber(&config)?;
    match filter(
        &scrubber,
        args.explain,
        io::stdin().lock(),
        io::stdout().lock(),
    ) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        other => other.map(|()| ExitCode::SUCCESS).map_err(Into::into),
    }
}

/// Scrubs `input` line by line into `output`; one line out per line in.
fn filter(
    scrubber: &Scrubber,
    explain: bool,
    input: impl BufRead,
    output: impl Write,
) -> io::Result<()> {
    let mut lines = LineScrubber::new(scrubber);
    let mut out = BufWriter::new(output);
    let stderr = io::stderr();
    for (number, raw) in input.split(b'\n').enumerate() {
        let mut raw = raw?;
        let crlf = raw.last() == Some(&b'\r');
        if crlf {
            raw.pop();
        }
        let line = String::from_utf8_lossy(&raw);
        if explain {
            let mut err = stderr.lock();
            if lines.in_private_key() {
                writeln!(err, "{}:0-{} private-key", number + 1, line.len())?;
            }
            for finding in scrubber.explain(&line) {
                writeln!(
                    err,
                    "{}:{}-{} {}",
                    number + 1,
                    finding.start,
                    finding.end,
                    finding.rule
                )?;
            }
        }
        out.write_all(lines.scrub_line(&line).as_bytes())?;
        out.write_all(if crlf { b"\r\n" } else { b"\n" })?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_filter(input: &str) -> String {
        let scrubber = Scrubber::builder().build().unwrap();
        let mut out = Vec::new();
        filter(&scrubber, false, input.as_bytes(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn one_line_out_per_line_in_with_secrets_replaced() {
        let input = "ok line\nexport GITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345\r\nmail bob@acme-corp.io\n";
        let out = run_filter(input);
        assert_eq!(out.lines().count(), 3);
        assert!(!out.contains("ghp_0123456789"), "{out}");
        assert!(!out.contains("bob@acme-corp.io"), "{out}");
        assert!(out.starts_with("ok line\n"));
        assert!(out.contains("\r\n"), "CRLF kept");
    }

    #[test]
    fn a_private_key_block_keeps_its_line_count() {
        let input = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx1y2abc\nQmFzZTY0Ym9keWxpbmU=\n-----END RSA PRIVATE KEY-----\nafter\n";
        let out = run_filter(input);
        assert_eq!(out.lines().count(), 5);
        assert!(!out.contains("MIIEowIBAAKCAQEAx1y2abc"), "{out}");
        assert!(out.ends_with("after\n"));
    }

    #[test]
    fn an_unknown_rule_name_is_an_error_listing_the_known_ones() {
        let err = Scrubber::builder()
            .disable("no-such-rule")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("no-such-rule"), "{err}");
    }
}
