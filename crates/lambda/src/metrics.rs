//! CloudWatch metrics as embedded metric format (EMF) lines: JSON objects
//! written to standard output beside the log lines, from which CloudWatch
//! Logs extracts the metrics. No API call, no extra permission, no extra
//! latency: the metrics cost what their log bytes cost, plus the metrics.
//!
//! Specification:
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.
//! What this module relies on:
//!
//! - `_aws.Timestamp` is milliseconds since the epoch; `_aws.CloudWatchMetrics`
//!   is a list of directives, each with a `Namespace`, `Dimensions` (a list of
//!   dimension sets, each a list of at most 30 names of top-level string
//!   members) and `Metrics` (at most 100 definitions with `Name` and `Unit`,
//!   each `Name` a top-level numeric member).
//! - A dimension has one value per document. So one line cannot carry the
//!   calls of several verdicts or reasons under the same metric name: a log
//!   with calls of three reasons gives one line for the object plus one
//!   `Calls` line per reason present. Summed (the statistic to use), the
//!   `Calls` lines give the right totals for every dimension set.
//!
//! Lines are per object, not aggregated per invocation: CloudWatch bills a
//! custom metric per name and dimension combination (all from closed lists
//! here, see `docs/operations.md`), not per data point, so per-object lines
//! cost only their log bytes, keep one object's numbers together (and next to
//! its `object processed` line by `request_id`), and make `ProcessingTime`
//! a per-object distribution with meaningful percentiles.
//!
//! What counts (`docs/operations.md` has the reasoning): an object whose
//! result was written (ok or rejected) gives `LogsProcessed`, `ProcessingTime`,
//! `BytesRead`, `LogsRejected` and its `Calls`; a failed one gives
//! `LogsFailed` only (its calls count when a retry succeeds); a skipped or
//! missing object gives nothing.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use ccp_disconnect_core::{DisconnectedBy, Reason, RejectKind};
use serde_json::{Map, Value, json};

use crate::config::Config;

/// Every metric name the function emits (the deployment template's
/// dashboard and alarms are checked against this list).
pub const METRIC_NAMES: [&str; 6] = [
    CALLS,
    LOGS_PROCESSED,
    LOGS_REJECTED,
    LOGS_FAILED,
    PROCESSING_TIME,
    BYTES_READ,
];

/// Every dimension name the function emits. Values: `Service` from the
/// configuration, `DisconnectedBy` from [`DisconnectedBy::as_str`], `Reason`
/// from [`Reason::as_str`], `Kind` from [`RejectKind::as_str`]: all closed
/// lists, so the number of metrics is bounded.
pub const DIMENSION_NAMES: [&str; 4] = [SERVICE, DISCONNECTED_BY, REASON, KIND];

const CALLS: &str = "Calls";
const LOGS_PROCESSED: &str = "LogsProcessed";
const LOGS_REJECTED: &str = "LogsRejected";
const LOGS_FAILED: &str = "LogsFailed";
const PROCESSING_TIME: &str = "ProcessingTime";
const BYTES_READ: &str = "BytesRead";

const SERVICE: &str = "Service";
const DISCONNECTED_BY: &str = "DisconnectedBy";
const REASON: &str = "Reason";
const KIND: &str = "Kind";

/// What one object contributes to the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ObjectMetrics {
    /// A result was written.
    Processed {
        /// The rejection kind, for a log that was not a readable CCP log.
        rejected: Option<RejectKind>,
        /// Calls per verdict and reason (a reason has one verdict; the pair
        /// is kept so the verdict comes from the document, not recomputed).
        calls: BTreeMap<(DisconnectedBy, Reason), u64>,
        bytes_read: u64,
    },
    /// No result; a later attempt may write one.
    Failed,
}

/// Where the EMF lines go: standard output in Lambda, a buffer in tests.
/// Shared by every clone of the handler; each line is written whole under
/// the lock, so lines never interleave.
#[derive(Clone)]
pub(crate) struct Metrics {
    namespace: String,
    service: String,
    sink: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("namespace", &self.namespace)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    pub(crate) fn new(config: &Config, sink: Box<dyn Write + Send>) -> Metrics {
        Metrics {
            namespace: config.metrics_namespace.clone(),
            service: config.metrics_service.clone(),
            sink: Arc::new(Mutex::new(sink)),
        }
    }

    /// Writes the lines for one object. A sink that fails is reported in the
    /// log and otherwise ignored: metrics never fail an object.
    pub(crate) fn record(&self, object: &ObjectMetrics, request_id: &str, duration_ms: u64) {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let lines = self.lines(object, request_id, duration_ms, timestamp);
        let mut bytes = Vec::new();
        for line in &lines {
            // A `Value` always serializes.
            let _ = serde_json::to_writer(&mut bytes, line);
            bytes.push(b'\n');
        }
        let Ok(mut sink) = self.sink.lock() else {
            return;
        };
        if let Err(e) = sink.write_all(&bytes).and_then(|()| sink.flush()) {
            tracing::warn!(request_id, error = %e, "metrics line not written");
        }
    }

