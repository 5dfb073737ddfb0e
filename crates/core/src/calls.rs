//! Tracking contacts through the log: every recognized event is routed to the
//! contact it concerns, and each contact keeps only the facts a verdict needs
//! (first occurrences, not histories), so memory grows with the number of
//! calls, never with the file size.

use std::collections::HashMap;

use std::borrow::Cow;
use std::rc::Rc;

use crate::document::{Time, TimelineItem, known_state};
use crate::recognize::{Event, MAX_ID_BYTES, Machine, Sample, SnapContact, Snapshot, Trouble};
use crate::time::{Millis, format_iso8601};

/// Timeline items kept per call; a runaway call (reconnect loops) is cut.
const TIMELINE_CAP: usize = 64;
/// Timeline room reserved up front.
const TIMELINE_START: usize = 20;
/// Trouble lines kept per call.
const TROUBLE_CAP: usize = 32;
/// Destroy requests kept per call.
const DESTROY_CAP: usize = 16;
/// Requests that add a party to the contact: a transfer or quick connect
/// (ccp-log-format.md §3.3, §3.5).
const ADD_PARTY_METHODS: [&str; 3] = [
    "createAdditionalConnection",
    "addNewConnection",
    "transferContact",
];
/// Metrics samples are tied to a call talking at their time, with this slack.
const METRICS_SLACK_MS: Millis = 2_000;
/// An end-of-call report is tied to a call that ended this long before it.
const REPORT_WINDOW_MS: Millis = 60_000;
/// Evidence text is cut to this many bytes.
const TEXT_CAP: usize = 400;
/// Persistent signaling channels remembered (a real log has one or two).
const MAX_PERSISTENT_CHANNELS: usize = 64;
/// Connections remembered per contact (a snapshot carries at most 8; a
/// transfer or conference adds a few over the call's life).
const MAX_TRACKED_CONNECTIONS: usize = 16;
/// Metrics, reports and end-of-call lines are tied to one of the calls seen
/// last; only this many are looked at.
const RECENT_CALLS: usize = 8;

/// A cited entry: one pointer to a shared [`Cited`].
///
/// A call keeps a few dozen optional citations (the first entry of each
/// kind), most of them never filled: a pointer keeps the empty ones at one
/// word, which is most of a tracked call's size.
#[derive(Debug, Clone)]
pub struct Ev(Rc<Cited>);

/// What an [`Ev`] cites. The text of one entry (and a snapshot's note) is
/// shared, not copied: it may be cited by several facts of several calls.
#[derive(Debug)]
pub struct Cited {
    pub index: u64,
    pub time: Millis,
    pub text: Rc<str>,
    pub note: Option<Rc<str>>,
}

impl Ev {
    pub fn new(index: u64, time: Millis, text: Rc<str>, note: Option<Rc<str>>) -> Ev {
        Ev(Rc::new(Cited {
            index,
            time,
            text,
            note,
        }))
    }

    /// The same entry with another note.
    pub fn with_note(&self, note: Rc<str>) -> Ev {
        Ev::new(self.index, self.time, self.text.clone(), Some(note))
    }
}

impl std::ops::Deref for Ev {
    type Target = Cited;

    fn deref(&self) -> &Cited {
        &self.0
    }
}

/// What an entry looked like when it was handed to the tracker.
pub struct Seen<'a> {
    pub index: u64,
    pub time: Millis,
    /// As [`EvidenceTexts`] makes it.
    pub text: &'a Rc<str>,
}

/// An entry's text as evidence may cite it: trimmed, and cut to
/// [`TEXT_CAP`] bytes. Done once, before the entry waits in the time-order
/// window, so that neither the window nor the calls hold long texts.
fn cut_text(text: &str) -> &str {
    let t = text.trim();
    if t.len() <= TEXT_CAP {
        return t;
    }
    let mut end = TEXT_CAP;
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    &t[..end]
}

/// Entries' texts as evidence may cite them ([`cut_text`]), each shared
/// with an entry of the same text seen shortly before: two entries in
/// three that reach the tracker repeat a recent text (every agent snapshot
/// reads `GET_AGENT_SNAPSHOT succeeded.`), and every call keeps its
/// citations until the log ends.
#[derive(Default)]
pub struct EvidenceTexts {
    recent: [Option<Rc<str>>; RECENT_TEXTS],
    next: usize,
}

/// Texts [`EvidenceTexts`] remembers: the kinds of entries that alternate
/// between two snapshots.
const RECENT_TEXTS: usize = 4;

impl EvidenceTexts {
    pub fn get(&mut self, text: &str) -> Rc<str> {
        let t = cut_text(text);
        if let Some(same) = self.recent.iter().flatten().find(|r| ***r == *t) {
            return same.clone();
        }
        let made: Rc<str> = t.into();
        self.recent[self.next] = Some(made.clone());
        self.next = (self.next + 1) % RECENT_TEXTS;
        made
    }
}

