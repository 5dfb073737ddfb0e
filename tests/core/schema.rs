//! The published JSON Schema describes every document the program writes.

use crate::support::*;
use serde_json::Value;

fn validator() -> jsonschema::Validator {
    let path = repo_root().join("schema/result-v1.schema.json");
    let schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("the schema itself is valid")
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}");
}

#[test]
fn every_scenario_document_matches_the_schema() {
    let v = validator();
    let mut n = 0;
    for entry in std::fs::read_dir(fixture("")).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".json") || name.ends_with(".expect.json") {
            continue;
        }
        let doc = classify_bytes(&std::fs::read(&path).unwrap());
        assert_valid(
            &v,
            &serde_json::from_slice(&doc.to_json_line()).unwrap(),
            &name,
        );
        n += 1;
    }
    assert!(n >= 20);
}

#[test]
fn rejected_documents_match_the_schema() {
    let v = validator();
    for input in [&b""[..], b"{}", b"\x89PNG", b"[{\"text\": 1", b"[1]"] {
        let doc = classify_bytes(input);
        assert_valid(
            &v,
            &serde_json::to_value(&doc).unwrap(),
            &String::from_utf8_lossy(input),
        );
    }
}

#[test]
fn the_schema_catches_drift() {
    let v = validator();
    let doc = classify_bytes(&std::fs::read(fixture("kc_agent.json")).unwrap());
    let good = serde_json::to_value(&doc).unwrap();
    let mut bad = good.clone();
    bad["calls"][0]["reason"] = "remote_hangup".into(); // a customer reason on an agent verdict
    assert!(!v.is_valid(&bad));
    let mut bad = good.clone();
    bad["calls"][0]["surprise"] = 1.into();
    assert!(!v.is_valid(&bad));
    let mut bad = good;
    bad["calls"][0]["evidence"][0]["time"] = "2019-10-03 18:21".into();
    assert!(!v.is_valid(&bad));
}

/// A call's id may not be empty in the schema; a log can still write one.
#[test]
fn odd_and_empty_contact_ids_match_the_schema() {
    let v = validator();
    let contact = |id: &str| serde_json::json!({"contactId": id, "type": "voice", "state": {"type": "connected"}});
    let log = serde_json::json!([
        {"text": "GET_AGENT_SNAPSHOT succeeded.", "time": 1000,
         "objects": [{"snapshot": {"contacts": [contact(""), contact("ü \"q\" \\ =>\n")]}}]},
        {"text": "Publishing event: contact::ended::", "time": 2000},
        {"text": "Sending API_REQUEST event for destroyConnection", "time": 3000,
         "objects": [{"params": {"contactId": "", "connectionId": "k"}}]},
    ]);
    let doc = classify_bytes(&serde_json::to_vec(&log).unwrap());
    assert_eq!(doc.calls.len(), 1);
    assert_valid(
        &v,
        &serde_json::from_slice(&doc.to_json_line()).unwrap(),
        "odd ids",
    );
}

/// Cross-checked documents (every agreement value, a related leg, an
/// unavailable record) match the schema, and the schema rejects a made-up
/// agreement value.
#[test]
fn cross_checked_documents_match_the_schema() {
    use ccp_disconnect_core::contact_records::RecordIndex;
    let v = validator();
    let dir = repo_root().join("tests/fixtures/contact-records");
    let array = std::fs::read(dir.join("scenarios-array.json")).unwrap();
    let firehose =
        std::fs::read(dir.join("firehose/2024/05/14/09/ctr-stream-1-2024-05-14-09-00-00")).unwrap();
    let part2 = std::fs::read(dir.join("multi-part-2.ndjson")).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for name in [
        "multi_call_mixed",
        "log_ends_mid_call",
        "agent_end_call_api",
        "kc_customer",
    ] {
        let mut doc = classify_bytes(&std::fs::read(fixture(&format!("{name}.json"))).unwrap());
        let mut index = RecordIndex::new(RecordIndex::wanted_ids(&doc).collect::<Vec<_>>());
        for bytes in [&array, &firehose, &part2] {
            index.read(&bytes[..], "r").unwrap();
        }
        index.cross_check(&mut doc);
        let value: Value = serde_json::from_slice(&doc.to_json_line()).unwrap();
        assert_valid(&v, &value, name);
        for call in value["calls"].as_array().unwrap() {
            seen.insert(
                call["contact_record"]["agreement"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        let mut bad = value.clone();
        bad["calls"][0]["contact_record"]["agreement"] = "maybe".into();
        assert!(!v.is_valid(&bad));
        let mut bad = value;
        bad["summary"]["contact_records"]["surprise"] = 1.into();
        assert!(!v.is_valid(&bad));
    }
    assert_eq!(seen.len(), 5, "every agreement value validated: {seen:?}");
}
