//! The write-behind spool: runs that ended before the database was worth
//! opening are appended here (one frame each, `telemetry.db.spool`, mode
//! 0600) and moved into the database in one transaction later — by the
//! next run that opens the database for itself (any run past
//! `run::LONG_RUN`), by the first run that finds the spool over
//! [`SPOOL_INGEST_BYTES`] or its oldest run older than [`SPOOL_MAX_AGE`],
//! or by `stats`, `export`, `clear-data` and `sync`, which always read it
//! first. So the database is never more than [`SPOOL_MAX_AGE`] behind the
//! runs made since, and runs are stored in the order they ended.
//!
//! Why: opening SQLite through sqlx costs a few milliseconds, more than a
//! short command takes. Appending a line costs microseconds, so a run never
//! waits for the database unless a batch is due.
//!
//! Appends and batch reads hold an exclusive `flock` on the spool, so
//! concurrent runs never interleave lines and a batch is never read while a
//! run is half-way through appending. A batch is cleared only after the
//! database committed it; ingesting skips runs already stored, so a crash
//! between the two loses and duplicates nothing. At [`SPOOL_MAX_BYTES`] a
//! run is not spooled and the caller warns: the spool only grows that large
//! when the database has been unusable for many runs.
//!
//! A frame is a format byte ([`FRAME_FORMAT`]), the payload length (u32,
//! little-endian) and the run encoded with postcard. The first frame of a
//! spool is a header ([`HEADER_FORMAT`]: the time its first run was
//! appended, ms since the epoch, i64 little-endian), so a run can tell how
//! long the oldest run has waited with one 13-byte read; a spool without
//! one (written by an older version) counts as overdue — compact and several
//! times faster to write than JSON, which matters for runs that recorded
//! thousands of matches. A frame cut short by a crash, or of a format this
//! version does not know, is skipped and counted.
//!
//! This module never opens the database; `store` ingests batches.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::record::RunRecord;

/// A spool this large is moved into the database at the end of the run that
/// made it so (4 MiB: a thousand typical runs of a few KiB, or a handful
/// of runs that recorded thousands of matches).
pub const SPOOL_INGEST_BYTES: u64 = 4 * 1024 * 1024;

/// A run that would grow the spool past this is not kept (16 MiB).
pub const SPOOL_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// A run spooled this long ago is moved into the database by the next run,
/// however short (60 s: the database is never more than a minute behind,
/// and a burst of short runs opens it at most once a minute).
pub const SPOOL_MAX_AGE: Duration = Duration::from_secs(60);

/// The encoding of the frames this version writes (postcard, `RunRecord` v2:
/// with the false-positive filter's verdicts).
pub const FRAME_FORMAT: u8 = 2;

/// Frames written before the false-positive filter (postcard, `RunRecord`
/// v1: no `fp`); still read, with no verdicts.
pub const FRAME_FORMAT_V1: u8 = 1;

/// `RunRecord` as format [`FRAME_FORMAT_V1`] encoded it.
#[derive(serde::Deserialize)]
struct RunRecordV1 {
    execution: crate::record::Execution,
    matches: Vec<crate::record::MatchEvent>,
    samples: Vec<crate::record::OutputSample>,
    metrics: Vec<crate::record::PerformanceMetric>,
}

impl From<RunRecordV1> for RunRecord {
    fn from(v1: RunRecordV1) -> RunRecord {
        RunRecord {
            execution: v1.execution,
            matches: v1.matches,
            samples: v1.samples,
            metrics: v1.metrics,
            fp: Default::default(),
        }
    }
}

/// The format byte of the header frame that opens a spool (see the module
/// documentation); older versions skip it as an unknown frame.
pub const HEADER_FORMAT: u8 = 0;

/// Bytes of the header frame: format, length, the i64 time.
const HEADER_LEN: usize = 1 + 4 + 8;

