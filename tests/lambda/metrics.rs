//! The embedded-metric-format (EMF) lines of the handler, read back from an
//! injected sink, checked against the published EMF specification
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>)
//! and against the result documents they describe.
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::lambda_support::*;
use crate::support::repo_root;
use ccp_disconnect_core::{DisconnectedBy, RejectKind};
use ccp_disconnect_lambda::{Config, DIMENSION_NAMES, Handler, METRIC_NAMES};
use serde_json::Value;

const BUCKET: &str = "ccp-logs-example";
const KEY: &str = "uploads/agent-log.txt";
const RESULT_KEY: &str = "results/uploads/agent-log.txt.json";
const NAMESPACE: &str = "Test/ccp-disconnect";
const SERVICE: &str = "metrics-test";

/// CloudWatch's units (the `MetricDatum` `Unit` list), which EMF refers to.
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// A `Write` the test keeps a handle on.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The lines written since the last call, each parsed as JSON.
    fn take(&self) -> Vec<Value> {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap());
        let text = String::from_utf8(bytes).expect("UTF-8");
        assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

fn config() -> Config {
    Config {
        metrics_namespace: NAMESPACE.to_owned(),
        metrics_service: SERVICE.to_owned(),
        ..Config::default()
    }
}

async fn setup(config: Config) -> (Moto, aws_sdk_s3::Client, Handler, Captured) {
    let moto = Moto::start();
    let s3 = moto.client();
    create_bucket(&s3, BUCKET).await;
    let captured = Captured::default();
    let handler = Handler::with_metrics_sink(s3.clone(), config, Box::new(captured.clone()));
    (moto, s3, handler, captured)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// One EMF document checked against the specification, rule by rule.
/// Returns its metrics as (name, unit, value) and its dimension sets.
fn check_emf(line: &Value, from_ms: u64, to_ms: u64) -> Emf {
    let root = line.as_object().expect("an EMF document is a JSON object");
    let aws = root["_aws"].as_object().expect("_aws is an object");
    // Timestamp: a number of milliseconds since the epoch (an integer here).
    let ts = aws["Timestamp"].as_u64().expect("integer Timestamp");
    assert!(
        from_ms <= ts && ts <= to_ms,
        "{ts} not in {from_ms}..={to_ms}"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics is an array");
    assert!(!directives.is_empty());
    let mut emf = Emf::default();
    for d in directives {
        let d = d.as_object().expect("a MetricDirective is an object");
        // A directive has exactly these members.
        let mut keys: Vec<&str> = d.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["Dimensions", "Metrics", "Namespace"], "{line}");
        assert_eq!(d["Namespace"], NAMESPACE);
        let sets = d["Dimensions"].as_array().expect("Dimensions: an array");
        for set in sets {
            let set = set.as_array().expect("a DimensionSet is an array");
            assert!(!set.is_empty() && set.len() <= 30, "{line}");
            let names: Vec<String> = set
                .iter()
                .map(|n| n.as_str().expect("dimension names are strings").to_owned())
                .collect();
            for name in &names {
                // Each names a top-level member with a string value that
                // CloudWatch accepts as a dimension value.
                let value = root[name.as_str()].as_str().unwrap_or_else(|| {
                    panic!("dimension {name} is not a top-level string: {line}")
                });
                assert!(
                    !value.trim().is_empty() && value.len() <= 1024 && value.is_ascii(),
                    "{name}={value:?}"
                );
                assert!(DIMENSION_NAMES.contains(&name.as_str()), "{name}");
            }
            emf.dimension_sets.push(names);
        }
        let metrics = d["Metrics"].as_array().expect("Metrics: an array");
        assert!(!metrics.is_empty() && metrics.len() <= 100, "{line}");
        for m in metrics {
            let m = m.as_object().expect("a MetricDefinition is an object");
            assert!(
                m.keys()
                    .all(|k| ["Name", "Unit", "StorageResolution"].contains(&k.as_str())),
                "{line}"
            );
            let name = m["Name"].as_str().expect("Name is a string");
            let unit = m["Unit"].as_str().expect("this function always sets Unit");
            assert!(UNITS.contains(&unit), "{unit}");
            // The value is a top-level number.
            let value = root[name]
                .as_u64()
                .unwrap_or_else(|| panic!("metric {name} is not a top-level number: {line}"));
            assert!(METRIC_NAMES.contains(&name), "{name}");
            emf.metrics.push((name.to_owned(), unit.to_owned(), value));
        }
    }
    emf.root = line.clone();
    emf
}

#[derive(Default, Debug)]
struct Emf {
    root: Value,
    metrics: Vec<(String, String, u64)>,
    dimension_sets: Vec<Vec<String>>,
}

impl Emf {
    fn metric(&self, name: &str) -> Option<(&str, u64)> {
        self.metrics
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, unit, v)| (unit.as_str(), *v))
    }

    fn has_set(&self, set: &[&str]) -> bool {
        self.dimension_sets.iter().any(|s| s == set)
    }
}

