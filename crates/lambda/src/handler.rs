//! The invocation handler: trigger in, per-object outcomes, trigger-shaped
//! response out.

use std::fmt;
use std::time::SystemTime;

use aws_lambda_events::s3::batch_job::{S3BatchJobResponse, S3BatchJobResult};
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};

use crate::config::Config;
use crate::contact_records::Enricher;
use crate::error::ObjectError;
use crate::metrics::Metrics;
use crate::object::{Clients, Outcome, process};
use crate::trigger::{BatchInvocation, Item, Trigger, parse_trigger};

/// The invocation failed; Lambda (or the queue) delivers the event again.
/// Each variant maps to the `errorType` Lambda reports (`From<InvocationError>
/// for Diagnostic`); the `errorMessage` is the [`InvocationError::message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvocationError {
    /// The payload is of no trigger shape the function knows
    /// (`errorType` `UnrecognizedEvent`); `reason` says what was missing.
    UnrecognizedEvent { reason: String },
    /// Some records of a direct trigger (S3, SNS, EventBridge) failed
    /// (`errorType` `ObjectsFailed`). Every record was attempted first.
    ObjectsFailed {
        /// Records in the payload.
        records: usize,
        failures: Vec<RecordFailure>,
    },
    /// An SQS message without a `messageId` failed, so the failure cannot be
    /// reported per message and the whole batch fails (`errorType`
    /// `ObjectsFailed`).
    UnidentifiedMessageFailed,
}

/// One failed record of a direct trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordFailure {
    /// The record names no object (no bucket or key, an unknown shape).
    Unusable { reason: String },
    /// The record's object failed.
    Object(ObjectError),
}

impl fmt::Display for RecordFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordFailure::Unusable { reason } => f.write_str(reason),
            RecordFailure::Object(error) => write!(f, "{error}"),
        }
    }
}

impl InvocationError {
    /// The Lambda `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            InvocationError::UnrecognizedEvent { .. } => "UnrecognizedEvent",
            InvocationError::ObjectsFailed { .. } | InvocationError::UnidentifiedMessageFailed => {
                "ObjectsFailed"
            }
        }
    }

    /// The Lambda `errorMessage`.
    pub fn message(&self) -> String {
        match self {
            InvocationError::UnrecognizedEvent { reason } => reason.clone(),
            InvocationError::ObjectsFailed { records, failures } => {
                let listed: Vec<String> = failures.iter().map(ToString::to_string).collect();
                format!(
                    "{} of {records} records failed: {}",
                    failures.len(),
                    listed.join("; ")
                )
            }
            InvocationError::UnidentifiedMessageFailed => {
                "a message without messageId failed; failing the whole batch".to_owned()
            }
        }
    }
}

impl fmt::Display for InvocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type(), self.message())
    }
}

impl std::error::Error for InvocationError {}

impl From<InvocationError> for Diagnostic {
    fn from(e: InvocationError) -> Diagnostic {
        Diagnostic {
            error_type: e.error_type().to_owned(),
            error_message: e.message(),
        }
    }
}

/// The S3 client and settings, built once per execution environment and
/// shared by reference with every invocation.
#[derive(Debug, Clone)]
pub struct Handler {
    s3: aws_sdk_s3::Client,
    config: Config,
    metrics: Metrics,
    enricher: Option<Enricher>,
}

impl Handler {
    /// A handler whose metrics (EMF lines) go to standard output, where
    /// Lambda hands them to CloudWatch Logs with the log lines.
    pub fn new(s3: aws_sdk_s3::Client, config: Config) -> Handler {
        Handler::with_metrics_sink(s3, config, Box::new(std::io::stdout()))
    }

    /// A handler whose metrics lines go to `sink` (tests read them back).
    pub fn with_metrics_sink(
        s3: aws_sdk_s3::Client,
        config: Config,
        sink: Box<dyn std::io::Write + Send>,
    ) -> Handler {
        let metrics = Metrics::new(&config, sink);
        Handler {
            s3,
            config,
            metrics,
            enricher: None,
        }
    }

    /// The same handler with the `DescribeContact` cross-check on every
    /// document (`None`: off, the default).
    pub fn with_enricher(mut self, enricher: Option<Enricher>) -> Handler {
        self.enricher = enricher;
        self
    }

