//! What an S3 request's failure means for this adapter: whether a later
//! attempt may succeed, and one line that says what went wrong. Both the
//! read path (`object`) and the write path (`write`) ask these questions, so
//! they live here, below both.

use std::fmt;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// A failed S3 request, reduced to what the adapter decides on and reports.
/// The SDK error itself is not kept: it is neither `Clone` nor comparable,
/// and everything the adapter does with it is captured here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkFailure {
    /// The HTTP status of a service error; `None` for a request that got no
    /// answer (timeout, connection lost, a response cut short).
    pub status: Option<u16>,
    /// The S3 error code (`NoSuchBucket`, `SlowDown`, ...), when S3 sent one.
    pub code: Option<String>,
    /// Whether a later attempt may succeed: 5xx, 429, 408, S3's throttling
    /// codes, and requests that got no answer.
    pub retryable: bool,
    /// One line: the code, status and message for service errors (not the
    /// raw response), the error chain otherwise.
    pub description: String,
}

impl SdkFailure {
    pub(crate) fn of<E: ProvideErrorMetadata + std::error::Error + 'static>(
        err: &SdkError<E, HttpResponse>,
    ) -> SdkFailure {
        SdkFailure {
            status: status(err),
            code: err.code().map(str::to_owned),
            retryable: is_retryable(err),
            description: describe_sdk_error(err),
        }
    }
}

impl fmt::Display for SdkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

/// A one-line description: the S3 error code and message for service errors
/// (not the raw response), the error chain otherwise.
pub(crate) fn describe_sdk_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: &SdkError<E, HttpResponse>,
) -> String {
    match err {
        SdkError::ServiceError(service) => format!(
            "{} (HTTP {}): {}",
            err.code().unwrap_or("unknown error"),
            service.raw().status().as_u16(),
            err.message().unwrap_or("no message")
        ),
        _ => DisplayErrorContext(err).to_string(),
    }
}

/// Whether a later attempt may succeed. The SDK has already retried the
/// transient cases it knows; this decides between "redeliver" and "give up"
/// for S3 Batch Operations (`TemporaryFailure` or `PermanentFailure`).
pub(crate) fn is_retryable<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            status >= 500
                || status == 429
                || status == 408
                || matches!(
                    err.code(),
                    Some(
                        "SlowDown"
                            | "Throttling"
                            | "ThrottlingException"
                            | "RequestTimeout"
                            | "InternalError"
                    )
                )
        }
        SdkError::ConstructionFailure(_) => false,
        // Timeouts, connection failures, responses cut short.
        _ => true,
    }
}

/// The HTTP status of a service error; `None` when there was no response.
pub(crate) fn status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    match err {
        SdkError::ServiceError(service) => Some(service.raw().status().as_u16()),
        _ => None,
    }
}

/// The server does not support the conditional headers.
pub(crate) fn is_not_implemented<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    status(err) == Some(501) || err.code() == Some("NotImplemented")
}

/// The condition did not hold (412), or a concurrent conditional write to
/// the same key won (409 `ConditionalRequestConflict`).
pub(crate) fn is_lost_race<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match status(err) {
        Some(412) => true,
        Some(409) => err.code() == Some("ConditionalRequestConflict"),
        _ => false,
    }
}
