//! Cross-checking verdicts with Amazon Connect's own answer: the contact
//! record's `DisconnectReason` (and `DisconnectDetails`, `QualityMetrics`).
//!
//! Records arrive in the shapes users have them: the contact record stream as
//! Kinesis Data Firehose writes it to S3 (JSON objects concatenated with no
//! separator, or one per line, often gzip), a JSON array, or the output of
//! `aws connect describe-contact` (`{"Contact": {…}}`). [`RecordIndex`]
//! streams them one value at a time and keeps only the records whose contact
//! ids the logs mention, so memory is bounded by the calls, not the records.
//!
//! The log describes one agent's leg; the record describes the whole contact.
//! [`check_call`] only calls them comparable when the record is about this
//! contact id and this agent, and the contact was not transferred on; the
//! verdict × reason mapping is the one table [`AGREEMENT_TABLE`].

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use serde::Serialize;
use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::document::{Call, DisconnectedBy, Document, Status};
use crate::time::{Millis, parse_iso8601};

/// How a call's verdict compares with its contact record. A closed list:
/// consumers may match on the snake_case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Agreement {
    /// The record says what the log says.
    Agrees,
    /// The log shows a connection failure where the record says a party hung
    /// up: the case AWS documents the record cannot see.
    LogAddsCause,
    /// A real disagreement.
    Differs,
    /// The record is not about the same thing as the verdict (another leg,
    /// another agent, a transfer, no reason, a call that never connected, …).
    NotComparable,
    /// A record was looked for but could not be had.
    Unavailable,
}

impl Agreement {
    /// Every value, in declaration order.
    pub const ALL: [Agreement; 5] = [
        Agreement::Agrees,
        Agreement::LogAddsCause,
        Agreement::Differs,
        Agreement::NotComparable,
        Agreement::Unavailable,
    ];

    /// The wire name, as serialized in `calls[].contact_record.agreement`.
    pub fn as_str(self) -> &'static str {
        match self {
            Agreement::Agrees => "agrees",
            Agreement::LogAddsCause => "log_adds_cause",
            Agreement::Differs => "differs",
            Agreement::NotComparable => "not_comparable",
            Agreement::Unavailable => "unavailable",
        }
    }
}

/// Which of the record's ids named the call's contact id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordMatch {
    /// `ContactId` (stream) or `Id` (DescribeContact): the record is this contact's.
    ContactId,
    /// The record is a later leg whose `PreviousContactId` is this contact.
    PreviousContactId,
    /// The record is an earlier leg whose `NextContactId` is this contact.
    NextContactId,
    /// The record is another leg of the same chain (`InitialContactId`).
    InitialContactId,
}

impl RecordMatch {
    /// Every value, in the order a lookup prefers them.
    pub const ALL: [RecordMatch; 4] = [
        RecordMatch::ContactId,
        RecordMatch::PreviousContactId,
        RecordMatch::NextContactId,
        RecordMatch::InitialContactId,
    ];

    /// The wire name, as serialized in `calls[].contact_record.matched_by`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordMatch::ContactId => "contact_id",
            RecordMatch::PreviousContactId => "previous_contact_id",
            RecordMatch::NextContactId => "next_contact_id",
            RecordMatch::InitialContactId => "initial_contact_id",
        }
    }
}

/// `calls[].contact_record`: what the contact record says and how it compares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactRecordCheck {
    pub agreement: Agreement,
    /// One line a person can read: why this agreement value.
    pub why: String,
    /// Which record id named this call (absent when no record was had).
    pub matched_by: Option<RecordMatch>,
    /// The record's own contact id (differs from the call's for a related leg).
    pub record_contact_id: Option<String>,
    /// Where the record came from: `<file> record <n>` or `DescribeContact`.
    pub origin: Option<String>,
    /// The agent's id from the record (`Agent.ARN`'s last part, or `AgentInfo.Id`).
    pub agent_id: Option<String>,
    pub disconnect_reason: Option<String>,
    /// `DisconnectDetails.PotentialDisconnectIssue`.
    pub potential_disconnect_issue: Option<String>,
    /// `QualityMetrics.Agent.Audio.QualityScore` (1.00–5.00).
    pub agent_audio_quality_score: Option<f64>,
    /// `QualityMetrics.Agent.Audio.PotentialQualityIssues`.
    pub agent_audio_quality_issues: Vec<String>,
}

