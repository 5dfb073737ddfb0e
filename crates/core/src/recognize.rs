//! Recognizing log lines. Matches on `text` only: `component` is rewritten to
//! `ccp` for entries that crossed a frame or worker boundary (spec §1.1).
//!
//! Every line format here comes from the spec (`ccp-log-format.md` §1–§3).

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::rc::Rc;

/// The state machines that log `A => B` transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    /// `SIGNALING` and the V2 `SharedMediaSIGNALING`.
    Signaling,
    /// `SESSION` (RtcSession) and the V2 `SharedMediaSession`.
    Session,
    /// V2 per-call `CallSession`.
    CallSession,
}

impl Machine {
    pub fn name(self) -> &'static str {
        match self {
            Machine::Signaling => "signaling",
            Machine::Session => "session",
            Machine::CallSession => "call_session",
        }
    }
}

/// Softphone and connectivity trouble worth citing. The catalog name is what
/// the result document shows in `softphone_errors[].type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// `Softphone error occurred :  <type>`: the type is kept separately.
    SoftphoneError,
    LostIce,
    IceFailed,
    IceRestartFailed,
    IceCollectionTimeout,
    NoIceCandidate,
    HandshakeFailed,
    SignalingConnectFailed,
    UserBusy,
    CallNotFound,
    MediaInitFailed,
    SignalingWebSocketClosed,
    /// `[TalkingState] Failed handshaking…`: signaling trouble mid-call, which
    /// does not end the call by itself (spec §1.6).
    TalkingSignalingFailed,
    PeerConnectionFailure,
    NetworkOffline,
    HeartbeatMissed,
}

impl Trouble {
    /// True for troubles that break media or signaling during a call.
    pub fn is_connectivity_loss(self) -> bool {
        matches!(
            self,
            Trouble::LostIce | Trouble::IceFailed | Trouble::IceRestartFailed
        )
    }

    /// True for troubles that stop a call from being set up.
    pub fn is_setup_failure(self) -> bool {
        matches!(
            self,
            Trouble::IceCollectionTimeout
                | Trouble::NoIceCandidate
                | Trouble::HandshakeFailed
                | Trouble::SignalingConnectFailed
                | Trouble::UserBusy
                | Trouble::MediaInitFailed
                | Trouble::SoftphoneError
        )
    }
}

/// What a recognized line says. Owned and small: events wait in the reorder
/// window, and only a few kinds of lines become events at all.
#[derive(Debug, Clone)]
pub enum Event {
    Transition {
        machine: Machine,
        /// V2 `SharedMediaSIGNALING` / `SharedMediaSession`: the one media
        /// channel shared by all calls, not a call.
        shared: bool,
        /// The id token just before the category (the RTC call id).
        id: Option<String>,
        /// With the PCM-nested prefix, the outer id (bound per session).
        outer_id: Option<String>,
        from: Option<String>,
        to: String,
    },
    Trouble {
        trouble: Trouble,
        id: Option<String>,
        shared: bool,
        /// For `Softphone error occurred`: the error type.
        detail: Option<String>,
    },
    /// ICE connection back to `connected`/`completed`.
    IceRecovered {
        id: Option<String>,
    },
    ContactDetected {
        contact_id: String,
        connection_id: Option<String>,
        softphone: bool,
    },
    ApiRequest {
        method: String,
        contact_id: Option<String>,
        connection_id: Option<String>,
        /// The shared worker's `AWSClient: --> Calling operation` line: it
        /// names no contact or connection (spec §3.3).
        worker: bool,
    },
    /// `Publishing event: contact::<name>::<id>`.
    ContactChange {
        name: String,
        contact_id: String,
    },
    /// Shared: a snapshot that repeats the previous one reuses its parse.
    Snapshot(Rc<Snapshot>),
    Metrics(Vec<Sample>),
    Report {
        failures: Vec<String>,
    },
    LogRoll,
    /// The CCP v1 line `Agent disconnected successfully.` (2019 KC article).
    AgentDisconnectedLine,
    /// A chat or task session line naming its contact.
    NonVoiceContact {
        contact_id: String,
        kind: &'static str,
    },
}

