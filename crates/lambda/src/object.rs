//! One object: read it from S3 as a stream, classify it, write the result
//! (the JSON document, then, when `HTML_REPORTS` is on, the report page).
//!
//! Order of the two writes: the JSON first. It is the record (Athena, the
//! metrics, anything that lists results), and the page is a rendering of
//! it, so a page is never stored for a version whose JSON is not: a reader
//! who finds a page finds its JSON beside it. When the page's write fails
//! after the JSON's succeeded, the object fails as a whole (retryable when
//! the cause is) and nothing is counted as processed: the redelivery writes
//! the JSON again (the same bytes, over the same stamp) and then the page,
//! so the two converge, byte-identical, however often it comes.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use tokio_util::io::SyncIoBridge;

use crate::config::Config;
use crate::contact_records::Enricher;
use crate::error::{MAX_S3_KEY_BYTES, ObjectError, S3Location};
use crate::key::decode_event_key;
use crate::metrics::{Metrics, ObjectMetrics};
use crate::s3_error::SdkFailure;
use crate::trigger::{KeyEncoding, ObjectRef};
use crate::write::{Format, ResultBody, Stamp, Written, write_result};
use ccp_disconnect_core::{
    DisconnectedBy, Document, Limits, Options, Reason, RejectKind, Rejection, Source, Status,
    Summary,
};

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A result object was written (for a readable log or a rejected one).
    Written {
        bucket: String,
        key: String,
        status: Status,
        /// The rejection kind when `status` is rejected.
        rejected: Option<RejectKind>,
        summary: Summary,
        /// Calls per verdict and reason, for the metrics.
        calls: BTreeMap<(DisconnectedBy, Reason), u64>,
        /// Bytes of the object read from S3 (0 when it was too large to read).
        bytes_read: u64,
        result_bucket: String,
        result_key: String,
        /// The HTML report's key, when `HTML_REPORTS` is on.
        html_key: Option<String>,
    },
    /// Not written on purpose: an object under the results prefix, or a
    /// result from a newer version of the object is already stored.
    Skipped {
        bucket: String,
        key: String,
        reason: String,
    },
    /// The object is gone (deleted before it was read): nothing to write.
    Missing { bucket: String, key: String },
    /// Reading or writing failed; the error says whether a later attempt
    /// may succeed (throttling, 5xx, timeouts, a body cut short) or not
    /// (access denied, no such bucket, an undecodable key).
    Failed(ObjectError),
}

impl Outcome {
    /// One line for a response or a Batch `resultString`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Outcome::Written {
                status,
                rejected,
                summary,
                result_bucket,
                result_key,
                ..
            } => match status {
                Status::Ok => format!(
                    "s3://{result_bucket}/{result_key}: ok, {} calls",
                    summary.calls
                ),
                Status::Rejected => format!(
                    "s3://{result_bucket}/{result_key}: rejected ({})",
                    rejected.map(RejectKind::as_str).unwrap_or("unknown")
                ),
            },
            Outcome::Skipped { reason, .. } => format!("skipped: {reason}"),
            Outcome::Missing { bucket, key } => {
                format!("s3://{bucket}/{key}: no such object; no result written")
            }
            Outcome::Failed(error) => error.to_string(),
        }
    }
}

/// The clients an object's processing talks to, built once per process.
#[derive(Clone, Copy)]
pub(crate) struct Clients<'a> {
    pub s3: &'a Client,
    /// The optional `DescribeContact` cross-check (`CONNECT_INSTANCE_ID`).
    pub enricher: Option<&'a Enricher>,
}

/// Reads, classifies and writes the result for one object, logs one
/// summary line for it and writes its metrics. Never panics; every failure
/// is an [`Outcome::Failed`].
///
/// `stop_at`: when the invocation must stop working (its deadline less the
/// configured margin). An object not finished by then fails as retryable,
/// so the event is delivered again rather than the process being killed at
/// the deadline. A write cut off there is harmless: S3 stores a `PutObject`
/// whole or not at all.
pub(crate) async fn process(
    clients: Clients<'_>,
    config: &Config,
    metrics: &Metrics,
    object: &ObjectRef,
    request_id: &str,
    stop_at: Option<tokio::time::Instant>,
) -> Outcome {
    let started = Instant::now();
    let outcome = match stop_at {
        None => process_inner(clients, config, object).await,
        Some(stop) if tokio::time::Instant::now() >= stop => out_of_time(object, config, false),
        Some(stop) => tokio::time::timeout_at(stop, process_inner(clients, config, object))
            .await
            .unwrap_or_else(|_| out_of_time(object, config, true)),
    };
    // One duration for the log line and the metric, so the two agree.
    let duration_ms = started.elapsed().as_millis() as u64;
    log_outcome(&outcome, object, request_id, duration_ms);
    if let Some(counted) = object_metrics(&outcome) {
        metrics.record(&counted, request_id, duration_ms);
    }
    outcome
}