impl Seen<'_> {
    fn ev(&self) -> Ev {
        Ev::new(self.index, self.time, self.text.clone(), None)
    }

    fn ev_note(&self, note: impl Into<Rc<str>>) -> Ev {
        Ev::new(self.index, self.time, self.text.clone(), Some(note.into()))
    }
}

/// The first transition out of `TalkingState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `PendingRemoteHangupState`: this side sent `bye`.
    RemoteHangup,
    /// `PendingLocalHangupState`: the server sent `bye`.
    LocalHangup,
    /// `IdleState`: persistent connection, either side.
    Idle,
    Failed,
    Disconnected,
}

/// One state machine of one call.
#[derive(Debug, Clone, Default)]
pub struct Track {
    pub seen: bool,
    pub talking: Option<Ev>,
    /// The first transition seen left `TalkingState`: the call was talking
    /// before the log starts.
    pub talking_before_log: bool,
    pub exit: Option<(Exit, Ev)>,
    /// The transition that completed the exit (`… => DisconnectedState`).
    pub exit_done: Option<Ev>,
    pub reconnect_failed: Option<Ev>,
    pub failed_before_talking: Option<Ev>,
    pub terminal: Option<Ev>,
}

impl Track {
    fn apply(&mut self, from: Option<&str>, to: &str, seen: &Seen<'_>) {
        if !self.seen && self.talking.is_none() && from == Some("TalkingState") {
            self.talking_before_log = true;
        }
        self.seen = true;
        // Made once, and only if some fact takes it.
        let mut made: Option<Ev> = None;
        let mut ev = || made.get_or_insert_with(|| seen.ev()).clone();
        if to == "TalkingState" && self.talking.is_none() && from != Some("PendingReconnectState") {
            self.talking = Some(ev());
        }
        if from == Some("TalkingState") && self.exit.is_none() {
            let exit = match to {
                "PendingRemoteHangupState" => Some(Exit::RemoteHangup),
                "PendingLocalHangupState" => Some(Exit::LocalHangup),
                "IdleState" => Some(Exit::Idle),
                "FailedState" => Some(Exit::Failed),
                "DisconnectedState" => Some(Exit::Disconnected),
                _ => None,
            };
            if let Some(exit) = exit {
                self.exit = Some((exit, ev()));
            }
        } else if self.exit.is_some()
            && self.exit_done.is_none()
            && matches!(
                from,
                Some("PendingRemoteHangupState" | "PendingLocalHangupState")
            )
        {
            self.exit_done = Some(ev());
        }
        if from == Some("PendingReconnectState")
            && to == "FailedState"
            && self.reconnect_failed.is_none()
            && self.exit.is_none()
        {
            self.reconnect_failed = Some(ev());
        }
        if to == "FailedState" && self.talking.is_none() && self.failed_before_talking.is_none() {
            self.failed_before_talking = Some(ev());
        }
        if matches!(to, "DisconnectedState" | "FailedState") && self.terminal.is_none() {
            self.terminal = Some(ev());
        }
    }
}

/// A state or connection type name: borrowed when it is a known one, as
/// nearly all are, so that tracking a connection costs no allocation for it.
type Name = Cow<'static, str>;

/// Connection types in agent snapshots (`connectionType`).
const CONNECTION_TYPES: [&str; 4] = ["agent", "inbound", "outbound", "monitoring"];

fn name(s: &str) -> Name {
    match known_state(s).or_else(|| CONNECTION_TYPES.iter().find(|t| **t == s).copied()) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(s.to_string()),
    }
}

