//! Properties that must hold for any input.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::support::*;
use ccp_disconnect_core::{Options, Source, Status, classify};
use ccp_disconnect_sample::{SampleConfig, SampleFormat};
use proptest::prelude::*;
use serde_json::Value;

fn sample_log() -> Vec<u8> {
    std::fs::read(fixture("agent_end_call_api.json")).unwrap()
}

/// A labelled log's entries, their times, and its verdicts.
struct Labelled {
    name: String,
    entries: Vec<Value>,
    times: Vec<i64>,
    verdicts: Vec<(String, String, String, String, Vec<u64>)>,
}

fn labelled() -> &'static [Labelled] {
    static LOGS: OnceLock<Vec<Labelled>> = OnceLock::new();
    LOGS.get_or_init(|| {
        labelled_logs()
            .into_iter()
            .map(|(name, bytes)| {
                let entries: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
                let times = entries
                    .iter()
                    .map(|e| {
                        ccp_disconnect_core::time::parse_iso8601(e["time"].as_str().unwrap())
                            .unwrap()
                    })
                    .collect();
                let verdicts = verdicts(&classify_bytes(&bytes));
                assert!(!verdicts.is_empty(), "{name}");
                Labelled {
                    name,
                    entries,
                    times,
                    verdicts,
                }
            })
            .collect()
    })
}

