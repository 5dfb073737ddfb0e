//! Turns the tracked contacts into the result document: which contacts are
//! calls ("what counts as a call"), each call's verdict, timing, quality and
//! evidence, and the summary.

use crate::calls::{Contact, Tracker};
use crate::document::{
    Call, Document, Evidence, Generator, LogInfo, OtherContact, Quality, SCHEMA_VERSION,
    SoftphoneError, Source, Status, Summary, Time,
};
use crate::options::Options;
use crate::verdict::{LogFacts, decide};
use crate::{catalog, redact};

const SOFTPHONE_ERRORS_CAP: usize = 16;

/// What reading the log left for assembly.
pub(crate) struct Analysis {
    pub(crate) tracker: Tracker,
    pub(crate) info: LogInfo,
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

pub(crate) fn build(analysis: Analysis, source: Source, options: &Options) -> Document {
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
        contact_record: None,
    }
}
