//! The shipped Athena SQL (`infra/athena/`) run on a real SQL engine, DuckDB,
//! over result documents this binary writes with `--contact-records`.
//! `tests/athena/check_views.py` says exactly what is run verbatim and what
//! is translated. The Python with `duckdb` comes from `DUCKDB_PYTHON`
//! (`scripts/test` installs a pinned one) or else `python3`.
//!
//! Expected rows are worked out by hand from the hand-written records
//! (`tests/fixtures/contact-records/README.md`).

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::contact_records::Scratch;
use crate::support::*;

const LOGS: [&str; 9] = [
    "multi_call_mixed",
    "ice_lost_network",
    "kc_customer",
    "kc_agent",
    "conference_agent_left",
    "missed_call_talking",
    "signaling_lost",
    "agent_end_call_api",
    "log_ends_mid_call",
];

fn records(name: &str) -> PathBuf {
    repo_root()
        .join("tests/fixtures/contact-records")
        .join(name)
}

fn python() -> String {
    let python = std::env::var("DUCKDB_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python).args(["-c", "import duckdb"]).output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "{python} cannot import duckdb: run scripts/test (it installs the pinned duckdb) \
         or set DUCKDB_PYTHON to a Python that has it"
    );
    python
}

fn row<'a>(rows: &'a Value, key: &str, value: Value) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("no row with {key} = {value} in {rows:#}"))
}

#[test]
fn athena_views_and_queries_on_duckdb() {
    let python = python();
    let scratch = Scratch::new("athena");
    let results = scratch.0.join("results");
    let record_files = [
        records("firehose/2024/05/14/09/ctr-stream-1-2024-05-14-09-00-00"),
        records("multi-part-2.ndjson"),
        records("scenarios-array.json"),
        records("ice_lost_network.ndjson"),
    ];
    let mut cli = Command::new(env!("CARGO_BIN_EXE_ccp-disconnect"));
    cli.args(["classify", "--format", "json", "--out"])
        .arg(&results);
    for f in &record_files {
        cli.arg("--contact-records").arg(f);
    }
    for log in LOGS {
        cli.arg(fixture(&format!("{log}.json")));
    }
    let out = cli.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = Command::new(python)
        .arg(repo_root().join("tests/athena/check_views.py"))
        .arg(&results)
        .args(&record_files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check_views.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();

    // The SQL mirror of the agreement table gives the program's answer for
    // every call, but one: log_ends_mid_call's contact has only a related
    // leg's record, which the SQL view (joining on contact id) does not seek.
    let calls = rows["calls_with_records"].as_array().unwrap();
    assert_eq!(calls.len(), 14);
    for c in calls {
        if c["contact_id"] == "f60b2d8e-74a3-4c1f-9d05-b8e3a6c21f97" {
            assert_eq!(c["record_agreement"], "not_comparable");
            assert_eq!(c["agreement"], "unavailable");
        } else {
            assert_eq!(c["agreement"], c["record_agreement"], "{c}");
        }
    }

    let network: Vec<&str> = rows["customer_disconnect_but_network"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["contact_id"].as_str().unwrap())
        .collect();
    let mut network = network;
    network.sort();
    assert_eq!(
        network,
        [
            "8b1d5f3e-c70a-4962-b0e4-a5c9f2d18e36",
            "b41d7e08-6a2c-4f95-8e3b-c7a0f5d9162e"
        ]
    );

    let queues = &rows["agreement_per_queue"];
    let pick = |r: &Value| {
        json!([
            r["calls"],
            r["agrees"],
            r["log_adds_cause"],
            r["differs"],
            r["agreement_rate"]
        ])
    };
    assert_eq!(
        pick(row(queues, "queue_name", json!("Support"))),
        json!([3, 2, 0, 0, 1.0])
    );
    assert_eq!(
        pick(row(queues, "queue_name", json!("Billing"))),
        json!([2, 0, 1, 1, 0.0])
    );
    assert_eq!(
        pick(row(queues, "queue_name", Value::Null)),
        json!([6, 1, 1, 0, 0.5])
    );

    let agents = &rows["agreement_per_agent"];
    assert_eq!(
        pick(row(
            agents,
            "agent_resource_id",
            json!("8b4486c5-99cb-481b-8eb5-8eea34854702")
        )),
        json!([6, 2, 1, 1, 0.5])
    );
    // kc_customer and kc_agent are 2019 logs with no agentResourceId.
    assert_eq!(
        pick(row(agents, "agent_resource_id", Value::Null)),
        json!([2, 1, 0, 0, 1.0])
    );

    let days = rows["agreement_per_day"].as_array().unwrap();
    let total: u64 = days.iter().map(|d| d["calls"].as_u64().unwrap()).sum();
    assert_eq!(total, 14);
    // multi_call_mixed's six calls share one day.
    let multi = row(&rows["agreement_per_day"], "calls", json!(6));
    assert_eq!(
        [
            &multi["agrees"],
            &multi["log_adds_cause"],
            &multi["differs"],
            &multi["not_comparable"],
            &multi["unavailable"]
        ],
        [&json!(2), &json!(1), &json!(1), &json!(1), &json!(1)]
    );
    assert_eq!(multi["agreement_rate"], json!(0.5));
}
