//! A body cut short mid-stream must never produce a result from half a log:
//! the object fails as transient (redelivered), and nothing is written.
//!
//! moto cannot cut a response, so this uses a tiny S3 stand-in that answers
//! GetObject with a `Content-Length` and then sends only part of the body.
use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use crate::lambda_support::*;
use ccp_disconnect_lambda::{Config, InvocationError, ObjectError, RecordFailure};
use serde_json::json;

/// Serves `body` for every GET, sending only `send` of its bytes before
/// closing; records the paths of PUT requests.
struct CuttingS3 {
    endpoint: String,
    puts: Arc<Mutex<Vec<String>>>,
}

impl CuttingS3 {
    fn start(body: Vec<u8>, send: usize) -> CuttingS3 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let puts = Arc::new(Mutex::new(Vec::new()));
        let seen = puts.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let body = body.clone();
                let seen = seen.clone();
                thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    while let Some(req) = read_request(&mut reader) {
                        if req.method == "GET" {
                            let head = format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nETag: \"0123456789abcdef\"\r\n\
                                 Content-Length: {}\r\n\r\n",
                                body.len()
                            );
                            let _ = writer.write_all(head.as_bytes());
                            let _ = writer.write_all(&body[..send]);
                            let _ = writer.flush();
                            return; // close mid-body (or after a full one)
                        }
                        seen.lock().unwrap().push(req.path.clone());
                        let _ = writer.write_all(
                            b"HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 0\r\n\r\n",
                        );
                    }
                });
            }
        });
        CuttingS3 { endpoint, puts }
    }
}

#[tokio::test]
async fn full_body_from_the_stand_in_is_classified() {
    // Control: the stand-in itself works when it sends everything.
    let log = two_call_log();
    let server = CuttingS3::start(log.clone(), log.len());
    let handler = quiet_handler(s3_client(&server.endpoint), Config::default());
    let response = handler
        .handle(s3_put_event("b", "uploads/agent-log.txt"), "full")
        .await
        .unwrap();
    assert_eq!(response["written"], 1, "{response}");
    // The result, then the report page (on by default).
    let puts = server.puts.lock().unwrap().clone();
    assert_eq!(puts.len(), 2, "{puts:?}");
    assert!(
        puts[0].starts_with("/b/results/uploads/agent-log.txt.json"),
        "{puts:?}"
    );
    assert!(
        puts[1].starts_with("/b/results/uploads/agent-log.txt.html"),
        "{puts:?}"
    );
}

#[tokio::test]
async fn cut_body_fails_and_writes_nothing() {
    let log = two_call_log();
    // Cut right after the first call: what was sent is a valid-looking prefix.
    let server = CuttingS3::start(log.clone(), log.len() / 2);
    let handler = quiet_handler(s3_client(&server.endpoint), Config::default());

    let err = handler
        .handle(s3_put_event("b", "uploads/agent-log.txt"), "cut-s3")
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "ObjectsFailed");
    // Half a log is a read failure worth a retry, never a rejected log.
    // (Which layer notices the short body first, the HTTP client or the
    // Content-Length check, decides the I/O error kind: not asserted.)
    match &err {
        InvocationError::ObjectsFailed { failures, .. } => match &failures[..] {
            [RecordFailure::Object(e @ ObjectError::BodyRead { .. })] => {
                assert!(e.retryable(), "{e}");
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }

    let sqs = sqs_event(vec![sqs_message(
        "m1",
        &s3_put_event("b", "uploads/agent-log.txt").to_string(),
    )]);
    let response = handler.handle(sqs, "cut-sqs").await.unwrap();
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "m1"}]})
    );

    let batch = json!({
        "invocationSchemaVersion": "1.0", "invocationId": "i", "job": {"id": "j"},
        "tasks": [{"taskId": "t1", "s3Key": "uploads/agent-log.txt", "s3VersionId": null, "s3BucketArn": "arn:aws:s3:::b"}]
    });
    let response = handler.handle(batch, "cut-batch").await.unwrap();
    assert_eq!(response["results"][0]["resultCode"], "TemporaryFailure");

    assert!(
        server.puts.lock().unwrap().is_empty(),
        "a result was written from half a log"
    );
}