/// Per-connection last seen snapshot state.
#[derive(Debug, Clone)]
struct ConnState {
    id: String,
    kind: Option<Name>,
    state: Option<Name>,
    initial: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Contact {
    pub id: String,
    pub first_seen: Millis,
    pub kind: Option<String>,
    pub initiation: Option<String>,
    pub agent_connection: Option<String>,
    /// SIGNALING/SESSION lines or `Softphone call detected` name this contact.
    pub softphone: bool,
    /// Seen as a contact (snapshot, contact line, API params, contact event),
    /// not only as an RTC id.
    pub seen_as_contact: bool,
    pub non_voice: Option<&'static str>,
    pub persistent: bool,
    /// The first thing seen of it was already mid-call.
    pub started_before_log: Option<bool>,
    pub signaling: Track,
    pub session: Track,
    pub call_session: Track,
    pub timeline: Vec<TimelineItem>,
    pub timeline_truncated: bool,
    pub snap: SnapshotFacts,
    pub events: ContactEvents,
    pub api: ApiRequests,
    pub media: MediaFacts,
    pub quality: QualityAcc,
    pub report_failures: Vec<String>,
}

/// What the agent snapshots showed of one contact (ccp-log-format.md §3.2): the first
/// snapshot in each contact state, and the connections' states.
#[derive(Debug, Clone, Default)]
pub struct SnapshotFacts {
    last_contact_state: Option<Name>,
    connections: Vec<ConnState>,
    pub connected: Option<Ev>,
    pub ended: Option<Ev>,
    pub missed: Option<Ev>,
    pub rejected: Option<Ev>,
    pub error: Option<Ev>,
    pub customer_connecting: Option<Ev>,
    pub customer_connected: Option<Ev>,
    /// The far end's legs were all disconnected while the agent's was still up.
    pub far_end_gone_first: Option<Ev>,
    /// The agent's leg was gone while another party was still connected.
    pub others_stayed: Option<Ev>,
    pub agent_error_state: Option<(String, Ev)>,
    /// Some snapshot named this contact.
    pub seen: bool,
    /// When the agent's and the customer's legs went `disconnected`, by
    /// their `state.timestamp` on the log's clock (ccp-log-format.md §3.2): the first
    /// snapshot that shows each.
    pub agent_down: Option<LegDown>,
    pub customer_down: Option<LegDown>,
    /// The agent's leg `connected` in the first snapshot of the contact:
    /// since when, on the log's clock.
    pub first_agent_connected: Option<Millis>,
    /// A party other than the agent and the customer joined (transfer,
    /// conference).
    pub third_party: bool,
}

/// A leg's disconnect time, from its `state.timestamp` less the snapshot's
/// `skew` (ccp-log-format.md §3.2), and the snapshot that showed it.
#[derive(Debug, Clone)]
pub struct LegDown {
    pub at: Millis,
    pub ev: Ev,
}

/// `Publishing event: contact::<name>::<id>` lines (ccp-log-format.md §3.2): the first of
/// each kind.
#[derive(Debug, Clone, Default)]
pub struct ContactEvents {
    pub connected: Option<Ev>,
    pub missed: Option<Ev>,
    pub error: Option<Ev>,
    /// `ended`, `acw` or `destroyed`.
    pub ended: Option<Ev>,
}

/// The agent's API requests naming this contact (ccp-log-format.md §3.3).
#[derive(Debug, Clone, Default)]
pub struct ApiRequests {
    /// `destroyConnection`, with the connection id it names.
    pub destroys: Vec<(Option<String>, Ev)>,
    pub reject: Option<Ev>,
    pub outbound: bool,
    /// The shared worker's `destroyConnection` lines tied to this call by
    /// time: they name no contact or connection (ccp-log-format.md §3.3).
    pub worker_destroys: Vec<Ev>,
    /// The first request adding a party (a transfer or quick connect).
    pub add_party: Option<Ev>,
}

/// Softphone media and failure lines tied to this call (ccp-log-format.md §3.4).
#[derive(Debug, Clone, Default)]
pub struct MediaFacts {
    pub troubles: Vec<(Trouble, Option<String>, Ev)>,
    /// When ICE came back (`connected`/`completed`).
    pub ice_recovered: Vec<Millis>,
    /// The CCP v1 line `Agent disconnected successfully.`
    pub agent_disconnected_line: Option<Ev>,
    /// The last metrics sample tied to this call that counted packets:
    /// audio was flowing then (ccp-log-format.md §3.4).
    pub last_audio: Option<Millis>,
    /// The last such sample that counted no packets: silence.
    pub last_silence: Option<Millis>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct QualityAcc {
    pub samples: u64,
    pub rtt: (f64, u64, f64),
    pub jitter: (f64, u64, f64),
    pub lost: f64,
    pub packets: f64,
}

impl QualityAcc {
    fn add(&mut self, s: &Sample) {
        self.samples += 1;
        let acc = |a: &mut (f64, u64, f64), v: Option<f64>| {
            if let Some(v) = v {
                a.0 += v;
                a.1 += 1;
                a.2 = a.2.max(v);
            }
        };
        acc(&mut self.rtt, s.rtt_ms);
        acc(&mut self.jitter, s.jitter_ms);
        self.lost += s.packets_lost.unwrap_or(0.0);
        self.packets += s.packets.unwrap_or(0.0);
    }
}

impl Contact {
    fn new(id: &str, seen: &Seen<'_>) -> Contact {
        Contact {
            id: id.to_string(),
            first_seen: seen.time,
            ..Contact::default()
        }
    }

    fn timeline(&mut self, seen: &Seen<'_>, machine: &'static str, from: Option<&str>, to: &str) {
        if self.timeline.len() >= TIMELINE_CAP {
            self.timeline_truncated = true;
            return;
        }
        if self.timeline.len() == self.timeline.capacity() {
            // A call typically has 15 to 20 changes, and every call's
            // timeline stays until the log ends: doubling (from 4, or from the start) would
            // leave most timelines a third to half empty. A quarter more is
            // room enough for the rest of most calls.
            let more = if self.timeline.is_empty() {
                TIMELINE_START
            } else {
                (self.timeline.len() / 4).max(4)
            };
            self.timeline.reserve_exact(more);
        }
        self.timeline.push(TimelineItem::new(
            seen.index,
            Time(seen.time),
            machine,
            from,
            to,
        ));
    }

