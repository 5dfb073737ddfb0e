//! The handler in-process, for every trigger shape, against a real
//! S3-compatible server (moto on 127.0.0.1).
use std::time::Duration;

use crate::lambda_support::*;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::primitives::ByteStream;
use ccp_disconnect_lambda::{Config, Handler, InvocationError, ObjectError, RecordFailure};
use serde_json::{Value, json};

const BUCKET: &str = "ccp-logs-example";
const KEY: &str = "uploads/agent-log.txt";
const RESULT_KEY: &str = "results/uploads/agent-log.txt.json";
/// The report page beside the result (`HTML_REPORTS` is on by default).
const HTML_KEY: &str = "results/uploads/agent-log.txt.html";

async fn setup() -> (Moto, aws_sdk_s3::Client, Handler) {
    let moto = Moto::start();
    let s3 = moto.client();
    create_bucket(&s3, BUCKET).await;
    let handler = quiet_handler(s3.clone(), Config::default());
    (moto, s3, handler)
}

#[tokio::test]
async fn s3_put_writes_the_result_next_to_the_log() {
    let (_moto, s3, handler) = setup().await;
    let log = two_call_log();
    put(&s3, BUCKET, KEY, &log).await;

    let response = handler
        .handle(s3_put_event(BUCKET, "uploads%2Fagent-log.txt"), "req-1")
        .await
        .unwrap();
    assert_eq!(response["written"], 1);
    assert_eq!(response["failed"], 0);

    let doc = result_doc(&s3, BUCKET, RESULT_KEY).await;
    assert_two_call_verdicts(&doc);
    assert_eq!(doc["source"]["bucket"], BUCKET);
    assert_eq!(doc["source"]["key"], KEY);
    assert_eq!(doc["source"]["size"], log.len() as u64);
    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        doc["source"]["etag"],
        head.e_tag().unwrap().trim_matches('"')
    );
    assert_eq!(doc["log"]["gzip"], false);

    // The streamed read gives exactly what the core gives for the same bytes.
    let source = ccp_disconnect_core::Source {
        bucket: Some(BUCKET.into()),
        key: Some(KEY.into()),
        etag: head.e_tag().map(|e| e.trim_matches('"').to_owned()),
        size: Some(log.len() as u64),
        ..Default::default()
    };
    let direct =
        ccp_disconnect_core::classify(&log[..], source, &ccp_disconnect_core::Options::default())
            .unwrap();
    let (stored, _) = get(&s3, BUCKET, RESULT_KEY).await.unwrap();
    assert_eq!(stored, direct.to_json_line());
    assert_eq!(
        list_keys(&s3, BUCKET).await,
        vec![HTML_KEY.to_owned(), RESULT_KEY.to_owned(), KEY.to_owned()]
    );
}

#[tokio::test]
async fn url_encoded_keys_are_decoded() {
    let (_moto, s3, handler) = setup().await;
    // (key as stored, key as an S3 notification writes it), encoded by hand.
    let cases = [
        ("uploads/agent-log (1).txt", "uploads/agent-log+%281%29.txt"),
        ("uploads/a+b.txt", "uploads/a%2Bb.txt"),
        (
            "uploads/café 日志/100% sure.txt",
            "uploads%2Fcaf%C3%A9+%E6%97%A5%E5%BF%97%2F100%25+sure.txt",
        ),
    ];
    for (key, _) in cases {
        put(&s3, BUCKET, key, &two_call_log()).await;
    }
    let event = s3_event(
        cases
            .iter()
            .map(|(_, raw)| s3_record(BUCKET, raw))
            .collect(),
    );
    let response = handler.handle(event, "req-keys").await.unwrap();
    assert_eq!(response["written"], 3, "{response}");
    for (key, _) in cases {
        let doc = result_doc(&s3, BUCKET, &format!("results/{key}.json")).await;
        assert_eq!(doc["source"]["key"], key);
        assert_two_call_verdicts(&doc);
    }
    // No object was created under a still-encoded name.
    assert!(
        list_keys(&s3, BUCKET)
            .await
            .iter()
            .all(|k| !k.contains('%') || k.contains("100% sure"))
    );
}

