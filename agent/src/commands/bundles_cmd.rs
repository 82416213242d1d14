//! `earlyexit bundles list`: the pattern and model bundles this machine
//! received from its collector.
//!
//! This module presents. Receiving bundles belongs to [`crate::sync::bundles`],
//! keeping them to [`crate::store::bundles`]; it never writes the database.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::store::{KeptBundle, Store, StoreError, block_on, rfc3339_ms};

/// `earlyexit bundles`.
#[derive(clap::Subcommand, Debug)]
pub enum BundlesCommand {
    /// The bundles kept, newest version of each kind first: kind, version,
    /// size, SHA-256 and when each arrived (from `earlyexit agent` or a
    /// sync). Bundles are checked against their kind's schema before they
    /// are kept.
    List {
        /// Print one JSON array on stdout instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `earlyexit bundles …` against the database at `db`.
pub fn run(command: &BundlesCommand, db: &Path) -> anyhow::Result<ExitCode> {
    let BundlesCommand::List { json } = command;
    let kept = match block_on(async {
        let store = Store::open_existing(db).await?;
        store.list_bundles().await
    }) {
        Ok(kept) => kept,
        Err(StoreError::NotFound { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let mut out = std::io::stdout().lock();
    if *json {
        serde_json::to_writer_pretty(&mut out, &kept)?;
        writeln!(out)?;
    } else if kept.is_empty() {
        writeln!(
            out,
            "no bundles received yet (they arrive from the collector with `earlyexit agent` or `earlyexit sync`)"
        )?;
    } else {
        write!(out, "{}", table(&kept))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn table(kept: &[KeptBundle]) -> String {
    let mut text = format!(
        "{:<12} {:>8} {:>10}  {:<12}  {}\n",
        "KIND", "VERSION", "BYTES", "SHA256", "RECEIVED"
    );
    for b in kept {
        text.push_str(&format!(
            "{:<12} {:>8} {:>10}  {:<12}  {}\n",
            b.kind,
            b.version,
            b.bytes,
            &b.sha256[..b.sha256.len().min(12)],
            rfc3339_ms(b.received_at_ms)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_one_row_per_bundle_under_a_header() {
        let kept = [KeptBundle {
            kind: "patterns".into(),
            version: 7,
            sha256: "ab".repeat(32),
            bytes: 1234,
            received_at_ms: 0,
        }];
        let text = table(&kept);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("KIND"));
        assert!(
            lines[1].starts_with("patterns")
                && lines[1].contains(" 7 ")
                && lines[1].contains("1234")
        );
        assert!(lines[1].contains("abababababab ") && lines[1].contains("1970-01-01"));
    }
}