/// What an outcome counts for in the metrics. Skipped and missing objects
/// count for nothing: a skipped one's result (a newer version's) is counted
/// when that is written, and a missing one has nothing to count.
fn object_metrics(outcome: &Outcome) -> Option<ObjectMetrics> {
    match outcome {
        Outcome::Written {
            rejected,
            calls,
            bytes_read,
            ..
        } => Some(ObjectMetrics::Processed {
            rejected: *rejected,
            calls: calls.clone(),
            bytes_read: *bytes_read,
        }),
        Outcome::Failed(_) => Some(ObjectMetrics::Failed),
        Outcome::Skipped { .. } | Outcome::Missing { .. } => None,
    }
}

fn out_of_time(object: &ObjectRef, config: &Config, started: bool) -> Outcome {
    Outcome::Failed(ObjectError::OutOfTime {
        object: S3Location::new(&object.bucket, &object.raw_key),
        started,
        margin_ms: config.deadline_margin.as_millis(),
    })
}

fn log_outcome(outcome: &Outcome, object: &ObjectRef, request_id: &str, duration_ms: u64) {
    let version_id = object.version_id.as_deref().unwrap_or("");
    match outcome {
        Outcome::Written {
            bucket,
            key,
            status,
            rejected,
            summary,
            result_bucket,
            result_key,
            html_key,
            ..
        } => {
            tracing::info!(
                request_id,
                bucket = bucket.as_str(),
                key = key.as_str(),
                version_id,
                outcome = "written",
                status = match status {
                    Status::Ok => "ok",
                    Status::Rejected => "rejected",
                },
                rejected = rejected.map(RejectKind::as_str).unwrap_or(""),
                calls = summary.calls,
                agent = summary.agent,
                customer = summary.customer,
                network = summary.network,
                not_connected = summary.not_connected,
                unknown = summary.unknown,
                result_bucket = result_bucket.as_str(),
                result_key = result_key.as_str(),
                html_key = html_key.as_deref().unwrap_or(""),
                duration_ms,
                "object processed"
            );
        }
        Outcome::Skipped {
            bucket,
            key,
            reason,
        } => tracing::info!(
            request_id,
            bucket = bucket.as_str(),
            key = key.as_str(),
            version_id,
            outcome = "skipped",
            reason = reason.as_str(),
            duration_ms,
            "object skipped"
        ),
        Outcome::Missing { bucket, key } => tracing::warn!(
            request_id,
            bucket = bucket.as_str(),
            key = key.as_str(),
            version_id,
            outcome = "missing",
            duration_ms,
            "object not found (deleted before it was read?); no result written"
        ),
        Outcome::Failed(error) => tracing::error!(
            request_id,
            bucket = error.object().bucket.as_str(),
            key = error.object().key.as_str(),
            version_id,
            outcome = "failed",
            retryable = error.retryable(),
            error = %error.detail(),
            duration_ms,
            "object failed"
        ),
    }
}

async fn process_inner(clients: Clients<'_>, config: &Config, object: &ObjectRef) -> Outcome {
    let bucket = object.bucket.clone();
    let decoded = decode_event_key(&object.raw_key);
    // Keys to try, in order. Ambiguous keys (EventBridge, Batch): the decoded
    // form, then the key as written when that is different.
    let candidates: Vec<String> = match (object.encoding, decoded) {
        (KeyEncoding::UrlEncoded, Ok(key)) => vec![key],
        (KeyEncoding::UrlEncoded, Err(error)) => {
            return Outcome::Failed(ObjectError::UndecodableKey {
                object: S3Location::new(&bucket, &object.raw_key),
                error,
            });
        }
        (KeyEncoding::Ambiguous, Ok(key)) if key != object.raw_key => {
            vec![key, object.raw_key.clone()]
        }
        (KeyEncoding::Ambiguous, _) => vec![object.raw_key.clone()],
    };

    // Recursion guard, before any request: whatever the trigger says, a
    // result object is never input.
    if let Some(key) = candidates
        .iter()
        .find(|k| config.is_result_object(&bucket, k))
    {
        return Outcome::Skipped {
            bucket,
            key: key.clone(),
            reason: format!("under the results prefix {:?}", config.results_prefix),
        };
    }

    let last = candidates.len() - 1;
    let version_id = object.version_id.as_deref();
    for (i, key) in candidates.into_iter().enumerate() {
        match process_key(
            clients,
            config,
            &bucket,
            &key,
            version_id,
            object.sequencer.as_deref(),
        )
        .await
        {
            Outcome::Missing { .. } if i < last => continue,
            outcome => return outcome,
        }
    }
    // Unreachable: the loop returns on its last candidate.
    Outcome::Missing {
        bucket,
        key: object.raw_key.clone(),
    }
}

