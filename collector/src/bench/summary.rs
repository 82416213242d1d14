//! Figures over repeated rounds (min / median / max), and the breakdown of
//! a Push's acknowledgement time from the collector's `server-timing`.

use std::fmt;

/// The least, median and greatest of a figure over the rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Least value.
    pub min: f64,
    /// Median (the mean of the middle two for an even count).
    pub median: f64,
    /// Greatest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (NaN values are left out; all NaN if none).
    pub fn of(values: impl IntoIterator<Item = f64>) -> Spread {
        let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
        v.sort_by(f64::total_cmp);
        let Some((&min, &max)) = v.first().zip(v.last()) else {
            return Spread {
                min: f64::NAN,
                median: f64::NAN,
                max: f64::NAN,
            };
        };
        let mid = v.len() / 2;
        let median = if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2.0
        };
        Spread { min, median, max }
    }

    /// `min / median / max` with `decimals` digits after the point.
    pub fn show(&self, decimals: usize) -> String {
        format!(
            "{:.d$} / {:.d$} / {:.d$}",
            self.min,
            self.median,
            self.max,
            d = decimals
        )
    }
}

/// The value at quantile `q` (0..=1) of sorted `values`; NaN if empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

/// Where one acknowledged Push's time went, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PushTime {
    /// From sending to the acknowledgement, as the agent sees it.
    pub client: f64,
    /// In the handler before the writer: authentication, checks, re-scrub.
    pub prepare: f64,
    /// Waiting in the writer's queue behind other groups' transactions.
    pub queue: f64,
    /// Waiting in the writer's queue while it checkpointed the WAL.
    pub checkpoint: f64,
    /// The group transaction's statements.
    pub statements: f64,
    /// Its commit (durable sync, and any checkpoint SQLite runs there).
    pub commit: f64,
    /// From the commit's end to the handler's answer: waking the handler.
    pub wake: f64,
    /// Outside the handler: HTTP/2 on both sides, decoding, the load
    /// generator's own scheduling.
    pub outside: f64,
    /// Rows in the group transaction the batch went in with.
    pub group_rows: f64,
}

impl PushTime {
    /// Splits `client` ms by the collector's `server-timing` value; without
    /// one, all of it is `outside`.
    pub fn from_header(client: f64, header: Option<&str>) -> PushTime {
        let get = |name: &str| header.and_then(|h| timing_entry(h, name)).unwrap_or(0.0);
        let (prepare, queued, checkpoint, statements, commit) = (
            get("prepare"),
            get("queue"),
            get("checkpoint"),
            get("statements"),
            get("commit"),
        );
        let total = get("total");
        PushTime {
            client,
            prepare,
            queue: (queued - checkpoint).max(0.0),
            checkpoint,
            statements,
            commit,
            wake: (total - prepare - queued - statements - commit).max(0.0),
            outside: (client - total).max(0.0),
            group_rows: header
                .and_then(|h| timing_desc(h, "group"))
                .unwrap_or(f64::NAN),
        }
    }

    /// The mean of each part over `times`.
    pub fn mean(times: &[PushTime]) -> PushTime {
        let n = times.len().max(1) as f64;
        let sum = |f: fn(&PushTime) -> f64| times.iter().map(f).sum::<f64>() / n;
        PushTime {
            client: sum(|t| t.client),
            prepare: sum(|t| t.prepare),
            queue: sum(|t| t.queue),
            checkpoint: sum(|t| t.checkpoint),
            statements: sum(|t| t.statements),
            commit: sum(|t| t.commit),
            wake: sum(|t| t.wake),
            outside: sum(|t| t.outside),
            group_rows: sum(|t| t.group_rows),
        }
    }
}

impl fmt::Display for PushTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.1} ms = prepare {:.1} + queue {:.1} + checkpoint {:.1} + statements {:.1} + commit {:.1} + wake {:.1} + outside the handler {:.1}; groups of {:.0} rows",
            self.client,
            self.prepare,
            self.queue,
            self.checkpoint,
            self.statements,
            self.commit,
            self.wake,
            self.outside,
            self.group_rows
        )
    }
}

/// The `desc` of entry `name` in a Server-Timing value, as a number.
fn timing_desc(header: &str, name: &str) -> Option<f64> {
    header.split(',').find_map(|entry| {
        let mut parts = entry.trim().split(';');
        if parts.next()? != name {
            return None;
        }
        parts.find_map(|p| p.trim().strip_prefix("desc=")?.parse().ok())
    })
}

/// The `dur` of entry `name` in a Server-Timing value
/// (`name;dur=1.5, other;dur=2`).
fn timing_entry(header: &str, name: &str) -> Option<f64> {
    header.split(',').find_map(|entry| {
        let mut parts = entry.trim().split(';');
        if parts.next()? != name {
            return None;
        }
        parts.find_map(|p| p.trim().strip_prefix("dur=")?.parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_takes_the_middle_value() {
        let s = Spread::of([3.0, 1.0, f64::NAN, 2.0]);
        assert_eq!((s.min, s.median, s.max), (1.0, 2.0, 3.0));
        assert_eq!(Spread::of([1.0, 4.0]).median, 2.5);
        assert!(Spread::of([]).median.is_nan());
    }

    #[test]
    fn a_push_is_split_by_its_server_timing() {
        let h = "prepare;dur=1.0, queue;dur=20.5, checkpoint;dur=8.5, statements;dur=3, commit;dur=4, group;desc=1500, total;dur=30";
        let t = PushTime::from_header(40.0, Some(h));
        assert_eq!(t.queue, 12.0);
        assert_eq!(t.checkpoint, 8.5);
        assert_eq!(t.commit, 4.0);
        assert!((t.wake - 1.5).abs() < 1e-9);
        assert!((t.outside - 10.0).abs() < 1e-9);
        assert_eq!(t.group_rows, 1500.0);
        assert_eq!(PushTime::from_header(7.0, None).outside, 7.0);
    }
}