/// `summary.contact_records`: calls per agreement value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AgreementCounts {
    pub agrees: u64,
    pub log_adds_cause: u64,
    pub differs: u64,
    pub not_comparable: u64,
    pub unavailable: u64,
}

impl AgreementCounts {
    /// Counts the `contact_record` blocks of `calls`.
    pub fn of(calls: &[Call]) -> AgreementCounts {
        let mut s = AgreementCounts::default();
        for check in calls.iter().filter_map(|c| c.contact_record.as_ref()) {
            *match check.agreement {
                Agreement::Agrees => &mut s.agrees,
                Agreement::LogAddsCause => &mut s.log_adds_cause,
                Agreement::Differs => &mut s.differs,
                Agreement::NotComparable => &mut s.not_comparable,
                Agreement::Unavailable => &mut s.unavailable,
            } += 1;
        }
        s
    }
}

/// A row of [`AGREEMENT_TABLE`]: verdict, `DisconnectReason` (`None`: any
/// reason), the agreement and its one-line why.
pub type AgreementRow = (
    DisconnectedBy,
    Option<&'static str>,
    Agreement,
    &'static str,
);

/// The one mapping from verdict × `DisconnectReason` to an agreement, first
/// matching row wins; mirrored in the README. A pair not listed is
/// `not_comparable` (a reason this version does not compare with that verdict).
///
/// Checked before this table, in [`check_call`]: no record, a related leg's
/// record, another agent's record, a contact transferred on, a null reason.
pub const AGREEMENT_TABLE: &[AgreementRow] = {
    use Agreement::*;
    use DisconnectedBy::*;
    &[
        (
            Agent,
            Some("AGENT_DISCONNECT"),
            Agrees,
            "both say the agent ended the call",
        ),
        (
            Agent,
            Some("CUSTOMER_DISCONNECT"),
            Differs,
            "the log shows the agent ending the call; the record says the customer did",
        ),
        (
            Agent,
            Some("CONTACT_FLOW_DISCONNECT"),
            Differs,
            "the log shows the agent ending the call; the record says a flow's disconnect block did",
        ),
        (
            Agent,
            Some("BARGED"),
            Differs,
            "the log shows the agent ending the call; the record says a supervisor removed the agent",
        ),
        (
            Agent,
            Some("THIRD_PARTY_DISCONNECT"),
            NotComparable,
            "the record's third party hung up after the agent had left; it does not say how the agent's leg ended",
        ),
        (
            Customer,
            Some("CUSTOMER_DISCONNECT"),
            Agrees,
            "both say the customer ended the call",
        ),
        (
            Customer,
            Some("THIRD_PARTY_DISCONNECT"),
            Agrees,
            "the far end (a third party) ended the call; the log cannot tell a third party from the customer",
        ),
        (
            Customer,
            Some("CONTACT_FLOW_DISCONNECT"),
            Agrees,
            "a flow ended the call, which the agent's log sees as the far end hanging up",
        ),
        (
            Customer,
            Some("AGENT_DISCONNECT"),
            Differs,
            "the log shows the far end hanging up; the record says the agent did",
        ),
        (
            Network,
            Some("CUSTOMER_DISCONNECT"),
            LogAddsCause,
            "the record says the customer hung up; the log shows the connection failing first, which the record cannot tell from a deliberate hang-up",
        ),
        (
            Network,
            Some("THIRD_PARTY_DISCONNECT"),
            LogAddsCause,
            "the record says a third party hung up; the log shows the connection failing first",
        ),
        (
            Network,
            Some("AGENT_DISCONNECT"),
            LogAddsCause,
            "the record says the agent ended the call; the log shows the agent's connection failing first",
        ),
        (
            Network,
            Some("TELECOM_PROBLEM"),
            Agrees,
            "both say a connection problem ended the call",
        ),
        (
            Network,
            Some("CONTACT_FLOW_DISCONNECT"),
            Differs,
            "the log shows a connection failure; the record says a flow's disconnect block ended the call",
        ),
        (
            NotConnected,
            None,
            NotComparable,
            "the call never connected on this agent's leg, so the record's reason is about another part of the contact",
        ),
        (
            Unknown,
            None,
            NotComparable,
            "the log does not show how the call ended",
        ),
    ]
};

