//! The hand-written readers (agent snapshots, metrics lines) against
//! `serde_json`: on every fixture, generated logs of every layout, format
//! and several seeds, and mutations of generated input, each either gives
//! exactly serde's answer or leaves the input to serde — never a different
//! answer.

use ccp_disconnect_core::{metrics_readers_agree, snapshot_readers_agree};
use ccp_disconnect_sample::{Layout, SampleConfig, SampleFormat};
use serde_json::value::RawValue;
use std::collections::HashMap;

type Entry<'a> = HashMap<String, &'a RawValue>;

/// The raw `objects` of every entry of an array or NDJSON log, as the
/// reader hands them over (whitespace and all).
fn objects_of(log: &[u8]) -> Vec<Vec<u8>> {
    let raw = |e: Entry<'_>| e.get("objects").map(|o| o.get().as_bytes().to_vec());
    if let Ok(entries) = serde_json::from_slice::<Vec<Entry<'_>>>(log) {
        return entries.into_iter().filter_map(raw).collect();
    }
    log.split(|&b| b == b'\n')
        .filter_map(|line| serde_json::from_slice::<Entry<'_>>(line).ok())
        .filter_map(raw)
        .collect()
}

fn is_snapshot(objects: &[u8]) -> bool {
    memchr_find(objects, b"\"snapshot\"")
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Checks every `objects`; returns (snapshots, read by hand).
fn check_all(all: &[Vec<u8>], what: &str) -> (usize, usize) {
    let (mut snapshots, mut hand) = (0, 0);
    for objects in all {
        snapshots += usize::from(is_snapshot(objects));
        if let Some(same) = snapshot_readers_agree(objects) {
            assert!(same, "{what}: {}", String::from_utf8_lossy(objects));
            hand += 1;
        }
    }
    (snapshots, hand)
}

#[test]
fn fixtures_read_alike() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut stack = vec![std::path::PathBuf::from(dir)];
    let (mut snapshots, mut hand) = (0, 0);
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let (s, h) = check_all(&objects_of(&bytes), &path.display().to_string());
        snapshots += s;
        hand += h;
    }
    assert!(snapshots > 100, "{snapshots} snapshots in the fixtures");
    // The common shape is the one the hand reader takes.
    assert!(
        hand * 10 >= snapshots * 9,
        "{hand} of {snapshots} read by hand"
    );
}

#[test]
fn generated_logs_read_alike() {
    let formats = [
        SampleFormat::Pretty,
        SampleFormat::Compact,
        SampleFormat::Ndjson,
    ];
    for layout in Layout::ALL {
        for (n, format) in formats.into_iter().enumerate() {
            for seed in [1, 2, 7 + n as u64] {
                let mut out = Vec::new();
                let config = SampleConfig {
                    layout,
                    ..SampleConfig::new(400_000, seed, format)
                };
                ccp_disconnect_sample::generate(&mut out, &config).unwrap();
                let what = format!("{layout:?} {format:?} seed {seed}");
                let (snapshots, hand) = check_all(&objects_of(&out), &what);
                assert!(snapshots > 50, "{what}: {snapshots} snapshots");
                assert_eq!(
                    hand, snapshots,
                    "{what}: every generated snapshot read by hand"
                );
            }
        }
    }
}

/// xorshift64*: deterministic mutations without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const BYTES: &[u8] = b" \n\t\r\\\"u0,:{}[]n-1e.E+ab\x01\x7f\xc3\xa9\xff";
const SNAPSHOT_SNIPPETS: &[&str] = &[
    r#""contactId":"x","#,
    r#""contactId":null,"#,
    r#""contactId":7,"#,
    r#""connectionId":"k","#,
    r#""skew":1.5,"#,
    r#""skew":-0,"#,
    r#""skew":1e3,"#,
    r#""skew":12345678901234567890,"#,
    r#""skew":"12","#,
    r#""skew":null,"#,
    r#""initial":true,"#,
    r#""initial":"true","#,
    r#""initial":null,"#,
    r#""connections":null,"#,
    r#""connections":{},"#,
    r#""contacts":[],"#,
    r#""contacts":null,"#,
    r#""state":{},"#,
    r#""state":null,"#,
    r#""state":["a","b"],"#,
    r#""snapshot":null,"#,
    r#""snapshot":{},"#,
    r#""type":"a\"b","#,
    r#""type":"\u0041","#,
    r#""name":"A\/B","#,
    r#""name":5,"#,
    r#""timestamp":"2025-01-01T00:00:00.000Z","#,
    r#""unknown":{"a":[1,2.5,-3,true,false,null,"x\n"]},"#,
    r#""unknown":1e400,"#,
    r#""unknown":01,"#,
    r#""unknown":"\ud800","#,
    r#""unknown":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"#,
    r#""st\u0061te":{},"#,
];