async fn process_key(
    clients: Clients<'_>,
    config: &Config,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    sequencer: Option<&str>,
) -> Outcome {
    let input = S3Location::new(bucket, key);

    // Known before anything is read: S3 would refuse a result's key. The
    // longest of the keys counts, HTML reports on or off, so that the
    // switch never decides whether a log can be processed.
    let result_key = config.result_key(key);
    let html_key = config.html_reports.then(|| config.html_key(key));
    let longest = config.longest_result_key_len(key);
    if longest > MAX_S3_KEY_BYTES {
        return Outcome::Failed(ObjectError::ResultKeyTooLong {
            object: input,
            bytes: longest,
        });
    }

    let response = match clients
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_owned))
        .send()
        .await
    {
        Ok(r) => r,
        Err(err) => {
            if matches!(err.code(), Some("NoSuchKey" | "NoSuchVersion")) {
                return Outcome::Missing {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                };
            }
            return Outcome::Failed(ObjectError::Get {
                object: input,
                cause: SdkFailure::of(&err),
            });
        }
    };

    let size = response
        .content_length()
        .and_then(|n| u64::try_from(n).ok());
    let stamp = Stamp {
        sequencer: sequencer.map(str::to_owned),
        last_modified: response.last_modified().map(|t| t.secs()),
        version_id: response.version_id().map(str::to_owned),
    };
    let source = Source {
        file: None,
        bucket: Some(bucket.to_owned()),
        key: Some(key.to_owned()),
        // What was read, not what the event said: a duplicate event for the
        // same object version gives the same document.
        version_id: response
            .version_id()
            .map(str::to_owned)
            .or_else(|| version_id.map(str::to_owned)),
        etag: response.e_tag().map(|e| e.trim_matches('"').to_owned()),
        size,
    };

    let (mut document, bytes_read) = match size {
        Some(n) if n > config.max_object_bytes => {
            // Not read at all: dropping the body closes the connection.
            drop(response);
            let document = Document::rejected(
                source,
                Rejection {
                    kind: RejectKind::TooLarge,
                    message: format!(
                        "the object is {n} bytes, more than MAX_OBJECT_BYTES ({})",
                        config.max_object_bytes
                    ),
                    offset: None,
                    entry: None,
                },
            );
            (document, 0)
        }
        _ => match classify_stream(response.body, size, source, config, &input).await {
            Ok(read) => read,
            Err(error) => return Outcome::Failed(error),
        },
    };

    // Optional DescribeContact cross-check (CONNECT_INSTANCE_ID); bounded, never fails.
    if let Some(enricher) = clients.enricher {
        enricher.enrich(&mut document).await;
    }
    let result_bucket = config.results_bucket_for(bucket).to_owned();
    // Only a whole, length-checked body gets here (`classify_stream`), so
    // neither object is ever made from part of a log.
    let mut outputs = vec![(&result_key, Format::Json)];
    if let Some(html_key) = &html_key {
        outputs.push((html_key, Format::Html));
    }
    // In order, stopping at the first that is not stored: see the module
    // documentation for why the JSON comes first. Each body is made just
    // before its write and dropped after it, so at most one sits beside the
    // document, and no page is rendered when the JSON was not stored.
    for (output_key, format) in outputs {
        let body = ResultBody::new(format, &document, config.spool_results_over_bytes);
        match write_result(
            clients.s3,
            &input,
            &result_bucket,
            output_key,
            &body,
            &stamp,
        )
        .await
        {
            Ok(Written::Stored) => {}
            // A newer version's result is there: that version's invocation
            // writes (or wrote) both objects, and counts them.
            Ok(Written::Superseded { existing }) => {
                return Outcome::Skipped {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    reason: format!(
                        "s3://{result_bucket}/{output_key} already holds the result of a newer \
                         version of the object (sequencer {}, last modified {})",
                        existing.sequencer.as_deref().unwrap_or("-"),
                        existing
                            .last_modified
                            .map_or_else(|| "-".to_owned(), |s| s.to_string())
                    ),
                };
            }
            Err(error) => return Outcome::Failed(error),
        }
    }

    Outcome::Written {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        status: document.status,
        rejected: document.error.as_ref().map(|e| e.kind),
        summary: document.summary.clone(),
        calls: calls_by_reason(&document),
        bytes_read,
        result_bucket,
        result_key,
        html_key,
    }
}

