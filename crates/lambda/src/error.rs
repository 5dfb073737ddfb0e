//! Why one object got no result: [`ObjectError`], shared by the read path
//! (`object`) and the write path (`write`), so it sits below both.

use std::fmt;
use std::io;

use crate::key::KeyError;
use crate::s3_error::SdkFailure;

/// The longest object key S3 accepts, in bytes of UTF-8.
pub(crate) const MAX_S3_KEY_BYTES: usize = 1024;

/// An object in S3, shown as `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
}

impl S3Location {
    pub(crate) fn new(bucket: &str, key: &str) -> S3Location {
        S3Location {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        }
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// The S3 request that failed while a result was being stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOp {
    PutObject,
    /// Reading the stamp of a result already stored.
    HeadObject,
}

impl WriteOp {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteOp::PutObject => "PutObject",
            WriteOp::HeadObject => "HeadObject",
        }
    }
}

/// One object that produced no result. Every variant names the input object
/// (`object`, the key as tried) and knows whether a later attempt may succeed
/// ([`ObjectError::retryable`]): that decides between redelivery and giving
/// up (S3 Batch Operations `TemporaryFailure` or `PermanentFailure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectError {
    /// The notification's key does not URL-decode to UTF-8 (`object.key` is
    /// the key as the event wrote it). Permanent.
    UndecodableKey { object: S3Location, error: KeyError },
    /// The longer of `<RESULTS_PREFIX><key>.json` and `<RESULTS_PREFIX><key>.html`
    /// would be `bytes` long, more than S3's 1,024: known before anything is
    /// read. Permanent.
    ResultKeyTooLong { object: S3Location, bytes: usize },
    /// `GetObject` failed (other than a missing object, which is not an error).
    Get {
        object: S3Location,
        cause: SdkFailure,
    },
    /// The body stopped before its end, ran past its `Content-Length`, or the
    /// connection failed mid-way: never half a log classified. Retryable.
    BodyRead {
        object: S3Location,
        kind: io::ErrorKind,
        /// The core's `SourceError` as text.
        message: String,
    },
    /// The classifier's thread ended abnormally (a panic). Permanent: the
    /// same bytes would do the same again.
    Classifier { object: S3Location, message: String },
    /// A request storing the result at `result` failed.
    Put {
        object: S3Location,
        op: WriteOp,
        result: S3Location,
        cause: SdkFailure,
    },
    /// The stored result has no ETag, so it cannot be replaced conditionally.
    /// Permanent.
    NoEtag {
        object: S3Location,
        result: S3Location,
    },
    /// Another writer changed the result object between each of `attempts`
    /// conditional writes in a row. Retryable.
    ChangedUnderUs {
        object: S3Location,
        result: S3Location,
        attempts: usize,
    },
    /// The result spooled to a temporary file could not be read back for the
    /// upload. Retryable.
    SpoolRead { object: S3Location, message: String },
    /// Less than `DEADLINE_MARGIN_MS` (`margin_ms`) was left before the
    /// invocation deadline: the object was not `started`, or was stopped.
    /// No result written. Retryable: the event is to be delivered again.
    OutOfTime {
        object: S3Location,
        started: bool,
        margin_ms: u128,
    },
}

impl ObjectError {
    /// Whether a later attempt may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            ObjectError::Get { cause, .. } | ObjectError::Put { cause, .. } => cause.retryable,
            ObjectError::BodyRead { .. }
            | ObjectError::ChangedUnderUs { .. }
            | ObjectError::SpoolRead { .. }
            | ObjectError::OutOfTime { .. } => true,
            ObjectError::UndecodableKey { .. }
            | ObjectError::ResultKeyTooLong { .. }
            | ObjectError::Classifier { .. }
            | ObjectError::NoEtag { .. } => false,
        }
    }

    /// The input object.
    pub fn object(&self) -> &S3Location {
        match self {
            ObjectError::UndecodableKey { object, .. }
            | ObjectError::ResultKeyTooLong { object, .. }
            | ObjectError::Get { object, .. }
            | ObjectError::BodyRead { object, .. }
            | ObjectError::Classifier { object, .. }
            | ObjectError::Put { object, .. }
            | ObjectError::NoEtag { object, .. }
            | ObjectError::ChangedUnderUs { object, .. }
            | ObjectError::SpoolRead { object, .. }
            | ObjectError::OutOfTime { object, .. } => object,
        }
    }

    /// What went wrong, without the input object: the `error` field of the
    /// `object failed` log line (`docs/lambda.md`), whose wording is kept.
    pub fn detail(&self) -> Detail<'_> {
        Detail(self)
    }
}

/// [`ObjectError::detail`]: the error's text after `s3://bucket/key: `.
pub struct Detail<'a>(&'a ObjectError);

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            ObjectError::UndecodableKey { error, .. } => write!(f, "{error}"),
            ObjectError::ResultKeyTooLong { bytes, .. } => write!(
                f,
                "the result key would be {bytes} bytes, more than S3's {MAX_S3_KEY_BYTES}: \
                 shorten the input key or RESULTS_PREFIX"
            ),
            ObjectError::Get { cause, .. } => write!(f, "GetObject: {cause}"),
            ObjectError::BodyRead { message, .. } => {
                write!(f, "reading the object body: {message}")
            }
            ObjectError::Classifier { message, .. } => {
                write!(f, "the classifier stopped abnormally: {message}")
            }
            ObjectError::Put {
                op, result, cause, ..
            } => write!(f, "{} {result}: {cause}", op.as_str()),
            ObjectError::NoEtag { result, .. } => write!(
                f,
                "HeadObject {result}: no ETag, so the result cannot be replaced safely"
            ),
            ObjectError::ChangedUnderUs {
                result, attempts, ..
            } => write!(
                f,
                "PutObject {result}: the result object changed under {attempts} conditional \
                 writes in a row"
            ),
            ObjectError::SpoolRead { message, .. } => {
                write!(f, "reading the spooled result: {message}")
            }
            ObjectError::OutOfTime {
                started, margin_ms, ..
            } => write!(
                f,
                "{}: less than DEADLINE_MARGIN_MS ({margin_ms} ms) left before the invocation \
                 deadline; no result written, the event is to be delivered again",
                if *started { "stopped" } else { "not started" }
            ),
        }
    }
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.object(), self.detail())
    }
}

impl std::error::Error for ObjectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ObjectError::UndecodableKey { error, .. } => Some(error),
            _ => None,
        }
    }
}
