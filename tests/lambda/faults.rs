//! At-least-once delivery through a faulty S3: 1,000 uploaded logs, a proxy
//! in front of the S3 server failing 20% of requests (500, 503 SlowDown,
//! responses cut halfway, delays), and every failed event delivered again
//! the way Lambda and SQS would. The outcome must be exactly 1,000 results
//! and 1,000 report pages (`HTML_REPORTS`, on here), each byte for byte the
//! document (or its rendering) of the whole log: a body cut mid-stream never
//! becomes a result, and a page whose write failed after its JSON's is
//! written by the redelivery.
use std::collections::{BTreeMap, VecDeque};

use crate::lambda_support::fault_proxy::FaultProxy;
use crate::lambda_support::*;
use ccp_disconnect_core::{Options, Source};
use ccp_disconnect_lambda::Config;
use serde_json::{Value, json};
use tokio::task::JoinSet;

const BUCKET: &str = "ccp-logs-faults";
const LOGS: usize = 1000;
const FAULT_RATE: f64 = 0.20;
/// Invocations in flight at once, as a small reserved concurrency would allow.
const CONCURRENCY: usize = 8;
/// Deliveries of one event before the test gives up on it. At a 20% fault
/// rate an event needs more than a handful only with vanishing probability.
const MAX_ROUNDS: usize = 40;

fn key(i: usize) -> String {
    format!("uploads/agent {i:04}/agent-log.txt")
}

/// The calls of log `i`: one to three, endings varied, ids unique.
fn calls(i: usize) -> Vec<(String, Ending)> {
    (0..1 + i % 3)
        .map(|j| {
            let ending = if (i + j).is_multiple_of(2) {
                Ending::Agent
            } else {
                Ending::Customer
            };
            (
                format!("{i:08x}-{j:04x}-4000-8000-{:012x}", i * 31 + j),
                ending,
            )
        })
        .collect()
}

fn log(i: usize) -> Vec<u8> {
    let calls = calls(i);
    let refs: Vec<(&str, Ending)> = calls.iter().map(|(id, e)| (id.as_str(), *e)).collect();
    ccp_log(&refs)
}

/// S3 notification keys are URL-encoded: a space is `+`.
fn s3_record_for(i: usize) -> Value {
    s3_record(BUCKET, &key(i).replace(' ', "+"))
}

enum Delivery {
    /// A direct S3 notification: redelivered whole when the invocation fails.
    Notification(Vec<usize>),
    /// An SQS batch: only the messages named in `batchItemFailures` come back.
    Queue(Vec<usize>),
}

impl Delivery {
    fn payload(&self) -> Value {
        match self {
            Delivery::Notification(logs) => {
                s3_event(logs.iter().map(|&i| s3_record_for(i)).collect())
            }
            Delivery::Queue(logs) => sqs_event(
                logs.iter()
                    .map(|&i| {
                        sqs_message(
                            &format!("m{i}"),
                            &s3_event(vec![s3_record_for(i)]).to_string(),
                        )
                    })
                    .collect(),
            ),
        }
    }

    /// What must be delivered again after `response`.
    fn redeliver(self, response: Result<Value, String>) -> Option<Delivery> {
        match (self, response) {
            (Delivery::Notification(_), Ok(_)) => None,
            (d @ Delivery::Notification(_), Err(_)) => Some(d),
            (Delivery::Queue(logs), Ok(response)) => {
                let failed: Vec<usize> = response["batchItemFailures"]
                    .as_array()
                    .expect("an SQS response lists its failures")
                    .iter()
                    .map(|f| f["itemIdentifier"].as_str().unwrap()[1..].parse().unwrap())
                    .collect();
                assert!(failed.iter().all(|i| logs.contains(i)), "{response}");
                (!failed.is_empty()).then_some(Delivery::Queue(failed))
            }
            (Delivery::Queue(_), Err(e)) => {
                panic!("an SQS invocation with message ids failed as a whole: {e}")
            }
        }
    }
}

