//! Reads lines on stdin, writes exactly one scrubbed line per input line.
//!
//! This is the command `score.py` runs (see docs/PRIVACY.md). Invalid UTF-8 is
//! replaced lossily; private-key state is kept across lines. With `--explain`
//! it also prints each line's findings (rule and matched text) to stderr.

#![forbid(unsafe_code)]

use std::io::{BufRead, BufWriter, Write};

fn main() -> std::io::Result<()> {
    let explain = std::env::args().skip(1).any(|a| a == "--explain");
    let scrubber = earlyexit_scrub::Scrubber::default();
    let mut lines = earlyexit_scrub::LineScrubber::new(&scrubber);
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for raw in stdin.split(b'\n') {
        let mut raw = raw?;
        if raw.last() == Some(&b'\r') {
            raw.pop();
        }
        let line = String::from_utf8_lossy(&raw);
        if explain {
            for f in scrubber.explain(&line) {
                eprintln!("{}: {:?}", f.rule, &line[f.start..f.end]);
            }
        }
        out.write_all(lines.scrub_line(&line).as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
