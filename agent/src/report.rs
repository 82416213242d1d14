//! After a run: the exit code, the telemetry record, the human summary on
//! stderr and the `--json` summary object.
//!
//! Pure functions of the plan and the outcome; nothing here runs or stops
//! processes, and nothing here writes the database (`store` does).

use std::fmt::Write as _;
use std::time::{Duration, Instant, UNIX_EPOCH};

use earlyexit_scrub::sha256_hex;
use serde_json::json;

use crate::config::TelemetryLevel;
use crate::matcher::HitKind;
use crate::record::{
    Execution, ExitReason, FpRecord, MatchEvent, MatchVerdict, OutputSample, PerformanceMetric,
    RunRecord,
};
use crate::run::{Outcome, RunPlan, signal_name};
use crate::watch::RecordedHit;

/// Exit codes of the default (earlyexit-compatible) style.
pub mod codes {
    /// An error pattern matched.
    pub const MATCHED: u8 = 0;
    /// No error pattern matched (also: a success pattern ended the run).
    pub const NO_MATCH: u8 = 1;
    /// Any timeout, or a stuck line.
    pub const TIMEOUT: u8 = 2;
    /// Usage or internal error.
    pub const ERROR: u8 = 3;
    /// `--unix-exit-codes`: any timeout.
    pub const UNIX_TIMEOUT: u8 = 124;
    /// `--unix-exit-codes`: earlyexit's own error.
    pub const UNIX_ERROR: u8 = 125;
}

/// earlyexit's exit code for `outcome`.
///
/// Default style: 0 matched, 1 no match (or success pattern), 2 timeout or
/// stuck, 3 error, 128+N when interrupted by signal N. Unix style: the
/// child's own status when it ran to completion, 1 on match, 0 on success
/// pattern, 124 on any timeout, 125 on earlyexit's error, 128+N when
/// interrupted.
pub fn exit_code(plan: &RunPlan, outcome: &Outcome) -> u8 {
    let interrupted = 128u8.saturating_add(outcome.signal.unwrap_or(0).clamp(0, 127) as u8);
    if plan.unix_exit_codes {
        match outcome.reason {
            ExitReason::Match => 1,
            ExitReason::SuccessPattern => 0,
            ExitReason::Completed => match outcome.child {
                Some(child) => match (child.code, child.signal) {
                    (Some(code), _) => code.clamp(0, 255) as u8,
                    (None, Some(sig)) => 128u8.saturating_add(sig.clamp(0, 127) as u8),
                    _ => 0,
                },
                None => 0,
            },
            reason if reason.is_timeout() => codes::UNIX_TIMEOUT,
            ExitReason::Interrupted => interrupted,
            _ => codes::UNIX_ERROR,
        }
    } else {
        match outcome.reason {
            ExitReason::Match => codes::MATCHED,
            ExitReason::SuccessPattern | ExitReason::Completed => codes::NO_MATCH,
            reason if reason.is_timeout() => codes::TIMEOUT,
            ExitReason::Interrupted => interrupted,
            _ => codes::ERROR,
        }
    }
}

/// Counted matches and success hits of all streams, in time order: the
/// first `max_count` error hits (all when it is 0) and every success hit.
pub fn counted_hits(plan: &RunPlan, outcome: &Outcome) -> Vec<(String, RecordedHit)> {
    let mut all: Vec<(String, RecordedHit)> = outcome
        .streams
        .iter()
        .flat_map(|s| {
            s.report
                .hits
                .iter()
                .filter(|h| !h.suppressed)
                .map(|h| (s.name.clone(), h.clone()))
        })
        .collect();
    all.sort_by_key(|(_, h)| h.at);
    let mut errors = 0u64;
    all.retain(|(_, h)| match h.kind {
        HitKind::Success => true,
        HitKind::Error => {
            errors += 1;
            plan.max_count == 0 || errors <= plan.max_count
        }
    });
    all
}

