//! Every accepted input shape gives the same verdicts as the CCP's own
//! pretty-printed array. The reference is a hand-labelled scenario.

use crate::support::*;
use ccp_disconnect_core::{Format, Status};
use serde_json::Value;

const SCENARIO: &str = "multi_call_mixed.json";

fn original() -> Vec<u8> {
    std::fs::read(fixture(SCENARIO)).unwrap()
}

fn entries() -> Vec<Value> {
    serde_json::from_slice(&original()).unwrap()
}

fn reference() -> Vec<(String, String, String, String, Vec<u64>)> {
    let doc = classify_bytes(&original());
    assert_eq!(doc.status, Status::Ok);
    assert_eq!(doc.log.as_ref().unwrap().format, Format::JsonArray);
    let v = verdicts(&doc);
    assert!(v.len() >= 5, "the reference scenario has several calls");
    v
}

fn assert_same(bytes: &[u8], format: Format, gzip: bool) {
    let doc = classify_bytes(bytes);
    assert_eq!(doc.status, Status::Ok, "{:?}", doc.error);
    let log = doc.log.as_ref().unwrap();
    assert_eq!((log.format, log.gzip), (format, gzip));
    assert_eq!(log.warnings, 0);
    assert_eq!(verdicts(&doc), reference());
}

#[test]
fn compact_array() {
    assert_same(
        &serde_json::to_vec(&entries()).unwrap(),
        Format::JsonArray,
        false,
    );
}

#[test]
fn ndjson() {
    let mut out = Vec::new();
    for e in entries() {
        out.extend(serde_json::to_vec(&e).unwrap());
        out.push(b'\n');
    }
    assert_same(&out, Format::Ndjson, false);
}

#[test]
fn legacy_logs_object() {
    // Streams v1.0–v1.1 serialised the Logger object itself.
    let doc = serde_json::json!({
        "_logs": entries(),
        "_logsToPush": [{"text": "not an entry of this log", "time": "2017-01-01T00:00:00.000Z"}],
        "_echoLevel": 30,
        "_logLevel": 30,
        "_lineCount": 5
    });
    assert_same(
        &serde_json::to_vec_pretty(&doc).unwrap(),
        Format::LegacyObject,
        false,
    );
}

#[test]
fn gzip_of_each_shape() {
    assert_same(&gzip(&original()), Format::JsonArray, true);
    let mut nd = Vec::new();
    for e in entries() {
        nd.extend(serde_json::to_vec(&e).unwrap());
        nd.push(b'\n');
    }
    assert_same(&gzip(&nd), Format::Ndjson, true);
}

#[test]
fn concatenated_gzip_members() {
    let bytes = original();
    let (a, b) = bytes.split_at(bytes.len() / 2);
    let mut both = gzip(a);
    both.extend(gzip(b));
    assert_same(&both, Format::JsonArray, true);
}

#[test]
fn bom_and_crlf() {
    let text = String::from_utf8(original()).unwrap().replace('\n', "\r\n");
    let mut bytes = vec![0xef, 0xbb, 0xbf];
    bytes.extend(text.as_bytes());
    assert_same(&bytes, Format::JsonArray, false);
}

#[test]
fn epoch_millisecond_times_and_absent_optional_fields() {
    let mut list = entries();
    for e in &mut list {
        let obj = e.as_object_mut().unwrap();
        let iso = obj["time"].as_str().unwrap().to_string();
        let ms = ccp_disconnect_core::time::parse_iso8601(&iso).unwrap();
        obj.insert("time".into(), Value::from(ms));
        for optional in [
            "exception",
            "line",
            "agentResourceId",
            "loggerId",
            "tabId",
            "contextLayer",
        ] {
            obj.remove(optional);
        }
        obj.insert("component".into(), Value::Null);
    }
    assert_same(
        &serde_json::to_vec(&list).unwrap(),
        Format::JsonArray,
        false,
    );
}

#[test]
fn any_read_size_gives_the_same_document() {
    let bytes = original();
    let whole = classify_bytes(&bytes).to_json_line();
    for step in [1, 2, 3, 7, 64, 4093] {
        let doc = ccp_disconnect_core::classify(
            Trickle { data: &bytes, step },
            Default::default(),
            &Default::default(),
        )
        .unwrap();
        assert_eq!(doc.to_json_line(), whole, "read size {step}");
    }
    let gz = gzip(&bytes);
    let doc = ccp_disconnect_core::classify(
        Trickle { data: &gz, step: 5 },
        Default::default(),
        &Default::default(),
    )
    .unwrap();
    let mut expect: Value = serde_json::from_slice(&whole).unwrap();
    expect["log"]["gzip"] = Value::Bool(true);
    assert_eq!(serde_json::to_value(&doc).unwrap(), expect);
}

#[test]
fn same_input_same_bytes() {
    let a = classify_bytes(&original()).to_json_line();
    let b = classify_bytes(&original()).to_json_line();
    assert_eq!(a, b);
}

#[test]
fn entry_order_within_a_second_does_not_change_verdicts() {
    // Layers merge about 1 s apart: swap neighbours less than 1 s apart.
    let mut list = entries();
    let time =
        |v: &Value| ccp_disconnect_core::time::parse_iso8601(v["time"].as_str().unwrap()).unwrap();
    let mut i = 0;
    let mut swapped = 0;
    while i + 1 < list.len() {
        if (time(&list[i + 1]) - time(&list[i])).abs() < 1000
            && time(&list[i + 1]) != time(&list[i])
        {
            list.swap(i, i + 1);
            swapped += 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    assert!(
        swapped > 50,
        "the scenario should give many swaps, got {swapped}"
    );
    let doc = classify_bytes(&serde_json::to_vec(&list).unwrap());
    let strip = |v: Vec<(String, String, String, String, Vec<u64>)>| {
        v.into_iter()
            .map(|(a, b, c, d, _)| (a, b, c, d))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(verdicts(&doc)), strip(reference()));
}
