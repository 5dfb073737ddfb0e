//! Bad input gets a clear, specific rejection, never a panic, and the caps
//! keep memory bounded.

mod common;

use std::io::Write;

use ccp_disconnect::{Limits, Options, RejectKind, Status};
use common::*;

fn rejected(bytes: &[u8]) -> (RejectKind, String, Option<u64>, Option<u64>) {
    rejected_with(bytes, &Options::default())
}

fn rejected_with(
    bytes: &[u8],
    options: &Options,
) -> (RejectKind, String, Option<u64>, Option<u64>) {
    let doc = classify_with(bytes, options);
    assert_eq!(
        doc.status,
        Status::Rejected,
        "expected a rejection, got {:?}",
        doc.summary
    );
    assert!(doc.calls.is_empty() && doc.log.is_none());
    let e = doc.error.expect("a rejected document says why");
    (e.kind, e.message, e.offset, e.entry)
}

const ENTRY: &str = r#"{"component":"softphone","level":"INFO","text":" c-11111111 SIGNALING TalkingState => PendingLocalHangupState","time":"2019-10-03T18:21:26.478Z","exception":null,"objects":[],"line":1}"#;

#[test]
fn empty_and_white_space() {
    let (kind, msg, ..) = rejected(b"");
    assert_eq!(kind, RejectKind::Empty);
    assert!(msg.contains("empty"), "{msg}");
    let (kind, msg, ..) = rejected(b" \r\n\t \n");
    assert_eq!(kind, RejectKind::Empty);
    assert!(msg.contains("white space"), "{msg}");
}

#[test]
fn json_that_is_not_a_log() {
    for input in [
        &b"{}"[..],
        b"42",
        b"\"text\"",
        b"null",
        b"[1, 2, 3]",
        br#"[{"a": 1}, {"b": 2}]"#,
    ] {
        let (kind, msg, ..) = rejected(input);
        assert_eq!(
            kind,
            RejectKind::NotCcpLog,
            "{}",
            String::from_utf8_lossy(input)
        );
        assert!(msg.contains("not a"), "{msg}");
    }
    let (kind, msg, ..) = rejected(br#"{"_logsToPush": [], "_lineCount": 3}"#);
    assert_eq!(kind, RejectKind::NotCcpLog);
    assert!(msg.contains("_logs"), "{msg}");
}

#[test]
fn an_empty_array_is_a_valid_log_with_no_calls() {
    for input in [&b"[]"[..], b"  [ ]\n", br#"{"_logs": []}"#] {
        let doc = classify_bytes(input);
        assert_eq!(doc.status, Status::Ok);
        assert_eq!(doc.summary.calls, 0);
        assert_eq!(doc.log.unwrap().entries, 0);
    }
}

#[test]
fn not_json_at_all() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let (kind, msg, offset, _) = rejected(png);
    assert_eq!(kind, RejectKind::NotJson);
    assert!(msg.contains("PNG"), "{msg}");
    assert_eq!(offset, Some(0));
    let (kind, msg, ..) = rejected(b"hello, this is a text file\n");
    assert_eq!(kind, RejectKind::NotJson);
    assert!(msg.contains("'h'"), "{msg}");
    let (kind, ..) = rejected(b"nonsense");
    assert_eq!(kind, RejectKind::NotJson);
}

#[test]
fn truncated_json_names_the_entry_and_offset() {
    let log = format!("[\n    {ENTRY},\n    {ENTRY},\n    {ENTRY}\n]");
    let cut = &log.as_bytes()[..log.len() - 40];
    let (kind, msg, offset, entry) = rejected(cut);
    assert_eq!(kind, RejectKind::MalformedJson);
    assert_eq!(entry, Some(2), "{msg}");
    assert!(msg.contains("truncated"), "{msg}");
    // The entry starts inside the file, wherever the reads happened to end.
    let third = log.match_indices("{\"component\"").nth(2).unwrap().0;
    assert!(msg.contains(&format!("starting at byte {third}")), "{msg}");
    assert!(offset.unwrap() <= cut.len() as u64);
    // Cut right after a complete entry: the array never closes.
    let cut = format!("[\n    {ENTRY},\n    {ENTRY}");
    let (kind, msg, ..) = rejected(cut.as_bytes());
    assert_eq!(kind, RejectKind::MalformedJson);
    assert!(msg.contains("truncated"), "{msg}");
}