/// Every hit a run records: the [`counted_hits`] and the error hits
/// `fp_filter: enforce` suppressed, in time order.
pub fn recorded_hits(plan: &RunPlan, outcome: &Outcome) -> Vec<(String, RecordedHit)> {
    let mut all = counted_hits(plan, outcome);
    all.extend(outcome.streams.iter().flat_map(|s| {
        s.report
            .hits
            .iter()
            .filter(|h| h.suppressed)
            .map(|h| (s.name.clone(), h.clone()))
    }));
    all.sort_by_key(|(_, h)| h.at);
    all
}

/// The filter's verdicts on `hits` (as [`recorded_hits`] orders them):
/// those scored as they came, and in `annotate` (or `enforce`, for hits
/// not scored yet) the first [`MAX_ANNOTATED_MATCHES`] error hits scored now.
///
/// [`MAX_ANNOTATED_MATCHES`]: crate::learn::fp::MAX_ANNOTATED_MATCHES
fn verdicts(plan: &RunPlan, hits: &[(String, RecordedHit)]) -> FpRecord {
    let mut scored = 0;
    let matches = hits
        .iter()
        .map(|(_, h)| {
            let verdict = match (h.verdict, h.kind) {
                (Some(v), _) => Some(v),
                (None, HitKind::Error)
                    if plan.fp.scores() && scored < crate::learn::fp::MAX_ANNOTATED_MATCHES =>
                {
                    scored += 1;
                    Some(crate::learn::fp::score_line(
                        &h.line,
                        h.before.last().map(String::as_str),
                    ))
                }
                _ => None,
            };
            MatchVerdict {
                verdict,
                suppressed: h.suppressed,
            }
        })
        .collect();
    FpRecord {
        mode: Some(plan.fp.mode.as_str().to_string()),
        matches,
    }
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e6
}

fn since(start: Instant, at: Instant) -> f64 {
    secs(at.saturating_duration_since(start))
}