fn mutate(base: &[u8], snippets: &[&str], rng: &mut Rng) -> Vec<u8> {
    let mut m = base.to_vec();
    for _ in 0..=rng.below(3) {
        let at = rng.below(m.len() + 1).min(m.len());
        match rng.below(7) {
            0 => m.truncate(at),
            1 => m.insert(at, BYTES[rng.below(BYTES.len())]),
            2 if at < m.len() => {
                m.remove(at);
            }
            3 if at < m.len() => m[at] = BYTES[rng.below(BYTES.len())],
            4 => {
                // A snippet after some `{`, as a first member.
                if let Some(p) = m[at..].iter().position(|&b| b == b'{') {
                    let s = snippets[rng.below(snippets.len())].as_bytes();
                    let p = at + p + 1;
                    m.splice(p..p, s.iter().copied());
                }
            }
            5 => {
                // An escape inside some string.
                if let Some(p) = m[at..].iter().position(|&b| b == b'"') {
                    let e: &[u8] = [&b"\\n"[..], b"\\u0061", b"\\\"", b"\\/", b"\\x"][rng.below(5)];
                    let p = at + p + 1;
                    m.splice(p..p, e.iter().copied());
                }
            }
            _ => {
                // Same value, other spelling: keys sorted (reordered), compact or pretty.
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&m) {
                    m = if rng.below(2) == 0 {
                        serde_json::to_vec(&v).unwrap()
                    } else {
                        serde_json::to_vec_pretty(&v).unwrap()
                    };
                }
            }
        }
    }
    m
}

#[test]
fn mutated_snapshots_read_alike_or_go_to_serde() {
    let mut bases = Vec::new();
    for (seed, format) in [(3, SampleFormat::Pretty), (4, SampleFormat::Compact)] {
        let mut out = Vec::new();
        ccp_disconnect_sample::generate(&mut out, &SampleConfig::new(200_000, seed, format))
            .unwrap();
        let all: Vec<_> = objects_of(&out)
            .into_iter()
            .filter(|o| is_snapshot(o))
            .collect();
        // Snapshots with contacts and connections are the interesting ones.
        bases.extend(
            all.into_iter()
                .filter(|o| memchr_find(o, b"connectionId"))
                .take(12),
        );
    }
    assert!(bases.len() >= 12);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut hand, mut total) = (0, 0);
    for base in &bases {
        for _ in 0..3000 {
            let m = mutate(base, SNAPSHOT_SNIPPETS, &mut rng);
            total += 1;
            if let Some(same) = snapshot_readers_agree(&m) {
                assert!(same, "{}", String::from_utf8_lossy(&m));
                hand += 1;
            }
        }
    }
    // Both outcomes are exercised.
    assert!(
        hand > total / 10 && hand < total,
        "{hand} of {total} read by hand"
    );
}

/// Every metrics line's JSON (the text after `sendSoftphoneMetrics
/// success`) of an array or NDJSON log.
fn metrics_of(log: &[u8]) -> Vec<String> {
    let text = |e: Entry<'_>| {
        let t: String = serde_json::from_str(e.get("text")?.get()).ok()?;
        Some(
            t.trim_start()
                .strip_prefix("sendSoftphoneMetrics success")?
                .to_string(),
        )
    };
    if let Ok(entries) = serde_json::from_slice::<Vec<Entry<'_>>>(log) {
        return entries.into_iter().filter_map(text).collect();
    }
    log.split(|&b| b == b'\n')
        .filter_map(|line| serde_json::from_slice::<Entry<'_>>(line).ok())
        .filter_map(text)
        .collect()
}

/// Checks every metrics line; returns (lines, read by hand).
fn check_metrics(all: &[String], what: &str) -> (usize, usize) {
    let mut hand = 0;
    for json in all {
        if let Some(same) = metrics_readers_agree(json) {
            assert!(same, "{what}: {json}");
            hand += 1;
        }
    }
    (all.len(), hand)
}

#[test]
fn metrics_in_fixtures_read_alike() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut stack = vec![std::path::PathBuf::from(dir)];
    let (mut lines, mut hand) = (0, 0);
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let (l, h) = check_metrics(&metrics_of(&bytes), &path.display().to_string());
        lines += l;
        hand += h;
    }
    assert!(lines > 20, "{lines} metrics lines in the fixtures");
    assert!(hand * 10 >= lines * 9, "{hand} of {lines} read by hand");
}

#[test]
fn metrics_in_generated_logs_read_alike() {
    let mut total = 0;
    for layout in Layout::ALL {
        for (seed, format) in [
            (1, SampleFormat::Pretty),
            (2, SampleFormat::Compact),
            (3, SampleFormat::Ndjson),
        ] {
            let mut out = Vec::new();
            let config = SampleConfig {
                layout,
                ..SampleConfig::new(400_000, seed, format)
            };
            ccp_disconnect_sample::generate(&mut out, &config).unwrap();
            let what = format!("{layout:?} {format:?} seed {seed}");
            let (lines, hand) = check_metrics(&metrics_of(&out), &what);
            assert!(lines > 0, "{what}: no metrics line");
            assert_eq!(hand, lines, "{what}: every generated line read by hand");
            total += lines;
        }
    }
    assert!(total > 100, "{total} metrics lines in all");
}

