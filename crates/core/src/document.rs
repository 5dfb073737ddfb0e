//! The result document, schema version 1 (`schema/result-v1.schema.json`).
//!
//! One document per input log. Field order here is the serialised order, and
//! every collection is built in a deterministic order, so the same input always
//! gives byte-identical output.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::contact_records::{AgreementCounts, ContactRecordCheck};
use crate::render;
use crate::time::{Millis, format_iso8601, iso8601_bytes};

/// An instant, kept as epoch milliseconds and written as ISO-8601 UTC with
/// milliseconds (`2019-10-03T18:21:26.478Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub Millis);

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_iso8601(self.0))
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match iso8601_bytes(self.0) {
            // ASCII digits and separators only.
            Some(b) => s.serialize_str(std::str::from_utf8(&b).unwrap_or_default()),
            None => s.collect_str(self),
        }
    }
}

/// Bumped only on incompatible changes to the document's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// Where the log came from. Adapters fill what they know; absent fields are
/// omitted from the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Source {
    /// A local file path or `-` for standard input (CLI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// The decoded object key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Size of the input as stored (before decompression), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The log was read; `calls` holds the verdicts.
    Ok,
    /// The input could not be read as a CCP log; `error` says why.
    Rejected,
}

impl Status {
    /// Every status, in declaration order.
    pub const ALL: [Status; 2] = [Status::Ok, Status::Rejected];