    /// The EMF documents for one object, `timestamp` in milliseconds.
    fn lines(
        &self,
        object: &ObjectMetrics,
        request_id: &str,
        duration_ms: u64,
        timestamp: u64,
    ) -> Vec<Value> {
        match object {
            ObjectMetrics::Failed => vec![self.document(
                timestamp,
                request_id,
                &[Directive {
                    dimensions: &[&[SERVICE]],
                    metrics: &[(LOGS_FAILED, "Count")],
                }],
                &[],
                &[(LOGS_FAILED, 1)],
            )],
            ObjectMetrics::Processed {
                rejected,
                calls,
                bytes_read,
            } => {
                let units = [
                    (LOGS_PROCESSED, "Count"),
                    (PROCESSING_TIME, "Milliseconds"),
                    (BYTES_READ, "Bytes"),
                ];
                let values = [
                    (LOGS_PROCESSED, 1),
                    (PROCESSING_TIME, duration_ms),
                    (BYTES_READ, *bytes_read),
                ];
                let mut lines = Vec::with_capacity(1 + calls.len());
                lines.push(match rejected {
                    // LogsRejected in a directive of its own: it alone also
                    // goes by Kind (the total and the split in one
                    // directive, so each metric name is in exactly one).
                    Some(kind) => self.document(
                        timestamp,
                        request_id,
                        &[
                            Directive {
                                dimensions: &[&[SERVICE]],
                                metrics: &units,
                            },
                            Directive {
                                dimensions: &[&[SERVICE], &[SERVICE, KIND]],
                                metrics: &[(LOGS_REJECTED, "Count")],
                            },
                        ],
                        &[(KIND, kind.as_str())],
                        &[&values[..], &[(LOGS_REJECTED, 1)]].concat(),
                    ),
                    // A zero, not nothing, so that a rejected share and a
                    // quiet alarm both have data.
                    None => self.document(
                        timestamp,
                        request_id,
                        &[Directive {
                            dimensions: &[&[SERVICE]],
                            metrics: &[&units[..], &[(LOGS_REJECTED, "Count")]].concat(),
                        }],
                        &[],
                        &[&values[..], &[(LOGS_REJECTED, 0)]].concat(),
                    ),
                });
                for (&(verdict, reason), &count) in calls {
                    lines.push(self.document(
                        timestamp,
                        request_id,
                        &[Directive {
                            dimensions: &[
                                &[SERVICE],
                                &[SERVICE, DISCONNECTED_BY],
                                &[SERVICE, REASON],
                            ],
                            metrics: &[(CALLS, "Count")],
                        }],
                        &[
                            (DISCONNECTED_BY, verdict.as_str()),
                            (REASON, reason.as_str()),
                        ],
                        &[(CALLS, count)],
                    ));
                }
                lines
            }
        }
    }

    /// One EMF document: the `_aws` metadata, the `Service` dimension, the
    /// other dimension values, the metric values, and the request id (not a
    /// dimension: it only ties the line to the invocation's log lines).
    fn document(
        &self,
        timestamp: u64,
        request_id: &str,
        directives: &[Directive<'_>],
        dimensions: &[(&str, &str)],
        values: &[(&str, u64)],
    ) -> Value {
        let directives: Vec<Value> = directives
            .iter()
            .map(|d| {
                json!({
                    "Namespace": self.namespace,
                    "Dimensions": d.dimensions,
                    "Metrics": d
                        .metrics
                        .iter()
                        .map(|(name, unit)| json!({"Name": name, "Unit": unit}))
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".to_owned(),
            json!({"Timestamp": timestamp, "CloudWatchMetrics": directives}),
        );
        root.insert(SERVICE.to_owned(), json!(self.service));
        for (name, value) in dimensions {
            root.insert((*name).to_owned(), json!(value));
        }
        for (name, value) in values {
            root.insert((*name).to_owned(), json!(value));
        }
        root.insert("request_id".to_owned(), json!(request_id));
        Value::Object(root)
    }
}

struct Directive<'a> {
    dimensions: &'a [&'a [&'a str]],
    metrics: &'a [(&'a str, &'a str)],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        Metrics::new(&Config::default(), Box::new(std::io::sink()))
    }

    /// The names in `METRIC_NAMES` and `DIMENSION_NAMES` are the ones the
    /// lines use: every line of every shape names only listed metrics and
    /// dimensions, and every listed metric appears in some line.
    #[test]
    fn the_lists_match_the_lines() {
        let mut calls = BTreeMap::new();
        calls.insert((DisconnectedBy::Network, Reason::SignalingLost), 2);
        let shapes = [
            ObjectMetrics::Failed,
            ObjectMetrics::Processed {
                rejected: None,
                calls,
                bytes_read: 10,
            },
            ObjectMetrics::Processed {
                rejected: Some(RejectKind::NotJson),
                calls: BTreeMap::new(),
                bytes_read: 3,
            },
        ];
        let mut seen = std::collections::BTreeSet::new();
        for shape in &shapes {
            for line in metrics().lines(shape, "r", 5, 1) {
                for directive in line["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
                    for m in directive["Metrics"].as_array().unwrap() {
                        let name = m["Name"].as_str().unwrap();
                        assert!(METRIC_NAMES.contains(&name), "{name}");
                        seen.insert(name.to_owned());
                    }
                    for set in directive["Dimensions"].as_array().unwrap() {
                        for d in set.as_array().unwrap() {
                            assert!(DIMENSION_NAMES.contains(&d.as_str().unwrap()), "{d}");
                        }
                    }
                }
            }
        }
        assert_eq!(seen.len(), METRIC_NAMES.len(), "{seen:?}");
    }
}
