//! Inputs found by fuzzing (`fuzz/`), each kept with the property it broke.

use crate::support::*;
use ccp_disconnect_core::{Document, Limits, Options, RejectKind, Source, Status, classify};

fn tight(limits: Limits) -> Options {
    Options {
        limits,
        ..Options::default()
    }
}

/// The document for `bytes` read whole, after checking that reading it
/// `step` bytes at a time gives the same bytes.
fn same_in_pieces(bytes: &[u8], options: &Options, step: usize) -> Document {
    let whole = classify_with(bytes, options);
    let trickled = classify(Trickle { data: bytes, step }, Source::default(), options).unwrap();
    assert_eq!(
        String::from_utf8(trickled.to_json_line()).unwrap(),
        String::from_utf8(whole.to_json_line()).unwrap(),
        "{step} bytes a read"
    );
    whole
}

fn entry(text: &str) -> String {
    format!(r#"{{"text":"{text}","time":"2024-01-01T00:00:00.000Z"}}"#)
}

/// A PNG's signature is four bytes; read one at a time, the rejection still
/// said "byte 0x89" instead of "a PNG image".
#[test]
fn png_signature_split_across_reads() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    for step in 1..=4 {
        let doc = same_in_pieces(png, &Options::default(), step);
        let error = doc.error.unwrap();
        assert_eq!(error.kind, RejectKind::NotJson);
        assert!(error.message.contains("a PNG image"), "{}", error.message);
    }
}

/// White space between entries is not part of an entry, but when it arrived
/// in several reads it was kept and counted against `max_entry_bytes`.
#[test]
fn white_space_between_entries_is_not_an_entry() {
    let limits = Limits {
        max_entry_bytes: 256,
        ..Limits::default()
    };
    let log = format!("[{},{}{}]", entry("a"), " ".repeat(1000), entry("b"));
    for step in [1, 7, 300] {
        let doc = same_in_pieces(log.as_bytes(), &tight(limits), step);
        assert_eq!(doc.status, Status::Ok, "{:?}", doc.error);
        assert_eq!(doc.log.unwrap().entries, 2);
    }
}

/// A string of exactly `max_string_bytes` is allowed; when its closing
/// quote came in a later read it was refused.
#[test]
fn string_of_exactly_the_limit_split_before_its_closing_quote() {
    let limits = Limits {
        max_string_bytes: 32,
        ..Limits::default()
    };
    let text = "x".repeat(32);
    let log = format!("[{}]", entry(&text));
    for step in 1..=12 {
        let doc = same_in_pieces(log.as_bytes(), &tight(limits), step);
        assert_eq!(doc.status, Status::Ok, "step {step}: {:?}", doc.error);
    }
    let log = format!("[{}]", entry(&"x".repeat(33)));
    let doc = same_in_pieces(log.as_bytes(), &tight(limits), 5);
    assert_eq!(doc.error.unwrap().kind, RejectKind::TooLarge);
}

/// An entry near `max_entry_bytes` becomes the template for repeats; the
/// reader then looks ahead by the template's size plus some slack, and in
/// small reads that look-ahead was counted against `max_entry_bytes`.
#[test]
fn look_ahead_for_a_repeat_is_not_an_entry() {
    let limits = Limits {
        max_entry_bytes: 1100,
        ..Limits::default()
    };
    let big = entry(&"y".repeat(1100 - entry("").len()));
    assert_eq!(big.len(), 1100);
    let small = entry(&"z".repeat(900));
    let log = format!("[{big},{small},{small},{small}]");
    for step in [1, 7, 64, 1000] {
        let doc = same_in_pieces(log.as_bytes(), &tight(limits), step);
        assert_eq!(doc.status, Status::Ok, "step {step}: {:?}", doc.error);
    }
}

/// The legacy object's other members are held in the buffer like an entry,
/// and capped like one however they arrive: read whole, a large one used to
/// pass where the same bytes read in pieces were refused.
#[test]
fn legacy_object_members_are_capped_like_entries() {
    let limits = Limits {
        max_entry_bytes: 256,
        ..Limits::default()
    };
    let strings = vec!["abc"; 100];
    for (member, refused) in [(&strings[..30], false), (&strings[..], true)] {
        let log = format!(
            r#"{{"_meta":{},"_logs":[{}]}}"#,
            serde_json::to_string(member).unwrap(),
            entry("a")
        );
        for step in [1, 100, 10_000] {
            let doc = same_in_pieces(log.as_bytes(), &tight(limits), step);
            assert_eq!(doc.status == Status::Rejected, refused, "{:?}", doc.error);
        }
    }
}

