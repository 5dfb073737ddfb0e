//! The parts of an entry's `objects` member the classifier reads: agent
//! snapshots, API request parameters, softphone metrics and end-of-call
//! reports. `objects` is uploader-controlled, so every array is bounded.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

use super::{MAX_ID_BYTES, MAX_NAME_BYTES};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub agent_state: Option<String>,
    pub agent_state_type: Option<String>,
    /// Server time minus the client's, in ms: a server timestamp less this
    /// is on the log's clock (ccp-log-format.md §3.2).
    pub skew: Option<i64>,
    pub contacts: Vec<SnapContact>,
}

impl Snapshot {
    pub(super) fn weight(&self) -> usize {
        let s = |o: &Option<String>| o.as_ref().map_or(0, String::len);
        let connection = |k: &SnapConnection| {
            std::mem::size_of::<SnapConnection>() + k.id.len() + s(&k.kind) + s(&k.state)
        };
        let contact = |c: &SnapContact| {
            std::mem::size_of::<SnapContact>()
                + c.id.len()
                + s(&c.kind)
                + s(&c.state)
                + s(&c.initiation)
                + c.connections.iter().map(connection).sum::<usize>()
        };
        s(&self.agent_state)
            + s(&self.agent_state_type)
            + self.contacts.iter().map(contact).sum::<usize>()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapContact {
    pub id: String,
    pub kind: Option<String>,
    pub state: Option<String>,
    pub initiation: Option<String>,
    pub connections: Vec<SnapConnection>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapConnection {
    pub id: String,
    pub kind: Option<String>,
    pub state: Option<String>,
    /// `state.timestamp`: when the connection entered its state, server
    /// time (ccp-log-format.md §3.2).
    pub state_time: Option<i64>,
    pub initial: bool,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub time: Option<i64>,
    pub rtt_ms: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub packets_lost: Option<f64>,
    pub packets: Option<f64>,
}

/// At most `N` elements of a JSON array; the rest are skipped without being
/// stored. Real snapshots hold a few contacts and metrics reports a few dozen
/// samples, but an entry's `objects` is uploader-controlled: a 16 MiB array
/// of `{}` would otherwise become millions of structs, many times the size
/// of the entry.
#[derive(Debug, PartialEq)]
pub(super) struct Bounded<T, const N: usize>(pub(super) Vec<T>);

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for Bounded<T, N> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T, const N: usize>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const N: usize> serde::de::Visitor<'de> for Visitor<T, N> {
            type Value = Bounded<T, N>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while items.len() < N {
                    match seq.next_element()? {
                        Some(item) => items.push(item),
                        None => return Ok(Bounded(items)),
                    }
                }
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Bounded(items))
            }
        }
        deserializer.deserialize_seq(Visitor::<T, N>(std::marker::PhantomData))
    }
}

/// Objects of one entry looked at (the one wanted is the first).
pub(super) const MAX_OBJECTS: usize = 8;
/// Contacts in one snapshot, and connections of one contact.
pub(super) const MAX_SNAPSHOT_CONTACTS: usize = 64;
pub(super) const MAX_CONNECTIONS: usize = 8;
/// Samples in one metrics report.
pub(super) const MAX_SAMPLES: usize = 1024;
/// Largest `skew` taken as one (a day, in ms).
const MAX_SKEW_MS: f64 = 86_400_000.0;

#[derive(Deserialize)]
struct ApiObject<'a> {
    #[serde(borrow, default)]
    params: Option<ApiParams<'a>>,
}

#[derive(Deserialize)]
struct ApiParams<'a> {
    #[serde(borrow, default, rename = "contactId")]
    contact_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "connectionId")]
    connection_id: Option<Cow<'a, str>>,
}

pub(super) fn api_params(objects: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(list) = serde_json::from_slice::<Bounded<ApiObject<'_>, MAX_OBJECTS>>(objects) else {
        return (None, None);
    };
    let params = list.0.into_iter().find_map(|o| o.params);
    match params {
        Some(p) => {
            let id = |v: Option<Cow<'_, str>>| {
                v.filter(|v| !v.is_empty() && v.len() <= MAX_ID_BYTES)
                    .map(Cow::into_owned)
            };
            (id(p.contact_id), id(p.connection_id))
        }
        None => (None, None),
    }
}

#[derive(Deserialize)]
struct SnapshotObject<'a> {
    #[serde(borrow, default)]
    snapshot: Option<RawSnapshot<'a>>,
}

#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct RawSnapshot<'a> {
    #[serde(borrow, default)]
    pub(super) state: Option<RawState<'a>>,
    #[serde(default)]
    pub(super) skew: Option<f64>,
    #[serde(borrow, default)]
    pub(super) contacts: Option<Bounded<RawContact<'a>, MAX_SNAPSHOT_CONTACTS>>,
}

