//! How `earlyexit-collector runs` prints stored runs: an aligned table for
//! people, or JSON (one array), JSON Lines (one object a line) or CSV (a
//! header, then a row per run) for scripts.
//!
//! Owns the formats only; the rows come from `Store::runs`.

use std::io::Write;

use crate::store::StoredRun;

/// An output format of `runs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RunsFormat {
    /// Aligned columns, times in UTC.
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// A header line, then one row per run (RFC 4180 quoting).
    Csv,
}

/// The CSV and JSON field names, in order.
pub const FIELDS: [&str; 17] = [
    "org",
    "agent_id",
    "execution_id",
    "started_at_ms",
    "received_at_ms",
    "program",
    "command_category",
    "project_type",
    "exit_reason",
    "child_exit_code",
    "runtime_s",
    "first_match_s",
    "match_count",
    "bytes",
    "bundle_version",
    "agent_version",
    "telemetry_level",
];

fn opt<T: ToString>(v: Option<&T>) -> String {
    v.map(ToString::to_string).unwrap_or_default()
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

fn values(r: &StoredRun) -> [String; 17] {
    [
        r.org.clone(),
        r.agent_id.clone(),
        r.execution_id.clone(),
        r.started_at_ms.to_string(),
        r.received_at_ms.to_string(),
        opt(r.program.as_ref()),
        r.command_category.clone(),
        opt(r.project_type.as_ref()),
        r.exit_reason.clone(),
        opt(r.child_exit_code.as_ref()),
        opt(r.runtime_s.as_ref()),
        opt(r.first_match_s.as_ref()),
        opt(r.match_count.as_ref()),
        opt(r.bytes.as_ref()),
        opt(r.bundle_version.as_ref()),
        opt(r.agent_version.as_ref()),
        r.telemetry_level.clone(),
    ]
}

fn started(ms: i64) -> String {
    let at =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

/// Writes `runs` to `out` in `format`.
pub fn write(out: &mut impl Write, runs: &[StoredRun], format: RunsFormat) -> std::io::Result<()> {
    match format {
        RunsFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, runs)?;
            writeln!(out)
        }
        RunsFormat::Jsonl => {
            for r in runs {
                serde_json::to_writer(&mut *out, r)?;
                writeln!(out)?;
            }
            Ok(())
        }
        RunsFormat::Csv => {
            writeln!(out, "{}", FIELDS.join(","))?;
            for r in runs {
                let row: Vec<String> = values(r).iter().map(|v| csv_field(v)).collect();
                writeln!(out, "{}", row.join(","))?;
            }
            Ok(())
        }
        RunsFormat::Table => {
            let header = [
                "STARTED", "ORG", "AGENT", "PROGRAM", "CATEGORY", "PROJECT", "EXIT", "CODE",
                "RUNTIME", "MATCHES",
            ];
            let rows: Vec<[String; 10]> = runs
                .iter()
                .map(|r| {
                    [
                        started(r.started_at_ms),
                        r.org.clone(),
                        r.agent_id.clone(),
                        r.program.clone().unwrap_or_else(|| "-".into()),
                        r.command_category.clone(),
                        r.project_type.clone().unwrap_or_else(|| "-".into()),
                        r.exit_reason.clone(),
                        r.child_exit_code
                            .map_or_else(|| "-".into(), |c| c.to_string()),
                        r.runtime_s
                            .map_or_else(|| "-".into(), |s| format!("{s:.1}s")),
                        r.match_count.map_or_else(|| "-".into(), |c| c.to_string()),
                    ]
                })
                .collect();
            let mut widths = header.map(str::len);
            for row in &rows {
                for (w, v) in widths.iter_mut().zip(row) {
                    *w = (*w).max(v.chars().count());
                }
            }
            let line = |cells: Vec<&str>| {
                let mut s = String::new();
                for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
                    // Numbers right-aligned, text left-aligned.
                    if i >= 7 {
                        s.push_str(&format!("{c:>w$}  "));
                    } else {
                        s.push_str(&format!("{c:<w$}  "));
                    }
                }
                s.trim_end().to_owned()
            };
            writeln!(out, "{}", line(header.to_vec()))?;
            for row in &rows {
                writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> StoredRun {
        StoredRun {
            org: "acme".into(),
            agent_id: "ci-1".into(),
            execution_id: "e1".into(),
            started_at_ms: 1_764_633_600_000,
            received_at_ms: 1_764_633_601_000,
            program: Some("cargo".into()),
            command_category: "test".into(),
            project_type: Some("rust".into()),
            exit_reason: "match".into(),
            child_exit_code: None,
            runtime_s: Some(4.25),
            first_match_s: Some(3.5),
            match_count: Some(1),
            bytes: Some(900),
            bundle_version: Some("patterns:3,models:1".into()),
            agent_version: Some("0.1.0".into()),
            telemetry_level: "anonymous".into(),
        }
    }

    #[test]
    fn every_format_carries_the_columns() {
        let mut out = Vec::new();
        write(&mut out, &[run()], RunsFormat::Csv).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap().split(',').count(), FIELDS.len());
        assert_eq!(
            lines.next().unwrap(),
            "acme,ci-1,e1,1764633600000,1764633601000,cargo,test,rust,match,,4.25,3.5,1,900,\"patterns:3,models:1\",0.1.0,anonymous"
        );

        let mut out = Vec::new();
        write(&mut out, &[run(), run()], RunsFormat::Jsonl).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2);
        let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        for f in FIELDS {
            assert!(v.get(f).is_some(), "{f} missing from JSON");
        }

        let mut out = Vec::new();
        write(&mut out, &[run()], RunsFormat::Table).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("STARTED"), "{text}");
        assert!(text.contains("2025-12-02T00:00:00Z  acme  ci-1"), "{text}");
        assert!(text.contains("4.2s") || text.contains("4.3s"), "{text}");
    }
}
