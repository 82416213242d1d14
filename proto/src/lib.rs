//! The `earlyexit.v1` wire protocol: prost messages and tonic client and
//! server stubs generated from `proto/earlyexit/v1/*.proto` at build time
//! (protox, so no `protoc` binary is needed). The compatibility rules are
//! written at the top of `records.proto`.
//!
//! Beside the generated code it holds the shared limits of the protocol
//! ([`MAX_RECORD_BYTES`]) and the format of bundles ([`bundle`]): no I/O,
//! no policy.

pub mod bundle;

/// Package `earlyexit.v1`.
pub mod v1 {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("earlyexit.v1");
}

/// The record budget: the most bytes one encoded `RunRecord` may take.
///
/// Agents shape every record to fit (keeping the run's counts, its first and
/// last match events with their context, and saying in `RunRecord.shaping`
/// what was cut); a collector's per-record limit may be larger, never
/// smaller. 1 MiB holds the execution, hundreds of match events with their
/// context and the output samples, and three such records still fit in one
/// push under gRPC's default 4 MiB message limit.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// The message of the `UNAVAILABLE` status a collector answers with while
/// its store cannot be used (a dropped or stopped database, a full or
/// read-only disk): nothing of the call was done, and the agent keeps its
/// records and retries later. Always this text, so agents can tell it
/// from an unreachable collector, and never the store's own error (which
/// may hold SQL): the collector's log has that.
pub const STORE_UNAVAILABLE: &str = "the collector's store is unavailable; retrying";

/// The encoded `FileDescriptorSet` of every `earlyexit.v1` file: what gRPC
/// reflection serves, and what tests read to find every field of a message.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/earlyexit_v1_descriptor.bin"));

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::v1::*;

    #[test]
    fn a_record_round_trips_and_unknown_fields_are_tolerated() {
        let record = RunRecord {
            execution: Some(Execution {
                execution_id: "01a1fd04-fdfd-74fa-a99b-2a9bfe84e072".into(),
                command: "cargo <args:1a2b3c4d5e6f>".into(),
                exit_reason: "match".into(),
                child_exit_code: Some(101),
                ..Default::default()
            }),
            matches: vec![MatchEvent {
                line_number: 42,
                line_content: "<*> cannot find value `x`".into(),
                kind: "error".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let bytes = record.encode_to_vec();
        assert_eq!(RunRecord::decode(bytes.as_slice()).unwrap(), record);

        // A newer agent's extra field (number 99) does not break decoding.
        let mut newer = bytes.clone();
        prost::encoding::string::encode(99, &"future".to_string(), &mut newer);
        assert_eq!(RunRecord::decode(newer.as_slice()).unwrap(), record);
    }

    #[test]
    fn push_response_names_each_rejected_record() {
        let response = PushResponse {
            accepted: 2,
            duplicates: 1,
            rejected: vec![Rejection {
                index: 3,
                execution_id: "x".into(),
                reason: "record larger than 1 MiB".into(),
                retriable: false,
            }],
        };
        let decoded = PushResponse::decode(response.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded.rejected[0].index, 3);
        assert!(!decoded.rejected[0].retriable);
    }
}
