//! Delivery semantics against a real S3-compatible server (moto):
//! duplicate and out-of-order events never replace a newer result with an
//! older one, and an invocation running out of time gives up cleanly,
//! retryably and without writing.
use std::time::{Duration, SystemTime};

use crate::lambda_support::fault_proxy::{Fault, FaultProxy};
use crate::lambda_support::*;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use ccp_disconnect_lambda::{Config, Handler, InvocationError, ObjectError, RecordFailure};
use serde_json::{Value, json};

const BUCKET: &str = "ccp-logs-delivery";
const KEY: &str = "uploads/agent-log.txt";
const RESULT_KEY: &str = "results/uploads/agent-log.txt.json";
const CALL: &str = "5d2f8c1e-7a3b-4c9d-8e1f-2a3b4c5d6e7f";
const OLDER: &str = "0055AED6DCD90281E5";
const NEWER: &str = "0055AED6DCD90281E6";

async fn setup() -> (Moto, aws_sdk_s3::Client, Handler) {
    let moto = Moto::start();
    let s3 = moto.client();
    create_bucket(&s3, BUCKET).await;
    s3.put_bucket_versioning()
        .bucket(BUCKET)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let handler = quiet_handler(s3.clone(), Config::default());
    (moto, s3, handler)
}

/// Uploads a version of `KEY` whose one call ends as `ending`; returns its id.
async fn put_version(s3: &aws_sdk_s3::Client, ending: Ending) -> String {
    s3.put_object()
        .bucket(BUCKET)
        .key(KEY)
        .body(ByteStream::from(ccp_log(&[(CALL, ending)])))
        .send()
        .await
        .unwrap()
        .version_id()
        .expect("a versioned bucket gives version ids")
        .to_owned()
}

fn event(version_id: &str, sequencer: &str) -> Value {
    s3_version_event(BUCKET, KEY, version_id, sequencer)
}

fn batch_task(version_id: &str) -> Value {
    json!({
        "invocationSchemaVersion": "2.0", "invocationId": "inv", "job": {"id": "job"},
        "tasks": [{"taskId": "t1", "s3Bucket": BUCKET, "s3Key": KEY, "s3VersionId": version_id}]
    })
}

async fn stored_result(s3: &aws_sdk_s3::Client) -> Vec<u8> {
    get(s3, BUCKET, RESULT_KEY).await.expect("a result").0
}