fn calls_by_reason(document: &Document) -> BTreeMap<(DisconnectedBy, Reason), u64> {
    let mut calls = BTreeMap::new();
    for call in &document.calls {
        *calls
            .entry((call.disconnected_by, call.reason))
            .or_insert(0) += 1;
    }
    calls
}

/// Feeds the body to the synchronous core on a blocking thread, as it
/// arrives: memory stays bounded by the SDK's chunk size. Returns the
/// document and the number of body bytes read.
async fn classify_stream(
    body: ByteStream,
    expected_len: Option<u64>,
    source: Source,
    config: &Config,
    input: &S3Location,
) -> Result<(Document, u64), ObjectError> {
    let options = Options {
        limits: Limits {
            max_decompressed_bytes: config.max_object_bytes,
            ..Limits::default()
        },
        ..Options::default()
    };
    let reader = SyncIoBridge::new(Box::pin(body.into_async_read()));
    // Set when this future is dropped (the deadline passed): the blocking
    // thread cannot be cancelled, so it is told to stop at its next read.
    let stop = StopOnDrop(Arc::new(AtomicBool::new(false)));
    let stopped = stop.0.clone();
    let read = Arc::new(AtomicU64::new(0));
    let counter = read.clone();
    let task = tokio::task::spawn_blocking(move || {
        let input = Stoppable {
            inner: LengthChecked::new(
                Counted {
                    inner: reader,
                    read: counter,
                },
                expected_len,
            ),
            stopped,
        };
        ccp_disconnect_core::classify(input, source, &options)
    });
    match task.await {
        Ok(Ok(document)) => Ok((document, read.load(Ordering::Relaxed))),
        Ok(Err(source_error)) => Err(ObjectError::BodyRead {
            object: input.clone(),
            kind: source_error.0.kind(),
            message: source_error.to_string(),
        }),
        Err(join_error) => Err(ObjectError::Classifier {
            object: input.clone(),
            message: join_error.to_string(),
        }),
    }
}

struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A reader that counts the bytes it passes on, for the `BytesRead` metric
/// (the count is read after the blocking thread has finished).
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A reader that fails once told to stop.
struct Stoppable<R> {
    inner: R,
    stopped: Arc<AtomicBool>,
}

impl<R: Read> Read for Stoppable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stopped.load(Ordering::Relaxed) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "stopped: the invocation deadline is near",
            ));
        }
        self.inner.read(buf)
    }
}

/// A reader that fails, instead of reporting end of input, when the body
/// ends before (or runs past) its `Content-Length`: half a log must never
/// produce a result.
pub(crate) struct LengthChecked<R> {
    inner: R,
    read: u64,
    expected: Option<u64>,
}

impl<R> LengthChecked<R> {
    pub(crate) fn new(inner: R, expected: Option<u64>) -> Self {
        LengthChecked {
            inner,
            read: 0,
            expected,
        }
    }
}

impl<R: Read> Read for LengthChecked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if let Some(expected) = self.expected {
            if n == 0 && !buf.is_empty() && self.read < expected {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the body ended after {} of {expected} bytes", self.read),
                ));
            }
            if self.read > expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the body is longer than its Content-Length ({expected} bytes)"),
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::{LengthChecked, StopOnDrop, Stoppable};
    use std::io::Read;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn a_dropped_stop_guard_stops_the_reader() {
        let guard = StopOnDrop(Arc::new(AtomicBool::new(false)));
        let mut reader = Stoppable {
            inner: &b"hello world"[..],
            stopped: guard.0.clone(),
        };
        let mut first = [0u8; 5];
        reader.read_exact(&mut first).unwrap();
        drop(guard);
        let err = reader.read(&mut [0u8; 5]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    }

    #[test]
    fn exact_length_reads_to_the_end() {
        let mut out = Vec::new();
        LengthChecked::new(&b"hello"[..], Some(5))
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"hello");
        let mut out = Vec::new();
        LengthChecked::new(&b"hello"[..], None)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"hello");
    }

    #[test]
    fn short_body_is_an_error_not_an_end() {
        let mut out = Vec::new();
        let err = LengthChecked::new(&b"hel"[..], Some(5))
            .read_to_end(&mut out)
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn long_body_is_an_error() {
        let mut out = Vec::new();
        let err = LengthChecked::new(&b"hello world"[..], Some(5))
            .read_to_end(&mut out)
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    }
}