    fn track(&mut self, machine: Machine) -> &mut Track {
        match machine {
            Machine::Signaling => &mut self.signaling,
            Machine::Session => &mut self.session,
            Machine::CallSession => &mut self.call_session,
        }
    }

    /// The best known end of the call.
    pub fn end(&self) -> Option<&Ev> {
        let exits = [&self.signaling, &self.call_session, &self.session];
        exits
            .iter()
            .find_map(|t| t.exit.as_ref().map(|(_, e)| e))
            .or(self.snap.ended.as_ref())
            .or(self.events.ended.as_ref())
            .or(self.snap.missed.as_ref())
            .or(self.snap.rejected.as_ref())
            .or(self.snap.error.as_ref())
            .or(self.events.missed.as_ref())
            .or(exits.iter().find_map(|t| t.terminal.as_ref()))
    }

    /// The entry where an RTC machine entered `TalkingState`.
    pub fn talking_ev(&self) -> Option<&Ev> {
        self.signaling
            .talking
            .as_ref()
            .or(self.call_session.talking.as_ref())
            .or(self.session.talking.as_ref())
    }

    /// When the softphone started talking; `Millis::MIN` when that was
    /// before the log starts.
    pub fn talk_start(&self) -> Option<Millis> {
        let tracks = [&self.signaling, &self.call_session, &self.session];
        if tracks.iter().any(|t| t.talking_before_log) {
            return Some(Millis::MIN);
        }
        self.talking_ev().map(|e| e.time)
    }

    fn apply_snapshot(&mut self, c: &SnapContact, skew: Millis, seen: &Seen<'_>) {
        self.seen_as_contact = true;
        let first_snapshot = !self.snap.seen;
        self.snap.seen = true;
        if c.kind.is_some() {
            self.kind.clone_from(&c.kind);
        }
        if c.initiation.is_some() {
            self.initiation.clone_from(&c.initiation);
        }
        if self.started_before_log.is_none() {
            self.started_before_log =
                Some(matches!(c.state.as_deref(), Some("connected" | "ended")));
        }
        let state = c.state.as_deref().unwrap_or("");
        if c.state.as_deref() != self.snap.last_contact_state.as_deref() {
            let last = self.snap.last_contact_state.take();
            self.timeline(seen, "contact", last.as_deref(), state);
            self.snap.last_contact_state = c.state.as_deref().map(name);
        }
        // One note per snapshot and contact, written only if some fact
        // takes it, and shared by every fact that does.
        let mut note: Option<Rc<str>> = None;
        let first = |slot: &mut Option<Ev>, note: &mut Option<Rc<str>>| {
            if slot.is_none() {
                let n = note
                    .get_or_insert_with(|| describe_snapshot_contact(c).into())
                    .clone();
                *slot = Some(seen.ev_note(n));
            }
        };
        match state {
            "connected" => first(&mut self.snap.connected, &mut note),
            "ended" => first(&mut self.snap.ended, &mut note),
            "missed" => first(&mut self.snap.missed, &mut note),
            "rejected" => first(&mut self.snap.rejected, &mut note),
            "error" => first(&mut self.snap.error, &mut note),
            _ => {}
        }

        // Connections: the agent's leg, and the far end (every other party
        // except silent monitors).
        let mut agent_state: Option<&str> = None;
        let mut far_active = false;
        let mut far_seen = false;
        // Server times on the log's clock (ccp-log-format.md §3.2: skew is server minus
        // client time).
        let local = |t: Option<Millis>| t.map(|t| t.saturating_sub(skew));
        let mut agent_down = None;
        let mut customer_down = None;
        for k in &c.connections {
            let kind = k.kind.as_deref().unwrap_or("");
            let kstate = k.state.as_deref();
            let down = kstate == Some("disconnected");
            if kind == "agent" {
                if self.agent_connection.is_none() {
                    self.agent_connection = Some(k.id.clone());
                }
                agent_state = kstate;
                if down {
                    agent_down = local(k.state_time);
                }
                if first_snapshot && kstate == Some("connected") {
                    self.snap.first_agent_connected = local(k.state_time);
                }
            } else if kind != "monitoring" {
                far_seen = true;
                if is_active(kstate) {
                    far_active = true;
                }
            }
            let changed = match self.snap.connections.iter_mut().find(|s| s.id == k.id) {
                Some(s) if s.state.as_deref() == kstate => None,
                Some(s) => {
                    let from = s.state.replace(name(kstate.unwrap_or("")));
                    Some(from)
                }
                None => {
                    if self.snap.connections.len() < MAX_TRACKED_CONNECTIONS {
                        self.snap.connections.push(ConnState {
                            id: k.id.clone(),
                            kind: k.kind.as_deref().map(name),
                            state: k.state.as_deref().map(name),
                            initial: k.initial,
                        });
                    }
                    Some(None)
                }
            };
            if let Some(from) = changed {
                let machine = if kind == "agent" {
                    "agent_connection"
                } else if self.is_customer_leg(&k.id) {
                    "customer_connection"
                } else {
                    "third_party_connection"
                };
                if kind != "monitoring" {
                    self.timeline(seen, machine, from.as_deref(), kstate.unwrap_or(""));
                }
            }
            if kind != "agent" && kind != "monitoring" && !self.is_customer_leg(&k.id) {
                self.snap.third_party = true;
            }
            if kind != "agent" && kind != "monitoring" && self.is_customer_leg(&k.id) {
                if down {
                    customer_down = local(k.state_time);
                }
                match kstate {
                    // The latest one: "still ringing" right before the end.
                    Some("connecting") | Some("init") => {
                        let n = note.get_or_insert_with(|| describe_snapshot_contact(c).into());
                        self.snap.customer_connecting = Some(seen.ev_note(n.clone()))
                    }
                    Some("connected") | Some("hold") => {
                        first(&mut self.snap.customer_connected, &mut note)
                    }
                    _ => {}
                }
            }
        }
        let agent_active = is_active(agent_state);
        // The contact may already read `ended`: the agent's leg still being up
        // is what shows the far end left first.
        if far_seen && !far_active && agent_active && matches!(state, "connected" | "ended") {
            first(&mut self.snap.far_end_gone_first, &mut note);
        }
        if far_active && !agent_active && agent_state.is_some() {
            first(&mut self.snap.others_stayed, &mut note);
        }
        // Both legs often go down in the same snapshot: one citation for both.
        let mut timed: Option<Ev> = None;
        for (slot, at) in [
            (&mut self.snap.agent_down, agent_down),
            (&mut self.snap.customer_down, customer_down),
        ] {
            if let (None, Some(at)) = (&slot, at) {
                let ev = timed
                    .get_or_insert_with(|| seen.ev_note(describe_snapshot_times(c, skew)))
                    .clone();
                *slot = Some(LegDown { at, ev });
            }
        }
    }

