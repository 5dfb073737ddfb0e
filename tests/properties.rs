//! Properties that must hold for any input.

mod common;

use ccp_disconnect::Status;
use common::*;
use proptest::prelude::*;

fn sample_log() -> Vec<u8> {
    std::fs::read(fixture("agent_end_call_api.json")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary bytes never panic, and always give a document that says
    /// what it made of them.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let doc = classify_bytes(&bytes);
        prop_assert_eq!(doc.status == Status::Rejected, doc.error.is_some());
        let gz = gzip(&bytes);
        let _ = classify_bytes(&gz);
    }

    /// Damaged real logs (bytes overwritten, cut short) never panic, and the
    /// same input always gives the same bytes.
    #[test]
    fn damaged_logs_never_panic_and_stay_deterministic(
        cut in 0usize..20_000,
        flips in proptest::collection::vec((0usize..20_000, any::<u8>()), 0..8),
    ) {
        let mut log = sample_log();
        for (at, b) in flips {
            let n = log.len();
            log[at % n] = b;
        }
        log.truncate(log.len().saturating_sub(cut % 200));
        let a = classify_bytes(&log).to_json_line();
        let b = classify_bytes(&log).to_json_line();
        prop_assert_eq!(a, b);
    }

    /// Text with random prefixes, ids and states never panics the recognizer.
    #[test]
    fn random_softphone_texts(
        id in "[a-z0-9*-]{0,40}",
        cat in prop::sample::select(vec!["SIGNALING", "SESSION", "CallSession", "SharedMediaSIGNALING", "RtcPeerConnectionManager", "x"]),
        from in "[A-Za-z]{0,20}",
        to in "[A-Za-z]{0,20}",
        tail in ".{0,40}",
    ) {
        let text = format!(" {id} {cat} {from} => {to}{tail}");
        let entry = serde_json::json!([{"text": text, "time": "2024-01-01T00:00:00.000Z"},
                                       {"text": format!("Contact detected: contactId{id} agent connectionId {tail}"), "time": 5},
                                       {"text": format!("Publishing event: contact::{from}::{id}"), "time": 6}]);
        let doc = classify_bytes(&serde_json::to_vec(&entry).unwrap());
        prop_assert_eq!(doc.status, Status::Ok);
    }
}