/// splitmix64: a shuffle drawn from one seed, so a failing case is
/// reproduced by its seed alone.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A permutation (new position -> original index) that moves entries only
/// among the positions of entries of the same second (`time / 1000`), and
/// keeps entries of equal time in their order: the pipeline orders by
/// (time, entry index), so the index decides between equal times and a
/// shuffle of those would be a different log, not a reordering.
fn shuffle_within_seconds(times: &[i64], seed: u64) -> Vec<usize> {
    let mut state = seed;
    let mut buckets: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, t) in times.iter().enumerate() {
        buckets.entry(t.div_euclid(1000)).or_default().push(i);
    }
    let mut perm: Vec<usize> = (0..times.len()).collect();
    for positions in buckets.values() {
        let mut keyed: Vec<(u64, usize)> =
            positions.iter().map(|&i| (next(&mut state), i)).collect();
        // Entries of equal time take their keys in ascending order.
        let mut by_time: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (k, &(_, i)) in keyed.iter().enumerate() {
            by_time.entry(times[i]).or_default().push(k);
        }
        for ks in by_time.values() {
            let mut keys: Vec<u64> = ks.iter().map(|&k| keyed[k].0).collect();
            keys.sort_unstable();
            for (&k, key) in ks.iter().zip(keys) {
                keyed[k].0 = key;
            }
        }
        keyed.sort_unstable();
        for (&at, &(_, i)) in positions.iter().zip(&keyed) {
            perm[at] = i;
        }
    }
    perm
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary bytes never panic, and always give a document that says
    /// what it made of them.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let doc = classify_bytes(&bytes);
        prop_assert_eq!(doc.status == Status::Rejected, doc.error.is_some());
        let gz = gzip(&bytes);
        let _ = classify_bytes(&gz);
    }

    /// Damaged real logs (bytes overwritten, cut short) never panic, and the
    /// same input always gives the same bytes.
    #[test]
    fn damaged_logs_never_panic_and_stay_deterministic(
        cut in 0usize..20_000,
        flips in proptest::collection::vec((0usize..20_000, any::<u8>()), 0..8),
    ) {
        let mut log = sample_log();
        for (at, b) in flips {
            let n = log.len();
            log[at % n] = b;
        }
        log.truncate(log.len().saturating_sub(cut % 200));
        let a = classify_bytes(&log).to_json_line();
        let b = classify_bytes(&log).to_json_line();
        prop_assert_eq!(a, b);
    }

    /// Text with random prefixes, ids and states never panics the recognizer.
    #[test]
    fn random_softphone_texts(
        id in "[a-z0-9*-]{0,40}",
        cat in prop::sample::select(vec!["SIGNALING", "SESSION", "CallSession", "SharedMediaSIGNALING", "RtcPeerConnectionManager", "x"]),
        from in "[A-Za-z]{0,20}",
        to in "[A-Za-z]{0,20}",
        tail in ".{0,40}",
    ) {
        let text = format!(" {id} {cat} {from} => {to}{tail}");
        let entry = serde_json::json!([{"text": text, "time": "2024-01-01T00:00:00.000Z"},
                                       {"text": format!("Contact detected: contactId{id} agent connectionId {tail}"), "time": 5},
                                       {"text": format!("Publishing event: contact::{from}::{id}"), "time": 6}]);
        let doc = classify_bytes(&serde_json::to_vec(&entry).unwrap());
        prop_assert_eq!(doc.status, Status::Ok);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any generated log (seed, size, layout, gzip) gives byte-identical
    /// documents on every run and whatever the read sizes. Two runs in one
    /// process each get their own hash seeds, so an output that depended on
    /// hash-map order would show here.
    #[test]
    fn same_generated_log_same_document(
        seed in any::<u64>(),
        size in 20_000u64..150_000,
        format in prop::sample::select(vec![SampleFormat::Pretty, SampleFormat::Compact, SampleFormat::Ndjson]),
        compress in any::<bool>(),
        step in 1usize..5000,
    ) {
        let mut log = Vec::new();
        let summary = ccp_disconnect_sample::generate(&mut log, &SampleConfig::new(size, seed, format)).unwrap();
        if compress {
            log = gzip(&log);
        }
        let first = classify_bytes(&log);
        prop_assert_eq!(first.status, Status::Ok);
        prop_assert_eq!(first.calls.len(), summary.labels.len());
        let first = first.to_json_line();
        prop_assert!(classify_bytes(&log).to_json_line() == first, "second run differs");
        let trickled = classify(Trickle { data: &log, step }, Source::default(), &Options::default())
            .unwrap()
            .to_json_line();
        prop_assert!(trickled == first, "read size {} differs", step);
    }

    /// Entries of the same second in another order (the CCP merges its
    /// layers about a second apart) never change a call's verdict, reason or
    /// confidence, and each call cites the same entries (at their new
    /// positions), in every labelled scenario and the bundled sample.
    #[test]
    fn shuffling_within_a_second_keeps_verdicts(which in 0usize..64, seed in any::<u64>()) {
        let logs = labelled();
        let log = &logs[which % logs.len()];
        let perm = shuffle_within_seconds(&log.times, seed);
        let shuffled: Vec<&Value> = perm.iter().map(|&i| &log.entries[i]).collect();
        let doc = classify_bytes(&serde_json::to_vec(&shuffled).unwrap());
        let got: Vec<_> = verdicts(&doc)
            .into_iter()
            .map(|(id, by, reason, confidence, cited)| {
                let mut cited: Vec<u64> = cited.into_iter().map(|j| perm[j as usize] as u64).collect();
                cited.sort_unstable();
                (id, by, reason, confidence, cited)
            })
            .collect();
        prop_assert_eq!(&got, &log.verdicts, "{}", log.name);
    }
}

#[test]
fn the_shuffle_moves_entries_only_within_their_second() {
    // Two entries of equal time (3) keep their order; everything else may move.
    let times = [1_000, 1_500, 3_200, 2_100, 1_999, 3_200, 2_000, 3_900];
    let mut moved = false;
    for seed in 0..50 {
        let perm = shuffle_within_seconds(&times, seed);
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            (0..times.len()).collect::<Vec<_>>(),
            "a permutation"
        );
        for (at, &i) in perm.iter().enumerate() {
            assert_eq!(times[at] / 1000, times[i] / 1000, "seed {seed}: {perm:?}");
        }
        let a = perm.iter().position(|&i| i == 2).unwrap();
        let b = perm.iter().position(|&i| i == 5).unwrap();
        assert!(a < b, "seed {seed}: equal times swapped: {perm:?}");
        moved |= perm != (0..times.len()).collect::<Vec<_>>();
    }
    assert!(moved);
}