    /// Whether a snapshot showed connection `id` as the agent's leg.
    pub fn is_agent_leg(&self, id: &str) -> bool {
        self.snap
            .connections
            .iter()
            .any(|s| s.id == id && s.kind.as_deref() == Some("agent"))
    }

    /// The customer's leg: the initial non-agent connection, or the first
    /// non-agent connection seen.
    pub fn is_customer_leg(&self, id: &str) -> bool {
        let far = || {
            self.snap
                .connections
                .iter()
                .filter(|s| !matches!(s.kind.as_deref(), Some("agent") | Some("monitoring")))
        };
        match far().find(|s| s.initial).or_else(|| far().next()) {
            Some(s) => s.id == id,
            None => true,
        }
    }

    fn add_trouble(&mut self, trouble: Trouble, detail: Option<String>, seen: &Seen<'_>) {
        if self.media.troubles.len() < TROUBLE_CAP {
            self.media.troubles.push((trouble, detail, seen.ev()));
        }
    }
}

fn is_active(state: Option<&str>) -> bool {
    matches!(
        state,
        Some("connected" | "hold" | "connecting" | "init" | "silent_monitor" | "barge")
    )
}

/// The snapshot note with the connections' state times, for a verdict
/// that rests on which leg went first.
fn describe_snapshot_times(c: &SnapContact, skew: Millis) -> String {
    describe_snapshot(c, Some(skew))
}

fn describe_snapshot_contact(c: &SnapContact) -> String {
    describe_snapshot(c, None)
}

/// The contact's and its connections' states; with the connections' state
/// times and the skew when `skew` is given. Written into one string: these
/// notes are made for many snapshots of a call.
fn describe_snapshot(c: &SnapContact, skew: Option<Millis>) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(160);
    s.push_str("snapshot: contact ");
    s.push_str(c.state.as_deref().unwrap_or("?"));
    for k in &c.connections {
        s.push_str("; ");
        s.push_str(k.kind.as_deref().unwrap_or("?"));
        s.push_str(" connection ");
        s.push_str(k.state.as_deref().unwrap_or("?"));
        if let (Some(_), Some(t)) = (skew, k.state_time) {
            s.push_str(" since ");
            s.push_str(&format_iso8601(t));
            s.push_str(" (server)");
        }
    }
    if let Some(skew) = skew {
        let _ = write!(s, "; skew {skew} ms");
    }
    s
}

/// All contacts of one log, plus the facts about the log as a whole.
#[derive(Default)]
pub struct Tracker {
    pub contacts: Vec<Contact>,
    /// No new contact is tracked past this many (`Limits::max_contacts`).
    max_contacts: usize,
    /// Events about contacts past the cap: not applied, only counted. The
    /// first one's entry index is kept for the warning.
    pub dropped_events: u64,
    pub first_dropped: Option<u64>,
    by_id: HashMap<String, usize>,
    /// Signaling channel ids known to be persistent, and the call each is
    /// carrying now.
    persistent_channels: HashMap<String, Option<usize>>,
    /// The contact whose softphone session is the most recent.
    current: Option<usize>,
    /// Requests are logged (either kind of line, ccp-log-format.md §3.3): the agent's
    /// silence means something.
    pub api_lines: bool,
    /// `Sending API_REQUEST` lines (with params) are logged: the worker's
    /// lines only repeat them.
    pub api_params_lines: bool,
    /// The contact a snapshot last showed active: requests that name no
    /// contact are tied to it when no softphone call is talking.
    last_active: Option<usize>,
    pub persistent: bool,
    pub snapshots: u64,
    pub log_rolls: u64,
}

impl Tracker {
    pub fn new(max_contacts: usize) -> Tracker {
        Tracker {
            max_contacts,
            ..Tracker::default()
        }
    }

