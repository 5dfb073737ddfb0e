//! The result document as one self-contained HTML page, for people.
//!
//! [`render`] is pure: a [`Document`] in, the page's bytes out; no clock, no
//! random ids, so the same document always gives the same bytes. The page
//! fetches nothing (inline CSS and SVG, no script) and carries a
//! Content-Security-Policy that forbids everything else ([`CSP`]), so it can
//! be opened from disk or from a presigned URL and printed.
//!
//! Everything that came from the log (contact ids, evidence text, state
//! names, warning messages, file names) is uploader-controlled. It is only
//! ever written through `push_text` (text nodes) or `push_attr` (quoted
//! attribute values), never into a URL, a style, or an SVG geometry
//! attribute: links and ids are built from numbers the renderer counts
//! itself. Control and bidi characters are shown visibly escaped
//! (`\u{202e}`), so a log line cannot reorder or hide what is around it.
//!
//! Size is bounded: at most [`DETAILED_CALLS`] calls get a full section
//! (every call still gets a row in the overview table), each section stays
//! under [`CALL_BUDGET_BYTES`], and every log text is cut at
//! [`TEXT_CAP_BYTES`] of output with a note saying how much was left out.

use std::fmt::Write as _;

use crate::document::{
    Call, Confidence, DisconnectedBy, Document, LogInfo, Quality, Rejection, Source, TimelineItem,
};
use crate::time::Millis;
use crate::{Reason, RejectKind};

/// The page's Content-Security-Policy. No script at all; the one `<style>`
/// element is allowed by its hash (so no `style` attribute and no injected
/// `<style>` could apply); nothing may be loaded, framed or submitted.
/// The tests check the hash against the stylesheet.
pub const CSP: &str =
    "default-src 'none'; style-src 'sha256-CSS_HASH'; base-uri 'none'; form-action 'none'";

/// Calls that get a full section; past it, calls are listed in the overview
/// table only (the JSON document has everything).
pub const DETAILED_CALLS: usize = 200;

/// A call's section never exceeds this many bytes, whatever the log held:
/// the caps below keep it there (a test renders a worst case).
pub const CALL_BUDGET_BYTES: usize = 160 * 1024;

/// Output bytes per piece of log text before it is cut with a note.
pub const TEXT_CAP_BYTES: usize = 1024;

/// Evidence entries, timeline items and softphone errors shown per call,
/// the same caps as the JSON's (64 timeline items, 16 errors); evidence,
/// uncapped in the JSON but a handful in practice, is cut at 32.
const EVIDENCE_CAP: usize = 32;
const TIMELINE_CAP: usize = 64;
const ERRORS_CAP: usize = 16;
const WARNINGS_CAP: usize = 10;
const OTHER_CONTACTS_CAP: usize = 1000;
/// Contact ids and other short identifiers are cut shorter than free text.
const ID_CAP_BYTES: usize = 256;
/// State names come from a short known list; a longer one is cut sooner
/// (it is drawn twice per change: picture and table).
const STATE_CAP_BYTES: usize = 64;
/// What the core keeps of a cited entry's text (its `TEXT_CAP`).
const CORE_TEXT_CAP_BYTES: usize = 400;
/// Evidence notes say what a snapshot or request showed, in a line.
const NOTE_CAP_BYTES: usize = 512;

/// The one plain-words sentence per [`Reason`], worded as the README's
/// "Reasons" table (`tests` checks the README carries each one verbatim).
/// Backquoted words are shown as code.
pub fn reason_sentence(reason: Reason) -> &'static str {
    use Reason::*;
    // An exhaustive match: a new reason without a sentence does not compile.
    match reason {
        AgentHangup => {
            "the CCP's own `bye` (`TalkingState => PendingRemoteHangupState`) not overturned, or no softphone verdict and the agent's leg went first"
        }
        AgentHangupApi => "the agent's `destroyConnection` on its own leg or on the customer's",
        AgentLeftConference => {
            "the agent's leg ended (End call or a transfer request) while another party stayed connected"
        }
        AgentHungUpState => "the agent state `AgentHungUp` (deskphone)",
        RemoteHangup => "`TalkingState => PendingLocalHangupState`: the server sent `bye`",
        RemoteHangupSnapshotRace => {
            "`PendingRemoteHangupState`, but the customer's leg went first: the CCP's teardown after the far end left"
        }
        RemoteHangupSnapshot => {
            "no softphone verdict (including a `PendingRemoteHangupState` with no request in a log that records them); the customer's leg went first, or a softphone call ended with no agent request in a log that records them"
        }
        SignalingLost => "signaling websocket lost while talking, not recovered, no audio after it",
        MediaLost => "ICE/media lost while talking and not recovered before the end",
        FailedWhileTalking => "a softphone state machine failed while talking",
        Missed => "contact missed (`missed` state, `contact::missed`, `MissedCallAgent`)",
        Rejected => "contact rejected, or a `rejectContact` request",
        SetupFailed => {
            "the softphone session failed before talking (ICE collection timeout, handshake failure, user busy, …)"
        }
        CallNotFound => "404 `CallNotFound`: the caller was gone before media connected",
        OutboundNotAnswered => {
            "outbound call or queued callback whose customer leg never connected (`MissedCallCustomer` and the other customer-side agent states)"
        }
        ContactError => "the contact went to `error` before it connected",
        LogEndsMidCall => "still talking when the log ends",
        NoEndEvidence => "the end is not in the log, or nothing in it decides",
        PersistentAmbiguous => {
            "persistent connection `TalkingState => IdleState` with nothing to corroborate either side"
        }
    }
}

/// The verdict as a person reads it on the badge.
pub fn verdict_label(v: DisconnectedBy) -> &'static str {
    match v {
        DisconnectedBy::Agent => "Agent hung up",
        DisconnectedBy::Customer => "Customer hung up",
        DisconnectedBy::Network => "Network dropped",
        DisconnectedBy::NotConnected => "Not connected",
        DisconnectedBy::Unknown => "Unknown",
    }
}

/// What a rejection kind means, in plain words.
fn reject_sentence(kind: RejectKind) -> &'static str {
    match kind {
        RejectKind::Empty => "The file is empty.",
        RejectKind::NotJson => {
            "The file is not JSON at all (binary data, plain text or a picture), so it is not a CCP agent log."
        }
        RejectKind::NotCcpLog => {
            "The file is JSON, but not a CCP agent log: no entry has the `text` and `time` a CCP log entry has."
        }
        RejectKind::MalformedJson => "The file breaks off or is malformed JSON.",
        RejectKind::BadGzip => {
            "The file is gzip-compressed, but the compressed data is corrupt or cut short."
        }
        RejectKind::TooLarge => {
            "The file is larger than the limits this tool reads (see the message below)."
        }
    }
}

