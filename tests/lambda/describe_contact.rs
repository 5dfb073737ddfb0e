//! The `DescribeContact` cross-check with the real SDK client against a
//! local endpoint that speaks DescribeContact's wire protocol (REST-JSON,
//! `GET /contacts/{InstanceId}/{ContactId}`, errors named by the
//! `X-Amzn-ErrorType` header), since moto has no DescribeContact. Each
//! contact id is given a scripted answer: found, throttled then found, not
//! found, access denied, always throttled, or too slow.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_connect::config::{Credentials, Region};
use ccp_disconnect_core::contact_records::Agreement;
use ccp_disconnect_core::{Document, Options, Source, classify};
use ccp_disconnect_lambda::contact_records::Enricher;
use serde_json::{Value, json};

use crate::lambda_support::*;

const INSTANCE: &str = "0d3c1a52-7e4b-4f0e-9a61-3b8f2c7d5e10";

// One id per scripted answer (the log's calls; see `Connect::answer`).
const FOUND: &str = "11111111-0000-4000-8000-000000000001";
const THROTTLED_ONCE: &str = "11111111-0000-4000-8000-000000000002";
const NOT_FOUND: &str = "11111111-0000-4000-8000-000000000003";
const DENIED: &str = "11111111-0000-4000-8000-000000000004";
const ALWAYS_THROTTLED: &str = "11111111-0000-4000-8000-000000000005";
const SLOW: &str = "11111111-0000-4000-8000-000000000006";

#[derive(Default)]
struct State {
    /// Requests per contact id.
    requests: Mutex<BTreeMap<String, usize>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// How long every answer waits (to make requests overlap).
    delay_ms: AtomicUsize,
    /// Paths that were not DescribeContact's.
    odd: Mutex<Vec<String>>,
    closing: AtomicBool,
}

/// The local DescribeContact endpoint.
struct Connect {
    port: u16,
    state: Arc<State>,
}

impl Connect {
    fn start() -> Connect {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let s = state.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if s.closing.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let s = s.clone();
                thread::spawn(move || serve(stream, &s));
            }
        });
        Connect { port, state }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self, id: &str) -> usize {
        self.state
            .requests
            .lock()
            .unwrap()
            .get(id)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for Connect {
    fn drop(&mut self) {
        self.state.closing.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Serves one keep-alive connection, one request after another.
fn serve(stream: TcpStream, state: &State) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    while let Some(req) = read_request(&mut reader) {
        let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let (status, error, body) = answer(&req.method, &req.path, state);
        thread::sleep(Duration::from_millis(
            state.delay_ms.load(Ordering::SeqCst) as u64
        ));
        state.in_flight.fetch_sub(1, Ordering::SeqCst);
        let body = body.to_string();
        let mut head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(code) = error {
            head.push_str(&format!("X-Amzn-ErrorType: {code}\r\n"));
        }
        head.push_str("\r\n");
        if out.write_all(head.as_bytes()).is_err() || out.write_all(body.as_bytes()).is_err() {
            return;
        }
    }
}

fn error(status: u16, code: &'static str) -> (u16, Option<&'static str>, Value) {
    (
        status,
        Some(code),
        json!({"Message": format!("{code} from the test endpoint")}),
    )
}

fn answer(method: &str, path: &str, state: &State) -> (u16, Option<&'static str>, Value) {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ["contacts", instance, id] = parts[..] else {
        state.odd.lock().unwrap().push(path.to_owned());
        return error(400, "BadRequestException");
    };
    if method != "GET" || instance != INSTANCE {
        state.odd.lock().unwrap().push(format!("{method} {path}"));
        return error(400, "BadRequestException");
    }
    let n = {
        let mut r = state.requests.lock().unwrap();
        let n = r.entry(id.to_owned()).or_default();
        *n += 1;
        *n
    };
    let contact = |reason: &str| {
        json!({"Contact": {
            "Arn": format!("arn:aws:connect:us-east-1:111122223333:instance/{INSTANCE}/contact/{id}"),
            "Id": id,
            "InitiationMethod": "INBOUND",
            "Channel": "VOICE",
            "AgentInfo": {"Id": "0c6b3e21-8d4f-4a7e-b5c2-9f1d0e3a7b64", "ConnectedToAgentTimestamp": 1.7e9},
            // Epoch seconds: the wire format of DescribeContact's timestamps.
            "InitiationTimestamp": 1_715_677_200.0,
            "LastUpdateTimestamp": 1_715_677_300.5,
            "DisconnectReason": reason,
            "DisconnectDetails": {"PotentialDisconnectIssue": "AGENT_DEVICE_ISSUE"},
            "QualityMetrics": {"Agent": {"Audio": {"QualityScore": 4.61, "PotentialQualityIssues": ["HighJitterBuffer"]}}},
            "SomethingNew": {"x": 1}
        }})
    };
    match id {
        FOUND => (200, None, contact("AGENT_DISCONNECT")),
        THROTTLED_ONCE if n == 1 => error(429, "ThrottlingException"),
        THROTTLED_ONCE => (200, None, contact("CUSTOMER_DISCONNECT")),
        NOT_FOUND => error(404, "ResourceNotFoundException"),
        DENIED => error(403, "AccessDeniedException"),
        ALWAYS_THROTTLED => error(429, "ThrottlingException"),
        SLOW => {
            thread::sleep(Duration::from_secs(5));
            (200, None, contact("AGENT_DISCONNECT"))
        }
        _ => error(404, "ResourceNotFoundException"),
    }
}

async fn enricher(connect: &Connect, budget: Duration) -> Enricher {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "tests",
        ))
        .endpoint_url(connect.endpoint())
        .http_client(ccp_disconnect_lambda::https_client())
        .load()
        .await;
    let mut e = Enricher::new(Enricher::client(&sdk, budget), INSTANCE);
    e.budget = budget;
    e
}

