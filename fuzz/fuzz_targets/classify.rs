//! The log reader and the classifier, end to end.
//!
//! Input: one options byte, then the log. Options byte bits:
//! - 0: gzip the log first (the reader must find the same entries through
//!   the decoder; raw gzip streams, corrupt or not, come in with bit 0 unset)
//! - 1..=2: the limits, from roomy to caps that small inputs reach
//! - 3: no redaction
//! - 4..=6: when not zero, also read the input that many bytes at a time
//! - 7: ... times 61
//!
//! Checks: no panic; the reference path (`reuse_repeats: false`) and a
//! trickled read give the same bytes; the document agrees with itself.

#![no_main]

use std::io::{self, Read, Write};

use ccp_disconnect_core::{Document, Limits, Options, RejectKind, Source, Status, Summary, classify};
use libfuzzer_sys::fuzz_target;

/// Caps small enough that a gzip bomb cannot exhaust the fuzzer's memory.
const LIMITS: [Limits; 4] = [
    Limits {
        max_decompressed_bytes: 8 << 20,
        max_depth: 128,
        max_string_bytes: 1 << 20,
        max_entry_bytes: 2 << 20,
        max_contacts: 10_000,
    },
    Limits {
        max_decompressed_bytes: 16 << 10,
        max_depth: 6,
        max_string_bytes: 64,
        max_entry_bytes: 1024,
        max_contacts: 2,
    },
    // Entries just over the size that makes them a template for repeats.
    Limits {
        max_decompressed_bytes: 64 << 10,
        max_depth: 16,
        max_string_bytes: 512,
        max_entry_bytes: 1100,
        max_contacts: 10_000,
    },
    Limits {
        max_decompressed_bytes: 32 << 10,
        max_depth: 128,
        max_string_bytes: 16,
        max_entry_bytes: 4096,
        max_contacts: 5,
    },
];

struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn run(input: impl Read, options: &Options) -> Document {
    classify(input, Source::default(), options).expect("an in-memory read cannot fail")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, log)) = data.split_first() else {
        return;
    };
    let gzipped;
    let input = if mode & 1 != 0 {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(log).unwrap();
        gzipped = enc.finish().unwrap();
        &gzipped[..]
    } else {
        log
    };
    let limits = LIMITS[usize::from((mode >> 1) & 3)];
    let options = Options {
        limits,
        redact: mode & 8 == 0,
        reuse_repeats: true,
    };

    let doc = run(input, &options);
    let line = doc.to_json_line();
    check(&doc, &line, &limits);

    let reference = run(
        input,
        &Options {
            reuse_repeats: false,
            ..options.clone()
        },
    );
    same(&line, &reference.to_json_line(), "reuse_repeats: false");

    let step = usize::from((mode >> 4) & 7) * if mode & 0x80 != 0 { 61 } else { 1 };
    if step > 0 {
        let trickled = run(Trickle { data: input, step }, &options);
        if read_ahead_matters(&doc) || read_ahead_matters(&trickled) {
            // Over a cap, or in a corrupt gzip stream, which problem is
            // reported first depends on how far the reads got ahead of the
            // scan; that the input is refused does not.
            assert_eq!(doc.status, Status::Rejected, "{step} bytes a read");
            assert_eq!(trickled.status, Status::Rejected, "{step} bytes a read");
        } else {
            same(
                &line,
                &trickled.to_json_line(),
                &format!("{step} bytes a read"),
            );
        }
    }
});

fn read_ahead_matters(doc: &Document) -> bool {
    doc.error
        .as_ref()
        .is_some_and(|e| matches!(e.kind, RejectKind::TooLarge | RejectKind::BadGzip))
}

fn same(want: &[u8], got: &[u8], what: &str) {
    assert!(
        want == got,
        "{what} changed the document:\n{}\n{}",
        String::from_utf8_lossy(want),
        String::from_utf8_lossy(got)
    );
}

fn check(doc: &Document, line: &[u8], limits: &Limits) {
    assert_eq!(doc.status == Status::Rejected, doc.error.is_some());
    assert_eq!(doc.status == Status::Ok, doc.log.is_some());
    assert_eq!(doc.summary, Summary::of(&doc.calls));
    if doc.status == Status::Rejected {
        assert!(doc.calls.is_empty() && doc.other_contacts.is_empty());
    }
    if let Some(log) = &doc.log {
        assert!(log.bytes <= limits.max_decompressed_bytes);
        assert!(log.warning_samples.len() as u64 <= log.warnings);
        assert_eq!(log.first_time.is_some(), log.last_time.is_some());
        for call in &doc.calls {
            assert_eq!(call.reason.verdict(), call.disconnected_by);
            // Strictly increasing: in log order, each entry cited once.
            assert!(call.evidence.windows(2).all(|w| w[0].index < w[1].index));
            let cited = call.evidence.iter().map(|e| e.index);
            let timeline = call.timeline.iter().map(|t| t.index);
            let errors = call.softphone_errors.iter().map(|e| e.index);
            assert!(
                cited.chain(timeline).chain(errors).all(|i| i < log.entries),
                "an entry index past the last entry"
            );
            if let (Some(a), Some(b), Some(ms)) = (call.connected_at, call.ended_at, call.talk_ms) {
                assert_eq!(b.0 - a.0, ms as i64);
            }
            if let Some(q) = &call.quality {
                // document.rs promises finite numbers (serde_json writes
                // anything else as null).
                let numbers = [
                    q.rtt_ms_avg,
                    q.rtt_ms_max,
                    q.jitter_ms_avg,
                    q.jitter_ms_max,
                    q.packet_loss_pct,
                ];
                assert!(numbers.iter().flatten().all(|v| v.is_finite()), "{q:?}");
                assert!(q.packet_loss_pct.is_none_or(|p| (0.0..=100.0).contains(&p)));
            }
        }
    }
    assert_eq!(line.last(), Some(&b'\n'));
    serde_json::from_slice::<serde_json::Value>(line).expect("the document is JSON");
}
