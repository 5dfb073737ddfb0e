//! The HTML report beside each result (`HTML_REPORTS`), against a real
//! S3-compatible server (moto): the page is the core's rendering of the
//! document of the whole log, served to display in a browser, written with
//! the same guarantees as the JSON (idempotent, never older over newer), and
//! only when switched on.
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::lambda_support::fault_proxy::{Fault, FaultProxy};
use crate::lambda_support::*;
use crate::support::repo_root;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use ccp_disconnect_core::render::html::render;
use ccp_disconnect_core::{Document, Options, Source};
use ccp_disconnect_lambda::{
    Config, Handler, InvocationError, ObjectError, RecordFailure, WriteOp,
};
use serde_json::{Value, json};

const BUCKET: &str = "ccp-logs-html";
const KEY: &str = "uploads/agent-log.txt";
const RESULT_KEY: &str = "results/uploads/agent-log.txt.json";
const HTML_KEY: &str = "results/uploads/agent-log.txt.html";
const HTML_CONTENT_TYPE: &str = "text/html; charset=utf-8";
const OLDER: &str = "0055AED6DCD90281E5";
const NEWER: &str = "0055AED6DCD90281E6";

async fn setup(config: Config) -> (Moto, aws_sdk_s3::Client, Handler) {
    let moto = Moto::start();
    let s3 = moto.client();
    create_bucket(&s3, BUCKET).await;
    let handler = quiet_handler(s3.clone(), config);
    (moto, s3, handler)
}

fn sample_log() -> Vec<u8> {
    std::fs::read(repo_root().join("events/agent-log.txt")).unwrap()
}

/// What the handler's document of `log`, stored at `KEY`, must be: the
/// core's classification of the same bytes with the same source fields.
async fn expected_document(s3: &aws_sdk_s3::Client, log: &[u8]) -> Document {
    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key(KEY)
        .send()
        .await
        .unwrap();
    let source = Source {
        bucket: Some(BUCKET.into()),
        key: Some(KEY.into()),
        version_id: head.version_id().map(str::to_owned),
        etag: head.e_tag().map(|e| e.trim_matches('"').to_owned()),
        size: Some(log.len() as u64),
        ..Default::default()
    };
    ccp_disconnect_core::classify(log, source, &Options::default()).unwrap()
}

/// The stored page's bytes, after checking it is served as a page to show.
async fn stored_page(s3: &aws_sdk_s3::Client, key: &str) -> Vec<u8> {
    let page = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("no report s3://{BUCKET}/{key}: {e:?}"));
    assert_eq!(page.content_type(), Some(HTML_CONTENT_TYPE));
    assert_eq!(page.content_disposition(), Some("inline"));
    page.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn the_page_is_the_core_rendering_of_the_whole_log() {
    let (_moto, s3, handler) = setup(Config::default()).await;
    let log = sample_log();
    put(&s3, BUCKET, KEY, &log).await;

    let response = handler
        .handle(s3_put_event(BUCKET, "uploads%2Fagent-log.txt"), "first")
        .await
        .unwrap();
    assert_eq!(response["written"], 1, "{response}");

    let document = expected_document(&s3, &log).await;
    assert!(!document.calls.is_empty(), "the sample log has calls");
    let page = stored_page(&s3, HTML_KEY).await;
    assert!(
        page == render(&document).into_bytes(),
        "the stored page is not the rendering of the document"
    );
    // The JSON beside it is the same document.
    let (json, _) = get(&s3, BUCKET, RESULT_KEY).await.unwrap();
    assert_eq!(json, document.to_json_line());
    assert_eq!(
        list_keys(&s3, BUCKET).await,
        vec![HTML_KEY.to_owned(), RESULT_KEY.to_owned(), KEY.to_owned()]
    );

    // Redelivered (twice, once through SQS): both objects are written again,
    // byte for byte the same, and nothing else appears.
    handler
        .handle(s3_put_event(BUCKET, "uploads%2Fagent-log.txt"), "again")
        .await
        .unwrap();
    let queued = sqs_event(vec![sqs_message(
        "m1",
        &s3_put_event(BUCKET, "uploads%2Fagent-log.txt").to_string(),
    )]);
    let response = handler.handle(queued, "again-sqs").await.unwrap();
    assert_eq!(response, json!({"batchItemFailures": []}));
    assert_eq!(stored_page(&s3, HTML_KEY).await, page);
    assert_eq!(get(&s3, BUCKET, RESULT_KEY).await.unwrap().0, json);
    assert_eq!(list_keys(&s3, BUCKET).await.len(), 3);
}

