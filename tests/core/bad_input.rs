//! Bad input gets a clear, specific rejection, never a panic, and the caps
//! keep memory bounded.

use std::borrow::Cow;
use std::io::Write;

use crate::support::*;
use ccp_disconnect_core::{Limits, Options, RejectKind, Source, Status, classify};

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
fn gzip_bomb_of_a_few_kilobytes_stops_at_the_decompressed_cap() {
    // Deflate inflates at most about 1032:1, so a few KB cannot pass the
    // 2 GiB default: the cap is lowered to 1 MiB and the bomb inflates to
    // eight times that.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(b"[").unwrap();
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..8 {
        enc.write_all(&spaces).unwrap();
    }
    enc.write_all(b"]").unwrap();
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 10_000, "{} bytes is not a few KB", bomb.len());
    let options = Options {
        limits: Limits {
            max_decompressed_bytes: 1 << 20,
            ..Limits::default()
        },
        ..Options::default()
    };
    let (kind, msg, offset, entry) = rejected_with(&bomb, &options);
    assert_eq!(kind, RejectKind::TooLarge);
    assert_eq!(
        msg,
        "input exceeds the 1048576 byte limit after decompression"
    );
    assert_eq!((offset, entry), (Some(1 << 20), None));
    // Under the default cap the same bytes are a valid empty log: the cap
    // rejected it, not the content.
    let doc = classify_bytes(&bomb);
    assert_eq!(doc.status, Status::Ok);
    let log = doc.log.unwrap();
    assert_eq!((log.gzip, log.entries, log.bytes), (true, 0, (8 << 20) + 2));
}

