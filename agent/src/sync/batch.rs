//! Splits shaped records into push batches bounded in count
//! ([`MAX_BATCH_RECORDS`]) and encoded size ([`MAX_BATCH_BYTES`]), keeping
//! their order. A record too large for any batch is set aside, to be marked
//! rejected: sending it could never succeed (gRPC messages are limited to
//! 4 MiB by default).
//!
//! Pure: no I/O.

use super::convert::Sendable;

/// Records per `PushRequest`.
pub const MAX_BATCH_RECORDS: usize = 500;

/// Encoded bytes per `PushRequest`: well under the 4 MiB gRPC default, with
/// room for framing and the request's other fields.
pub const MAX_BATCH_BYTES: usize = 3 * 1024 * 1024;

/// Bytes of the length prefix and tag of one repeated-field entry (at most).
const ENTRY_OVERHEAD: usize = 11;

/// The batches, and the records too large to send with why.
#[derive(Debug, Default)]
pub struct Split {
    /// Batches in order, each within both bounds.
    pub batches: Vec<Vec<Sendable>>,
    /// Records larger than [`MAX_BATCH_BYTES`] on their own.
    pub too_large: Vec<(String, String)>,
}

/// Splits `records` (in order) into batches of at most `max_records` and
/// `max_bytes` encoded bytes.
pub fn split(records: Vec<Sendable>, max_records: usize, max_bytes: usize) -> Split {
    let mut out = Split::default();
    let mut current: Vec<Sendable> = Vec::new();
    let mut bytes = 0;
    for record in records {
        let size = record.encoded_len() + ENTRY_OVERHEAD;
        if size > max_bytes {
            out.too_large.push((
                record.local_id().to_string(),
                format!(
                    "the record is {} KiB once shaped, more than a push may carry ({} KiB); it is never sent",
                    size / 1024,
                    max_bytes / 1024
                ),
            ));
            continue;
        }
        if !current.is_empty() && (current.len() >= max_records || bytes + size > max_bytes) {
            out.batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(record);
    }
    if !current.is_empty() {
        out.batches.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TelemetryLevel;
    use crate::privacy::Outbound;
    use crate::record::tests_support::sample_run;

    fn records(n: usize, content_bytes: usize) -> Vec<Sendable> {
        let outbound = Outbound::new(
            TelemetryLevel::Full,
            earlyexit_scrub::Scrubber::default(),
            crate::privacy::test_key(),
        );
        (0..n)
            .map(|i| {
                let mut run = sample_run(i as i64);
                run.samples[0].content = "x".repeat(content_bytes);
                Sendable::shape(&outbound, &run).unwrap()
            })
            .collect()
    }

    #[test]
    fn batches_hold_at_most_500_records_in_order() {
        let all = records(1201, 10);
        let ids: Vec<String> = all.iter().map(|r| r.local_id().to_string()).collect();
        let split = split(all, MAX_BATCH_RECORDS, MAX_BATCH_BYTES);
        let sizes: Vec<usize> = split.batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, [500, 500, 201]);
        let again: Vec<String> = split
            .batches
            .iter()
            .flatten()
            .map(|r| r.local_id().to_string())
            .collect();
        assert_eq!(again, ids);
        assert!(split.too_large.is_empty());
    }

    #[test]
    fn batches_are_split_by_encoded_size_and_oversized_records_set_aside() {
        let mut all = records(10, 100_000);
        all.insert(3, records(1, 400_000).remove(0));
        let split = split(all, MAX_BATCH_RECORDS, 350_000);
        assert_eq!(split.too_large.len(), 1);
        assert!(split.too_large[0].1.contains("never sent"));
        for batch in &split.batches {
            let bytes: usize = batch.iter().map(|r| r.encoded_len() + ENTRY_OVERHEAD).sum();
            assert!(bytes <= 350_000, "{bytes}");
        }
        assert_eq!(split.batches.iter().map(Vec::len).sum::<usize>(), 10);
        assert_eq!(split.batches.len(), 4, "three 100 kB records per batch");
    }
}
