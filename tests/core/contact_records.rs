//! Cross-checks with hand-written contact records
//! (`tests/fixtures/contact-records/`, see its README for why each record
//! says what it says). Expected agreements come from the records' values and
//! the agreement table, worked out by hand, not from the program's output.

use std::path::PathBuf;

use ccp_disconnect_core::Document;
use ccp_disconnect_core::contact_records::{
    Agreement, AgreementCounts, ReadReport, RecordIndex, RecordMatch,
};

use crate::support::*;

fn records(name: &str) -> PathBuf {
    repo_root()
        .join("tests/fixtures/contact-records")
        .join(name)
}

const FIREHOSE: &str = "firehose/2024/05/14/09/ctr-stream-1-2024-05-14-09-00-00";

fn scenario(name: &str) -> Document {
    classify_bytes(&std::fs::read(fixture(&format!("{name}.json"))).unwrap())
}

/// Reads `inputs` (bytes, origin) into an index for `doc` and cross-checks it.
fn check(doc: &mut Document, inputs: &[(Vec<u8>, &str)]) -> Vec<ReadReport> {
    let mut index = RecordIndex::new(RecordIndex::wanted_ids(doc).collect::<Vec<_>>());
    let reports = inputs
        .iter()
        .map(|(bytes, origin)| index.read(&bytes[..], origin).unwrap())
        .collect();
    index.cross_check(doc);
    reports
}

fn agreement_of(doc: &Document, contact: &str) -> Agreement {
    block(doc, contact).agreement
}

fn block<'a>(
    doc: &'a Document,
    contact: &str,
) -> &'a ccp_disconnect_core::contact_records::ContactRecordCheck {
    doc.calls
        .iter()
        .find(|c| c.contact_id == contact)
        .unwrap_or_else(|| panic!("no call {contact}"))
        .contact_record
        .as_ref()
        .expect("a block on every call once records are given")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(records(name)).unwrap()
}

#[test]
fn multi_call_log_against_firehose_output() {
    let mut doc = scenario("multi_call_mixed");
    // Part 1 as Firehose writes it (no separator), part 2 one per line, gzip.
    let reports = check(
        &mut doc,
        &[
            (read(FIREHOSE), "part-1"),
            (gzip(&read("multi-part-2.ndjson")), "part-2"),
        ],
    );
    use Agreement::*;
    for (contact, want) in [
        ("d0a6c3f9-1e57-4b28-8c4d-e9b2f7a0536c", Agrees),
        // Two deliveries: the later update (CUSTOMER_DISCONNECT) wins over null.
        ("27f5b0d8-93ae-4c61-b1e7-6d0c4a9f2e38", Agrees),
        // Missed here, answered by another agent: that agent's leg.
        ("b6e9a1f4-20c7-4d3b-9f85-c1d7e3a0b452", NotComparable),
        ("e4c07b2a-6d91-4e5f-a3b8-f2d9c1e60a57", Differs),
        ("8b1d5f3e-c70a-4962-b0e4-a5c9f2d18e36", LogAddsCause),
        // The unusable record in part 2 is not this contact's.
        ("3f7a9c2e-b5d0-4e84-a1f6-0d3e8b5c7a92", Unavailable),
    ] {
        assert_eq!(agreement_of(&doc, contact), want, "{contact}");
    }
    let missed = block(&doc, "b6e9a1f4-20c7-4d3b-9f85-c1d7e3a0b452");
    assert!(missed.why.contains("another agent"), "{}", missed.why);
    assert_eq!(
        missed.agent_id.as_deref(),
        Some("5a1e0c77-2f3b-4d8e-9c41-7b6a0f2e9d13")
    );
    let network = block(&doc, "8b1d5f3e-c70a-4962-b0e4-a5c9f2d18e36");
    assert_eq!(
        network.disconnect_reason.as_deref(),
        Some("CUSTOMER_DISCONNECT")
    );
    assert_eq!(
        network.potential_disconnect_issue.as_deref(),
        Some("AGENT_CONNECTIVITY_ISSUE")
    );
    assert_eq!(network.agent_audio_quality_score, Some(1.92));
    assert_eq!(
        network.agent_audio_quality_issues,
        ["HighPacketLoss", "HighRoundTripTime"]
    );
    assert_eq!(network.origin.as_deref(), Some("part-2 record 2"));
    assert_eq!(
        doc.summary.contact_records,
        Some(AgreementCounts {
            agrees: 2,
            log_adds_cause: 1,
            differs: 1,
            not_comparable: 1,
            unavailable: 1,
        })
    );
    // Part 1: five records, four about this log (one a re-delivery).
    assert_eq!((reports[0].records, reports[0].kept), (5, 4));
    assert!(reports[0].problems.is_empty());
    // Part 2: a wrongly typed reason and a record with no id, each by number.
    assert_eq!((reports[1].records, reports[1].kept), (4, 2));
    let problems: Vec<String> = reports[1].problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("record 3: DisconnectReason"),
        "{problems:?}"
    );
    assert!(
        problems[1].starts_with("record 4: no ContactId"),
        "{problems:?}"
    );
}