/// Nesting 100,000 deep, wherever it sits, stops at the depth cap with the
/// offset of the first bracket past it. This runs on the test thread's
/// default 2 MiB stack: a recursive reader would overflow it long before.
#[test]
fn deep_nesting_is_capped_without_recursion() {
    const N: usize = 100_000;
    let deep = |prefix: &str, open: &str, close: &str, suffix: &str| {
        format!("{prefix}{}{}{suffix}", open.repeat(N), close.repeat(N))
    };
    let max = Limits::default().max_depth;
    assert_eq!(max, 128);
    // (input, offset of the bracket that goes one level past the cap)
    let entry = r#"[{"text":"x","time":1,"objects":"#;
    let ndjson = r#"{"text":"x","time":1,"objects":"#;
    let cases = [
        // The array and the entry object are two levels: the 127th bracket
        // inside `objects` is level 129.
        (deep(entry, "[", "]", "}]"), entry.len() + (max - 2)),
        (
            deep(entry, r#"{"a":"#, "}", "}]"),
            entry.len() + (max - 2) * 5,
        ),
        // An element that is itself an array: the array is level 1.
        (deep("[", "[", "]", "]"), 1 + (max - 1)),
        // NDJSON has no enclosing array: only the entry object is above.
        (deep(ndjson, "[", "]", "}\n"), ndjson.len() + (max - 1)),
    ];
    for (log, at) in &cases {
        let (kind, msg, offset, entry) = rejected(log.as_bytes());
        let head = &log[..40];
        assert_eq!(kind, RejectKind::TooLarge, "{head}: {msg}");
        assert_eq!(msg, "entry 0 nests deeper than the limit of 128", "{head}");
        assert_eq!(offset, Some(*at as u64), "{head}");
        assert_eq!(entry, Some(0), "{head}");
    }
    // A member of the legacy wrapper other than `_logs` is skipped, not
    // parsed: it is capped all the same (the object is level 1).
    let wrapper = deep(r#"{"_logsToPush":"#, "[", "]", "}");
    let (kind, _, offset, _) = rejected(wrapper.as_bytes());
    assert_eq!(kind, RejectKind::TooLarge);
    assert_eq!(offset, Some((15 + (max - 1)) as u64));
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

/// Inside `objects` the reader scans 64 bytes at a time; whatever the
/// alignment, and however the log arrives in reads, brackets and escaped
/// quotes inside strings are not counted, a string of exactly the cap is
/// read, and one byte more is refused at its opening quote.
#[test]
fn strings_inside_objects_are_read_and_capped_at_every_alignment() {
    let cap = 200;
    let options = Options {
        limits: Limits {
            max_string_bytes: cap,
            ..Limits::default()
        },
        ..Options::default()
    };
    let second = r#"{"text":" c-22222222 SIGNALING TalkingState => PendingRemoteHangupState","time":"2019-10-03T18:22:26.478Z"}"#;
    // With and without escapes near the long string: a block holding a
    // backslash is read a string at a time.
    let escapes = [(r#"}]\"{[\\"#, r#"\"]"#), ("}]{[", "]")];
    for pad in 0..70 {
        for (len, (q, d)) in [cap, cap + 1]
            .into_iter()
            .flat_map(|l| escapes.map(|e| (l, e)))
        {
            let head = format!(
                r#"{{"text":" c-11111111 SIGNALING TalkingState => PendingLocalHangupState","time":"2019-10-03T18:21:26.478Z","objects":[{{"p":"{}","q":"{q}","s":""#,
                "x".repeat(pad)
            );
            let log = format!(
                r#"[{head}{}","n":[1,{{"d":"{d}"}}]}}],"line":1}},{second}]"#,
                "y".repeat(len)
            );
            let what = format!("pad {pad}, string of {len}, q {q}");
            if len == cap {
                for step in [1, 63, 64, 65, 4096] {
                    let doc = classify(
                        Trickle {
                            data: log.as_bytes(),
                            step,
                        },
                        Source::default(),
                        &options,
                    )
                    .unwrap();
                    assert_eq!(
                        doc.status,
                        Status::Ok,
                        "{what}, {step} a read: {:?}",
                        doc.error
                    );
                    assert_eq!(doc.log.unwrap().entries, 2, "{what}");
                    assert_eq!(doc.calls.len(), 2, "{what}");
                }
            } else {
                let (kind, msg, offset, entry) = rejected_with(log.as_bytes(), &options);
                assert_eq!(kind, RejectKind::TooLarge, "{what}: {msg}");
                assert_eq!(msg, "a string in entry 0 is longer than the 200 byte limit");
                // The opening quote of `s`'s value: the last byte of `head`.
                assert_eq!(offset, Some(head.len() as u64), "{what}");
                assert_eq!(entry, Some(0));
            }
        }
    }
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

static A_BLOCK: [u8; 1 << 16] = [b'a'; 1 << 16];

/// One 100 MB string, streamed: rejected at the 8 MiB string cap, naming
/// the entry and the string's opening quote, after reading no more than one
/// piece past the cap.
#[test]
fn a_100_mb_string_stops_at_the_string_cap() {
    let cap = Limits::default().max_string_bytes as u64;
    assert_eq!(cap, 8 << 20);
    let blocks = 100_000_000 / A_BLOCK.len() + 1;
    // The string as the entry's `text`, inside `objects`, and as a key.
    for prefix in [
        &br#"[{"component":"softphone","text":""#[..],
        br#"[{"text":"x","time":1,"objects":[{"k":""#,
        br#"[{"text":"x","time":1,""#,
    ] {
        let mut input = Pieces::new(
            std::iter::once(Cow::Borrowed(prefix))
                .chain(std::iter::repeat_n(Cow::Borrowed(&A_BLOCK[..]), blocks))
                .chain(std::iter::once(Cow::Borrowed(&br#"":1}]"#[..]))),
        );
        let doc = classify(&mut input, Source::default(), &Options::default()).unwrap();
        let what = String::from_utf8_lossy(prefix);
        assert_eq!(doc.status, Status::Rejected, "{what}");
        let e = doc.error.unwrap();
        assert_eq!(e.kind, RejectKind::TooLarge, "{what}: {}", e.message);
        assert_eq!(
            e.message, "a string in entry 0 is longer than the 8388608 byte limit",
            "{what}"
        );
        assert_eq!(e.offset, Some(prefix.len() as u64 - 1), "{what}");
        assert_eq!(e.entry, Some(0), "{what}");
        let read = input.handed_out;
        assert!(
            read > cap && read <= prefix.len() as u64 + cap + A_BLOCK.len() as u64 + 2,
            "{what}: {read} bytes read for a {cap} byte cap"
        );
    }
}

fn empty_objects(n: usize) -> Vec<u8> {
    let mut log = Vec::with_capacity(3 * n + 2);
    log.push(b'[');
    for i in 0..n {
        if i > 0 {
            log.push(b',');
        }
        log.extend_from_slice(b"{}");
    }
    log
}

/// A million entries that are objects without `text` and `time`: JSON, but
/// not a CCP log (README: `not_ccp_log` when no entry has both).
#[test]
fn a_million_empty_objects_is_not_a_ccp_log() {
    let mut log = empty_objects(1_000_000);
    log.push(b']');
    let (kind, msg, offset, entry) = rejected(&log);
    assert_eq!(kind, RejectKind::NotCcpLog);
    assert_eq!(
        msg,
        "none of the 1000000 entries has a `text` string and a `time`: not a CCP log (entry 0: no `text` string)"
    );
    assert_eq!((offset, entry), (None, None));
}

/// With one real entry after them, the million are skipped and counted, and
/// only the first ten are kept as samples: memory does not grow with them.
#[test]
fn a_million_skipped_entries_keep_ten_samples() {
    let mut log = empty_objects(1_000_000);
    log.push(b',');
    log.extend_from_slice(ENTRY.as_bytes());
    log.push(b']');
    let doc = classify_bytes(&log);
    assert_eq!(doc.status, Status::Ok);
    let info = doc.log.as_ref().unwrap();
    assert_eq!((info.entries, info.warnings), (1_000_001, 1_000_000));
    assert_eq!(info.warning_samples.len(), 10);
    for (i, w) in info.warning_samples.iter().enumerate() {
        assert_eq!((w.entry, w.offset), (i as u64, Some(1 + 3 * i as u64)));
        assert_eq!(w.message, "no `text` string");
    }
    assert_eq!(doc.calls.len(), 1);
    assert_eq!(doc.calls[0].contact_id, "c-11111111");
    assert_eq!(doc.calls[0].evidence[0].index, 1_000_000);
}

#[test]
fn entries_missing_text_or_time_or_of_odd_types_are_skipped_and_counted() {
    let t = r#""time": "2019-10-03T18:21:27.000Z""#;
    let skipped = [
        (
            r#"{"time": "2019-10-03T18:21:27.000Z"}"#.to_string(),
            "no `text` string",
        ),
        (format!(r#"{{"text": null, {t}}}"#), "no `text` string"),
        (format!(r#"{{"text": ["x"], {t}}}"#), "no `text` string"),
        (
            format!(r#"{{"text": {{"a": "x"}}, {t}}}"#),
            "no `text` string",
        ),
        (
            r#"{"text": "x", "time": {"ms": 1}}"#.to_string(),
            "no `time` (an ISO-8601 string or epoch milliseconds)",
        ),
        (
            r#"{"text": "x", "time": -5}"#.to_string(),
            "no `time` (an ISO-8601 string or epoch milliseconds)",
        ),
        (
            r#"{"text": "x", "time": "2019-13-45T25:61:00.000Z"}"#.to_string(),
            "no `time` (an ISO-8601 string or epoch milliseconds)",
        ),
        (
            r#"{"text": "x", "time": null}"#.to_string(),
            "no `time` (an ISO-8601 string or epoch milliseconds)",
        ),
        (
            format!(r#"{{"text": "x", "text": "y", {t}}}"#),
            "a member (`text`, `time`, `objects` or `agentResourceId`) appears twice",
        ),
        ("[]".to_string(), "the entry is not an object"),
        ("\"text\"".to_string(), "the entry is not an object"),
        ("null".to_string(), "the entry is not an object"),
    ];
    let mut log = format!("[{ENTRY}");
    for (entry, _) in &skipped {
        log.push_str(",\n");
        log.push_str(entry);
    }
    log.push(']');
    let doc = classify_bytes(log.as_bytes());
    assert_eq!(doc.status, Status::Ok, "{:?}", doc.error);
    let info = doc.log.as_ref().unwrap();
    assert_eq!(info.entries, 1 + skipped.len() as u64);
    assert_eq!(info.warnings, skipped.len() as u64);
    // Only the first ten are sampled.
    assert_eq!(info.warning_samples.len(), 10);
    for (w, (entry, message)) in info.warning_samples.iter().zip(&skipped) {
        assert_eq!(w.message, *message, "{entry}");
        assert_eq!(
            &log[w.offset.unwrap() as usize..][..entry.len()],
            entry.as_str()
        );
    }
    // Wrongly typed optional members do not make an entry invalid.
    let log = format!(
        r#"[{{"text": " c-22222222 SIGNALING TalkingState => PendingRemoteHangupState", {t}, "objects": "not a list", "agentResourceId": 7, "component": {{}}, "level": [1]}}]"#
    );
    let doc = classify_bytes(log.as_bytes());
    assert_eq!(doc.log.as_ref().unwrap().warnings, 0);
    assert_eq!(doc.log.as_ref().unwrap().agent_resource_id, None);
    assert_eq!(verdicts(&doc)[0].0, "c-22222222");
    assert_eq!(verdicts(&doc)[0].2, "agent_hangup");
}

/// Invalid UTF-8 where the classifier reads (`text`) rejects the log; in a
/// member it never reads or echoes, it is not looked at (members other than
/// `text`, `time`, `objects` and `agentResourceId` are only skipped).
#[test]
fn invalid_utf8_outside_the_members_read_is_not_looked_at() {
    let log = [
        &b"[{\"component\": \"soft\xff\xfephone\", "[..],
        &ENTRY.as_bytes()[ENTRY.find("\"text\"").unwrap()..],
        b"]",
    ]
    .concat();
    let doc = classify_bytes(&log);
    assert_eq!(doc.status, Status::Ok, "{:?}", doc.error);
    assert_eq!(verdicts(&doc)[0].0, "c-11111111");
    // Escaped text is decoded by serde_json, which checks it too.
    let escaped = ENTRY.replace("TalkingState =>", "TalkingState \\n =>");
    let mut log = format!("[{escaped}]").into_bytes();
    let at = log.iter().position(|&b| b == b'T').unwrap();
    log[at] = 0xff;
    let (kind, msg, _, entry) = rejected(&log);
    assert_eq!(kind, RejectKind::MalformedJson, "{msg}");
    assert_eq!(entry, Some(0));
}

/// The offsets of every UUID (8-4-4-4-12 hex digits) in `s`.
fn uuid_offsets(s: &str) -> Vec<usize> {
    let b = s.as_bytes();
    let shape = |at: usize| {
        b.len() >= at + 36
            && (0..36).all(|k| match k {
                8 | 13 | 18 | 23 => b[at + k] == b'-',
                _ => b[at + k].is_ascii_hexdigit(),
            })
    };
    let mut found = Vec::new();
    let mut at = 0;
    while at < b.len() {
        if shape(at) {
            found.push(at);
            at += 36;
        } else {
            at += 1;
        }
    }
    found
}

/// A labelled single-call scenario, ready to be stamped out many times.
struct Template {
    /// Each entry as compact JSON without its `time`, with the entry's time
    /// relative to the first one.
    entries: Vec<(i64, String, Vec<usize>)>,
    /// The call's labels: contact id, verdict, reason, confidence, cited
    /// entries.
    contact_id: String,
    label: (String, String, String, Vec<u64>),
}

impl Template {
    fn load(name: &str) -> Template {
        let log: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(fixture(&format!("{name}.json"))).unwrap())
                .unwrap();
        let expect: serde_json::Value = serde_json::from_slice(
            &std::fs::read(fixture(&format!("{name}.expect.json"))).unwrap(),
        )
        .unwrap();
        let [call] = expect["calls"].as_array().unwrap().as_slice() else {
            panic!("{name}: one call expected");
        };
        assert!(expect["other_contacts"].as_array().unwrap().is_empty());
        let time = |e: &serde_json::Value| {
            ccp_disconnect_core::time::parse_iso8601(e["time"].as_str().unwrap()).unwrap()
        };
        let start = time(&log[0]);
        let entries = log
            .iter()
            .map(|e| {
                let rel = time(e) - start;
                let mut e = e.clone();
                e.as_object_mut().unwrap().remove("time");
                let json = serde_json::to_string(&e).unwrap();
                let ids = uuid_offsets(&json);
                (rel, json, ids)
            })
            .collect();
        let s = |k: &str| call[k].as_str().unwrap().to_string();
        Template {
            entries,
            contact_id: s("contact_id"),
            label: (
                s("disconnected_by"),
                s("reason"),
                s("confidence"),
                call["evidence_indices"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_u64().unwrap())
                    .collect(),
            ),
        }
    }

    /// Copy `n`: every UUID gets `n` as its last 12 hex digits, so ids are
    /// distinct across copies and consistent within one.
    fn stamp(&self, n: u64, start_ms: i64, out: &mut Vec<u8>) {
        let tag = format!("{n:012x}");
        for (rel, json, ids) in &self.entries {
            let mut json = json.clone();
            for &at in ids {
                json.replace_range(at + 24..at + 36, &tag);
            }
            let first = n == 0 && out.is_empty();
            out.extend_from_slice(if first { b"[" } else { b",\n" });
            write!(out, "{{\"time\":{},", start_ms + rel).unwrap();
            out.extend_from_slice(&json.as_bytes()[1..]);
        }
    }

    fn stamped_id(&self, n: u64) -> String {
        format!("{}{n:012x}", &self.contact_id[..24])
    }
}

/// 10,000 calls in one log, stamped out of four hand-labelled scenarios
/// (distinct ids, ten minutes apart): every call gets its scenario's labels,
/// evidence included, and nothing else is found.
#[test]
fn ten_thousand_calls_in_one_log_each_get_their_labels() {
    const CALLS: u64 = 10_000;
    const SPACING_MS: i64 = 600_000;
    let templates = [
        "kc_agent",
        "kc_customer",
        "snapshot_race_no_api",
        "deskphone_unknown",
    ]
    .map(Template::load);
    let t0 = ccp_disconnect_core::time::parse_iso8601("2024-01-01T00:00:00.000Z").unwrap();
    let mut first_index = Vec::new();
    let mut next_index = 0u64;
    let pieces = (0..CALLS).map(|n| {
        let t = &templates[(n % 4) as usize];
        first_index.push(next_index);
        next_index += t.entries.len() as u64;
        let mut out = Vec::new();
        t.stamp(n, t0 + n as i64 * SPACING_MS, &mut out);
        if n == CALLS - 1 {
            out.push(b']');
        }
        Cow::Owned(out)
    });
    let mut input = Pieces::new(pieces);
    let doc = classify(&mut input, Source::default(), &Options::default()).unwrap();
    drop(input);
    assert_eq!(doc.status, Status::Ok, "{:?}", doc.error);
    let log = doc.log.as_ref().unwrap();
    assert_eq!(log.warnings, 0);
    assert_eq!(log.entries, next_index);
    assert!(
        doc.other_contacts.is_empty(),
        "{:?}",
        &doc.other_contacts[..1]
    );
    assert_eq!(doc.calls.len() as u64, CALLS);
    let got: std::collections::HashMap<&str, &ccp_disconnect_core::Call> = doc
        .calls
        .iter()
        .map(|c| (c.contact_id.as_str(), c))
        .collect();
    let mut wrong = Vec::new();
    for n in 0..CALLS {
        let t = &templates[(n % 4) as usize];
        let id = t.stamped_id(n);
        let Some(call) = got.get(id.as_str()) else {
            wrong.push(format!("call {n}: {id} missing"));
            continue;
        };
        let (by, reason, confidence, cited) = &t.label;
        let have = (
            call.disconnected_by.as_str(),
            call.reason.as_str(),
            call.confidence.as_str(),
        );
        if have != (by.as_str(), reason.as_str(), confidence.as_str()) {
            wrong.push(format!(
                "call {n}: {id}: {have:?}, labelled {by} {reason} {confidence}"
            ));
        }
        let evidence: Vec<u64> = call.evidence.iter().map(|e| e.index).collect();
        for i in cited {
            if !evidence.contains(&(first_index[n as usize] + i)) {
                wrong.push(format!(
                    "call {n}: {id}: evidence {evidence:?} lacks entry {i}"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(20)].join("\n")
    );
    let s = &doc.summary;
    assert_eq!(
        (s.calls, s.agent, s.customer, s.unknown),
        (CALLS, CALLS / 4, CALLS / 2, CALLS / 4)
    );
}

/// Each call's verdict, and the cited entries mapped through `original`
/// (the entry they copy), deduplicated.
fn verdicts_mapped(
    doc: &ccp_disconnect_core::Document,
    original: impl Fn(u64) -> u64,
) -> Vec<(String, String, String, String, Vec<u64>)> {
    verdicts(doc)
        .into_iter()
        .map(|(id, by, reason, confidence, cited)| {
            let mut cited: Vec<u64> = cited.into_iter().map(&original).collect();
            cited.sort_unstable();
            cited.dedup();
            (id, by, reason, confidence, cited)
        })
        .collect()
}

/// The same entries twice, either each repeated in place (a logger writing
/// every line twice) or the whole log appended to itself (an upload
/// concatenated with a retry): every call keeps its verdict, reason and
/// confidence, and cites copies of exactly the entries it cited before.
/// (Counts such as `snapshots`, quality samples and timelines do see the
/// copies.)
#[test]
fn duplicate_entries_do_not_change_verdicts() {
    for (name, bytes) in labelled_logs() {
        let entries: Vec<serde_json::Value> = serde_json::from_slice(&bytes).unwrap();
        let n = entries.len() as u64;
        let reference = verdicts(&classify_bytes(&bytes));
        assert!(!reference.is_empty(), "{name}");

        let each_twice: Vec<_> = entries.iter().flat_map(|e| [e, e]).collect();
        let doc = classify_bytes(&serde_json::to_vec(&each_twice).unwrap());
        assert_eq!(doc.log.as_ref().unwrap().entries, 2 * n, "{name}");
        assert_eq!(
            verdicts_mapped(&doc, |i| i / 2),
            reference,
            "{name}: each entry twice"
        );

        let log_twice: Vec<_> = entries.iter().chain(&entries).collect();
        let doc = classify_bytes(&serde_json::to_vec(&log_twice).unwrap());
        assert_eq!(
            verdicts_mapped(&doc, |i| i % n),
            reference,
            "{name}: the log twice"
        );
    }
}

/// Contact ids are taken as the log writes them (only the id token of a
/// SIGNALING/SESSION line must look like an id, see above): unicode, quotes,
/// backslashes, `=>`, control characters and a 128-byte id come out
/// verbatim, in valid JSON. An empty id names no contact (the schema requires
/// a call's id to be non-empty), and neither does a 100 KB one: ids are
/// UUIDs, and longer "ids" would only grow memory (`tests/memory_bounds.rs`).
#[test]
fn odd_contact_ids_come_out_verbatim_and_empty_ones_name_no_contact() {
    let long = "x".repeat(128);
    let too_long = "y".repeat(100_000);
    let in_snapshot = [
        "c-ünïcødé-☎",
        "he said \"hi\"",
        "back\\slash",
        "a => b",
        "",
        "tab\tnew\nline\u{1b}[31m",
        long.as_str(),
        too_long.as_str(),
    ];
    let contacts: Vec<_> = in_snapshot
        .iter()
        .map(|id| {
            serde_json::json!({
                "contactId": id, "type": "voice", "state": {"type": "connected"},
                "connections": [
                    {"connectionId": "k1", "type": "agent", "state": {"type": "connected"}},
                    {"connectionId": "k2", "type": "inbound", "state": {"type": "connected"}, "initial": true}
                ]
            })
        })
        .collect();
    let api = |id: &str| serde_json::json!([{"params": {"contactId": id, "connectionId": "k1"}}]);
    let log = serde_json::json!([
        {"text": "GET_AGENT_SNAPSHOT succeeded.", "time": 1000,
         "objects": [{"snapshot": {"state": {"name": "Available", "type": "routable"}, "contacts": contacts}}]},
        {"text": "Softphone call detected: contactId he\"llo\\wörld=> agent connectionId k3", "time": 2000},
        {"text": "Publishing event: contact::connected::", "time": 3000},
        {"text": "Publishing event: contact::ended::  ünï \"q\"  ", "time": 4000},
        {"text": "Sending API_REQUEST event for destroyConnection to the server", "time": 5000, "objects": api("")},
        {"text": "Sending API_REQUEST event for destroyConnection to the server", "time": 6000, "objects": api("\"quoted\"")},
    ]);
    let doc = classify_bytes(&serde_json::to_vec(&log).unwrap());
    assert_eq!(doc.status, Status::Ok, "{:?}", doc.error);
    // The long id is compared whole but shown by its length.
    let shown = |id: &str| match id.len() {
        0..=64 => id.to_string(),
        n => format!("<{n} bytes, all x: {}>", id.bytes().all(|b| b == b'x')),
    };
    let calls: Vec<String> = doc.calls.iter().map(|c| shown(&c.contact_id)).collect();
    let mut want: Vec<String> = in_snapshot
        .iter()
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .map(|id| shown(id))
        .collect();
    want.push("he\"llo\\wörld=>".into());
    assert_eq!(calls, want);
    let others: Vec<(&str, &str)> = doc
        .other_contacts
        .iter()
        .map(|o| (o.contact_id.as_str(), o.contact_type.as_str()))
        .collect();
    assert_eq!(
        others,
        [("ünï \"q\"", "unknown"), ("\"quoted\"", "unknown")]
    );
    assert!(doc.log.as_ref().unwrap().api_lines);
    // The document is valid JSON and gives the same ids back.
    let json: serde_json::Value = serde_json::from_slice(&doc.to_json_line()).unwrap();
    let back: Vec<String> = json["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| shown(c["contact_id"].as_str().unwrap()))
        .collect();
    assert_eq!(back, want);
}