impl Event {
    /// Roughly the bytes this event holds, for the time-order window's
    /// memory budget.
    pub fn weight(&self) -> usize {
        let s = |o: &Option<String>| o.as_ref().map_or(0, String::len);
        std::mem::size_of::<Event>()
            + match self {
                Event::Transition {
                    id,
                    outer_id,
                    from,
                    to,
                    ..
                } => s(id) + s(outer_id) + s(from) + to.len(),
                Event::Trouble { id, detail, .. } => s(id) + s(detail),
                Event::IceRecovered { id } => s(id),
                Event::ContactDetected {
                    contact_id,
                    connection_id,
                    ..
                } => contact_id.len() + s(connection_id),
                Event::ApiRequest {
                    method,
                    contact_id,
                    connection_id,
                    ..
                } => method.len() + s(contact_id) + s(connection_id),
                Event::ContactChange { name, contact_id } => name.len() + contact_id.len(),
                Event::Snapshot(snapshot) => snapshot.weight(),
                Event::Metrics(samples) => samples.len() * std::mem::size_of::<Sample>(),
                Event::Report { failures } => failures
                    .iter()
                    .map(|f| f.len() + std::mem::size_of::<String>())
                    .sum(),
                Event::LogRoll | Event::AgentDisconnectedLine => 0,
                Event::NonVoiceContact { contact_id, .. } => contact_id.len(),
            }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub agent_state: Option<String>,
    pub agent_state_type: Option<String>,
    /// Server time minus the client's, in ms: a server timestamp less this
    /// is on the log's clock (spec §3.2).
    pub skew: Option<i64>,
    pub contacts: Vec<SnapContact>,
}

impl Snapshot {
    fn weight(&self) -> usize {
        let s = |o: &Option<String>| o.as_ref().map_or(0, String::len);
        let connection = |k: &SnapConnection| {
            std::mem::size_of::<SnapConnection>() + k.id.len() + s(&k.kind) + s(&k.state)
        };
        let contact = |c: &SnapContact| {
            std::mem::size_of::<SnapContact>()
                + c.id.len()
                + s(&c.kind)
                + s(&c.state)
                + s(&c.initiation)
                + c.connections.iter().map(connection).sum::<usize>()
        };
        s(&self.agent_state)
            + s(&self.agent_state_type)
            + self.contacts.iter().map(contact).sum::<usize>()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapContact {
    pub id: String,
    pub kind: Option<String>,
    pub state: Option<String>,
    pub initiation: Option<String>,
    pub connections: Vec<SnapConnection>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapConnection {
    pub id: String,
    pub kind: Option<String>,
    pub state: Option<String>,
    /// `state.timestamp`: when the connection entered its state, server
    /// time (spec §3.2).
    pub state_time: Option<i64>,
    pub initial: bool,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub time: Option<i64>,
    pub rtt_ms: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub packets_lost: Option<f64>,
    pub packets: Option<f64>,
}

const CATEGORIES: [(&str, Option<Machine>); 7] = [
    ("SIGNALING", Some(Machine::Signaling)),
    ("SharedMediaSIGNALING", Some(Machine::Signaling)),
    ("SESSION", Some(Machine::Session)),
    ("SharedMediaSession", Some(Machine::Session)),
    ("CallSession", Some(Machine::CallSession)),
    ("RtcPeerConnectionManager", None),
    ("RtcPeerConnectionManagerV2", None),
];

fn category(token: &str) -> Option<Option<Machine>> {
    CATEGORIES
        .iter()
        .find(|(name, _)| *name == token)
        .map(|(_, m)| *m)
}

/// Recognizes entries one after another, remembering the last snapshot.
///
/// Agent snapshots arrive every few seconds and make up most of a log's
/// bytes, but between state changes they differ only in their timestamps and
/// `skew` (digits) and in the opaque `nextToken`. A snapshot whose raw
/// `objects` differ from the previous one's only there reuses its parse.
pub struct Recognizer {
    /// The last parsed snapshot: its entry index, raw `objects` and parse.
    last_snapshot: Option<(u64, Vec<u8>, Rc<Snapshot>)>,
    reuse_repeats: bool,
}

impl Recognizer {
    /// `reuse_repeats`: see [`crate::Options::reuse_repeats`].
    pub fn new(reuse_repeats: bool) -> Recognizer {
        Recognizer {
            last_snapshot: None,
            reuse_repeats,
        }
    }

    /// `index` is the entry's position; `repeats`, the entry the reader found
    /// it repeats (up to digits and `nextToken`), if any.
    pub fn recognize(
        &mut self,
        text: &str,
        objects: Option<&[u8]>,
        index: u64,
        repeats: Option<u64>,
    ) -> Option<Event> {
        let is_snapshot = text
            .trim_start()
            .starts_with("GET_AGENT_SNAPSHOT succeeded");
        let (true, Some(raw), true) = (is_snapshot, objects, self.reuse_repeats) else {
            return recognize(text, objects);
        };
        if let Some((last, prev, parsed)) = &self.last_snapshot
            && (repeats == Some(*last) || crate::repeats::same(prev, raw))
        {
            return Some(Event::Snapshot(parsed.clone()));
        }
        let parsed = Rc::new(parse_snapshot(raw)?);
        let mut kept = self
            .last_snapshot
            .take()
            .map(|(_, bytes, _)| bytes)
            .unwrap_or_default();
        kept.clear();
        kept.extend_from_slice(raw);
        self.last_snapshot = Some((index, kept, parsed.clone()));
        Some(Event::Snapshot(parsed))
    }
}

/// Recognizes one entry. `objects` (the entry's raw JSON) is decoded, and so
/// validated, only for snapshots and API requests.
pub fn recognize(text: &str, objects: Option<&[u8]>) -> Option<Event> {
    let t = text.trim();
    let first = *t.as_bytes().first()?;
    match first {
        b'G' if t.starts_with("GET_AGENT_SNAPSHOT succeeded") => {
            return objects
                .and_then(parse_snapshot)
                .map(|s| Event::Snapshot(Rc::new(s)));
        }
        b'S' => {
            if let Some(rest) = t.strip_prefix("Sending API_REQUEST event for ") {
                let method = rest.split(' ').next()?;
                if method.len() > MAX_NAME_BYTES {
                    return None;
                }
                let method = method.to_string();
                let (contact_id, connection_id) = objects.map(api_params).unwrap_or_default();
                return Some(Event::ApiRequest {
                    method,
                    contact_id,
                    connection_id,
                    worker: false,
                });
            }
            if let Some(rest) = t.strip_prefix("Softphone call detected:") {
                return contact_detected(rest, true);
            }
            if let Some(rest) = t.strip_prefix("Softphone error occurred") {
                let detail = rest.trim_start_matches([' ', ':']).split(' ').next();
                return Some(Event::Trouble {
                    trouble: Trouble::SoftphoneError,
                    id: None,
                    shared: false,
                    detail: detail
                        .filter(|d| (1..=MAX_NAME_BYTES).contains(&d.len()))
                        .map(str::to_string),
                });
            }
            if t.starts_with("Softphone call failed due to CallNotFoundException") {
                return Some(Event::Trouble {
                    trouble: Trouble::CallNotFound,
                    id: None,
                    shared: false,
                    detail: None,
                });
            }
        }
        b'C' => {
            if let Some(rest) = t.strip_prefix("Contact detected:") {
                return contact_detected(rest, false);
            }
            if let Some(rest) = t.strip_prefix("Contact exist in the snapshot.") {
                return contact_detected(rest, true);
            }
            if let Some(rest) =
                t.strip_prefix("Chat Session Successfully established for contactId")
            {
                let id = rest.split_whitespace().next()?;
                return Some(Event::NonVoiceContact {
                    contact_id: id.to_string(),
                    kind: "chat",
                });
            }
        }
        b'P' => {
            if let Some(name) = t.strip_prefix("Publishing event: ") {
                let mut parts = name.split("::");
                if parts.next() == Some("contact") {
                    let event = parts.next().filter(|e| e.len() <= MAX_NAME_BYTES)?;
                    let id = parts.next()?.trim();
                    // An empty id names no contact (and a call's id may not
                    // be empty in the document).
                    if id.is_empty() {
                        return None;
                    }
                    return Some(Event::ContactChange {
                        name: event.to_string(),
                        contact_id: id.to_string(),
                    });
                }
                return None;
            }
        }
        b's' => {
            if let Some(json) = t.strip_prefix("sendSoftphoneMetrics success") {
                return parse_metrics(json).map(Event::Metrics);
            }
            if let Some(json) = t.strip_prefix("sendSoftphoneReport success") {
                return Some(Event::Report {
                    failures: report_failures(json),
                });
            }
        }
        b'L' if t.starts_with("Log roll interval occurred") => return Some(Event::LogRoll),
        b'H' if t.starts_with("Heartbeat response not received") => {
            return Some(Event::Trouble {
                trouble: Trouble::HeartbeatMissed,
                id: None,
                shared: false,
                detail: None,
            });
        }
        b'A' if t.starts_with("Agent disconnected successfully") => {
            return Some(Event::AgentDisconnectedLine);
        }
        b'A' if t.starts_with("AWSClient: --> Calling operation '") => {
            // The shared worker's request line, logged in every era that
            // logs requests at all (spec §3.3): no params.
            let method = t["AWSClient: --> Calling operation '".len()..]
                .split('\'')
                .next()
                .filter(|m| (1..=MAX_NAME_BYTES).contains(&m.len()))?;
            return Some(Event::ApiRequest {
                method: method.to_string(),
                contact_id: None,
                connection_id: None,
                worker: true,
            });
        }
        _ => {}
    }
    softphone_line(t)
}

/// `contactId <cid> agent connectionId <conn>` (also `contactId<cid>` with no
/// space), or the 2017 form `Softphone call detected:  <cid>`.
fn contact_detected(rest: &str, softphone: bool) -> Option<Event> {
    let token_after = |key: &str| -> Option<String> {
        let at = rest.find(key)? + key.len();
        let tok = rest[at..]
            .trim_start()
            .split(|c: char| c.is_whitespace() || c == ',')
            .next()?;
        (!tok.is_empty() && tok.len() <= MAX_ID_BYTES).then(|| tok.to_string())
    };
    let contact_id = match token_after("contactId") {
        Some(id) => id,
        None => {
            let tok = rest.split_whitespace().next()?;
            looks_like_id(tok).then(|| tok.to_string())?
        }
    };
    let connection_id = token_after("connectionId");
    Some(Event::ContactDetected {
        contact_id,
        connection_id,
        softphone,
    })
}

/// Ids are UUIDs or similar (a few dozen bytes); anything longer is not
/// taken as one, so uploader-controlled text cannot make huge keys.
/// The tracker applies the same bound to ids from every other source.
pub(crate) const MAX_ID_BYTES: usize = 128;
/// State names, contact types and the like are short words.
const MAX_NAME_BYTES: usize = 64;

fn looks_like_id(tok: &str) -> bool {
    (8..=MAX_ID_BYTES).contains(&tok.len())
        && tok
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*')
}

/// Lines from the RTC loggers: `<id> <CATEGORY> <message>`, possibly nested
/// (`<id> RtcPeerConnectionManager <id> SIGNALING A => B`), possibly with an
/// empty id (`RtcPeerConnectionManager Initializing…`).
fn softphone_line(t: &str) -> Option<Event> {
    let mut ids: Vec<&str> = Vec::new();
    let mut machine: Option<Machine> = None;
    let mut shared = false;
    let mut rest = t;
    let mut found = false;
    for _ in 0..3 {
        let (a, after_a) = split_token(rest);
        if let Some(m) = category(a) {
            shared |= a.starts_with("SharedMedia");
            machine = m.or(machine);
            found = true;
            rest = after_a;
            continue;
        }
        let (b, after_b) = split_token(after_a);
        match category(b) {
            Some(m) if looks_like_id(a) => {
                shared |= b.starts_with("SharedMedia");
                ids.push(a);
                if m.is_some() {
                    machine = m;
                }
                found = true;
                rest = after_b;
            }
            _ => break,
        }
    }
    if !found {
        return None;
    }
    let id = ids.last().map(|s| s.to_string());
    let outer_id = (ids.len() > 1).then(|| ids[0].to_string());
    let msg = rest.trim();
    let machine = machine?;

    if let Some((from, to)) = transition(msg) {
        return Some(Event::Transition {
            machine,
            shared,
            id,
            outer_id,
            from: (from != "null").then(|| from.to_string()),
            to: to.to_string(),
        });
    }
    trouble_in(msg).map(|trouble| match trouble {
        Ok(trouble) => Event::Trouble {
            trouble,
            id,
            shared,
            detail: None,
        },
        Err(()) => Event::IceRecovered { id },
    })
}

fn split_token(s: &str) -> (&str, &str) {
    match s.find(' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

/// `A => B` at the start of the message (`Substate: A => B` is not a call
/// state and is left out).
fn transition(msg: &str) -> Option<(&str, &str)> {
    let (from, rest) = msg.split_once(" => ")?;
    let to = rest.split_whitespace().next()?;
    let is_name = |s: &str| {
        (1..=MAX_NAME_BYTES).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    (is_name(from) && is_name(to)).then_some((from, to))
}

/// Session and signaling messages that explain a failure. `Err(())` means
/// ICE came back.
fn trouble_in(msg: &str) -> Option<Result<Trouble, ()>> {
    if let Some(state) = msg.strip_prefix("ICE Connection State:") {
        return match state.trim() {
            "failed" => Some(Ok(Trouble::IceFailed)),
            "disconnected" => Some(Ok(Trouble::LostIce)),
            "connected" | "completed" => Some(Err(())),
            _ => None,
        };
    }
    const TABLE: [(&str, Trouble); 13] = [
        ("ICE restart failed", Trouble::IceRestartFailed),
        ("Lost ICE connection", Trouble::LostIce),
        ("Detected Lost ICE connection", Trouble::LostIce),
        ("ICE collection timed out", Trouble::IceCollectionTimeout),
        ("No ICE candidate", Trouble::NoIceCandidate),
        (
            "[TalkingState] Failed handshaking",
            Trouble::TalkingSignalingFailed,
        ),
        (
            "Failed handshaking with signaling server",
            Trouble::HandshakeFailed,
        ),
        (
            "Failed connecting to signaling server",
            Trouble::SignalingConnectFailed,
        ),
        ("User Busy", Trouble::UserBusy),
        ("Call not found", Trouble::CallNotFound),
        (
            "Local media initialization failed",
            Trouble::MediaInitFailed,
        ),
        ("WebSocket onclose", Trouble::SignalingWebSocketClosed),
        (
            "Peer connection manager detects RtcSession failure",
            Trouble::PeerConnectionFailure,
        ),
    ];
    if msg.starts_with("Network offline") {
        return Some(Ok(Trouble::NetworkOffline));
    }
    TABLE
        .iter()
        .find(|(p, _)| msg.starts_with(p))
        .map(|(_, t)| Ok(*t))
}

/// At most `N` elements of a JSON array; the rest are skipped without being
/// stored. Real snapshots hold a few contacts and metrics reports a few dozen
/// samples, but an entry's `objects` is uploader-controlled: a 16 MiB array
/// of `{}` would otherwise become millions of structs, many times the size
/// of the entry.
struct Bounded<T, const N: usize>(Vec<T>);

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for Bounded<T, N> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T, const N: usize>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const N: usize> serde::de::Visitor<'de> for Visitor<T, N> {
            type Value = Bounded<T, N>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while items.len() < N {
                    match seq.next_element()? {
                        Some(item) => items.push(item),
                        None => return Ok(Bounded(items)),
                    }
                }
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Bounded(items))
            }
        }
        deserializer.deserialize_seq(Visitor::<T, N>(std::marker::PhantomData))
    }
}

/// Objects of one entry looked at (the one wanted is the first).
const MAX_OBJECTS: usize = 8;
/// Contacts in one snapshot, and connections of one contact.
const MAX_SNAPSHOT_CONTACTS: usize = 64;
const MAX_CONNECTIONS: usize = 8;
/// Samples in one metrics report.
const MAX_SAMPLES: usize = 1024;
/// Largest `skew` taken as one (a day, in ms).
const MAX_SKEW_MS: f64 = 86_400_000.0;

#[derive(Deserialize)]
struct ApiObject<'a> {
    #[serde(borrow, default)]
    params: Option<ApiParams<'a>>,
}

#[derive(Deserialize)]
struct ApiParams<'a> {
    #[serde(borrow, default, rename = "contactId")]
    contact_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "connectionId")]
    connection_id: Option<Cow<'a, str>>,
}

