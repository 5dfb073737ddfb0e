//! ccp-disconnect: reads an Amazon Connect CCP agent log (`agent-log.txt`) and
//! decides, for every call in it, who disconnected.
//!
//! The core is pure: it takes any [`std::io::Read`] and returns a
//! [`Document`]. The CLI, the Lambda adapter and the benchmarks all call
//! [`classify`].

#![forbid(unsafe_code)]

mod calls;
mod catalog;
pub mod document;
mod pipeline;
mod reader;
mod recognize;
mod redact;
mod repeats;
pub mod time;
mod verdict;

use std::fmt;
use std::io::Read;

pub use document::{
    Call, Confidence, DisconnectedBy, Document, Evidence, Format, Rejection, Source, Status,
    Summary,
};

/// Caps that keep memory bounded on untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes read after decompression; the whole input is rejected past it.
    pub max_decompressed_bytes: u64,
    /// Nesting depth of JSON arrays and objects.
    pub max_depth: usize,
    /// Length of one JSON string, in bytes as written in the file.
    pub max_string_bytes: usize,
    /// Size of one log entry as written in the file.
    pub max_entry_bytes: usize,
    /// Contacts tracked in one log. Past it, later contacts are not
    /// classified and the log carries a warning saying so.
    pub max_contacts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed_bytes: 2 << 30,
            max_depth: 128,
            max_string_bytes: 8 << 20,
            max_entry_bytes: 16 << 20,
            max_contacts: 10_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub limits: Limits,
    /// Replace phone numbers and e-mail addresses in evidence text.
    pub redact: bool,
    /// Recognize an entry that repeats the previous large one (an unchanged
    /// agent snapshot, up to timestamps and its paging token) by a byte
    /// comparison, and reuse its parse. Off gives the reference path: every
    /// entry scanned and parsed on its own. The results are the same.
    pub reuse_repeats: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::default(),
            redact: true,
            reuse_repeats: true,
        }
    }
}

/// Why an input is not a readable CCP log. A closed list: consumers may match
/// on the snake_case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectKind {
    /// Zero bytes, or only white space.
    Empty,
    /// Not JSON at all (binary, text, a picture).
    NotJson,
    /// JSON, but not a CCP log (no entry with `text` and `time`).
    NotCcpLog,
    /// JSON that breaks off or is malformed.
    MalformedJson,
    /// A gzip stream that is corrupt or cut short.
    BadGzip,
    /// A cap in [`Limits`] was reached.
    TooLarge,
}

impl RejectKind {
    /// Every kind, in declaration order.
    pub const ALL: [RejectKind; 6] = [
        RejectKind::Empty,
        RejectKind::NotJson,
        RejectKind::NotCcpLog,
        RejectKind::MalformedJson,
        RejectKind::BadGzip,
        RejectKind::TooLarge,
    ];

    /// The wire name, as serialized in `error.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectKind::Empty => "empty",
            RejectKind::NotJson => "not_json",
            RejectKind::NotCcpLog => "not_ccp_log",
            RejectKind::MalformedJson => "malformed_json",
            RejectKind::BadGzip => "bad_gzip",
            RejectKind::TooLarge => "too_large",
        }
    }
}

/// Machine-readable reason behind a verdict. A closed list, documented in the
/// README; each belongs to exactly one [`DisconnectedBy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    // agent
    /// `TalkingState => PendingRemoteHangupState` (the Knowledge Center rule),
    /// or, with no softphone verdict, the agent's leg went first.
    AgentHangup,
    /// The agent's `destroyConnection` on its own leg or the customer's.
    AgentHangupApi,
    /// The agent's leg ended (End call or a transfer) while other parties
    /// stayed connected.
    AgentLeftConference,
    /// The agent state `AgentHungUp` (deskphone).
    AgentHungUpState,
    // customer
    /// `TalkingState => PendingLocalHangupState`: the far end sent `bye`.
    RemoteHangup,
    /// `PendingRemoteHangupState`, but the customer's leg went first: the
    /// snapshot/bye race.
    RemoteHangupSnapshotRace,
    /// No signaling verdict (deskphone, persistent connection, or the CCP's
    /// teardown with no request where one would show); the customer's leg
    /// went first, or no agent request where one would show.
    RemoteHangupSnapshot,
    // network
    /// Signaling lost while talking and not recovered.
    SignalingLost,
    /// Media (ICE) lost and not recovered before the end.
    MediaLost,
    /// A softphone machine failed while talking.
    FailedWhileTalking,
    // not_connected
    Missed,
    Rejected,
    /// The softphone session failed before the conversation.
    SetupFailed,
    /// 404 CallNotFound: the caller was gone before media connected.
    CallNotFound,
    OutboundNotAnswered,
    /// The contact went to `error` before it connected.
    ContactError,
    // unknown
    LogEndsMidCall,
    /// The call's end is not in the log (only seen after it ended, or a
    /// deskphone call with no deciding snapshot).
    NoEndEvidence,
    /// Persistent connection: `TalkingState => IdleState` with nothing to
    /// corroborate either side.
    PersistentAmbiguous,
}

impl Reason {
    pub fn verdict(self) -> DisconnectedBy {
        use DisconnectedBy::*;
        use Reason::*;
        match self {
            AgentHangup | AgentHangupApi | AgentLeftConference | AgentHungUpState => Agent,
            RemoteHangup | RemoteHangupSnapshotRace | RemoteHangupSnapshot => Customer,
            SignalingLost | MediaLost | FailedWhileTalking => Network,
            Missed | Rejected | SetupFailed | CallNotFound | OutboundNotAnswered | ContactError => {
                NotConnected
            }
            LogEndsMidCall | NoEndEvidence | PersistentAmbiguous => Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        use Reason::*;
        match self {
            AgentHangup => "agent_hangup",
            AgentHangupApi => "agent_hangup_api",
            AgentLeftConference => "agent_left_conference",
            AgentHungUpState => "agent_hung_up_state",
            RemoteHangup => "remote_hangup",
            RemoteHangupSnapshotRace => "remote_hangup_snapshot_race",
            RemoteHangupSnapshot => "remote_hangup_snapshot",
            SignalingLost => "signaling_lost",
            MediaLost => "media_lost",
            FailedWhileTalking => "failed_while_talking",
            Missed => "missed",
            Rejected => "rejected",
            SetupFailed => "setup_failed",
            CallNotFound => "call_not_found",
            OutboundNotAnswered => "outbound_not_answered",
            ContactError => "contact_error",
            LogEndsMidCall => "log_ends_mid_call",
            NoEndEvidence => "no_end_evidence",
            PersistentAmbiguous => "persistent_ambiguous",
        }
    }
}

/// The underlying reader failed (a network read, a disk error). This is not a
/// property of the log: the caller should retry, not write a rejection.
#[derive(Debug)]
pub struct SourceError(pub std::io::Error);

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "reading the input failed: {}", self.0)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
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
