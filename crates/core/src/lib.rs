//! ccp-disconnect: reads an Amazon Connect CCP agent log (`agent-log.txt`) and
//! decides, for every call in it, who disconnected.
//!
//! The core is pure: it takes any [`std::io::Read`] and returns a
//! [`Document`]. The CLI, the Lambda adapter and the benchmarks all call
//! [`classify`]; [`render`] turns the document into bytes.
//!
//! # Example
//!
//! ```
//! use ccp_disconnect_core::{DisconnectedBy, Options, Reason, Source, Status, classify};
//!
//! let call = "f23586c4-1c7a-4e9b-bf88-5e3ccd504e34";
//! let line = |time: &str, text: String| format!(r#"{{"time":"{time}","text":"{text}"}}"#);
//! let log = format!(
//!     "[{}]",
//!     [
//!         line("2019-10-03T18:19:47.444Z", format!("Softphone call detected: contactId {call}")),
//!         line("2019-10-03T18:19:48.685Z", format!("{call} SIGNALING PendingAcceptAckState => TalkingState")),
//!         line("2019-10-03T18:21:26.586Z", format!("{call} SIGNALING TalkingState => PendingRemoteHangupState")),
//!         line("2019-10-03T18:21:26.851Z", format!("{call} SIGNALING PendingRemoteHangupState => DisconnectedState")),
//!     ]
//!     .join(","),
//! );
//!
//! let doc = classify(log.as_bytes(), Source::default(), &Options::default())?;
//! assert_eq!(doc.status, Status::Ok);
//! assert_eq!(doc.calls[0].disconnected_by, DisconnectedBy::Agent);
//! assert_eq!(doc.calls[0].reason, Reason::AgentHangup);
//!
//! let mut out = Vec::new();
//! ccp_disconnect_core::render::json::write_line(&mut out, &doc)?;
//! assert!(out.starts_with(br#"{"schema_version":1,"status":"ok""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

// reader → recognizer → time-order window → tracker → verdicts → document,
// wired together in `pipeline`.
mod assemble;
mod calls;
mod catalog;
pub mod contact_records;
mod document;
mod error;
mod options;
mod pipeline;
mod read;
mod recognize;
mod redact;
pub mod render;
mod reorder;
mod repeats;
pub mod time;
mod verdict;

use std::io::Read;

pub use document::{
    Call, Confidence, DisconnectedBy, Document, Evidence, Format, Generator, LogInfo, OtherContact,
    Quality, Reason, RejectKind, Rejection, SCHEMA_VERSION, SoftphoneError, Source, Status,
    Summary, Time, TimelineItem, Warning,
};
pub use error::SourceError;
pub use options::{Limits, Options};

/// Not part of the API: for the differential tests and the `snapshot_reader`
/// fuzz target. `None` when the hand-written snapshot reader leaves `objects`
/// to `serde_json`; otherwise whether both readers give the same snapshot.
#[doc(hidden)]
#[must_use]
pub fn snapshot_readers_agree(objects: &[u8]) -> Option<bool> {
    recognize::snapshot_readers_agree(objects)
}

/// Not part of the API: for the differential tests and the `metrics_reader`
/// fuzz target. `None` when the hand-written reader of a
/// `sendSoftphoneMetrics` line's JSON leaves it to `serde_json`; otherwise
/// whether both readers give the same samples.
#[doc(hidden)]
#[must_use]
pub fn metrics_readers_agree(json: &str) -> Option<bool> {
    recognize::metrics_readers_agree(json)
}

/// Reads a CCP log (any shape, gzip or not) and classifies every call in it.
///
/// Content problems never fail this function: they give a document with
/// `status: rejected`. Only a failure of `input` itself is an `Err`, because
/// then the same input may well read fine on a retry.
pub fn classify<R: Read>(
    input: R,
    source: Source,
    options: &Options,
) -> Result<Document, SourceError> {
    pipeline::run(input, source, options)
}
