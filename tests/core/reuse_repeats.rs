//! The fast path (repeated entries recognized by a byte comparison, their
//! parse reused) gives byte-identical documents to the reference path, on
//! every fixture and on generated logs of every layout.

use crate::support::*;
use ccp_disconnect_core::{Options, Source, classify};
use ccp_disconnect_sample::{Layout, SampleConfig, SampleFormat, generate};

fn both_paths(bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let run = |reuse_repeats: bool| {
        let options = Options {
            reuse_repeats,
            ..Options::default()
        };
        classify(bytes, Source::default(), &options)
            .unwrap()
            .to_json_line()
    };
    (run(true), run(false))
}

#[test]
fn every_fixture_gives_the_same_document_on_both_paths() {
    let mut n = 0;
    for entry in std::fs::read_dir(fixture("")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".json") && !name.ends_with(".expect.json") {
            let (fast, reference) = both_paths(&std::fs::read(entry.path()).unwrap());
            assert_eq!(fast, reference, "{name}");
            n += 1;
        }
    }
    let sample = repo_root().join("events/agent-log.txt");
    let (fast, reference) = both_paths(&std::fs::read(sample).unwrap());
    assert_eq!(fast, reference, "events/agent-log.txt");
    assert!(n >= 20);
}

#[test]
fn generated_logs_give_the_same_document_on_both_paths() {
    for (n, layout) in Layout::ALL.into_iter().enumerate() {
        for (format, seed) in [
            (SampleFormat::Pretty, 3),
            (SampleFormat::Compact, 4),
            (SampleFormat::Ndjson, 5),
        ] {
            let seed = seed + 10 * n as u64;
            let what = format!("{} {} seed {seed}", layout.as_str(), format.as_str());
            same_on_both_paths(
                &SampleConfig::new(2 << 20, seed, format).with_layout(layout),
                &what,
            );
        }
    }
}

fn same_on_both_paths(config: &SampleConfig, what: &str) {
    let mut log = Vec::new();
    generate(&mut log, config).unwrap();
    let (fast, reference) = both_paths(&log);
    assert!(fast == reference, "{what}");
    // Read a few bytes at a time too, so repeats straddle every refill;
    // cut short, so the truncation error's offsets are compared as well.
    let options = Options::default();
    let trickled = classify(
        Trickle {
            data: &log[..400_000],
            step: 7,
        },
        Source::default(),
        &options,
    )
    .unwrap()
    .to_json_line();
    let whole = classify(&log[..400_000], Source::default(), &options)
        .unwrap()
        .to_json_line();
    assert!(trickled == whole, "{what}, trickled");
}

/// A repeat may differ from its template only in digit runs; a digit run
/// changed into an invalid number (a leading zero, a changed exponent) is
/// no repeat, so the fast path rejects or skips what the reference path
/// does. Small entries (heartbeats) are templates too.
#[test]
fn digit_runs_that_break_a_number_give_the_same_document_on_both_paths() {
    let entry = |line: &str, time: &str, pad: usize| {
        format!(
            r#"{{"component":"ccp","level":"INFO","text":"Sending heartbeat {}","time":"2025-03-11T13:20:{time}Z","line":{line},"objects":[{{"n":{line}}}]}}"#,
            "x".repeat(pad)
        )
    };
    for pad in [10, 2000] {
        for (first, second) in [
            ("10", "01"),
            ("0", "00"),
            ("-3", "-03"),
            ("2e5", "2e500"),
            ("1.5", "01.5"),
            ("7", "1234567890123456789012"),
            ("7", "9".repeat(400).as_str()),
            ("10", "9"),
        ] {
            let log = format!(
                "[{},{},{}]",
                entry(first, "37.727", pad),
                entry(second, "08.015", pad),
                entry(first, "39.1", pad)
            );
            let (fast, reference) = both_paths(log.as_bytes());
            assert!(fast == reference, "{first} then {second}, pad {pad}");
        }
    }
}

/// A snapshot equal to the previous one but for a digit of a connection id
/// (found by fuzzing): two connections, not a repeat. The fast path reused
/// the previous parse and lost the new connection.
#[test]
fn an_id_that_differs_in_a_digit_is_no_repeat() {
    let snapshot = |second: &str, state: &str, ms: u32| {
        format!(
            r#"{{"text":"GET_AGENT_SNAPSHOT succeeded.","time":"2020-11-17T20:44:5{ms}.885Z","objects":[{{"snapshot":{{"state":{{"name":"Busy","type":"system"}},"skew":25{ms},"contacts":[{{"contactId":"d3870b5e-1f26-4a9c-b0e4-68c2f9a7d135","type":"voice","state":{{"type":"connected","timestamp":"2020-11-17T20:44:1{ms}.150Z"}},"connections":[{{"connectionId":"41f9e6c2-7b3d-4085-9a1e-c6d2b08f7e34","type":"agent","state":{{"type":"connected","timestamp":"2020-11-17T20:44:16.150Z"}}}},{{"connectionId":"{second}","type":"inbound","initial":true,"state":{{"type":"{state}","timestamp":"2020-11-17T20:44:53.930Z"}}}}]}}]}},"nextToken":"tok{ms}"}}]}}"#
        )
    };
    let first = "8e02c7a4-6d95-4b13-a7f8-3b1e9d5c0a62";
    // Only digits differ: the first hex digit, then a whole digit group.
    for other in [
        "9e02c7a4-6d95-4b13-a7f8-3b1e9d5c0a62",
        "8e02c7a4-6d96-4b13-a7f8-3b1e9d5c0a62",
    ] {
        let log = format!(
            "[{},{},{}]",
            snapshot(first, "connected", 1),
            snapshot(first, "disconnected", 2),
            snapshot(other, "disconnected", 3)
        );
        let (fast, reference) = both_paths(log.as_bytes());
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&reference)
        );
        // The reference path sees the second connection, a third party
        // (the customer's leg is the one seen first).
        assert!(
            String::from_utf8_lossy(&reference).contains(r#""machine":"third_party_connection""#),
            "{}",
            String::from_utf8_lossy(&reference)
        );
    }
}
