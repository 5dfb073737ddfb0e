//! The sample generator (`ccp_disconnect_core::sample`): a ~5 MB generated log in
//! every format and both request-logging eras is classified exactly as the
//! generator labels it, the output is valid JSON in the CCP's layout, and
//! generation is deterministic.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};

use ccp_disconnect_core::{Format, Options, Source, Status, classify};
use ccp_disconnect_sample::{Layout, SampleConfig, SampleFormat, Scenario};

const SIZE: u64 = 5_000_000;

fn generated(format: SampleFormat, seed: u64) -> (Vec<u8>, ccp_disconnect_sample::SampleSummary) {
    let mut out = Vec::with_capacity(SIZE as usize + (1 << 20));
    let summary =
        ccp_disconnect_sample::generate(&mut out, &SampleConfig::new(SIZE, seed, format)).unwrap();
    (out, summary)
}

/// Classifies through a `Read` that hands out small uneven pieces, as a
/// file or network stream would, rather than one slice.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.step = self.step % 7919 + 4093;
        let n = self.data.len().min(buf.len()).min(self.step);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn check_against_labels(bytes: &[u8], summary: &ccp_disconnect_sample::SampleSummary, what: &str) {
    let doc = classify(
        Trickle {
            data: bytes,
            step: 0,
        },
        Source::default(),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(doc.status, Status::Ok, "{what}: {:?}", doc.error);
    let log = doc.log.as_ref().unwrap();
    assert_eq!(log.entries, summary.entries, "{what}: entry count");
    assert_eq!(log.warnings, 0, "{what}: {:?}", log.warning_samples);

    let got: BTreeMap<&str, (&str, &str)> = doc
        .calls
        .iter()
        .map(|c| {
            (
                c.contact_id.as_str(),
                (c.disconnected_by.as_str(), c.reason.as_str()),
            )
        })
        .collect();
    let mut problems = Vec::new();
    for label in &summary.labels {
        let want = (label.disconnected_by().as_str(), label.reason.as_str());
        match got.get(label.contact_id.as_str()) {
            Some(g) if *g == want => {}
            Some(g) => problems.push(format!(
                "{}: scenario {}: got {g:?}, labelled {want:?}",
                label.contact_id,
                label.scenario.as_str()
            )),
            None => problems.push(format!(
                "{}: scenario {}: not among the calls",
                label.contact_id,
                label.scenario.as_str()
            )),
        }
    }
    if got.len() != summary.labels.len() {
        problems.push(format!(
            "{} calls classified, {} generated",
            got.len(),
            summary.labels.len()
        ));
    }
    assert!(
        problems.is_empty(),
        "{what}: {} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(doc.other_contacts.is_empty(), "{what}");
}

fn assert_every_scenario(summary: &ccp_disconnect_sample::SampleSummary) {
    for s in [
        Scenario::CustomerHangup,
        Scenario::AgentEndCall,
        Scenario::Missed,
        Scenario::Rejected,
        Scenario::SnapshotRace,
        Scenario::IceLost,
        Scenario::SignalingLost,
        Scenario::RaceBothDown,
        Scenario::DeskphoneHangup,
        Scenario::AgentDropsCustomer,
        Scenario::Transfer,
        Scenario::SignalingLostMediaContinues,
        Scenario::MediaLostLateHangup,
        Scenario::LogEndsMidCall,
    ] {
        assert!(
            summary.labels.iter().any(|l| l.scenario == s),
            "no {} call in a {} byte log",
            s.as_str(),
            summary.bytes
        );
    }
    assert_eq!(
        summary.labels.last().map(|l| l.scenario),
        Some(Scenario::LogEndsMidCall),
        "the log ends mid-call"
    );
}

#[test]
fn pretty_log_matches_labels() {
    let (bytes, summary) = generated(SampleFormat::Pretty, 1);
    assert!(summary.bytes >= SIZE && summary.bytes == bytes.len() as u64);
    assert!(contains(
        &bytes,
        "Sending API_REQUEST event for destroyConnection"
    ));
    assert_every_scenario(&summary);
    check_against_labels(&bytes, &summary, "pretty");
}

#[test]
fn compact_log_matches_labels() {
    let (bytes, summary) = generated(SampleFormat::Compact, 2);
    assert_every_scenario(&summary);
    check_against_labels(&bytes, &summary, "compact");
}

#[test]
fn ndjson_log_matches_labels() {
    let (bytes, summary) = generated(SampleFormat::Ndjson, 3);
    assert_every_scenario(&summary);
    check_against_labels(&bytes, &summary, "ndjson");
    let doc = classify(&bytes[..], Source::default(), &Options::default()).unwrap();
    assert_eq!(doc.log.unwrap().format, Format::Ndjson);
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Seed 4 is a log of the era whose requests only the shared worker's
/// `AWSClient` lines record (no params): the agent's silence still counts,
/// and requests are tied to calls by time.
#[test]
fn gzip_log_matches_labels() {
    let (bytes, summary) = generated(SampleFormat::Pretty, 4);
    assert!(!contains(&bytes, "Sending API_REQUEST"));
    assert!(contains(
        &bytes,
        "AWSClient: --> Calling operation 'destroyConnection'"
    ));
    for s in [
        Scenario::AgentEndCall,
        Scenario::AgentDropsCustomer,
        Scenario::Transfer,
    ] {
        assert!(
            summary.labels.iter().any(|l| l.scenario == s),
            "no {}",
            s.as_str()
        );
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&bytes).unwrap();
    let gz = enc.finish().unwrap();
    check_against_labels(&gz, &summary, "gzip");
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let config = SampleConfig::new(SIZE, 42, SampleFormat::Pretty);
    let mut a = Vec::new();
    let sa = ccp_disconnect_sample::generate(&mut a, &config).unwrap();
    let mut b = Vec::new();
    let sb = ccp_disconnect_sample::generate(&mut b, &config).unwrap();
    assert!(a == b, "same seed gave different bytes");
    assert_eq!(sa.labels, sb.labels);
    assert_eq!(ccp_disconnect_sample::labels(&config).unwrap(), sa.labels);

    let mut c = Vec::new();
    let sc =
        ccp_disconnect_sample::generate(&mut c, &SampleConfig::new(SIZE, 43, SampleFormat::Pretty))
            .unwrap();
    assert!(a != c);
    assert_ne!(sa.labels[0].contact_id, sc.labels[0].contact_id);
}

#[test]
fn formats_carry_the_same_entries() {
    let small = 400_000;
    let mut pretty = Vec::new();
    let sp = ccp_disconnect_sample::generate(
        &mut pretty,
        &SampleConfig::new(small, 9, SampleFormat::Pretty),
    )
    .unwrap();
    let mut compact = Vec::new();
    ccp_disconnect_sample::generate(
        &mut compact,
        &SampleConfig::new(small, 9, SampleFormat::Compact),
    )
    .unwrap();
    let mut ndjson = Vec::new();
    ccp_disconnect_sample::generate(
        &mut ndjson,
        &SampleConfig::new(small, 9, SampleFormat::Ndjson),
    )
    .unwrap();

    let from_pretty: Vec<serde_json::Value> = serde_json::from_slice(&pretty).unwrap();
    let from_compact: Vec<serde_json::Value> = serde_json::from_slice(&compact).unwrap();
    let from_ndjson: Vec<serde_json::Value> = ndjson
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(from_pretty.len() as u64, sp.entries);
    // The compact log is smaller, so it holds more calls before its size is
    // reached: it starts with the same entries.
    assert_eq!(from_pretty[..100], from_compact[..100]);
    assert_eq!(from_compact[..], from_ndjson[..]);
    assert!(!compact.contains(&b'\n'));
}

/// Every entry has the 2025 CCP fields in the CCP's order, an ISO-8601 UTC
/// time with milliseconds, and the pretty layout is `JSON.stringify(logs,
/// undefined, 4)`.
#[test]
fn entries_have_the_ccp_shape() {
    let mut out = Vec::new();
    ccp_disconnect_sample::generate(
        &mut out,
        &SampleConfig::new(300_000, 5, SampleFormat::Pretty),
    )
    .unwrap();
    let text = std::str::from_utf8(&out).unwrap();
    assert!(text.starts_with("[\n    {\n        \"component\": "));
    assert!(text.ends_with("\n    }\n]"));

    let keys = [
        "component",
        "level",
        "text",
        "time",
        "exception",
        "objects",
        "line",
        "agentResourceId",
        "loggerId",
        "tabId",
        "contextLayer",
    ];
    let mut entries = 0;
    let mut snapshots = 0;
    for chunk in text
        .split("\n    },\n    {\n")
        .map(|c| c.trim_start_matches("[\n    {\n"))
    {
        entries += 1;
        // Top-level fields are the lines indented by exactly 8 spaces.
        let order: Vec<&str> = chunk
            .lines()
            .filter(|l| l.starts_with("        \"") && !l.starts_with("         "))
            .filter_map(|l| l.trim_start().strip_prefix('"')?.split('"').next())
            .collect();
        assert_eq!(order, keys, "entry {entries}");
        if chunk.contains("\"text\": \"GET_AGENT_SNAPSHOT succeeded.\"") {
            snapshots += 1;
            assert!(chunk.contains("\"nextToken\": "));
            assert!(chunk.contains("\"snapshot\": {"));
        }
    }
    assert!(snapshots * 3 > entries, "{snapshots} of {entries}");

    let values: Vec<serde_json::Value> = serde_json::from_str(text).unwrap();
    assert_eq!(values.len(), entries);
    for v in &values {
        let t = v["time"].as_str().unwrap();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[19] == b'.', "{t}");
        assert!(ccp_disconnect_core::time::parse_iso8601(t).is_some());
        assert!(v["objects"].is_array());
        assert!(v["exception"].is_null());
    }
}

/// `ccp-disconnect sample` writes the library's bytes (gzip-compressed with
/// `--gzip`) and the labels as JSON.
#[test]
fn cli_sample_writes_the_same_log_and_labels() {
    let dir = std::env::temp_dir().join(format!("ccp-sample-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("log.json.gz");
    let labels = dir.join("labels.json");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ccp-disconnect"))
        .args([
            "sample", "--mb", "0.3", "--seed", "11", "--format", "ndjson", "--gzip",
        ])
        .arg("--labels")
        .arg(&labels)
        .arg("-o")
        .arg(&log)
        .status()
        .unwrap();
    assert!(status.success());

    let mut want = Vec::new();
    let summary = ccp_disconnect_sample::generate(
        &mut want,
        &SampleConfig::new(300_000, 11, SampleFormat::Ndjson),
    )
    .unwrap();
    let mut got = Vec::new();
    flate2::read::GzDecoder::new(File::open(&log).unwrap())
        .read_to_end(&mut got)
        .unwrap();
    assert!(got == want, "CLI bytes differ from the library's");

    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&labels).unwrap()).unwrap();
    let calls = doc["calls"].as_array().unwrap();
    assert_eq!(calls.len(), summary.labels.len());
    for (c, l) in calls.iter().zip(&summary.labels) {
        assert_eq!(c["contact_id"], l.contact_id.as_str());
        assert_eq!(c["disconnected_by"], l.disconnected_by().as_str());
        assert_eq!(c["reason"], l.reason.as_str());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every layout (the extra entries around the same calls: the AWS client's
/// snapshot responses, configuration polls, frequent metrics, nested
/// softphone lines) is classified exactly as labelled, in every format.
#[test]
fn every_layout_matches_labels() {
    for (n, layout) in Layout::ALL.into_iter().enumerate() {
        for (format, seed) in [
            (SampleFormat::Pretty, 21),
            (SampleFormat::Compact, 22),
            (SampleFormat::Ndjson, 23),
        ] {
            let config =
                SampleConfig::new(2_500_000, seed + 10 * n as u64, format).with_layout(layout);
            let mut bytes = Vec::new();
            let summary = ccp_disconnect_sample::generate(&mut bytes, &config).unwrap();
            let what = format!("{} {}", layout.as_str(), format.as_str());
            check_against_labels(&bytes, &summary, &what);
            let text = String::from_utf8(bytes).unwrap();
            let has = |needle: &str| text.contains(needle);
            let interleaved = layout != Layout::Current;
            assert_eq!(
                has("AWSClient: <-- Operation 'getAgentSnapshot' succeeded."),
                interleaved,
                "{what}"
            );
            assert_eq!(
                has("AWSClient: <-- Operation 'getAgentConfiguration' succeeded."),
                interleaved,
                "{what}"
            );
            assert_eq!(
                has(" RtcPeerConnectionManager "),
                layout == Layout::Persistent,
                "{what}"
            );
        }
    }
}

/// A layout's bytes depend only on the seed, size and format; the calls (and
/// so the labels) are the `current` layout's, the extras only fill the size
/// sooner.
#[test]
fn layouts_are_deterministic_and_keep_the_calls() {
    let base = generated_with(Layout::Current, 31);
    assert_eq!(
        base.0,
        generated_with_config(&SampleConfig::new(1_500_000, 31, SampleFormat::Compact)).0,
        "`current` is the default"
    );
    for layout in Layout::ALL {
        let (a, sa) = generated_with(layout, 31);
        let (b, _) = generated_with(layout, 31);
        assert!(a == b, "{}: same seed, same bytes", layout.as_str());
        let (c, _) = generated_with(layout, 32);
        assert!(a != c, "{}: other seed, other bytes", layout.as_str());
        if layout != Layout::Current {
            assert!(a != base.0, "{}", layout.as_str());
        }
        // Every call but the last (cut short where the size is reached) is
        // the same call in every layout.
        let n = sa.labels.len() - 1;
        assert!(n >= 2, "{}", layout.as_str());
        assert_eq!(sa.labels[..n], base.1.labels[..n], "{}", layout.as_str());
        assert_eq!(Layout::parse(layout.as_str()), Some(layout));
    }
}

fn generated_with(layout: Layout, seed: u64) -> (Vec<u8>, ccp_disconnect_sample::SampleSummary) {
    generated_with_config(
        &SampleConfig::new(1_500_000, seed, SampleFormat::Compact).with_layout(layout),
    )
}

fn generated_with_config(config: &SampleConfig) -> (Vec<u8>, ccp_disconnect_sample::SampleSummary) {
    let mut out = Vec::new();
    let summary = ccp_disconnect_sample::generate(&mut out, config).unwrap();
    (out, summary)
}

/// `sample --layout` writes the library's bytes for that layout.
#[test]
fn cli_sample_layout_writes_the_library_bytes() {
    let dir = std::env::temp_dir().join(format!("ccp-sample-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("log.json");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ccp-disconnect"))
        .args([
            "sample", "--mb", "0.4", "--seed", "12", "--layout", "metrics", "-o",
        ])
        .arg(&log)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let mut want = Vec::new();
    ccp_disconnect_sample::generate(
        &mut want,
        &SampleConfig::new(400_000, 12, SampleFormat::Pretty).with_layout(Layout::Metrics),
    )
    .unwrap();
    assert!(std::fs::read(&log).unwrap() == want, "CLI bytes differ");
    std::fs::remove_dir_all(&dir).unwrap();
}
