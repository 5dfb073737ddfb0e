//! `classify --contact-records` end to end: directories, gzip by content,
//! standard input, unusable records and unreadable paths. Expected values
//! come from the hand-written records (`tests/fixtures/contact-records/README.md`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::support::*;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ccp-disconnect"))
}

fn records(name: &str) -> PathBuf {
    repo_root()
        .join("tests/fixtures/contact-records")
        .join(name)
}

/// A fresh directory, removed again when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "ccp-disconnect-records-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Part 2 of the multi-call records, gzipped under a name without `.gz`
/// (Firehose names its objects without one): gzip is found by content.
pub fn gzipped_part_2(dir: &Path) -> PathBuf {
    let path = dir.join("ctr-stream-1-2024-05-14-09-30-00");
    std::fs::write(
        &path,
        gzip(&std::fs::read(records("multi-part-2.ndjson")).unwrap()),
    )
    .unwrap();
    path
}

fn documents(out: &Output) -> Vec<Value> {
    serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

fn agreement(doc: &Value, contact: &str) -> String {
    doc["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contact_id"] == contact)
        .unwrap_or_else(|| panic!("no call {contact}"))["contact_record"]["agreement"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn directories_gzip_and_several_logs() {
    let scratch = Scratch::new("dirs");
    let part2 = gzipped_part_2(&scratch.0);
    let out = bin()
        .args(["classify", "--format", "json", "--contact-records"])
        .arg(records("firehose"))
        .arg("--contact-records")
        .arg(&part2)
        .arg("--contact-records")
        .arg(records("kc_agent.describe-contact.json"))
        .arg(fixture("multi_call_mixed.json"))
        .arg(fixture("kc_agent.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Unusable records are reported by file and number, and skipped.
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "ctr-stream-1-2024-05-14-09-30-00: record 3: DisconnectReason is not a string"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("record 4: no ContactId"), "{stderr}");
    let docs = documents(&out);
    assert_eq!(docs.len(), 2);
    let multi = &docs[0];
    for (contact, want) in [
        ("d0a6c3f9-1e57-4b28-8c4d-e9b2f7a0536c", "agrees"),
        ("27f5b0d8-93ae-4c61-b1e7-6d0c4a9f2e38", "agrees"),
        ("b6e9a1f4-20c7-4d3b-9f85-c1d7e3a0b452", "not_comparable"),
        ("e4c07b2a-6d91-4e5f-a3b8-f2d9c1e60a57", "differs"),
        ("8b1d5f3e-c70a-4962-b0e4-a5c9f2d18e36", "log_adds_cause"),
        ("3f7a9c2e-b5d0-4e84-a1f6-0d3e8b5c7a92", "unavailable"),
    ] {
        assert_eq!(agreement(multi, contact), want, "{contact}");
    }
    assert_eq!(
        multi["summary"]["contact_records"],
        serde_json::json!({"agrees": 2, "log_adds_cause": 1, "differs": 1, "not_comparable": 1, "unavailable": 1})
    );
    assert_eq!(
        agreement(&docs[1], "f23586c4-1c7a-4e9b-bf88-5e3ccd504e34"),
        "agrees"
    );
}

#[test]
fn a_log_on_standard_input() {
    let mut child = bin()
        .args(["classify", "--format", "json", "--contact-records"])
        .arg(records("scenarios-array.json"))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = std::fs::read(fixture("kc_customer.json")).unwrap();
    child.stdin.take().unwrap().write_all(&log).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let docs = documents(&out);
    assert_eq!(docs.len(), 1);
    assert_eq!(
        agreement(&docs[0], "886d8317-4f0b-4a6e-a221-6f6dbb912ab3"),
        "agrees"
    );
}

#[test]
fn a_missing_records_path_is_an_input_error() {
    let out = bin()
        .args(["classify", "--format", "json", "--contact-records"])
        .arg(records("no-such-file.json"))
        .arg(fixture("kc_agent.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no-such-file.json: cannot open"),
        "{stderr}"
    );
}

#[test]
fn a_corrupt_gzip_records_file_is_an_input_error() {
    let scratch = Scratch::new("badgz");
    let path = scratch.0.join("broken");
    let mut bytes = gzip(&std::fs::read(records("multi-part-2.ndjson")).unwrap());
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&path, bytes).unwrap();
    let out = bin()
        .args(["classify", "--format", "json", "--contact-records"])
        .arg(&path)
        .arg(fixture("multi_call_mixed.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot read contact records"), "{stderr}");
}