fn api_params(objects: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(list) = serde_json::from_slice::<Bounded<ApiObject<'_>, MAX_OBJECTS>>(objects) else {
        return (None, None);
    };
    let params = list.0.into_iter().find_map(|o| o.params);
    match params {
        Some(p) => {
            let id = |v: Option<Cow<'_, str>>| {
                v.filter(|v| !v.is_empty() && v.len() <= MAX_ID_BYTES)
                    .map(Cow::into_owned)
            };
            (id(p.contact_id), id(p.connection_id))
        }
        None => (None, None),
    }
}

#[derive(Deserialize)]
struct SnapshotObject<'a> {
    #[serde(borrow, default)]
    snapshot: Option<RawSnapshot<'a>>,
}

#[derive(Deserialize)]
struct RawSnapshot<'a> {
    #[serde(borrow, default)]
    state: Option<RawState<'a>>,
    #[serde(default)]
    skew: Option<f64>,
    #[serde(borrow, default)]
    contacts: Option<Bounded<RawContact<'a>, MAX_SNAPSHOT_CONTACTS>>,
}

#[derive(Deserialize)]
struct RawState<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawContact<'a> {
    #[serde(borrow, rename = "contactId")]
    contact_id: Cow<'a, str>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    state: Option<RawState<'a>>,
    #[serde(borrow, default, rename = "initiationMethod")]
    initiation: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    connections: Option<Bounded<RawConnection<'a>, MAX_CONNECTIONS>>,
}

