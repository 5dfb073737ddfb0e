//! The built `bootstrap` binary, served by a Lambda Runtime API emulator,
//! reading and writing a real S3-compatible server (moto).
use std::process::Command;
use std::time::Duration;

use crate::lambda_support::fault_proxy::{Fault, FaultProxy};
use crate::lambda_support::function::Function;
use crate::lambda_support::*;
use serde_json::{Value, json};

const BUCKET: &str = "ccp-logs-example";
/// moto does not check signatures, so any secret works; this one must never
/// appear in the function's output.
const LOGGED_NEVER_SECRET: &str = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";
/// Also the default `Service` dimension of the metrics.
const FUNCTION_NAME: &str = "stack-classifier";

/// The built `bootstrap` against `s3_endpoint`, with a secret that must
/// never be logged.
fn start_bootstrap(api: &RuntimeApi, s3_endpoint: &str, extra_env: &[(&str, &str)]) -> Function {
    let mut env = vec![
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", LOGGED_NEVER_SECRET),
        ("AWS_ENDPOINT_URL_S3", s3_endpoint),
        ("S3_FORCE_PATH_STYLE", "true"),
    ];
    env.extend_from_slice(extra_env);
    Function::start(env!("CARGO_BIN_EXE_bootstrap"), api, FUNCTION_NAME, &env)
}

#[tokio::test]
async fn binary_serves_s3_and_sqs_invocations() {
    let moto = Moto::start();
    let s3 = moto.client();
    create_bucket(&s3, BUCKET).await;
    put(&s3, BUCKET, "uploads/agent-log.txt", &two_call_log()).await;
    put(
        &s3,
        BUCKET,
        "uploads/agent-log (1).txt",
        &gzip(&two_call_log()),
    )
    .await;

    let api = RuntimeApi::start();
    let function = start_bootstrap(&api, &moto.endpoint, &[]);

    // 1. S3 notification.
    api.invoke("req-s3", s3_put_event(BUCKET, "uploads%2Fagent-log.txt"));
    let reply = api.reply("req-s3");
    assert_eq!(reply.kind, "response", "{reply:?}");
    assert_eq!(reply.body["written"], 1);
    assert_two_call_verdicts(&result_doc(&s3, BUCKET, "results/uploads/agent-log.txt.json").await);

    // 2. SQS: a test event, a good message, a message for a missing bucket.
    let event = sqs_event(vec![
        sqs_message("m-test", &s3_test_event(BUCKET)),
        sqs_message(
            "m-ok",
            &s3_put_event(BUCKET, "uploads/agent-log+%281%29.txt").to_string(),
        ),
        sqs_message(
            "m-bad",
            &s3_put_event("no-such-bucket-here", "x.txt").to_string(),
        ),
    ]);
    api.invoke("req-sqs", event);
    let reply = api.reply("req-sqs");
    assert_eq!(reply.kind, "response", "{reply:?}");
    assert_eq!(
        reply.body,
        json!({"batchItemFailures": [{"itemIdentifier": "m-bad"}]})
    );
    let doc = result_doc(&s3, BUCKET, "results/uploads/agent-log (1).txt.json").await;
    assert_two_call_verdicts(&doc);
    assert_eq!(doc["log"]["gzip"], true);

    // 3. A direct S3 event that fails: the invocation fails (Lambda retries it).
    api.invoke("req-fail", s3_put_event("no-such-bucket-here", "x.txt"));
    let reply = api.reply("req-fail");
    assert_eq!(reply.kind, "error", "{reply:?}");
    assert_eq!(reply.body["errorType"], "ObjectsFailed");

    // 4. Not an event this function knows.
    api.invoke("req-odd", json!({"ping": true}));
    let reply = api.reply("req-odd");
    assert_eq!(reply.kind, "error");
    assert_eq!(reply.body["errorType"], "UnrecognizedEvent");

    // 5. Still serving after errors.
    api.invoke("req-again", s3_put_event(BUCKET, "uploads/agent-log.txt"));
    assert_eq!(api.reply("req-again").kind, "response");

    let logs = function.stop();
    assert!(api.init_errors().is_empty());
    // Structured JSON lines: one summary line per object, with request id and counts.
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!lines.is_empty(), "no JSON log lines in:\n{logs}");
    let processed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "object processed")
        .collect();
    let first = processed
        .iter()
        .find(|l| l["request_id"] == "req-s3")
        .unwrap_or_else(|| panic!("no summary line for req-s3 in:\n{logs}"));
    assert_eq!(first["bucket"], BUCKET);
    assert_eq!(first["key"], "uploads/agent-log.txt");
    assert_eq!(first["calls"], 2);
    assert_eq!(first["agent"], 1);
    assert_eq!(first["customer"], 1);
    assert_eq!(first["status"], "ok");
    assert!(first["duration_ms"].is_u64());
    assert_eq!(processed.len(), 3, "{logs}");
    // The metrics (EMF) lines are in the same stream: for req-s3, one line
    // for the object and one per reason of its two calls (one agent, one
    // customer), under the default namespace and the function's name.
    let emf: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("_aws").is_some() && l["request_id"] == "req-s3")
        .collect();
    assert_eq!(emf.len(), 3, "{logs}");
    for line in &emf {
        assert_eq!(line["Service"], FUNCTION_NAME, "{line}");
        let directives = line["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert!(
            directives
                .iter()
                .all(|d| d["Namespace"] == "ccp-disconnect")
        );
        assert!(line["_aws"]["Timestamp"].is_u64(), "{line}");
    }
    assert_eq!(
        emf.iter().filter(|l| l["LogsProcessed"] == 1).count(),
        1,
        "{logs}"
    );
    let mut verdicts: Vec<(&str, u64)> = emf
        .iter()
        .filter_map(|l| Some((l["DisconnectedBy"].as_str()?, l["Calls"].as_u64()?)))
        .collect();
    verdicts.sort();
    assert_eq!(verdicts, [("agent", 1), ("customer", 1)], "{logs}");
    // No object bodies (the log's contact ids) and no credentials in logs.
    assert!(
        !logs.contains(AGENT_CALL) && !logs.contains(CUSTOMER_CALL),
        "{logs}"
    );
    assert!(!logs.contains(LOGGED_NEVER_SECRET), "{logs}");
}