    fn clients(&self) -> Clients<'_> {
        Clients {
            s3: &self.s3,
            enricher: self.enricher.as_ref(),
        }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// Entry point for `lambda_runtime::service_fn`.
    pub(crate) async fn invoke(&self, event: LambdaEvent<Value>) -> Result<Value, InvocationError> {
        let deadline = event.context.deadline();
        self.handle_until(event.payload, &event.context.request_id, Some(deadline))
            .await
    }

    /// Handles one payload with no deadline. `Ok` is the function's
    /// response; `Err` fails the invocation so that it is delivered again.
    pub async fn handle(&self, payload: Value, request_id: &str) -> Result<Value, InvocationError> {
        self.handle_until(payload, request_id, None).await
    }

    /// Handles one payload, stopping [`Config::deadline_margin`] before
    /// `deadline`: objects not finished by then fail as retryable (and are
    /// reported so, per trigger) instead of the process being killed.
    pub async fn handle_until(
        &self,
        payload: Value,
        request_id: &str,
        deadline: Option<SystemTime>,
    ) -> Result<Value, InvocationError> {
        let stop_at = deadline.map(|deadline| {
            let left = deadline
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            tokio::time::Instant::now() + left.saturating_sub(self.config.deadline_margin)
        });
        let call = Call {
            request_id,
            stop_at,
        };
        let trigger = match parse_trigger(&payload) {
            Ok(t) => t,
            Err(reason) => {
                tracing::error!(request_id, error = reason.as_str(), "unrecognized event");
                return Err(InvocationError::UnrecognizedEvent { reason });
            }
        };
        match trigger {
            Trigger::Notification { source, items } => {
                self.handle_notification(source, items, &call).await
            }
            Trigger::Queue { messages } => self.handle_queue(messages, &call).await,
            Trigger::Batch(batch) => Ok(self.handle_batch(batch, &call).await),
        }
    }

    /// Every item is attempted; any failure fails the whole invocation (the
    /// objects already written are rewritten byte-identically on retry).
    async fn handle_notification(
        &self,
        source: &'static str,
        items: Vec<Item>,
        call: &Call<'_>,
    ) -> Result<Value, InvocationError> {
        let request_id = call.request_id;
        let mut counts = Counts::default();
        let mut failures = Vec::new();
        for item in &items {
            match self.handle_item(item, call).await {
                ItemResult::Done(outcome) => {
                    counts.add(&outcome);
                    if let Outcome::Failed(error) = *outcome {
                        failures.push(RecordFailure::Object(error));
                    }
                }
                ItemResult::Ignored => counts.ignored += 1,
                ItemResult::Invalid(reason) => {
                    counts.failed += 1;
                    failures.push(RecordFailure::Unusable { reason });
                }
            }
        }
        tracing::info!(
            request_id,
            trigger = source,
            records = items.len(),
            written = counts.written,
            skipped = counts.skipped,
            missing = counts.missing,
            ignored = counts.ignored,
            failed = counts.failed,
            "invocation done"
        );
        if failures.is_empty() {
            Ok(counts.to_json())
        } else {
            Err(InvocationError::ObjectsFailed {
                records: items.len(),
                failures,
            })
        }
    }