/// A log with one agent hang-up (`FOUND`) and customer hang-ups for the rest.
fn log(ids: &[&str]) -> Document {
    let calls: Vec<(&str, Ending)> = ids
        .iter()
        .map(|&id| {
            (
                id,
                if id == FOUND {
                    Ending::Agent
                } else {
                    Ending::Customer
                },
            )
        })
        .collect();
    classify(&ccp_log(&calls)[..], Source::default(), &Options::default()).unwrap()
}

fn block(doc: &Document, id: &str) -> (Agreement, String) {
    let b = doc
        .calls
        .iter()
        .find(|c| c.contact_id == id)
        .unwrap()
        .contact_record
        .as_ref()
        .expect("a block on every call");
    (b.agreement, b.why.clone())
}

#[tokio::test]
async fn answers_throttling_and_errors_become_blocks() {
    let connect = Connect::start();
    let e = enricher(&connect, Duration::from_secs(5)).await;
    let ids = [FOUND, THROTTLED_ONCE, NOT_FOUND, DENIED, ALWAYS_THROTTLED];
    let mut doc = log(&ids);
    e.enrich(&mut doc).await;

    // Agent hang-up, AGENT_DISCONNECT; customer hang-up, CUSTOMER_DISCONNECT
    // on the retry after a 429.
    assert_eq!(block(&doc, FOUND).0, Agreement::Agrees);
    assert_eq!(block(&doc, THROTTLED_ONCE).0, Agreement::Agrees);
    assert_eq!(connect.requests(THROTTLED_ONCE), 2);
    let found = doc.calls[0].contact_record.as_ref().unwrap();
    assert_eq!(found.agent_audio_quality_score, Some(4.61));
    assert_eq!(found.agent_audio_quality_issues, ["HighJitterBuffer"]);
    assert_eq!(
        found.potential_disconnect_issue.as_deref(),
        Some("AGENT_DEVICE_ISSUE")
    );
    assert_eq!(found.origin.as_deref(), Some("DescribeContact"));
    assert_eq!(
        found.agent_id.as_deref(),
        Some("0c6b3e21-8d4f-4a7e-b5c2-9f1d0e3a7b64")
    );

    let (a, why) = block(&doc, NOT_FOUND);
    assert_eq!(a, Agreement::Unavailable);
    assert!(why.contains("ResourceNotFoundException"), "{why}");
    // Not found and access denied are final: asked once.
    assert_eq!(connect.requests(NOT_FOUND), 1);
    let (a, why) = block(&doc, DENIED);
    assert_eq!(a, Agreement::Unavailable);
    assert!(why.contains("AccessDeniedException"), "{why}");
    assert_eq!(connect.requests(DENIED), 1);
    // Throttled to the end: the SDK's three attempts, then unavailable.
    let (a, why) = block(&doc, ALWAYS_THROTTLED);
    assert_eq!(a, Agreement::Unavailable);
    assert!(why.contains("ThrottlingException"), "{why}");
    assert_eq!(connect.requests(ALWAYS_THROTTLED), 3);

    let counts = doc.summary.contact_records.clone().unwrap();
    assert_eq!((counts.agrees, counts.unavailable), (2, 3));
    assert!(connect.state.odd.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_slow_api_costs_at_most_the_budget() {
    let connect = Connect::start();
    let budget = Duration::from_millis(800);
    let e = enricher(&connect, budget).await;
    let mut doc = log(&[FOUND, SLOW]);
    let started = Instant::now();
    e.enrich(&mut doc).await;
    let took = started.elapsed();
    // The budget plus scheduling slack, far below the 5 s the slow answer takes.
    assert!(took < budget + Duration::from_millis(700), "took {took:?}");
    assert_eq!(block(&doc, FOUND).0, Agreement::Agrees);
    let (a, why) = block(&doc, SLOW);
    assert_eq!(a, Agreement::Unavailable);
    assert!(!why.is_empty());
}

#[tokio::test]
async fn requests_in_flight_are_bounded_and_output_is_deterministic() {
    let connect = Connect::start();
    connect.state.delay_ms.store(60, Ordering::SeqCst);
    let mut e = enricher(&connect, Duration::from_secs(10)).await;
    e.concurrency = 2;
    // Twelve contacts the endpoint does not know: each a 404 after 60 ms.
    let ids: Vec<String> = (0..12)
        .map(|n| format!("22222222-0000-4000-8000-{n:012}"))
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut first = log(&refs);
    e.enrich(&mut first).await;
    assert!(connect.state.max_in_flight.load(Ordering::SeqCst) <= 2);
    assert_eq!(connect.state.max_in_flight.load(Ordering::SeqCst), 2);
    let mut second = log(&refs);
    e.concurrency = 5;
    e.enrich(&mut second).await;
    assert_eq!(first.to_json_line(), second.to_json_line());
}

/// The built function with `CONNECT_INSTANCE_ID` set writes the blocks into
/// the result object; the Connect endpoint comes from the SDK's usual
/// service-specific variable.
#[tokio::test]
async fn the_function_enriches_its_results() {
    let moto = Moto::start();
    let s3 = moto.client();
    let connect = Connect::start();
    create_bucket(&s3, "ccp-logs-records").await;
    let body = ccp_log(&[(FOUND, Ending::Agent), (NOT_FOUND, Ending::Customer)]);
    put(&s3, "ccp-logs-records", "uploads/agent-log.txt", &body).await;

    let api = RuntimeApi::start();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "ccp-disconnect")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_ENDPOINT_URL_S3", &moto.endpoint)
        .env("AWS_ENDPOINT_URL_CONNECT", connect.endpoint())
        .env("S3_FORCE_PATH_STYLE", "true")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("CONNECT_INSTANCE_ID", INSTANCE)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    api.invoke(
        "req-records",
        s3_put_event("ccp-logs-records", "uploads/agent-log.txt"),
    );
    let reply = api.reply("req-records");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(reply.kind, "response", "{reply:?}");
    let doc = result_doc(
        &s3,
        "ccp-logs-records",
        "results/uploads/agent-log.txt.json",
    )
    .await;
    let agreement = |id: &str| {
        doc["calls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["contact_id"] == id)
            .unwrap()["contact_record"]["agreement"]
            .clone()
    };
    assert_eq!(agreement(FOUND), "agrees");
    assert_eq!(agreement(NOT_FOUND), "unavailable");
    assert_eq!(doc["summary"]["contact_records"]["agrees"], 1);
}

/// A bad setting stops the function before its first invocation.
#[test]
fn a_bad_budget_is_a_configuration_error() {
    let api = RuntimeApi::start();
    let out = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "ccp-disconnect")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("CONNECT_INSTANCE_ID", INSTANCE)
        .env("CONTACT_RECORDS_BUDGET_MS", "soon")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("CONTACT_RECORDS_BUDGET_MS"), "{text}");
}