    /// The contact with this id, created on first sight; `None` for an id
    /// too long to be one, or a new contact past the cap.
    fn contact(&mut self, id: &str, seen: &Seen<'_>) -> Option<usize> {
        if let Some(&i) = self.by_id.get(id) {
            return Some(i);
        }
        if id.len() > MAX_ID_BYTES {
            return None;
        }
        if self.contacts.len() >= self.max_contacts {
            self.dropped_events += 1;
            self.first_dropped.get_or_insert(seen.index);
            return None;
        }
        let i = self.contacts.len();
        self.contacts.push(Contact::new(id, seen));
        self.by_id.insert(id.to_string(), i);
        Some(i)
    }

    /// Records a persistent channel and the call it carries, within bounds.
    fn set_channel(&mut self, id: String, carrying: Option<usize>) {
        if id.len() > MAX_ID_BYTES {
            return;
        }
        if self.persistent_channels.len() < MAX_PERSISTENT_CHANNELS
            || self.persistent_channels.contains_key(&id)
        {
            self.persistent_channels.insert(id, carrying);
        }
    }

    /// Whether `id` is a persistent signaling channel, not a contact.
    pub fn is_persistent_channel(&self, id: &str) -> bool {
        self.persistent_channels.contains_key(id)
    }

    pub fn apply(&mut self, event: Event, seen: &Seen<'_>) {
        match event {
            Event::Transition {
                shared: true, id, ..
            } => {
                // The V2 shared media channel carries every call; only its id
                // is kept, so trouble lines on it reach the current call.
                self.persistent = true;
                if let Some(id) = id
                    && !self.persistent_channels.contains_key(&id)
                {
                    self.set_channel(id, None);
                }
            }
            Event::Transition {
                machine,
                id,
                outer_id,
                from,
                to,
                ..
            } => self.transition(machine, id, outer_id, from.as_deref(), &to, seen),
            Event::Trouble {
                trouble,
                id,
                detail,
                shared,
            } => {
                let target = match id.as_deref() {
                    Some(id) if !shared && !self.is_persistent_channel(id) => {
                        self.contact(id, seen)
                    }
                    _ => self.current,
                };
                if let Some(i) = target {
                    self.contacts[i].add_trouble(trouble, detail, seen);
                }
            }
            Event::IceRecovered { id } => {
                let target = match id.as_deref() {
                    Some(id) if !self.is_persistent_channel(id) => self.by_id.get(id).copied(),
                    _ => self.current,
                };
                if let Some(i) = target {
                    self.contacts[i].media.ice_recovered.push(seen.time);
                }
            }
            Event::ContactDetected {
                contact_id,
                connection_id,
                softphone,
            } => {
                let Some(i) = self.contact(&contact_id, seen) else {
                    return;
                };
                let c = &mut self.contacts[i];
                c.seen_as_contact = true;
                if c.started_before_log.is_none() {
                    c.started_before_log = Some(false);
                }
                if connection_id.is_some() {
                    c.agent_connection = connection_id;
                }
                if softphone {
                    c.softphone = true;
                    self.current = Some(i);
                }
            }
            Event::ApiRequest {
                method,
                contact_id,
                connection_id,
                worker,
            } => {
                self.api_lines = true;
                if worker {
                    self.worker_request(&method, seen);
                    return;
                }
                self.api_params_lines = true;
                let Some(cid) = contact_id else { return };
                let Some(i) = self.contact(&cid, seen) else {
                    return;
                };
                let c = &mut self.contacts[i];
                c.seen_as_contact = true;
                match method.as_str() {
                    "destroyConnection" if c.api.destroys.len() < DESTROY_CAP => {
                        let note = format!(
                            "API request destroyConnection for connection {}",
                            connection_id.as_deref().unwrap_or("?")
                        );
                        c.api.destroys.push((connection_id, seen.ev_note(note)));
                    }
                    "rejectContact" if c.api.reject.is_none() => {
                        c.api.reject = Some(seen.ev_note("API request rejectContact"))
                    }
                    "createOutboundContact" => c.api.outbound = true,
                    m if ADD_PARTY_METHODS.contains(&m) && c.api.add_party.is_none() => {
                        c.api.add_party = Some(seen.ev_note(format!("API request {m}")))
                    }
                    _ => {}
                }
            }
            Event::ContactChange { name, contact_id } => {
                let Some(i) = self.contact(&contact_id, seen) else {
                    return;
                };
                let c = &mut self.contacts[i];
                c.seen_as_contact = true;
                let slot = match name.as_str() {
                    "connected" => &mut c.events.connected,
                    "missed" => &mut c.events.missed,
                    "error" => &mut c.events.error,
                    "ended" | "acw" | "destroyed" => &mut c.events.ended,
                    "incoming" | "connecting" | "pending" => {
                        if c.started_before_log.is_none() {
                            c.started_before_log = Some(false);
                        }
                        return;
                    }
                    _ => return,
                };
                if slot.is_none() {
                    *slot = Some(seen.ev());
                }
            }
            Event::Snapshot(snapshot) => self.snapshot(&snapshot, seen),
            Event::Metrics(samples) => {
                for s in &samples {
                    let t = s.time.unwrap_or(seen.time);
                    if let Some(i) = self.talking_at(t) {
                        let c = &mut self.contacts[i];
                        c.quality.add(s);
                        match s.packets {
                            Some(p) if p > 0.0 => {
                                c.media.last_audio = c.media.last_audio.max(Some(t))
                            }
                            Some(_) => c.media.last_silence = c.media.last_silence.max(Some(t)),
                            None => {}
                        }
                    }
                }
            }
            Event::Report { failures } => {
                // A report with no call near it has nothing to describe.
                if let Some(i) = self.recently_ended(seen.time).or(self.current) {
                    self.contacts[i].report_failures = failures;
                }
            }
            Event::LogRoll => self.log_rolls += 1,
            Event::AgentDisconnectedLine => {
                if let Some(i) = self.recently_ended(seen.time).or(self.current) {
                    let c = &mut self.contacts[i];
                    if c.media.agent_disconnected_line.is_none() {
                        c.media.agent_disconnected_line = Some(seen.ev());
                    }
                }
            }
            Event::NonVoiceContact { contact_id, kind } => {
                let Some(i) = self.contact(&contact_id, seen) else {
                    return;
                };
                self.contacts[i].non_voice = Some(kind);
                self.contacts[i].seen_as_contact = true;
            }
        }
    }