#[tokio::test]
async fn result_objects_are_never_processed() {
    let (_moto, s3, handler) = setup().await;
    put(&s3, BUCKET, RESULT_KEY, b"{}\n").await;
    let response = handler
        .handle(
            s3_put_event(BUCKET, "results%2Fuploads%2Fagent-log.txt.json"),
            "req-guard",
        )
        .await
        .unwrap();
    assert_eq!(response["skipped"], 1);
    assert_eq!(response["written"], 0);
    assert_eq!(list_keys(&s3, BUCKET).await, vec![RESULT_KEY.to_owned()]);
    // The stored object is untouched.
    assert_eq!(get(&s3, BUCKET, RESULT_KEY).await.unwrap().0, b"{}\n");
}

#[tokio::test]
async fn results_bucket_elsewhere() {
    let (_moto, s3, _) = setup().await;
    create_bucket(&s3, "ccp-results").await;
    let config = Config {
        results_bucket: Some("ccp-results".into()),
        results_prefix: "out/".into(),
        ..Config::default()
    };
    let handler = quiet_handler(s3.clone(), config);
    // With results in another bucket, `results/` in the source bucket is input.
    put(&s3, BUCKET, "results/agent-log.txt", &two_call_log()).await;
    handler
        .handle(s3_put_event(BUCKET, "results/agent-log.txt"), "r")
        .await
        .unwrap();
    let doc = result_doc(&s3, "ccp-results", "out/results/agent-log.txt.json").await;
    assert_two_call_verdicts(&doc);
    assert_eq!(doc["source"]["bucket"], BUCKET);
    assert_eq!(
        list_keys(&s3, BUCKET).await,
        vec!["results/agent-log.txt".to_owned()]
    );
    // An object under the prefix of the results bucket is skipped.
    let response = handler
        .handle(
            s3_put_event("ccp-results", "out/results/agent-log.txt.json"),
            "r2",
        )
        .await
        .unwrap();
    assert_eq!(response["skipped"], 1);
}

#[tokio::test]
async fn unreadable_log_gets_a_rejected_result_and_no_retry() {
    let (_moto, s3, handler) = setup().await;
    put(
        &s3,
        BUCKET,
        "uploads/notes.txt",
        b"call the customer back tomorrow\n",
    )
    .await;
    let response = handler
        .handle(s3_put_event(BUCKET, "uploads/notes.txt"), "req-rej")
        .await
        .unwrap();
    assert_eq!(response["written"], 1);
    let doc = result_doc(&s3, BUCKET, "results/uploads/notes.txt.json").await;
    assert_eq!(doc["status"], "rejected");
    assert_eq!(doc["error"]["kind"], "not_json");
    assert_eq!(doc["calls"], json!([]));
    assert_eq!(doc["source"]["key"], "uploads/notes.txt");
}

#[tokio::test]
async fn object_over_the_size_cap_is_rejected_unread() {
    let (_moto, s3, _) = setup().await;
    let handler = quiet_handler(
        s3.clone(),
        Config {
            max_object_bytes: 100,
            ..Config::default()
        },
    );
    let log = two_call_log();
    assert!(log.len() > 100);
    put(&s3, BUCKET, KEY, &log).await;
    handler
        .handle(s3_put_event(BUCKET, KEY), "req-big")
        .await
        .unwrap();
    let doc = result_doc(&s3, BUCKET, RESULT_KEY).await;
    assert_eq!(doc["status"], "rejected");
    assert_eq!(doc["error"]["kind"], "too_large");
    assert_eq!(doc["source"]["size"], log.len() as u64);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MAX_OBJECT_BYTES")
    );

    // The cap also bounds decompressed bytes: a small gzip of a bigger log.
    let handler = quiet_handler(
        s3.clone(),
        Config {
            max_object_bytes: 1000,
            ..Config::default()
        },
    );
    let big = ccp_log(&[(AGENT_CALL, Ending::Agent); 5]);
    let packed = gzip(&big);
    assert!(
        packed.len() < 1000 && big.len() > 1000,
        "{} {}",
        packed.len(),
        big.len()
    );
    put(&s3, BUCKET, "uploads/big.txt.gz", &packed).await;
    handler
        .handle(s3_put_event(BUCKET, "uploads/big.txt.gz"), "req-bomb")
        .await
        .unwrap();
    let doc = result_doc(&s3, BUCKET, "results/uploads/big.txt.gz.json").await;
    assert_eq!(doc["status"], "rejected");
    assert_eq!(doc["error"]["kind"], "too_large");
}

#[tokio::test]
async fn missing_object_is_logged_and_succeeds() {
    let (_moto, s3, handler) = setup().await;
    let response = handler
        .handle(s3_put_event(BUCKET, "uploads/gone.txt"), "req-gone")
        .await
        .unwrap();
    assert_eq!(response["missing"], 1);
    assert_eq!(response["failed"], 0);
    assert!(list_keys(&s3, BUCKET).await.is_empty());
}

