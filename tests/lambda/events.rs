//! The sample trigger events in `events/` are read as the trigger they
//! claim to be, and each one, run through the handler against moto with the
//! bundled sample log, does what `docs/lambda.md` says.
use crate::support::repo_root;

use crate::lambda_support::*;
use ccp_disconnect_lambda::Config;
use ccp_disconnect_lambda::trigger::{Item, KeyEncoding, ObjectRef, Trigger, parse_trigger};
use serde_json::Value;

const BUCKET: &str = "ccp-logs-example";
const KEY: &str = "uploads/agent-log.txt";
const RESULT_KEY: &str = "results/uploads/agent-log.txt.json";

fn sample(name: &str) -> Value {
    let path = repo_root().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The sample notifications carry S3's sequencer; Batch tasks have none.
const SEQUENCER: Option<&str> = Some("0055AED6DCD90281E5");

fn names_the_sample_object(items: &[Item], encoding: KeyEncoding, sequencer: Option<&str>) {
    assert_eq!(
        items,
        [Item::Object(ObjectRef {
            bucket: BUCKET.into(),
            raw_key: KEY.into(),
            encoding,
            version_id: None,
            sequencer: sequencer.map(Into::into),
        })]
    );
}

#[test]
fn samples_are_recognised() {
    let Trigger::Notification {
        source: "s3",
        items,
    } = parse_trigger(&sample("s3-put.json")).unwrap()
    else {
        panic!("s3-put.json")
    };
    names_the_sample_object(&items, KeyEncoding::UrlEncoded, SEQUENCER);

    for name in ["sqs-s3.json", "sqs-sns-s3.json"] {
        let Trigger::Queue { messages } = parse_trigger(&sample(name)).unwrap() else {
            panic!("{name}")
        };
        assert_eq!(messages.len(), 1, "{name}");
        names_the_sample_object(&messages[0].items, KeyEncoding::UrlEncoded, SEQUENCER);
    }

    let Trigger::Queue { messages } = parse_trigger(&sample("s3-test-event.json")).unwrap() else {
        panic!()
    };
    assert!(matches!(messages[0].items[..], [Item::Ignored { .. }]));

    let Trigger::Notification {
        source: "eventbridge",
        items,
    } = parse_trigger(&sample("eventbridge-object-created.json")).unwrap()
    else {
        panic!("eventbridge-object-created.json")
    };
    names_the_sample_object(&items, KeyEncoding::Ambiguous, SEQUENCER);

    for (name, version) in [
        ("batch-operations-1.0.json", "1.0"),
        ("batch-operations-2.0.json", "2.0"),
    ] {
        let Trigger::Batch(batch) = parse_trigger(&sample(name)).unwrap() else {
            panic!("{name}")
        };
        assert_eq!(batch.schema_version, version);
        assert_eq!(batch.tasks.len(), 1);
        let object = batch.tasks[0].object.clone().unwrap();
        names_the_sample_object(&[Item::Object(object)], KeyEncoding::Ambiguous, None);
    }
}

#[tokio::test]
async fn samples_run_end_to_end_with_the_bundled_log() {
    let moto = Moto::start();
    let s3 = moto.client();
    create_bucket(&s3, BUCKET).await;
    let log = std::fs::read(repo_root().join("events/agent-log.txt")).unwrap();
    put(&s3, BUCKET, KEY, &log).await;
    let handler = quiet_handler(s3.clone(), Config::default());

    // Hand-labelled verdicts for the sample log (kept with the log).
    let expected = sample("agent-log.expected.json");
    let mut want: Vec<(String, String)> = expected["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["contact_id"].as_str().unwrap().to_owned(),
                c["disconnected_by"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    want.sort();

    let mut first_bytes: Option<Vec<u8>> = None;
    for name in [
        "s3-put.json",
        "sqs-s3.json",
        "sqs-sns-s3.json",
        "eventbridge-object-created.json",
        "batch-operations-1.0.json",
        "batch-operations-2.0.json",
    ] {
        let response = handler.handle(sample(name), name).await.unwrap();
        if let Some(results) = response.get("results") {
            assert_eq!(results[0]["resultCode"], "Succeeded", "{name}: {response}");
        } else if let Some(failures) = response.get("batchItemFailures") {
            assert_eq!(failures.as_array().unwrap().len(), 0, "{name}: {response}");
        } else {
            assert_eq!(response["written"], 1, "{name}: {response}");
        }
        let (bytes, _) = get(&s3, BUCKET, RESULT_KEY).await.unwrap();
        // Every trigger gives the same result object, byte for byte.
        match &first_bytes {
            None => first_bytes = Some(bytes),
            Some(first) => assert_eq!(first, &bytes, "{name}"),
        }
    }
    let doc = result_doc(&s3, BUCKET, RESULT_KEY).await;
    assert_eq!(doc["status"], "ok");
    assert_eq!(doc["source"]["size"], log.len() as u64);
    let mut got: Vec<(String, String)> = doc["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["contact_id"].as_str().unwrap().to_owned(),
                c["disconnected_by"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(got, want);

    // The test event: acknowledged, nothing written.
    let response = handler
        .handle(sample("s3-test-event.json"), "test-event")
        .await
        .unwrap();
    assert_eq!(response["batchItemFailures"], serde_json::json!([]));
    assert_eq!(
        list_keys(&s3, BUCKET).await,
        vec![
            "results/uploads/agent-log.txt.html".to_owned(),
            RESULT_KEY.to_owned(),
            KEY.to_owned()
        ]
    );
}