#[tokio::test]
async fn switched_off_no_page_is_written() {
    let config = Config {
        html_reports: false,
        ..Config::default()
    };
    let (_moto, s3, handler) = setup(config).await;
    put(&s3, BUCKET, KEY, &sample_log()).await;
    let response = handler
        .handle(s3_put_event(BUCKET, KEY), "off")
        .await
        .unwrap();
    assert_eq!(response["written"], 1, "{response}");
    assert_eq!(
        list_keys(&s3, BUCKET).await,
        vec![RESULT_KEY.to_owned(), KEY.to_owned()]
    );
}

#[tokio::test]
async fn a_rejected_log_gets_its_page_too() {
    let config = Config {
        // Small enough for the second object to be refused unread.
        max_object_bytes: 1000,
        ..Config::default()
    };
    let (_moto, s3, handler) = setup(config).await;
    let notes = b"shopping list\nmilk\n".to_vec();
    put(&s3, BUCKET, KEY, &notes).await;
    put(&s3, BUCKET, "uploads/big.txt", &sample_log()).await;
    let event = s3_event(vec![
        s3_record(BUCKET, KEY),
        s3_record(BUCKET, "uploads/big.txt"),
    ]);
    let response = handler.handle(event, "rejected").await.unwrap();
    assert_eq!(response["written"], 2, "{response}");

    // Not a CCP log: read, rejected, and the page says so.
    let document = expected_document(&s3, &notes).await;
    let doc = result_doc(&s3, BUCKET, RESULT_KEY).await;
    assert_eq!(doc["status"], "rejected");
    let page = stored_page(&s3, HTML_KEY).await;
    assert!(page == render(&document).into_bytes());
    let text = String::from_utf8(page).unwrap();
    assert!(text.contains("class=\"rejected\""), "{text}");

    // Too large to read: rejected unread, and a page all the same.
    let doc = result_doc(&s3, BUCKET, "results/uploads/big.txt.json").await;
    assert_eq!(doc["error"]["kind"], "too_large");
    let text = String::from_utf8(stored_page(&s3, "results/uploads/big.txt.html").await).unwrap();
    assert!(text.contains("class=\"rejected\""), "{text}");
}

/// Versioned bucket: one version per ending, as `delivery` does for JSON.
async fn versioned() -> (Moto, aws_sdk_s3::Client, Handler) {
    let (moto, s3, handler) = setup(Config::default()).await;
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
    (moto, s3, handler)
}

async fn put_version(s3: &aws_sdk_s3::Client, ending: Ending) -> String {
    s3.put_object()
        .bucket(BUCKET)
        .key(KEY)
        .body(ByteStream::from(ccp_log(&[(
            "5d2f8c1e-7a3b-4c9d-8e1f-2a3b4c5d6e7f",
            ending,
        )])))
        .send()
        .await
        .unwrap()
        .version_id()
        .expect("a versioned bucket gives version ids")
        .to_owned()
}

fn versioned_event(version_id: &str, sequencer: &str) -> Value {
    s3_version_event(BUCKET, KEY, version_id, sequencer)
}