#[tokio::test]
async fn gzip_by_content_and_by_content_encoding() {
    let (_moto, s3, handler) = setup().await;
    let packed = gzip(&two_call_log());
    put(&s3, BUCKET, "uploads/agent-log.txt.gz", &packed).await;
    s3.put_object()
        .bucket(BUCKET)
        .key("uploads/encoded.txt")
        .content_encoding("gzip")
        .content_type("text/plain")
        .body(ByteStream::from(packed.clone()))
        .send()
        .await
        .unwrap();
    let event = s3_event(vec![
        s3_record(BUCKET, "uploads/agent-log.txt.gz"),
        s3_record(BUCKET, "uploads/encoded.txt"),
    ]);
    handler.handle(event, "req-gz").await.unwrap();
    for key in [
        "results/uploads/agent-log.txt.gz.json",
        "results/uploads/encoded.txt.json",
    ] {
        let doc = result_doc(&s3, BUCKET, key).await;
        assert_two_call_verdicts(&doc);
        assert_eq!(doc["log"]["gzip"], true, "{key}");
        assert_eq!(doc["source"]["size"], packed.len() as u64);
    }
}

#[tokio::test]
async fn duplicate_delivery_writes_identical_bytes() {
    let (_moto, s3, handler) = setup().await;
    put(&s3, BUCKET, KEY, &two_call_log()).await;
    handler
        .handle(s3_put_event(BUCKET, KEY), "first")
        .await
        .unwrap();
    let (first, _) = get(&s3, BUCKET, RESULT_KEY).await.unwrap();
    // Overwrite the result with something else, so the second write is seen.
    put(&s3, BUCKET, RESULT_KEY, b"stale").await;
    handler
        .handle(s3_put_event(BUCKET, KEY), "second")
        .await
        .unwrap();
    let (second, _) = get(&s3, BUCKET, RESULT_KEY).await.unwrap();
    assert_eq!(first, second);
    assert_two_call_verdicts(&serde_json::from_slice(&second).unwrap());
}

#[tokio::test]
async fn versioned_bucket_records_the_version_read() {
    let (_moto, s3, handler) = setup().await;
    s3.put_bucket_versioning()
        .bucket(BUCKET)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let v1 = s3
        .put_object()
        .bucket(BUCKET)
        .key(KEY)
        .body(ByteStream::from(two_call_log()))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    // A newer version that is not a log: the event names v1, so v1 is read.
    put(&s3, BUCKET, KEY, b"not a log").await;
    let mut event = s3_put_event(BUCKET, KEY);
    event["Records"][0]["s3"]["object"]["versionId"] = json!(v1);
    handler.handle(event, "req-v").await.unwrap();
    let doc = result_doc(&s3, BUCKET, RESULT_KEY).await;
    assert_two_call_verdicts(&doc);
    assert_eq!(doc["source"]["version_id"], v1.as_str());
}

#[tokio::test]
async fn sqs_partial_batch_failure() {
    let (_moto, s3, handler) = setup().await;
    put(&s3, BUCKET, KEY, &two_call_log()).await;
    put(&s3, BUCKET, "uploads/b log.txt", &two_call_log()).await;
    let plain = s3_put_event(BUCKET, "uploads%2Fagent-log.txt").to_string();
    let via_sns = sns_envelope(&s3_put_event(BUCKET, "uploads/b+log.txt").to_string());
    let no_bucket = s3_put_event("no-such-bucket-here", KEY).to_string();
    let gone = s3_put_event(BUCKET, "uploads/deleted.txt").to_string();
    let event = sqs_event(vec![
        sqs_message("m-test", &s3_test_event(BUCKET)),
        sqs_message("m-plain", &plain),
        sqs_message("m-bucket", &no_bucket),
        sqs_message("m-sns", &via_sns),
        sqs_message("m-garbage", "this is not an event"),
        sqs_message("m-gone", &gone),
    ]);
    let response = handler.handle(event, "req-sqs").await.unwrap();
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "m-bucket"}, {"itemIdentifier": "m-garbage"}]})
    );
    assert_two_call_verdicts(&result_doc(&s3, BUCKET, RESULT_KEY).await);
    assert_two_call_verdicts(&result_doc(&s3, BUCKET, "results/uploads/b log.txt.json").await);
}

