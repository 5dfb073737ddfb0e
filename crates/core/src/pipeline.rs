//! reader → recognizer → time-order window → tracker → verdicts → document.

use std::io::Read;

use crate::assemble::{Analysis, build};
use crate::calls::{EvidenceTexts, Seen, Tracker};
use crate::document::{Document, LogInfo, RejectKind, Rejection, Source, Warning};
use crate::error::SourceError;
use crate::options::Options;
use crate::read::{Item, LogReader, ReadError};
use crate::recognize::Recognizer;
use crate::reorder::{Pending, Reorder};
use crate::time::{Millis, format_iso8601};

const WARNING_SAMPLES: usize = 10;

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
    let mut texts = EvidenceTexts::default();
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
                        .and_then(|a| a.decode())
                        .filter(|a| !a.is_empty())
                        .map(String::from);
                }
                if let Some(event) = recognizer.recognize(&e.text, e.objects, e.index, e.repeats) {
                    let text = texts.get(&e.text);
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
