//! reader → recognizer → time-order window → tracker → verdicts → document.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::io::Read;
use std::rc::Rc;

use crate::calls::{Contact, Seen, Tracker, evidence_text};
use crate::document::{
    Call, Document, Evidence, Generator, LogInfo, OtherContact, Quality, SCHEMA_VERSION,
    SoftphoneError, Status, Summary, Time, Warning,
};
use crate::reader::{Item, LogReader, ReadError};
use crate::recognize::{Event, Recognizer};
use crate::time::{Millis, format_iso8601};
use crate::verdict::{LogFacts, decide};
use crate::{Options, RejectKind, Rejection, Source, SourceError, catalog, redact};

/// Entries arrive up to about a second out of time order as layers merge
/// (spec §2.6); events wait this long (in log time) before being applied.
const REORDER_WINDOW_MS: Millis = 5_000;
/// The window never holds more events than this, whatever the times say
/// (real logs have a few dozen in five seconds)...
const REORDER_CAP: usize = 10_000;
/// ...nor more than about this many bytes of them (each snapshot can carry
/// up to 64 contacts).
const REORDER_BUDGET_BYTES: usize = 32 << 20;
const WARNING_SAMPLES: usize = 10;
const SOFTPHONE_ERRORS_CAP: usize = 16;

pub(crate) fn run<R: Read>(
    input: R,
    source: Source,
    options: &Options,
) -> Result<Document, SourceError> {
    match analyse(input, options) {
        Ok(analysis) => Ok(build(analysis, source, options)),
        Err(ReadError::Source(e)) => Err(SourceError(e)),
        Err(ReadError::Reject(r)) => Ok(Document::rejected(source, r)),
    }
}

struct Pending {
    time: Millis,
    index: u64,
    text: Rc<str>,
    event: Event,
    /// Bytes held, roughly: counted against the window's budget.
    weight: usize,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.index) == (other.time, other.index)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, self.index).cmp(&(other.time, other.index))
    }
}

/// Re-sorts events by (time, entry index) within a sliding window, so the
/// tracker sees them in time order without the whole file being held.
#[derive(Default)]
struct Reorder {
    heap: BinaryHeap<Reverse<Pending>>,
    latest: Millis,
    weight: usize,
}

impl Reorder {
    fn push(&mut self, p: Pending) {
        self.latest = self.latest.max(p.time);
        self.weight += p.weight;
        self.heap.push(Reverse(p));
    }

    fn pop_ready(&mut self) -> Option<Pending> {
        let ready = self.heap.peek().is_some_and(|Reverse(p)| {
            p.time < self.latest.saturating_sub(REORDER_WINDOW_MS)
                || self.heap.len() > REORDER_CAP
                || self.weight > REORDER_BUDGET_BYTES
        });
        if ready { self.pop_any() } else { None }
    }

    fn pop_any(&mut self) -> Option<Pending> {
        let p = self.heap.pop().map(|Reverse(p)| p)?;
        self.weight -= p.weight;
        Some(p)
    }
}

struct Analysis {
    tracker: Tracker,
    info: LogInfo,
}

fn apply(tracker: &mut Tracker, p: Pending) {
    let seen = Seen {
        index: p.index,
        time: p.time,
        text: &p.text,
    };
    tracker.apply(p.event, &seen);
}

fn analyse<R: Read>(input: R, options: &Options) -> Result<Analysis, ReadError> {
    let mut reader = LogReader::new(input, options.limits, options.reuse_repeats)?;
    let mut tracker = Tracker::new(options.limits.max_contacts);
    let mut window = Reorder::default();
    let mut recognizer = Recognizer::new(options.reuse_repeats);
    let mut valid = 0u64;
    let mut warnings = 0u64;
    let mut warning_samples = Vec::new();
    let mut first: Option<Millis> = None;
    let mut last: Option<Millis> = None;
    let mut agent: Option<String> = None;

    while let Some(item) = reader.next_item()? {
        match item {
            Item::Entry(e) => {
                valid += 1;
                first = Some(first.map_or(e.time, |f| f.min(e.time)));
                last = Some(last.map_or(e.time, |l| l.max(e.time)));
                if agent.is_none() {
                    agent = e
                        .agent
                        .as_deref()
                        .filter(|a| !a.is_empty())
                        .map(str::to_string);
                }
                if let Some(event) = recognizer.recognize(&e.text, e.objects, e.index, e.repeats) {
                    let text = evidence_text(&e.text);
                    window.push(Pending {
                        time: e.time,
                        index: e.index,
                        weight: text.len() + event.weight(),
                        text,
                        event,
                    });
                    while let Some(p) = window.pop_ready() {
                        apply(&mut tracker, p);
                    }
                }
            }
            Item::Invalid {
                index,
                offset,
                message,
            } => {
                warnings += 1;
                if warning_samples.len() < WARNING_SAMPLES {
                    warning_samples.push(Warning {
                        entry: index,
                        offset: Some(offset),
                        message,
                    });
                }
            }
        }
    }
    while let Some(p) = window.pop_any() {
        apply(&mut tracker, p);
    }

    if tracker.dropped_events > 0 {
        warnings += 1;
        if warning_samples.len() < WARNING_SAMPLES {
            warning_samples.push(Warning {
                entry: tracker.first_dropped.unwrap_or(0),
                offset: None,
                message: format!(
                    "more than {} contacts in one log: from this entry on, new contacts are \
                     not classified ({} events about them ignored)",
                    options.limits.max_contacts, tracker.dropped_events
                ),
            });
        }
    }
    let entries = reader.elements();
    if entries > 0 && valid == 0 {
        return Err(ReadError::Reject(Rejection {
            kind: RejectKind::NotCcpLog,
            message: format!(
                "none of the {entries} entries has a `text` string and a `time`: not a CCP log{}",
                warning_samples
                    .first()
                    .map(|w| format!(" (entry {}: {})", w.entry, w.message))
                    .unwrap_or_default()
            ),
            offset: None,
            entry: None,
        }));
    }
    let info = LogInfo {
        format: reader.format(),
        gzip: reader.gzip(),
        bytes: reader.bytes(),
        entries,
        first_time: first.map(format_iso8601),
        last_time: last.map(format_iso8601),
        agent_resource_id: agent,
        warnings,
        warning_samples,
        snapshots: tracker.snapshots,
        log_rolls: tracker.log_rolls,
        api_lines: tracker.api_lines,
        persistent_connection: tracker.persistent,
    };
    Ok(Analysis { tracker, info })
}