    /// The wire name, as serialized in `status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Document {
    pub schema_version: u32,
    pub status: Status,
    pub generator: Generator,
    pub source: Source,
    /// Present when `status` is `rejected`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Rejection>,
    /// Present when `status` is `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<LogInfo>,
    pub calls: Vec<Call>,
    /// Contacts that are not voice calls (chat, task, email, or of unknown
    /// type with no softphone activity). Never counted in `summary`.
    pub other_contacts: Vec<OtherContact>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub struct Generator {
    pub name: &'static str,
    pub version: &'static str,
}

impl Default for Generator {
    fn default() -> Self {
        Generator {
            // The project's name, not this crate's: documents name the tool
            // that wrote them, whichever adapter ran the core.
            name: "ccp-disconnect",
            // All crates share the workspace's version.
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// Why a log was rejected. `kind` is a closed list (see [`RejectKind`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub kind: RejectKind,
    pub message: String,
    /// Byte offset in the decompressed input, when the problem has a place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// 0-based entry index, when the problem is inside one entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<u64>,
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
    /// A cap in [`crate::Limits`] was reached.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A JSON array of entries, as the CCP's "Download logs" writes it.
    JsonArray,
    /// The 2017 shape: an object whose `_logs` member is the entry array.
    LegacyObject,
    /// One JSON entry per line, as log collectors write.
    Ndjson,
}

impl Format {
    /// Every format, in declaration order.
    pub const ALL: [Format; 3] = [Format::JsonArray, Format::LegacyObject, Format::Ndjson];

    /// The wire name, as serialized in `log.format`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::JsonArray => "json_array",
            Format::LegacyObject => "legacy_object",
            Format::Ndjson => "ndjson",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LogInfo {
    pub format: Format,
    pub gzip: bool,
    /// Bytes read after decompression.
    pub bytes: u64,
    /// Array elements (or NDJSON values) seen, valid or not.
    pub entries: u64,
    /// Earliest and latest entry `time`, ISO-8601 UTC with milliseconds.
    pub first_time: Option<String>,
    pub last_time: Option<String>,
    /// The agent's user id from the entries' `agentResourceId` (Streams
    /// 1.6.4 and later), the first one seen.
    pub agent_resource_id: Option<String>,
    /// Entries skipped because a field had the wrong type or was missing.
    pub warnings: u64,
    /// The first few warnings, for a human to look at.
    pub warning_samples: Vec<Warning>,
    pub snapshots: u64,
    /// `Log roll interval occurred.` lines: each marks a 30-minute window.
    pub log_rolls: u64,
    /// The log records requests: `Sending API_REQUEST event` lines (Streams
    /// 2.5.0 and later) or the shared worker's `AWSClient: --> Calling
    /// operation` lines; without either an agent's End call leaves no direct
    /// trace.
    pub api_lines: bool,
    /// A persistent softphone connection (`IdleState`) was seen.
    pub persistent_connection: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub entry: u64,
    /// Byte offset of the entry, for warnings about one entry's shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisconnectedBy {
    /// The agent ended the call (End call, or left a conference).
    Agent,
    /// The far end ended it: customer, third party or a flow. The log cannot
    /// tell these apart.
    Customer,
    /// A connectivity failure ended it, not a hang-up.
    Network,
    /// The call never reached a conversation (missed, rejected, setup failure,
    /// outbound call not answered).
    NotConnected,
    /// The log does not show how it ended.
    Unknown,
}

impl DisconnectedBy {
    /// Every verdict, in declaration order.
    pub const ALL: [DisconnectedBy; 5] = [
        DisconnectedBy::Agent,
        DisconnectedBy::Customer,
        DisconnectedBy::Network,
        DisconnectedBy::NotConnected,
        DisconnectedBy::Unknown,
    ];

    /// The wire name, as serialized in `calls[].disconnected_by`.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectedBy::Agent => "agent",
            DisconnectedBy::Customer => "customer",
            DisconnectedBy::Network => "network",
            DisconnectedBy::NotConnected => "not_connected",
            DisconnectedBy::Unknown => "unknown",
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
    /// Every reason, in declaration order (grouped by verdict).
    pub const ALL: [Reason; 19] = [
        Reason::AgentHangup,
        Reason::AgentHangupApi,
        Reason::AgentLeftConference,
        Reason::AgentHungUpState,
        Reason::RemoteHangup,
        Reason::RemoteHangupSnapshotRace,
        Reason::RemoteHangupSnapshot,
        Reason::SignalingLost,
        Reason::MediaLost,
        Reason::FailedWhileTalking,
        Reason::Missed,
        Reason::Rejected,
        Reason::SetupFailed,
        Reason::CallNotFound,
        Reason::OutboundNotAnswered,
        Reason::ContactError,
        Reason::LogEndsMidCall,
        Reason::NoEndEvidence,
        Reason::PersistentAmbiguous,
    ];

    /// The verdict this reason belongs to.
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

    /// The wire name, as serialized in `calls[].reason`.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    /// Every level, lowest first.
    pub const ALL: [Confidence; 3] = [Confidence::Low, Confidence::Medium, Confidence::High];

    /// The wire name, as serialized in `calls[].confidence`.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Call {
    pub contact_id: String,
    pub disconnected_by: DisconnectedBy,
    pub confidence: Confidence,
    pub reason: Reason,
    pub agent_connection_id: Option<String>,
    /// Snapshot contact type (`voice`, `queue_callback`), when seen.
    pub contact_type: Option<String>,
    /// Snapshot `initiationMethod` (`INBOUND`, `OUTBOUND`, `TRANSFER`, ...).
    pub initiation_method: Option<String>,
    pub softphone: bool,
    pub persistent_connection: bool,
    /// The call was already under way when the log starts.
    pub started_before_log: bool,
    pub first_seen: Time,
    pub connected_at: Option<Time>,
    pub ended_at: Option<Time>,
    pub talk_ms: Option<u64>,
    /// The entries that decided the verdict, in log order.
    pub evidence: Vec<Evidence>,
    /// State changes of the call, in time order (capped; see `timeline_truncated`).
    pub timeline: Vec<TimelineItem>,
    pub timeline_truncated: bool,
    pub quality: Option<Quality>,
    pub softphone_errors: Vec<SoftphoneError>,
    /// The contact record's answer and how it compares; only when contact
    /// records were given (see [`crate::contact_records`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_record: Option<ContactRecordCheck>,
}

/// A log entry cited as evidence. Never carries the entry's `objects`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// 0-based position of the entry in the file.
    pub index: u64,
    pub time: Time,
    /// The entry's `text`, trimmed and redacted.
    pub text: String,
    /// What the entry showed, for entries whose text alone does not say it
    /// (snapshots, API requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One state change of a call. Serialised as `index`, `time`, `machine`,
/// `from` (`null` for the first state seen) and `to`.
///
/// Every tracked call keeps one of these per change until the log ends, so
/// the two state names take 16 bytes together when both are on the known
/// list of RTC and snapshot states, as nearly all are; others are kept as
/// written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineItem {
    pub index: u64,
    pub time: Time,
    /// `signaling`, `session`, `call_session`, `contact` (snapshot contact
    /// state) or `agent_connection` / `customer_connection` (snapshot).
    pub machine: &'static str,
    states: States,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum States {
    /// Positions in [`KNOWN_STATES`]; `from` is [`NO_STATE`] for none.
    Known {
        from: u8,
        to: u8,
    },
    Named(Box<(Option<Box<str>>, Box<str>)>),
}

/// `from` of [`States::Known`] when there is none.
const NO_STATE: u8 = u8::MAX;

/// State names of the RTC machines and of snapshot contacts and connections.
const KNOWN_STATES: [&str; 41] = [
    "PendingConnectState",
    "PendingInviteState",
    "PendingAnswerState",
    "PendingAcceptState",
    "PendingAcceptAckState",
    "TalkingState",
    "PendingReconnectState",
    "PendingRemoteHangupState",
    "PendingLocalHangupState",
    "DisconnectedState",
    "FailedState",
    "PendingConnectContactState",
    "IdleState",
    "GrabLocalMediaState",
    "CreateOfferState",
    "SetLocalSessionDescriptionState",
    "ConnectSignalingAndIceCollectionState",
    "InviteAnswerState",
    "AcceptState",
    "ConnectContactState",
    "InitialState",
    "init",
    "incoming",
    "pending",
    "connecting",
    "connected",
    "missed",
    "error",
    "ended",
    "rejected",
    "paused",
    "hold",
    "disconnected",
    "silent_monitor",
    "barge",
    "",
    "CleanUpState",
    "IceRestartSubstate",
    "ConnectedSubstate",
    "SetLocalSessionDescriptionSubstate",
    "AcceptSubstate",
];

fn known_state_index(name: &str) -> Option<u8> {
    KNOWN_STATES
        .iter()
        .position(|k| *k == name)
        .and_then(|i| u8::try_from(i).ok())
}

/// `name` as a `'static` string when it is a known state name.
pub(crate) fn known_state(name: &str) -> Option<&'static str> {
    KNOWN_STATES.iter().find(|k| **k == name).copied()
}

impl TimelineItem {
    pub fn new(
        index: u64,
        time: Time,
        machine: &'static str,
        from: Option<&str>,
        to: &str,
    ) -> TimelineItem {
        let known_from = match from {
            None => Some(NO_STATE),
            Some(f) => known_state_index(f),
        };
        let states = match (known_from, known_state_index(to)) {
            (Some(from), Some(to)) => States::Known { from, to },
            _ => States::Named(Box::new((from.map(Box::from), Box::from(to)))),
        };
        TimelineItem {
            index,
            time,
            machine,
            states,
        }
    }

    /// The state left; `None` for the first state seen.
    pub fn from(&self) -> Option<&str> {
        match &self.states {
            States::Known { from: NO_STATE, .. } => None,
            States::Known { from, .. } => Some(KNOWN_STATES[usize::from(*from)]),
            States::Named(names) => names.0.as_deref(),
        }
    }

    /// The state entered.
    pub fn to(&self) -> &str {
        match &self.states {
            States::Known { to, .. } => KNOWN_STATES[usize::from(*to)],
            States::Named(names) => &names.1,
        }
    }
}

impl Serialize for TimelineItem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("TimelineItem", 5)?;
        s.serialize_field("index", &self.index)?;
        s.serialize_field("time", &self.time)?;
        s.serialize_field("machine", self.machine)?;
        s.serialize_field("from", &self.from())?;
        s.serialize_field("to", self.to())?;
        s.end()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quality {
    /// Samples of `sendSoftphoneMetrics` tied to this call by time.
    pub samples: u64,
    pub rtt_ms_avg: Option<f64>,
    pub rtt_ms_max: Option<f64>,
    pub jitter_ms_avg: Option<f64>,
    pub jitter_ms_max: Option<f64>,
    pub packets_lost: u64,
    pub packets: u64,
    pub packet_loss_pct: Option<f64>,
    /// From the end-of-call `sendSoftphoneReport`, when one was tied to the call.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub report_failures: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SoftphoneError {
    pub index: u64,
    pub time: Time,
    /// The catalog name (`ice_collection_timeout`, `lost_ice_connection`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    pub hint: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherContact {
    pub contact_id: String,
    /// `chat`, `task`, `email`, ... or `unknown`.
    pub contact_type: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub calls: u64,
    pub agent: u64,
    pub customer: u64,
    pub network: u64,
    pub not_connected: u64,
    pub unknown: u64,
    /// Calls per `contact_record.agreement`; only when contact records were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_records: Option<AgreementCounts>,
}

impl Summary {
    pub fn of(calls: &[Call]) -> Summary {
        let mut s = Summary {
            calls: calls.len() as u64,
            ..Summary::default()
        };
        for c in calls {
            *match c.disconnected_by {
                DisconnectedBy::Agent => &mut s.agent,
                DisconnectedBy::Customer => &mut s.customer,
                DisconnectedBy::Network => &mut s.network,
                DisconnectedBy::NotConnected => &mut s.not_connected,
                DisconnectedBy::Unknown => &mut s.unknown,
            } += 1;
        }
        s
    }
}

impl Document {
    /// A document for input that could not be read as a CCP log.
    pub fn rejected(source: Source, error: Rejection) -> Document {
        Document {
            schema_version: SCHEMA_VERSION,
            status: Status::Rejected,
            generator: Generator::default(),
            source,
            error: Some(error),
            log: None,
            calls: Vec::new(),
            other_contacts: Vec::new(),
            summary: Summary::default(),
        }
    }

    /// The canonical bytes; see [`render::json::to_line`].
    pub fn to_json_line(&self) -> Vec<u8> {
        render::json::to_line(self)
    }

    /// [`Self::to_json_line`], streamed to a writer.
    pub fn write_json_line<W: std::io::Write>(&self, w: W) -> std::io::Result<()> {
        render::json::write_line(w, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A time is written as its ISO-8601 text, JSON-quoted: the stack-built
    /// digits for years 0 to 9999, the formatting machinery around them.
    #[test]
    fn time_serialises_as_its_text() {
        let (first, last) = (-62_167_219_200_000i64, 253_402_300_800_000i64);
        for ms in [0, -1, 1_570_126_886_478, first, first - 1, last - 1, last] {
            assert_eq!(
                serde_json::to_string(&Time(ms)).unwrap(),
                format!("\"{}\"", format_iso8601(ms))
            );
        }
        assert_eq!(
            serde_json::to_string(&Time(1_570_126_886_478)).unwrap(),
            "\"2019-10-03T18:21:26.478Z\""
        );
        assert_eq!(
            serde_json::to_string(&Time(last)).unwrap(),
            "\"10000-01-01T00:00:00.000Z\""
        );
    }

    /// Every pair of known names, and names off the list (empty, long,
    /// non-ASCII, a known name's prefix), read back as given and serialise
    /// as the strings they are.
    #[test]
    fn a_timeline_item_gives_back_its_state_names() {
        let others = ["Talking", "TalkingStateX", "ÉtatInconnu", &"x".repeat(300)];
        let mut names: Vec<&str> = KNOWN_STATES.to_vec();
        names.extend(others);
        let mut froms: Vec<Option<&str>> = names.iter().copied().map(Some).collect();
        froms.push(None);
        for from in &froms {
            for to in &names {
                let item = TimelineItem::new(7, Time(1_700_000_000_000), "signaling", *from, to);
                assert_eq!(item.from(), *from);
                assert_eq!(item.to(), *to);
                let json = serde_json::to_value(&item).unwrap();
                assert_eq!(
                    json,
                    serde_json::json!({
                        "index": 7,
                        "time": "2023-11-14T22:13:20.000Z",
                        "machine": "signaling",
                        "from": from,
                        "to": to,
                    })
                );
            }
        }
        // The fields in the order the schema has always had.
        let line =
            serde_json::to_string(&TimelineItem::new(1, Time(0), "contact", None, "connected"))
                .unwrap();
        assert_eq!(
            line,
            r#"{"index":1,"time":"1970-01-01T00:00:00.000Z","machine":"contact","from":null,"to":"connected"}"#
        );
    }

    /// Calls keep every change until the log ends (a 1 GB log tracks
    /// thousands of calls): the item must stay small.
    #[test]
    fn a_timeline_item_takes_at_most_48_bytes() {
        assert!(std::mem::size_of::<TimelineItem>() <= 48);
    }
}