/// The spool after an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Its size in bytes.
    pub size: u64,
    /// When its oldest run was appended, ms since the epoch; `None` when
    /// that is not known (a spool from an older version).
    pub oldest_ms: Option<i64>,
}

impl Appended {
    /// Whether the spool should be moved into the database now, `now_ms`
    /// being the current time: it reached [`SPOOL_INGEST_BYTES`], or its
    /// oldest run has waited [`SPOOL_MAX_AGE`] (or for an unknown time).
    pub fn is_due(&self, now_ms: i64) -> bool {
        self.size >= SPOOL_INGEST_BYTES
            || self.oldest_ms.is_none_or(|oldest| {
                now_ms.saturating_sub(oldest) >= SPOOL_MAX_AGE.as_millis() as i64
            })
    }
}

/// The spool beside database `db`: `telemetry.db` → `telemetry.db.spool`.
pub fn spool_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_os_string();
    name.push(".spool");
    PathBuf::from(name)
}

/// Why the spool could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Reading or writing the spool file failed.
    #[error("cannot use the telemetry spool {}: {source}; check the directory, or pass --db PATH / --no-telemetry", path.display())]
    Io {
        /// The spool file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The spool reached [`SPOOL_MAX_BYTES`].
    #[error("the telemetry spool {} is full ({} MiB): the database has not been writable for many runs; run `earlyexit stats` to see why", path.display(), SPOOL_MAX_BYTES >> 20)]
    Full {
        /// The spool file.
        path: PathBuf,
    },
    /// A run could not be encoded.
    #[error("cannot encode the run for the telemetry spool: {0}")]
    Encode(#[from] postcard::Error),
}

/// Appends `run` to the spool at `path`, creating it (mode 0600, and its
/// directory, mode 0700) when missing; `now_ms` is the time written to the
/// header of a new spool. Returns the spool's size afterwards and the age
/// of its oldest run.
pub fn append(path: &Path, run: &RunRecord, now_ms: i64) -> Result<Appended, SpoolError> {
    let io_err = |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    };
    crate::private_file::create_parent(path).map_err(io_err)?;
    let payload = postcard::to_stdvec(run)?;
    let mut frames = Vec::with_capacity(HEADER_LEN + payload.len() + 5);
    let mut file = crate::private_file::open_append(path).map_err(io_err)?;
    file.lock().map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    let size = meta.len();
    let oldest_ms = if size == 0 {
        frames.push(HEADER_FORMAT);
        frames.extend_from_slice(&8u32.to_le_bytes());
        frames.extend_from_slice(&now_ms.to_le_bytes());
        Some(now_ms)
    } else {
        let mut header = [0u8; HEADER_LEN];
        file.read_exact_at(&mut header, 0)
            .ok()
            .and_then(|()| decode_header(&header))
    };
    frames.push(FRAME_FORMAT);
    frames.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frames.extend_from_slice(&payload);
    if size + frames.len() as u64 > SPOOL_MAX_BYTES {
        return Err(SpoolError::Full {
            path: path.to_path_buf(),
        });
    }
    // One write of the whole frame while holding the lock.
    file.write_all(&frames).map_err(io_err)?;
    Ok(Appended {
        size: size + frames.len() as u64,
        oldest_ms,
    })
}

/// The time in a header frame, `None` when `frame` is not one.
fn decode_header(frame: &[u8]) -> Option<i64> {
    match frame {
        [HEADER_FORMAT, 8, 0, 0, 0, time @ ..] => Some(i64::from_le_bytes(time.try_into().ok()?)),
        _ => None,
    }
}

/// The spool's size, 0 when there is none.
pub fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Runs taken from the spool, still locked: clear it with [`Batch::clear`]
/// once they are stored; dropping the batch leaves the spool as it was.
#[derive(Debug)]
pub struct Batch {
    file: File,
    path: PathBuf,
    /// The runs, in the order they were spooled.
    pub runs: Vec<RunRecord>,
    /// Frames that were not a run (cut short by a crash, unknown format).
    pub skipped: usize,
}