#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct RawState<'a> {
    #[serde(borrow, default)]
    pub(super) name: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "type")]
    pub(super) kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) timestamp: Option<Cow<'a, str>>,
}

#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct RawContact<'a> {
    #[serde(borrow, rename = "contactId")]
    pub(super) contact_id: Cow<'a, str>,
    #[serde(borrow, default, rename = "type")]
    pub(super) kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) state: Option<RawState<'a>>,
    #[serde(borrow, default, rename = "initiationMethod")]
    pub(super) initiation: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) connections: Option<Bounded<RawConnection<'a>, MAX_CONNECTIONS>>,
}

#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct RawConnection<'a> {
    #[serde(borrow, rename = "connectionId")]
    pub(super) connection_id: Cow<'a, str>,
    #[serde(borrow, default, rename = "type")]
    pub(super) kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) state: Option<RawState<'a>>,
    #[serde(default)]
    pub(super) initial: Option<bool>,
}

/// A short value from a snapshot; longer ones are not what they claim.
fn owned(c: Option<Cow<'_, str>>) -> Option<String> {
    c.filter(|v| v.len() <= MAX_NAME_BYTES).map(Cow::into_owned)
}

/// The hand-written reader when it reads `objects` (the common shape),
/// otherwise `serde_json`: both give the same raw snapshot (checked by
/// `snapshot_readers_agree` in tests and the fuzz target).
pub(super) fn parse_snapshot(objects: &[u8]) -> Option<Snapshot> {
    let raw = match super::hand::snapshot(objects) {
        Some(raw) => raw,
        None => serde_snapshot(objects)?,
    };
    Some(finish_snapshot(raw))
}

fn serde_snapshot(objects: &[u8]) -> Option<RawSnapshot<'_>> {
    let list: Bounded<SnapshotObject<'_>, MAX_OBJECTS> = serde_json::from_slice(objects).ok()?;
    list.0.into_iter().find_map(|o| o.snapshot)
}

/// `None` when the hand-written reader leaves `objects` to `serde_json`;
/// otherwise whether both give the same raw snapshot and the same
/// [`Snapshot`].
pub(crate) fn snapshot_readers_agree(objects: &[u8]) -> Option<bool> {
    let hand = super::hand::snapshot(objects)?;
    let serde = serde_snapshot(objects);
    let same_raw = serde.as_ref() == Some(&hand);
    Some(same_raw && serde.map(finish_snapshot) == Some(finish_snapshot(hand)))
}

fn finish_snapshot(raw: RawSnapshot<'_>) -> Snapshot {
    let (agent_state, agent_state_type) = match raw.state {
        Some(s) => (owned(s.name), owned(s.kind)),
        None => (None, None),
    };
    let contacts = raw
        .contacts
        .map(|c| c.0)
        .unwrap_or_default()
        .into_iter()
        .filter(|c| !c.contact_id.is_empty() && c.contact_id.len() <= MAX_ID_BYTES)
        .map(|c| SnapContact {
            id: c.contact_id.into_owned(),
            kind: owned(c.kind),
            state: c.state.and_then(|s| owned(s.kind)),
            initiation: owned(c.initiation),
            connections: c
                .connections
                .map(|c| c.0)
                .unwrap_or_default()
                .into_iter()
                .filter(|k| k.connection_id.len() <= MAX_ID_BYTES)
                .map(|k| {
                    let (state, state_time) = match k.state {
                        Some(s) => (
                            owned(s.kind),
                            s.timestamp.as_deref().and_then(crate::time::parse_iso8601),
                        ),
                        None => (None, None),
                    };
                    SnapConnection {
                        id: k.connection_id.into_owned(),
                        kind: owned(k.kind),
                        state,
                        state_time,
                        initial: k.initial.unwrap_or(false),
                    }
                })
                .collect(),
        })
        .collect();
    // A skew beyond a day is not a clock difference (and could overflow).
    let skew = raw
        .skew
        .filter(|s| s.is_finite() && s.abs() <= MAX_SKEW_MS)
        .map(|s| s as i64);
    Snapshot {
        agent_state,
        agent_state_type,
        skew,
        contacts,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct RawSample<'a> {
    #[serde(borrow, default)]
    pub(super) timestamp: Option<Cow<'a, str>>,
    #[serde(default, rename = "roundTripTimeMillis")]
    pub(super) rtt: Option<f64>,
    #[serde(default, rename = "jitterBufferMillis")]
    pub(super) jitter: Option<f64>,
    #[serde(default, rename = "packetsLost")]
    pub(super) lost: Option<f64>,
    #[serde(default, rename = "packetsCount")]
    pub(super) count: Option<f64>,
}

impl RawSample<'_> {
    /// Equal, numbers bit for bit (`0.0` is not `-0.0`).
    fn same(&self, other: &RawSample<'_>) -> bool {
        let bits =
            |s: &RawSample<'_>| [s.rtt, s.jitter, s.lost, s.count].map(|v| v.map(f64::to_bits));
        self.timestamp == other.timestamp && bits(self) == bits(other)
    }
}