/// Counts of `field` over the document's calls, from the document itself.
fn count_calls(doc: &Value, field: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for call in doc["calls"].as_array().unwrap() {
        *counts
            .entry(call[field].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    counts
}

/// Sum of `Calls` per value of `dimension` over the lines.
fn sum_calls(lines: &[Emf], dimension: &str) -> BTreeMap<String, u64> {
    let mut sums = BTreeMap::new();
    for line in lines {
        if let Some((unit, n)) = line.metric("Calls") {
            assert_eq!(unit, "Count");
            assert!(line.has_set(&["Service", dimension]), "{:?}", line.root);
            let value = line.root[dimension].as_str().unwrap().to_owned();
            *sums.entry(value).or_insert(0) += n;
        }
    }
    sums
}

#[tokio::test]
async fn the_sample_log_gives_one_object_line_and_calls_that_add_up_to_its_document() {
    let (_moto, s3, handler, captured) = setup(config()).await;
    let log = std::fs::read(repo_root().join("events/agent-log.txt")).unwrap();
    put(&s3, BUCKET, KEY, &log).await;

    let from = now_ms();
    handler
        .handle(s3_put_event(BUCKET, KEY), "req-sample")
        .await
        .unwrap();
    let to = now_ms();
    let lines: Vec<Emf> = captured
        .take()
        .iter()
        .map(|l| check_emf(l, from, to))
        .collect();
    let doc = result_doc(&s3, BUCKET, RESULT_KEY).await;
    assert_eq!(doc["status"], "ok");

    for line in &lines {
        assert_eq!(line.root["Service"], SERVICE);
        assert_eq!(line.root["request_id"], "req-sample");
    }

    // One line for the object.
    let object: Vec<&Emf> = lines
        .iter()
        .filter(|l| l.metric("LogsProcessed").is_some())
        .collect();
    assert_eq!(object.len(), 1, "{lines:?}");
    let object = object[0];
    assert!(object.has_set(&["Service"]));
    assert_eq!(object.metric("LogsProcessed"), Some(("Count", 1)));
    assert_eq!(object.metric("LogsRejected"), Some(("Count", 0)));
    // Every byte of the object was read: the size on disk, not the program's say.
    assert_eq!(
        object.metric("BytesRead"),
        Some(("Bytes", log.len() as u64))
    );
    let (unit, _) = object.metric("ProcessingTime").expect("ProcessingTime");
    assert_eq!(unit, "Milliseconds");
    assert!(object.metric("ProcessingTime").unwrap().1 <= to - from);
    assert!(object.metric("Calls").is_none());
    assert!(object.root.get("Kind").is_none());

    // The rest: one Calls line per reason present, each by Service, by
    // verdict and by reason.
    let calls: Vec<Emf> = lines
        .into_iter()
        .filter(|l| l.metric("Calls").is_some())
        .collect();
    let by_verdict = sum_calls(&calls, "DisconnectedBy");
    let by_reason = sum_calls(&calls, "Reason");
    assert_eq!(by_verdict, count_calls(&doc, "disconnected_by"));
    assert_eq!(by_reason, count_calls(&doc, "reason"));
    assert_eq!(calls.len(), by_reason.len(), "one line per reason");
    for line in &calls {
        assert!(line.has_set(&["Service"]));
        assert!(line.dimension_sets.len() == 3, "{:?}", line.root);
    }
    // The document's own summary agrees, verdict by verdict, and every
    // verdict name is one of the core's.
    for verdict in DisconnectedBy::ALL {
        let name = verdict.as_str();
        assert_eq!(
            by_verdict.get(name).copied().unwrap_or(0),
            doc["summary"][name].as_u64().unwrap(),
            "{name}"
        );
    }
    assert!(
        by_verdict
            .keys()
            .all(|v| DisconnectedBy::ALL.iter().any(|d| d.as_str() == v))
    );
    assert_eq!(
        by_verdict.values().sum::<u64>(),
        doc["summary"]["calls"].as_u64().unwrap()
    );

    // And the hand-labelled verdicts and reasons of the sample say the same.
    let labelled: Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("events/agent-log.expected.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(by_verdict, count_calls(&labelled, "disconnected_by"));
    assert_eq!(by_reason, count_calls(&labelled, "reason"));
}

#[tokio::test]
async fn rejected_failed_and_skipped_objects() {
    let small = Config {
        max_object_bytes: 1000,
        ..config()
    };
    let (_moto, s3, handler, captured) = setup(small).await;

    // Not a CCP log: a rejected result, counted by kind, no calls.
    let text = b"these are meeting notes, not a CCP log\n";
    put(&s3, BUCKET, "uploads/notes.txt", text).await;
    let from = now_ms();
    handler
        .handle(s3_put_event(BUCKET, "uploads/notes.txt"), "req-notes")
        .await
        .unwrap();
    let lines: Vec<Emf> = captured
        .take()
        .iter()
        .map(|l| check_emf(l, from, now_ms()))
        .collect();
    let doc = result_doc(&s3, BUCKET, "results/uploads/notes.txt.json").await;
    assert_eq!(doc["status"], "rejected");
    let kind = doc["error"]["kind"].as_str().unwrap();
    assert!(RejectKind::ALL.iter().any(|k| k.as_str() == kind), "{kind}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line.root["Kind"], kind);
    assert_eq!(line.metric("LogsProcessed"), Some(("Count", 1)));
    assert_eq!(line.metric("LogsRejected"), Some(("Count", 1)));
    assert!(line.has_set(&["Service"]) && line.has_set(&["Service", "Kind"]));
    let (_, bytes) = line.metric("BytesRead").unwrap();
    assert!(bytes > 0 && bytes <= text.len() as u64, "{bytes}");
    assert!(line.metric("Calls").is_none());

    // Larger than MAX_OBJECT_BYTES: rejected too_large without reading a byte.
    put(&s3, BUCKET, "uploads/big.txt", &vec![b' '; 1001]).await;
    handler
        .handle(s3_put_event(BUCKET, "uploads/big.txt"), "req-big")
        .await
        .unwrap();
    let lines: Vec<Emf> = captured
        .take()
        .iter()
        .map(|l| check_emf(l, from, now_ms()))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].root["Kind"], "too_large");
    assert_eq!(lines[0].metric("BytesRead"), Some(("Bytes", 0)));
    assert_eq!(lines[0].metric("LogsRejected"), Some(("Count", 1)));

    // A failure: LogsFailed only (its calls are counted when a retry works).
    handler
        .handle(s3_put_event("no-such-bucket-here", KEY), "req-fail")
        .await
        .unwrap_err();
    let lines: Vec<Emf> = captured
        .take()
        .iter()
        .map(|l| check_emf(l, from, now_ms()))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].metrics, [("LogsFailed".into(), "Count".into(), 1)]);
    assert_eq!(lines[0].dimension_sets, [["Service"]]);

    // Skipped (a result object named by the trigger) and missing objects:
    // nothing to count.
    handler
        .handle(
            s3_put_event(BUCKET, "results/uploads/notes.txt.json"),
            "req-skip",
        )
        .await
        .unwrap();
    handler
        .handle(s3_put_event(BUCKET, "uploads/gone.txt"), "req-gone")
        .await
        .unwrap();
    assert!(captured.take().is_empty());
}
