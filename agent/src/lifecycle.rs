//! One `earlyexit` run from its plan to its exit code: supervise the
//! command (`run`), start the database writer once the run lasts, record
//! the run (or spool it, when it was short), print the summary, and sync
//! after the run when `sync_on_exit` asks for it.
//!
//! It decides *when* each of those happens, never *how*: supervising is
//! `run`'s, the record and the summary `report`'s, writing `store`'s and
//! `spool`'s, sending `sync`'s. The supervision loop gets only the
//! [`RunPlan`]; what becomes of the record ([`TelemetryPlan`]) stays here.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::TelemetryLevel;
use crate::recorder::Recorder;
use crate::report;
use crate::run::{self, RunPlan};

/// Where a run's record goes and what happens after it is written.
#[derive(Debug, Clone)]
pub struct TelemetryPlan {
    /// Telemetry level in effect.
    pub level: TelemetryLevel,
    /// Database path.
    pub db: PathBuf,
    /// `retention_days`.
    pub retention_days: u32,
    /// `max_db_size_mb`.
    pub max_db_size_mb: u64,
    /// `anonymize_local: true`: what scrubs runs before they are stored.
    pub local_scrubber: Option<Arc<crate::privacy::Outbound>>,
    /// `sync_on_exit: true` with a collector: the push after the run is
    /// recorded (see [`crate::sync::on_exit`]).
    pub sync_on_exit: Option<crate::sync::on_exit::OnExit>,
}

/// Everything one `earlyexit` run needs, resolved from flags and config:
/// the run itself and what becomes of its record.
#[derive(Debug, Clone)]
pub struct Plan {
    /// What to run and watch, and when to stop.
    pub run: RunPlan,
    /// Where its record goes.
    pub telemetry: TelemetryPlan,
    /// `--verbose`: print the plan first.
    pub verbose: bool,
    /// What `--auto` chose, for the `--json` summary (`None` without it).
    pub auto: Option<serde_json::Value>,
}

/// Runs a plan: supervise, then record, summarise, and return the exit code.
pub fn run_plan(plan: &Plan) -> u8 {
    if plan.verbose {
        eprintln!("earlyexit: {plan:#?}");
    }
    let (run_plan, telemetry) = (&plan.run, &plan.telemetry);
    // A run that lasts opens the database (and prunes old runs) on its own
    // thread while the command runs; a short one never pays for that and
    // goes to the spool (see `spool`).
    let telemetry_on = telemetry.level != TelemetryLevel::Off;
    let mut recorder = None;
    let outcome = run::execute(run_plan, || {
        if telemetry_on {
            recorder = Some(Recorder::start(
                &telemetry.db,
                telemetry.retention_days,
                telemetry.max_db_size_mb,
            ));
        }
    });
    let code = report::exit_code(run_plan, &outcome);
    let execution_id = uuid::Uuid::now_v7().to_string();
    let mut record = report::build_record(run_plan, telemetry.level, &outcome, &execution_id, code);
    if let Some(outbound) = &telemetry.local_scrubber {
        // anonymize_local: the database gets the scrubbed record too.
        record = outbound.scrubbed_for_local(&record);
    }
    let written = match (telemetry_on, recorder) {
        (false, _) => Ok(None),
        (true, Some(recorder)) => recorder.finish(record.clone()).map(Some),
        (true, None) => crate::recorder::spool_run(
            &telemetry.db,
            &record,
            telemetry.retention_days,
            telemetry.max_db_size_mb,
        )
        .map(Some),
    }
    .map_err(|e| e.to_string());
    if run_plan.json {
        let mut summary = report::json_summary(run_plan, &outcome, &record, written.clone());
        if let Some(auto) = &plan.auto {
            summary["auto"] = auto.clone();
        }
        eprintln!("{summary}");
    } else if !run_plan.quiet {
        eprint!("{}", report::human_summary(run_plan, &outcome));
    }
    if let Err(e) = &written
        && !run_plan.json
    {
        eprintln!("earlyexit: warning: telemetry skipped: {e}");
    }
    // After the run's own record is written: never changes the exit code.
    if let Some(on_exit) = &telemetry.sync_on_exit
        && written.is_ok()
        && let Some(warning) = crate::sync::on_exit::run(on_exit, &telemetry.db)
    {
        eprintln!("{warning}");
    }
    code
}