/// Looks a verdict and a reason up in [`AGREEMENT_TABLE`].
pub fn agreement_for(verdict: DisconnectedBy, reason: &str) -> (Agreement, Cow<'static, str>) {
    for &(v, r, agreement, why) in AGREEMENT_TABLE {
        if v == verdict && r.is_none_or(|r| r == reason) {
            return (agreement, Cow::Borrowed(why));
        }
    }
    (
        Agreement::NotComparable,
        Cow::Owned(format!(
            "the record's reason {reason} is not one this version compares with a {} verdict",
            verdict.as_str()
        )),
    )
}

/// A contact record, reduced to what a cross-check needs. Built from either
/// the contact record stream's shape or DescribeContact's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactRecord {
    pub contact_id: String,
    pub initial_contact_id: Option<String>,
    pub previous_contact_id: Option<String>,
    pub next_contact_id: Option<String>,
    pub disconnect_reason: Option<String>,
    pub potential_disconnect_issue: Option<String>,
    /// The agent's user id: the last part of the stream's `Agent.ARN`
    /// (`…/agent/<id>`) or DescribeContact's `AgentInfo.Id`.
    pub agent_id: Option<String>,
    pub agent_audio_quality_score: Option<f64>,
    pub agent_audio_quality_issues: Vec<String>,
    /// `LastUpdateTimestamp` as epoch ms: the stream delivers at least once,
    /// so of two records for one contact the later update wins.
    pub last_update: Option<Millis>,
    /// Where it came from, for the document and for messages.
    pub origin: String,
}

/// Record text is the user's data; a bound keeps one odd record from
/// bloating every document it is joined to.
const MAX_TEXT: usize = 256;
/// At most this many quality issues are kept (the service has three).
const MAX_ISSUES: usize = 8;

fn text(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let mut s = s.clone();
            if s.len() > MAX_TEXT {
                let mut cut = MAX_TEXT;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
            }
            Ok(Some(s))
        }
        Some(_) => Err(format!("{key} is not a string")),
    }
}

fn object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(format!("{key} is not an object")),
    }
}