    fn transition(
        &mut self,
        machine: Machine,
        id: Option<String>,
        outer_id: Option<String>,
        from: Option<&str>,
        to: &str,
        seen: &Seen<'_>,
    ) {
        let Some(id) = id.or(outer_id.clone()) else {
            return;
        };
        let persistent_hint = machine == Machine::Signaling
            && (to == "IdleState"
                || from == Some("IdleState")
                || to == "PendingConnectContactState");

        if machine == Machine::Signaling && (persistent_hint || self.is_persistent_channel(&id)) {
            self.persistent = true;
            let carrying = self.persistent_channels.get(&id).copied().flatten();
            let target = if carrying.is_some() {
                carrying
            } else if from == Some("IdleState") || to == "PendingConnectContactState" {
                // A call starts on the channel: it belongs to the contact
                // whose session was set up last (or the outer PCM id).
                match outer_id.as_deref().filter(|o| *o != id) {
                    Some(o) => self.contact(o, seen),
                    None => self.current,
                }
            } else if from == Some("TalkingState") {
                // First sight of the channel is a call ending on it.
                self.by_id.get(&id).copied().or(self.current)
            } else {
                None
            };
            let next = if to == "IdleState" || matches!(to, "DisconnectedState" | "FailedState") {
                None
            } else {
                target
            };
            self.set_channel(id, next);
            if let Some(i) = target {
                let c = &mut self.contacts[i];
                c.persistent = true;
                c.softphone = true;
                self.current = Some(i);
                c.signaling.apply(from, to, seen);
                c.timeline(seen, "signaling", from, to);
            }
            return;
        }

        let Some(i) = self.contact(&id, seen) else {
            return;
        };
        let c = &mut self.contacts[i];
        c.softphone = true;
        if c.started_before_log.is_none() {
            c.started_before_log = Some(from.is_some_and(|f| f != "null") && is_mid_call(from));
        }
        c.track(machine).apply(from, to, seen);
        // SESSION set-up steps repeat what SIGNALING shows; keep its outcomes.
        let worth_showing = machine != Machine::Session
            || matches!(
                to,
                "TalkingState" | "DisconnectedState" | "FailedState" | "ConnectContactState"
            );
        if worth_showing {
            c.timeline(seen, machine.name(), from, to);
        }
        self.current = Some(i);
    }

