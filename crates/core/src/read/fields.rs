//! The entry members the classifier reads, where the scanner found them, and
//! how an entry is built from those places once its end is known.

use std::borrow::Cow;

use super::{Entry, Item, ReadError, first_line, malformed_entry};
use crate::time::{Millis, parse_iso8601};

/// The entry members the classifier reads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Text,
    Time,
    Objects,
    Agent,
    Other,
}

impl Field {
    pub(super) fn of(key: &[u8]) -> Field {
        match key {
            b"text" => Field::Text,
            b"time" => Field::Time,
            b"objects" => Field::Objects,
            b"agentResourceId" => Field::Agent,
            _ => Field::Other,
        }
    }
}

/// Where a member's value sits, relative to the entry start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) from: usize,
    pub(super) to: usize,
    pub(super) string: bool,
    pub(super) escaped: bool,
}

#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fields {
    text: Option<Span>,
    time: Option<Span>,
    objects: Option<Span>,
    agent: Option<Span>,
    duplicate: bool,
}

impl Fields {
    /// The same fields with every position passed through `f`.
    pub(super) fn map(&self, f: impl Fn(usize) -> usize) -> Fields {
        let m = |s: Option<Span>| {
            s.map(|s| Span {
                from: f(s.from),
                to: f(s.to),
                ..s
            })
        };
        Fields {
            text: m(self.text),
            time: m(self.time),
            objects: m(self.objects),
            agent: m(self.agent),
            duplicate: self.duplicate,
        }
    }

    pub(super) fn set(&mut self, field: Field, span: Span) {
        let slot = match field {
            Field::Text => &mut self.text,
            Field::Time => &mut self.time,
            Field::Objects => &mut self.objects,
            Field::Agent => &mut self.agent,
            Field::Other => return,
        };
        if slot.is_some() {
            self.duplicate = true;
        }
        *slot = Some(span);
    }
}

/// The decoded string value of `span`, or why there is none.
fn string_value<'a>(
    bytes: &'a [u8],
    span: Span,
    index: u64,
    offset: u64,
) -> Result<Option<Cow<'a, str>>, ReadError> {
    if !span.string {
        return Ok(None);
    }
    let quoted = &bytes[span.from..span.to];
    if span.escaped {
        return match serde_json::from_slice::<String>(quoted) {
            Ok(s) => Ok(Some(Cow::Owned(s))),
            Err(e) => Err(malformed_entry(index, offset, &first_line(&e.to_string()))),
        };
    }
    match std::str::from_utf8(&quoted[1..quoted.len() - 1]) {
        Ok(s) => Ok(Some(Cow::Borrowed(s))),
        Err(_) => Err(malformed_entry(
            index,
            offset,
            "a string is not valid UTF-8",
        )),
    }
}

pub(super) fn build_entry<'a>(
    bytes: &'a [u8],
    f: &Fields,
    index: u64,
    offset: u64,
    repeats: Option<u64>,
) -> Result<Item<'a>, ReadError> {
    let invalid = |message: &str| {
        Ok(Item::Invalid {
            index,
            offset,
            message: message.into(),
        })
    };
    if f.duplicate {
        return invalid("a member (`text`, `time`, `objects` or `agentResourceId`) appears twice");
    }
    let text = match f.text {
        Some(span) => string_value(bytes, span, index, offset)?,
        None => None,
    };
    let Some(text) = text else {
        return invalid("no `text` string");
    };
    let time = match f.time {
        Some(span) if span.string => {
            string_value(bytes, span, index, offset)?.and_then(|t| parse_time_str(&t))
        }
        Some(span) => std::str::from_utf8(&bytes[span.from..span.to])
            .ok()
            .and_then(|n| n.parse::<f64>().ok())
            .and_then(epoch_ms),
        None => None,
    };
    let Some(time) = time else {
        return invalid("no `time` (an ISO-8601 string or epoch milliseconds)");
    };
    let objects = f
        .objects
        .map(|span| &bytes[span.from..span.to])
        .filter(|raw| *raw != b"null");
    let agent = match f.agent {
        Some(span) => string_value(bytes, span, index, offset)?,
        None => None,
    };
    Ok(Item::Entry(Entry {
        index,
        time,
        text,
        objects,
        agent,
        repeats,
    }))
}

fn parse_time_str(s: &str) -> Option<Millis> {
    parse_iso8601(s).or_else(|| s.parse::<f64>().ok().and_then(epoch_ms))
}

fn epoch_ms(n: f64) -> Option<Millis> {
    // Years 1970..=9999 only: anything else is not a plausible log time.
    (n.is_finite() && (0.0..253_402_300_800_000.0).contains(&n)).then_some(n as Millis)
}