/// Metrics values are only filtered for being finite and not negative:
/// huge ones summed to infinity, written as `null` averages and a `NaN` loss
/// rate, with `packets_lost` saturated. Implausible values are now dropped
/// like negative ones.
#[test]
fn huge_metrics_values_keep_the_quality_figures_finite() {
    let log = std::fs::read_to_string(fixture("customer_hangup_2024.json")).unwrap();
    let huge = log
        .replace(
            r#"roundTripTimeMillis\":38"#,
            r#"roundTripTimeMillis\":1e308"#,
        )
        .replace(r#"packetsLost\":0"#, r#"packetsLost\":1.7e308"#);
    assert_ne!(huge, log);
    let doc = same_in_pieces(huge.as_bytes(), &Options::default(), 4096);
    let quality = doc.calls[0].quality.as_ref().unwrap();
    assert!(quality.samples > 0);
    assert_eq!(quality.rtt_ms_avg, None);
    assert_eq!(quality.rtt_ms_max, None);
    assert!(quality.jitter_ms_avg.is_some_and(f64::is_finite));
    assert!(
        quality
            .packet_loss_pct
            .is_some_and(|p| (0.0..=100.0).contains(&p))
    );
    assert!(quality.packets_lost < 1000, "{quality:?}");
}

/// To compare an entry with its template the reader reads ahead; an error
/// met there (a corrupt gzip trailer, the decompressed cap) was reported
/// in place of the malformed entry before it, which the reference path
/// reports. Now it waits until the scan needs the bytes it stopped.
#[test]
fn an_error_met_reading_ahead_waits_for_the_scan() {
    let e = |n: u32| {
        format!(
            r#"{{"text":"Publishing event: agent::refresh","time":"2019-10-03T18:19:4{n}.134Z","objects":[{{"pad":"{}"}}]}}"#,
            "x".repeat(150)
        )
    };
    // Entry 3 is not JSON; what follows is short enough to be read ahead.
    let log = format!("[{},{},{},477Zset,{}]", e(1), e(2), e(3), e(4));
    let bad_at = log.find("477Z").unwrap() as u64;
    let mut corrupt = gzip(log.as_bytes());
    let crc = corrupt.len() - 8;
    corrupt[crc] ^= 0xff;
    // The cap falls in the last entry, past the malformed one.
    let capped = Limits {
        max_decompressed_bytes: log.len() as u64 - 20,
        ..Limits::default()
    };
    for (input, limits) in [
        (&corrupt[..], Limits::default()),
        (log.as_bytes(), capped),
        (&gzip(log.as_bytes())[..], capped),
    ] {
        for reuse_repeats in [true, false] {
            let options = Options {
                limits,
                reuse_repeats,
                ..Options::default()
            };
            let doc = classify_with(input, &options);
            let error = doc.error.expect("rejected");
            assert_eq!(error.kind, RejectKind::MalformedJson, "{}", error.message);
            assert_eq!((error.entry, error.offset), (Some(3), Some(bad_at)));
        }
    }
    // Without the malformed entry the cap is what is reported, at the cap.
    let log = format!("[{},{},{},{}]", e(1), e(2), e(3), e(4));
    let limits = Limits {
        max_decompressed_bytes: log.len() as u64 - 20,
        ..Limits::default()
    };
    for reuse_repeats in [true, false] {
        for step in [1, 100, 1 << 20] {
            let options = Options {
                limits,
                reuse_repeats,
                ..Options::default()
            };
            let doc = classify(
                Trickle {
                    data: log.as_bytes(),
                    step,
                },
                Source::default(),
                &options,
            )
            .unwrap();
            let error = doc.error.expect("rejected");
            assert_eq!(error.kind, RejectKind::TooLarge, "{}", error.message);
            assert_eq!(error.offset, Some(limits.max_decompressed_bytes));
        }
    }
}
