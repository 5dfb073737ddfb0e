//! The closed enums of the result document spell their wire names once:
//! `as_str()` (used by the table and the Lambda's logs), the serde name
//! (the JSON) and the schema's `enum` lists must all agree.

use std::collections::BTreeSet;

use ccp_disconnect_core::{Confidence, DisconnectedBy, Format, Reason, RejectKind, Status};
use serde_json::Value;

use crate::support::*;

/// The variants written out by hand, behind a match with no wildcard: a new
/// variant stops this file compiling until it is listed here, and then the
/// comparison with the enum's `ALL` fails until it is listed there too.
macro_rules! every {
    ($ty:ident: $($variant:ident),+ $(,)?) => {{
        fn _exhaustive(v: $ty) {
            match v {
                $($ty::$variant)|+ => {}
            }
        }
        [$($ty::$variant),+]
    }};
}

fn schema() -> Value {
    let path = repo_root().join("schema/result-v1.schema.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn schema_enum(schema: &Value, pointer: &str) -> Vec<String> {
    schema
        .pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no enum list at {pointer}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Every variant's `as_str()` is its serde name, the names are distinct, and
/// they are exactly the schema's list at `pointer`.
fn check<T: Copy + std::fmt::Debug>(
    all: &[T],
    as_str: fn(T) -> &'static str,
    serialize: fn(T) -> Value,
    pointer: &str,
) {
    let mut names = Vec::new();
    for &v in all {
        let serde = serialize(v);
        assert_eq!(
            serde,
            Value::String(as_str(v).into()),
            "{v:?}: as_str() and serde differ"
        );
        names.push(as_str(v).to_string());
    }
    let ours: BTreeSet<String> = names.iter().cloned().collect();
    assert_eq!(ours.len(), names.len(), "a name is used twice: {names:?}");
    let listed = schema_enum(&schema(), pointer);
    let theirs: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(theirs.len(), listed.len(), "{pointer} lists a name twice");
    assert_eq!(ours, theirs, "the enum and the schema's {pointer} differ");
}

#[test]
fn status_names_match_serde_and_the_schema() {
    assert_eq!(Status::ALL, every!(Status: Ok, Rejected));
    check(
        &Status::ALL,
        Status::as_str,
        |v| serde_json::to_value(v).unwrap(),
        "/properties/status/enum",
    );
}

#[test]
fn reject_kind_names_match_serde_and_the_schema() {
    assert_eq!(
        RejectKind::ALL,
        every!(RejectKind: Empty, NotJson, NotCcpLog, MalformedJson, BadGzip, TooLarge)
    );
    check(
        &RejectKind::ALL,
        RejectKind::as_str,
        |v| serde_json::to_value(v).unwrap(),
        "/properties/error/properties/kind/enum",
    );
}

#[test]
fn format_names_match_serde_and_the_schema() {
    assert_eq!(Format::ALL, every!(Format: JsonArray, LegacyObject, Ndjson));
    check(
        &Format::ALL,
        Format::as_str,
        |v| serde_json::to_value(v).unwrap(),
        "/properties/log/properties/format/enum",
    );
}

#[test]
fn disconnected_by_names_match_serde_and_the_schema() {
    assert_eq!(
        DisconnectedBy::ALL,
        every!(DisconnectedBy: Agent, Customer, Network, NotConnected, Unknown)
    );
    check(
        &DisconnectedBy::ALL,
        DisconnectedBy::as_str,
        |v| serde_json::to_value(v).unwrap(),
        "/$defs/call/properties/disconnected_by/enum",
    );
}

#[test]
fn confidence_names_match_serde_and_the_schema() {
    assert_eq!(Confidence::ALL, every!(Confidence: Low, Medium, High));
    check(
        &Confidence::ALL,
        Confidence::as_str,
        |v| serde_json::to_value(v).unwrap(),
        "/$defs/call/properties/confidence/enum",
    );
}

#[test]
fn reason_names_match_serde_and_the_schema() {
    assert_eq!(
        Reason::ALL,
        every!(Reason:
            AgentHangup,
            AgentHangupApi,
            AgentLeftConference,
            AgentHungUpState,
            RemoteHangup,
            RemoteHangupSnapshotRace,
            RemoteHangupSnapshot,
            SignalingLost,
            MediaLost,
            FailedWhileTalking,
            Missed,
            Rejected,
            SetupFailed,
            CallNotFound,
            OutboundNotAnswered,
            ContactError,
            LogEndsMidCall,
            NoEndEvidence,
            PersistentAmbiguous,
        )
    );
    check(
        &Reason::ALL,
        Reason::as_str,
        |v| serde_json::to_value(v).unwrap(),
        "/$defs/call/properties/reason/enum",
    );
}

/// The schema ties each reason to one verdict (`allOf`: if `disconnected_by`
/// is X then `reason` is one of …); `Reason::verdict` must tie them alike.
#[test]
fn each_reason_belongs_to_the_verdict_the_schema_gives_it() {
    let schema = schema();
    let rules = schema
        .pointer("/$defs/call/allOf")
        .and_then(Value::as_array)
        .expect("the schema's reason-by-verdict rules");
    let mut covered = BTreeSet::new();
    for (i, rule) in rules.iter().enumerate() {
        let verdict = rule
            .pointer("/if/properties/disconnected_by/const")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("allOf/{i} has no disconnected_by const"));
        let listed: BTreeSet<String> = schema_enum(rule, "/then/properties/reason/enum")
            .into_iter()
            .collect();
        let ours: BTreeSet<String> = Reason::ALL
            .iter()
            .filter(|r| r.verdict().as_str() == verdict)
            .map(|r| r.as_str().to_string())
            .collect();
        assert_eq!(ours, listed, "reasons of {verdict}");
        covered.insert(verdict.to_string());
    }
    let all: BTreeSet<String> = DisconnectedBy::ALL
        .iter()
        .map(|d| d.as_str().to_string())
        .collect();
    assert_eq!(covered, all, "a verdict has no reason rule in the schema");
}

#[test]
fn agreement_names_match_serde_and_the_schema() {
    use ccp_disconnect_core::contact_records::Agreement;
    assert_eq!(
        Agreement::ALL,
        every!(Agreement: Agrees, LogAddsCause, Differs, NotComparable, Unavailable)
    );
    check(
        &Agreement::ALL,
        Agreement::as_str,
        |v| serde_json::to_value(v).unwrap(),
        "/$defs/contact_record/properties/agreement/enum",
    );
    // The summary counts one field per agreement value, named alike.
    let counts = ccp_disconnect_core::contact_records::AgreementCounts::default();
    let fields: BTreeSet<String> = serde_json::to_value(counts)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let names: BTreeSet<String> = Agreement::ALL.iter().map(|a| a.as_str().into()).collect();
    assert_eq!(fields, names);
}

#[test]
fn record_match_names_match_serde_and_the_schema() {
    use ccp_disconnect_core::contact_records::RecordMatch;
    assert_eq!(
        RecordMatch::ALL,
        every!(RecordMatch: ContactId, PreviousContactId, NextContactId, InitialContactId)
    );
    check(
        &RecordMatch::ALL,
        RecordMatch::as_str,
        |v| serde_json::to_value(v).unwrap(),
        "/$defs/contact_record/properties/matched_by/anyOf/1/enum",
    );
}