impl ContactRecord {
    /// Reads one record: a stream record (`ContactId`, `Agent`), a
    /// DescribeContact contact (`Id`, `AgentInfo`) or its response
    /// (`{"Contact": {…}}`). Unknown fields are ignored; a field of the wrong
    /// type or a missing id is an error naming the field.
    pub fn from_value(value: &Value, origin: String) -> Result<ContactRecord, String> {
        let Value::Object(outer) = value else {
            return Err("not a JSON object".into());
        };
        let obj = object(outer, "Contact")?.unwrap_or(outer);
        let contact_id = match (text(obj, "ContactId")?, text(obj, "Id")?) {
            (Some(id), _) | (None, Some(id)) if !id.is_empty() => id,
            _ => return Err("no ContactId (stream) or Id (DescribeContact)".into()),
        };
        let agent_id = match (object(obj, "Agent")?, object(obj, "AgentInfo")?) {
            (Some(agent), _) => text(agent, "ARN")?.map(|arn| match arn.rfind("/agent/") {
                Some(at) => arn[at + "/agent/".len()..].to_string(),
                None => arn,
            }),
            (None, Some(info)) => text(info, "Id")?,
            (None, None) => None,
        };
        let audio = match object(obj, "QualityMetrics")?.map(|q| object(q, "Agent")) {
            Some(Ok(Some(agent))) => object(agent, "Audio")?,
            Some(Err(e)) => return Err(format!("QualityMetrics.{e}")),
            _ => None,
        };
        let (score, issues) = match audio {
            None => (None, Vec::new()),
            Some(audio) => {
                let score = match audio.get("QualityScore") {
                    None | Some(Value::Null) => None,
                    Some(Value::Number(n)) => n.as_f64(),
                    Some(_) => {
                        return Err(
                            "QualityMetrics.Agent.Audio.QualityScore is not a number".into()
                        );
                    }
                };
                let issues = match audio.get("PotentialQualityIssues") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(items)) => items
                        .iter()
                        .filter_map(Value::as_str)
                        .take(MAX_ISSUES)
                        .map(|s| s.chars().take(MAX_TEXT).collect())
                        .collect(),
                    Some(_) => {
                        return Err(
                            "QualityMetrics.Agent.Audio.PotentialQualityIssues is not an array"
                                .into(),
                        );
                    }
                };
                (score, issues)
            }
        };
        let potential_disconnect_issue = match object(obj, "DisconnectDetails")? {
            Some(d) => text(d, "PotentialDisconnectIssue")?,
            None => None,
        };
        // The stream writes ISO-8601 text; the DescribeContact wire format
        // (and SDK JSON) writes epoch seconds.
        let last_update = match obj.get("LastUpdateTimestamp") {
            Some(Value::String(s)) => parse_iso8601(s),
            Some(Value::Number(n)) => n.as_f64().map(|s| (s * 1000.0) as Millis),
            _ => None,
        };
        Ok(ContactRecord {
            contact_id,
            initial_contact_id: text(obj, "InitialContactId")?,
            previous_contact_id: text(obj, "PreviousContactId")?,
            next_contact_id: text(obj, "NextContactId")?,
            disconnect_reason: text(obj, "DisconnectReason")?,
            potential_disconnect_issue,
            agent_id,
            agent_audio_quality_score: score,
            agent_audio_quality_issues: issues,
            last_update,
            origin,
        })
    }

    fn related(&self, m: RecordMatch) -> Option<&str> {
        match m {
            RecordMatch::ContactId => Some(&self.contact_id),
            RecordMatch::PreviousContactId => self.previous_contact_id.as_deref(),
            RecordMatch::NextContactId => self.next_contact_id.as_deref(),
            RecordMatch::InitialContactId => self.initial_contact_id.as_deref(),
        }
    }
}

/// A record that could not be used, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordProblem {
    /// 1-based: the n-th JSON value (or array element) of the input.
    pub record: u64,
    pub message: String,
}

impl fmt::Display for RecordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {}: {}", self.record, self.message)
    }
}

/// What reading one input of records found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// Records seen, usable or not.
    pub records: u64,
    /// Records kept because they name a wanted contact.
    pub kept: u64,
    /// Records skipped as unusable, each with its place (the first
    /// [`MAX_PROBLEMS`]). A JSON syntax error ends the input (nothing after
    /// it can be framed) and is the last one.
    pub problems: Vec<RecordProblem>,
    /// Unusable records beyond the first [`MAX_PROBLEMS`]: counted, not kept.
    pub more_problems: u64,
}

/// Problems kept per input: a file of a million bad records costs a count,
/// not a million messages.
pub const MAX_PROBLEMS: usize = 100;

impl ReadReport {
    fn problem(&mut self, problem: RecordProblem) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(problem);
        } else {
            self.more_problems += 1;
        }
    }
}

/// The records that name contacts the logs mention, by record contact id.
#[derive(Debug, Default)]
pub struct RecordIndex {
    wanted: HashSet<String>,
    records: BTreeMap<String, ContactRecord>,
}

