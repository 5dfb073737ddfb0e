//! Shared helpers for the Lambda adapter tests: a real S3-compatible server
//! (moto, and s3s-fs where POST policies must be checked), an S3 client for
//! it, small CCP logs, trigger events, a Lambda Runtime API emulator and the
//! function processes it serves.

// Each test module uses a different part of this module.
#![allow(dead_code)]

pub mod fault_proxy;
pub mod function;
/// The upload API stand-in for the browser tests of `web/` (IdP, HTTP API, S3 POST
/// policies, notifications).
pub mod gateway;
pub mod s3s_fs;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use serde_json::{Value, json};

pub use crate::support::gzip;

/// The handler under test, with its metrics lines discarded. In Lambda they
/// go to standard output, which the test harness does not capture, so every
/// test would print them; the `metrics` tests give the handler a sink of
/// their own and read the lines back.
pub fn quiet_handler(
    s3: aws_sdk_s3::Client,
    config: ccp_disconnect_lambda::Config,
) -> ccp_disconnect_lambda::Handler {
    ccp_disconnect_lambda::Handler::with_metrics_sink(s3, config, Box::new(std::io::sink()))
}

pub const REGION: &str = "us-east-1";
pub const ACCESS_KEY: &str = "testing";
pub const SECRET_KEY: &str = "testing";

/// How long to wait for a server to come up or a reply to arrive before the
/// test gives up. A limit, never an assertion about speed.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A local S3-compatible server process on 127.0.0.1, killed when dropped.
pub struct LocalS3 {
    child: Child,
    pub endpoint: String,
}

impl LocalS3 {
    /// Runs `command` (`program` with the arguments that make it listen on
    /// `port`) and waits until it answers. Panics with `install_hint` when
    /// it cannot be started: these tests must not pass without the server.
    pub fn start(mut command: Command, program: &str, port: u16, install_hint: &str) -> LocalS3 {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program:?} ({e}). {install_hint}"));
        let mut server = LocalS3 {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        wait_until_serving(&mut server.child, program, port);
        server
    }

    pub fn client(&self) -> aws_sdk_s3::Client {
        s3_client(&self.endpoint)
    }
}

impl Drop for LocalS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A moto S3 server on 127.0.0.1 (`endpoint`, `client()`), killed when
/// dropped.
pub struct Moto(LocalS3);

impl std::ops::Deref for Moto {
    type Target = LocalS3;
    fn deref(&self) -> &LocalS3 {
        &self.0
    }
}

impl Moto {
    /// Starts `moto_server` (from `PATH`, or the path in `MOTO_SERVER`).
    /// Panics with install instructions when it is not there: these tests
    /// must not pass without a real S3 server.
    pub fn start() -> Moto {
        let program = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_owned());
        let port = free_port();
        let mut command = Command::new(&program);
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        Moto(LocalS3::start(
            command,
            &program,
            port,
            "The Lambda tests need a local S3 server: install moto with \
             `python3 -m venv .venv && .venv/bin/pip install 'moto[server]==5.2.5'` and put \
             .venv/bin on PATH (or set MOTO_SERVER to the moto_server path).",
        ))
    }
}

/// Waits until the server `child` (started as `program`) answers HTTP on
/// `port`; panics when it exits first or takes longer than [`PATIENCE`].
fn wait_until_serving(child: &mut Child, program: &str, port: u16) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{program} exited before it was ready ({status})");
        }
        if http_get_ok(port) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{program} did not answer on port {port}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// True when something answers an HTTP request on the port.
fn http_get_ok(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).is_ok() && first.starts_with(b"HTTP/1.")
}

/// An S3 client for a local endpoint: static credentials, path-style.
pub fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "tests",
        ))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .http_client(ccp_disconnect_lambda::https_client())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Like [`s3_client`], with the SDK's standard retries (3 attempts) but
/// millisecond backoffs: tests with injected faults retry a lot, and the
/// production backoff (up to seconds) would only make them slow.
pub fn s3_client_quick_retries(endpoint: &str) -> aws_sdk_s3::Client {
    let config = s3_client(endpoint)
        .config()
        .to_builder()
        .retry_config(
            aws_sdk_s3::config::retry::RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(20)),
        )
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

pub async fn create_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.create_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("create bucket");
}

