//! The `ccp-disconnect` binary, run as a user would.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::*;
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ccp-disconnect"))
}

fn sample() -> std::path::PathBuf {
    repo_root().join("events/agent-log.txt")
}

#[test]
fn table_for_the_bundled_sample() {
    let out = bin().args(["classify"]).arg(sample()).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // Labelled in events/agent-log.expected.json.
    assert!(
        text.contains("a5d8c1f0-3e6b-4a27-9c04-7b2e9f1d6a83   agent"),
        "{text}"
    );
    assert!(
        text.contains("72c0f9e3-b84d-4e16-a5f2-d9c3a6e0b185   not_connected"),
        "{text}"
    );
    assert!(
        text.contains("7 calls: 2 agent, 2 customer, 1 network, 1 not connected, 1 unknown"),
        "{text}"
    );
}

#[test]
fn json_output_and_out_dir_write_the_result_document() {
    let dir = TempDir::new("out");
    let out = bin()
        .args(["classify", "--format", "json", "--out"])
        .arg(&*dir)
        .arg(sample())
        .arg(fixture("kc_customer.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // Two pretty documents on stdout, one per input.
    let stream: Vec<Value> = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stream.len(), 2);
    assert_eq!(stream[1]["calls"][0]["disconnected_by"], "customer");
    // Files named after the inputs hold the same documents, one line each.
    let written = std::fs::read(dir.join("agent-log.txt.json")).unwrap();
    assert_eq!(written.iter().filter(|&&b| b == b'\n').count(), 1);
    let doc: Value = serde_json::from_slice(&written).unwrap();
    assert_eq!(doc, stream[0]);
    assert_eq!(doc["summary"]["calls"], 7);
    assert!(dir.join("kc_customer.json.json").exists());
}

#[test]
fn a_rejected_file_exits_1_and_names_the_file() {
    let dir = TempDir::new("bad");
    let bad = dir.join("picture.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\n").unwrap();
    let out = bin()
        .args(["classify", "--out"])
        .arg(&*dir)
        .arg(sample())
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("picture.png") && err.contains("PNG"), "{err}");
    // The good file was still classified, and the rejection is written too.
    assert!(dir.join("agent-log.txt.json").exists());
    let doc: Value =
        serde_json::from_slice(&std::fs::read(dir.join("picture.png.json")).unwrap()).unwrap();
    assert_eq!(doc["status"], "rejected");
    assert_eq!(doc["error"]["kind"], "not_json");
}

#[test]
fn a_missing_file_exits_1() {
    let out = bin()
        .args(["classify", "no/such/agent-log.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/agent-log.txt"));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(bin().output().unwrap().status.code(), Some(2));
    assert_eq!(
        bin().args(["classify"]).output().unwrap().status.code(),
        Some(2)
    );
    let out = bin()
        .args(["classify", "--format", "xml", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn reads_standard_input() {
    let mut child = bin()
        .args(["classify", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let log = std::fs::read(fixture("kc_agent.json")).unwrap();
    child.stdin.take().unwrap().write_all(&gzip(&log)).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["source"]["file"], "-");
    assert_eq!(doc["log"]["gzip"], true);
    assert_eq!(doc["calls"][0]["disconnected_by"], "agent");
}

/// Contact ids come from the uploaded log: the table shows their control
/// characters escaped, so a log cannot drive the terminal.
#[test]
fn the_table_escapes_control_characters_in_ids() {
    let log = serde_json::json!([{
        "text": "GET_AGENT_SNAPSHOT succeeded.", "time": 1000,
        "objects": [{"snapshot": {"contacts": [{"contactId": "c-\u{1b}[2J-1\r", "type": "voice"}]}}]
    }]);
    let mut child = bin()
        .args(["classify", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(&log).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        !table.contains('\u{1b}') && !table.contains('\r'),
        "{table:?}"
    );
    assert!(table.contains("c-\\u{1b}[2J-1\\r"), "{table}");
}