impl RecordIndex {
    /// An index that keeps only records naming one of `wanted` (as its own
    /// id, or as its initial, previous or next contact id).
    pub fn new(wanted: impl IntoIterator<Item = String>) -> RecordIndex {
        RecordIndex {
            wanted: wanted.into_iter().collect(),
            records: BTreeMap::new(),
        }
    }

    /// The contact ids of `doc`'s calls: what a [`RecordIndex`] should keep.
    pub fn wanted_ids(doc: &Document) -> impl Iterator<Item = String> + '_ {
        doc.calls.iter().map(|c| c.contact_id.clone())
    }

    /// Records kept so far.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// No record kept so far.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Adds one record if it names a wanted contact. Of two records with
    /// one contact id the later `LastUpdateTimestamp` wins, the first on a tie,
    /// so the result does not depend on how often a record was delivered.
    pub fn insert(&mut self, record: ContactRecord) -> bool {
        let named = RecordMatch::ALL
            .iter()
            .any(|&m| record.related(m).is_some_and(|id| self.wanted.contains(id)));
        if !named {
            return false;
        }
        match self.records.get(&record.contact_id) {
            Some(old) if old.last_update >= record.last_update => {}
            _ => {
                self.records.insert(record.contact_id.clone(), record);
            }
        }
        true
    }

    /// Streams records from `input` (gzip detected by content; a JSON array,
    /// or JSON values concatenated with or without white space between them).
    /// `origin` names the input in the records' `origin`. Only a failing
    /// reader (or a corrupt gzip stream) is an `Err`.
    pub fn read<R: Read>(&mut self, input: R, origin: &str) -> io::Result<ReadReport> {
        let mut raw = BufReader::with_capacity(64 * 1024, input);
        let gzip = raw.fill_buf()?.starts_with(&[0x1f, 0x8b]);
        let mut input: Box<dyn BufRead + '_> = if gzip {
            Box::new(BufReader::with_capacity(
                64 * 1024,
                flate2::bufread::MultiGzDecoder::new(raw),
            ))
        } else {
            Box::new(raw)
        };
        let mut report = ReadReport::default();
        let array = loop {
            let buf = input.fill_buf()?;
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(at) => {
                    let first = buf[at];
                    input.consume(at);
                    break first == b'[';
                }
                None if buf.is_empty() => return Ok(report),
                None => {
                    let n = buf.len();
                    input.consume(n);
                }
            }
        };
        let mut each = |value: Value, report: &mut ReadReport| {
            report.records += 1;
            let n = report.records;
            match ContactRecord::from_value(&value, format!("{origin} record {n}")) {
                Ok(record) => {
                    if self.insert(record) {
                        report.kept += 1;
                    }
                }
                Err(message) => report.problem(RecordProblem { record: n, message }),
            }
        };
        let mut de = serde_json::Deserializer::from_reader(input);
        let ended = if array {
            // Element by element: an array of a million records is never
            // held whole.
            de.deserialize_seq(EachElement {
                each: &mut |v| each(v, &mut report),
            })
            .and_then(|()| de.end())
        } else {
            let mut result = Ok(());
            for value in de.into_iter::<Value>() {
                match value {
                    // A top-level array among concatenated values: its
                    // elements are the records.
                    Ok(Value::Array(items)) => {
                        for item in items {
                            each(item, &mut report);
                        }
                    }
                    Ok(value) => each(value, &mut report),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            result
        };
        if let Err(e) = ended {
            if e.is_io() {
                return Err(e.into());
            }
            report.problem(RecordProblem {
                record: report.records + 1,
                message: format!(
                    "malformed JSON at line {} column {}: {e}; the rest of the input is skipped",
                    e.line(),
                    e.column()
                ),
            });
        }
        Ok(report)
    }

    /// The record for `contact_id`: its own, or else the first related leg
    /// (by [`RecordMatch::ALL`] order, then record contact id).
    pub fn lookup(&self, contact_id: &str) -> Option<(&ContactRecord, RecordMatch)> {
        if let Some(r) = self.records.get(contact_id) {
            return Some((r, RecordMatch::ContactId));
        }
        RecordMatch::ALL[1..].iter().find_map(|&m| {
            self.records
                .values()
                .find(|r| r.related(m) == Some(contact_id))
                .map(|r| (r, m))
        })
    }

    /// Adds a `contact_record` block to every call of an `ok` document and
    /// the agreement counts to its summary.
    pub fn cross_check(&self, doc: &mut Document) {
        if doc.status != Status::Ok {
            return;
        }
        let agent = doc.log.as_ref().and_then(|l| l.agent_resource_id.clone());
        for call in &mut doc.calls {
            let check = match self.lookup(&call.contact_id) {
                Some((record, m)) => check_call(call, agent.as_deref(), record, m),
                None => unavailable(
                    "no contact record with this contact id (or naming it) in the records given",
                ),
            };
            call.contact_record = Some(check);
        }
        doc.summary.contact_records = Some(AgreementCounts::of(&doc.calls));
    }
}