/// Shell-quotes argv for display and hashing.
pub fn quote_command(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%^".contains(&b));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Builds the telemetry record of a finished run, recorded at `telemetry`.
pub fn build_record(
    plan: &RunPlan,
    telemetry: TelemetryLevel,
    outcome: &Outcome,
    execution_id: &str,
    exit_code: u8,
) -> RunRecord {
    let context = outcome
        .context
        .clone()
        .unwrap_or_else(|| crate::context::RunContext::gather(&plan.argv));
    let command = if plan.command_mode() {
        quote_command(&plan.argv)
    } else {
        "<pipe>".to_string()
    };
    let system = &context.system;
    let hits = counted_hits(plan, outcome);
    let start = outcome.start;
    let stream = |name: &str| outcome.streams.iter().find(|s| s.name == name);
    let lines_of = |name: &str| stream(name).map_or(0, |s| s.report.lines as i64);
    let bytes_of = |name: &str| stream(name).map_or(0, |s| s.report.bytes as i64);
    let main_stream = if plan.command_mode() {
        "stdout"
    } else {
        "stdin"
    };
    let total_lines: i64 = outcome.streams.iter().map(|s| s.report.lines as i64).sum();
    let total_bytes: i64 = outcome.streams.iter().map(|s| s.report.bytes as i64).sum();
    let fd_lines: i64 = outcome
        .streams
        .iter()
        .filter(|s| s.name.starts_with("fd"))
        .map(|s| s.report.lines as i64)
        .sum();
    let error_hits: Vec<&(String, RecordedHit)> = hits
        .iter()
        .filter(|(_, h)| h.kind == HitKind::Error)
        .collect();
    let patterns = |ps: &[crate::matcher::SourcedPattern]| {
        serde_json::to_string(&ps.iter().map(|p| p.text.as_str()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let fd_patterns: serde_json::Map<String, serde_json::Value> = plan
        .fd_patterns
        .iter()
        .map(|(fd, ps)| {
            (
                fd.to_string(),
                json!(
                    ps.iter()
                        .map(|p| p.text.as_str())
                        .collect::<Vec<_>>()
                        .join("|")
                ),
            )
        })
        .collect();

    let execution = Execution {
        execution_id: execution_id.to_string(),
        started_at_ms: outcome
            .started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
        mode: if plan.command_mode() {
            "command"
        } else {
            "pipe"
        }
        .to_string(),
        command_hash: sha256_hex(&command),
        command,
        program: plan.argv.first().map(|p| {
            std::path::Path::new(p)
                .file_name()
                .map_or_else(|| p.clone(), |n| n.to_string_lossy().into_owned())
        }),
        working_directory: context.cwd.to_string_lossy().into_owned(),
        environment_vars: context.environment_vars.clone(),
        pattern: plan
            .patterns
            .iter()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join("|"),
        pattern_type: if plan.options.perl { "pcre" } else { "regex" }.to_string(),
        case_insensitive: plan.options.ignore_case,
        invert_match: plan.options.invert,
        word_regexp: plan.options.word,
        line_regexp: plan.options.whole_line,
        max_count: plan.max_count as i64,
        exclude_patterns: patterns(&plan.exclude),
        success_patterns: patterns(&plan.success),
        match_mode: plan.match_mode.as_str().to_string(),
        fd_patterns: serde_json::Value::Object(fd_patterns).to_string(),
        monitored_fds: serde_json::to_string(&plan.extra_fds).unwrap_or_default(),
        pty: plan.pty,
        overall_timeout: plan.timeout.map(secs),
        idle_timeout: plan.idle_timeout.map(secs),
        first_output_timeout: plan.first_output_timeout.map(secs),
        delay_exit: secs(plan.delay_exit),
        delay_exit_after_lines: plan.delay_exit_after_lines.map(|n| n as i64),
        max_repeat: plan.max_repeat.map(|n| n as i64),
        kill_grace: secs(plan.kill_grace),
        exit_code: i64::from(exit_code),
        exit_reason: outcome.reason,
        child_exit_code: outcome.child.and_then(|c| c.code).map(i64::from),
        child_signal: outcome.child.and_then(|c| c.signal).map(i64::from),
        error_message: (outcome.reason == ExitReason::Error)
            .then(|| outcome.detail.clone())
            .flatten(),
        total_runtime: since(start, outcome.end),
        time_to_first_output: outcome.first_output.map(secs),
        time_to_first_match: outcome.first_match_at.map(|at| since(start, at)),
        time_from_match_to_exit: outcome.first_match_at.map(|at| since(at, outcome.end)),
        idle_periods_count: outcome.idle.0 as i64,
        longest_idle_period: (outcome.idle.1 * 1e6).round() / 1e6,
        // Every error hit counts, also those past the ones kept in detail
        // (`watch::MAX_RECORDED_HITS` per stream).
        match_count: (error_hits.len() as u64).max(if plan.max_count == 0 {
            outcome.error_matches
        } else {
            outcome.error_matches.min(plan.max_count)
        }) as i64,
        match_line_numbers: serde_json::to_string(
            &error_hits
                .iter()
                .map(|(_, h)| h.line_number)
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default(),
        total_lines_processed: total_lines,
        stdout_lines: lines_of(main_stream),
        stderr_lines: lines_of("stderr"),
        fd_lines,
        bytes_processed: total_bytes,
        stdout_bytes: bytes_of(main_stream),
        stderr_bytes: bytes_of("stderr"),
        project_type: context.project_type.to_string(),
        command_category: context.command_category.to_string(),
        load_avg_1m: system.load_avg_1m,
        mem_available_mb: system.mem_available_mb,
        disk_free_mb: system.disk_free_mb,
        telemetry_level: telemetry.as_str().to_string(),
        earlyexit_version: env!("CARGO_PKG_VERSION").to_string(),
    };

    let recorded = recorded_hits(plan, outcome);
    let fp = verdicts(plan, &recorded);
    let matches: Vec<MatchEvent> = recorded
        .iter()
        .enumerate()
        .map(|(i, (name, h))| MatchEvent {
            match_number: i as i64 + 1,
            timestamp_offset: since(start, h.at),
            stream_source: name.clone(),
            line_number: h.line_number as i64,
            line_content: h.line.clone(),
            matched_substring: h.line.get(h.start..h.end).unwrap_or_default().to_string(),
            match_position_start: h.start as i64,
            match_position_end: h.end as i64,
            context_before: last_n(
                &h.before,
                crate::record::MATCH_CONTEXT_LINES.max(plan.print_before),
            )
            .join("\n"),
            context_after: h.after.join("\n"),
            kind: match h.kind {
                HitKind::Error => "error",
                HitKind::Success => "success",
            }
            .to_string(),
        })
        .collect();

    // Cut around the same hits as `matches`, in the same order, so sample
    // i carries the verdict of match i (see `record::FpRecord`).
    let mut samples: Vec<OutputSample> = recorded
        .iter()
        .take(5)
        .map(|(name, h)| {
            let mut block = h.before.clone();
            block.push(h.line.clone());
            block.extend(h.after.iter().cloned());
            sample("match_context", name, since(start, h.at), block.join("\n"))
        })
        .collect();
    if !matches!(outcome.reason, ExitReason::Completed | ExitReason::Match)
        || outcome.child.and_then(|c| c.code).unwrap_or(0) != 0
    {
        for s in &outcome.streams {
            if !s.report.tail.is_empty() {
                samples.push(sample(
                    "tail",
                    &s.name,
                    since(start, outcome.end),
                    s.report.tail.join("\n"),
                ));
            }
        }
    }

    let mut metrics = Vec::new();
    if let Some(child) = outcome.child {
        let at = since(start, outcome.end);
        metrics.push(PerformanceMetric {
            metric_name: "peak_rss_mb".into(),
            metric_value: child.max_rss_kib as f64 / 1024.0,
            timestamp_offset: at,
        });
        metrics.push(PerformanceMetric {
            metric_name: "cpu_user_seconds".into(),
            metric_value: secs(child.user_cpu),
            timestamp_offset: at,
        });
        metrics.push(PerformanceMetric {
            metric_name: "cpu_system_seconds".into(),
            metric_value: secs(child.system_cpu),
            timestamp_offset: at,
        });
    }
    RunRecord {
        execution,
        matches,
        samples,
        metrics,
        fp,
    }
}

/// `0.42s`, `12.3s`, `4m05s`: short and readable.
fn human_secs(secs: f64) -> String {
    if secs < 10.0 {
        format!("{secs:.2}s")
    } else if secs < 120.0 {
        format!("{secs:.1}s")
    } else {
        let whole = secs.round() as u64;
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

fn last_n(lines: &[String], n: usize) -> &[String] {
    &lines[lines.len().saturating_sub(n)..]
}

fn sample(kind: &'static str, stream: &str, at: f64, content: String) -> OutputSample {
    OutputSample {
        sample_type: kind.to_string(),
        stream_source: stream.to_string(),
        timestamp_offset: at,
        content_hash: sha256_hex(&content),
        content,
    }
}

/// The human summary printed on stderr at the end (nothing for a plain
/// completion without matches).
pub fn human_summary(plan: &RunPlan, outcome: &Outcome) -> String {
    let mut out = String::new();
    let elapsed = human_secs(since(outcome.start, outcome.end));
    let stopped = match outcome.termination {
        Some(t) if t.kill_sent => format!(
            "; stopped the command with SIGKILL after the {} grace period",
            crate::duration::format_duration(plan.kill_grace)
        ),
        Some(_) => "; stopped the command".to_string(),
        None => String::new(),
    };
    match outcome.reason {
        ExitReason::Match | ExitReason::SuccessPattern => {
            let hits = counted_hits(plan, outcome);
            let what = if outcome.reason == ExitReason::Match {
                "matched"
            } else {
                "success pattern matched"
            };
            for (name, h) in hits.iter().take(5) {
                let _ = writeln!(
                    out,
                    "earlyexit: {what} {name}:{}: {}",
                    h.line_number, h.line
                );
                for line in last_n(&h.before, plan.print_before) {
                    let _ = writeln!(out, "  | {line}");
                }
                for line in h.after.iter().take(plan.print_after) {
                    let _ = writeln!(out, "  | {line}");
                }
            }
            if hits.len() > 5 {
                let _ = writeln!(out, "earlyexit: … and {} more matches", hits.len() - 5);
            }
            if !stopped.is_empty() {
                let _ = writeln!(out, "earlyexit: after {elapsed}{stopped}");
            }
        }
        ExitReason::Completed => {}
        ExitReason::Error => {
            let _ = writeln!(
                out,
                "earlyexit: error: {}",
                outcome.detail.as_deref().unwrap_or("unknown error")
            );
        }
        reason => {
            // Timeout details already say how long; others get the elapsed time.
            let when = if reason.is_timeout() && reason != ExitReason::Stuck {
                String::new()
            } else {
                format!(" (after {elapsed})")
            };
            let _ = writeln!(
                out,
                "earlyexit: {}{when}{stopped}",
                outcome.detail.as_deref().unwrap_or(reason.as_str())
            );
        }
    }
    let suppressed: Vec<(String, RecordedHit)> = recorded_hits(plan, outcome)
        .into_iter()
        .filter(|(_, h)| h.suppressed)
        .collect();
    if let Some((name, h)) = suppressed.first() {
        let _ = writeln!(
            out,
            "earlyexit: ignored {} match{} the line classifier called noise (fp_filter: enforce), first {name}:{}: {}{}",
            suppressed.len(),
            if suppressed.len() == 1 { "" } else { "es" },
            h.line_number,
            h.line,
            h.verdict
                .map(|v| format!(" ({})", v.describe()))
                .unwrap_or_default(),
        );
    }
    if let Some(t) = outcome.termination
        && t.survived
    {
        let _ = writeln!(
            out,
            "earlyexit: warning: some processes of the command survived SIGKILL (uninterruptible sleep?)"
        );
    }
    out
}

/// The `--json` summary: one object, one line.
pub fn json_summary(
    plan: &RunPlan,
    outcome: &Outcome,
    record: &RunRecord,
    telemetry: Result<Option<crate::recorder::Recorded>, String>,
) -> serde_json::Value {
    let e = &record.execution;
    let matches: Vec<serde_json::Value> = record
        .matches
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let verdict = record.fp.verdict(i);
            json!({
                "suppressed": record.fp.is_suppressed(i),
                "verdict": verdict.map(|v| v.describe()),
                "is_error": verdict.map(|v| v.is_error),
                "confidence": verdict.map(|v| (v.confidence * 1000.0).round() / 1000.0),
                "kind": m.kind,
                "stream": m.stream_source,
                "line_number": m.line_number,
                "line": m.line_content,
                "matched": m.matched_substring,
                "time": m.timestamp_offset,
                "context_before": last_n(&split_lines(&m.context_before), plan.print_before.max(3)),
                "context_after": split_lines(&m.context_after),
            })
        })
        .collect();
    json!({
        "execution_id": e.execution_id,
        "exit_code": e.exit_code,
        "exit_reason": e.exit_reason.as_str(),
        "detail": outcome.detail,
        "command": if plan.command_mode() { Some(&e.command) } else { None },
        "mode": e.mode,
        "child": {
            "exit_code": e.child_exit_code,
            "signal": e.child_signal,
            "signal_name": e.child_signal.map(|s| signal_name(s as i32)),
        },
        "stopped": outcome.termination.map(|t| json!({
            "sigterm": t.term_sent, "sigkill": t.kill_sent, "survivors": t.survived,
        })),
        "match_count": e.match_count,
        "suppressed_matches": record.fp.suppressed(),
        "fp_filter": record.fp.mode,
        "matches": matches,
        "timings": {
            "total_runtime": e.total_runtime,
            "time_to_first_output": e.time_to_first_output,
            "time_to_first_match": e.time_to_first_match,
            "time_from_match_to_exit": e.time_from_match_to_exit,
            "longest_idle_period": e.longest_idle_period,
        },
        "lines": {
            "total": e.total_lines_processed,
            "stdout": e.stdout_lines,
            "stderr": e.stderr_lines,
        },
        "bytes": e.bytes_processed,
        "telemetry": match telemetry {
            Ok(None) => json!({"level": e.telemetry_level, "recorded": false}),
            Ok(Some(place)) => json!({
                "level": e.telemetry_level,
                "recorded": true,
                "stored_in": match place {
                    crate::recorder::Recorded::Database => "database",
                    crate::recorder::Recorded::Spool => "spool",
                },
            }),
            Err(error) => json!({"level": e.telemetry_level, "recorded": false, "error": error}),
        },
    })
}

fn split_lines(text: &str) -> Vec<String> {
    if text.is_empty() {
        Vec::new()
    } else {
        text.split('\n').map(str::to_string).collect()
    }
}