/// Where the hand reader stops and leaves the line to serde: numbers it
/// cannot read exactly as serde does, escapes, repeated keys, the wrong
/// types, trailing bytes. And what it does read, it reads as serde does.
#[test]
fn metrics_reader_reads_exactly_or_not_at_all() {
    let one = |members: &str| format!(r#"[{{"softphoneStreamType":"audio_input",{members}}}]"#);
    for members in [
        r#""timestamp":"2026-01-01T00:00:01.000Z","packetsLost":0,"packetsCount":50"#,
        r#""jitterBufferMillis":0.1,"roundTripTimeMillis":12.75,"packetsLost":null"#,
        r#""jitterBufferMillis":123456789012345,"roundTripTimeMillis":0.12345678901234"#,
        r#""jitterBufferMillis":0.00000000000001,"audioLevel":0.30517578125"#,
        r#""timestamp":null,"unknown":{"a":[1,-2.5,true,null,"x\n"]}"#,
    ] {
        let json = one(members);
        assert_eq!(metrics_readers_agree(&json), Some(true), "{json}");
        // Whitespace anywhere JSON allows it.
        let spaced = json.replace(',', " ,\n\t").replace(':', " : ");
        assert_eq!(metrics_readers_agree(&spaced), Some(true), "{spaced}");
    }
    assert_eq!(metrics_readers_agree("[]"), Some(true));
    for members in [
        r#""jitterBufferMillis":1234567890123456"#,
        r#""jitterBufferMillis":0.1234567890123456"#,
        r#""jitterBufferMillis":-1"#,
        r#""jitterBufferMillis":1e3"#,
        r#""jitterBufferMillis":01"#,
        r#""jitterBufferMillis":1."#,
        r#""audioLevel":0.30517578125e-4"#,
        r#""jitterBufferMillis":"12""#,
        r#""jitterBufferMillis":1,"jitterBufferMillis":2"#,
        r#""timestamp":"2026-01-01T00:00:01.000\u005a""#,
        r#""time\u0073tamp":"2026-01-01T00:00:01.000Z""#,
        r#""timestamp":5"#,
    ] {
        let json = one(members);
        assert_eq!(metrics_readers_agree(&json), None, "{json}");
    }
    for json in ["[{}] x", "{}", "[1]", "[[\"t\",1,2,3,4]]", "[{},]"] {
        assert_eq!(metrics_readers_agree(json), None, "{json}");
    }
}

const METRICS_SNIPPETS: &[&str] = &[
    r#""packetsLost":1.5,"#,
    r#""packetsLost":-0,"#,
    r#""packetsLost":-3,"#,
    r#""packetsLost":1e3,"#,
    r#""packetsLost":12345678901234567890,"#,
    r#""packetsLost":0.1000000000000000055511151231257827,"#,
    r#""packetsLost":"12","#,
    r#""packetsLost":null,"#,
    r#""packetsCount":true,"#,
    r#""packetsCount":0.0,"#,
    r#""jitterBufferMillis":9007199254740993,"#,
    r#""jitterBufferMillis":999999999999999,"#,
    r#""roundTripTimeMillis":0.3,"#,
    r#""roundTripTimeMillis":{},"#,
    r#""timestamp":null,"#,
    r#""timestamp":"a"b","#,
    r#""timestamp":"A","#,
    r#""timestamp":[],"#,
    r#""unknown":{"a":[1,2.5,-3,true,false,null,"x
"]},"#,
    r#""unknown":1e400,"#,
    r#""packetsLost":1,"#,
];

#[test]
fn mutated_metrics_read_alike_or_go_to_serde() {
    let mut out = Vec::new();
    let config = SampleConfig {
        layout: Layout::Metrics,
        ..SampleConfig::new(300_000, 5, SampleFormat::Compact)
    };
    ccp_disconnect_sample::generate(&mut out, &config).unwrap();
    let bases: Vec<String> = metrics_of(&out).into_iter().take(12).collect();
    assert!(bases.len() >= 12);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut hand, mut total) = (0, 0);
    for base in &bases {
        for _ in 0..3000 {
            let m = mutate(base.as_bytes(), METRICS_SNIPPETS, &mut rng);
            // The reader takes text: a mutation that broke UTF-8 is not
            // one it can be given.
            let Ok(m) = String::from_utf8(m) else {
                continue;
            };
            total += 1;
            if let Some(same) = metrics_readers_agree(&m) {
                assert!(same, "{m}");
                hand += 1;
            }
        }
    }
    assert!(
        hand > total / 10 && hand < total,
        "{hand} of {total} read by hand"
    );
}
