//! The RTC loggers' lines: `<id> SIGNALING A => B` transitions, possibly
//! nested under another logger's id, and the failures worth citing.

use super::{Event, MAX_NAME_BYTES, looks_like_id};

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
    /// does not end the call by itself (ccp-log-format.md §1.6).
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

/// Lines from the RTC loggers: `<id> <CATEGORY> <message>`, possibly nested
/// (`<id> RtcPeerConnectionManager <id> SIGNALING A => B`), possibly with an
/// empty id (`RtcPeerConnectionManager Initializing…`).
pub(super) fn softphone_line(t: &str) -> Option<Event> {
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