#[tokio::test]
async fn an_older_version_delivered_late_never_replaces_the_newer_page() {
    let (_moto, s3, handler) = versioned().await;
    let v1 = put_version(&s3, Ending::Agent).await;
    // A second apart, so that Last-Modified tells the versions apart too.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let v2 = put_version(&s3, Ending::Customer).await;

    handler
        .handle(versioned_event(&v2, NEWER), "v2")
        .await
        .unwrap();
    let newest = stored_page(&s3, HTML_KEY).await;
    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key(HTML_KEY)
        .send()
        .await
        .unwrap();
    let metadata = head.metadata().expect("the page is stamped");
    assert_eq!(metadata["source-sequencer"], NEWER);
    assert_eq!(metadata["source-version-id"], v2);

    // The JSON of the newer version is there: the older one's late event
    // stops at it and leaves the page alone.
    let response = handler
        .handle(versioned_event(&v1, OLDER), "v1-late")
        .await
        .unwrap();
    assert_eq!(response["skipped"], 1, "{response}");
    assert_eq!(stored_page(&s3, HTML_KEY).await, newest);

    // The page's own stamp protects it too, whatever the JSON holds: with
    // the JSON gone (deleted by hand), the older version's late event finds
    // nothing to keep there and writes its JSON, but not its page.
    s3.delete_object()
        .bucket(BUCKET)
        .key(RESULT_KEY)
        .send()
        .await
        .unwrap();
    let response = handler
        .handle(versioned_event(&v1, OLDER), "v1-later")
        .await
        .unwrap();
    assert_eq!(response["skipped"], 1, "{response}");
    assert_eq!(stored_page(&s3, HTML_KEY).await, newest);
    assert_eq!(
        result_doc(&s3, BUCKET, RESULT_KEY).await["calls"][0]["disconnected_by"],
        "agent"
    );
    // The older page would have differed (so the check above can fail).
    let older_page = {
        let other = quiet_handler(
            s3.clone(),
            Config {
                results_prefix: "older/".into(),
                ..Config::default()
            },
        );
        other
            .handle(versioned_event(&v1, OLDER), "v1-elsewhere")
            .await
            .unwrap();
        stored_page(&s3, "older/uploads/agent-log.txt.html").await
    };
    assert_ne!(older_page, newest);
}

#[tokio::test]
async fn a_failed_page_write_fails_the_object_and_the_retry_converges() {
    let moto = Moto::start();
    let direct = moto.client();
    create_bucket(&direct, BUCKET).await;
    let log = sample_log();
    put(&direct, BUCKET, KEY, &log).await;
    let proxy = FaultProxy::start(&moto.endpoint, 0.0, 7);
    let captured = Captured::default();
    let handler = Handler::with_metrics_sink(
        s3_client_quick_retries(&proxy.endpoint),
        Config::default(),
        Box::new(captured.clone()),
    );

    // The JSON's PUT gets through; every request after it fails with a 500
    // (through the SDK's own retries).
    proxy.set_faults(&[Fault::InternalError]);
    proxy.set_rate_after_first("PUT", ".json", 1.0);
    let err = handler
        .handle(s3_put_event(BUCKET, KEY), "page-fails")
        .await
        .unwrap_err();
    match &err {
        InvocationError::ObjectsFailed { failures, .. } => match &failures[..] {
            [
                RecordFailure::Object(
                    e @ ObjectError::Put {
                        op: WriteOp::PutObject,
                        result,
                        ..
                    },
                ),
            ] => {
                assert_eq!(result.key, HTML_KEY);
                assert!(e.retryable(), "{e}");
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    let (json, _) = get(&direct, BUCKET, RESULT_KEY).await.expect("the JSON");
    assert!(get(&direct, BUCKET, HTML_KEY).await.is_none());
    // Failed, not processed: the calls are counted once, when a retry works.
    assert_eq!(captured.totals(), (0, 1, 0));

    // Redelivered with S3 healthy again: both objects, byte-identical to
    // what one clean delivery writes.
    proxy.set_rate(0.0);
    let response = handler
        .handle(s3_put_event(BUCKET, KEY), "page-retry")
        .await
        .unwrap();
    assert_eq!(response["written"], 1, "{response}");
    let document = expected_document(&direct, &log).await;
    assert_eq!(get(&direct, BUCKET, RESULT_KEY).await.unwrap().0, json);
    assert_eq!(json, document.to_json_line());
    assert!(stored_page(&direct, HTML_KEY).await == render(&document).into_bytes());
    // One object, one processed log and its calls, once.
    assert_eq!(
        captured.totals(),
        (1, 0, document.summary.calls),
        "one object is one log, not one per object written"
    );
}

/// A metrics sink the test keeps a handle on.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// (LogsProcessed, LogsFailed, Calls) summed over the lines written
    /// since the last call.
    fn totals(&self) -> (u64, u64, u64) {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap());
        let mut totals = (0, 0, 0);
        for line in String::from_utf8(bytes).unwrap().lines() {
            let line: Value = serde_json::from_str(line).unwrap();
            let n = |name: &str| line[name].as_u64().unwrap_or(0);
            totals.0 += n("LogsProcessed");
            totals.1 += n("LogsFailed");
            totals.2 += n("Calls");
        }
        totals
    }
}