pub async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .expect("put object");
}

/// The object's bytes and content type, or `None` when it does not exist.
pub async fn get(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Option<(Vec<u8>, Option<String>)> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(resp) => {
            let content_type = resp.content_type().map(str::to_owned);
            let bytes = resp
                .body
                .collect()
                .await
                .expect("read body")
                .into_bytes()
                .to_vec();
            Some((bytes, content_type))
        }
        Err(err) => {
            let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&err).map(str::to_owned);
            assert_eq!(
                code.as_deref(),
                Some("NoSuchKey"),
                "unexpected GetObject error: {err:?}"
            );
            None
        }
    }
}

/// The result document for `key`, parsed, after checking it is stored as
/// `application/json` and is one line of JSON.
pub async fn result_doc(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Value {
    let (bytes, content_type) = get(s3, bucket, key)
        .await
        .unwrap_or_else(|| panic!("no result object s3://{bucket}/{key}"));
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert!(
        bytes.ends_with(b"\n") && !bytes[..bytes.len() - 1].contains(&b'\n'),
        "one JSON line"
    );
    serde_json::from_slice(&bytes).expect("result is JSON")
}

pub async fn list_keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let resp = s3
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list objects");
    let mut keys: Vec<String> = resp
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

/// How a test call ends, per the AWS Knowledge Center article's SIGNALING lines.
#[derive(Clone, Copy)]
pub enum Ending {
    /// `TalkingState => PendingRemoteHangupState => DisconnectedState`: agent.
    Agent,
    /// `TalkingState => PendingLocalHangupState => DisconnectedState`: customer.
    Customer,
}

/// A small CCP log (JSON array, as "Download logs" writes it) with one
/// call per `(contact id, ending)`, calls one after another.
pub fn ccp_log(calls: &[(&str, Ending)]) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut second = 0u32;
    for (contact, ending) in calls {
        let mut steps = vec![
            ("null", "PendingConnectState"),
            ("PendingConnectState", "PendingInviteState"),
            ("PendingInviteState", "PendingAnswerState"),
            ("PendingAnswerState", "PendingAcceptState"),
            ("PendingAcceptState", "TalkingState"),
        ];
        steps.extend(match ending {
            Ending::Agent => [
                ("TalkingState", "PendingRemoteHangupState"),
                ("PendingRemoteHangupState", "DisconnectedState"),
            ],
            Ending::Customer => [
                ("TalkingState", "PendingLocalHangupState"),
                ("PendingLocalHangupState", "DisconnectedState"),
            ],
        });
        for (from, to) in steps {
            // Talking lasts a while; the other steps follow each other quickly.
            second += if from == "TalkingState" { 40 } else { 1 };
            entries.push(json!({
                "component": "softphone",
                "level": "INFO",
                "text": format!(" {contact} SIGNALING {from} => {to}"),
                "time": format!("2019-10-03T18:{:02}:{:02}.478Z", 21 + second / 60, second % 60),
                "exception": null,
                "objects": [],
                "line": 33,
            }));
        }
    }
    serde_json::to_vec_pretty(&Value::Array(entries)).expect("serialize log")
}

pub const AGENT_CALL: &str = "f23586c4-1c7a-4e9b-bf88-5e3ccd504e34";
pub const CUSTOMER_CALL: &str = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";

/// The usual two-call log: one agent hang-up, one customer hang-up.
pub fn two_call_log() -> Vec<u8> {
    ccp_log(&[
        (AGENT_CALL, Ending::Agent),
        (CUSTOMER_CALL, Ending::Customer),
    ])
}

/// Checks the verdicts of [`two_call_log`] in a result document.
pub fn assert_two_call_verdicts(doc: &Value) {
    assert_eq!(doc["status"], "ok", "document: {doc}");
    let calls = doc["calls"].as_array().expect("calls");
    let verdict = |id: &str| {
        calls
            .iter()
            .find(|c| c["contact_id"] == id)
            .unwrap_or_else(|| panic!("no call {id} in {doc}"))["disconnected_by"]
            .clone()
    };
    assert_eq!(calls.len(), 2);
    assert_eq!(verdict(AGENT_CALL), "agent");
    assert_eq!(verdict(CUSTOMER_CALL), "customer");
    assert_eq!(doc["summary"]["calls"], 2);
    assert_eq!(doc["summary"]["agent"], 1);
    assert_eq!(doc["summary"]["customer"], 1);
}

