//! A progress bar for long work (a sync backlog, an export, mining,
//! training) on stderr, only when stderr is a terminal and the work is large
//! enough to be worth one. On a pipe, a log file or a CI console nothing is
//! drawn at all, so machine-read output is never interleaved with bars.
//!
//! It owns drawing; the caller says what the work is, how big, and reports
//! progress. Everything is a no-op when hidden.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the bar is redrawn at most (10 Hz: smooth, and cheap when the
/// work reports millions of steps).
const REDRAW_HZ: u8 = 10;

/// A bar that draws only on a terminal.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar for `total` steps of `what` (e.g. "sending", "records"), shown
    /// when stderr is a terminal and `total >= min_total`.
    pub fn new(what: &str, unit: &str, total: u64, min_total: u64) -> Progress {
        Progress::with_terminal(
            what,
            unit,
            total,
            min_total,
            std::io::stderr().is_terminal(),
        )
    }

    /// [`Progress::new`] with the terminal test given (for tests and for
    /// callers that already know).
    pub fn with_terminal(
        what: &str,
        unit: &str,
        total: u64,
        min_total: u64,
        terminal: bool,
    ) -> Progress {
        if !terminal || total < min_total {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(
            Some(total),
            ProgressDrawTarget::stderr_with_hz(REDRAW_HZ),
        );
        let template = format!(
            "{what} {{bar:30.cyan/blue}} {{pos}}/{{len}} {unit} ({{percent}}%, {{per_sec}}, eta {{eta}})"
        );
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress { bar: Some(bar) }
    }

    /// Whether anything is drawn.
    pub fn is_visible(&self) -> bool {
        self.bar.is_some()
    }

    /// Sets how many steps are done.
    pub fn set(&self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    /// Adds `steps` done.
    pub fn inc(&self, steps: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(steps);
        }
    }

    /// Changes the total (work found to be larger or smaller).
    pub fn set_total(&self, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_off_a_terminal_and_for_small_work() {
        assert!(!Progress::with_terminal("x", "records", 10_000, 1000, false).is_visible());
        assert!(!Progress::with_terminal("x", "records", 999, 1000, true).is_visible());
        let shown = Progress::with_terminal("x", "records", 1000, 1000, true);
        assert!(shown.is_visible());
        shown.set(10);
        shown.inc(5);
        assert_eq!(shown.bar.as_ref().unwrap().position(), 15);
    }
}