impl Batch {
    /// Empties the spool; the lock is released when this returns.
    pub fn clear(self) -> Result<(), SpoolError> {
        self.file.set_len(0).map_err(|source| SpoolError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// Locks the spool at `path` and reads every run in it; `None` when there
/// is no spool or it is empty.
pub fn take(path: &Path) -> Result<Option<Batch>, SpoolError> {
    let io_err = |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(e)),
    };
    file.lock().map_err(io_err)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io_err)?;
    if bytes.is_empty() {
        return Ok(None);
    }
    let (runs, skipped) = decode_frames(&bytes);
    Ok(Some(Batch {
        file,
        path: path.to_path_buf(),
        runs,
        skipped,
    }))
}

/// Decodes every frame of a spool; returns the runs and how many frames
/// were skipped (cut short, unknown format, undecodable).
fn decode_frames(mut bytes: &[u8]) -> (Vec<RunRecord>, usize) {
    let mut runs = Vec::new();
    let mut skipped = 0;
    while !bytes.is_empty() {
        let header = bytes.get(..5);
        let Some(&[format, a, b, c, d]) = header else {
            skipped += 1;
            break;
        };
        let len = u32::from_le_bytes([a, b, c, d]) as usize;
        let Some(payload) = bytes.get(5..5 + len) else {
            // Cut short by a crash mid-append: nothing follows it.
            skipped += 1;
            break;
        };
        match format {
            HEADER_FORMAT if len == 8 => {}
            FRAME_FORMAT => match postcard::from_bytes::<RunRecord>(payload) {
                Ok(run) => runs.push(run),
                Err(_) => skipped += 1,
            },
            FRAME_FORMAT_V1 => match postcard::from_bytes::<RunRecordV1>(payload) {
                Ok(run) => runs.push(run.into()),
                Err(_) => skipped += 1,
            },
            _ => skipped += 1,
        }
        bytes = &bytes[5 + len..];
    }
    (runs, skipped)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::record::tests_support::sample_run;

    /// The time of the appends (ms since the epoch).
    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn append_then_take_returns_every_run_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = spool_path(&dir.path().join("telemetry.db"));
        assert!(take(&path).unwrap().is_none());
        let runs: Vec<RunRecord> = (0..3).map(|i| sample_run(1_000 + i)).collect();
        let mut last = 0;
        for run in &runs {
            let size = append(&path, run, NOW).unwrap().size;
            assert!(size > last);
            last = size;
        }
        assert_eq!(size(&path), last);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let batch = take(&path).unwrap().unwrap();
        let ids: Vec<_> = batch
            .runs
            .iter()
            .map(|r| r.execution.execution_id.clone())
            .collect();
        let want: Vec<_> = runs
            .iter()
            .map(|r| r.execution.execution_id.clone())
            .collect();
        assert_eq!(ids, want);
        assert_eq!(batch.runs[1].matches.len(), runs[1].matches.len());
        // Dropping without clearing keeps the runs.
        drop(batch);
        assert_eq!(take(&path).unwrap().unwrap().runs.len(), 3);
        take(&path).unwrap().unwrap().clear().unwrap();
        assert!(take(&path).unwrap().is_none());
    }

    #[test]
    fn a_spool_is_due_when_big_or_when_its_oldest_run_waited_a_minute() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.spool");
        let first = append(&path, &sample_run(1), NOW).unwrap();
        assert_eq!(first.oldest_ms, Some(NOW));
        let later = NOW + SPOOL_MAX_AGE.as_millis() as i64 - 1;
        let second = append(&path, &sample_run(2), later).unwrap();
        assert_eq!(
            second.oldest_ms,
            Some(NOW),
            "the header keeps the first time"
        );
        assert!(!second.is_due(later));
        assert!(second.is_due(later + 1));
        let big = Appended {
            size: SPOOL_INGEST_BYTES,
            oldest_ms: Some(NOW),
        };
        assert!(big.is_due(NOW));
        // The header is no run and no skipped frame.
        let batch = take(&path).unwrap().unwrap();
        assert_eq!((batch.runs.len(), batch.skipped), (2, 0));
        batch.clear().unwrap();
        // A cleared spool starts again with a new header.
        assert_eq!(
            append(&path, &sample_run(3), later).unwrap().oldest_ms,
            Some(later)
        );
    }

    #[test]
    fn a_run_spooled_by_the_version_before_the_fp_filter_is_still_read() {
        #[derive(serde::Serialize)]
        struct V1<'a> {
            execution: &'a crate::record::Execution,
            matches: &'a [crate::record::MatchEvent],
            samples: &'a [crate::record::OutputSample],
            metrics: &'a [crate::record::PerformanceMetric],
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.spool");
        let run = sample_run(1);
        let payload = postcard::to_stdvec(&V1 {
            execution: &run.execution,
            matches: &run.matches,
            samples: &run.samples,
            metrics: &run.metrics,
        })
        .unwrap();
        let mut frame = vec![FRAME_FORMAT_V1];
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&payload);
        std::fs::write(&path, &frame).unwrap();
        append(&path, &sample_run(2), NOW).unwrap();
        let batch = take(&path).unwrap().unwrap();
        assert_eq!((batch.runs.len(), batch.skipped), (2, 0));
        let old = &batch.runs[0];
        assert_eq!(old.execution.execution_id, run.execution.execution_id);
        assert_eq!(old.matches.len(), run.matches.len());
        assert_eq!(old.fp, crate::record::FpRecord::default());
    }

    #[test]
    fn a_spool_without_a_header_from_an_older_version_is_due() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.spool");
        let payload = postcard::to_stdvec(&sample_run(1)).unwrap();
        let mut frame = vec![FRAME_FORMAT];
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&payload);
        std::fs::write(&path, &frame).unwrap();
        let appended = append(&path, &sample_run(2), NOW).unwrap();
        assert_eq!(appended.oldest_ms, None);
        assert!(appended.is_due(NOW));
        assert_eq!(take(&path).unwrap().unwrap().runs.len(), 2);
    }

    #[test]
    fn a_torn_frame_is_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.spool");
        append(&path, &sample_run(1), NOW).unwrap();
        let whole = size(&path);
        append(&path, &sample_run(2), NOW).unwrap();
        // A crash half-way through the second append.
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(whole + 20).unwrap();
        let batch = take(&path).unwrap().unwrap();
        assert_eq!(batch.runs.len(), 1);
        assert_eq!(batch.skipped, 1);
    }

    #[test]
    fn a_frame_of_an_unknown_format_is_skipped_and_the_rest_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.spool");
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(&[99, 3, 0, 0, 0, 1, 2, 3]).unwrap();
        drop(file);
        append(&path, &sample_run(1), NOW).unwrap();
        let batch = take(&path).unwrap().unwrap();
        assert_eq!((batch.runs.len(), batch.skipped), (1, 1));
    }

    #[test]
    fn a_full_spool_refuses_the_run_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.spool");
        append(&path, &sample_run(1), NOW).unwrap();
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(SPOOL_MAX_BYTES - 10).unwrap();
        let before = size(&path);
        let err = append(&path, &sample_run(2), NOW).unwrap_err();
        assert!(matches!(err, SpoolError::Full { .. }), "{err}");
        assert!(err.to_string().contains("earlyexit stats"));
        assert_eq!(size(&path), before);
    }

    #[test]
    fn an_unusable_location_is_a_clear_error() {
        let err = append(
            Path::new("/dev/null/telemetry.db.spool"),
            &sample_run(1),
            NOW,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("/dev/null/telemetry.db.spool"),
            "{err}"
        );
    }
}