#[derive(Deserialize)]
struct RawConnection<'a> {
    #[serde(borrow, rename = "connectionId")]
    connection_id: Cow<'a, str>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    state: Option<RawState<'a>>,
    #[serde(default)]
    initial: Option<bool>,
}

/// A short value from a snapshot; longer ones are not what they claim.
fn owned(c: Option<Cow<'_, str>>) -> Option<String> {
    c.filter(|v| v.len() <= MAX_NAME_BYTES).map(Cow::into_owned)
}

fn parse_snapshot(objects: &[u8]) -> Option<Snapshot> {
    let list: Bounded<SnapshotObject<'_>, MAX_OBJECTS> = serde_json::from_slice(objects).ok()?;
    let raw = list.0.into_iter().find_map(|o| o.snapshot)?;
    let (agent_state, agent_state_type) = match raw.state {
        Some(s) => (owned(s.name), owned(s.kind)),
        None => (None, None),
    };
    let contacts = raw
        .contacts
        .map(|c| c.0)
        .unwrap_or_default()
        .into_iter()
        .filter(|c| !c.contact_id.is_empty() && c.contact_id.len() <= MAX_ID_BYTES)
        .map(|c| SnapContact {
            id: c.contact_id.into_owned(),
            kind: owned(c.kind),
            state: c.state.and_then(|s| owned(s.kind)),
            initiation: owned(c.initiation),
            connections: c
                .connections
                .map(|c| c.0)
                .unwrap_or_default()
                .into_iter()
                .filter(|k| k.connection_id.len() <= MAX_ID_BYTES)
                .map(|k| {
                    let (state, state_time) = match k.state {
                        Some(s) => (
                            owned(s.kind),
                            s.timestamp.as_deref().and_then(crate::time::parse_iso8601),
                        ),
                        None => (None, None),
                    };
                    SnapConnection {
                        id: k.connection_id.into_owned(),
                        kind: owned(k.kind),
                        state,
                        state_time,
                        initial: k.initial.unwrap_or(false),
                    }
                })
                .collect(),
        })
        .collect();
    // A skew beyond a day is not a clock difference (and could overflow).
    let skew = raw
        .skew
        .filter(|s| s.is_finite() && s.abs() <= MAX_SKEW_MS)
        .map(|s| s as i64);
    Some(Snapshot {
        agent_state,
        agent_state_type,
        skew,
        contacts,
    })
}