/// The same records in every accepted shape give the same blocks.
#[test]
fn firehose_shapes_agree() {
    let one_per_line = read(FIREHOSE);
    // Split the concatenation into lines by re-serialising each value.
    let values: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&one_per_line)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(values.len(), 5);
    let ndjson: Vec<u8> = values
        .iter()
        .flat_map(|v| {
            let mut l = serde_json::to_vec(v).unwrap();
            l.push(b'\n');
            l
        })
        .collect();
    let array = serde_json::to_vec_pretty(&values).unwrap();
    let mut results = Vec::new();
    for bytes in [
        one_per_line.clone(),
        gzip(&one_per_line),
        ndjson.clone(),
        gzip(&ndjson),
        array.clone(),
        gzip(&array),
    ] {
        let mut doc = scenario("multi_call_mixed");
        let reports = check(&mut doc, &[(bytes, "x")]);
        assert_eq!((reports[0].records, reports[0].kept), (5, 4));
        results.push(doc.to_json_line());
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn describe_contact_output() {
    let mut doc = scenario("kc_agent");
    check(
        &mut doc,
        &[(read("kc_agent.describe-contact.json"), "describe")],
    );
    let b = block(&doc, "f23586c4-1c7a-4e9b-bf88-5e3ccd504e34");
    assert_eq!(b.agreement, Agreement::Agrees);
    assert_eq!(b.matched_by, Some(RecordMatch::ContactId));
    assert_eq!(
        b.agent_id.as_deref(),
        Some("0c6b3e21-8d4f-4a7e-b5c2-9f1d0e3a7b64")
    );
}

#[test]
fn json_array_covers_the_not_comparable_cases() {
    let array = read("scenarios-array.json");
    let cases = [
        (
            "kc_customer",
            "886d8317-4f0b-4a6e-a221-6f6dbb912ab3",
            Agreement::Agrees,
            "both say the customer",
        ),
        // A third party hung up after the agent left: says nothing of the agent's leg.
        (
            "conference_agent_left",
            "6f2b9d04-a7e3-4c15-8b6d-e0c3f8a1d729",
            Agreement::NotComparable,
            "third party",
        ),
        (
            "missed_call_talking",
            "4e0a7d3b-c916-4f2e-8b5d-a37f01e9c264",
            Agreement::NotComparable,
            "never connected",
        ),
        (
            "signaling_lost",
            "3c6f9a0e-d1b4-47e2-8a5c-f90e2d6b1a73",
            Agreement::NotComparable,
            "no DisconnectReason",
        ),
        // The reason would agree, but the contact went on to another leg.
        (
            "agent_end_call_api",
            "7c1d5e92-3b4a-4f60-9e87-21a5d3c0b6f4",
            Agreement::NotComparable,
            "transferred on",
        ),
        (
            "log_ends_mid_call",
            "f60b2d8e-74a3-4c1f-9d05-b8e3a6c21f97",
            Agreement::NotComparable,
            "related leg",
        ),
    ];
    for (name, contact, want, why) in cases {
        let mut doc = scenario(name);
        check(&mut doc, &[(array.clone(), "array")]);
        let b = block(&doc, contact);
        assert_eq!(b.agreement, want, "{name}");
        assert!(b.why.contains(why), "{name}: {}", b.why);
    }
    let mut doc = scenario("log_ends_mid_call");
    check(&mut doc, &[(array, "array")]);
    let b = block(&doc, "f60b2d8e-74a3-4c1f-9d05-b8e3a6c21f97");
    assert_eq!(b.matched_by, Some(RecordMatch::PreviousContactId));
    assert_eq!(
        b.record_contact_id.as_deref(),
        Some("a9c8e7d6-0000-4000-8000-00000000e002")
    );
}

/// The case AWS documents as invisible to the record: media lost, then the
/// customer hung up.
#[test]
fn media_lost_then_customer_hangup_is_log_adds_cause() {
    let mut doc = scenario("ice_lost_network");
    check(&mut doc, &[(gzip(&read("ice_lost_network.ndjson")), "gz")]);
    assert_eq!(
        agreement_of(&doc, "b41d7e08-6a2c-4f95-8e3b-c7a0f5d9162e"),
        Agreement::LogAddsCause
    );
}

#[test]
fn malformed_json_keeps_what_came_before_and_says_where() {
    let mut doc = scenario("kc_customer");
    let reports = check(&mut doc, &[(read("truncated.json"), "t")]);
    // Record 1 is read (and disagrees with the log); record 2 breaks off.
    assert_eq!(
        agreement_of(&doc, "886d8317-4f0b-4a6e-a221-6f6dbb912ab3"),
        Agreement::Differs
    );
    assert_eq!(reports[0].problems.len(), 1);
    let p = &reports[0].problems[0];
    assert_eq!(p.record, 2);
    assert!(p.message.contains("line 2"), "{}", p.message);
}

#[test]
fn hostile_records_are_skipped_not_fatal() {
    for input in [
        &b""[..],
        b"   \n",
        b"\x1f\x8b\x08\x00garbage",
        b"[1, \"x\", null, {}]",
        b"{\"Contact\": 5}",
        b"]]]",
        b"{\"ContactId\": \"886d8317-4f0b-4a6e-a221-6f6dbb912ab3\", \"QualityMetrics\": {\"Agent\": {\"Audio\": {\"QualityScore\": \"x\"}}}}",
    ] {
        let mut doc = scenario("kc_customer");
        let mut index = RecordIndex::new(RecordIndex::wanted_ids(&doc).collect::<Vec<_>>());
        // A corrupt gzip stream is the only input that may be an error.
        if let Ok(report) = index.read(input, "h") {
            assert_eq!(report.kept, 0, "{input:?}");
        }
        index.cross_check(&mut doc);
        assert_eq!(
            doc.calls[0].contact_record.as_ref().unwrap().agreement,
            Agreement::Unavailable
        );
    }
}

#[test]
fn only_wanted_contacts_are_kept() {
    let doc = scenario("kc_agent");
    let mut index = RecordIndex::new(RecordIndex::wanted_ids(&doc).collect::<Vec<_>>());
    let report = index.read(&read(FIREHOSE)[..], "f").unwrap();
    assert_eq!((report.records, report.kept, index.len()), (5, 0, 0));
}

/// Without records nothing changes: no block, no summary field.
#[test]
fn documents_without_records_have_no_new_fields() {
    let doc = scenario("multi_call_mixed");
    let line = String::from_utf8(doc.to_json_line()).unwrap();
    assert!(!line.contains("contact_record"), "{line}");
}

/// Unusable records are counted past the first hundred, not kept.
#[test]
fn problems_are_capped() {
    use ccp_disconnect_core::contact_records::MAX_PROBLEMS;
    let bad: String = (0..MAX_PROBLEMS + 50)
        .map(|_| "{\"DisconnectReason\": 1}\n")
        .collect();
    let mut index = RecordIndex::new(["x".to_string()]);
    let report = index.read(bad.as_bytes(), "bad").unwrap();
    assert_eq!(report.records, (MAX_PROBLEMS + 50) as u64);
    assert_eq!(report.problems.len(), MAX_PROBLEMS);
    assert_eq!(report.more_problems, 50);
}