#[tokio::test]
async fn eventbridge_object_created() {
    let (_moto, s3, handler) = setup().await;
    put(&s3, BUCKET, KEY, &two_call_log()).await;
    // A key whose `+` is literal: the decoded form is tried first, then the key as written.
    put(&s3, BUCKET, "uploads/a+b log.txt", &two_call_log()).await;
    handler
        .handle(eventbridge_event(BUCKET, KEY), "eb-1")
        .await
        .unwrap();
    assert_two_call_verdicts(&result_doc(&s3, BUCKET, RESULT_KEY).await);
    let response = handler
        .handle(eventbridge_event(BUCKET, "uploads/a+b log.txt"), "eb-2")
        .await
        .unwrap();
    assert_eq!(response["written"], 1);
    let doc = result_doc(&s3, BUCKET, "results/uploads/a+b log.txt.json").await;
    assert_eq!(doc["source"]["key"], "uploads/a+b log.txt");

    let mut other = eventbridge_event(BUCKET, KEY);
    other["detail-type"] = json!("Object Deleted");
    let response = handler.handle(other, "eb-3").await.unwrap();
    assert_eq!(response["ignored"], 1);
    assert_eq!(response["written"], 0);
}

fn batch_results(response: &Value) -> Vec<(String, String)> {
    response["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["taskId"].as_str().unwrap().to_owned(),
                r["resultCode"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn batch_operations_schema_1() {
    let (_moto, s3, handler) = setup().await;
    put(&s3, BUCKET, KEY, &two_call_log()).await;
    put(
        &s3,
        BUCKET,
        RESULT_KEY.replace("agent-log", "old").as_str(),
        b"{}",
    )
    .await;
    let arn = format!("arn:aws:s3:::{BUCKET}");
    let event = json!({
        "invocationSchemaVersion": "1.0",
        "invocationId": "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
        "job": {"id": "f3cc4f60-61f6-4a2b-8a21-d07600c373ce"},
        "tasks": [
            {"taskId": "t-ok", "s3Key": KEY, "s3VersionId": null, "s3BucketArn": arn},
            {"taskId": "t-missing", "s3Key": "uploads/nothing.txt", "s3VersionId": null, "s3BucketArn": arn},
            {"taskId": "t-bucket", "s3Key": KEY, "s3VersionId": null, "s3BucketArn": "arn:aws:s3:::no-such-bucket-here"},
            {"taskId": "t-result", "s3Key": "results/uploads/old.txt.json", "s3VersionId": null, "s3BucketArn": arn},
            {"taskId": "t-nokey", "s3BucketArn": arn}
        ]
    });
    let response = handler.handle(event, "batch-1").await.unwrap();
    assert_eq!(response["invocationSchemaVersion"], "1.0");
    assert_eq!(
        response["invocationId"],
        "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo"
    );
    assert_eq!(response["treatMissingKeysAs"], "PermanentFailure");
    let strings = |id: &str| {
        response["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["taskId"] == id)
            .unwrap()["resultString"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        batch_results(&response),
        [
            ("t-ok", "Succeeded"),
            ("t-missing", "PermanentFailure"),
            ("t-bucket", "PermanentFailure"),
            ("t-result", "Succeeded"),
            ("t-nokey", "PermanentFailure"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert!(strings("t-ok").contains(RESULT_KEY), "{}", strings("t-ok"));
    assert!(strings("t-result").starts_with("skipped"));
    assert_two_call_verdicts(&result_doc(&s3, BUCKET, RESULT_KEY).await);
}

#[tokio::test]
async fn batch_operations_schema_2_and_temporary_failure() {
    let (_moto, s3, handler) = setup().await;
    put(&s3, BUCKET, "uploads/agent-log (1).txt", &two_call_log()).await;
    let event = |bucket: &str| {
        json!({
            "invocationSchemaVersion": "2.0",
            "invocationId": "Jr3s8KZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZzatx7Ruy",
            "job": {"id": "ry77cd60-61f6-4a2b-8a21-d07600c874gf", "userArguments": {"note": "backfill"}},
            "tasks": [
                {"taskId": "t-enc", "s3Key": "uploads/agent-log+%281%29.txt", "s3VersionId": null, "s3Bucket": bucket}
            ]
        })
    };
    let response = handler.handle(event(BUCKET), "batch-2").await.unwrap();
    assert_eq!(response["invocationSchemaVersion"], "2.0");
    assert_eq!(
        batch_results(&response),
        [("t-enc".to_owned(), "Succeeded".to_owned())]
    );
    let doc = result_doc(&s3, BUCKET, "results/uploads/agent-log (1).txt.json").await;
    assert_two_call_verdicts(&doc);

    // An S3 endpoint that refuses connections: a transient failure.
    let dead = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(REGION))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "a", "b", None, None, "t",
        ))
        .endpoint_url(format!("http://127.0.0.1:{}", free_port()))
        .force_path_style(true)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .http_client(ccp_disconnect_lambda::https_client())
        .build();
    let handler = quiet_handler(aws_sdk_s3::Client::from_conf(dead), Config::default());
    let response = handler.handle(event(BUCKET), "batch-3").await.unwrap();
    assert_eq!(
        batch_results(&response),
        [("t-enc".to_owned(), "TemporaryFailure".to_owned())]
    );
}

#[tokio::test]
async fn failures_fail_direct_invocations() {
    let (_moto, s3, handler) = setup().await;
    put(&s3, BUCKET, KEY, &two_call_log()).await;
    let event = s3_event(vec![
        s3_record("no-such-bucket-here", KEY),
        s3_record(BUCKET, KEY),
    ]);
    let err = handler.handle(event, "req-fail").await.unwrap_err();
    assert_eq!(err.error_type(), "ObjectsFailed");
    // One of the two records failed, the missing bucket, and permanently:
    // S3's own error code, not a retryable transport failure.
    match &err {
        InvocationError::ObjectsFailed {
            records: 2,
            failures,
        } => match &failures[..] {
            [RecordFailure::Object(ObjectError::Get { object, cause })] => {
                assert_eq!(object.bucket, "no-such-bucket-here");
                assert_eq!(cause.code.as_deref(), Some("NoSuchBucket"), "{cause:?}");
                assert_eq!(cause.status, Some(404), "{cause:?}");
                assert!(!cause.retryable);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    assert!(err.message().contains("no-such-bucket-here"), "{err}");
    // The good record was still processed.
    assert_two_call_verdicts(&result_doc(&s3, BUCKET, RESULT_KEY).await);

    let err = handler
        .handle(json!({"hello": "world"}), "req-unknown")
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "UnrecognizedEvent");
    assert!(
        matches!(err, InvocationError::UnrecognizedEvent { .. }),
        "{err:?}"
    );

    // An input key so long that its result key would exceed S3's 1,024
    // bytes: a permanent failure, said plainly, before anything is read.
    let long_key = format!("uploads/{}.txt", "k".repeat(1004));
    put(&s3, BUCKET, &long_key, &two_call_log()).await;
    let err = handler
        .handle(s3_put_event(BUCKET, &long_key), "req-long")
        .await
        .unwrap_err();
    match &err {
        InvocationError::ObjectsFailed { failures, .. } => match &failures[..] {
            [RecordFailure::Object(e @ ObjectError::ResultKeyTooLong { bytes: 1029, .. })] => {
                assert!(!e.retryable());
                assert_eq!(e.object().key, long_key);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    assert!(
        err.message().contains("result key would be 1029 bytes"),
        "{err}"
    );

    // Not ObjectCreated: acknowledged, nothing read.
    let mut removed = s3_put_event(BUCKET, KEY);
    removed["Records"][0]["eventName"] = json!("ObjectRemoved:Delete");
    let response = handler.handle(removed, "req-removed").await.unwrap();
    assert_eq!(response["ignored"], 1);
}

#[tokio::test]
async fn a_spooled_result_is_the_same_bytes_and_leaves_no_file() {
    let (_moto, s3, handler) = setup().await;
    put(&s3, BUCKET, KEY, &two_call_log()).await;
    handler
        .handle(s3_put_event(BUCKET, KEY), "req-mem")
        .await
        .unwrap();
    let in_memory = get(&s3, BUCKET, RESULT_KEY).await.unwrap().0;

    // Every result spooled through a temporary file.
    let spooling = quiet_handler(
        s3.clone(),
        Config {
            spool_results_over_bytes: 0,
            ..Config::default()
        },
    );
    s3.delete_object()
        .bucket(BUCKET)
        .key(RESULT_KEY)
        .send()
        .await
        .unwrap();
    spooling
        .handle(s3_put_event(BUCKET, KEY), "req-spool")
        .await
        .unwrap();
    let spooled = get(&s3, BUCKET, RESULT_KEY).await.unwrap().0;
    assert_eq!(spooled, in_memory);
    assert_two_call_verdicts(&serde_json::from_slice(&spooled).unwrap());

    let prefix = format!("ccp-disconnect-{}-", std::process::id());
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "spool files left behind: {left:?}");
}
