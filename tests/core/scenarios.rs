//! Labelled scenarios: each `tests/fixtures/scenarios/<name>.json` log comes
//! with `<name>.expect.json`, written by hand from the spec, naming every call
//! with its verdict, reason, confidence and the entries that must be cited,
//! and optionally its `connected_at`, `ended_at` and `talk_ms`.

use std::fs::File;
use std::path::{Path, PathBuf};

use ccp_disconnect_core::{Document, Options, Source, Status, classify};
use serde_json::Value;

use crate::support::{fixture, repo_root};

fn scenario_dir() -> PathBuf {
    fixture("")
}

fn run(path: &Path) -> Document {
    let file = File::open(path).unwrap();
    classify(file, Source::default(), &Options::default()).unwrap()
}

/// Compares one document with its labels; returns the differences.
fn check(name: &str, doc: &Document, expect: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if doc.status != Status::Ok {
        return vec![format!("{name}: rejected: {:?}", doc.error)];
    }
    let want_calls = expect["calls"].as_array().cloned().unwrap_or_default();
    let got_ids: Vec<&str> = doc.calls.iter().map(|c| c.contact_id.as_str()).collect();
    let want_ids: Vec<&str> = want_calls
        .iter()
        .filter_map(|c| c["contact_id"].as_str())
        .collect();
    let mut a = got_ids.clone();
    let mut b = want_ids.clone();
    a.sort_unstable();
    b.sort_unstable();
    if a != b {
        problems.push(format!("{name}: calls {got_ids:?}, expected {want_ids:?}"));
    }
    for want in &want_calls {
        let id = want["contact_id"].as_str().unwrap_or_default();
        let Some(got) = doc.calls.iter().find(|c| c.contact_id == id) else {
            continue;
        };
        let got_json = serde_json::to_value(got).unwrap();
        // Times are optional labels; `null` asserts there is none.
        for field in [
            "disconnected_by",
            "reason",
            "confidence",
            "connected_at",
            "ended_at",
            "talk_ms",
        ] {
            if let Some(w) = want.get(field)
                && got_json[field] != *w
            {
                problems.push(format!(
                    "{name}: {id}: {field} = {}, expected {w}",
                    got_json[field]
                ));
            }
        }
        if let Some(idx) = want["evidence_indices"].as_array() {
            let cited: Vec<u64> = got.evidence.iter().map(|e| e.index).collect();
            for i in idx.iter().filter_map(Value::as_u64) {
                if !cited.contains(&i) {
                    problems.push(format!("{name}: {id}: evidence {cited:?} lacks entry {i}"));
                }
            }
        }
    }
    let want_other: Vec<(String, String)> = expect["other_contacts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| {
                    (
                        o["contact_id"].as_str().unwrap_or_default().to_string(),
                        o["contact_type"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    for (id, kind) in &want_other {
        match doc.other_contacts.iter().find(|o| &o.contact_id == id) {
            Some(o) if &o.contact_type == kind => {}
            other => problems.push(format!(
                "{name}: other contact {id} ({kind}): got {other:?}"
            )),
        }
    }
    problems
}

#[test]
fn every_labelled_scenario_matches_its_labels() {
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(scenario_dir())
        .unwrap()
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".expect.json") else {
            continue;
        };
        let expect: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let doc = run(&scenario_dir().join(format!("{stem}.json")));
        problems.extend(check(stem, &doc, &expect));
        checked += 1;
    }
    // The bundled quick-start sample is labelled the same way.
    let sample = repo_root().join("events");
    let expect: Value =
        serde_json::from_slice(&std::fs::read(sample.join("agent-log.expected.json")).unwrap())
            .unwrap();
    problems.extend(check(
        "events/agent-log.txt",
        &run(&sample.join("agent-log.txt")),
        &expect,
    ));
    assert!(checked >= 20, "only {checked} scenarios found");
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Every rule of the verdict ladder names, in its doc comment, at least two
/// labelled fixtures that exercise it, and each of them exists.
#[test]
fn every_rule_names_labelled_fixtures() {
    let src = std::fs::read_to_string(repo_root().join("crates/core/src/verdict.rs")).unwrap();
    let ladder = src
        .split("const LADDER")
        .nth(1)
        .and_then(|s| s.split("];").next())
        .expect("the LADDER constant");
    let rules: Vec<&str> = ladder
        .lines()
        .filter_map(|l| l.trim().strip_prefix("(\""))
        .filter_map(|l| l.split('"').next())
        .collect();
    assert!(rules.len() >= 7, "{rules:?}");
    let mut problems = Vec::new();
    for rule in rules {
        let Some(at) = src.find(&format!("\nfn {rule}(")) else {
            problems.push(format!("{rule}: no function"));
            continue;
        };
        let doc = &src[src[..at].rfind("\n\n").unwrap_or(0)..at];
        let Some(list) = doc
            .split("Fixtures:")
            .nth(1)
            .or(doc.split("Fixture:").nth(1))
        else {
            problems.push(format!("{rule}: names no fixture"));
            continue;
        };
        let names: Vec<&str> = list.split('`').skip(1).step_by(2).collect();
        if names.len() < 2 {
            problems.push(format!("{rule}: names {names:?}, fewer than two"));
        }
        for name in names {
            for file in [format!("{name}.json"), format!("{name}.expect.json")] {
                if !scenario_dir().join(&file).is_file() {
                    problems.push(format!("{rule}: {file} is missing"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