#[derive(Deserialize)]
struct RawSample<'a> {
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(default, rename = "roundTripTimeMillis")]
    rtt: Option<f64>,
    #[serde(default, rename = "jitterBufferMillis")]
    jitter: Option<f64>,
    #[serde(default, rename = "packetsLost")]
    lost: Option<f64>,
    #[serde(default, rename = "packetsCount")]
    count: Option<f64>,
}

/// Far above any real round trip, jitter or packet count, and low enough
/// that sums over the largest log stay finite (the document has only finite
/// numbers): larger values are not measurements.
const MAX_SAMPLE_VALUE: f64 = 1e9;

fn plausible(v: Option<f64>) -> Option<f64> {
    v.filter(|v| (0.0..=MAX_SAMPLE_VALUE).contains(v))
}

fn parse_metrics(json: &str) -> Option<Vec<Sample>> {
    let raw: Bounded<RawSample<'_>, MAX_SAMPLES> = serde_json::from_str(json.trim()).ok()?;
    Some(
        raw.0
            .into_iter()
            .map(|r| Sample {
                time: r.timestamp.as_deref().and_then(crate::time::parse_iso8601),
                rtt_ms: plausible(r.rtt),
                jitter_ms: plausible(r.jitter),
                packets_lost: plausible(r.lost),
                packets: plausible(r.count),
            })
            .collect(),
    )
}