    /// A worker request line names no contact: it is tied to the call
    /// talking at its time, else to the contact a snapshot last showed
    /// active (one voice contact at a time, ccp-log-format.md §3.3).
    fn worker_request(&mut self, method: &str, seen: &Seen<'_>) {
        let add_party = ADD_PARTY_METHODS.contains(&method);
        if method != "destroyConnection" && !add_party {
            return;
        }
        let Some(i) = self.talking_at(seen.time).or(self.last_active) else {
            return;
        };
        let api = &mut self.contacts[i].api;
        let note = || format!("API request {method} (shared worker, no params)");
        if add_party {
            if api.add_party.is_none() {
                api.add_party = Some(seen.ev_note(note()));
            }
        } else if api.worker_destroys.len() < DESTROY_CAP {
            api.worker_destroys.push(seen.ev_note(note()));
        }
    }

    fn snapshot(&mut self, snapshot: &Snapshot, seen: &Seen<'_>) {
        self.snapshots += 1;
        let skew = snapshot.skew.unwrap_or(0);
        let mut present = Vec::with_capacity(snapshot.contacts.len());
        for c in &snapshot.contacts {
            let Some(i) = self.contact(&c.id, seen) else {
                continue;
            };
            self.contacts[i].apply_snapshot(c, skew, seen);
            if matches!(
                c.state.as_deref(),
                Some("connected" | "connecting" | "incoming" | "pending" | "init")
            ) {
                self.last_active = Some(i);
            } else if self.last_active == Some(i) {
                // Ended: a later request names no call of its.
                self.last_active = None;
            }
            present.push(i);
        }
        if snapshot.agent_state_type.as_deref() == Some("error") {
            let name = snapshot
                .agent_state
                .clone()
                .unwrap_or_else(|| "Error".into());
            let target = present
                .iter()
                .copied()
                .find(|&i| self.contacts[i].non_voice.is_none())
                .or(self.current);
            if let Some(i) = target {
                let c = &mut self.contacts[i];
                if c.snap.agent_error_state.is_none() {
                    let note = format!("snapshot: agent state {name} (error)");
                    c.snap.agent_error_state = Some((name, seen.ev_note(note)));
                }
            }
        }
    }

    /// The call whose conversation covers `t`.
    fn talking_at(&self, t: Millis) -> Option<usize> {
        let covers = |i: usize| {
            let c = &self.contacts[i];
            let start = c.talk_start()?;
            // Signaling lost does not end the call by itself: the media may
            // go on (ccp-log-format.md §1.6).
            let end = c
                .end()
                .filter(|e| {
                    [&c.signaling, &c.call_session].iter().all(|t| {
                        t.reconnect_failed
                            .as_ref()
                            .is_none_or(|r| r.index != e.index)
                    })
                })
                .map(|e| e.time)
                .unwrap_or(Millis::MAX);
            (t.saturating_add(METRICS_SLACK_MS) >= start
                && t <= end.saturating_add(METRICS_SLACK_MS))
            .then_some(i)
        };
        self.current.and_then(covers).or_else(|| {
            (0..self.contacts.len())
                .rev()
                .take(RECENT_CALLS)
                .find_map(covers)
        })
    }

    /// The call that ended most recently before `t`, within the report window.
    fn recently_ended(&self, t: Millis) -> Option<usize> {
        (0..self.contacts.len())
            .rev()
            .take(RECENT_CALLS)
            .filter_map(|i| {
                let end = self.contacts[i].end()?.time;
                (end <= t && t - end <= REPORT_WINDOW_MS).then_some((end, i))
            })
            .max()
            .map(|(_, i)| i)
    }
}

fn is_mid_call(from: Option<&str>) -> bool {
    matches!(
        from,
        Some(
            "TalkingState"
                | "PendingReconnectState"
                | "PendingRemoteHangupState"
                | "PendingLocalHangupState"
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shared or not, a text is the entry's own, trimmed and cut; a text
    /// seen among the last few is shared, an older one made again.
    #[test]
    fn evidence_texts_are_the_entries_own_and_shared_when_repeated() {
        let long = format!("  {}", "é".repeat(300));
        let inputs = [
            " GET_AGENT_SNAPSHOT succeeded.",
            "GET_AGENT_SNAPSHOT succeeded.\n",
            "GET_AGENT_SNAPSHOT succeeded",
            long.as_str(),
            "a",
            "b",
            "c",
            long.as_str(),
            "d",
            "e",
            "GET_AGENT_SNAPSHOT succeeded.",
        ];
        let mut texts = EvidenceTexts::default();
        let made: Vec<Rc<str>> = inputs.iter().map(|t| texts.get(t)).collect();
        for (t, m) in inputs.iter().zip(&made) {
            let expected = t.trim();
            let expected = if expected.len() > TEXT_CAP {
                &expected[..TEXT_CAP]
            } else {
                expected
            };
            assert_eq!(&**m, expected);
        }
        assert!(Rc::ptr_eq(&made[0], &made[1]), "trimmed alike: shared");
        assert!(!Rc::ptr_eq(&made[1], &made[2]));
        assert!(
            Rc::ptr_eq(&made[3], &made[7]),
            "three texts between: shared"
        );
        assert!(!Rc::ptr_eq(&made[0], &made[10]), "gone from the last four");
    }
}