/// Least privilege in `infra/template.yaml`: the only Connect action is
/// DescribeContact, on the contacts of the one instance the parameter names,
/// granted and passed to the function only when the parameter is set.
#[test]
fn the_template_grants_describe_contact_on_one_instance_only() {
    let text =
        std::fs::read_to_string(crate::support::repo_root().join("infra/template.yaml")).unwrap();
    let connect_actions: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("- connect:") || l.contains("Action: connect:"))
        .collect();
    assert_eq!(connect_actions, ["- connect:DescribeContact"]);
    let grant = text
        .split("- Sid: DescribeContacts")
        .nth(1)
        .expect("the DescribeContacts statement");
    let resource = grant
        .lines()
        .find(|l| l.trim_start().starts_with("Resource:"))
        .unwrap()
        .trim();
    assert_eq!(
        resource,
        r#"Resource: !Sub "arn:${AWS::Partition}:connect:${AWS::Region}:${AWS::AccountId}:instance/${ConnectInstanceId}/contact/*""#
    );
    // The statement sits in an `!If` on the parameter being set.
    let before = text.split("- Sid: DescribeContacts").next().unwrap();
    assert!(
        before.trim_end().ends_with("- HasConnectInstance"),
        "not conditional"
    );
    assert!(text.contains(
        "CONNECT_INSTANCE_ID: !If [HasConnectInstance, !Ref ConnectInstanceId, !Ref AWS::NoValue]"
    ));
    assert!(text.contains(r#"HasConnectInstance: !Not [!Equals [!Ref ConnectInstanceId, ""]]"#));
}