/// Failure flags kept from one end-of-call report.
const MAX_FAILURES: usize = 32;

/// The `*Failure` flags set to true in an end-of-call report, sorted. Only
/// those are kept while reading: the report is uploader-controlled text.
fn report_failures(json: &str) -> Vec<String> {
    struct Failures;
    impl<'de> serde::de::Visitor<'de> for Failures {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut failures = std::collections::BTreeSet::new();
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                let value: &'de RawValue = map.next_value()?;
                if key.ends_with("Failure")
                    && value.get() == "true"
                    && failures.len() < MAX_FAILURES
                {
                    failures.insert(key.into_owned());
                }
            }
            Ok(failures.into_iter().collect())
        }
    }
    let mut de = serde_json::Deserializer::from_str(json.trim());
    serde::Deserializer::deserialize_map(&mut de, Failures)
        .and_then(|v| de.end().map(|()| v))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(
        text: &str,
    ) -> (
        Machine,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
    ) {
        match recognize(text, None) {
            Some(Event::Transition {
                machine,
                id,
                outer_id,
                from,
                to,
                ..
            }) => (machine, id, outer_id, from, to),
            other => panic!("not a transition: {text:?} -> {other:?}"),
        }
    }

    #[test]
    fn signaling_lines_in_every_prefix_form() {
        let (m, id, outer, from, to) = tr(
            " f23586c4-****-****-bf88-5e3ccd504e34 SIGNALING TalkingState => PendingRemoteHangupState",
        );
        assert_eq!(m, Machine::Signaling);
        assert_eq!(id.as_deref(), Some("f23586c4-****-****-bf88-5e3ccd504e34"));
        assert_eq!(
            (outer, from.as_deref(), to.as_str()),
            (None, Some("TalkingState"), "PendingRemoteHangupState")
        );

        let (_, id, _, from, to) = tr(" abc-123-def SIGNALING null => PendingConnectState");
        assert_eq!(
            (id.as_deref(), from, to.as_str()),
            (Some("abc-123-def"), None, "PendingConnectState")
        );

        let (m, id, outer, _, to) = tr(
            " 11111111-aaaa RtcPeerConnectionManager 22222222-bbbb SIGNALING TalkingState => IdleState",
        );
        assert_eq!(m, Machine::Signaling);
        assert_eq!(id.as_deref(), Some("22222222-bbbb"));
        assert_eq!(outer.as_deref(), Some("11111111-aaaa"));
        assert_eq!(to, "IdleState");

        let (m, id, ..) =
            tr(" 33333333-cccc SharedMediaSIGNALING PendingAcceptState => TalkingState");
        assert_eq!(
            (m, id.as_deref()),
            (Machine::Signaling, Some("33333333-cccc"))
        );
        let (m, ..) = tr(" 44444444-dddd CallSession TalkingState => DisconnectedState");
        assert_eq!(m, Machine::CallSession);
        let (m, ..) = tr(" 44444444-dddd SESSION AcceptState => TalkingState");
        assert_eq!(m, Machine::Session);
    }

    #[test]
    fn substates_and_plain_messages_are_not_transitions() {
        assert!(
            recognize(
                " 44444444-dddd SESSION Substate: ConnectedSubstate => IceRestartSubstate",
                None
            )
            .is_none()
        );
        assert!(
            recognize(
                "  RtcPeerConnectionManager Initializing Peer Connection Manager...",
                None
            )
            .is_none()
        );
        assert!(recognize("Some SIGNALING A => B told in prose", None).is_none());
    }

    #[test]
    fn contact_detected_forms() {
        for (text, cid, conn, softphone) in [
            (
                "Contact detected: contactId c-1234567 agent connectionId k-7654321",
                "c-1234567",
                Some("k-7654321"),
                false,
            ),
            (
                "Softphone call detected: contactId c-1234567 agent connectionId k-7654321",
                "c-1234567",
                Some("k-7654321"),
                true,
            ),
            (
                "Softphone call detected:  c-12345678",
                "c-12345678",
                None,
                true,
            ),
            (
                "Contact exist in the snapshot. Reinitiate the Contact and RTC session creation for contactIdc-1234567 agent connectionId k-7654321",
                "c-1234567",
                Some("k-7654321"),
                true,
            ),
        ] {
            match recognize(text, None) {
                Some(Event::ContactDetected {
                    contact_id,
                    connection_id,
                    softphone: s,
                }) => {
                    assert_eq!(contact_id, cid, "{text}");
                    assert_eq!(connection_id.as_deref(), conn, "{text}");
                    assert_eq!(s, softphone, "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn api_request_reads_params_from_objects() {
        let objects = br#"[{"method":"destroyConnection","params":{"contactId":"c-1","connectionId":"k-1"},"stack":"x"}]"#;
        match recognize(
            "Sending API_REQUEST event for destroyConnection to upstream",
            Some(&objects[..]),
        ) {
            Some(Event::ApiRequest {
                method,
                contact_id,
                connection_id,
                worker: false,
            }) => {
                assert_eq!(method, "destroyConnection");
                assert_eq!(contact_id.as_deref(), Some("c-1"));
                assert_eq!(connection_id.as_deref(), Some("k-1"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn worker_request_line_names_the_method_only() {
        match recognize("AWSClient: --> Calling operation 'destroyConnection'", None) {
            Some(Event::ApiRequest {
                method,
                contact_id: None,
                connection_id: None,
                worker: true,
            }) => assert_eq!(method, "destroyConnection"),
            other => panic!("{other:?}"),
        }
        // The reply line is not a request.
        assert!(
            recognize(
                "AWSClient: <-- Operation 'destroyConnection' succeeded.",
                None
            )
            .is_none()
        );
    }

    #[test]
    fn snapshot_keeps_skew_and_connection_state_times() {
        let objects = br#"[{"snapshot":{"skew":-1850,"contacts":[{"contactId":"c-1","state":{"type":"ended"},"connections":[{"connectionId":"k-1","type":"agent","state":{"type":"disconnected","timestamp":"2023-10-12T10:11:00.480Z"}}]}]}}]"#;
        match recognize("GET_AGENT_SNAPSHOT succeeded.", Some(&objects[..])) {
            Some(Event::Snapshot(s)) => {
                assert_eq!(s.skew, Some(-1850));
                let k = &s.contacts[0].connections[0];
                assert_eq!(
                    k.state_time,
                    crate::time::parse_iso8601("2023-10-12T10:11:00.480Z")
                );
                assert!(k.state_time.is_some());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn metrics_and_report() {
        let text = r#" sendSoftphoneMetrics success[{"softphoneStreamType":"audio_input","timestamp":"2026-01-01T00:00:01.000Z","packetsLost":0,"packetsCount":0,"jitterBufferMillis":20,"roundTripTimeMillis":10},{"softphoneStreamType":"audio_output","timestamp":"2026-01-01T00:00:01.000Z","packetsLost":2,"packetsCount":50,"jitterBufferMillis":3,"roundTripTimeMillis":null}]"#;
        match recognize(text, None) {
            Some(Event::Metrics(s)) => {
                assert_eq!(s.len(), 2);
                assert_eq!(s[0].rtt_ms, Some(10.0));
                assert_eq!(s[1].rtt_ms, None);
                assert_eq!((s[1].packets_lost, s[1].packets), (Some(2.0), Some(50.0)));
            }
            other => panic!("{other:?}"),
        }
        let text = r#"sendSoftphoneReport success{"callStartTime":"x","iceCollectionFailure":false,"signallingConnectionFailure":true,"handshakingFailure":true}"#;
        match recognize(text, None) {
            Some(Event::Report { failures }) => {
                assert_eq!(
                    failures,
                    ["handshakingFailure", "signallingConnectionFailure"]
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn troubles_and_events() {
        let cases = [
            (" c-12345678 SESSION Lost ICE connection", Trouble::LostIce),
            (
                " c-12345678 SESSION ICE Connection State:  failed",
                Trouble::IceFailed,
            ),
            (
                " c-12345678 SESSION ICE collection timed out",
                Trouble::IceCollectionTimeout,
            ),
            (
                " c-12345678 SESSION Call not found. One of the participant probably hungup.",
                Trouble::CallNotFound,
            ),
            (
                " c-12345678 SIGNALING WebSocket onclose code=1006, reason=",
                Trouble::SignalingWebSocketClosed,
            ),
            (
                " c-12345678 SESSION [TalkingState] Failed handshaking with signaling server",
                Trouble::TalkingSignalingFailed,
            ),
        ];
        for (text, want) in cases {
            match recognize(text, None) {
                Some(Event::Trouble { trouble, id, .. }) => {
                    assert_eq!(trouble, want, "{text}");
                    assert_eq!(id.as_deref(), Some("c-12345678"));
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        match recognize(
            "Softphone error occurred :  ice_collection_timeout Ice collection timed out.",
            None,
        ) {
            Some(Event::Trouble {
                trouble: Trouble::SoftphoneError,
                detail,
                ..
            }) => {
                assert_eq!(detail.as_deref(), Some("ice_collection_timeout"))
            }
            other => panic!("{other:?}"),
        }
        match recognize("Publishing event: contact::missed::c-1", None) {
            Some(Event::ContactChange { name, contact_id }) => {
                assert_eq!((name.as_str(), contact_id.as_str()), ("missed", "c-1"))
            }
            other => panic!("{other:?}"),
        }
        assert!(recognize("Publishing event: contact::missed", None).is_none());
    }

    /// Uploader-controlled arrays are read up to a bound, not into memory
    /// proportional to their length.
    #[test]
    fn huge_arrays_in_objects_are_bounded() {
        let contacts = (0..100_000)
            .map(|i| {
                format!(r#"{{"contactId":"c-{i}","connections":[{}]}}"#, {
                    (0..40)
                        .map(|j| format!(r#"{{"connectionId":"k-{j}"}}"#))
                        .collect::<Vec<_>>()
                        .join(",")
                })
            })
            .collect::<Vec<_>>()
            .join(",");
        let objects = format!(r#"[{{"snapshot":{{"contacts":[{contacts}]}}}}]"#);
        let snapshot = parse_snapshot(objects.as_bytes()).expect("a snapshot");
        assert_eq!(snapshot.contacts.len(), MAX_SNAPSHOT_CONTACTS);
        assert_eq!(snapshot.contacts[63].id, "c-63");
        assert_eq!(snapshot.contacts[0].connections.len(), MAX_CONNECTIONS);

        let samples = vec!["{}"; 1_000_000].join(",");
        assert_eq!(
            parse_metrics(&format!("[{samples}]")).unwrap().len(),
            MAX_SAMPLES
        );

        let mut flags: Vec<String> = (0..100_000)
            .map(|i| format!(r#""f{i:06}Failure":true"#))
            .collect();
        flags.push(r#""zzFailure":false"#.to_owned());
        let failures = report_failures(&format!("{{{}}}", flags.join(",")));
        assert_eq!(failures.len(), MAX_FAILURES);
        assert_eq!(failures[0], "f000000Failure");
        assert_eq!(
            report_failures(r#"{"aFailure":true,"b":1,"cFailure":false,"dFailure":true}"#),
            ["aFailure", "dFailure"]
        );
        assert!(report_failures(r#"{"aFailure":true} trailing"#).is_empty());

        let apis = vec!["{}"; 1_000_000].join(",");
        let with_params =
            format!(r#"[{{"params":{{"contactId":"c-1","connectionId":"k-1"}}}},{apis}]"#);
        assert_eq!(
            api_params(with_params.as_bytes()),
            (Some("c-1".into()), Some("k-1".into()))
        );
    }
}