/// The stylesheet, the page's only one. Colours of the verdicts pass WCAG AA
/// (4.5:1) with white text; each badge also says its verdict in words, so
/// colour is never the only cue.
const CSS: &str = r#"
:root{--agent:#1d4ed8;--customer:#047857;--network:#b91c1c;--not_connected:#6d28d9;--unknown:#4b5563;--ink:#1f2937;--muted:#5b6472;--line:#d1d5db}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0 auto;max-width:1100px;padding:1.2rem 1.5rem 3rem;background:#fff}
h1{font-size:1.5rem;margin:.2rem 0 .6rem}
h2{font-size:1.2rem;margin:0 0 .4rem;display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
h3{font-size:1rem;margin:1rem 0 .3rem}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em;overflow-wrap:anywhere}
.muted{color:var(--muted)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.4rem 0 1rem}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;overflow-wrap:anywhere}
.badge{display:inline-block;padding:.12rem .6rem;border-radius:.3rem;color:#fff;font-weight:600;white-space:nowrap}
.v-agent{background:var(--agent)}.v-customer{background:var(--customer)}.v-network{background:var(--network)}.v-not_connected{background:var(--not_connected)}.v-unknown{background:var(--unknown)}
.f-agent{fill:var(--agent)}.f-customer{fill:var(--customer)}.f-network{fill:var(--network)}.f-not_connected{fill:var(--not_connected)}.f-unknown{fill:var(--unknown)}
.conf{border:1px solid var(--line);border-radius:.3rem;padding:.05rem .45rem;font-size:.85em}
.summary svg{width:100%;height:28px;display:block}
.legend{display:flex;flex-wrap:wrap;gap:.4rem 1rem;margin:.3rem 0 1rem;padding:0;list-style:none}
.legend li::before{content:"";display:inline-block;width:.8em;height:.8em;margin-right:.35em;vertical-align:-.05em;border-radius:.15em}
.legend .l-agent::before{background:var(--agent)}.legend .l-customer::before{background:var(--customer)}.legend .l-network::before{background:var(--network)}.legend .l-not_connected::before{background:var(--not_connected)}.legend .l-unknown::before{background:var(--unknown)}
table{border-collapse:collapse;width:100%;margin:.3rem 0 .8rem;font-size:.92em}
th,td{text-align:left;padding:.2rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.mono{white-space:nowrap}
section.call{border:1px solid var(--line);border-left:6px solid var(--unknown);border-radius:.4rem;padding:.8rem 1rem;margin:1.2rem 0}
section.call.v-agent,section.call.v-customer,section.call.v-network,section.call.v-not_connected,section.call.v-unknown{background:#fff}
section.call.v-agent{border-left-color:var(--agent)}section.call.v-customer{border-left-color:var(--customer)}section.call.v-network{border-left-color:var(--network)}section.call.v-not_connected{border-left-color:var(--not_connected)}
p.reason{font-size:1.05em;margin:.3rem 0 .5rem}
svg.timeline{width:100%;height:auto;display:block;margin:.2rem 0 .4rem}
svg.timeline text{font:11px system-ui,sans-serif;fill:var(--ink)}
svg.timeline .lane-label{font-weight:600;fill:var(--muted)}
svg.timeline .tick{stroke:#e5e7eb}
svg.timeline .tick-label{fill:var(--muted);font-size:10px}
svg.timeline .lane{fill:#f9fafb;stroke:#eef0f3}
svg.timeline .s-talk{fill:#bbf7d0;stroke:#15803d}
svg.timeline .s-pending{fill:#fef3c7;stroke:#b45309}
svg.timeline .s-end{fill:#e5e7eb;stroke:#6b7280}
svg.timeline .s-fail{fill:#fecaca;stroke:#b91c1c}
svg.timeline .s-other{fill:#dbeafe;stroke:#1d4ed8}
svg.timeline .cited{stroke:#111827;stroke-width:3}
svg.timeline .end-mark line{stroke:#b91c1c;stroke-width:2;stroke-dasharray:5 3}
svg.timeline .end-mark text{fill:#b91c1c;font-weight:700}
svg.timeline .ev circle{fill:#111827}
svg.timeline .leader{stroke:#111827;stroke-width:1}
svg.timeline .ev text{fill:#fff;font-size:10px;font-weight:700;text-anchor:middle}
svg.timeline .api path{fill:var(--agent)}
svg.timeline .err path{fill:var(--network)}
ol.evidence{padding-left:0;list-style:none;margin:.3rem 0}
ol.evidence li{display:grid;grid-template-columns:2.2rem 5.5rem 8rem 1fr;gap:.5rem;padding:.25rem 0;border-bottom:1px solid var(--line)}
ol.evidence li:target{background:#fef9c3}
.evn{align-self:start;display:inline-block;min-width:1.6rem;text-align:center;background:#111827;color:#fff;border-radius:1rem;font-weight:700;font-size:.85em}
.esc{color:#b91c1c;background:#fee2e2;border-radius:.15rem;padding:0 .1rem}
.cut{color:var(--muted);font-style:italic}
.note{color:var(--muted);font-size:.92em}
.rejected{border:2px solid var(--network);border-radius:.4rem;padding:1rem 1.2rem;background:#fef2f2}
.warn{background:#fffbeb;border:1px solid #f59e0b;border-radius:.3rem;padding:.4rem .7rem}
details summary{cursor:pointer;color:var(--muted)}
footer{margin-top:2rem;color:var(--muted);font-size:.85em}
@media print{body{font-size:10pt;max-width:none;padding:0}section.call{break-inside:avoid-page;border-left-width:4pt}a{color:inherit;text-decoration:none}.badge,.legend li::before,.evn,.esc{print-color-adjust:exact;-webkit-print-color-adjust:exact}svg{print-color-adjust:exact;-webkit-print-color-adjust:exact}}
"#;

/// Renders `doc` as one self-contained HTML page.
pub fn render(doc: &Document) -> String {
    let mut out = String::with_capacity(16 * 1024 + doc.calls.len().min(DETAILED_CALLS) * 8 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"");
    out.push_str(&csp());
    out.push_str("\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"referrer\" content=\"no-referrer\">\n<title>");
    out.push_str("Who hung up? ");
    push_attr(&mut out, &source_name(&doc.source), ID_CAP_BYTES);
    out.push_str("</title>\n<style>");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n<header>\n<h1>Who hung up? <span class=\"mono\">");
    push_text_capped(&mut out, &source_name(&doc.source), ID_CAP_BYTES);
    out.push_str("</span></h1>\n");
    match (&doc.error, &doc.log) {
        (Some(err), _) => {
            source_facts(&mut out, &doc.source, None);
            out.push_str("</header>\n");
            rejected(&mut out, err);
        }
        (None, log) => {
            source_facts(&mut out, &doc.source, log.as_ref());
            if let Some(log) = log {
                warnings(&mut out, log);
            }
            out.push_str("</header>\n");
            summary(&mut out, doc);
            overview(&mut out, doc);
            for (n, call) in doc.calls.iter().take(DETAILED_CALLS).enumerate() {
                call_section(&mut out, n + 1, call, doc.log.as_ref());
            }
            other_contacts(&mut out, doc);
        }
    }
    let _ = write!(
        out,
        "<footer>Written by {} {} from the result document (schema version {}). Times are UTC.</footer>\n</body>\n</html>\n",
        doc.generator.name, doc.generator.version, doc.schema_version
    );
    out
}

/// The CSP with the stylesheet's hash filled in.
fn csp() -> String {
    CSP.replace("CSS_HASH", &sha256_base64(CSS.as_bytes()))
}

fn source_name(source: &Source) -> String {
    match (&source.file, &source.bucket, &source.key) {
        (Some(file), _, _) => file.clone(),
        (None, Some(bucket), Some(key)) => format!("s3://{bucket}/{key}"),
        (None, None, Some(key)) => key.clone(),
        _ => "(unnamed input)".to_string(),
    }
}

fn source_facts(out: &mut String, source: &Source, log: Option<&LogInfo>) {
    out.push_str("<dl class=\"facts\">\n");
    fact(out, "Source", |o| {
        o.push_str("<span class=\"mono\">");
        push_text_capped(o, &source_name(source), ID_CAP_BYTES * 4);
        o.push_str("</span>");
        if let Some(v) = &source.version_id {
            o.push_str(" <span class=\"muted\">version</span> <span class=\"mono\">");
            push_text_capped(o, v, ID_CAP_BYTES);
            o.push_str("</span>");
        }
    });
    if let Some(size) = source.size {
        fact(out, "Size", |o| o.push_str(&bytes_words(size)));
    }
    let Some(log) = log else {
        out.push_str("</dl>\n");
        return;
    };
    fact(out, "Read", |o| {
        let format = match log.format {
            crate::Format::JsonArray => "JSON array",
            crate::Format::LegacyObject => "legacy _logs object",
            crate::Format::Ndjson => "NDJSON",
        };
        let _ = write!(
            o,
            "{} entries, {}{}, {}",
            thousands(log.entries),
            format,
            if log.gzip { " (gzip)" } else { "" },
            bytes_words(log.bytes)
        );
    });
    fact(out, "Window", |o| match (&log.first_time, &log.last_time) {
        (Some(first), Some(last)) => {
            push_text_capped(o, first, ID_CAP_BYTES);
            o.push_str(" → ");
            push_text_capped(o, last, ID_CAP_BYTES);
            let span = crate::time::parse_iso8601(first)
                .zip(crate::time::parse_iso8601(last))
                .map(|(a, b)| b - a);
            if let Some(span) = span.filter(|s| *s >= 0) {
                let _ = write!(o, " <span class=\"muted\">({})</span>", duration(span));
            }
        }
        _ => o.push_str("<span class=\"muted\">no entry times</span>"),
    });
    fact(out, "Agent", |o| match &log.agent_resource_id {
        Some(id) => {
            o.push_str("<span class=\"mono\">");
            push_text_capped(o, id, ID_CAP_BYTES);
            o.push_str("</span>");
        }
        None => o.push_str("<span class=\"muted\">not in the log (Streams before 1.6.4)</span>"),
    });
    fact(out, "Contents", |o| {
        let _ = write!(
            o,
            "{}, {}, API request lines {}{}",
            count(log.snapshots, "agent snapshot"),
            count(log.log_rolls, "log roll"),
            if log.api_lines {
                "present"
            } else {
                "absent (an agent's End call leaves no direct trace)"
            },
            if log.persistent_connection {
                ", persistent softphone connection"
            } else {
                ""
            }
        );
    });
    fact(out, "Warnings", |o| {
        if log.warnings == 0 {
            o.push_str("none");
        } else {
            let _ = write!(o, "{} entries skipped (see below)", thousands(log.warnings));
        }
    });
    out.push_str("</dl>\n");
}

fn fact(out: &mut String, name: &str, value: impl FnOnce(&mut String)) {
    let _ = write!(out, "<dt>{name}</dt><dd>");
    value(out);
    out.push_str("</dd>\n");
}

fn warnings(out: &mut String, log: &LogInfo) {
    if log.warning_samples.is_empty() {
        return;
    }
    out.push_str("<div class=\"warn\"><strong>Skipped entries</strong> (a field had the wrong type or was missing; the rest of the log was read):<ul>\n");
    for w in log.warning_samples.iter().take(WARNINGS_CAP) {
        let _ = write!(out, "<li>entry {}", w.entry);
        if let Some(off) = w.offset {
            let _ = write!(out, " (byte {off})");
        }
        out.push_str(": ");
        push_text(out, &w.message);
        out.push_str("</li>\n");
    }
    if log.warnings > log.warning_samples.len().min(WARNINGS_CAP) as u64 {
        let _ = writeln!(
            out,
            "<li class=\"note\">… and {} more</li>",
            log.warnings - log.warning_samples.len().min(WARNINGS_CAP) as u64
        );
    }
    out.push_str("</ul></div>\n");
}

fn rejected(out: &mut String, err: &Rejection) {
    out.push_str("<section class=\"rejected\" id=\"rejected\">\n<h2>This file could not be read as a CCP agent log</h2>\n<p>");
    push_sentence(out, reject_sentence(err.kind));
    out.push_str("</p>\n<dl class=\"facts\">\n");
    let _ = writeln!(
        out,
        "<dt>Kind</dt><dd><code>{}</code></dd>",
        err.kind.as_str()
    );
    out.push_str("<dt>Message</dt><dd>");
    push_text(out, &err.message);
    out.push_str("</dd>\n");
    if let Some(off) = err.offset {
        let _ = writeln!(out, "<dt>At byte</dt><dd>{}</dd>", thousands(off));
    }
    if let Some(entry) = err.entry {
        let _ = writeln!(out, "<dt>In entry</dt><dd>{entry} (0-based)</dd>");
    }
    out.push_str("</dl>\n<p>No calls were classified. A CCP agent log is the <code>agent-log.txt</code> the Contact Control Panel writes with <em>Download logs</em>.</p>\n</section>\n");
}

fn summary(out: &mut String, doc: &Document) {
    let s = &doc.summary;
    let counts = [
        (DisconnectedBy::Agent, s.agent),
        (DisconnectedBy::Customer, s.customer),
        (DisconnectedBy::Network, s.network),
        (DisconnectedBy::NotConnected, s.not_connected),
        (DisconnectedBy::Unknown, s.unknown),
    ];
    let _ = write!(
        out,
        "<section class=\"summary\" id=\"summary\">\n<h2>{} call{}</h2>\n",
        thousands(s.calls),
        if s.calls == 1 { "" } else { "s" }
    );
    if s.calls > 0 {
        // One bar, a segment per verdict in proportion; the legend below
        // carries the same numbers as text.
        out.push_str("<svg viewBox=\"0 0 1000 28\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"verdicts\">");
        let mut x = 0.0f64;
        for (v, n) in counts {
            if n == 0 {
                continue;
            }
            let w = n as f64 / s.calls as f64 * 1000.0;
            let _ = write!(
                out,
                "<rect class=\"f-{}\" x=\"{:.1}\" y=\"0\" width=\"{:.1}\" height=\"28\"><title>{}: {}</title></rect>",
                v.as_str(),
                x,
                w,
                verdict_label(v),
                n
            );
            x += w;
        }
        out.push_str("</svg>\n");
    }
    out.push_str("<ul class=\"legend\">");
    for (v, n) in counts {
        let _ = write!(
            out,
            "<li class=\"l-{}\">{}: <strong>{}</strong></li>",
            v.as_str(),
            verdict_label(v),
            thousands(n)
        );
    }
    out.push_str("</ul>\n");
    if doc.calls.is_empty() {
        out.push_str("<p>No voice calls in this log.</p>\n");
    }
    out.push_str("</section>\n");
}

fn overview(out: &mut String, doc: &Document) {
    if doc.calls.is_empty() {
        return;
    }
    out.push_str("<section id=\"calls\">\n<table class=\"overview\">\n<thead><tr><th class=\"num\">#</th><th>Contact</th><th>Who disconnected</th><th>Reason</th><th>Confidence</th><th class=\"num\">Talk</th><th>Ended (UTC)</th></tr></thead>\n<tbody>\n");
    for (n, c) in doc.calls.iter().enumerate() {
        let n = n + 1;
        let _ = write!(out, "<tr><td class=\"num\">{n}</td><td class=\"mono\">");
        if n <= DETAILED_CALLS {
            let _ = write!(out, "<a href=\"#call-{n}\">");
            push_text_capped(out, &c.contact_id, ID_CAP_BYTES);
            out.push_str("</a>");
        } else {
            push_text_capped(out, &c.contact_id, ID_CAP_BYTES);
        }
        let _ = writeln!(
            out,
            "</td><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"mono\">{}</td></tr>",
            badge(c.disconnected_by),
            c.reason.as_str(),
            c.confidence.as_str(),
            c.talk_ms
                .map(|ms| duration(ms as Millis))
                .unwrap_or_default(),
            c.ended_at.map(|t| clock(t.0)).unwrap_or_default()
        );
    }
    out.push_str("</tbody>\n</table>\n");
    if doc.calls.len() > DETAILED_CALLS {
        let _ = writeln!(
            out,
            "<p class=\"note\">Calls past the {DETAILED_CALLS}th are listed above only; the result document (JSON) has their evidence and timelines.</p>"
        );
    }
    out.push_str("</section>\n");
}

fn badge(v: DisconnectedBy) -> String {
    format!(
        "<span class=\"badge v-{}\">{}</span>",
        v.as_str(),
        verdict_label(v)
    )
}

fn confidence_words(c: Confidence) -> &'static str {
    match c {
        Confidence::High => "high confidence: two independent kinds of evidence agree",
        Confidence::Medium => "medium confidence: one kind of evidence",
        Confidence::Low => "low confidence: indirect or conflicting evidence",
    }
}

fn call_section(out: &mut String, n: usize, c: &Call, log: Option<&LogInfo>) {
    let _ = write!(
        out,
        "<section class=\"call v-{}\" id=\"call-{n}\" data-contact-id=\"",
        c.disconnected_by.as_str()
    );
    push_attr(out, &c.contact_id, ID_CAP_BYTES);
    let _ = write!(
        out,
        "\">\n<h2><span class=\"muted\">Call {n}</span> {} <span class=\"conf\">{} confidence</span></h2>\n",
        badge(c.disconnected_by),
        c.confidence.as_str()
    );
    out.push_str("<p class=\"reason\"><code>");
    out.push_str(c.reason.as_str());
    out.push_str("</code>: ");
    push_sentence(out, reason_sentence(c.reason));
    out.push_str(".</p>\n<dl class=\"facts\">\n");
    fact(out, "Contact", |o| {
        o.push_str("<span class=\"mono\">");
        push_text_capped(o, &c.contact_id, ID_CAP_BYTES);
        o.push_str("</span>");
        let kind: Vec<&str> = [c.contact_type.as_deref(), c.initiation_method.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !kind.is_empty() {
            o.push_str(" <span class=\"muted\">");
            push_text_capped(o, &kind.join(", "), ID_CAP_BYTES);
            o.push_str("</span>");
        }
    });
    fact(out, "Confidence", |o| {
        o.push_str(confidence_words(c.confidence))
    });
    let log_end = log
        .and_then(|l| l.last_time.as_deref())
        .and_then(crate::time::parse_iso8601);
    fact(out, "Talk time", |o| {
        match (c.talk_ms, c.connected_at, c.ended_at) {
            (Some(ms), _, _) => o.push_str(&duration(ms as Millis)),
            // Connected and never ended in the log: at least until the log ends.
            (None, Some(from), None) => match log_end.filter(|end| *end >= from.0) {
                Some(end) => {
                    let _ = write!(
                        o,
                        "at least {} <span class=\"muted\">(still connected when the log ends)</span>",
                        duration(end - from.0)
                    );
                }
                None => {
                    o.push_str("<span class=\"muted\">unknown (the end is not in the log)</span>")
                }
            },
            _ => o.push_str("<span class=\"muted\">no conversation seen</span>"),
        }
    });
    fact(out, "Times (UTC)", |o| {
        let _ = write!(o, "first seen {}", clock(c.first_seen.0));
        if let Some(t) = c.connected_at {
            let _ = write!(o, ", connected {}", clock(t.0));
        }
        match c.ended_at {
            Some(t) => {
                let _ = write!(o, ", ended {}", clock(t.0));
            }
            None => o.push_str(", end not in the log"),
        }
    });
    let mut flags = Vec::new();
    flags.push(if c.softphone {
        "softphone"
    } else {
        "deskphone or no softphone lines"
    });
    if c.persistent_connection {
        flags.push("persistent connection");
    }
    if c.started_before_log {
        flags.push("already under way when the log starts");
    }
    fact(out, "Phone", |o| o.push_str(&flags.join(", ")));
    out.push_str("</dl>\n");
    timeline(out, n, c, log);
    evidence(out, n, c);
    quality(out, c.quality.as_ref());
    softphone_errors(out, c);
    out.push_str("</section>\n");
}

/// A lane of the timeline: a state machine, or marks of one kind.
struct Lane {
    label: &'static str,
    machine: Option<&'static str>,
}

const MACHINE_LANES: [(&str, &str); 6] = [
    ("signaling", "Signaling"),
    ("session", "Softphone session"),
    ("call_session", "Call session"),
    ("contact", "Contact"),
    ("agent_connection", "Agent leg"),
    ("customer_connection", "Customer leg"),
];

const LABEL_W: f64 = 130.0;
const PLOT_W: f64 = 820.0;
const SVG_W: f64 = LABEL_W + PLOT_W + 20.0;
const LANE_H: f64 = 26.0;
const AXIS_H: f64 = 22.0;

/// A mark on the marks lanes: cited evidence, an agent API request, a
/// softphone error.
struct Mark {
    time: Millis,
    index: u64,
}

fn is_api_request(text: &str) -> bool {
    text.contains("API_REQUEST")
}

fn timeline(out: &mut String, n: usize, c: &Call, log: Option<&LogInfo>) {
    let items: Vec<&TimelineItem> = c.timeline.iter().take(TIMELINE_CAP).collect();
    let evidence: Vec<Mark> = c
        .evidence
        .iter()
        .take(EVIDENCE_CAP)
        .map(|e| Mark {
            time: e.time.0,
            index: e.index,
        })
        .collect();
    let api: Vec<Mark> = c
        .evidence
        .iter()
        .take(EVIDENCE_CAP)
        .filter(|e| is_api_request(&e.text))
        .map(|e| Mark {
            time: e.time.0,
            index: e.index,
        })
        .collect();
    let errors: Vec<Mark> = c
        .softphone_errors
        .iter()
        .take(ERRORS_CAP)
        .map(|e| Mark {
            time: e.time.0,
            index: e.index,
        })
        .collect();

    // The end mark: the deciding end, else the last thing known of the call
    // (the log's end when the call was still going).
    let last_log = log
        .and_then(|l| l.last_time.as_deref())
        .and_then(crate::time::parse_iso8601);
    let latest_seen = items
        .iter()
        .map(|i| i.time.0)
        .chain(evidence.iter().map(|m| m.time))
        .chain(errors.iter().map(|m| m.time))
        .chain([c.first_seen.0])
        .max()
        .unwrap_or(c.first_seen.0);
    let (end, end_label) = match c.ended_at {
        Some(t) => (t.0, "end"),
        None => match last_log {
            Some(t) if t >= latest_seen => (t, "log ends"),
            _ => (latest_seen, "last seen"),
        },
    };
    let start = items
        .iter()
        .map(|i| i.time.0)
        .chain(evidence.iter().map(|m| m.time))
        .chain(errors.iter().map(|m| m.time))
        .chain([c.first_seen.0, end])
        .min()
        .unwrap_or(end);
    let stop = latest_seen.max(end);

    let mut lanes: Vec<Lane> = MACHINE_LANES
        .iter()
        .filter(|(m, _)| items.iter().any(|i| i.machine == *m))
        .map(|(m, label)| Lane {
            label,
            machine: Some(m),
        })
        .collect();
    // Machines this renderer does not know still get a lane.
    let mut extra: Vec<&'static str> = items
        .iter()
        .map(|i| i.machine)
        .filter(|m| !MACHINE_LANES.iter().any(|(k, _)| k == m))
        .collect();
    extra.sort_unstable();
    extra.dedup();
    lanes.extend(extra.into_iter().map(|m| Lane {
        label: "Other",
        machine: Some(m),
    }));

    let cited: Vec<u64> = evidence.iter().map(|m| m.index).collect();
    let _ = writeln!(out, "<h3 id=\"call-{n}-timeline\">Timeline</h3>");
    let ctx = Panel {
        n,
        lanes: &lanes,
        items: &items,
        evidence: &evidence,
        api: &api,
        errors: &errors,
        cited: &cited,
        end,
        end_label,
        // An ended call's last states are final: they run to the edge.
        known_until: if c.ended_at.is_some() {
            Millis::MAX
        } else {
            stop
        },
        ids: true,
    };
    ctx.svg(out, start, stop, "whole call");
    // The end of a call happens within a second or two; on a call of
    // minutes it is a sliver of the axis, so it gets a close-up of its own.
    if c.ended_at.is_some() && stop - start > 20_000 {
        let from = (end - 3_000).max(start);
        // Up to 5 s past the end for what followed it (teardown, the last
        // snapshot); a later straggler does not stretch the close-up.
        let to = (end + 1_500).max((stop + 700).min(end + 5_000));
        let closeup = Panel { ids: false, ..ctx };
        let _ = writeln!(
            out,
            "<p class=\"note\">Close-up of the end ({} to {}):</p>",
            clock(from),
            clock(to)
        );
        closeup.svg(out, from, to, "close-up of the end");
    }
    if c.timeline_truncated || c.timeline.len() > TIMELINE_CAP {
        out.push_str("<p class=\"note\">The timeline was cut: the call had more state changes than are kept (64).</p>\n");
    }
    // The exact values, for reading and copying; the picture above says the same.
    let _ = write!(
        out,
        "<details><summary>Timeline as a table ({} state changes)</summary>\n<table><thead><tr><th class=\"num\">Entry</th><th>Time (UTC)</th><th>Lane</th><th>Change</th></tr></thead><tbody>\n",
        items.len()
    );
    for i in &items {
        let _ = write!(
            out,
            "<tr><td class=\"num\">{}</td><td class=\"mono\">{}</td><td>",
            i.index,
            clock(i.time.0)
        );
        push_text_capped(out, lane_label(i.machine), ID_CAP_BYTES);
        out.push_str("</td><td class=\"mono\">");
        if let Some(from) = i.from() {
            push_text_capped(out, from, STATE_CAP_BYTES);
            out.push_str(" → ");
        }
        push_text_capped(out, i.to(), STATE_CAP_BYTES);
        if cited.contains(&i.index) {
            out.push_str(" <strong>(evidence)</strong>");
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody></table></details>\n");
}

fn lane_label(machine: &str) -> &str {
    MACHINE_LANES
        .iter()
        .find(|(m, _)| *m == machine)
        .map(|(_, l)| *l)
        .unwrap_or(machine)
}

#[derive(Clone, Copy)]
struct Panel<'a> {
    n: usize,
    lanes: &'a [Lane],
    items: &'a [&'a TimelineItem],
    evidence: &'a [Mark],
    api: &'a [Mark],
    errors: &'a [Mark],
    cited: &'a [u64],
    end: Millis,
    end_label: &'static str,
    /// Where a call's last states stop: the last instant anything is known
    /// of it, or never for an ended call.
    known_until: Millis,
    /// Only the first panel carries the anchors the evidence list links to.
    ids: bool,
}

fn state_class(state: &str) -> &'static str {
    let s = state.to_ascii_lowercase();
    if s.contains("fail") || s.contains("error") {
        "s-fail"
    } else if s.contains("disconnect")
        || s.contains("ended")
        || s.contains("hangup")
        || s.contains("missed")
        || s.contains("reject")
        || s.contains("idle")
        || s.contains("destroy")
    {
        "s-end"
    } else if s.contains("talking") || s.contains("connected") || s == "oncall" {
        "s-talk"
    } else if s.contains("pending")
        || s.contains("connecting")
        || s.contains("accept")
        || s.contains("invite")
        || s.contains("answer")
        || s.contains("incoming")
        || s.contains("init")
    {
        "s-pending"
    } else {
        "s-other"
    }
}

impl Panel<'_> {
    fn svg(&self, out: &mut String, from: Millis, to: Millis, what: &str) {
        let to = to.max(from + 1);
        let x = |t: Millis| -> f64 {
            LABEL_W + (t.clamp(from, to) - from) as f64 / (to - from) as f64 * PLOT_W
        };
        let mark_lanes =
            1 + usize::from(!self.api.is_empty()) + usize::from(!self.errors.is_empty());
        let rows = self.lanes.len() + mark_lanes;
        let height = AXIS_H + rows as f64 * LANE_H + 6.0;
        let _ = writeln!(
            out,
            "<svg class=\"timeline\" viewBox=\"0 0 {SVG_W} {height}\" role=\"img\" aria-label=\"Timeline of call {}, {what}\">",
            self.n
        );
        // Axis: clock-time ticks at a round step.
        let step = tick_step(to - from);
        let first_tick =
            from.div_euclid(step) * step + if from.rem_euclid(step) == 0 { 0 } else { step };
        // The end's label sits in the axis row, clear of the state names;
        // a tick label it would cover is left out.
        let ex = x(self.end);
        let end_right = ex > LABEL_W + PLOT_W - 80.0;
        let (end_from, end_to) = if end_right {
            (ex - 70.0, ex + 4.0)
        } else {
            (ex - 4.0, ex + 70.0)
        };
        let mut t = first_tick;
        while t <= to {
            let tx = x(t);
            let _ = write!(
                out,
                "<line class=\"tick\" x1=\"{tx:.1}\" y1=\"{}\" x2=\"{tx:.1}\" y2=\"{height}\"/>",
                AXIS_H - 6.0,
            );
            if tx + 32.0 < end_from || tx - 32.0 > end_to {
                let _ = write!(
                    out,
                    "<text class=\"tick-label\" x=\"{tx:.1}\" y=\"12\" text-anchor=\"middle\">{}</text>",
                    tick_label(t, step)
                );
            }
            out.push('\n');
            t += step;
        }
        let mut y = AXIS_H;
        for lane in self.lanes {
            let _ = write!(
                out,
                "<rect class=\"lane\" x=\"{LABEL_W}\" y=\"{y}\" width=\"{PLOT_W}\" height=\"{}\"/><text class=\"lane-label\" x=\"4\" y=\"{:.1}\">",
                LANE_H - 2.0,
                y + LANE_H / 2.0 + 3.0
            );
            push_attr(out, lane.label, ID_CAP_BYTES);
            out.push_str("</text>\n");
            let Some(machine) = lane.machine else {
                y += LANE_H;
                continue;
            };
            let states: Vec<&&TimelineItem> =
                self.items.iter().filter(|i| i.machine == machine).collect();
            for (k, item) in states.iter().enumerate() {
                let s = item.time.0;
                // The last state lasts until the end of what is known, not
                // to the panel's edge (a call the log cuts off stops there).
                let e = states
                    .get(k + 1)
                    .map(|next| next.time.0)
                    .unwrap_or(self.known_until.max(s))
                    .min(to);
                if e < from || s > to {
                    continue;
                }
                let (x0, x1) = (x(s), x(e));
                let w = (x1 - x0).max(2.0);
                // A nested <svg> clips the state name to its segment.
                out.push_str("<g><title>");
                push_attr(out, lane_label(machine), ID_CAP_BYTES);
                out.push_str(": ");
                if let Some(f) = item.from() {
                    push_attr(out, f, STATE_CAP_BYTES);
                    out.push_str(" → ");
                }
                push_attr(out, item.to(), STATE_CAP_BYTES);
                let _ = write!(
                    out,
                    " at {} (entry {})</title><rect class=\"{}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"2\"/>",
                    clock(s),
                    item.index,
                    state_class(item.to()),
                    y + 3.0,
                    LANE_H - 8.0
                );
                if w > 24.0 {
                    let _ = write!(
                        out,
                        "<svg x=\"{x0:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"{LANE_H}\"><text x=\"4\" y=\"{:.1}\">",
                        w - 2.0,
                        LANE_H / 2.0 + 3.0
                    );
                    push_attr(out, item.to(), STATE_CAP_BYTES);
                    out.push_str("</text></svg>");
                }
                if self.cited.contains(&item.index) && s >= from {
                    let _ = write!(
                        out,
                        "<line class=\"cited\" x1=\"{x0:.1}\" y1=\"{:.1}\" x2=\"{x0:.1}\" y2=\"{:.1}\"/>",
                        y + 1.0,
                        y + LANE_H - 3.0
                    );
                }
                out.push_str("</g>\n");
            }
            y += LANE_H;
        }
        // Agent API requests (from the evidence) and softphone errors.
        if !self.api.is_empty() {
            self.lane_head(out, y, "Agent request");
            for m in self.api.iter().filter(|m| (from..=to).contains(&m.time)) {
                let cx = x(m.time);
                let _ = writeln!(
                    out,
                    "<g class=\"api\"><title>Agent API request at {} (entry {})</title><path d=\"M{:.1} {:.1} l6 8 l-6 8 l-6 -8 z\"/></g>",
                    clock(m.time),
                    m.index,
                    cx,
                    y + 4.0
                );
            }
            y += LANE_H;
        }
        if !self.errors.is_empty() {
            self.lane_head(out, y, "Softphone error");
            for m in self.errors.iter().filter(|m| (from..=to).contains(&m.time)) {
                let cx = x(m.time);
                let _ = writeln!(
                    out,
                    "<g class=\"err\"><title>Softphone error at {} (entry {})</title><path d=\"M{:.1} {:.1} l7 14 l-14 0 z\"/></g>",
                    clock(m.time),
                    m.index,
                    cx,
                    y + 4.0
                );
            }
            y += LANE_H;
        }
        // The deciding evidence, numbered as in the list below and linked to it.
        self.lane_head(out, y, "Evidence");
        let mut seen: Vec<u64> = Vec::new();
        // Entries milliseconds apart would cover each other: marks are
        // spread 17 units apart (right, then back left from the plot's edge)
        // and a leader line keeps each one's true time.
        let mut shown: Vec<(usize, &Mark)> = self
            .evidence
            .iter()
            .enumerate()
            .filter(|(_, m)| (from..=to).contains(&m.time))
            .collect();
        // Evidence comes in log order, which is not always time order.
        shown.sort_by_key(|(k, m)| (m.time, *k));
        let mut xs: Vec<f64> = Vec::with_capacity(shown.len());
        for (_, m) in &shown {
            let at = x(m.time);
            xs.push(xs.last().map_or(at, |prev| at.max(prev + 17.0)));
        }
        let mut limit = LABEL_W + PLOT_W + 8.0;
        for cx in xs.iter_mut().rev() {
            *cx = cx.min(limit);
            limit = *cx - 17.0;
        }
        for ((k, m), cx) in shown.into_iter().zip(xs) {
            let at = x(m.time);
            if (cx - at).abs() > 0.5 {
                let _ = write!(
                    out,
                    "<line class=\"leader\" x1=\"{at:.1}\" y1=\"{:.1}\" x2=\"{cx:.1}\" y2=\"{:.1}\"/>",
                    y + 1.0,
                    y + LANE_H / 2.0
                );
            }
            let id = if self.ids && !seen.contains(&m.index) {
                seen.push(m.index);
                format!(" id=\"call-{}-mark-{}\"", self.n, m.index)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "<a class=\"ev\" href=\"#call-{}-ev-{}\"{id}><title>Evidence {} : entry {} at {}</title><circle cx=\"{cx:.1}\" cy=\"{:.1}\" r=\"8\"/><text x=\"{cx:.1}\" y=\"{:.1}\">{}</text></a>",
                self.n,
                m.index,
                k + 1,
                m.index,
                clock(m.time),
                y + LANE_H / 2.0,
                y + LANE_H / 2.0 + 3.5,
                k + 1
            );
        }
        y += LANE_H;
        // The end, across every lane.
        let id = if self.ids {
            format!(" id=\"call-{}-end\"", self.n)
        } else {
            String::new()
        };
        let (anchor, tx) = if end_right {
            ("end", ex - 4.0)
        } else {
            ("start", ex + 4.0)
        };
        let _ = writeln!(
            out,
            "<g class=\"end-mark\"{id}><title>{} at {}</title><line x1=\"{ex:.1}\" y1=\"4\" x2=\"{ex:.1}\" y2=\"{y}\"/><text x=\"{tx:.1}\" y=\"13\" text-anchor=\"{anchor}\">{}</text></g>",
            self.end_label,
            clock(self.end),
            self.end_label
        );
        out.push_str("</svg>\n");
    }

    fn lane_head(&self, out: &mut String, y: f64, label: &str) {
        let _ = writeln!(
            out,
            "<rect class=\"lane\" x=\"{LABEL_W}\" y=\"{y}\" width=\"{PLOT_W}\" height=\"{}\"/><text class=\"lane-label\" x=\"4\" y=\"{:.1}\">{label}</text>",
            LANE_H - 2.0,
            y + LANE_H / 2.0 + 3.0
        );
    }
}

/// A round tick step giving at most about eight ticks.
fn tick_step(span: Millis) -> Millis {
    const STEPS: [Millis; 16] = [
        100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000,
        600_000, 1_800_000, 3_600_000, 21_600_000,
    ];
    STEPS
        .into_iter()
        .find(|s| span / s <= 8)
        .unwrap_or(86_400_000 * (span / 86_400_000 / 8 + 1))
}

fn tick_label(t: Millis, step: Millis) -> String {
    let c = clock(t);
    if step < 1_000 {
        c[..c.len().min(10)].to_string()
    } else {
        c[..c.len().min(8)].to_string()
    }
}

fn evidence(out: &mut String, n: usize, c: &Call) {
    let _ = writeln!(out, "<h3>Evidence ({})</h3>", c.evidence.len());
    if c.evidence.is_empty() {
        out.push_str("<p class=\"muted\">No entry decided this verdict.</p>\n");
        return;
    }
    out.push_str("<ol class=\"evidence\">\n");
    let mut seen: Vec<u64> = Vec::new();
    for (k, e) in c.evidence.iter().take(EVIDENCE_CAP).enumerate() {
        let id = if seen.contains(&e.index) {
            String::new()
        } else {
            seen.push(e.index);
            format!(" id=\"call-{n}-ev-{}\"", e.index)
        };
        let _ = write!(
            out,
            "<li{id} data-index=\"{}\"><a class=\"evn\" href=\"#call-{n}-mark-{}\" title=\"Show on the timeline\">{}</a><span class=\"mono\">entry {}</span><span class=\"mono\">{}</span><span><code>",
            e.index,
            e.index,
            k + 1,
            e.index,
            clock(e.time.0)
        );
        push_text(out, &e.text);
        out.push_str("</code>");
        // The core keeps the first 400 bytes of a cited entry's text and
        // does not mark the cut; near that length, say it may be cut.
        if e.text.len() >= CORE_TEXT_CAP_BYTES - 20 {
            out.push_str(" <span class=\"cut\">(may be cut: the result document keeps the first 400 bytes of an entry's text)</span>");
        }
        if let Some(note) = &e.note {
            out.push_str("<br><span class=\"note\">");
            push_text_capped(out, note, NOTE_CAP_BYTES);
            out.push_str("</span>");
        }
        out.push_str("</span></li>\n");
    }
    out.push_str("</ol>\n");
    if c.evidence.len() > EVIDENCE_CAP {
        let _ = writeln!(
            out,
            "<p class=\"note\">{} more evidence entries are in the result document.</p>",
            c.evidence.len() - EVIDENCE_CAP
        );
    }
}

fn quality(out: &mut String, q: Option<&Quality>) {
    let Some(q) = q else {
        return;
    };
    out.push_str("<h3>Call quality</h3>\n");
    if q.samples == 0 && q.report_failures.is_empty() {
        out.push_str("<p class=\"muted\">No softphone metrics were tied to this call.</p>\n");
        return;
    }
    let ms = |v: Option<f64>| {
        v.map(|v| format!("{v:.0} ms"))
            .unwrap_or_else(|| "–".into())
    };
    if q.samples > 0 {
        let _ = write!(
            out,
            "<table class=\"quality\"><thead><tr><th></th><th class=\"num\">average</th><th class=\"num\">worst</th></tr></thead><tbody>\n<tr><td>Round-trip time</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n<tr><td>Jitter buffer</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n<tr><td>Packet loss</td><td class=\"num\" colspan=\"2\">{} ({} of {} packets)</td></tr>\n</tbody></table>\n<p class=\"note\">From {} metrics samples.</p>\n",
            ms(q.rtt_ms_avg),
            ms(q.rtt_ms_max),
            ms(q.jitter_ms_avg),
            ms(q.jitter_ms_max),
            q.packet_loss_pct
                .map(|p| format!("{p:.2} %"))
                .unwrap_or_else(|| "–".into()),
            thousands(q.packets_lost),
            thousands(q.packets),
            thousands(q.samples)
        );
    }
    if !q.report_failures.is_empty() {
        out.push_str("<p>End-of-call report flags: ");
        for (k, f) in q.report_failures.iter().take(ERRORS_CAP).enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            out.push_str("<code>");
            push_text_capped(out, f, STATE_CAP_BYTES);
            out.push_str("</code>");
        }
        out.push_str("</p>\n");
    }
}

fn softphone_errors(out: &mut String, c: &Call) {
    if c.softphone_errors.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<h3>Softphone errors ({})</h3>\n<table><thead><tr><th class=\"num\">Entry</th><th>Time (UTC)</th><th>Error</th><th>What it means</th></tr></thead><tbody>\n",
        c.softphone_errors.len()
    );
    for e in c.softphone_errors.iter().take(ERRORS_CAP) {
        let _ = write!(
            out,
            "<tr><td class=\"num\">{}</td><td class=\"mono\">{}</td><td><code>",
            e.index,
            clock(e.time.0)
        );
        push_text_capped(out, &e.kind, ID_CAP_BYTES);
        out.push_str("</code></td><td>");
        push_text(out, e.hint);
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

fn other_contacts(out: &mut String, doc: &Document) {
    if doc.other_contacts.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<section id=\"other-contacts\"><h2>Other contacts ({})</h2>\n<p class=\"note\">Chats, tasks and other contacts that are not voice calls; not counted above.</p>\n<ul>\n",
        doc.other_contacts.len()
    );
    for o in doc.other_contacts.iter().take(OTHER_CONTACTS_CAP) {
        out.push_str("<li><span class=\"mono\">");
        push_text_capped(out, &o.contact_id, ID_CAP_BYTES);
        out.push_str("</span> <span class=\"muted\">");
        push_text_capped(out, &o.contact_type, ID_CAP_BYTES);
        out.push_str("</span></li>\n");
    }
    if doc.other_contacts.len() > OTHER_CONTACTS_CAP {
        let _ = writeln!(
            out,
            "<li class=\"note\">… and {} more</li>",
            doc.other_contacts.len() - OTHER_CONTACTS_CAP
        );
    }
    out.push_str("</ul></section>\n");
}

/// `HH:MM:SS.mmm` in UTC.
fn clock(ms: Millis) -> String {
    let rem = ms.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// A duration as people say it: `4.5 s`, `2 min 23 s`, `1 h 05 min`.
fn duration(ms: Millis) -> String {
    let ms = ms.max(0);
    if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{} min {:02} s", ms / 60_000, ms / 1000 % 60)
    } else {
        format!("{} h {:02} min", ms / 3_600_000, ms / 60_000 % 60)
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `1 log roll`, `2 log rolls`.
fn count(n: u64, noun: &str) -> String {
    format!("{} {noun}{}", thousands(n), if n == 1 { "" } else { "s" })
}

fn bytes_words(n: u64) -> String {
    if n < 10_000 {
        format!("{} bytes", thousands(n))
    } else if n < 10_000_000 {
        format!("{:.1} kB", n as f64 / 1e3)
    } else {
        format!("{:.1} MB", n as f64 / 1e6)
    }
}

/// A sentence from this file (not from the log): backquoted words become
/// code. Escaped all the same, so a sentence may hold `<` or `&`.
fn push_sentence(out: &mut String, sentence: &str) {
    for (k, part) in sentence.split('`').enumerate() {
        if k % 2 == 1 {
            out.push_str("<code>");
            push_text(out, part);
            out.push_str("</code>");
        } else {
            push_text(out, part);
        }
    }
}

/// Characters shown as `\u{…}` rather than sent to the browser: control
/// characters (NUL, escape, newlines), bidi embeddings, overrides and
/// isolates, invisible marks and separators. Any of them could hide or
/// reorder the text around it.
fn shown_escaped(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// Log text as an HTML text node, cut at [`TEXT_CAP_BYTES`] of output.
fn push_text(out: &mut String, s: &str) {
    push_text_capped(out, s, TEXT_CAP_BYTES);
}

/// Log text as an HTML text node: `&`, `<` and `>` as entities, the
/// characters of [`shown_escaped`] as visible `\u{…}`; past `cap` bytes of
/// output the rest is left out and a note says how much.
fn push_text_capped(out: &mut String, s: &str, cap: usize) {
    let start = out.len();
    for (i, c) in s.char_indices() {
        if out.len() - start >= cap {
            let _ = write!(
                out,
                "<span class=\"cut\">… [cut: {} more bytes]</span>",
                thousands((s.len() - i) as u64)
            );
            return;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if shown_escaped(c) => {
                let _ = write!(out, "<span class=\"esc\">\\u{{{:x}}}</span>", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Log text as a double-quoted attribute value: the quotes, `&`, `<`, `>`
/// as entities, the characters of [`shown_escaped`] as `\u{…}` (no markup
/// can go into an attribute), cut at `cap` bytes with a trailing `…`.
/// Also for text where no markup may go: the page's `<title>`, and SVG
/// `<text>` and `<title>` (an HTML `<span>` there would not be drawn).
fn push_attr(out: &mut String, s: &str, cap: usize) {
    let start = out.len();
    for c in s.chars() {
        if out.len() - start >= cap {
            out.push('…');
            return;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '`' => out.push_str("&#96;"),
            c if shown_escaped(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// SHA-256 (FIPS 180-4) of `data`, base64-encoded, for the CSP's style
/// hash. Small enough to carry here rather than add a dependency for one
/// constant string.
fn sha256_base64(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, v) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(v);
        }
    }
    let digest: Vec<u8> = h.iter().flat_map(|x| x.to_be_bytes()).collect();
    base64(&digest)
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::document::{
        Evidence, Generator, OtherContact, SoftphoneError, Summary, Time, Warning,
    };
    use crate::{Format, Status};

    #[test]
    fn every_reason_has_the_readme_sentence() {
        let readme = include_str!("../../../../README.md");
        // `Reason::ALL` is complete: tests/core/wire_names.rs checks it
        // against every variant, serde and the schema.
        for r in Reason::ALL {
            let sentence = reason_sentence(r);
            assert!(!sentence.trim().is_empty(), "{r:?}");
            let row = format!(
                "| `{}` | {} | {} |",
                r.as_str(),
                r.verdict().as_str(),
                sentence
            );
            assert!(
                readme.lines().any(|l| l == row),
                "the README's Reasons table has no row\n{row}"
            );
        }
    }

    const HOSTILE: &[&str] = &[
        "<script>window.__pwned=1</script>",
        "\"><img src=x onerror=\"window.__pwned=1\">",
        "'><svg onload=alert(1)>",
        "javascript:alert(1)",
        "a\u{202e}evil\u{202c}b \u{2066}iso\u{2069} \u{200f}",
        "nul\0bell\u{7}esc\u{1b}[31m\r\nline",
        "&amp; &lt;",
    ];

    fn hostile() -> String {
        HOSTILE.join(" ")
    }

    fn call(id: &str, text: &str, state: &str) -> Call {
        let t = |ms: Millis| Time(1_700_000_000_000 + ms);
        let item = |ms, machine, from: Option<&str>, to: &str| {
            TimelineItem::new(ms as u64 / 1000, t(ms), machine, from, to)
        };
        Call {
            contact_id: id.to_string(),
            disconnected_by: DisconnectedBy::Agent,
            confidence: Confidence::High,
            reason: Reason::AgentHangupApi,
            agent_connection_id: Some(id.to_string()),
            contact_type: Some(text.to_string()),
            initiation_method: Some("INBOUND".into()),
            softphone: true,
            persistent_connection: false,
            started_before_log: false,
            first_seen: t(0),
            connected_at: Some(t(5_000)),
            ended_at: Some(t(95_000)),
            talk_ms: Some(90_000),
            evidence: vec![
                Evidence {
                    index: 40,
                    time: t(94_500),
                    text: format!("Sending API_REQUEST event for destroyConnection {text}"),
                    note: Some(text.to_string()),
                },
                Evidence {
                    index: 95,
                    time: t(95_000),
                    text: text.to_string(),
                    note: None,
                },
            ],
            timeline: vec![
                item(1_000, "signaling", None, "PendingConnectState"),
                item(
                    5_000,
                    "signaling",
                    Some("PendingConnectState"),
                    "TalkingState",
                ),
                item(95_000, "signaling", Some("TalkingState"), state),
                item(95_200, "contact", Some(state), "ended"),
            ],
            timeline_truncated: false,
            quality: Some(Quality {
                samples: 3,
                rtt_ms_avg: Some(40.0),
                rtt_ms_max: Some(55.0),
                jitter_ms_avg: Some(3.5),
                jitter_ms_max: Some(9.0),
                packets_lost: 2,
                packets: 300,
                packet_loss_pct: Some(0.66),
                report_failures: vec![text.to_string()],
            }),
            softphone_errors: vec![SoftphoneError {
                index: 90,
                time: t(90_000),
                kind: text.to_string(),
                hint: "Media connectivity was lost (network).",
            }],
            contact_record: None,
        }
    }

    fn doc(calls: Vec<Call>, text: &str) -> Document {
        Document {
            schema_version: 1,
            status: Status::Ok,
            generator: Generator::default(),
            source: Source {
                file: Some(text.to_string()),
                version_id: Some(text.to_string()),
                ..Source::default()
            },
            error: None,
            log: Some(LogInfo {
                format: Format::JsonArray,
                gzip: false,
                bytes: 1234,
                entries: 100,
                first_time: Some("2023-11-14T22:13:20.000Z".into()),
                last_time: Some(text.to_string()),
                agent_resource_id: Some(text.to_string()),
                warnings: 1,
                warning_samples: vec![Warning {
                    entry: 3,
                    offset: Some(7),
                    message: text.to_string(),
                }],
                snapshots: 0,
                log_rolls: 0,
                api_lines: true,
                persistent_connection: false,
            }),
            summary: Summary::of(&calls),
            calls,
            other_contacts: vec![OtherContact {
                contact_id: text.to_string(),
                contact_type: text.to_string(),
            }],
        }
    }

    /// The tags of a page: (name, attribute names), by a small scanner that
    /// relies on what the renderer promises: `<` only opens markup, and no
    /// attribute value holds `>` or a quote.
    fn tags(html: &str) -> Vec<(String, Vec<String>)> {
        let mut found = Vec::new();
        let mut rest = html;
        while let Some(open) = rest.find('<') {
            let after = &rest[open + 1..];
            let close = after.find('>').expect("every < closes");
            let inner = after[..close].trim_end_matches('/');
            rest = &after[close + 1..];
            if inner.starts_with('!') || inner.starts_with('/') {
                continue;
            }
            let mut parts = inner.split_whitespace();
            let name = parts.next().unwrap_or("").to_string();
            let mut attrs = Vec::new();
            // Attribute values are quoted and hold no whitespace-split
            // surprises worth handling: names are what precedes `=`.
            let mut in_value = false;
            for part in inner[name.len()..].split('"') {
                if !in_value {
                    for a in part.split_whitespace() {
                        attrs.push(a.trim_end_matches('=').to_string());
                    }
                }
                in_value = !in_value;
            }
            found.push((name, attrs));
        }
        found
    }

    const TAGS: &[&str] = &[
        "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "span", "dl",
        "dt", "dd", "div", "strong", "ul", "ol", "li", "section", "p", "code", "em", "table",
        "thead", "tbody", "tr", "th", "td", "a", "svg", "rect", "text", "line", "g", "path",
        "circle", "details", "summary", "br", "footer",
    ];
    const ATTRS: &[&str] = &[
        "charset",
        "http-equiv",
        "content",
        "name",
        "lang",
        "class",
        "id",
        "href",
        "title",
        "data-contact-id",
        "data-index",
        "viewBox",
        "preserveAspectRatio",
        "role",
        "aria-label",
        "x",
        "y",
        "x1",
        "x2",
        "y1",
        "y2",
        "width",
        "height",
        "rx",
        "d",
        "cx",
        "cy",
        "r",
        "text-anchor",
        "colspan",
    ];

    fn assert_only_own_markup(html: &str) {
        for (name, attrs) in tags(html) {
            assert!(TAGS.contains(&name.as_str()), "unexpected tag <{name}>");
            for a in attrs {
                assert!(
                    ATTRS.contains(&a.as_str()),
                    "unexpected attribute {a} on <{name}>"
                );
            }
        }
        // Links only ever point inside the page.
        for (i, _) in html.match_indices("href=\"") {
            assert!(html[i + 6..].starts_with('#'), "{}", &html[i..i + 40]);
        }
    }

    #[test]
    fn text_escaping_by_hand() {
        let mut out = String::new();
        push_text(&mut out, "<script>a&b</script> \"q\" 'x'");
        assert_eq!(out, "&lt;script&gt;a&amp;b&lt;/script&gt; \"q\" 'x'");
        let mut out = String::new();
        push_text(&mut out, "a\u{202e}b\0c\u{2066}\n");
        assert_eq!(
            out,
            "a<span class=\"esc\">\\u{202e}</span>b<span class=\"esc\">\\u{0}</span>c<span class=\"esc\">\\u{2066}</span><span class=\"esc\">\\u{a}</span>"
        );
    }

    #[test]
    fn attribute_escaping_by_hand() {
        let mut out = String::new();
        push_attr(&mut out, "\"><img src=x onerror='p'>&`\u{202e}\0", 1000);
        assert_eq!(
            out,
            "&quot;&gt;&lt;img src=x onerror=&#39;p&#39;&gt;&amp;&#96;\\u{202e}\\u{0}"
        );
    }

    #[test]
    fn every_bidi_and_control_character_is_shown_escaped() {
        let chars = ('\u{0}'..='\u{1f}')
            .chain([
                '\u{7f}', '\u{85}', '\u{061c}', '\u{200e}', '\u{200f}', '\u{feff}',
            ])
            .chain('\u{202a}'..='\u{202e}')
            .chain('\u{2066}'..='\u{2069}');
        for c in chars {
            let mut out = String::new();
            push_text(&mut out, &c.to_string());
            assert_eq!(
                out,
                format!("<span class=\"esc\">\\u{{{:x}}}</span>", c as u32)
            );
            let mut out = String::new();
            push_attr(&mut out, &c.to_string(), 100);
            assert_eq!(out, format!("\\u{{{:x}}}", c as u32));
        }
    }

    #[test]
    fn a_megabyte_line_is_cut_with_a_note() {
        let line = "<".repeat(1 << 20);
        let mut out = String::new();
        push_text(&mut out, &line);
        // 4-byte entities: the cap is reached after 512 characters.
        assert!(out.starts_with("&lt;&lt;"));
        assert!(out.len() < TEXT_CAP_BYTES + 100, "{}", out.len());
        let left = (1 << 20) - TEXT_CAP_BYTES / 4;
        assert!(
            out.ends_with(&format!(
                "<span class=\"cut\">… [cut: {} more bytes]</span>",
                thousands(left as u64)
            )),
            "{}",
            &out[out.len() - 80..]
        );
    }

    #[test]
    fn hostile_log_text_renders_as_text_only() {
        let h = hostile();
        let page = render(&doc(vec![call(&h, &h, &h)], &h));
        assert_only_own_markup(&page);
        assert!(!page.contains("<script"), "script tag");
        assert!(!page.contains("<img"), "img tag");
        assert!(!page.contains("<svg onload"), "svg onload");
        assert!(!page.contains('\u{202e}') && !page.contains('\0'));
        assert!(page.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"));
        assert!(page.contains("<span class=\"esc\">\\u{202e}</span>"));
        assert!(page.contains("javascript:alert(1)"));
        // The attribute context: the contact id in data-contact-id.
        assert!(page.contains(
            "data-contact-id=\"&lt;script&gt;window.__pwned=1&lt;/script&gt; &quot;&gt;&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt; &#39;&gt;&lt;svg onload=alert(1)&gt; javascript:alert(1) a\\u{202e}evil"
        ));
        // An entity in the log is shown as typed, not decoded.
        assert!(page.contains("&amp;amp; &amp;lt;"));
        // Where markup is not drawn (SVG, the page title) escapes are plain
        // text, not <span>s that would hide them.
        let mut svg_text = String::new();
        for svg in page.split("<svg").skip(1) {
            // Pieces between <svg openings (segments nest an <svg> each).
            let svg = &svg[..svg.find("</svg>").unwrap_or(svg.len())];
            assert!(!svg.contains("<span"), "{svg}");
            svg_text.push_str(svg);
        }
        assert!(svg_text.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"));
        let bidi = render(&doc(vec![call("c", "t", "\u{202e}Talking")], "f"));
        assert!(bidi.contains(">\\u{202e}Talking</text>"));
        let title = &page[page.find("<title>").unwrap()..page.find("</title>").unwrap()];
        assert!(
            !title.contains("<span") && title.contains("a\\u{202e}evil"),
            "{title}"
        );
    }

    #[test]
    fn rendering_is_deterministic() {
        let h = hostile();
        let d = doc(
            vec![
                call("c-1", "x", "PendingRemoteHangupState"),
                call(&h, &h, &h),
            ],
            "f",
        );
        let a = render(&d);
        let b = render(&d.clone());
        assert_eq!(a, b);
    }

    #[test]
    fn a_call_section_has_its_parts() {
        let page = render(&doc(
            vec![call("c-1", "entry text", "PendingRemoteHangupState")],
            "agent-log.txt",
        ));
        assert_only_own_markup(&page);
        assert!(
            page.contains("<section class=\"call v-agent\" id=\"call-1\" data-contact-id=\"c-1\">")
        );
        assert!(page.contains("<span class=\"badge v-agent\">Agent hung up</span>"));
        assert!(page.contains(
            "the agent's <code>destroyConnection</code> on its own leg or on the customer's."
        ));
        assert!(page.contains("1 min 30 s"), "talk time");
        // Evidence listed with anchors, marks linking to them and back.
        for i in [40, 95] {
            assert!(page.contains(&format!("<li id=\"call-1-ev-{i}\" data-index=\"{i}\">")));
            assert!(page.contains(&format!("href=\"#call-1-ev-{i}\" id=\"call-1-mark-{i}\"")));
        }
        assert!(page.contains("<g class=\"end-mark\" id=\"call-1-end\">"));
        // The 95 s call gets a close-up of its end, a second SVG.
        assert_eq!(page.matches("<svg class=\"timeline\"").count(), 2);
        assert!(page.contains("Round-trip time"));
        assert!(page.contains("Media connectivity was lost (network)."));
    }

    #[test]
    fn evidence_near_the_cores_cut_says_it_may_be_cut() {
        let mut c = call("c-1", "short", "PendingRemoteHangupState");
        c.evidence[1].text = "x".repeat(399);
        let page = render(&doc(vec![c], "f"));
        assert_eq!(page.matches("(may be cut:").count(), 1, "only the long one");
    }

    #[test]
    fn a_rejected_document_says_why() {
        let d = Document::rejected(
            Source {
                file: Some("photo.jpg".into()),
                ..Source::default()
            },
            Rejection {
                kind: RejectKind::NotJson,
                message: "expected JSON at byte 0 <b>".into(),
                offset: Some(0),
                entry: None,
            },
        );
        let page = render(&d);
        assert_only_own_markup(&page);
        assert!(page.contains("This file could not be read as a CCP agent log"));
        assert!(page.contains("The file is not JSON at all"));
        assert!(page.contains("<code>not_json</code>"));
        assert!(page.contains("expected JSON at byte 0 &lt;b&gt;"));
        assert!(!page.contains("<section class=\"call"));
    }

    #[test]
    fn a_worst_case_call_stays_within_the_budget() {
        // Every text a megabyte of two-byte escapes, the most output per
        // input character; every list past its cap.
        let huge = "\u{202e}<".repeat(1 << 19);
        let long_id = "\u{202e}".repeat(1000);
        let mut worst = call(&long_id, &huge, &long_id);
        worst.evidence = (0..100)
            .map(|i| Evidence {
                index: i,
                time: Time(1_700_000_000_000 + i as i64),
                text: huge.clone(),
                note: Some(huge.clone()),
            })
            .collect();
        worst.timeline = (0..100)
            .map(|i| {
                TimelineItem::new(
                    i,
                    Time(1_700_000_000_000 + i as i64 * 1000),
                    MACHINE_LANES[i as usize % 6].0,
                    Some(&long_id),
                    &long_id,
                )
            })
            .collect();
        worst.softphone_errors = (0..100)
            .map(|i| SoftphoneError {
                index: i,
                time: Time(1_700_000_000_000 + i as i64),
                kind: huge.clone(),
                hint: "h",
            })
            .collect();
        worst.quality.as_mut().unwrap().report_failures = vec![huge.clone(); 100];
        let one = render(&doc(vec![worst.clone()], "f")).len();
        let two = render(&doc(vec![worst.clone(), worst], "f")).len();
        let per_call = two - one;
        assert!(
            per_call <= CALL_BUDGET_BYTES,
            "{per_call} bytes for one call, budget {CALL_BUDGET_BYTES}"
        );
        // And the caps did bite: far less than the input.
        assert!(per_call > 20_000, "{per_call}");
    }

    #[test]
    fn calls_past_the_detail_cap_are_listed_only() {
        let calls: Vec<Call> = (0..DETAILED_CALLS + 3)
            .map(|i| call(&format!("c-{i}"), "t", "PendingRemoteHangupState"))
            .collect();
        let page = render(&doc(calls, "f"));
        assert_eq!(
            page.matches("<section class=\"call ").count(),
            DETAILED_CALLS
        );
        assert!(page.contains(&format!("<td class=\"mono\">c-{}</td>", DETAILED_CALLS + 2)));
        assert!(page.contains("are listed above only"));
    }

    #[test]
    fn the_style_hash_is_sha256_of_the_stylesheet() {
        // Known vectors (FIPS 180-4 examples), then the page's own policy.
        assert_eq!(
            sha256_base64(b"abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert_eq!(
            sha256_base64(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            sha256_base64(&[b'x'; 1000]),
            "RPg1RJSlugO6F5Ko0+nFNMR6kYGYD956P0SwbvKufH8="
        );
        let page = render(&doc(vec![], "f"));
        let policy = format!(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'sha256-{}'; base-uri 'none'; form-action 'none'\">",
            sha256_base64(CSS.as_bytes())
        );
        assert!(page.contains(&policy));
        assert!(page.contains(&format!("<style>{CSS}</style>")));
        assert_eq!(page.matches("<style").count(), 1);
    }
}