/// An invocation whose S3 reads outlast its time limit ends with a clean,
/// retryable error before the deadline (not a killed process), writes
/// nothing, and the function goes on serving.
#[tokio::test]
async fn binary_gives_up_before_the_deadline_and_keeps_serving() {
    let moto = Moto::start();
    let s3 = moto.client();
    create_bucket(&s3, BUCKET).await;
    put(&s3, BUCKET, "uploads/agent-log.txt", &two_call_log()).await;
    let proxy = FaultProxy::start(&moto.endpoint, 1.0, 11);
    proxy.set_faults(&[Fault::Delay]);
    proxy.set_delay(Duration::from_secs(10));

    let api = RuntimeApi::start();
    let function = start_bootstrap(&api, &proxy.endpoint, &[("DEADLINE_MARGIN_MS", "1000")]);
    let time_limit = Duration::from_secs(3);

    api.invoke_with_deadline(
        "req-slow",
        s3_put_event(BUCKET, "uploads/agent-log.txt"),
        time_limit,
    );
    let reply = api.reply("req-slow");
    assert_eq!(reply.kind, "error", "{reply:?}");
    assert_eq!(reply.body["errorType"], "ObjectsFailed");
    let message = reply.body["errorMessage"].as_str().unwrap();
    assert!(message.contains("DEADLINE_MARGIN_MS"), "{message}");

    let queued = sqs_event(vec![sqs_message(
        "m-slow",
        &s3_put_event(BUCKET, "uploads/agent-log.txt").to_string(),
    )]);
    api.invoke_with_deadline("req-slow-sqs", queued, time_limit);
    let reply = api.reply("req-slow-sqs");
    assert_eq!(reply.kind, "response", "{reply:?}");
    assert_eq!(
        reply.body,
        json!({"batchItemFailures": [{"itemIdentifier": "m-slow"}]})
    );
    assert_eq!(
        get(&s3, BUCKET, "results/uploads/agent-log.txt.json").await,
        None
    );

    // S3 answers promptly again: the redelivered event succeeds.
    proxy.set_rate(0.0);
    api.invoke("req-again", s3_put_event(BUCKET, "uploads/agent-log.txt"));
    let reply = api.reply("req-again");
    assert_eq!(reply.kind, "response", "{reply:?}");
    assert_eq!(reply.body["written"], 1);
    assert_two_call_verdicts(&result_doc(&s3, BUCKET, "results/uploads/agent-log.txt.json").await);

    let logs = function.stop();
    let failed: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "object failed")
        .collect();
    assert_eq!(failed.len(), 2, "{logs}");
    assert!(failed.iter().all(|l| l["retryable"] == true), "{logs}");
}

#[test]
fn bad_configuration_stops_before_serving() {
    let moto_endpoint = "http://127.0.0.1:9"; // never contacted
    let api = RuntimeApi::start();
    let output = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "ccp-disconnect")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_REGION", REGION)
        .env("AWS_ENDPOINT_URL_S3", moto_endpoint)
        .env("MAX_OBJECT_BYTES", "2GB")
        .output()
        .expect("run bootstrap");
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("MAX_OBJECT_BYTES"), "{stdout}");
}