// ---- trigger events, shaped like AWS's samples ----

/// One S3 notification record for an `ObjectCreated:Put` of `raw_key`
/// (already URL-encoded, as S3 writes it).
pub fn s3_record(bucket: &str, raw_key: &str) -> Value {
    json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": "2026-01-01T00:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "ccp-logs",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": raw_key, "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0A1B2C3D4E5F678901"}
        }
    })
}

pub fn s3_event(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

pub fn s3_put_event(bucket: &str, raw_key: &str) -> Value {
    s3_event(vec![s3_record(bucket, raw_key)])
}

/// The notification of one version of an object in a versioned bucket,
/// with the sequencer that orders it against the others.
pub fn s3_version_event(bucket: &str, key: &str, version_id: &str, sequencer: &str) -> Value {
    let mut event = s3_put_event(bucket, key);
    event["Records"][0]["s3"]["object"]["versionId"] = json!(version_id);
    event["Records"][0]["s3"]["object"]["sequencer"] = json!(sequencer);
    event
}

pub fn sqs_message(id: &str, body: &str) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": "MessageReceiptHandle",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1523232000000",
            "SenderId": "123456789012",
            "ApproximateFirstReceiveTimestamp": "1523232000001"
        },
        "messageAttributes": {},
        "md5OfBody": "7b270e59b47ff90a553787216d55d91d",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ccp-logs",
        "awsRegion": REGION
    })
}

pub fn sqs_event(messages: Vec<Value>) -> Value {
    json!({ "Records": messages })
}

pub fn sns_envelope(message: &str) -> String {
    json!({
        "Type": "Notification",
        "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ccp-logs",
        "Subject": "Amazon S3 Notification",
        "Message": message,
        "Timestamp": "2026-01-01T00:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-EXAMPLE.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=EXAMPLE"
    })
    .to_string()
}

pub fn s3_test_event(bucket: &str) -> String {
    json!({
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-01-01T00:00:00.000Z",
        "Bucket": bucket,
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"
    })
    .to_string()
}

pub fn eventbridge_event(bucket: &str, key: &str) -> Value {
    json!({
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": 1024, "etag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0A1B2C3D4E5F678901"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject"
        }
    })
}

// ---- Lambda Runtime API emulator ----

/// What the function posted back for one invocation.
#[derive(Debug, Clone)]
pub struct Reply {
    pub request_id: String,
    /// `response` or `error`.
    pub kind: String,
    pub body: Value,
}

#[derive(Default)]
struct RuntimeState {
    /// Request id, payload, and time from hand-out to the deadline.
    queue: Mutex<VecDeque<(String, Value, Duration)>>,
    queued: Condvar,
    replies: Mutex<Vec<Reply>>,
    replied: Condvar,
    init_errors: Mutex<Vec<Value>>,
    closing: AtomicBool,
}

/// A minimal Lambda Runtime API (HTTP/1.1, keep-alive) on 127.0.0.1:
/// `GET /2018-06-01/runtime/invocation/next` hands out queued events;
/// `POST .../invocation/{id}/response`, `.../{id}/error` and
/// `/2018-06-01/runtime/init/error` are recorded.
pub struct RuntimeApi {
    pub port: u16,
    state: Arc<RuntimeState>,
}

impl RuntimeApi {
    pub fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind runtime API");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(RuntimeState::default());
        accept_loop(
            listener,
            state.clone(),
            |s| s.closing.load(Ordering::SeqCst),
            serve_connection,
        );
        RuntimeApi { port, state }
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn invoke(&self, request_id: &str, payload: Value) {
        self.invoke_with_deadline(request_id, payload, Duration::from_secs(300));
    }

    /// Queues an invocation whose deadline is `time_limit` after the
    /// function receives it (`Lambda-Runtime-Deadline-Ms`).
    pub fn invoke_with_deadline(&self, request_id: &str, payload: Value, time_limit: Duration) {
        self.state
            .queue
            .lock()
            .unwrap()
            .push_back((request_id.to_owned(), payload, time_limit));
        self.state.queued.notify_all();
    }

