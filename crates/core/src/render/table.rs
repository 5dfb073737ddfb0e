//! The result document as a table for a terminal: one row per call.

use std::fmt;
use std::io::{self, Write};

use crate::document::Document;

/// A readable table of one document's calls, under `title` (the input's
/// name), with the log's span and the summary.
pub fn write(w: &mut impl Write, title: impl fmt::Display, doc: &Document) -> io::Result<()> {
    writeln!(w, "{title}")?;
    if let Some(err) = &doc.error {
        return writeln!(w, "  rejected ({}): {}\n", err.kind.as_str(), err.message);
    }
    if let Some(log) = &doc.log {
        writeln!(
            w,
            "  {} entries, {} to {}{}",
            log.entries,
            log.first_time.as_deref().unwrap_or("?"),
            log.last_time.as_deref().unwrap_or("?"),
            if log.warnings > 0 {
                format!(", {} skipped", log.warnings)
            } else {
                String::new()
            }
        )?;
    }
    if doc.calls.is_empty() {
        writeln!(w, "  no calls")?;
    } else {
        writeln!(
            w,
            "  {:<38} {:<14} {:<7} {:<28} {:>8}  ENDED",
            "CONTACT", "DISCONNECTED_BY", "CONF", "REASON", "TALK_S"
        )?;
        for c in &doc.calls {
            writeln!(
                w,
                "  {:<38} {:<14} {:<7} {:<28} {:>8}  {}",
                printable(&c.contact_id),
                c.disconnected_by.as_str(),
                c.confidence.as_str(),
                c.reason.as_str(),
                c.talk_ms
                    .map(|ms| format!("{:.1}", ms as f64 / 1000.0))
                    .unwrap_or_default(),
                c.ended_at.map(|t| t.to_string()).unwrap_or_default()
            )?;
        }
    }
    let s = &doc.summary;
    writeln!(
        w,
        "  {} calls: {} agent, {} customer, {} network, {} not connected, {} unknown\n",
        s.calls, s.agent, s.customer, s.network, s.not_connected, s.unknown
    )
}

/// Text from a log, safe for a terminal: control characters (escape
/// sequences, carriage returns) are shown escaped, not sent.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
