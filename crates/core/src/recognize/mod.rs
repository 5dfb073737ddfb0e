//! Recognizing log lines. Matches on `text` only: `component` is rewritten to
//! `ccp` for entries that crossed a frame or worker boundary (ccp-log-format.md §1.1).
//!
//! Every line format here comes from `ccp-log-format.md` §1–§3.

use std::cell::OnceCell;
use std::rc::Rc;

mod hand;
mod objects;
mod softphone;

pub use objects::{Sample, SnapContact, Snapshot};
use objects::{api_params, parse_metrics, parse_snapshot, report_failures};
pub(crate) use objects::{metrics_readers_agree, snapshot_readers_agree};
use softphone::softphone_line;
pub use softphone::{Machine, Trouble};

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
        /// names no contact or connection (ccp-log-format.md §3.3).
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

/// Recognizes entries one after another, remembering the last snapshot.
///
/// Agent snapshots arrive every few seconds and make up most of a log's
/// bytes, but between state changes they differ only in their timestamps and
/// `skew` (digits) and in the opaque `nextToken`. A snapshot whose raw
/// `objects` differ from the previous one's only there reuses its parse.
pub struct Recognizer {
    last_snapshot: Option<LastSnapshot>,
    reuse_repeats: bool,
}

/// The last parsed snapshot.
struct LastSnapshot {
    /// Its entry's index.
    index: u64,
    /// Its raw `objects`.
    raw: Vec<u8>,
    /// The strings of `raw` whose digits may not change for a repeat to
    /// reuse the parse ([`crate::repeats::identity_strings`]), worked out
    /// when the reader did not already say the entry repeats this one.
    identity: OnceCell<Vec<(usize, usize)>>,
    parsed: Rc<Snapshot>,
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
        if let Some(last) = &mut self.last_snapshot {
            // The reader found the entry repeats this one, ids and names
            // unchanged.
            if repeats == Some(last.index) {
                return Some(Event::Snapshot(last.parsed.clone()));
            }
            // Or its `objects` do: then the entries that repeat this one
            // will repeat the parse too (through this one, digits changed
            // twice, ids and names never).
            let identity = || {
                last.identity
                    .get_or_init(|| crate::repeats::identity_strings(&last.raw))
                    .as_slice()
            };
            if crate::repeats::same_outside(&last.raw, identity, raw) {
                last.index = index;
                return Some(Event::Snapshot(last.parsed.clone()));
            }
        }
        let parsed = Rc::new(parse_snapshot(raw)?);
        let mut kept = self
            .last_snapshot
            .take()
            .map(|last| last.raw)
            .unwrap_or_default();
        kept.clear();
        kept.extend_from_slice(raw);
        self.last_snapshot = Some(LastSnapshot {
            index,
            raw: kept,
            identity: OnceCell::new(),
            parsed: parsed.clone(),
        });
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
            // logs requests at all (ccp-log-format.md §3.3): no params.
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
}