    /// Waits for the reply to `request_id`.
    pub fn reply(&self, request_id: &str) -> Reply {
        let deadline = Instant::now() + PATIENCE;
        let mut replies = self.state.replies.lock().unwrap();
        loop {
            if let Some(r) = replies.iter().find(|r| r.request_id == request_id) {
                return r.clone();
            }
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("no reply for invocation {request_id}"));
            replies = self.state.replied.wait_timeout(replies, left).unwrap().0;
        }
    }

    pub fn init_errors(&self) -> Vec<Value> {
        self.state.init_errors.lock().unwrap().clone()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.state.closing.store(true, Ordering::SeqCst);
        self.state.queued.notify_all();
        // Wake the accept loop so that it sees `closing`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

pub fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut content_length = 0usize;
    let mut chunked = false;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.eq_ignore_ascii_case("chunked")
        {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        body = read_chunked_body(reader)?;
    } else {
        body.resize(content_length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(Request { method, path, body })
}

/// Serves each connection on its own thread until `closing` holds (looked
/// at on each accept: connect once to make it look).
pub fn accept_loop<S: Send + Sync + 'static>(
    listener: TcpListener,
    state: Arc<S>,
    closing: fn(&S) -> bool,
    serve: fn(TcpStream, &S),
) {
    thread::spawn(move || {
        for stream in listener.incoming() {
            if closing(&state) {
                break;
            }
            let Ok(stream) = stream else { continue };
            let state = state.clone();
            thread::spawn(move || serve(stream, &state));
        }
    });
}

/// A `Transfer-Encoding: chunked` body, decoded.
pub fn read_chunked_body(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).ok()?;
        let size = usize::from_str_radix(size_line.trim().split(';').next()?, 16).ok()?;
        let mut chunk = vec![0u8; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        if size == 0 {
            // Trailers (if any) end with an empty line; `chunk` held "\r\n".
            return Some(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

fn serve_connection(stream: TcpStream, state: &RuntimeState) {
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut writer = write_half;
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_request(&mut reader) {
        let ok = match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/2018-06-01/runtime/invocation/next") => {
                let mut queue = state.queue.lock().unwrap();
                let next = loop {
                    if state.closing.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Some(item) = queue.pop_front() {
                        break item;
                    }
                    queue = state
                        .queued
                        .wait_timeout(queue, Duration::from_millis(200))
                        .unwrap()
                        .0;
                };
                drop(queue);
                let (id, payload, time_limit) = next;
                let body = payload.to_string();
                let deadline_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| (d + time_limit).as_millis())
                    .unwrap_or(0);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                     Lambda-Runtime-Aws-Request-Id: {id}\r\n\
                     Lambda-Runtime-Deadline-Ms: {deadline_ms}\r\n\
                     Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:{REGION}:123456789012:function:ccp-disconnect\r\n\
                     Lambda-Runtime-Trace-Id: Root=1-5e1b4151-5ac6c58f3e1f2c3d4e5f6a7b;Parent=0123456789abcdef;Sampled=0\r\n\
                     Content-Length: {}\r\n\r\n",
                    body.len()
                );
                writer
                    .write_all(head.as_bytes())
                    .and_then(|_| writer.write_all(body.as_bytes()))
                    .is_ok()
            }
            ("POST", path) if path.starts_with("/2018-06-01/runtime/invocation/") => {
                let rest = &path["/2018-06-01/runtime/invocation/".len()..];
                let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
                let body = serde_json::from_slice(&req.body).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&req.body).into_owned())
                });
                state.replies.lock().unwrap().push(Reply {
                    request_id: id.to_owned(),
                    kind: kind.to_owned(),
                    body,
                });
                state.replied.notify_all();
                accepted(&mut writer)
            }
            ("POST", "/2018-06-01/runtime/init/error") => {
                let body = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                state.init_errors.lock().unwrap().push(body);
                accepted(&mut writer)
            }
            _ => writer
                .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                .is_ok(),
        };
        if !ok {
            return;
        }
    }
}

fn accepted(writer: &mut TcpStream) -> bool {
    let body = br#"{"status":"OK"}"#;
    let head = format!(
        "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    writer
        .write_all(head.as_bytes())
        .and_then(|_| writer.write_all(body))
        .is_ok()
}