/// Far above any real round trip, jitter or packet count, and low enough
/// that sums over the largest log stay finite (the document has only finite
/// numbers): larger values are not measurements.
const MAX_SAMPLE_VALUE: f64 = 1e9;

fn plausible(v: Option<f64>) -> Option<f64> {
    v.filter(|v| (0.0..=MAX_SAMPLE_VALUE).contains(v))
}

pub(super) fn parse_metrics(json: &str) -> Option<Vec<Sample>> {
    let json = json.trim();
    let raw = match super::hand::metrics(json) {
        Some(raw) => raw,
        None => serde_metrics(json)?,
    };
    Some(
        raw.into_iter()
            .map(|r| Sample {
                time: r.timestamp.as_deref().and_then(crate::time::parse_iso8601),
                rtt_ms: plausible(r.rtt),
                jitter_ms: plausible(r.jitter),
                packets_lost: plausible(r.lost),
                packets: plausible(r.count),
            })
            .collect(),
    )
}

fn serde_metrics(json: &str) -> Option<Vec<RawSample<'_>>> {
    let raw: Bounded<RawSample<'_>, MAX_SAMPLES> = serde_json::from_str(json).ok()?;
    Some(raw.0)
}

/// `None` when the hand-written reader leaves a metrics line's JSON to
/// `serde_json`; otherwise whether both read the same samples.
pub(crate) fn metrics_readers_agree(json: &str) -> Option<bool> {
    let json = json.trim();
    let hand = super::hand::metrics(json)?;
    let serde = serde_metrics(json);
    Some(serde.is_some_and(|serde| {
        serde.len() == hand.len() && serde.iter().zip(&hand).all(|(a, b)| a.same(b))
    }))
}

/// Failure flags kept from one end-of-call report.
const MAX_FAILURES: usize = 32;

/// The `*Failure` flags set to true in an end-of-call report, sorted. Only
/// those are kept while reading: the report is uploader-controlled text.
pub(super) fn report_failures(json: &str) -> Vec<String> {
    struct Failures;
    impl<'de> serde::de::Visitor<'de> for Failures {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut failures = std::collections::BTreeSet::new();
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                let value: &'de RawValue = map.next_value()?;
                if key.ends_with("Failure")
                    && value.get() == "true"
                    && failures.len() < MAX_FAILURES
                {
                    failures.insert(key.into_owned());
                }
            }
            Ok(failures.into_iter().collect())
        }
    }
    let mut de = serde_json::Deserializer::from_str(json.trim());
    serde::Deserializer::deserialize_map(&mut de, Failures)
        .and_then(|v| de.end().map(|()| v))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uploader-controlled arrays are read up to a bound, not into memory
    /// proportional to their length.
    #[test]
    fn huge_arrays_in_objects_are_bounded() {
        let contacts = (0..100_000)
            .map(|i| {
                format!(r#"{{"contactId":"c-{i}","connections":[{}]}}"#, {
                    (0..40)
                        .map(|j| format!(r#"{{"connectionId":"k-{j}"}}"#))
                        .collect::<Vec<_>>()
                        .join(",")
                })
            })
            .collect::<Vec<_>>()
            .join(",");
        let objects = format!(r#"[{{"snapshot":{{"contacts":[{contacts}]}}}}]"#);
        let snapshot = parse_snapshot(objects.as_bytes()).expect("a snapshot");
        assert_eq!(snapshot.contacts.len(), MAX_SNAPSHOT_CONTACTS);
        assert_eq!(snapshot.contacts[63].id, "c-63");
        assert_eq!(snapshot.contacts[0].connections.len(), MAX_CONNECTIONS);

        let samples = vec!["{}"; 1_000_000].join(",");
        assert_eq!(
            parse_metrics(&format!("[{samples}]")).unwrap().len(),
            MAX_SAMPLES
        );

        let mut flags: Vec<String> = (0..100_000)
            .map(|i| format!(r#""f{i:06}Failure":true"#))
            .collect();
        flags.push(r#""zzFailure":false"#.to_owned());
        let failures = report_failures(&format!("{{{}}}", flags.join(",")));
        assert_eq!(failures.len(), MAX_FAILURES);
        assert_eq!(failures[0], "f000000Failure");
        assert_eq!(
            report_failures(r#"{"aFailure":true,"b":1,"cFailure":false,"dFailure":true}"#),
            ["aFailure", "dFailure"]
        );
        assert!(report_failures(r#"{"aFailure":true} trailing"#).is_empty());

        let apis = vec!["{}"; 1_000_000].join(",");
        let with_params =
            format!(r#"[{{"params":{{"contactId":"c-1","connectionId":"k-1"}}}},{apis}]"#);
        assert_eq!(
            api_params(with_params.as_bytes()),
            (Some("c-1".into()), Some("k-1".into()))
        );
    }
}