enum Kind {
    Call,
    Other(String),
    /// Not a contact at all: the persistent channel or its set-up session.
    Skip,
}

fn kind_of(c: &Contact, tracker: &Tracker) -> Kind {
    if let Some(kind) = c.non_voice {
        return Kind::Other(kind.to_string());
    }
    match c.kind.as_deref() {
        Some("voice" | "queue_callback") => return Kind::Call,
        Some(other) => return Kind::Other(other.to_string()),
        None => {}
    }
    if !c.seen_as_contact {
        let setup_session = tracker.persistent
            && !c.signaling.seen
            && c.session.talking.is_none()
            && c.call_session.talking.is_none();
        if tracker.is_persistent_channel(&c.id) || setup_session {
            return Kind::Skip;
        }
    }
    if c.softphone {
        Kind::Call
    } else {
        Kind::Other("unknown".into())
    }
}

fn build(analysis: Analysis, source: Source, options: &Options) -> Document {
    let Analysis { mut tracker, info } = analysis;
    let facts = LogFacts {
        api_lines: tracker.api_lines,
        api_params_lines: tracker.api_params_lines,
    };
    let kinds: Vec<Kind> = tracker
        .contacts
        .iter()
        .map(|c| kind_of(c, &tracker))
        .collect();
    let mut calls = Vec::new();
    let mut other_contacts = Vec::new();
    // Consumed one by one: a contact's reading state is freed as soon as its
    // call is in the document, so the two never both peak.
    for (c, kind) in std::mem::take(&mut tracker.contacts).into_iter().zip(kinds) {
        match kind {
            Kind::Call => calls.push(call(c, &facts, options)),
            Kind::Other(contact_type) => other_contacts.push(OtherContact {
                contact_id: c.id,
                contact_type,
            }),
            Kind::Skip => {}
        }
    }
    let summary = Summary::of(&calls);
    Document {
        schema_version: SCHEMA_VERSION,
        status: Status::Ok,
        generator: Generator::default(),
        source,
        error: None,
        log: Some(info),
        calls,
        other_contacts,
        summary,
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn call(c: Contact, facts: &LogFacts, options: &Options) -> Call {
    let verdict = decide(&c, facts);
    let text = |t: &str| {
        if options.redact {
            redact::redact(t)
        } else {
            t.to_string()
        }
    };
    let evidence = verdict
        .evidence
        .iter()
        .map(|e| Evidence {
            index: e.index,
            time: Time(e.time),
            text: text(&e.text),
            note: e.note.as_deref().map(str::to_string),
        })
        .collect();
    let (connected, ended) = (verdict.connected_at, verdict.ended_at);
    let talk_ms = match (connected, ended) {
        (Some(a), Some(b)) if b >= a => Some((b - a) as u64),
        _ => None,
    };
    let q = &c.quality;
    let avg = |a: (f64, u64, f64)| (a.1 > 0).then(|| round2(a.0 / a.1 as f64));
    let max = |a: (f64, u64, f64)| (a.1 > 0).then(|| round2(a.2));
    let quality = (q.samples > 0 || !c.report_failures.is_empty()).then(|| Quality {
        samples: q.samples,
        rtt_ms_avg: avg(q.rtt),
        rtt_ms_max: max(q.rtt),
        jitter_ms_avg: avg(q.jitter),
        jitter_ms_max: max(q.jitter),
        packets_lost: q.lost as u64,
        packets: q.packets as u64,
        packet_loss_pct: (q.lost + q.packets > 0.0)
            .then(|| round2(q.lost * 100.0 / (q.lost + q.packets))),
        report_failures: c.report_failures,
    });
    let softphone_errors = c
        .media
        .troubles
        .iter()
        .take(SOFTPHONE_ERRORS_CAP)
        .map(|(t, detail, e)| {
            let (kind, hint) = catalog::describe(*t, detail.as_deref());
            SoftphoneError {
                index: e.index,
                time: Time(e.time),
                kind,
                hint,
            }
        })
        .collect();
    Call {
        contact_id: c.id,
        disconnected_by: verdict.reason.verdict(),
        confidence: verdict.confidence,
        reason: verdict.reason,
        agent_connection_id: c.agent_connection.clone(),
        contact_type: c.kind.clone(),
        initiation_method: c.initiation.clone(),
        softphone: c.softphone,
        persistent_connection: c.persistent,
        started_before_log: c.started_before_log.unwrap_or(false),
        first_seen: Time(c.first_seen),
        connected_at: connected.map(Time),
        ended_at: ended.map(Time),
        talk_ms,
        evidence,
        timeline: c.timeline,
        timeline_truncated: c.timeline_truncated,
        quality,
        softphone_errors,
    }
}