    /// Partial batch response: only the messages that failed are retried.
    async fn handle_queue(
        &self,
        messages: Vec<crate::trigger::QueueMessage>,
        call: &Call<'_>,
    ) -> Result<Value, InvocationError> {
        let request_id = call.request_id;
        let mut response = SqsBatchResponse::default();
        let mut counts = Counts::default();
        for message in &messages {
            let mut message_failed = false;
            for item in &message.items {
                match self.handle_item(item, call).await {
                    ItemResult::Done(outcome) => {
                        counts.add(&outcome);
                        message_failed |= matches!(*outcome, Outcome::Failed(_));
                    }
                    ItemResult::Ignored => counts.ignored += 1,
                    ItemResult::Invalid(_) => {
                        counts.failed += 1;
                        message_failed = true;
                    }
                }
            }
            if message_failed {
                let Some(id) = message.message_id.clone() else {
                    // Without an id the failure cannot be reported per message.
                    return Err(InvocationError::UnidentifiedMessageFailed);
                };
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        tracing::info!(
            request_id,
            trigger = "sqs",
            messages = messages.len(),
            failed_messages = response.batch_item_failures.len(),
            written = counts.written,
            skipped = counts.skipped,
            missing = counts.missing,
            ignored = counts.ignored,
            failed = counts.failed,
            "invocation done"
        );
        Ok(serde_json::to_value(&response).unwrap_or_else(|_| json!({"batchItemFailures": []})))
    }

    /// One result per task; the invocation itself always succeeds.
    async fn handle_batch(&self, batch: BatchInvocation, call: &Call<'_>) -> Value {
        let request_id = call.request_id;
        let mut response = S3BatchJobResponse::default();
        response.invocation_schema_version = Some(batch.schema_version.clone());
        response.invocation_id = batch.invocation_id.clone();
        response.treat_missing_keys_as = Some(PERMANENT_FAILURE.to_owned());
        let mut counts = Counts::default();
        for task in &batch.tasks {
            let (code, text) = match &task.object {
                Err(reason) => {
                    counts.failed += 1;
                    (PERMANENT_FAILURE, reason.clone())
                }
                Ok(object) => {
                    let outcome = process(
                        self.clients(),
                        &self.config,
                        &self.metrics,
                        object,
                        request_id,
                        call.stop_at,
                    )
                    .await;
                    counts.add(&outcome);
                    (batch_result_code(&outcome), outcome.describe())
                }
            };
            let mut result = S3BatchJobResult::default();
            result.task_id = Some(task.task_id.clone());
            result.result_code = Some(code.to_owned());
            result.result_string = Some(text);
            response.results.push(result);
        }
        tracing::info!(
            request_id,
            trigger = "s3_batch",
            schema_version = batch.schema_version.as_str(),
            tasks = batch.tasks.len(),
            written = counts.written,
            skipped = counts.skipped,
            missing = counts.missing,
            failed = counts.failed,
            "invocation done"
        );
        serde_json::to_value(&response).unwrap_or(Value::Null)
    }

    async fn handle_item(&self, item: &Item, call: &Call<'_>) -> ItemResult {
        let request_id = call.request_id;
        match item {
            Item::Object(object) => ItemResult::Done(Box::new(
                process(
                    self.clients(),
                    &self.config,
                    &self.metrics,
                    object,
                    request_id,
                    call.stop_at,
                )
                .await,
            )),
            Item::Ignored { reason } => {
                tracing::info!(request_id, reason = reason.as_str(), "record ignored");
                ItemResult::Ignored
            }
            Item::Invalid { reason } => {
                tracing::error!(request_id, error = reason.as_str(), "unusable record");
                ItemResult::Invalid(reason.clone())
            }
        }
    }
}

/// One invocation's identity and time budget.
struct Call<'a> {
    request_id: &'a str,
    /// When to stop starting or continuing objects.
    stop_at: Option<tokio::time::Instant>,
}

const PERMANENT_FAILURE: &str = "PermanentFailure";

/// S3 Batch Operations result code for an outcome. A missing object is a
/// `PermanentFailure`: the job's completion report then lists it.
fn batch_result_code(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Written { .. } | Outcome::Skipped { .. } => "Succeeded",
        Outcome::Missing { .. } => PERMANENT_FAILURE,
        Outcome::Failed(error) if error.retryable() => "TemporaryFailure",
        Outcome::Failed(_) => PERMANENT_FAILURE,
    }
}

enum ItemResult {
    // Boxed: an outcome carries a typed error with its S3 context, far
    // larger than the other variants.
    Done(Box<Outcome>),
    Ignored,
    Invalid(String),
}

#[derive(Default)]
struct Counts {
    written: u64,
    skipped: u64,
    missing: u64,
    ignored: u64,
    failed: u64,
}

impl Counts {
    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Written { .. } => self.written += 1,
            Outcome::Skipped { .. } => self.skipped += 1,
            Outcome::Missing { .. } => self.missing += 1,
            Outcome::Failed(_) => self.failed += 1,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "written": self.written,
            "skipped": self.skipped,
            "missing": self.missing,
            "ignored": self.ignored,
            "failed": self.failed,
        })
    }
}