#[tokio::test]
async fn a_thousand_logs_through_twenty_percent_faults() {
    let moto = Moto::start();
    let direct = moto.client();
    create_bucket(&direct, BUCKET).await;
    let mut uploads = JoinSet::new();
    for i in 0..LOGS {
        let s3 = direct.clone();
        uploads.spawn(async move { put(&s3, BUCKET, &key(i), &log(i)).await });
    }
    uploads.join_all().await;

    let proxy = FaultProxy::start(&moto.endpoint, FAULT_RATE, 0x5eed);
    let config = Config {
        html_reports: true,
        ..Config::default()
    };
    let handler = quiet_handler(s3_client_quick_retries(&proxy.endpoint), config);

    // Half as S3 notifications of five records, half as SQS batches of ten.
    let mut pending: VecDeque<Delivery> = VecDeque::new();
    for chunk in (0..LOGS / 2).collect::<Vec<_>>().chunks(5) {
        pending.push_back(Delivery::Notification(chunk.to_vec()));
    }
    for chunk in (LOGS / 2..LOGS).collect::<Vec<_>>().chunks(10) {
        pending.push_back(Delivery::Queue(chunk.to_vec()));
    }

    let mut invocations = 0usize;
    let mut redeliveries = 0usize;
    let mut rounds = 0usize;
    while !pending.is_empty() {
        rounds += 1;
        assert!(
            rounds <= MAX_ROUNDS,
            "{} deliveries still failing after {MAX_ROUNDS} rounds",
            pending.len()
        );
        let mut next = VecDeque::new();
        let mut running = JoinSet::new();
        let mut round: Vec<Delivery> = pending.drain(..).collect();
        while !round.is_empty() || !running.is_empty() {
            while running.len() < CONCURRENCY
                && let Some(delivery) = round.pop()
            {
                let handler = handler.clone();
                invocations += 1;
                let request_id = format!("invocation-{invocations}");
                running.spawn(async move {
                    let response = handler
                        .handle(delivery.payload(), &request_id)
                        .await
                        .map_err(|e| e.to_string());
                    delivery.redeliver(response)
                });
            }
            if let Some(done) = running.join_next().await
                && let Some(again) = done.expect("an invocation panicked")
            {
                redeliveries += 1;
                next.push_back(again);
            }
        }
        pending = next;
    }

    let counts = proxy.counts();
    println!(
        "{LOGS} logs: {invocations} invocations ({redeliveries} redeliveries) over {rounds} rounds; \
         proxy: {counts:?}"
    );
    // The faults really happened, every kind of them, and some got past the
    // SDK's own retries to force redeliveries.
    assert!(
        counts.internal_error > 0 && counts.slow_down > 0,
        "{counts:?}"
    );
    assert!(
        counts.cut_mid_response > 0 && counts.delayed > 0,
        "{counts:?}"
    );
    assert!(counts.faults() * 10 > counts.requests, "{counts:?}");
    assert!(redeliveries > 0, "no fault reached the handler");

    // Exactly one result and one page per log, and nothing else.
    let mut keys = BTreeMap::new();
    let mut token = None;
    loop {
        let page = direct
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix("results/")
            .set_continuation_token(token)
            .send()
            .await
            .expect("list results");
        for object in page.contents() {
            keys.insert(object.key().unwrap().to_owned(), ());
        }
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let expected: Vec<String> = (0..LOGS)
        .flat_map(|i| [".json", ".html"].map(|suffix| format!("results/{}{suffix}", key(i))))
        .collect();
    assert_eq!(expected.len(), 2 * LOGS);
    assert_eq!(keys.keys().cloned().collect::<Vec<_>>(), {
        let mut e = expected.clone();
        e.sort();
        e
    });

    // Each result is the document of the whole log, and says what it was built to say.
    let mut checks = JoinSet::new();
    for i in 0..LOGS {
        let s3 = direct.clone();
        checks.spawn(async move { check_result(&s3, i).await });
    }
    checks.join_all().await;
}

async fn check_result(s3: &aws_sdk_s3::Client, i: usize) {
    let key = key(i);
    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key(&key)
        .send()
        .await
        .expect("head the log");
    let source = Source {
        file: None,
        bucket: Some(BUCKET.to_owned()),
        key: Some(key.clone()),
        version_id: head.version_id().map(str::to_owned),
        etag: head.e_tag().map(|e| e.trim_matches('"').to_owned()),
        size: head.content_length().map(|n| n as u64),
    };
    let document = ccp_disconnect_core::classify(&log(i)[..], source, &Options::default())
        .expect("classify the whole log");
    let whole = document.to_json_line();
    let (stored, content_type) = get(s3, BUCKET, &format!("results/{key}.json"))
        .await
        .expect("the result object");
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert!(
        stored == whole,
        "result {i} is not the document of the whole log"
    );
    let (page, content_type) = get(s3, BUCKET, &format!("results/{key}.html"))
        .await
        .expect("the report page");
    assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"));
    assert!(
        page == ccp_disconnect_core::render::html::render(&document).into_bytes(),
        "page {i} is not the rendering of the whole log's document"
    );

    let doc: Value = serde_json::from_slice(&stored).unwrap();
    let verdicts: Vec<(Value, Value)> = doc["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["contact_id"].clone(), c["disconnected_by"].clone()))
        .collect();
    let want: Vec<(Value, Value)> = calls(i)
        .into_iter()
        .map(|(id, ending)| {
            let by = match ending {
                Ending::Agent => "agent",
                Ending::Customer => "customer",
            };
            (json!(id), json!(by))
        })
        .collect();
    assert_eq!(verdicts, want, "log {i}");
}