struct EachElement<'a> {
    each: &'a mut dyn FnMut(Value),
}

impl<'de> Visitor<'de> for EachElement<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of contact records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<Value>()? {
            (self.each)(value);
        }
        Ok(())
    }
}

/// The block for a call whose record could not be had.
pub fn unavailable(why: impl Into<String>) -> ContactRecordCheck {
    ContactRecordCheck {
        agreement: Agreement::Unavailable,
        why: why.into(),
        matched_by: None,
        record_contact_id: None,
        origin: None,
        agent_id: None,
        disconnect_reason: None,
        potential_disconnect_issue: None,
        agent_audio_quality_score: None,
        agent_audio_quality_issues: Vec::new(),
    }
}

/// Compares one call with the record found for it. `log_agent` is the log's
/// `agent_resource_id`, when the log has one.
pub fn check_call(
    call: &Call,
    log_agent: Option<&str>,
    record: &ContactRecord,
    matched_by: RecordMatch,
) -> ContactRecordCheck {
    let (agreement, why): (Agreement, Cow<'static, str>) = if matched_by != RecordMatch::ContactId {
        (
            Agreement::NotComparable,
            format!(
                "only a related leg's record was given ({}, whose {} is this contact)",
                record.contact_id,
                matched_by.as_str()
            )
            .into(),
        )
    } else if let (Some(ours), Some(theirs)) = (log_agent, record.agent_id.as_deref())
        && ours != theirs
    {
        (
            Agreement::NotComparable,
            format!("the record's agent ({theirs}) is not this log's agent: it describes another agent's leg").into(),
        )
    } else if let Some(next) = &record.next_contact_id {
        (
            Agreement::NotComparable,
            format!("the contact was transferred on (NextContactId {next}): the record's reason is not about how this leg ended").into(),
        )
    } else if let Some(reason) = &record.disconnect_reason {
        agreement_for(call.disconnected_by, reason)
    } else {
        (
            Agreement::NotComparable,
            "the record has no DisconnectReason (null)".into(),
        )
    };
    ContactRecordCheck {
        agreement,
        why: why.into_owned(),
        matched_by: Some(matched_by),
        record_contact_id: Some(record.contact_id.clone()),
        origin: Some(record.origin.clone()),
        agent_id: record.agent_id.clone(),
        disconnect_reason: record.disconnect_reason.clone(),
        potential_disconnect_issue: record.potential_disconnect_issue.clone(),
        agent_audio_quality_score: record.agent_audio_quality_score,
        agent_audio_quality_issues: record.agent_audio_quality_issues.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verdict_row_names_a_reason_once() {
        let mut seen = HashSet::new();
        for &(v, r, _, why) in AGREEMENT_TABLE {
            assert!(seen.insert((v, r)), "{v:?} × {r:?} listed twice");
            assert!(!why.is_empty() && !why.contains('\n'));
        }
    }

    #[test]
    fn the_table_answers_the_documented_pairs() {
        use Agreement::*;
        use DisconnectedBy::*;
        for (v, r, want) in [
            (Agent, "AGENT_DISCONNECT", Agrees),
            (Customer, "CUSTOMER_DISCONNECT", Agrees),
            (Customer, "THIRD_PARTY_DISCONNECT", Agrees),
            (Customer, "CONTACT_FLOW_DISCONNECT", Agrees),
            (Network, "CUSTOMER_DISCONNECT", LogAddsCause),
            (Agent, "CUSTOMER_DISCONNECT", Differs),
            (Customer, "AGENT_DISCONNECT", Differs),
            (NotConnected, "AGENT_DISCONNECT", NotComparable),
            (Unknown, "CUSTOMER_DISCONNECT", NotComparable),
            (Agent, "TELECOM_BUSY", NotComparable),
        ] {
            assert_eq!(agreement_for(v, r).0, want, "{v:?} × {r}");
        }
    }

    #[test]
    fn stream_and_describe_contact_shapes_read_alike() {
        let stream = serde_json::json!({
            "ContactId": "c-1", "DisconnectReason": "AGENT_DISCONNECT",
            "Agent": {"ARN": "arn:aws:connect:eu-west-2:111122223333:instance/i-1/agent/a-9"},
            "QualityMetrics": {"Agent": {"Audio": {"QualityScore": 4.5, "PotentialQualityIssues": ["HighJitterBuffer"]}}},
            "DisconnectDetails": {"PotentialDisconnectIssue": "AGENT_DEVICE_ISSUE"},
            "Surprise": [1, 2]
        });
        let describe = serde_json::json!({"Contact": {
            "Id": "c-1", "DisconnectReason": "AGENT_DISCONNECT", "AgentInfo": {"Id": "a-9"},
            "QualityMetrics": {"Agent": {"Audio": {"QualityScore": 4.5, "PotentialQualityIssues": ["HighJitterBuffer"]}}},
            "DisconnectDetails": {"PotentialDisconnectIssue": "AGENT_DEVICE_ISSUE"}
        }});
        let a = ContactRecord::from_value(&stream, "x".into()).unwrap();
        let b = ContactRecord::from_value(&describe, "x".into()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.agent_id.as_deref(), Some("a-9"));
        assert_eq!(a.agent_audio_quality_score, Some(4.5));
    }

    #[test]
    fn wrong_types_name_the_field() {
        for (v, field) in [
            (serde_json::json!({"ContactId": 7}), "ContactId"),
            (
                serde_json::json!({"ContactId": "c", "DisconnectReason": 1}),
                "DisconnectReason",
            ),
            (serde_json::json!({"ContactId": "c", "Agent": "x"}), "Agent"),
            (
                serde_json::json!({"DisconnectReason": "AGENT_DISCONNECT"}),
                "ContactId",
            ),
            (serde_json::json!([1]), "object"),
        ] {
            let e = ContactRecord::from_value(&v, "x".into()).unwrap_err();
            assert!(e.contains(field), "{e}");
        }
    }

    #[test]
    fn the_later_update_wins_whatever_the_order() {
        let rec = |reason: &str, at: &str| {
            ContactRecord::from_value(
                &serde_json::json!({"ContactId": "c", "DisconnectReason": reason, "LastUpdateTimestamp": at}),
                reason.into(),
            )
            .unwrap()
        };
        for order in [[0, 1], [1, 0]] {
            let recs = [
                rec("CUSTOMER_DISCONNECT", "2024-05-01T10:00:00Z"),
                rec("AGENT_DISCONNECT", "2024-05-01T10:05:00Z"),
            ];
            let mut index = RecordIndex::new(["c".to_string()]);
            for i in order {
                index.insert(recs[i].clone());
            }
            let (r, _) = index.lookup("c").unwrap();
            assert_eq!(r.disconnect_reason.as_deref(), Some("AGENT_DISCONNECT"));
        }
    }
}