fn verdict(result: &[u8]) -> String {
    let doc: Value = serde_json::from_slice(result).unwrap();
    assert_eq!(doc["calls"][0]["contact_id"], CALL, "{doc}");
    doc["calls"][0]["disconnected_by"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_older_version_delivered_late_never_replaces_the_newer_result() {
    let (_moto, s3, handler) = setup().await;
    let v1 = put_version(&s3, Ending::Agent).await;
    // A second apart, so that Last-Modified tells the versions apart too.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let v2 = put_version(&s3, Ending::Customer).await;

    let response = handler.handle(event(&v2, NEWER), "v2").await.unwrap();
    assert_eq!(response["written"], 1, "{response}");
    let newest = stored_result(&s3).await;
    assert_eq!(verdict(&newest), "customer");

    // The older version's event arrives late: read, classified, not written.
    let response = handler.handle(event(&v1, OLDER), "v1-late").await.unwrap();
    assert_eq!(
        (response["written"].clone(), response["skipped"].clone()),
        (json!(0), json!(1)),
        "{response}"
    );
    assert_eq!(stored_result(&s3).await, newest);

    // A Batch Operations task for v1 has no sequencer: Last-Modified decides.
    let response = handler.handle(batch_task(&v1), "v1-batch").await.unwrap();
    assert_eq!(response["results"][0]["resultCode"], "Succeeded");
    let text = response["results"][0]["resultString"].as_str().unwrap();
    assert!(text.contains("newer version"), "{text}");
    assert_eq!(stored_result(&s3).await, newest);

    // The newer event again (a duplicate): written again, the same bytes.
    let response = handler.handle(event(&v2, NEWER), "v2-again").await.unwrap();
    assert_eq!(response["written"], 1, "{response}");
    assert_eq!(stored_result(&s3).await, newest);
}

#[tokio::test]
async fn a_newer_version_replaces_the_result_and_stamps_it() {
    let (_moto, s3, handler) = setup().await;
    let v1 = put_version(&s3, Ending::Agent).await;
    let v2 = put_version(&s3, Ending::Customer).await;

    handler.handle(event(&v1, OLDER), "v1").await.unwrap();
    assert_eq!(verdict(&stored_result(&s3).await), "agent");
    // Same second, most likely: the sequencer alone orders them.
    let response = handler.handle(event(&v2, NEWER), "v2").await.unwrap();
    assert_eq!(response["written"], 1, "{response}");
    assert_eq!(verdict(&stored_result(&s3).await), "customer");

    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key(RESULT_KEY)
        .send()
        .await
        .unwrap();
    let metadata = head.metadata().expect("result metadata");
    assert_eq!(metadata["source-sequencer"], NEWER);
    assert_eq!(metadata["source-version-id"], v2);
    let source = s3
        .head_object()
        .bucket(BUCKET)
        .key(KEY)
        .version_id(&v2)
        .send()
        .await
        .unwrap();
    assert_eq!(
        metadata["source-last-modified"],
        source.last_modified().unwrap().secs().to_string()
    );
}

#[tokio::test]
async fn a_result_written_by_a_newer_event_is_kept_and_one_without_a_stamp_is_replaced() {
    let (_moto, s3, handler) = setup().await;
    let v1 = put_version(&s3, Ending::Agent).await;

    // Another invocation already stored the result of a later event.
    s3.put_object()
        .bucket(BUCKET)
        .key(RESULT_KEY)
        .metadata("source-sequencer", "0055AED6DCD90281F0")
        .body(ByteStream::from_static(b"{\"from\":\"newer\"}\n"))
        .send()
        .await
        .unwrap();
    let response = handler.handle(event(&v1, OLDER), "late").await.unwrap();
    assert_eq!(response["skipped"], 1, "{response}");
    assert_eq!(stored_result(&s3).await, b"{\"from\":\"newer\"}\n");

    // A result with no stamp (written by hand, or by an older release)
    // orders before anything: it is replaced.
    put(&s3, BUCKET, RESULT_KEY, b"unstamped").await;
    let response = handler.handle(event(&v1, OLDER), "again").await.unwrap();
    assert_eq!(response["written"], 1, "{response}");
    assert_eq!(verdict(&stored_result(&s3).await), "agent");
}

fn after(time: Duration) -> Option<SystemTime> {
    Some(SystemTime::now() + time)
}

#[tokio::test]
async fn out_of_time_objects_fail_retryably_and_write_nothing() {
    let (moto, s3, _) = setup().await;
    put(&s3, BUCKET, KEY, &two_call_log()).await;
    let proxy = FaultProxy::start(&moto.endpoint, 1.0, 3);
    proxy.set_faults(&[Fault::Delay]);
    proxy.set_delay(Duration::from_secs(10));
    let config = Config {
        deadline_margin: Duration::from_millis(500),
        ..Config::default()
    };
    let handler = quiet_handler(s3_client(&proxy.endpoint), config);

    // Less than the margin left: nothing is even requested.
    let err = handler
        .handle_until(
            s3_put_event(BUCKET, KEY),
            "late",
            after(Duration::from_millis(100)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "ObjectsFailed");
    assert!(
        matches!(
            &err,
            InvocationError::ObjectsFailed { records: 1, failures }
                if matches!(
                    &failures[..],
                    [RecordFailure::Object(e @ ObjectError::OutOfTime { started: false, margin_ms: 500, .. })]
                        if e.retryable() && e.object().key == KEY
                )
        ),
        "{err:?}"
    );
    assert!(err.message().contains("not started"), "{err}");
    assert_eq!(proxy.counts().requests, 0);

    // S3 answers too slowly: stopped at the margin, per trigger.
    let err = handler
        .handle_until(
            s3_put_event(BUCKET, KEY),
            "slow",
            after(Duration::from_millis(1500)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            InvocationError::ObjectsFailed { records: 1, failures }
                if matches!(
                    &failures[..],
                    [RecordFailure::Object(e @ ObjectError::OutOfTime { started: true, .. })]
                        if e.retryable()
                )
        ),
        "{err:?}"
    );
    assert!(err.message().contains("stopped"), "{err}");
    let queued = sqs_event(vec![sqs_message(
        "m1",
        &s3_put_event(BUCKET, KEY).to_string(),
    )]);
    let response = handler
        .handle_until(queued, "slow-sqs", after(Duration::from_millis(1500)))
        .await
        .unwrap();
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "m1"}]})
    );
    let response = handler
        .handle_until(
            json!({"invocationSchemaVersion": "2.0", "invocationId": "i", "job": {"id": "j"},
                   "tasks": [{"taskId": "t1", "s3Bucket": BUCKET, "s3Key": KEY}]}),
            "slow-batch",
            after(Duration::from_millis(1500)),
        )
        .await
        .unwrap();
    assert_eq!(response["results"][0]["resultCode"], "TemporaryFailure");

    assert_eq!(get(&s3, BUCKET, RESULT_KEY).await, None);
    assert!(proxy.counts().requests > 0);

    // The same handler, S3 prompt again, no deadline pressure: written.
    proxy.set_rate(0.0);
    let response = handler
        .handle_until(
            s3_put_event(BUCKET, KEY),
            "prompt",
            after(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    assert_eq!(response["written"], 1, "{response}");
    assert_two_call_verdicts(&result_doc(&s3, BUCKET, RESULT_KEY).await);
}

/// The race the conditional writes exist for: between this invocation
/// reading the stored result's stamp and writing its own, a concurrent
/// invocation stores the result of a newer event. The write must notice
/// (`If-Match` fails), look again, and keep the newer result.
#[tokio::test]
async fn a_newer_result_stored_mid_write_is_not_overwritten() {
    let (moto, s3, _) = setup().await;
    let v1 = put_version(&s3, Ending::Agent).await;
    let v2 = put_version(&s3, Ending::Customer).await;
    let direct = quiet_handler(s3.clone(), Config::default());
    direct.handle(event(&v1, OLDER), "v1").await.unwrap();

    let proxy = FaultProxy::start(&moto.endpoint, 0.0, 5);
    let endpoint = moto.endpoint.clone();
    proxy.after_first("HEAD", RESULT_KEY, move || {
        // The concurrent writer, on its own runtime: this runs on a proxy thread.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            s3_client(&endpoint)
                .put_object()
                .bucket(BUCKET)
                .key(RESULT_KEY)
                .metadata("source-sequencer", "0055AED6DCD90281F0")
                .body(ByteStream::from_static(
                    b"{\"from\":\"the newest event\"}\n",
                ))
                .send()
                .await
                .unwrap();
        });
    });
    let handler = quiet_handler(s3_client(&proxy.endpoint), Config::default());
    let response = handler.handle(event(&v2, NEWER), "v2").await.unwrap();
    assert_eq!(response["skipped"], 1, "{response}");
    assert_eq!(
        stored_result(&s3).await,
        b"{\"from\":\"the newest event\"}\n"
    );
}

/// A server without conditional writes (501 for `If-None-Match`/`If-Match`):
/// results are still written, and a late older version still does not
/// replace a newer result.
#[tokio::test]
async fn without_conditional_writes_the_stamp_is_still_checked() {
    let (moto, s3, _) = setup().await;
    let v1 = put_version(&s3, Ending::Agent).await;
    let v2 = put_version(&s3, Ending::Customer).await;
    let proxy = FaultProxy::start(&moto.endpoint, 0.0, 9);
    proxy.refuse_conditional_writes(true);
    let handler = quiet_handler(s3_client(&proxy.endpoint), Config::default());

    let response = handler.handle(event(&v2, NEWER), "v2").await.unwrap();
    assert_eq!(response["written"], 1, "{response}");
    let newest = stored_result(&s3).await;
    assert_eq!(verdict(&newest), "customer");
    let response = handler.handle(event(&v1, OLDER), "v1-late").await.unwrap();
    assert_eq!(response["skipped"], 1, "{response}");
    assert_eq!(stored_result(&s3).await, newest);
    assert!(proxy.counts().refused_conditional_writes >= 1);
}
