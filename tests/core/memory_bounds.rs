//! What a log holds that grows the classifier's state is bounded: the
//! number of contacts, the length of what counts as an id, and the text
//! kept per cited entry. Each cap is asserted by its effect on the
//! document, never by measuring memory or time.

use crate::support::*;
use ccp_disconnect_core::{DisconnectedBy, Limits, Options, Status};
use serde_json::json;

/// One agent hang-up per contact id, in a log of softphone lines.
fn log_of_calls(ids: &[String]) -> Vec<u8> {
    let mut entries = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        for (k, (from, to)) in [
            ("PendingAcceptState", "TalkingState"),
            ("TalkingState", "PendingRemoteHangupState"),
            ("PendingRemoteHangupState", "DisconnectedState"),
        ]
        .into_iter()
        .enumerate()
        {
            entries.push(json!({
                "component": "softphone", "level": "INFO",
                "text": format!(" {id} SIGNALING {from} => {to}"),
                "time": 1_700_000_000_000u64 + (n as u64) * 60_000 + (k as u64) * 10_000,
                "objects": [],
            }));
        }
    }
    serde_json::to_vec(&entries).unwrap()
}

fn uuid(n: usize) -> String {
    format!("{n:08x}-1111-4222-8333-{n:012x}")
}

#[test]
fn contacts_past_the_cap_are_counted_not_tracked() {
    let ids: Vec<String> = (0..60).map(uuid).collect();
    let options = Options {
        limits: Limits {
            max_contacts: 50,
            ..Limits::default()
        },
        ..Options::default()
    };
    let doc = classify_with(&log_of_calls(&ids), &options);
    assert_eq!(doc.status, Status::Ok);
    // The first 50 are classified as usual; the other 10 are not there.
    assert_eq!(doc.calls.len(), 50);
    assert!(
        doc.calls
            .iter()
            .all(|c| c.disconnected_by == DisconnectedBy::Agent)
    );
    assert_eq!(
        doc.calls
            .iter()
            .map(|c| c.contact_id.clone())
            .collect::<Vec<_>>(),
        ids[..50]
    );
    let log = doc.log.unwrap();
    assert_eq!(log.warnings, 1);
    let warning = &log.warning_samples[0];
    // Entry 150 is the first line of the 51st call (three lines each).
    assert_eq!(warning.entry, 150);
    assert_eq!(warning.offset, None);
    assert!(
        warning.message.contains("more than 50 contacts"),
        "{}",
        warning.message
    );
    assert!(warning.message.contains("30 events"), "{}", warning.message);

    // At the cap exactly: no warning.
    let doc = classify_with(&log_of_calls(&ids[..50]), &options);
    assert_eq!(doc.calls.len(), 50);
    assert_eq!(doc.log.unwrap().warnings, 0);
}

#[test]
fn the_default_cap_leaves_ten_thousand_calls_alone() {
    assert!(Limits::default().max_contacts >= 10_000);
}

#[test]
fn an_id_too_long_to_be_one_makes_no_call() {
    let ids = vec![uuid(1), "a".repeat(129), "b".repeat(128)];
    let doc = classify_bytes(&log_of_calls(&ids));
    let found: Vec<&str> = doc.calls.iter().map(|c| c.contact_id.as_str()).collect();
    assert_eq!(found, [ids[0].as_str(), ids[2].as_str()]);
}

#[test]
fn cited_text_is_cut_to_400_bytes() {
    // A hang-up line with a long tail (multi-byte characters around the cut).
    let id = uuid(7);
    let tail = "é".repeat(10_000);
    let entries = json!([
        {"text": format!(" {id} SIGNALING PendingAcceptState => TalkingState"), "time": 1_000},
        {"text": format!(" {id} SIGNALING TalkingState => PendingRemoteHangupState {tail}"), "time": 20_000},
        {"text": format!(" {id} SIGNALING PendingRemoteHangupState => DisconnectedState"), "time": 21_000},
    ]);
    let doc = classify_bytes(&serde_json::to_vec(&entries).unwrap());
    assert_eq!(doc.calls.len(), 1);
    let call = &doc.calls[0];
    assert_eq!(call.disconnected_by, DisconnectedBy::Agent);
    let cited = call
        .evidence
        .iter()
        .find(|e| e.index == 1)
        .expect("the hang-up line is cited");
    assert!(
        cited.text.len() <= 400 && cited.text.len() >= 398,
        "{}",
        cited.text.len()
    );
    assert!(
        cited
            .text
            .starts_with(&format!("{id} SIGNALING TalkingState"))
    );
}