#[test]
fn malformed_json_inside_an_entry() {
    let log = format!(r#"[{ENTRY}, {{"text": tru, "time": 1}}]"#);
    let (kind, msg, offset, entry) = rejected(log.as_bytes());
    assert_eq!(kind, RejectKind::MalformedJson);
    assert_eq!(entry, Some(1));
    assert_eq!(offset, Some(ENTRY.len() as u64 + 3));
    assert!(msg.contains("entry 1"), "{msg}");
    let (kind, ..) = rejected(format!("[{ENTRY} {ENTRY}]").as_bytes());
    assert_eq!(kind, RejectKind::MalformedJson);
    let (kind, msg, ..) = rejected(format!("[{ENTRY}] trailing").as_bytes());
    assert_eq!(kind, RejectKind::MalformedJson);
    assert!(msg.contains("after the end"), "{msg}");
}

#[test]
fn entries_with_wrong_types_are_skipped_and_counted() {
    let log = format!(
        r#"[{ENTRY}, {{"text": 5, "time": "2019-10-03T18:21:27.000Z"}}, {{"text": "x"}}, {{"text": "x", "time": "yesterday"}}, 17, {{"text": "x", "time": true}}]"#
    );
    let doc = classify_bytes(log.as_bytes());
    assert_eq!(doc.status, Status::Ok);
    let info = doc.log.as_ref().unwrap();
    assert_eq!((info.entries, info.warnings), (6, 5));
    let flagged: Vec<u64> = info.warning_samples.iter().map(|w| w.entry).collect();
    assert_eq!(flagged, [1, 2, 3, 4, 5]);
    assert!(info.warning_samples[1].message.contains("time"));
    // The valid entry is still classified.
    assert_eq!(doc.calls.len(), 1);
    assert_eq!(doc.calls[0].contact_id, "c-11111111");
}

#[test]
fn gzip_problems() {
    let (kind, msg, ..) = rejected(&gzip(b"this is not json"));
    assert_eq!(kind, RejectKind::NotJson, "{msg}");
    let full = gzip(format!("[{ENTRY}]").as_bytes());
    let (kind, msg, ..) = rejected(&full[..full.len() - 12]);
    assert_eq!(kind, RejectKind::BadGzip);
    assert!(msg.contains("truncated"), "{msg}");
    let mut corrupt = full.clone();
    for b in &mut corrupt[10..20] {
        *b ^= 0x5a;
    }
    let (kind, msg, ..) = rejected(&corrupt);
    assert_eq!(kind, RejectKind::BadGzip, "{msg}");
    let (kind, ..) = rejected(&[0x1f, 0x8b]);
    assert_eq!(kind, RejectKind::BadGzip);
}

#[test]
fn gzip_bomb_stops_at_the_decompressed_cap() {
    // About 100 KB of gzip that inflates to 100 MB of white space.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(b"[").unwrap();
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..100 {
        enc.write_all(&spaces).unwrap();
    }
    enc.write_all(b"]").unwrap();
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 200_000);
    let options = Options {
        limits: Limits {
            max_decompressed_bytes: 8 << 20,
            ..Limits::default()
        },
        ..Options::default()
    };
    let (kind, msg, ..) = rejected_with(&bomb, &options);
    assert_eq!(kind, RejectKind::TooLarge);
    assert!(msg.contains("after decompression"), "{msg}");
}

#[test]
fn deep_nesting_is_capped_without_recursion() {
    let mut log = String::from("[{\"text\":\"x\",\"time\":1,\"objects\":");
    log.push_str(&"[".repeat(100_000));
    log.push_str(&"]".repeat(100_000));
    log.push_str("}]");
    let (kind, msg, _, entry) = rejected(log.as_bytes());
    assert_eq!(kind, RejectKind::TooLarge);
    assert!(msg.contains("nests deeper"), "{msg}");
    assert_eq!(entry, Some(0));
}

#[test]
fn long_strings_and_large_entries_are_capped() {
    let options = Options {
        limits: Limits {
            max_string_bytes: 1000,
            max_entry_bytes: 100_000,
            ..Limits::default()
        },
        ..Options::default()
    };
    let long = format!(
        r#"[{ENTRY}, {{"text": "{}", "time": 1}}]"#,
        "a".repeat(5000)
    );
    let (kind, msg, _, entry) = rejected_with(long.as_bytes(), &options);
    assert_eq!(kind, RejectKind::TooLarge);
    assert!(msg.contains("string"), "{msg}");
    assert_eq!(entry, Some(1));
    let many = format!(
        r#"[{{"text": "x", "time": 1, "objects": [{}"x"]}}]"#,
        "\"short\",".repeat(20_000)
    );
    let (kind, msg, ..) = rejected_with(many.as_bytes(), &options);
    assert_eq!(kind, RejectKind::TooLarge);
    assert!(msg.contains("entry 0 is larger"), "{msg}");
}

#[test]
fn invalid_utf8_is_rejected_clearly() {
    let mut log = format!("[{ENTRY}]").into_bytes();
    let at = log.iter().position(|&b| b == b'T').unwrap();
    log[at] = 0xff;
    let (kind, msg, _, entry) = rejected(&log);
    assert_eq!(kind, RejectKind::MalformedJson, "{msg}");
    assert_eq!(entry, Some(0));
}

#[test]
fn tokens_that_are_not_ids_make_no_calls() {
    let log = r#"[
      {"text": " we\"ird/id+1 SIGNALING TalkingState => PendingRemoteHangupState", "time": "2019-10-03T18:21:26.478Z"},
      {"text": " c-ünïcødé-1 SIGNALING TalkingState => PendingLocalHangupState", "time": "2019-10-03T18:21:27.478Z"}
    ]"#;
    let doc = classify_bytes(log.as_bytes());
    assert_eq!(doc.status, Status::Ok);
    // Ids must look like ids (letters, digits, '-'), so neither line is
    // mistaken for a call of a made-up contact.
    assert_eq!(doc.calls.len(), 0);
    let json = String::from_utf8(doc.to_json_line()).unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok());
}
